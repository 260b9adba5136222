"""E-mails a sale sends its buyer, written to the outbox in the state change's transaction."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from server.auctions.models import Lot
from server.core.db import UnitOfWork
from server.notifications import messages
from server.notifications.outbox import enqueue_email
from server.payments.models import Payment
from server.sales.models import Invoice, Sale
from server.users.models import User


async def email_user(
    uow: UnitOfWork,
    user_id: str,
    topic: str,
    content: tuple[str, str],
    *,
    data: dict[str, Any],
) -> None:
    """Queue `content` (subject, body) for `user_id`; nothing for a user without an address."""
    email = await uow.session.scalar(select(User.email).where(User.id == user_id))
    email_address(uow, user_id, email, topic, content, data=data)


def email_address(
    uow: UnitOfWork,
    user_id: str,
    email: str | None,
    topic: str,
    content: tuple[str, str],
    *,
    data: dict[str, Any],
) -> None:
    """`email_user` with the user's address already at hand (None or empty: no e-mail)."""
    if not email:
        return
    subject, body = content
    enqueue_email(
        uow.session,
        topic=topic,
        recipient_id=user_id,
        recipient_email=email,
        subject=subject,
        body=body,
        data=data,
    )


async def what_is_paid(uow: UnitOfWork, payment: Payment) -> str:
    """The lot's title, or for an invoice its sale's title and number (for e-mails)."""
    if payment.invoice_id is not None:
        title = await uow.session.scalar(
            select(Sale.title)
            .join(Invoice, Invoice.sale_id == Sale.id)
            .where(Invoice.id == payment.invoice_id)
        )
        return f"{title}: invoice {payment.invoice_id}"
    lot = await uow.session.get(Lot, payment.lot_id)
    return lot.title if lot else f"Lot {payment.lot_id}"


async def email_about_payment(
    uow: UnitOfWork,
    payment: Payment,
    topic: str,
    write: Callable[..., tuple[str, str]],
    *,
    data: dict[str, Any] | None = None,
    **details: Any,
) -> None:
    """E-mail the buyer what `write` (a `messages` builder) says about `payment`.

    The builder gets what is paid for (`lot_title`: the lot's, or the sale's and the
    invoice's number) and the payment's breakdown, plus `details`; the outbox row
    names the payment, plus `data`.
    """
    await email_user(
        uow,
        payment.buyer_id,
        topic,
        write(
            lot_title=await what_is_paid(uow, payment),
            currency=payment.currency,
            hammer=payment.hammer,
            premium=payment.premium,
            tax=payment.tax,
            total=payment.amount,
            **details,
        ),
        data={"payment_id": payment.id, **(data or {})},
    )


async def email_payment_required(uow: UnitOfWork, payment: Payment) -> None:
    assert payment.expires_at is not None
    await email_about_payment(
        uow,
        payment,
        "payment_required",
        messages.payment_required,
        expires_at=payment.expires_at,
    )

"""Short-lived signed links to printable receipts and invoices, so a plain link opens one.

`POST /api/payments/{id}/receipt-link` (the buyer, an admin; Bearer as usual) answers
`{url, expires_at}`. The URL, `/receipts/{id}?v=<sub>&r=<role>&exp=<unix>&sig=<hmac>`,
opens the printable HTML receipt with no Authorization header: the signature (HMAC-SHA256
with a key derived from `JWT_SECRET`) binds the payment, who asked and the expiry, and the
receipt is then looked up as that person would see it, so a link never shows more than its
maker could. Links last `RECEIPT_LINK_TTL`; a stale or altered one is a 404 like a wrong id.

Invoices (per_sale sales) work the same way: `POST /api/invoices/{id}/link` answers a
`/invoices/{id}/print?...` URL, signed for the kind "invoice" so a receipt's signature never
opens an invoice with the same number.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import UTC, datetime
from urllib.parse import urlencode

from aiohttp import web

from server.contract.query import path_id
from server.core.auth import Identity
from server.core.context import context_of
from server.core.errors import NotFound
from server.core.http import json_response, private, require_identity
from server.payments import receipts
from server.sales import invoice_page, invoice_records
from server.settings import Settings
from server.users.models import ROLES

RECEIPT_LINK_TTL = 15 * 60
_PURPOSE = b"receipt-link/v1"


def _key(settings: Settings) -> bytes:
    """A key for this purpose only: a receipt signature can never pass as a token."""
    return hmac.new(settings.jwt_secret.encode(), _PURPOSE, hashlib.sha256).digest()


#: What a link opens, and where: the signature covers the kind.
PATHS = {"receipt": "/receipts/{id}", "invoice": "/invoices/{id}/print"}


def _signature(settings: Settings, kind: str, item_id: int, viewer: Identity, expires: int) -> str:
    message = f"{kind}\n{item_id}\n{viewer.sub}\n{viewer.role}\n{expires}".encode()
    return hmac.new(_key(settings), message, hashlib.sha256).hexdigest()


def signed_receipt_url(
    settings: Settings,
    payment_id: int,
    viewer: Identity,
    *,
    now: float | None = None,
    kind: str = "receipt",
) -> tuple[str, datetime]:
    """The path and query of a link for `viewer`, and when it stops working."""
    expires = int(now if now is not None else time.time()) + RECEIPT_LINK_TTL
    query = urlencode(
        {
            "v": viewer.sub,
            "r": viewer.role,
            "exp": expires,
            "sig": _signature(settings, kind, payment_id, viewer, expires),
        }
    )
    path = PATHS[kind].format(id=payment_id)
    return f"{path}?{query}", datetime.fromtimestamp(expires, UTC)


def viewer_of_link(
    settings: Settings,
    payment_id: int,
    query: dict[str, str],
    *,
    now: float | None = None,
    kind: str = "receipt",
) -> Identity:
    """Who made this link, if it is genuine and not expired; otherwise `NotFound`."""
    sub, role, expires, signature = (query.get(name, "") for name in ("v", "r", "exp", "sig"))
    if not sub or role not in ROLES or not expires.isdigit() or len(expires) > 12:
        raise NotFound("This receipt link is not valid")
    viewer = Identity(sub=sub, role=role)
    expected = _signature(settings, kind, payment_id, viewer, int(expires))
    if not hmac.compare_digest(expected, signature):
        raise NotFound("This receipt link is not valid")
    if int(expires) <= (now if now is not None else time.time()):
        raise NotFound(f"This {kind} link has expired; open the {kind} again from your account")
    return viewer


async def create_receipt_link(request: web.Request) -> web.Response:
    viewer = require_identity(request)
    payment_id = path_id(request.match_info["payment_id"], "Payment")
    context = context_of(request)
    # Only a payment with a receipt the caller may see gets a link (404 / 409 otherwise).
    await receipts.receipt_for(context, payment_id, viewer)
    url, expires_at = signed_receipt_url(context.settings, payment_id, viewer)
    return private(json_response({"url": url, "expires_at": expires_at}))


async def open_receipt_link(request: web.Request) -> web.Response:
    payment_id = path_id(request.match_info["payment_id"], "Payment")
    context = context_of(request)
    viewer = viewer_of_link(context.settings, payment_id, dict(request.query))
    receipt = await receipts.receipt_for(context, payment_id, viewer)
    return receipts.printable(receipts.receipt_html(receipt))


async def create_invoice_link(request: web.Request) -> web.Response:
    viewer = require_identity(request)
    invoice_id = path_id(request.match_info["invoice_id"], "Invoice")
    context = context_of(request)
    await invoice_records.invoice_for(context, invoice_id, viewer)
    url, expires_at = signed_receipt_url(context.settings, invoice_id, viewer, kind="invoice")
    return private(json_response({"url": url, "expires_at": expires_at}))


async def open_invoice_link(request: web.Request) -> web.Response:
    invoice_id = path_id(request.match_info["invoice_id"], "Invoice")
    context = context_of(request)
    viewer = viewer_of_link(context.settings, invoice_id, dict(request.query), kind="invoice")
    invoice = await invoice_records.invoice_for(context, invoice_id, viewer)
    return receipts.printable(invoice_page.invoice_html(invoice))


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/api/payments/{payment_id}/receipt-link", create_receipt_link)
    app.router.add_get("/receipts/{payment_id}", open_receipt_link)
    app.router.add_post("/api/invoices/{invoice_id}/link", create_invoice_link)
    app.router.add_get("/invoices/{invoice_id}/print", open_invoice_link)

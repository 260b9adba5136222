"""Receipts: what was bought, for how much, paid how, as JSON and as a printable page.

A receipt exists once a payment has succeeded (`record_success` numbers it).
It names the card by brand and last four digits only. Everything in the page
comes from users or Stripe (titles, names, e-mails), so every value is
escaped; the page loads nothing and runs nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from typing import Any

from aiohttp import web

from server.auctions.models import Lot
from server.core.auth import Identity
from server.core.context import AppContext
from server.core.errors import conflict
from server.core.http import private
from server.core.money import format_amount
from server.payments.models import Payment
from server.payments.records import visible_payment
from server.users.models import User

#: The page may use its own inline styles and nothing else.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)


def printable(html: str) -> web.Response:
    """A receipt's or an invoice's printable page: it loads nothing, runs nothing, leaks nothing."""
    response = web.Response(text=html, content_type="text/html", charset="utf-8")
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return private(response)


async def receipt_for(context: AppContext, payment_id: int, viewer: Identity) -> dict[str, Any]:
    """The receipt of a payment its buyer (or an admin) may see; 409 `no_receipt` if unpaid."""
    async with context.db.unit_of_work() as uow:
        payment = await visible_payment(uow.session, payment_id, viewer)
        if payment.receipt_number is None or payment.paid_at is None:
            raise conflict("no_receipt", "This payment has no receipt: it was never completed")
        if payment.invoice_id is not None:
            raise conflict(
                "no_receipt",
                f"This payment paid invoice {payment.invoice_id}: its receipt is the invoice,"
                f" /api/invoices/{payment.invoice_id}",
                invoice_id=payment.invoice_id,
            )
        lot = await uow.session.get(Lot, payment.lot_id)
        seller = await uow.session.get(User, payment.seller_id)
        buyer = await uow.session.get(User, payment.buyer_id)
        assert lot is not None
        return receipt_view(payment, lot, seller=seller, buyer=buyer)


def receipt_view(
    payment: Payment, lot: Lot, *, seller: User | None, buyer: User | None
) -> dict[str, Any]:
    currency = payment.currency
    amounts = {
        "hammer": payment.hammer,
        "premium": payment.premium,
        "total": payment.amount,
        "refunded": payment.refunded_amount,
    }
    method = None
    if payment.card_brand or payment.card_last4:
        method = {"type": "card", "brand": payment.card_brand, "last4": payment.card_last4}
    return {
        "receipt_number": payment.receipt_number,
        "payment_id": payment.id,
        "status": payment.status,
        "lot_id": lot.id,
        "lot_title": lot.title,
        "currency": currency,
        **amounts,
        "formatted": {name: format_amount(value, currency) for name, value in amounts.items()},
        "payment_method": method,
        "paid_at": payment.paid_at,
        "seller": {"id": payment.seller_id, "name": seller.name if seller else None},
        "buyer": {
            "id": payment.buyer_id,
            "name": buyer.name if buyer else None,
            "email": buyer.email if buyer else None,
        },
    }


def card_text(method: dict[str, Any] | None) -> str:
    if not method:
        return "Card"
    brand = str(method.get("brand") or "card").replace("_", " ").title()
    last4 = method.get("last4")
    return f"{brand} ending in {last4}" if last4 else brand


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _person(who: dict[str, Any], *, with_email: bool) -> str:
    name = who.get("name") or who["id"]
    email = who.get("email") if with_email else None
    return f"{escape(name)} &lt;{escape(email)}&gt;" if email else escape(name)


_STYLE = """
body{margin:0;background:#f3f3f1;color:#1b1b1b;
font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
main{max-width:40rem;margin:2rem auto;padding:2.5rem;background:#fff;border-radius:6px;
box-shadow:0 1px 3px rgba(0,0,0,.12)}
h1{font-size:1.6rem;margin:0}
h2{font-size:1.1rem;margin:2rem 0 .5rem}
.meta{margin:.25rem 0 0;color:#555}
table{width:100%;border-collapse:collapse}
th,td{padding:.5rem 0;border-bottom:1px solid #e4e4e4;text-align:left;font-weight:normal}
td{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
tr.total th,tr.total td{font-weight:600;border-bottom:2px solid #1b1b1b}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.35rem 1.5rem;margin:2rem 0 0}
dt{color:#555}dd{margin:0;overflow-wrap:anywhere}
footer{margin-top:2.5rem;color:#777;font-size:.85rem}
@media print{body{background:#fff;font-size:11pt}
main{max-width:none;margin:0;padding:0;box-shadow:none;border-radius:0}
@page{margin:2cm}}
"""


def receipt_html(receipt: dict[str, Any]) -> str:
    """A self-contained printable page: inline styles, no scripts, every value escaped."""
    formatted = receipt["formatted"]
    number = escape(str(receipt["receipt_number"]))
    rows = [
        ("Hammer price", formatted["hammer"], ""),
        ("Buyer&#39;s premium", formatted["premium"], ""),
        ("Total paid", formatted["total"], "total"),
    ]
    if receipt["refunded"]:
        rows.append(("Refunded", formatted["refunded"], "refund"))
    table = "\n".join(
        f'<tr class="{css}"><th scope="row">{label}</th><td>{escape(amount)}</td></tr>'
        for label, amount, css in rows
    )
    details = [
        ("Paid with", escape(card_text(receipt["payment_method"]))),
        ("Date", escape(_when(receipt["paid_at"]))),
        ("Seller", _person(receipt["seller"], with_email=False)),
        ("Buyer", _person(receipt["buyer"], with_email=True)),
        ("Payment", f"#{int(receipt['payment_id'])} ({escape(str(receipt['status']))})"),
    ]
    listing = "\n".join(f"<dt>{term}</dt><dd>{value}</dd>" for term, value in details)
    currency = escape(str(receipt["currency"]).upper())
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Receipt {number}</title>
<style>{_STYLE}</style>
</head>
<body>
<main>
<h1>Receipt</h1>
<p class="meta">No. {number}</p>
<h2>Lot #{int(receipt["lot_id"])}: {escape(str(receipt["lot_title"]))}</h2>
<table>
{table}
</table>
<dl>
{listing}
</dl>
<footer>All amounts in {currency}. Please keep this receipt for your records.</footer>
</main>
</body>
</html>
"""

"""An invoice as a printable page (`GET /api/invoices/{id}` with `Accept: text/html`).

Every value comes from users (titles) or our records, and every one is
escaped; the page loads nothing and runs nothing (the receipt's policy).
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from typing import Any

from server.core.money import format_amount

_STYLE = """
body{margin:0;background:#f3f3f1;color:#1b1b1b;
font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
main{max-width:48rem;margin:2rem auto;padding:2.5rem;background:#fff;border-radius:6px;
box-shadow:0 1px 3px rgba(0,0,0,.12)}
h1{font-size:1.6rem;margin:0}
.meta{margin:.25rem 0 1.5rem;color:#555}
table{width:100%;border-collapse:collapse}
th,td{padding:.45rem .3rem;border-bottom:1px solid #e4e4e4;text-align:left;font-weight:normal}
td.n,th.n{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
thead th{font-weight:600;border-bottom:2px solid #1b1b1b}
tr.total th,tr.total td{font-weight:600;border-bottom:2px solid #1b1b1b}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.35rem 1.5rem;margin:2rem 0 0}
dt{color:#555}dd{margin:0;overflow-wrap:anywhere}
footer{margin-top:2.5rem;color:#777;font-size:.85rem}
@media print{body{background:#fff;font-size:11pt}
main{max-width:none;margin:0;padding:0;box-shadow:none;border-radius:0}@page{margin:2cm}}
"""

METHODS = {"stripe": "Card (Stripe)", "cash": "Cash", "bank_transfer": "Bank transfer"}


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "-"


def _percent(bps: int) -> str:
    return f"{bps / 100:g} %"


def invoice_html(invoice: dict[str, Any]) -> str:
    """A self-contained printable page: inline styles, no scripts, every value escaped."""
    currency = str(invoice["currency"])

    def money(amount: int) -> str:
        return escape(format_amount(amount, currency))

    rows = []
    for line in invoice["lines"]:
        number = line["lot_number"]
        returned = " (returned)" if line["returned_at"] else ""
        rows.append(
            "<tr>"
            f'<td class="n">{int(number) if number is not None else ""}</td>'
            f"<td>{escape(str(line['lot_title']))}{returned}</td>"
            f'<td class="n">{money(line["hammer"])}</td>'
            f'<td class="n">{money(line["premium"])}</td>'
            f'<td class="n">{money(line["tax"])}</td>'
            f'<td class="n">{money(line["total"])}</td>'
            "</tr>"
        )
    totals = invoice["totals"]
    tax_label = f"Tax ({_percent(int(invoice['tax_rate_bps']))} on {escape(invoice['tax_on'])})"
    summary = [
        ("Hammer", totals["hammer"], ""),
        ("Buyer&#39;s premium", totals["premium"], ""),
        (tax_label, totals["tax"], ""),
        ("Total", totals["total"], "total"),
    ]
    if totals["refunded"]:
        summary.append(("Refunded", totals["refunded"], ""))
    summary_rows = "\n".join(
        f'<tr class="{css}"><th scope="row" colspan="5">{label}</th>'
        f'<td class="n">{money(amount)}</td></tr>'
        for label, amount, css in summary
    )
    payment = invoice["payment"]
    method = payment["method"]
    details = [
        ("Status", escape(str(invoice["status"]))),
        ("Buyer", escape(str(invoice["buyer_id"]))),
        ("Issued", escape(_when(invoice["issued_at"]))),
        ("Paid", escape(_when(payment["paid_at"]))),
    ]
    if method:
        details.append(("Paid with", escape(METHODS.get(method, str(method).title()))))
    elif invoice["status"] == "ISSUED" and not payment["payable_by_card"]:
        details.append(("To pay", "By bank transfer: the total is more than one card payment"))
    if payment["reference"]:
        details.append(("Reference", escape(str(payment["reference"]))))
    if payment["receipt_number"]:
        details.append(("Receipt", escape(str(payment["receipt_number"]))))
    listing = "\n".join(f"<dt>{term}</dt><dd>{value}</dd>" for term, value in details)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Invoice {int(invoice["id"])}</title>
<style>{_STYLE}</style>
</head>
<body>
<main>
<h1>Invoice {int(invoice["id"])}</h1>
<p class="meta">{escape(str(invoice["sale_title"]))} (sale #{int(invoice["sale_id"])})</p>
<table>
<thead><tr><th class="n" scope="col">Lot</th><th scope="col">Title</th>
<th class="n" scope="col">Hammer</th><th class="n" scope="col">Premium</th>
<th class="n" scope="col">Tax</th><th class="n" scope="col">Total</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody>
<tfoot>
{summary_rows}
</tfoot>
</table>
<dl>
{listing}
</dl>
<footer>All amounts in {escape(currency.upper())}.</footer>
</main>
</body>
</html>
"""

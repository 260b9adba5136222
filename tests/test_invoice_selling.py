"""Selling a paid invoice's lots: by card or at the desk, one rule (`invoice_flow.sell_lots`).

A lot on the invoice is sold only while it still awaits the invoice's buyer. The
lot handed to someone else below is arranged in the database (the flows keep a
lot on one buyer's ISSUED invoice until that invoice ends); everything else is
real: lots closed through the API, the invoice's intent at the Stripe stand-in,
paid as Stripe.js would, or marked paid at the desk.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from server.auctions.models import Bid, Lot
from tests.support.sales import pay
from tests.test_invoice_card_money import ADMIN, get_invoice, invoice_due, lot_statuses


@pytest.mark.parametrize("paid_by", ["card", "desk"])
async def test_a_lot_no_longer_awaiting_the_buyer_is_not_sold_with_the_invoice(
    server, db, localstripe, paid_by
):
    info, lots, alice = await invoice_due(server, [10_000, 20_000, 30_000])
    watcher = await server.socket()
    for lot in lots:
        assert (await watcher.call("join_lot", {"lot_id": lot["id"]}))["ok"]
    taken, kept = lots[1], [lots[0], lots[2]]
    status, _ = await server.request("GET", "/api/me", as_user="carol")  # carol's user row
    assert status == 200
    async with db.engine.begin() as conn:
        await conn.execute(update(Lot).where(Lot.id == taken["id"]).values(winner_id="carol"))

    if paid_by == "card":
        await pay(localstripe.url, info, alice)
    else:
        status, body = await server.request(
            "POST",
            f"/api/admin/invoices/{info['invoice_id']}/mark-paid",
            json={"method": "cash", "reference": "till 1"},
            **ADMIN,
        )
        assert status == 200, body

    for lot in kept:
        sold = await watcher.wait_for(
            "lot_status", lambda e, lot=lot: e["lot_id"] == lot["id"] and e["status"] == "SOLD"
        )
        assert sold["winner"] is not None
    assert await lot_statuses(server, lots) == ["SOLD", "PENDING_PAYMENT", "SOLD"]
    assert not [e for e in watcher.events["lot_status"] if e["lot_id"] == taken["id"]]
    async with db.sessions() as session:
        outcomes = dict(
            (
                await session.execute(
                    select(Bid.lot_id, Bid.outcome).where(Bid.lot_id.in_([x["id"] for x in lots]))
                )
            ).all()
        )
        still = await session.get(Lot, taken["id"])
    assert outcomes[kept[0]["id"]] == outcomes[kept[1]["id"]] == "won"
    assert outcomes[taken["id"]] != "won"
    assert still is not None and (still.status, still.winner_id) == ("PENDING_PAYMENT", "carol")
    invoice = await get_invoice(server, info["invoice_id"])
    assert invoice["status"] == "PAID"
    assert invoice["payment"]["method"] == ("stripe" if paid_by == "card" else "cash")

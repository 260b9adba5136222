"""Refunds against localstripe: full, partial, too much, concurrent, Stripe down, dashboard."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from server.payments.models import Payment, Refund
from server.sales.reconciliation import reconcile
from tests.conftest import WEBHOOK_SECRET
from tests.support.sales import intent_id, sold_lot, standin, won_lot
from tests.support.services import wait_for
from tests.support.stripe import deliver, event

ADMIN = {"as_user": "root", "role": "admin"}


async def _refund(server, payment_id, body=None, **who):
    return await server.request(
        "POST", f"/api/payments/{payment_id}/refund", json=body or {}, **(who or ADMIN)
    )


async def _charge(localstripe, info):
    """The payment's charge as Stripe holds it (with its refunds)."""
    intent = await standin(localstripe.url, "GET", f"/v1/payment_intents/{intent_id(info)}")
    return await standin(localstripe.url, "GET", f"/v1/charges/{intent['latest_charge']['id']}")


async def _payment(db, payment_id):
    """The payment and its refunds as of one moment (one snapshot for both reads).

    The server commits a refund's outcome and the payment's refunded amount together;
    two reads at READ COMMITTED could fall on either side of that commit.
    """
    async with db.sessions() as session:
        await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        payment = await session.get(Payment, payment_id)
        refunds = (
            await session.scalars(
                select(Refund).where(Refund.payment_id == payment_id).order_by(Refund.id)
            )
        ).all()
    return payment, list(refunds)


async def test_a_refund_without_an_amount_returns_everything(server, db, localstripe):
    _lot, info, _ = await sold_lot(server, localstripe.url, amount=7500)
    status, body = await _refund(server, info["payment_id"], {"reason": "item damaged"})
    assert status == 201, body
    assert body["refund"]["amount"] == 7500
    assert body["refund"]["status"] == "succeeded"
    assert body["refund"]["reason"] == "item damaged"
    assert body["refund"]["requested_by"] == "root"
    assert body["payment"]["status"] == "REFUNDED"
    assert body["payment"]["refunded_amount"] == 7500
    assert [r["amount"] for r in body["payment"]["refunds"]] == [7500]
    assert (await _charge(localstripe, info))["amount_refunded"] == 7500

    status, again = await _refund(server, info["payment_id"])
    assert (status, again["error"]["code"]) == (409, "refund_exceeds_payment")
    assert again["error"]["refundable"] == 0
    assert (await _charge(localstripe, info))["amount_refunded"] == 7500


async def test_partial_refunds_add_up_and_never_exceed_what_was_paid(server, db, localstripe):
    _lot, info, _ = await sold_lot(server, localstripe.url, amount=10_000)
    status, body = await _refund(server, info["payment_id"], {"amount": 3000})
    assert status == 201 and body["payment"]["status"] == "PARTIALLY_REFUNDED"
    assert body["payment"]["refunded_amount"] == 3000

    status, over = await _refund(server, info["payment_id"], {"amount": 7001})
    assert (status, over["error"]["code"]) == (409, "refund_exceeds_payment")
    assert over["error"]["refundable"] == 7000
    payment, refunds = await _payment(db, info["payment_id"])
    assert (payment.refunded_amount, len(refunds)) == (3000, 1)
    assert (await _charge(localstripe, info))["amount_refunded"] == 3000

    status, rest = await _refund(server, info["payment_id"])
    assert status == 201 and rest["refund"]["amount"] == 7000
    payment, refunds = await _payment(db, info["payment_id"])
    assert (payment.status, payment.refunded_amount) == ("REFUNDED", 10_000)
    assert [(r.amount, r.status) for r in refunds] == [(3000, "succeeded"), (7000, "succeeded")]
    charge = await _charge(localstripe, info)
    assert charge["amount_refunded"] == 10_000
    assert sorted(r["metadata"]["refund_id"] for r in charge["refunds"]["data"]) == sorted(
        str(r.id) for r in refunds
    )


async def test_concurrent_refunds_are_reserved_one_at_a_time(server, db, localstripe):
    _lot, info, _ = await sold_lot(server, localstripe.url, amount=10_000)
    answers = await asyncio.gather(
        *(_refund(server, info["payment_id"], {"amount": 4000}) for _ in range(5))
    )
    statuses = sorted(status for status, _ in answers)
    assert statuses == [201, 201, 409, 409, 409], answers
    refused = [body["error"] for status, body in answers if status == 409]
    assert {error["code"] for error in refused} == {"refund_exceeds_payment"}
    payment, refunds = await _payment(db, info["payment_id"])
    assert (payment.status, payment.refunded_amount) == ("PARTIALLY_REFUNDED", 8000)
    assert [r.status for r in refunds] == ["succeeded", "succeeded"]
    assert (await _charge(localstripe, info))["amount_refunded"] == 8000


@pytest.mark.parametrize(
    "body",
    [
        {"amount": 0},
        {"amount": -100},
        {"amount": "100"},
        {"amount": 10.5},
        {"amount": True},
        {"reason": 5},
        {"reason": "x" * 501},
        {"reason": " \t "},
    ],
)
async def test_a_malformed_refund_is_refused_and_changes_nothing(server, db, localstripe, body):
    _lot, info, _ = await sold_lot(server, localstripe.url)
    status, answer = await _refund(server, info["payment_id"], body)
    assert (status, answer["error"]["code"]) == (400, "validation_error")
    payment, refunds = await _payment(db, info["payment_id"])
    assert (payment.status, payment.refunded_amount, refunds) == ("SUCCEEDED", 0, [])


async def test_a_null_reason_is_no_reason_and_a_reason_is_kept_trimmed(server, db, localstripe):
    # JSON null is what many clients send for "no reason"; it once reached str.strip (a 500).
    _lot, info, _ = await sold_lot(server, localstripe.url, amount=3000)
    status, body = await _refund(server, info["payment_id"], {"amount": 1000, "reason": None})
    assert status == 201, body
    assert body["refund"]["reason"] is None
    status, body = await _refund(server, info["payment_id"], {"amount": 500, "reason": " torn \n"})
    assert status == 201, body
    assert body["refund"]["reason"] == "torn"
    _payment_row, refunds = await _payment(db, info["payment_id"])
    assert [(r.amount, r.reason) for r in refunds] == [(1000, None), (500, "torn")]


async def test_three_decimal_currencies_refund_in_tens(server, db, localstripe):
    _lot, info, _ = await sold_lot(server, localstripe.url, amount=12_340, currency="kwd")
    status, answer = await _refund(server, info["payment_id"], {"amount": 1005})
    assert (status, answer["error"]["code"]) == (400, "validation_error")
    status, answer = await _refund(server, info["payment_id"], {"amount": 1000})
    assert status == 201 and answer["payment"]["refunded_amount"] == 1000


async def test_only_admins_refund_and_only_paid_payments(server, db, localstripe):
    _lot, info, _ = await sold_lot(server, localstripe.url)
    # Its buyer learns that refunds are for admins; anyone else, that there is no such
    # payment (SPEC 6: another user's payment is a 404, never a 403).
    status, body = await _refund(server, info["payment_id"], as_user="alice")
    assert (status, body["error"]["code"]) == (403, "forbidden")
    status, body = await _refund(server, info["payment_id"], as_user="sam", role="seller")
    assert (status, body["error"]["code"]) == (404, "not_found")
    status, body = await server.request("POST", f"/api/payments/{info['payment_id']}/refund")
    assert status == 401
    status, body = await _refund(server, 999_999)
    assert (status, body["error"]["code"]) == (404, "not_found")
    _lot, waiting, _ = await won_lot(server, buyer="bob")
    status, body = await _refund(server, waiting["payment_id"])
    assert (status, body["error"]["code"]) == (409, "not_refundable")
    payment, refunds = await _payment(db, info["payment_id"])
    assert (payment.refunded_amount, refunds) == (0, [])


async def test_stripe_down_answers_503_and_reconciliation_sends_the_refund_later(
    start_server, db, localstripe
):
    server = await start_server()
    _lot, info, _ = await sold_lot(server, localstripe.url, amount=6000)
    cut_off = await start_server(stripe_api_base="http://127.0.0.1:9")
    status, body = await _refund(cut_off, info["payment_id"], {"amount": 2500})
    assert (status, body["error"]["code"]) == (503, "unavailable")
    assert body["error"]["refund"]["status"] == "pending"
    payment, refunds = await _payment(db, info["payment_id"])
    assert (payment.status, payment.refunded_amount) == ("SUCCEEDED", 0)
    assert [(r.amount, r.status, r.stripe_refund_id) for r in refunds] == [(2500, "pending", None)]
    # The reservation counts: no one can refund it twice meanwhile.
    status, body = await _refund(server, info["payment_id"], {"amount": 3600})
    assert (status, body["error"]["refundable"]) == (409, 3500)

    await start_server(reconcile_after_seconds=0)

    async def sent():
        payment, refunds = await _payment(db, info["payment_id"])
        return refunds[0].status == "succeeded" and payment

    payment = await wait_for(sent, timeout=10)
    assert (payment.status, payment.refunded_amount) == ("PARTIALLY_REFUNDED", 2500)
    assert (await _charge(localstripe, info))["amount_refunded"] == 2500


async def test_a_refund_made_in_stripes_dashboard_is_recorded_from_its_webhook(
    server, db, localstripe
):
    _lot, info, _ = await sold_lot(server, localstripe.url, amount=9000)
    # Someone refunds part of it in Stripe's dashboard; Stripe then sends charge.refunded.
    await standin(
        localstripe.url,
        "POST",
        "/v1/refunds",
        data={"payment_intent": intent_id(info), "amount": "2000"},
    )
    charge = await _charge(localstripe, info)
    refunded = event("charge.refunded", charge)
    status, body = await deliver(server, refunded, secret=WEBHOOK_SECRET)
    assert (status, body["outcome"]) == (200, "applied")
    payment, refunds = await _payment(db, info["payment_id"])
    assert (payment.status, payment.refunded_amount) == ("PARTIALLY_REFUNDED", 2000)
    [external] = refunds
    assert (external.amount, external.status, external.requested_by) == (2000, "succeeded", None)
    assert external.stripe_refund_id == charge["refunds"]["data"][0]["id"]
    assert external.reason == "made in Stripe"

    # Redelivered, or reported again by a later event: still one refund.
    assert (await deliver(server, refunded, secret=WEBHOOK_SECRET))[1]["outcome"] == "duplicate"
    await deliver(server, event("charge.refunded", charge), secret=WEBHOOK_SECRET)
    payment, refunds = await _payment(db, info["payment_id"])
    assert (payment.refunded_amount, len(refunds)) == (2000, 1)

    _, record = await server.request("GET", f"/api/payments/{info['payment_id']}", as_user="alice")
    assert [(r["amount"], r["reason"]) for r in record["refunds"]] == [(2000, "made in Stripe")]
    # What is left can still be refunded here, and no more.
    status, body = await _refund(server, info["payment_id"])
    assert (status, body["refund"]["amount"], body["payment"]["status"]) == (201, 7000, "REFUNDED")


async def test_the_webhook_for_our_own_refund_adds_nothing(server, db, localstripe):
    _lot, info, _ = await sold_lot(server, localstripe.url, amount=5000)
    status, _ = await _refund(server, info["payment_id"], {"amount": 1500})
    assert status == 201
    charge = await _charge(localstripe, info)
    status, body = await deliver(server, event("charge.refunded", charge), secret=WEBHOOK_SECRET)
    assert (status, body["outcome"]) == (200, "applied")
    payment, refunds = await _payment(db, info["payment_id"])
    assert (payment.refunded_amount, [r.amount for r in refunds]) == (1500, [1500])
    assert refunds[0].requested_by == "root"


async def test_a_charge_without_its_refund_list_books_the_unexplained_difference(
    server, db, localstripe
):
    """Recent Stripe API versions leave `refunds` off the charge in webhooks."""
    _lot, info, _ = await sold_lot(server, localstripe.url, amount=5000)
    status, _ = await _refund(server, info["payment_id"], {"amount": 1000})
    await standin(
        localstripe.url,
        "POST",
        "/v1/refunds",
        data={"payment_intent": intent_id(info), "amount": "500"},
    )
    charge = await _charge(localstripe, info)
    del charge["refunds"]
    assert charge["amount_refunded"] == 1500
    status, body = await deliver(server, event("charge.refunded", charge), secret=WEBHOOK_SECRET)
    assert (status, body["outcome"]) == (200, "applied")
    payment, refunds = await _payment(db, info["payment_id"])
    assert payment.refunded_amount == 1500
    assert [(r.amount, r.reason) for r in refunds] == [(1000, None), (500, "made in Stripe")]


async def test_refund_events_for_charges_we_did_not_make_are_ignored(server, db):
    charge = {
        "id": "ch_elsewhere",
        "object": "charge",
        "payment_intent": "pi_elsewhere",
        "amount": 100,
        "amount_refunded": 100,
        "refunds": {"object": "list", "data": []},
    }
    status, body = await deliver(server, event("charge.refunded", charge), secret=WEBHOOK_SECRET)
    assert (status, body["outcome"]) == (200, "ignored")
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Refund)) == 0


async def test_a_refund_whose_answer_was_lost_is_recognized_and_never_sent_twice(
    start_server, db, localstripe
):
    server = await start_server()
    _lot, info, _ = await sold_lot(server, localstripe.url, amount=4000)
    cut_off = await start_server(stripe_api_base="http://127.0.0.1:9")
    status, body = await _refund(cut_off, info["payment_id"])
    assert status == 503
    refund_id = body["error"]["refund"]["id"]
    # Suppose the request did reach Stripe and only its answer was lost: Stripe holds the
    # refund, with our refund's id in its metadata, and tells us with charge.refunded.
    await standin(
        localstripe.url,
        "POST",
        "/v1/refunds",
        data={
            "payment_intent": intent_id(info),
            "amount": "4000",
            "metadata[refund_id]": str(refund_id),
        },
    )
    charge = await _charge(localstripe, info)
    status, body = await deliver(server, event("charge.refunded", charge), secret=WEBHOOK_SECRET)
    assert (status, body["outcome"]) == (200, "applied")
    payment, refunds = await _payment(db, info["payment_id"])
    assert (payment.status, payment.refunded_amount) == ("REFUNDED", 4000)
    assert [(r.id, r.status, r.stripe_refund_id) for r in refunds] == [
        (refund_id, "succeeded", charge["refunds"]["data"][0]["id"])
    ]
    # Reconciliation finds nothing left to send.
    later = await start_server(reconcile_after_seconds=0, reconcile_interval_seconds=3600)
    await reconcile(later.context)
    assert (await _charge(localstripe, info))["amount_refunded"] == 4000

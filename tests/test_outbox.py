"""The e-mail outbox against real PostgreSQL, the real app and a real SMTP server."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select, text, update

from server.core.db import Database
from server.notifications import messages, repository, worker
from server.notifications.mailer import SmtpConfig, mailer_for
from server.notifications.models import OutboxMessage
from server.notifications.outbox import enqueue_email
from server.notifications.worker import MAX_ATTEMPTS, deliver_due_emails, retry_delay
from server.settings import SettingsError
from tests.conftest import METRICS_AUTH
from tests.support.services import free_port, wait_for
from tests.support.smtp import SmtpSink

StartSmtp = Callable[..., SmtpSink]


@pytest.fixture
def smtp() -> Iterator[StartSmtp]:
    """Start real SMTP servers: `smtp(port=None, refuse=(), delay=0, credentials=None)`."""
    sinks: list[SmtpSink] = []

    def start(**options: Any) -> SmtpSink:
        sink = SmtpSink(**options).start()
        sinks.append(sink)
        return sink

    yield start
    for sink in sinks:
        sink.stop()


async def enqueue(db: Database, *subjects: str, recipient: str = "alice@example.com") -> list[int]:
    """Commit one e-mail per subject, in one unit of work; their ids."""
    async with db.unit_of_work() as uow:
        rows = [
            enqueue_email(
                uow.session,
                topic="outbid",
                recipient_id="alice",
                recipient_email=recipient,
                subject=subject,
                body=f"Body of {subject}",
            )
            for subject in subjects
        ]
        await uow.session.flush()
    return [row.id for row in rows if row is not None]


async def outbox_row(db: Database, message_id: int) -> OutboxMessage:
    async with db.sessions() as session:
        row = await session.get(OutboxMessage, message_id)
        assert row is not None
        return row


async def outbox_rows(db: Database) -> list[OutboxMessage]:
    async with db.sessions() as session:
        return list((await session.scalars(select(OutboxMessage).order_by("id"))).all())


def settled(db: Database, message_id: int, status: str = "sent") -> Callable[[], Any]:
    async def check() -> OutboxMessage | None:
        row = await outbox_row(db, message_id)
        return row if row.status == status else None

    return check


async def seconds_until_due(db: Database, message_id: int) -> tuple[int, float]:
    """(attempts, seconds from now until the row is due), read in one statement."""
    async with db.engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT attempts, EXTRACT(EPOCH FROM next_attempt_at - clock_timestamp()) "
                    "FROM outbox WHERE id = :id"
                ),
                {"id": message_id},
            )
        ).one()
    return int(row[0]), float(row[1])


async def email_metrics(server: Any) -> dict[str, float]:
    status, body = await server.request("GET", "/metrics", headers=METRICS_AUTH)
    assert status == 200
    return {
        sample.labels["outcome"]: sample.value
        for family in text_string_to_metric_families(body)
        if family.name == "auction_emails"
        for sample in family.samples
        if sample.name == "auction_emails_total"
    }


async def test_a_committed_email_is_delivered_with_its_content(start_server, db, smtp):
    sink = smtp()
    server = await start_server(smtp_url=sink.url + "?from=auctions%40example.org")
    content = messages.receipt(
        receipt_number="R-000042",
        lot_title="Brass telescope",
        currency="usd",
        hammer=12345,
        premium=1235,
        total=13580,
        card_brand="visa",
        card_last4="4242",
        paid_at=datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
    async with db.unit_of_work() as uow:
        row = enqueue_email(
            uow.session,
            topic="receipt",
            recipient_id="alice",
            recipient_email="alice@example.com",
            subject=content.subject,
            body=content.body,
            data={"payment_id": 7},
        )
    assert row is not None

    [received] = await wait_for(sink.messages)
    assert received.mail_from == "auctions@example.org"
    assert received.rcpt_tos == ["alice@example.com"]
    assert received.message["To"] == "alice@example.com"
    assert received.subject == content.subject == 'Receipt R-000042 for "Brass telescope"'
    assert received.body.rstrip() == content.body.rstrip()
    assert "135.80 USD" in received.body
    assert received.message["Message-ID"].endswith(f".{row.id}.outbox@example.org>")
    assert received.message["Auto-Submitted"] == "auto-generated"

    sent = await wait_for(settled(db, row.id))
    assert (sent.attempts, sent.last_error, sent.data) == (1, None, {"payment_id": 7})
    assert sent.sent_at is not None
    assert (await email_metrics(server)).get("sent") == 1


async def test_an_email_from_a_rolled_back_unit_of_work_is_never_sent(start_server, db, smtp):
    sink = smtp()
    await start_server(smtp_url=sink.url)
    with pytest.raises(RuntimeError):
        async with db.unit_of_work() as uow:
            enqueue_email(
                uow.session,
                topic="payment_required",
                recipient_id="alice",
                recipient_email="alice@example.com",
                subject="never",
                body="this change was rolled back",
            )
            await uow.session.flush()  # the row reached the database, then the change failed
            raise RuntimeError("the state change failed")
    [marker] = await enqueue(db, "marker")

    await wait_for(settled(db, marker))
    assert [m.subject for m in sink.messages()] == ["marker"]
    assert [row.id for row in await outbox_rows(db)] == [marker]


async def test_a_down_smtp_server_is_retried_with_backoff_then_delivered_once(
    start_server, db, smtp
):
    port = free_port()  # nothing listens here yet
    base = 0.4
    server = await start_server(smtp_url=f"smtp://127.0.0.1:{port}", email_retry_base_seconds=base)
    [message_id] = await enqueue(db, "patience")

    await wait_for(lambda: _attempts_at_least(db, message_id, 1))
    attempts, wait = await seconds_until_due(db, message_id)
    assert attempts == 1 and 0 < wait <= base
    failed = await outbox_row(db, message_id)
    assert failed.status == "pending"
    assert "SMTPConnectError" in (failed.last_error or "")

    await wait_for(lambda: _attempts_at_least(db, message_id, 2))
    attempts, wait = await seconds_until_due(db, message_id)
    assert attempts == 2 and base < wait <= 2 * base  # the second wait doubled

    sink = smtp(port=port)  # the server comes up
    sent = await wait_for(settled(db, message_id), timeout=10)
    assert sent.last_error is None and sent.attempts >= 3
    await asyncio.sleep(3 * server.context.settings.outbox_interval_seconds)
    assert [m.subject for m in sink.messages()] == ["patience"]
    assert await email_metrics(server) == {"failed": sent.attempts - 1, "sent": 1}


async def _attempts_at_least(db: Database, message_id: int, attempts: int) -> bool:
    return (await outbox_row(db, message_id)).attempts >= attempts


async def test_a_message_is_dead_after_the_last_attempt(start_server, db):
    [message_id] = await enqueue(db, "doomed")
    async with db.unit_of_work() as uow:
        await uow.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id)
            .values(attempts=MAX_ATTEMPTS - 1)
        )
    server = await start_server(smtp_url=f"smtp://127.0.0.1:{free_port()}")

    dead = await wait_for(settled(db, message_id, "dead"))
    assert dead.attempts == MAX_ATTEMPTS
    assert "SMTPConnectError" in (dead.last_error or "")
    assert await email_metrics(server) == {"dead": 1}


async def test_a_recipient_refused_for_good_is_dead_at_once(start_server, db, smtp):
    sink = smtp(refuse=("gone@example.com",))
    server = await start_server(smtp_url=sink.url, email_retry_base_seconds=0.05)
    [gone] = await enqueue(db, "to nobody", recipient="gone@example.com")
    [kept] = await enqueue(db, "to alice")

    dead = await wait_for(settled(db, gone, "dead"))
    await wait_for(settled(db, kept))
    assert dead.attempts == 1
    assert "550" in (dead.last_error or "")
    assert [m.subject for m in sink.messages()] == ["to alice"]
    assert await email_metrics(server) == {"dead": 1, "sent": 1}


async def test_smtp_credentials_come_from_the_url(start_server, db, smtp):
    user, password = "mailer@example.org", "p@ss w:rd/1"
    sink = smtp(credentials=(user, password))
    url = f"smtp://{quote(user, safe='')}:{quote(password, safe='')}@127.0.0.1:{sink.port}"
    await start_server(smtp_url=url)
    [message_id] = await enqueue(db, "authenticated")

    [received] = await wait_for(sink.messages)
    assert received.login.login == user.encode()
    assert received.mail_from == user  # a user name that is an address is the sender
    await wait_for(settled(db, message_id))


async def test_wrong_smtp_credentials_are_a_retried_failure(start_server, db, smtp):
    sink = smtp(credentials=("mailer", "right"))
    await start_server(smtp_url=f"smtp://mailer:wrong@127.0.0.1:{sink.port}")
    [message_id] = await enqueue(db, "refused")

    await wait_for(lambda: _attempts_at_least(db, message_id, 1))
    row = await outbox_row(db, message_id)
    assert row.status == "pending"
    assert "SMTPAuthenticationError: 535" in (row.last_error or "")
    assert "wrong" not in (row.last_error or "")
    assert sink.messages() == []


async def test_two_server_instances_never_deliver_a_message_twice(start_server, db, smtp):
    sink = smtp(delay=0.005)
    first = await start_server(smtp_url=sink.url)
    second = await start_server(smtp_url=sink.url)
    subjects = [f"message {n:02d}" for n in range(60)]
    ids = await enqueue(db, *subjects)

    for message_id in ids:
        await wait_for(settled(db, message_id), timeout=15)
    received = sink.messages()
    assert sorted(m.subject for m in received) == subjects
    assert len({m.message["Message-ID"] for m in received}) == len(subjects)
    by_server = [(await email_metrics(s)).get("sent", 0) for s in (first, second)]
    print("sent by each instance:", by_server)
    assert sum(by_server) == len(subjects)


async def test_concurrent_passes_claim_disjoint_messages(start_server, db, smtp):
    sink = smtp(delay=0.01)
    server = await start_server(smtp_url=sink.url)
    await server.stop_jobs()  # this test drives the passes itself
    subjects = [f"message {n:02d}" for n in range(30)]
    await enqueue(db, *subjects)

    counts = await asyncio.gather(
        *(deliver_due_emails(server.context, batch_size=10) for _ in range(3))
    )
    assert sum(counts) == 30 and all(counts), counts
    assert sorted(m.subject for m in sink.messages()) == subjects
    rows = await outbox_rows(db)
    assert {(row.status, row.attempts) for row in rows} == {("sent", 1)}


async def test_without_smtp_url_emails_are_logged_and_marked_sent(start_server, db, caplog):
    caplog.set_level(logging.INFO, logger="server.notifications")
    server = await start_server()
    assert server.context.settings.smtp_url is None
    [message_id] = await enqueue(db, "logged only")

    sent = await wait_for(settled(db, message_id))
    assert sent.attempts == 1
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("server.notifications")]
    assert any("'logged only'" in line and "alice@example.com" in line for line in lines), lines
    assert not any("Body of logged only" in line for line in lines)
    assert await email_metrics(server) == {"logged": 1}


async def test_a_stale_claim_cannot_record_an_outcome(db):
    [message_id] = await enqueue(db, "leased")
    async with db.unit_of_work() as uow:
        [stale] = await repository.claim_due(uow.session, limit=5, lease_seconds=60)
    async with db.unit_of_work() as uow:
        assert await repository.claim_due(uow.session, limit=5, lease_seconds=60) == []
        # The first worker stalls past its lease; another one claims the message.
        await uow.session.execute(
            update(OutboxMessage).values(next_attempt_at=func.now() - text("interval '1 s'"))
        )
    async with db.unit_of_work() as uow:
        [current] = await repository.claim_due(uow.session, limit=5, lease_seconds=60)
    assert current.id == stale.id == message_id and current.lease != stale.lease

    async with db.unit_of_work() as uow:
        assert not await repository.mark_sent(uow.session, stale)
        assert not await repository.mark_failed(
            uow.session, stale, error="late", give_up=True, retry_in_seconds=1
        )
        assert await repository.mark_sent(uow.session, current)
    row = await outbox_row(db, message_id)
    assert (row.status, row.attempts, row.last_error) == ("sent", 1, None)


async def test_messages_a_pass_has_no_time_left_for_are_handed_back_untried(server, db):
    await server.stop_jobs()
    await enqueue(db, "first", "second")
    async with db.unit_of_work() as uow:
        batch = await repository.claim_due(uow.session, limit=5, lease_seconds=60)
    assert len(batch) == 2

    mailer = mailer_for(None)
    tried = await worker._deliver_batch(
        server.context, mailer, batch, deadline=0.0, started_with=server.context.scheduler
    )
    assert tried == 0
    rows = await outbox_rows(db)
    assert {(row.status, row.attempts) for row in rows} == {("pending", 0)}
    async with db.unit_of_work() as uow:  # due again at once, for any worker
        assert len(await repository.claim_due(uow.session, limit=5, lease_seconds=60)) == 2


async def test_enqueue_skips_users_without_a_usable_address(db):
    async with db.unit_of_work() as uow:
        for address in (None, "", "   ", "not-an-address", "a@b.org\r\nBcc: x@y.org"):
            assert (
                enqueue_email(
                    uow.session,
                    topic="outbid",
                    recipient_id="bob",
                    recipient_email=address,
                    subject="s",
                    body="b",
                )
                is None
            )
    assert await outbox_rows(db) == []


async def test_enqueue_redacts_anything_that_looks_like_a_secret(db, caplog):
    secret = "pi_3Abc123_secret_XyZ987"
    async with db.unit_of_work() as uow:
        enqueue_email(
            uow.session,
            topic="payment_required",
            recipient_id="bob",
            recipient_email=" bob@example.com ",
            subject=f"pay with {secret}",
            body=f"client secret {secret}",
            data={"client_secret": secret, "lot_id": 3},
        )
    [row] = await outbox_rows(db)
    assert secret not in f"{row.subject} {row.body} {row.data}"
    assert row.data == {"client_secret": "[redacted]", "lot_id": 3}
    assert row.recipient_email == "bob@example.com"
    assert "looks like a secret" in caplog.text


def test_retry_delay_doubles_up_to_ten_minutes():
    assert [retry_delay(n, 5.0) for n in range(1, 10)] == [
        5.0,
        10.0,
        20.0,
        40.0,
        80.0,
        160.0,
        320.0,
        600.0,
        600.0,
    ]


def test_smtp_url_parsing():
    plain = SmtpConfig.from_url("smtp://mail.example.org")
    assert (plain.hostname, plain.port, plain.use_tls, plain.username) == (
        "mail.example.org",
        25,
        False,
        None,
    )
    assert plain.sender == "no-reply@localhost"
    tls = SmtpConfig.from_url("smtps://apikey:s%3Acret@smtp.example.org?from=shop%40example.org")
    assert (tls.port, tls.use_tls, tls.username, tls.password) == (465, True, "apikey", "s:cret")
    assert tls.sender == "shop@example.org"
    assert SmtpConfig.from_url("smtp://h.example:2525").port == 2525
    for bad in ("http://h", "smtp://", "smtp://h:port", "smtp://h?from=nobody"):
        with pytest.raises(ValueError):
            SmtpConfig.from_url(bad)


def test_a_malformed_smtp_url_stops_start_up_naming_the_variable():
    from server.notifications import install_jobs

    class Context:
        settings = type("S", (), {"smtp_url": "smtp://user:hunter2@host:nope"})()

    with pytest.raises(SettingsError, match="SMTP_URL") as caught:
        install_jobs(Context(), scheduler=None)  # type: ignore[arg-type]
    assert "hunter2" not in str(caught.value)
    assert mailer_for(None).delivered_outcome == "logged"


async def test_a_pass_marks_its_deliveries_sent_in_one_statement(server, db):
    """One UPDATE for the batch: every row carries the same statement timestamp."""
    await server.stop_jobs()
    ids = await enqueue(db, *(f"batch {n}" for n in range(6)))
    tried = await deliver_due_emails(server.context, batch_size=10)
    assert tried == 6
    rows = [await outbox_row(db, message_id) for message_id in ids]
    assert {(row.status, row.attempts) for row in rows} == {("sent", 1)}
    assert len({row.sent_at for row in rows}) == 1
    assert await email_metrics(server) == {"logged": 6}


async def test_a_pass_lets_other_work_run_between_its_messages(server, db):
    """Delivering a batch never holds the event loop from its first message to its last.

    With no SMTP_URL every send returns at once; bids waiting on the same loop must
    still be served between messages. A ticker counts its turns on the loop, and each
    logged e-mail notes the count: a pass that never yields between messages logs all
    of them within one turn.
    """
    await server.stop_jobs()
    await enqueue(db, *(f"burst {n}" for n in range(50)))
    turns = 0
    delivering = True
    seen_at: list[int] = []

    class NoteTurn(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "not sent" in record.getMessage():
                seen_at.append(turns)

    async def ticker() -> None:
        nonlocal turns
        while delivering:
            turns += 1
            await asyncio.sleep(0)

    mailer_log = logging.getLogger("server.notifications.mailer")
    handler, level = NoteTurn(), mailer_log.level
    mailer_log.addHandler(handler)
    mailer_log.setLevel(logging.INFO)
    ticking = asyncio.create_task(ticker())
    try:
        tried = await deliver_due_emails(server.context, batch_size=100)
    finally:
        delivering = False
        await ticking
        mailer_log.removeHandler(handler)
        mailer_log.setLevel(level)
    assert tried == 50
    assert len(seen_at) == 50
    assert len(set(seen_at)) == 50, seen_at  # a turn of other work between every two


async def test_a_batch_of_marks_skips_only_the_claim_whose_lease_was_lost(db):
    first, second = await enqueue(db, "kept", "lost")
    async with db.unit_of_work() as uow:
        claimed = await repository.claim_due(uow.session, limit=5, lease_seconds=60)
    assert [m.id for m in claimed] == [first, second]
    async with db.unit_of_work() as uow:
        # Another worker took over the second message after its lease ended.
        await uow.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == second)
            .values(next_attempt_at=func.now() + text("interval '5 minutes'"))
        )
    async with db.unit_of_work() as uow:
        assert await repository.mark_sent_many(uow.session, claimed) == {first}
    assert (await outbox_row(db, first)).status == "sent"
    assert (await outbox_row(db, second)).status == "pending"

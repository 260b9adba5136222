"""The transactional e-mail outbox: how the rest of the server sends e-mail.

Contract for callers (auctions, payments, webhooks):

- Call `enqueue_email(uow.session, ...)` inside the unit of work that makes the
  state change the e-mail announces. It only adds a row to the session: no
  I/O, no await, no commit. The row commits with the state change or not at
  all, so a rolled-back change never sends an e-mail and a committed one
  always does (eventually).
- Build `subject` and `body` with `server.notifications.messages`
  (`payment_required`, `receipt`, `payment_expired`, `outbid`), from plain
  values: `subject, body = messages.receipt(...)`.
- A user without an e-mail address (or with one that cannot be delivered to)
  gets no row: `enqueue_email` returns None, and that is not an error.
- Never pass client secrets, tokens or full card numbers. Anything that looks
  like a Stripe secret or a JWT is redacted anyway, and logged as a bug.
- `data` is for operators and later tooling (ids such as `lot_id`,
  `payment_id`); it must be JSON (str, int, bool, None, lists, dicts).

Delivery happens later, in the background job `worker.deliver_due_emails`:
never in a request, at least once, retried with backoff. See worker.py.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.core.logging import redact
from server.notifications.models import OutboxMessage

log = logging.getLogger(__name__)

_DELIVERABLE = re.compile(r"[^@\s<>,;:\"()\[\]\\]+@[^@\s<>,;:\"()\[\]\\]+\.[^@\s<>,;:\"()\[\]\\]+")
_MAX_ADDRESS_LENGTH = 254
_MAX_TOPIC_LENGTH = 64


def deliverable_address(email: str | None) -> str | None:
    """`email` trimmed when mail can be sent to it, else None."""
    if email is None:
        return None
    email = email.strip()
    if len(email) > _MAX_ADDRESS_LENGTH or not _DELIVERABLE.fullmatch(email):
        return None
    return email


def enqueue_email(
    session: AsyncSession,
    *,
    topic: str,
    recipient_id: str | None,
    recipient_email: str | None,
    subject: str,
    body: str,
    data: dict[str, Any] | None = None,
) -> OutboxMessage | None:
    """Add one e-mail to the caller's unit of work; None when there is no one to mail."""
    if not topic or len(topic) > _MAX_TOPIC_LENGTH:
        raise ValueError(f"topic must be 1 to {_MAX_TOPIC_LENGTH} characters")
    address = deliverable_address(recipient_email)
    if address is None:
        if recipient_email:
            log.warning("no %s e-mail for user %s: the address is not usable", topic, recipient_id)
        return None
    subject, body, data = _without_secrets(topic, subject, body, data or {})
    message = OutboxMessage(
        topic=topic,
        recipient_id=recipient_id,
        recipient_email=address,
        subject=subject,
        body=body,
        data=data,
    )
    session.add(message)
    return message


def _without_secrets(
    topic: str, subject: str, body: str, data: dict[str, Any]
) -> tuple[str, str, dict[str, Any]]:
    encoded = json.dumps(data, ensure_ascii=False)
    clean_subject, clean_body, clean_encoded = redact(subject), redact(body), redact(encoded)
    if (clean_subject, clean_body, clean_encoded) != (subject, body, encoded):
        log.error("a %s e-mail carried something that looks like a secret; redacted", topic)
        data = json.loads(clean_encoded)
    return clean_subject, clean_body, data

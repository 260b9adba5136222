"""How an outbox message leaves the process: over SMTP, or into the log.

`SMTP_URL` picks the transport: `smtp://user:pass@host:port` (STARTTLS when
the server offers it, port 25 by default), `smtps://...` (implicit TLS, port
465 by default). User and password are percent-decoded. The sender address is
`?from=` when given, else the user name when it is an address, else
`no-reply@localhost`. Unset, messages are logged and count as delivered, so a
development machine needs no mail server.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from functools import lru_cache
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from server.core.logging import redact

log = logging.getLogger(__name__)

#: Per SMTP command (connect, EHLO, AUTH, DATA...), as aiosmtplib counts it.
SMTP_TIMEOUT_SECONDS = 10.0
#: For one whole message, however many commands it takes.
SEND_TIMEOUT_SECONDS = 30.0

_ADDRESS = re.compile(r"[^@\s<>,;\"]+@[^@\s<>,;\"]+")


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    id: int
    topic: str
    recipient: str
    subject: str
    body: str
    created_at: datetime


class DeliveryError(Exception):
    """A message was not delivered.

    `permanent`: retrying cannot help (the server refused this recipient or this
    content). `server_down`: the server itself is unreachable or refuses us, so
    the other messages of the batch would fail the same way.
    """

    def __init__(self, reason: str, *, permanent: bool = False, server_down: bool = False) -> None:
        super().__init__(redact(reason)[:500])
        self.permanent = permanent
        self.server_down = server_down


class Mailer(Protocol):
    #: The metrics outcome of a successful `send`: "sent", or "logged" when nothing left.
    delivered_outcome: str

    async def send(self, email: OutgoingEmail) -> None: ...


class LogMailer:
    """SMTP_URL is unset: say what would have been sent (never the body at INFO)."""

    delivered_outcome = "logged"

    async def send(self, email: OutgoingEmail) -> None:
        log.info(
            "e-mail %s not sent (SMTP_URL is unset): %r to %s",
            email.topic,
            email.subject,
            email.recipient,
        )
        log.debug("e-mail %s body:\n%s", email.id, email.body)


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    hostname: str
    port: int
    username: str | None
    password: str | None
    use_tls: bool
    sender: str

    @classmethod
    def from_url(cls, url: str) -> SmtpConfig:
        """Parse `SMTP_URL`; a `ValueError` names what is wrong, never the password."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError("SMTP_URL must start with smtp:// or smtps://")
        if not parts.hostname:
            raise ValueError("SMTP_URL must name a host")
        try:
            port = parts.port
        except ValueError:
            raise ValueError("SMTP_URL has a malformed port") from None
        use_tls = parts.scheme == "smtps"
        username = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password is not None else None
        query = parse_qs(parts.query)
        sender = query.get("from", [""])[0].strip()
        if not sender:
            sender = username if username and _ADDRESS.fullmatch(username) else "no-reply@localhost"
        if not _ADDRESS.fullmatch(sender):
            raise ValueError("SMTP_URL has a malformed from= address")
        return cls(
            hostname=parts.hostname,
            port=port or (465 if use_tls else 25),
            username=username,
            password=password,
            use_tls=use_tls,
            sender=sender,
        )

    @property
    def sender_domain(self) -> str:
        return self.sender.rsplit("@", 1)[1]


class SmtpMailer:
    """One SMTP connection per message: simple, and mail volume here is small."""

    delivered_outcome = "sent"

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config

    def build(self, email: OutgoingEmail) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.config.sender
        message["To"] = email.recipient
        message["Subject"] = email.subject
        message["Date"] = format_datetime(email.created_at.astimezone(UTC))
        # Stable per outbox row: a re-send after a crash carries the same id, which
        # lets mail clients fold the duplicate.
        stamp = email.created_at.astimezone(UTC).strftime("%Y%m%d%H%M%S%f")
        message["Message-ID"] = f"<{stamp}.{email.id}.outbox@{self.config.sender_domain}>"
        message["Auto-Submitted"] = "auto-generated"
        message["X-Auction-Topic"] = email.topic
        message.set_content(email.body)
        return message

    async def send(self, email: OutgoingEmail) -> None:
        try:
            message = self.build(email)
        except (ValueError, TypeError) as exc:
            raise DeliveryError(f"message cannot be built: {exc}", permanent=True) from None
        config = self.config
        try:
            async with asyncio.timeout(SEND_TIMEOUT_SECONDS):
                await aiosmtplib.send(
                    message,
                    sender=config.sender,
                    recipients=[email.recipient],
                    hostname=config.hostname,
                    port=config.port,
                    username=config.username,
                    password=config.password,
                    use_tls=config.use_tls,
                    timeout=SMTP_TIMEOUT_SECONDS,
                )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [refused.code for refused in exc.recipients]
            reason = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
            raise DeliveryError(
                f"recipient refused: {reason}", permanent=all(code >= 500 for code in codes)
            ) from None
        except aiosmtplib.SMTPDataError as exc:
            raise DeliveryError(
                f"message refused: {exc.code} {exc.message}", permanent=exc.code >= 500
            ) from None
        except (
            aiosmtplib.SMTPAuthenticationError,
            aiosmtplib.SMTPSenderRefused,
            aiosmtplib.SMTPHeloError,
        ) as exc:
            # The server turns *us* away: every message would fail the same way.
            raise DeliveryError(
                f"{type(exc).__name__}: {exc.code} {exc.message}", server_down=True
            ) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}", server_down=True) from None


@lru_cache(maxsize=8)
def mailer_for(smtp_url: str | None) -> Mailer:
    """The transport `SMTP_URL` asks for (a `ValueError` when it is malformed)."""
    if smtp_url is None:
        return LogMailer()
    return SmtpMailer(SmtpConfig.from_url(smtp_url))

"""A real SMTP server for tests: aiosmtpd on a free port, keeping what it accepts."""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.support.services import free_port


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.sink.refuse:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.sink.delay:
            await asyncio.sleep(self.sink.delay)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.sink.lock:
            self.sink.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), message, session.auth_data)
            )
        return "250 Message accepted"


class Received:
    def __init__(
        self, mail_from: str, rcpt_tos: list[str], message: EmailMessage, login: Any
    ) -> None:
        self.mail_from = mail_from
        self.rcpt_tos = rcpt_tos
        self.message = message
        self.login = login

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def body(self) -> str:
        part = self.message.get_body(("plain",))
        assert part is not None
        # On the wire lines end in CRLF; compare text as Python writes it.
        return str(part.get_content()).replace("\r\n", "\n")  # type: ignore[attr-defined]


class SmtpSink:
    """aiosmtpd in its own thread. `refuse`: recipients answered with 550.

    `credentials=(user, password)` requires that login (over plain text, as a
    test server may).
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        refuse: tuple[str, ...] = (),
        delay: float = 0.0,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        self.port = port or free_port()
        self.refuse = set(refuse)
        self.delay = delay
        self.credentials = credentials
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self._running = False
        kwargs: dict[str, Any] = {}
        if credentials is not None:
            kwargs.update(authenticator=self._authenticate, auth_require_tls=False)
        self._controller = Controller(
            _Handler(self), hostname="127.0.0.1", port=self.port, **kwargs
        )

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert self.credentials is not None
        user, password = self.credentials
        ok = isinstance(auth_data, LoginPassword) and auth_data == LoginPassword(
            user.encode(), password.encode()
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> SmtpSink:
        self._controller.start()
        self._running = True
        return self

    def stop(self) -> None:
        if self._running:
            self._controller.stop()
            self._running = False

    def messages(self) -> list[Received]:
        with self.lock:
            return list(self.received)

"""Log noise an anonymous client or an outage can cause (issue 18 item 7).

Against a real `python -m server serve`: a header over 8 KB, sent twenty
times, used to log aiohttp's `LineTooLong` at ERROR, twenty times, quoting the
header's first bytes; a database that stops answering used to make every
scheduled job log a traceback every second. Now each is one warning per
condition (with a count), no request content, and a metric.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.conftest import METRICS_AUTH, METRICS_TOKEN
from tests.support.services import free_port, wait_for
from tests.test_multiprocess import start_processes  # noqa: F401  (fixture)

pytestmark = pytest.mark.multiprocess

MARKER = "CLAIMS-sub-alice-role-admin-"


async def _send_long_header(port: int) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        value = MARKER + "x" * 10_000
        writer.write(f"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Claims: {value}\r\n\r\n".encode())
        await writer.drain()
        return await asyncio.wait_for(reader.readline(), 5)
    finally:
        writer.close()


async def test_a_header_over_8_kb_is_one_warning_without_its_content(
    start_processes: Callable[..., Any],  # noqa: F811  (the fixture imported above)
) -> None:
    (server,) = await start_processes(1, METRICS_TOKEN=METRICS_TOKEN)
    for _ in range(20):
        status_line = await _send_long_header(server.port)
        assert status_line.split()[1] in (b"400", b"431"), status_line
    assert MARKER not in server.log()
    entries = server.log_entries()
    assert [e for e in entries if e["logger"].startswith("aiohttp")] == []
    warnings = [e for e in entries if "malformed HTTP" in e["msg"]]
    assert len(warnings) == 1, warnings
    assert "LineTooLong" in warnings[0]["msg"]
    metrics = (await server.request("GET", "/metrics", headers=METRICS_AUTH))[1]
    assert 'auction_http_protocol_errors_total{error="LineTooLong"} 20.0' in metrics


class TcpProxy:
    """Forwards a port to PostgreSQL until `stop()`, which also cuts every open connection."""

    def __init__(self, target_port: int) -> None:
        self.port = free_port()
        self.target_port = target_port
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", self.port)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            with contextlib.suppress(Exception):
                writer.close()
            self._writers.discard(writer)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()


async def test_a_database_outage_is_one_warning_not_a_traceback_per_job(
    start_processes: Callable[..., Any],  # noqa: F811
    test_database: Any,
) -> None:
    parts = urlsplit(test_database.url)
    proxy = TcpProxy(parts.port or 5432)
    await proxy.start()
    proxied = urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}"))
    try:
        (server,) = await start_processes(1, DATABASE_URL=proxied, METRICS_TOKEN=METRICS_TOKEN)
        await asyncio.sleep(0.5)
        await proxy.stop()
        await asyncio.sleep(4)  # sweeps every 0.25 s: dozens of failed runs
        scheduler = [e for e in server.log_entries() if e["logger"].startswith("server.scheduling")]
        assert len(scheduler) == 1, scheduler
        assert "database unavailable" in scheduler[0]["msg"]
        assert "exc" not in scheduler[0]
        metrics = (await server.request("GET", "/metrics", headers=METRICS_AUTH))[1]
        failed = sum(
            float(line.rsplit(" ", 1)[1])
            for line in metrics.splitlines()
            if line.startswith("auction_scheduled_job_failures_total{")
            and 'reason="database_unavailable"' in line
        )
        assert failed >= 10, metrics
        await proxy.start()
        await wait_for(
            lambda: any("running again" in e["msg"] for e in server.log_entries()), timeout=10
        )
        errors = [
            e
            for e in server.log_entries()
            if e["level"] == "error" and e["logger"].startswith("server.scheduling")
        ]
        assert errors == []
    finally:
        await proxy.stop()

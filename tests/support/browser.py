"""Driving Debian's Chromium with Playwright: how to launch it, and a bidder's page.

Playwright's own browser downloads are never used (`playwright install` needs the
internet); the test drives /usr/bin/chromium, which CI installs from Debian.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Locator, Page, Request, async_playwright

from tests.support.services import PATIENCE

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
#: How long `expect(...)` waits for the page (the modules set it): TEST_PATIENCE times 5 s,
#: 15 s by default, like the other waits in tests (tests/support/services.py).
EXPECT_TIMEOUT_MS = round(5_000 * PATIENCE)
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    """One headless Chromium per test module (tests/conftest.py registers this module as a
    plugin); each test opens its own contexts. Skips where Debian's Chromium is missing."""
    if not CHROMIUM.exists():
        pytest.skip("Chromium not installed: apt-get install chromium")
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield chromium
        await chromium.close()


async def until(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Wait for a condition on what the browser did (not on the DOM: `expect` does that)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.05)


@dataclass
class BidderPage:
    """One person's browser tab on the demo page, with what went wrong in it."""

    context: BrowserContext
    page: Page
    name: str
    problems: list[str] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    socket_frames: list[str] = field(default_factory=list)

    @classmethod
    async def open(cls, context: BrowserContext, url: str, name: str) -> BidderPage:
        page = await context.new_page()
        tab = cls(context, page, name)
        page.on("pageerror", lambda error: tab.problems.append(f"uncaught: {error}"))
        page.on("console", tab._console)
        page.on("request", lambda request: tab.requests.append(request))
        page.on("websocket", lambda ws: ws.on("framesent", tab._frame_sent))
        await page.goto(url)
        return tab

    def _frame_sent(self, payload: str | bytes) -> None:
        self.socket_frames.append(
            payload if isinstance(payload, str) else payload.decode("latin-1")
        )

    def _console(self, message: object) -> None:
        text = getattr(message, "text", "")
        if "Content Security Policy" in text or getattr(message, "type", "") == "assert":
            self.problems.append(f"console: {text}")

    async def sign_in(self, display_name: str) -> None:
        await self.page.get_by_role("button", name=f"Sign in as {display_name}").click()
        await self.page.get_by_text(f"Bidding as {display_name}").wait_for()

    def lot(self, title: str) -> Locator:
        return self.page.locator("article.lot").filter(
            has=self.page.get_by_role("heading", name=title, exact=True)
        )

    async def join(self, title: str) -> None:
        await self.page.get_by_role("button", name=f"Join {title}").click()
        await self.page.get_by_role("button", name=f"Leave {title}").wait_for()

    async def bid(self, title: str, amount: str) -> None:
        card = self.lot(title)
        await card.get_by_label(re.compile(r"^Your bid")).fill(amount)
        await card.get_by_role("button", name="Place bid").click()

    @property
    def payment(self) -> Locator:
        return self.page.locator("article.payment")

    async def pay(self, number: str, expiry: str = "12/34", cvc: str = "123") -> None:
        panel = self.payment
        await panel.get_by_label("Card number").fill(number)
        await panel.get_by_label("Expiry (MM/YY)").fill(expiry)
        await panel.get_by_label("CVC").fill(cvc)
        await panel.get_by_role("button", name=re.compile(r"^Pay ")).click()

    async def shot(self, name: str, *, full_page: bool = True) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        await self.page.screenshot(path=str(path), full_page=full_page)
        return path

    def posted_to(self, origin: str) -> list[str]:
        """Bodies of the POSTs this tab sent to `origin`."""
        return [
            request.post_data or ""
            for request in self.requests
            if request.method == "POST" and request.url.startswith(origin)
        ]

    def socket_frames_with(self, text: str) -> int:
        return sum(text in frame for frame in self.socket_frames)

    def sent_to(self, origin: str) -> str:
        """Everything this tab sent to `origin`: URLs, bodies and Socket.IO frames."""
        parts = [
            f"{request.url} {request.post_data or ''}"
            for request in self.requests
            if request.url.startswith(origin)
        ]
        return "\n".join([*parts, *self.socket_frames])


@dataclass
class LotTab:
    """A bidder's tab on one lot page (`/lots/{id}`)."""

    tab: BidderPage

    @property
    def page(self) -> Page:
        return self.tab.page

    @property
    def message(self) -> Locator:
        return self.page.locator("#lot-message")

    @property
    def price(self) -> Locator:
        return self.page.locator("#lot-price")

    async def bid(self, amount: str) -> None:
        await self.page.get_by_label(re.compile(r"^Your bid")).fill(amount)
        await self.page.get_by_role("button", name="Place bid").click()

    async def set_max(self, amount: str) -> None:
        await self.page.get_by_label(re.compile(r"^Your maximum bid")).fill(amount)
        await self.page.get_by_role("button", name="Set maximum").click()


async def open_lot(tab: BidderPage, base_url: str, lot_id: int) -> LotTab:
    """Open the lot page in `tab` and wait until it shows the lot."""
    await tab.page.goto(f"{base_url}/lots/{lot_id}")
    await tab.page.locator("#lot-badge:not(:empty)").wait_for()
    return LotTab(tab)


OVERFLOW_SCRIPT = """() => {
    const width = document.documentElement.clientWidth;
    const out = [];
    const page = document.documentElement.scrollWidth;
    if (page > width) out.push(`page ${page}px > ${width}px`);
    for (const el of document.querySelectorAll('body *')) {
        const box = el.getBoundingClientRect();
        if (box.width === 0 || getComputedStyle(el).visibility === 'hidden') continue;
        if (el.closest('.visually-hidden, .skip')) continue;
        if (box.right > width + 1 || box.left < -1) {
            const name = `${el.tagName.toLowerCase()}#${el.id}.${el.className}`;
            out.push(`${name}: ${Math.round(box.left)}..${Math.round(box.right)}`);
        }
    }
    return out;
}"""


async def no_horizontal_overflow(page: Page) -> list[str]:
    """Elements sticking out of the viewport (a phone must never scroll sideways)."""
    return await page.evaluate(OVERFLOW_SCRIPT)

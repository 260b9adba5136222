"""The seller and admin desks in Chromium: a tab signed in as the demo seller or admin."""

from __future__ import annotations

from playwright.async_api import Browser, Locator

from tests.support.browser import DESKTOP, BidderPage


class DeskPage(BidderPage):
    """A desk tab. `messages` is the desk's one message line (status or alert)."""

    @property
    def status(self) -> Locator:
        return self.page.locator("#messages [role=status]")

    @property
    def alert(self) -> Locator:
        return self.page.locator("#messages [role=alert]")

    def section(self, heading: str) -> Locator:
        return self.page.locator("section.panel").filter(
            has=self.page.get_by_role("heading", name=heading, exact=True)
        )


async def open_desk(
    browser: Browser,
    url: str,
    *,
    as_name: str | None,
    viewport: dict[str, int] = DESKTOP,
    locale: str = "en-US",
    timezone: str = "UTC",
) -> DeskPage:
    """Open `url` (/seller or /admin) in a fresh context; sign in with the demo button."""
    context = await browser.new_context(viewport=viewport, locale=locale, timezone_id=timezone)
    tab = await DeskPage.open(context, url, as_name or "guest")
    assert isinstance(tab, DeskPage)
    if as_name is not None:
        await tab.page.get_by_role("button", name=f"Sign in as {as_name}").click()
        await tab.page.get_by_text(f"Signed in as {as_name}").wait_for()
    return tab


async def overflows(tab: BidderPage) -> list[str]:
    """Elements wider than the viewport (a phone layout must scroll only vertically)."""
    found: list[str] = await tab.page.evaluate(
        """() => {
            const root = document.documentElement;
            const width = root.clientWidth;
            const wide = [];
            if (root.scrollWidth > width) wide.push(`page ${root.scrollWidth}px`);
            // Inside a visually hidden box (1px, clipped) nothing shows, however wide.
            const hidden = (el) => {
                for (let up = el; up; up = up.parentElement) {
                    if (up.getBoundingClientRect().width <= 1) return true;
                }
                return false;
            };
            for (const el of document.querySelectorAll("main *")) {
                const box = el.getBoundingClientRect();
                if (box.width > 0 && box.right > width + 1 && !hidden(el)) {
                    const name = `${el.tagName.toLowerCase()}.${el.className}`;
                    wide.push(`${name} right=${Math.round(box.right)}`);
                }
            }
            return wide.slice(0, 10);
        }"""
    )
    return found

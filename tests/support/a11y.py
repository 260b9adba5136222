"""Accessibility scans: axe-core (from npm, pinned in package-lock.json) run inside Chromium.

`assert_accessible(page, "seller desk")` injects axe into the page as it is now and
fails on every serious or critical violation, naming the rule, its help text and
the elements it found. The script goes in through the DevTools protocol, which a
page's Content-Security-Policy does not govern, so the scan sees the page exactly as
served (no `bypass_csp`, no inline script the policy would have to allow).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.async_api import Page

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
#: What fails a scan. Moderate and minor findings are printed, not failed.
FAILING = ("serious", "critical")
#: WCAG 2.x A and AA, plus axe's best practices (landmarks, headings, regions).
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


def axe_source() -> str:
    if not AXE.exists():
        raise AssertionError(
            f"{AXE} is missing: run `npm ci` (scripts/test does) to install axe-core"
        )
    return AXE.read_text(encoding="utf-8")


async def axe_scan(page: Page) -> list[dict[str, Any]]:
    """axe's violations for the page as it is now (every impact)."""
    if not await page.evaluate("typeof window.axe === 'object'"):
        cdp = await page.context.new_cdp_session(page)
        try:
            answer = await cdp.send(
                "Runtime.evaluate", {"expression": axe_source(), "returnByValue": False}
            )
        finally:
            await cdp.detach()
        if "exceptionDetails" in answer:
            raise AssertionError(f"axe-core did not load: {answer['exceptionDetails']}")
    result: dict[str, Any] = await page.evaluate(
        """async (tags) => {
            const result = await window.axe.run(document, {
                runOnly: { type: "tag", values: tags },
                resultTypes: ["violations"],
            });
            return {
                violations: result.violations.map((v) => ({
                    id: v.id,
                    impact: v.impact,
                    help: v.help,
                    helpUrl: v.helpUrl,
                    nodes: v.nodes.map((n) => ({
                        target: n.target.join(" "),
                        summary: n.failureSummary,
                    })),
                })),
            };
        }""",
        TAGS,
    )
    violations: list[dict[str, Any]] = result["violations"]
    return violations


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"[{violation['impact']}] {violation['id']}: {violation['help']}")
        for node in violation["nodes"][:5]:
            lines.append(f"    {node['target']}: {(node['summary'] or '').splitlines()[-1:]}")
    return "\n".join(lines)


async def assert_accessible(page: Page, name: str) -> list[dict[str, Any]]:
    """Fail on serious or critical axe violations; return the lesser ones (also printed)."""
    violations = await axe_scan(page)
    failing = [v for v in violations if v["impact"] in FAILING]
    others = [v for v in violations if v["impact"] not in FAILING]
    if others:
        print(f"axe on {name}: lesser findings\n{describe(others)}")
    assert not failing, f"axe found serious or critical problems on {name}:\n{describe(failing)}"
    return others

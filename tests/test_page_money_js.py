"""The pages' money entry (server/static/js/money.js) under `node --test`: tests/js/*.test.mjs.

Fast unit tests of parseAmount / toInputString / separators in several locales and
currencies (the Chromium tests in tests/test_lot_page.py drive the same module through
the page). The module is copied as .mjs so any Node version imports it as an ES module.
A failing JS test fails this test with node's report. Without Node.js it is skipped,
saying so.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from server.web.pages import STATIC_DIR

ROOT = Path(__file__).resolve().parents[1]
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(
    NODE is None, reason="Node.js is not installed: apt-get install nodejs"
)


def test_the_money_module_passes_its_node_tests(tmp_path):
    module = tmp_path / "money.mjs"
    shutil.copyfile(STATIC_DIR / "js" / "money.js", module)
    assert NODE is not None
    result = subprocess.run(
        [
            NODE,
            "--test",
            "--test-reporter=spec",
            *map(str, sorted((ROOT / "tests" / "js").glob("*.test.mjs"))),
        ],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "MONEY_MODULE": str(module)},
        capture_output=True,
        text=True,
        timeout=180,
    )
    report = result.stdout + result.stderr
    print(report)
    assert result.returncode == 0, report
    counts = dict(re.findall(r"^\u2139 (tests|pass|fail|skipped) (\d+)$", report, re.MULTILINE))
    assert int(counts["tests"]) >= 10 and counts["fail"] == "0" and counts["skipped"] == "0", counts

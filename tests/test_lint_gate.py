"""`scripts/lint` (run by `.ci/run` before the suite) fails on each kind of finding.

A copy of the sources gets one planted finding per tool, in its own file: an
unused import (ruff), a badly formatted line (ruff format), a type error (mypy)
and a function nothing calls (vulture). The gate must fail and each tool must
name its own plant, so a gate that fails for some other reason does not pass.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.services import ROOT

PLANTS = {
    "server/core/plant_ruff.py": '"""Plant."""\n\nimport os\n',
    "server/core/plant_format.py": '"""Plant."""\n\nVALUE = {  "a":1 }\n',
    "server/core/plant_mypy.py": '"""Plant."""\n\n\ndef half(n: int) -> int:\n    return n / 2\n',
    "server/core/plant_vulture.py": '"""Plant."""\n\n\ndef never_called_anywhere() -> int:\n'
    "    return 1\n",
}


def _copy(into: Path) -> Path:
    copy = into / "repo"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("server", "tests", "scripts"):
        shutil.copytree(ROOT / folder, copy / folder, ignore=ignore)
    (copy / ".ci").mkdir()
    shutil.copy2(ROOT / ".ci" / "vulture_whitelist.py", copy / ".ci")
    shutil.copy2(ROOT / "pyproject.toml", copy)
    if (ROOT / ".mypy_cache").is_dir():  # warm, so the test takes seconds
        shutil.copytree(ROOT / ".mypy_cache", copy / ".mypy_cache")
    return copy


def _lint(repo: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(repo / "scripts" / "lint")],
        cwd=repo,
        env={"PATH": "/usr/bin:/bin", "HOME": str(repo), "LINT_PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_lint_gate_fails_on_each_kind_of_finding(tmp_path: Path):
    repo = _copy(tmp_path)
    for relative, text in PLANTS.items():
        (repo / relative).write_text(text)
    result = _lint(repo)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "lint: FAILED: ruff check ruff format mypy vulture" in output
    assert "plant_ruff.py" in output and "F401" in output
    assert "server/core/plant_format.py:3" in output.split("--- ruff format")[1]
    assert "plant_mypy.py:5: error" in output
    assert "never_called_anywhere" in output
    # Only the plants: nothing of the real sources is reported.
    assert "plant_format.py" not in output.split("--- ruff format")[0]

"""Issue 12's layering, read from the source with `ast` (no import runs).

- `auctions` keeps bidding and the hammer: none of its modules imports
  `server.payments` or `server.sales` (a close hands over through
  `AppContext.after_close`, a sale's premium is read from its table by name).
- No import statement inside a function in the domain packages: an import cycle
  is broken by wiring (`AppContext` hooks set by the app factory), not dodged by
  importing late. The CLI, the workers' entry and the devtools may import lazily
  for start-up time; `if TYPE_CHECKING:` blocks sit at module level, so are fine.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SERVER = Path(__file__).resolve().parent.parent / "server"
NO_LATE_IMPORTS = ("auctions", "sales", "payments", "cards", "users", "media", "realtime")
NOT_FOR_AUCTIONS = ("server.payments", "server.sales")


def _modules(package: str) -> list[Path]:
    paths = sorted((SERVER / package).rglob("*.py"))
    assert paths, f"no modules in server/{package}"
    return paths


def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _where(path: Path, node: ast.stmt) -> str:
    return f"{path.relative_to(SERVER.parent)}:{node.lineno}"


def _imported(path: Path, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The dotted names an import brings in (`from server import sales`: server.sales)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:  # relative: resolve against the module's own package
        package = path.relative_to(SERVER.parent).with_suffix("").parts[: -node.level]
        base = ".".join((*package, node.module) if node.module else package)
    else:
        base = node.module or ""
    return [base] + [f"{base}.{alias.name}" for alias in node.names]


def _imports_in_functions(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    seen: set[int] = set()  # a nested function's import is inside its outer one too
    for function in ast.walk(tree):
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            for node in ast.walk(function):
                if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in seen:
                    seen.add(id(node))
                    yield node


def auctions_imports_of_sales_or_payments() -> list[str]:
    found = []
    for path in _modules("auctions"):
        for node in ast.walk(_parse(path)):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for name in _imported(path, node):
                    if any(name == bad or name.startswith(bad + ".") for bad in NOT_FOR_AUCTIONS):
                        found.append(f"{_where(path, node)} imports {name}")
    return found


def imports_inside_functions() -> list[str]:
    found = []
    for package in NO_LATE_IMPORTS:
        for path in _modules(package):
            for node in _imports_in_functions(_parse(path)):
                found.append(f"{_where(path, node)}: {ast.unparse(node)}")
    return found


def test_auctions_never_imports_payments_or_sales() -> None:
    assert auctions_imports_of_sales_or_payments() == []


def test_no_import_inside_a_function_in_the_domain_packages() -> None:
    assert imports_inside_functions() == []


def test_the_checks_see_what_they_look_for() -> None:
    """The walkers find a late import and every spelling of a forbidden one."""
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from server.core.db import UnitOfWork\n"
        "async def f():\n    from server.sales import outcomes\n"
        "def g():\n    def h():\n        import server.payments.models\n"
    )
    late = [ast.unparse(node) for node in _imports_in_functions(ast.parse(source))]
    assert late == ["from server.sales import outcomes", "import server.payments.models"]
    module = SERVER / "auctions" / "x.py"
    spellings = {
        "from server import sales": "server.sales",
        "import server.payments.gateway": "server.payments.gateway",
        "from ..payments import models": "server.payments.models",
    }
    for statement, name in spellings.items():
        node = ast.parse(statement).body[0]
        assert isinstance(node, (ast.Import, ast.ImportFrom))
        assert name in _imported(module, node), statement

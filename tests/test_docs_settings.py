"""Every variable the server reads is documented once, with the default the code uses.

The names are not copied from the docs or written out here: they are recorded while
`Settings.from_env` reads an environment, so a new setting that is not documented
fails this test.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
import yaml

from server.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
REQUIRED = {
    "STRIPE_SECRET_KEY": "sk_test_docs_0123456789abcdef",
    "STRIPE_PUBLISHABLE_KEY": "pk_test_docs_0123456789abcdef",
    "STRIPE_WEBHOOK_SECRET": "whsec_docs_0123456789abcdef",
    "JWT_SECRET": "docs-test-secret-0123456789-abcdefghijkl",
}
#: Setting fields whose variable is not simply the field's name in capitals.
FIELD_OF = {"STRIPE_WEBHOOK_SECRET": "stripe_webhook_secrets"}


class RecordingEnv(Mapping[str, str]):
    """An environment that remembers every name it was asked for."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = dict(values)
        self.asked: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        return self.values[key]

    def get(self, key: str, default: object = None) -> object:  # type: ignore[override]
        self.asked.add(key)
        return self.values.get(key, default)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self.asked.add(key)
        return key in self.values

    def __iter__(self) -> Iterator[str]:
        return iter(self.values)

    def __len__(self) -> int:
        return len(self.values)


def _variables_read() -> tuple[set[str], Settings]:
    env = RecordingEnv(REQUIRED)
    settings = Settings.from_env(env)
    return env.asked, settings


def _section(text: str, heading: str) -> str:
    start = text.index(heading)
    level = heading.split(" ", 1)[0]
    end = text.find(f"\n{level} ", start + len(heading))
    return text[start : end if end != -1 else len(text)]


def _table_rows(section: str) -> list[tuple[list[str], str]]:
    """(variable names in the first cell, the default cell) of each table row."""
    rows = []
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        rows.append((re.findall(r"`([A-Z][A-Z0-9_]+)`", cells[0]), cells[1]))
    return rows


def _documented(path: str, heading: str) -> dict[str, str]:
    """Each variable of the table under `heading` -> its default, as the table says it."""
    rows = _table_rows(_section((ROOT / path).read_text(), heading))
    names = [name for row_names, _ in rows for name in row_names]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    assert not duplicates, f"listed more than once in {path}: {duplicates}"
    documented: dict[str, str] = {}
    for row_names, default in rows:
        defaults = re.findall(r"`([^`]*)`", default)
        for index, name in enumerate(row_names):
            # `HOST`, `PORT` | `127.0.0.1`, `8080`: the n-th name has the n-th default.
            documented[name] = (
                f"`{defaults[index]}`"
                if len(row_names) > 1 and len(defaults) == len(row_names)
                else default
            )
    return documented


def _contract_and_knobs() -> tuple[set[str], set[str]]:
    asked, _ = _variables_read()
    knobs = {name for name in asked if name.startswith("AUCTION_")}
    return asked - knobs, knobs


def _matches(documented: str, value: object) -> bool:
    """A documented default (the first backquoted value of its cell) against the code's."""
    if value is None or value == ():
        return documented.startswith(("unset", "empty"))
    token = re.match(r"`([^`]*)`", documented)
    if token is None:
        return False
    text = token.group(1)
    if isinstance(value, bool):
        return text == str(value).lower()
    if isinstance(value, tuple):
        return text.split(",") == [str(part) for part in value]
    if isinstance(value, Path):
        return Path(text) == value
    if isinstance(value, int | float):
        return float(text) == value
    return text == value


def test_every_variable_the_server_reads_is_in_the_readme_configuration_table():
    contract, _ = _contract_and_knobs()
    assert {"DATABASE_URL", "JWT_SECRET", "TAX_ON", "AUTO_CHARGE"} <= contract  # the recorder works
    documented = _documented("README.md", "## Configuration")
    assert sorted(contract - documented.keys()) == [], "missing from README's configuration table"
    assert sorted(documented.keys() - contract) == [], "README documents a variable no code reads"


def test_every_knob_outside_the_contract_is_in_the_operations_table():
    _, knobs = _contract_and_knobs()
    assert "AUCTION_MAX_CONNECTIONS_PER_IP" in knobs
    documented = _documented("docs/OPERATIONS.md", "### Knobs outside the contract")
    assert sorted(knobs - documented.keys()) == [], "missing from docs/OPERATIONS.md"
    assert sorted(documented.keys() - knobs) == [], "OPERATIONS documents a knob no code reads"


def test_the_documented_defaults_are_the_codes():
    _, settings = _variables_read()
    documented = {
        **_documented("README.md", "## Configuration"),
        **_documented("docs/OPERATIONS.md", "### Knobs outside the contract"),
    }
    wrong = {}
    for name, default in documented.items():
        if default == "required":
            continue
        field = FIELD_OF.get(name, name.removeprefix("AUCTION_").lower())
        value = getattr(settings, field)
        if not _matches(default, value):
            wrong[name] = (default, value)
    assert wrong == {}


@pytest.mark.parametrize("name", sorted(_contract_and_knobs()[0]))
def test_every_setting_is_in_the_example_env(name):
    """deploy/example.env names every setting: the required ones set, the rest as comments."""
    example = (ROOT / "deploy" / "example.env").read_text()
    assert re.search(rf"^(# )?{name}=", example, re.M), name


def test_compose_passes_every_optional_setting_of_the_example_env_to_the_servers():
    """A setting put in .env does nothing unless docker-compose.yml hands it to the servers."""
    example = (ROOT / "deploy" / "example.env").read_text()
    optional = example.split("# Optional settings", 1)[1].split("# Set by docker-compose.yml", 1)[0]
    names = re.findall(r"^# ([A-Z][A-Z0-9_]+)=", optional, re.M)
    assert "AUTO_CHARGE" in names
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    for server in ("server1", "server2"):
        environment = services[server]["environment"]
        assert sorted(set(names) - environment.keys()) == [], server


def test_the_readme_names_every_webhook_event_the_server_applies():
    """Operators subscribe a Stripe endpoint to what the README lists: it must be complete."""
    from server.payments.webhooks import HANDLERS

    deployment = _section((ROOT / "README.md").read_text(), "## Deployment")
    paragraph = deployment.split("/api/payments/webhook", 1)[1].split("\n\n", 1)[0]
    listed = set(re.findall(r"`([a-z_]+\.[a-z_.]+)`", paragraph))
    assert sorted(HANDLERS.keys() - listed) == [], "add them to README's Deployment section"
    assert sorted(listed - HANDLERS.keys()) == [], "the README lists events no handler applies"

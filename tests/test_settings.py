"""Configuration fails fast, with one line naming the variable."""

from __future__ import annotations

import pytest

from server.__main__ import main
from server.settings import Settings, SettingsError
from tests.support.services import ROOT

REQUIRED = {
    "STRIPE_SECRET_KEY": "sk_test_" + "x" * 20,
    "STRIPE_PUBLISHABLE_KEY": "pk_test_" + "x" * 20,
    "STRIPE_WEBHOOK_SECRET": "whsec_" + "x" * 20,
    "JWT_SECRET": "j" * 32,
}


def test_defaults_match_the_spec():
    settings = Settings.from_env(REQUIRED)
    assert settings.database_url is None
    assert str(settings.data_dir) == "var"
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)
    assert settings.redis_url is None
    assert settings.payment_window_seconds == 600
    assert settings.max_payment_attempts == 3
    assert settings.buyer_premium_bps == 0
    assert (settings.tax_rate_bps, settings.tax_on) == (0, "premium")
    assert settings.anti_sniping_window_seconds == 60
    assert settings.anti_sniping_extension_seconds == 60
    assert settings.expiry_policy == "next_bidder"
    assert settings.nonpayment_strikes == 2
    assert settings.smtp_url is None
    assert settings.cors_origins == ()
    assert settings.db_pool_size == 10


def test_every_variable_is_read():
    env = {
        **REQUIRED,
        "DATABASE_URL": "postgresql://u@db:5432/app",
        "DATA_DIR": "/tmp/x",
        "HOST": "0.0.0.0",
        "PORT": "9000",
        "REDIS_URL": "redis://r:6379/0",
        "STRIPE_WEBHOOK_SECRET": "whsec_new_secret_1,whsec_old_secret_2",
        "STRIPE_API_BASE": "http://127.0.0.1:8420",
        "JWT_ISSUER": "https://issuer",
        "JWT_AUDIENCE": "auctions",
        "PAYMENT_WINDOW_SECONDS": "30",
        "MAX_PAYMENT_ATTEMPTS": "5",
        "BUYER_PREMIUM_BPS": "1500",
        "TAX_RATE_BPS": "2000",
        "TAX_ON": "both",
        "ANTI_SNIPING_WINDOW_SECONDS": "0",
        "ANTI_SNIPING_EXTENSION_SECONDS": "120",
        "EXPIRY_POLICY": "unsold",
        "NONPAYMENT_STRIKES": "3",
        "SMTP_URL": "smtp://u:p@mail:25",
        "CORS_ORIGINS": "https://a.example, https://b.example/",
        "DB_POOL_SIZE": "25",
    }
    s = Settings.from_env(env)
    assert s.database_url == "postgresql+asyncpg://u@db:5432/app"
    assert s.stripe_webhook_secrets == ("whsec_new_secret_1", "whsec_old_secret_2")
    assert (s.host, s.port, s.payment_window_seconds, s.max_payment_attempts) == (
        "0.0.0.0",
        9000,
        30,
        5,
    )
    assert (s.buyer_premium_bps, s.anti_sniping_window_seconds) == (1500, 0)
    assert (s.tax_rate_bps, s.tax_on) == (2000, "both")
    assert (s.anti_sniping_extension_seconds, s.expiry_policy, s.nonpayment_strikes) == (
        120,
        "unsold",
        3,
    )
    assert s.cors_origins == ("https://a.example", "https://b.example")
    assert (s.jwt_issuer, s.jwt_audience) == ("https://issuer", "auctions")
    assert s.db_pool_size == 25


@pytest.mark.parametrize("missing", sorted(REQUIRED))
def test_a_missing_secret_names_the_variable(missing):
    env = {k: v for k, v in REQUIRED.items() if k != missing}
    with pytest.raises(SettingsError) as info:
        Settings.from_env(env)
    assert missing in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORT", "eighty"),
        ("PORT", "70000"),
        ("PAYMENT_WINDOW_SECONDS", "0"),
        ("PAYMENT_WINDOW_SECONDS", "1.5"),
        ("MAX_PAYMENT_ATTEMPTS", "-1"),
        ("BUYER_PREMIUM_BPS", "-5"),
        ("TAX_RATE_BPS", "-1"),
        ("TAX_RATE_BPS", "7.5"),
        ("DB_POOL_SIZE", "0"),
        ("DB_POOL_SIZE", "ten"),
        ("TAX_RATE_BPS", "100001"),
        ("TAX_ON", "total"),
        ("EXPIRY_POLICY", "auction_again"),
        ("NONPAYMENT_STRIKES", "x"),
        ("DATABASE_URL", "mysql://db/app"),
        ("REDIS_URL", "http://redis"),
        ("SMTP_URL", "mail.example.com"),
        ("STRIPE_API_BASE", "ftp://x"),
        ("CORS_ORIGINS", "example.com"),
        ("STRIPE_SECRET_KEY", "pk_test_wrong_kind_of_key"),
        ("STRIPE_WEBHOOK_SECRET", "whsec_ok_secret_1,nope"),
        ("JWT_SECRET", "changeme"),
        ("JWT_SECRET", "short"),
    ],
)
def test_a_malformed_variable_names_itself(name, value):
    with pytest.raises(SettingsError) as info:
        Settings.from_env({**REQUIRED, name: value})
    assert name in str(info.value)
    assert "\n" not in str(info.value)


def test_dev_mode_generates_missing_secrets():
    settings = Settings.from_env({}, dev=True)
    assert settings.stripe_secret_key.startswith("sk_")
    assert settings.stripe_webhook_secret.startswith("whsec_")
    assert len(settings.jwt_secret) >= 32
    assert set(settings.extra) == set(REQUIRED)


def test_cli_refuses_to_start_with_one_line(monkeypatch, capsys):
    for name in REQUIRED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STRIPE_SECRET_KEY", REQUIRED["STRIPE_SECRET_KEY"])
    assert main(["serve"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "STRIPE_PUBLISHABLE_KEY" in err


def _example_env() -> dict[str, str]:
    values: dict[str, str] = {}
    for line in (ROOT / "deploy" / "example.env").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_every_secret_as_the_example_file_ships_it_is_refused(name):
    shipped = _example_env()
    assert name in shipped, "deploy/example.env lists every required secret"
    with pytest.raises(SettingsError) as info:
        Settings.from_env({**REQUIRED, name: shipped[name]})
    message = str(info.value)
    assert name in message and "placeholder" in message and "\n" not in message


def test_the_example_database_password_is_refused():
    password = _example_env()["POSTGRES_PASSWORD"]
    # What docker compose builds from it.
    url = f"postgresql+asyncpg://auction:{password}@postgres:5432/auction"
    with pytest.raises(SettingsError) as info:
        Settings.from_env({**REQUIRED, "DATABASE_URL": url})
    assert "DATABASE_URL" in str(info.value)
    Settings.from_env({**REQUIRED, "DATABASE_URL": "postgresql://auction:s3cr3t-Xq9@db/auction"})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("STRIPE_SECRET_KEY", "sk_test_changeme_please_1234"),
        ("STRIPE_WEBHOOK_SECRET", "whsec_your_secret_here_1234"),
        ("JWT_SECRET", "PLACEHOLDER-placeholder-placeholder-x"),
    ],
)
def test_other_obvious_placeholders_are_refused(name, value):
    with pytest.raises(SettingsError) as info:
        Settings.from_env({**REQUIRED, name: value})
    assert name in str(info.value)


def test_starting_with_the_example_file_stops_with_one_line(monkeypatch, capsys):
    for name, value in _example_env().items():
        monkeypatch.setenv(name, value)
    assert main(["serve"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "STRIPE_SECRET_KEY" in err and "placeholder" in err


def test_stripe_js_url_defaults_to_stripes_own_and_can_be_set():
    assert Settings.from_env(REQUIRED).stripe_js_url == "https://js.stripe.com/v3/"
    local = "http://localhost:8420/js.stripe.com/v3/"
    assert Settings.from_env({**REQUIRED, "STRIPE_JS_URL": local}).stripe_js_url == local
    with pytest.raises(SettingsError) as info:
        Settings.from_env({**REQUIRED, "STRIPE_JS_URL": "js.stripe.com"})
    assert "STRIPE_JS_URL" in str(info.value)

"""Typed configuration read from the environment (SPEC section 4).

`Settings.from_env()` fails fast: a missing or malformed variable raises
`SettingsError` whose message is one line naming the variable.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

ExpiryPolicy = Literal["next_bidder", "unsold"]
#: What TAX_RATE_BPS is charged on: the premium, the hammer, or both.
TaxBase = Literal["premium", "hammer", "both"]
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

_PLACEHOLDERS = {"changeme", "change-me", "secret", "xxx", "todo", "placeholder"}
#: Pieces of the values `deploy/example.env` ships with (and of other obvious placeholders):
#: a secret containing one was copied, not chosen, and anyone can read it there.
_PLACEHOLDER_MARKERS = (
    "replace_me",
    "replace-me",
    "replaceme",
    "changeme",
    "change_me",
    "change-me",
    "your_key",
    "your_secret",
    "your-secret",
    "placeholder",
)

#: Where browsers load Stripe.js from unless `STRIPE_JS_URL` says otherwise.
STRIPE_JS_DEFAULT = "https://js.stripe.com/v3/"


def is_placeholder(value: str) -> bool:
    """A value nobody chose: a known placeholder word, or one from `deploy/example.env`."""
    lowered = value.lower()
    return lowered in _PLACEHOLDERS or any(marker in lowered for marker in _PLACEHOLDER_MARKERS)


class SettingsError(ValueError):
    """A configuration variable is missing or malformed."""


@dataclass(frozen=True, slots=True)
class Settings:
    stripe_secret_key: str
    stripe_publishable_key: str
    stripe_webhook_secrets: tuple[str, ...]
    jwt_secret: str
    database_url: str | None = None
    data_dir: Path = Path("./var")
    host: str = "127.0.0.1"
    port: int = 8080
    redis_url: str | None = None
    #: Server processes `serve` runs on one port (SO_REUSEPORT); more than one needs Redis.
    workers: int = 1
    stripe_api_base: str | None = None
    stripe_js_url: str = STRIPE_JS_DEFAULT
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    payment_window_seconds: int = 600
    max_payment_attempts: int = 3
    buyer_premium_bps: int = 0
    #: Tax on per_sale invoices, in basis points of what `tax_on` names (SPEC 15).
    tax_rate_bps: int = 0
    tax_on: TaxBase = "premium"
    anti_sniping_window_seconds: int = 60
    anti_sniping_extension_seconds: int = 60
    expiry_policy: ExpiryPolicy = "next_bidder"
    nonpayment_strikes: int = 2
    #: Bids (and buy-now) need a usable default card on file (SPEC section 14).
    require_card_to_bid: bool = False
    #: At close, a winner with a default card is charged off-session first.
    auto_charge: bool = True
    smtp_url: str | None = None
    #: Where people reach the site, for links in e-mails (default http://HOST:PORT).
    public_url: str | None = None
    cors_origins: tuple[str, ...] = ()
    log_level: str = "INFO"
    #: `/metrics` wants `Authorization: Bearer <metrics_token>` when set.
    metrics_token: str | None = None
    #: A separate listener for `/metrics` (then it is no longer on `port`).
    metrics_port: int | None = None
    metrics_host: str | None = None
    dev_mode: bool = False
    # Tuning knobs that are not part of the public contract; tests shorten them.
    sweep_interval_seconds: float = 1.0
    stripe_retry_base_seconds: float = 2.0
    reconcile_after_seconds: int = 120
    reconcile_interval_seconds: float = 30.0
    bid_rate_per_second: float = 10.0
    bid_rate_burst: int = 20
    outbox_interval_seconds: float = 1.0
    stripe_timeout_seconds: float = 15.0
    stripe_create_lease_seconds: float = 30.0
    #: Timeout of Stripe calls made by background jobs (a buyer's request waits longer).
    stripe_background_timeout_seconds: float = 5.0
    #: Cap of the exponential backoff between retries of one Stripe request.
    stripe_retry_max_seconds: float = 300.0
    max_request_bytes: int = 1024 * 1024
    #: The largest lot image a seller may upload (`MEDIA_MAX_BYTES`).
    media_max_bytes: int = 10 * 1024 * 1024
    socketio_channel: str = "auction-socketio"
    #: The longest wait between two attempts to re-subscribe to Redis.
    redis_retry_max_seconds: float = 2.0
    email_retry_base_seconds: float = 5.0
    #: A connection must complete its first request's headers within this time.
    http_header_timeout_seconds: float = 10.0
    #: A kept-alive connection with no request for this long is closed (aiohttp's keepalive).
    http_idle_timeout_seconds: float = 15.0
    #: Connections one address may hold at once; 0 turns the cap off (behind a proxy).
    max_connections_per_ip: int = 256
    #: How long a stopping server waits for in-flight requests and jobs.
    shutdown_timeout_seconds: float = 10.0
    #: Bytes a websocket may have waiting in its transport before a broadcast drops it
    #: (server.realtime.fanout).
    socket_max_buffer_bytes: int = 256 * 1024
    #: The garbage collector's thresholds (`gc.set_threshold`); see docs/BENCHMARKS.md.
    gc_thresholds: tuple[int, int, int] = (50_000, 20, 100)
    #: Collect and freeze the heap once started (server.core.collector). The test suite turns
    #: it off: it starts an app per test in one long-lived process, whose whole heap each
    #: start-up's full collection would walk again (~0.1-0.2 s a test).
    gc_freeze: bool = True
    #: Database connections a process keeps open; a burst may open as many again, closed
    #: after use (server.core.db.make_engine).
    db_pool_size: int = 10
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def site_url(self) -> str:
        """The site's address for links in e-mails: PUBLIC_URL, else this server's own."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def stripe_webhook_secret(self) -> str:
        return self.stripe_webhook_secrets[0]

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, dev: bool = False) -> Settings:
        """Build settings from `env` (default `os.environ`).

        With `dev=True`, missing secrets are generated (and reported by the caller)
        instead of refusing to start.
        """
        env = os.environ if env is None else env
        reader = _Reader(env, dev=dev)
        settings = cls(
            stripe_secret_key=reader.secret("STRIPE_SECRET_KEY", prefix="sk_"),
            stripe_publishable_key=reader.secret("STRIPE_PUBLISHABLE_KEY", prefix="pk_"),
            stripe_webhook_secrets=reader.secret_list("STRIPE_WEBHOOK_SECRET", prefix="whsec_"),
            jwt_secret=reader.secret("JWT_SECRET", min_length=32),
            database_url=reader.database_url(),
            data_dir=Path(reader.text("DATA_DIR", "./var")),
            host=reader.text("HOST", "127.0.0.1"),
            port=reader.integer("PORT", 8080, minimum=0, maximum=65535),
            redis_url=reader.redis_url(),
            stripe_api_base=reader.url("STRIPE_API_BASE", schemes=("http", "https")),
            stripe_js_url=reader.url("STRIPE_JS_URL", schemes=("http", "https"))
            or STRIPE_JS_DEFAULT,
            jwt_issuer=reader.optional("JWT_ISSUER"),
            jwt_audience=reader.optional("JWT_AUDIENCE"),
            payment_window_seconds=reader.integer("PAYMENT_WINDOW_SECONDS", 600, minimum=1),
            max_payment_attempts=reader.integer("MAX_PAYMENT_ATTEMPTS", 3, minimum=1),
            buyer_premium_bps=reader.integer("BUYER_PREMIUM_BPS", 0, minimum=0, maximum=100_000),
            tax_rate_bps=reader.integer("TAX_RATE_BPS", 0, minimum=0, maximum=100_000),
            tax_on=reader.choice("TAX_ON", "premium", ("premium", "hammer", "both")),  # type: ignore[arg-type]
            anti_sniping_window_seconds=reader.integer(
                "ANTI_SNIPING_WINDOW_SECONDS", 60, minimum=0
            ),
            anti_sniping_extension_seconds=reader.integer(
                "ANTI_SNIPING_EXTENSION_SECONDS", 60, minimum=0
            ),
            expiry_policy=reader.choice("EXPIRY_POLICY", "next_bidder", ("next_bidder", "unsold")),  # type: ignore[arg-type]
            nonpayment_strikes=reader.integer("NONPAYMENT_STRIKES", 2, minimum=1),
            require_card_to_bid=reader.boolean("REQUIRE_CARD_TO_BID", False),
            auto_charge=reader.boolean("AUTO_CHARGE", True),
            smtp_url=reader.url("SMTP_URL", schemes=("smtp", "smtps")),
            public_url=reader.url("PUBLIC_URL", schemes=("http", "https")),
            cors_origins=reader.origins("CORS_ORIGINS"),
            log_level=reader.choice("LOG_LEVEL", "INFO", LOG_LEVELS, upper=True),
            metrics_token=reader.optional_secret("METRICS_TOKEN", min_length=16),
            metrics_port=reader.metrics_port(),
            metrics_host=reader.optional("METRICS_HOST"),
            socket_max_buffer_bytes=reader.integer(
                "SOCKET_MAX_BUFFER_BYTES", 256 * 1024, minimum=4096
            ),
            gc_thresholds=reader.gc_thresholds("GC_THRESHOLDS", (50_000, 20, 100)),
            workers=reader.integer("WORKERS", 1, minimum=1, maximum=64),
            db_pool_size=reader.integer("DB_POOL_SIZE", 10, minimum=1, maximum=500),
            media_max_bytes=reader.integer(
                "MEDIA_MAX_BYTES", 10 * 1024 * 1024, minimum=1024, maximum=100 * 1024 * 1024
            ),
            dev_mode=dev,
            extra=reader.generated,
        )
        if settings.workers > 1 and settings.redis_url is None:
            raise SettingsError(
                "WORKERS > 1 needs REDIS_URL: the processes share Socket.IO events through Redis"
            )
        if settings.workers > 1 and settings.port == 0:
            raise SettingsError("WORKERS > 1 needs a fixed PORT: every process binds the same one")
        if settings.workers > 1 and settings.metrics_port is not None:
            raise SettingsError(
                "METRICS_PORT serves one process's counters and cannot be shared by WORKERS > 1:"
                " use METRICS_TOKEN, or one replica per port"
            )
        return settings.with_overrides(**_tuning(reader))


def _tuning(reader: _Reader) -> dict[str, object]:
    """Knobs outside the contract (`AUCTION_*`), for tests and operators who need them.

    Tests that run the server as a subprocess shorten intervals here, and use a
    Redis channel of their own so parallel runs do not hear each other.
    """
    knobs: dict[str, object] = {}
    for name in (
        "sweep_interval_seconds",
        "outbox_interval_seconds",
        "reconcile_interval_seconds",
        "stripe_retry_base_seconds",
        "stripe_retry_max_seconds",
        "stripe_background_timeout_seconds",
        "shutdown_timeout_seconds",
        "redis_retry_max_seconds",
        "http_header_timeout_seconds",
        "http_idle_timeout_seconds",
    ):
        value = reader.number(f"AUCTION_{name.upper()}")
        if value is not None:
            knobs[name] = value
    after = reader.number("AUCTION_RECONCILE_AFTER_SECONDS")
    if after is not None:
        knobs["reconcile_after_seconds"] = int(after)
    per_ip = reader.number("AUCTION_MAX_CONNECTIONS_PER_IP")
    if per_ip is not None:
        knobs["max_connections_per_ip"] = int(per_ip)
    channel = reader.optional("AUCTION_SOCKETIO_CHANNEL")
    if channel is not None:
        knobs["socketio_channel"] = channel
    return knobs


class _Reader:
    def __init__(self, env: Mapping[str, str], *, dev: bool) -> None:
        self.env = env
        self.dev = dev
        self.generated: dict[str, str] = {}

    def optional(self, name: str) -> str | None:
        value = self.env.get(name, "").strip()
        return value or None

    def text(self, name: str, default: str) -> str:
        return self.optional(name) or default

    def secret(self, name: str, *, prefix: str = "", min_length: int = 8) -> str:
        value = self.optional(name)
        if value is None:
            if not self.dev:
                raise SettingsError(f"{name} is required but not set")
            value = prefix + ("dev_" if prefix else "") + secrets.token_hex(24)
            self.generated[name] = value
        self._check_secret(name, value, prefix=prefix, min_length=min_length)
        return value

    def secret_list(self, name: str, *, prefix: str) -> tuple[str, ...]:
        raw = self.optional(name)
        if raw is None:
            return (self.secret(name, prefix=prefix),)
        values = tuple(part.strip() for part in raw.split(",") if part.strip())
        if not values:
            raise SettingsError(f"{name} must list at least one secret")
        for value in values:
            self._check_secret(name, value, prefix=prefix, min_length=8)
        return values

    @staticmethod
    def _check_secret(name: str, value: str, *, prefix: str, min_length: int) -> None:
        if is_placeholder(value):
            raise SettingsError(
                f"{name} is a placeholder (as in deploy/example.env); set a real secret"
            )
        if prefix and not value.startswith(prefix):
            raise SettingsError(f"{name} must start with {prefix!r}")
        if len(value) < min_length:
            raise SettingsError(f"{name} is too short (at least {min_length} characters)")

    def integer(
        self, name: str, default: int, *, minimum: int | None = None, maximum: int | None = None
    ) -> int:
        raw = self.optional(name)
        if raw is None:
            return default
        try:
            value = int(raw, 10)
        except ValueError:
            raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
        if minimum is not None and value < minimum:
            raise SettingsError(f"{name} must be at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise SettingsError(f"{name} must be at most {maximum}, got {value}")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        raw = self.optional(name)
        if raw is None:
            return default
        value = raw.lower()
        if value in ("1", "true", "yes", "on"):
            return True
        if value in ("0", "false", "no", "off"):
            return False
        raise SettingsError(f"{name} must be true or false, got {raw!r}")

    def number(self, name: str) -> float | None:
        raw = self.optional(name)
        if raw is None:
            return None
        try:
            value = float(raw)
        except ValueError:
            raise SettingsError(f"{name} must be a number, got {raw!r}") from None
        if not 0 <= value < 86_400:
            raise SettingsError(f"{name} must be between 0 and 86400, got {raw}")
        return value

    def gc_thresholds(self, name: str, default: tuple[int, int, int]) -> tuple[int, int, int]:
        raw = self.optional(name)
        if raw is None:
            return default
        parts = [part.strip() for part in raw.split(",")]
        if len(parts) != 3 or not all(part.isdigit() for part in parts):
            raise SettingsError(f"{name} must be three integers like 50000,20,100, got {raw!r}")
        first, second, third = (int(part) for part in parts)
        if first < 100 or second < 1 or third < 1:
            raise SettingsError(f"{name} must be at least 100,1,1, got {raw!r}")
        return first, second, third

    def choice(
        self, name: str, default: str, choices: tuple[str, ...], *, upper: bool = False
    ) -> str:
        value = self.text(name, default)
        if upper:
            value = value.upper()
        if value not in choices:
            raise SettingsError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
        return value

    def url(self, name: str, *, schemes: tuple[str, ...]) -> str | None:
        value = self.optional(name)
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in schemes or not (parts.netloc or parts.path):
            raise SettingsError(f"{name} must be a {'/'.join(schemes)} URL, got a malformed value")
        return value

    def optional_secret(self, name: str, *, min_length: int) -> str | None:
        value = self.optional(name)
        if value is not None:
            self._check_secret(name, value, prefix="", min_length=min_length)
        return value

    def redis_url(self) -> str | None:
        value = self.url("REDIS_URL", schemes=("redis", "rediss", "unix"))
        if value is not None and importlib.util.find_spec("redis") is None:
            raise SettingsError(
                "REDIS_URL is set but the redis package is not installed: "
                "pip install 'auction-payment-server[redis]'"
            )
        return value

    def metrics_port(self) -> int | None:
        if self.optional("METRICS_PORT") is None:
            return None
        port = self.integer("METRICS_PORT", 0, minimum=1, maximum=65535)
        if port == self.integer("PORT", 8080, minimum=0, maximum=65535):
            raise SettingsError("METRICS_PORT must differ from PORT")
        return port

    def database_url(self) -> str | None:
        value = self.optional("DATABASE_URL")
        if value is None:
            return None
        if value.startswith("postgresql://") or value.startswith("postgres://"):
            value = "postgresql+asyncpg://" + value.split("://", 1)[1]
        parts = urlsplit(value)
        if parts.scheme != "postgresql+asyncpg" or not parts.netloc:
            raise SettingsError("DATABASE_URL must be a postgresql+asyncpg://user@host/db URL")
        if parts.password and is_placeholder(parts.password):
            raise SettingsError(
                "DATABASE_URL has a placeholder password (as in deploy/example.env); set a real one"
            )
        return value

    def origins(self, name: str) -> tuple[str, ...]:
        raw = self.optional(name)
        if raw is None:
            return ()
        origins = tuple(part.strip().rstrip("/") for part in raw.split(",") if part.strip())
        for origin in origins:
            if origin == "*":
                continue
            parts = urlsplit(origin)
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.path:
                raise SettingsError(f"{name} must list origins like https://example.com")
        return origins

"""Identity from JWTs (SPEC section 3): HS256 only, `exp` required."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import jwt

from server.core.errors import Unauthorized
from server.settings import Settings
from server.users.models import ROLES

ALGORITHM = "HS256"


@dataclass(frozen=True, slots=True)
class Identity:
    sub: str
    role: str = "bidder"
    email: str | None = None
    name: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def decode_token(token: str, settings: Settings) -> Identity:
    """Validate `token` and return who it names; any flaw raises `Unauthorized`."""
    return identity_from_claims(token_claims(token, settings))


def token_claims(token: str, settings: Settings) -> dict[str, Any]:
    """The claims of a valid `token`; any flaw raises `Unauthorized`."""
    if not isinstance(token, str) or not token:
        raise Unauthorized("Missing token")
    options: dict[str, Any] = {"require": ["exp", "sub"]}
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret,
            algorithms=[ALGORITHM],
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            options={**options, "verify_aud": settings.jwt_audience is not None},  # type: ignore[arg-type]
            leeway=5,
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("Token has expired") from None
    except jwt.InvalidIssuerError:
        raise Unauthorized("Token issuer is not accepted") from None
    except jwt.InvalidAudienceError:
        raise Unauthorized("Token audience is not accepted") from None
    except jwt.MissingRequiredClaimError as exc:
        raise Unauthorized(f"Token lacks the {exc.claim!r} claim") from None
    except jwt.InvalidTokenError:
        raise Unauthorized("Token is not valid") from None
    return claims


def identity_from_claims(claims: dict[str, Any]) -> Identity:
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub.strip() or len(sub) > 255:
        raise Unauthorized("Token 'sub' must be a non-empty string")
    role = claims.get("role", "bidder")
    if role not in ROLES:
        raise Unauthorized("Token 'role' must be bidder, seller or admin")
    email = claims.get("email")
    name = claims.get("name")
    if email is not None and not isinstance(email, str):
        raise Unauthorized("Token 'email' must be a string")
    if name is not None and not isinstance(name, str):
        raise Unauthorized("Token 'name' must be a string")
    return Identity(sub=sub, role=role, email=email, name=name)


def issue_token(
    settings: Settings,
    *,
    sub: str,
    role: str = "bidder",
    email: str | None = None,
    name: str | None = None,
    ttl_seconds: int = 3600,
    auth_time: int | None = None,
) -> str:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    now = int(time.time())
    claims: dict[str, Any] = {"sub": sub, "role": role, "iat": now, "exp": now + ttl_seconds}
    if email:
        claims["email"] = email
    if name:
        claims["name"] = name
    if auth_time is not None:
        claims["auth_time"] = auth_time
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    return jwt.encode(claims, settings.jwt_secret, algorithm=ALGORITHM)


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization header must be 'Bearer <token>'")
    return token.strip()

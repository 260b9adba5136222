"""Short-lived signed links: a page a browser opens with a plain `<a href>`, no header.

A receipt or an invoice needs its viewer, and a link followed by the browser
carries no `Authorization` header. So the viewer asks for a link while signed
in; the link holds a token naming who asked, what (kind and id) and until when,
signed with a key derived from `JWT_SECRET` for this purpose only: a link token
is never a bearer token, nor the reverse. Opening the link re-checks the access
rules as that viewer, so a link is no wider than the viewer's own access, and
it lapses after `LINK_TTL_SECONDS`.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import UTC, datetime
from typing import Any

import jwt

from server.core.auth import ALGORITHM, Identity
from server.core.errors import AppError
from server.settings import Settings

LINK_TTL_SECONDS = 600
_PURPOSE = b"signed-links-v1"


class LinkRefused(AppError):
    status = 403
    code = "link_invalid"
    default_message = "This link is not valid: open it again from your account page"


def _key(settings: Settings) -> bytes:
    return hmac.new(settings.jwt_secret.encode(), _PURPOSE, hashlib.sha256).digest()


def sign_link(
    settings: Settings, *, kind: str, object_id: int, viewer: Identity, now: float | None = None
) -> tuple[str, datetime]:
    """A token for `viewer` to open `kind` `object_id`, and when it lapses."""
    issued = int(now if now is not None else time.time())
    expires = issued + LINK_TTL_SECONDS
    claims: dict[str, Any] = {
        "sub": viewer.sub,
        "role": viewer.role,
        "kind": kind,
        "id": object_id,
        "iat": issued,
        "exp": expires,
    }
    token = jwt.encode(claims, _key(settings), algorithm=ALGORITHM)
    return token, datetime.fromtimestamp(expires, UTC)


def open_link(settings: Settings, *, kind: str, object_id: int, token: str) -> Identity:
    """The viewer the token was signed for, if it is for this object and still valid."""
    try:
        claims = jwt.decode(
            token,
            _key(settings),
            algorithms=[ALGORITHM],
            options={"require": ["exp", "sub", "kind", "id"]},
        )
    except jwt.ExpiredSignatureError:
        raise LinkRefused(
            "This link has expired: open it again from your account page", code="link_expired"
        ) from None
    except jwt.PyJWTError:
        raise LinkRefused() from None
    if claims.get("kind") != kind or claims.get("id") != object_id:
        raise LinkRefused()
    sub, role = claims.get("sub"), claims.get("role")
    if not isinstance(sub, str) or not isinstance(role, str):
        raise LinkRefused()
    return Identity(sub=sub, role=role)

"""Users as admins see them, and the demo page's sign-in."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field

from server.contract.base import Contract, Resource, matching
from server.contract.query import Query
from server.contract.statuses import Role


class User(Resource):
    sub: str
    role: Role
    email: str | None
    name: str | None
    strikes: Annotated[int, Field(description="Expired payment windows counted against the user")]
    suspended: Annotated[bool, Field(description="Too many strikes to bid")]
    suspension_lifted_at: datetime | None
    created_at: datetime


class Me(User):
    """`GET /api/me`: the caller, with the strike rule in words."""

    nonpayment_strikes: Annotated[
        int, Field(description="Strikes at which a user may no longer bid (NONPAYMENT_STRIKES)")
    ]
    strikes_explained: Annotated[
        str, Field(description="What strikes are and where the caller stands, in words")
    ]


class RefreshedToken(Resource):
    """`POST /api/auth/refresh`: a fresh token for the same sign-in."""

    token: Annotated[str, Field(description="Use it instead of the old one from now on")]
    expires_in: Annotated[int, Field(description="Seconds it is valid for")]
    expires_at: datetime


class UserList(Resource):
    items: Annotated[list[User], Field(description="Most strikes first, at most `limit`")]


class AdminUsersQuery(Query):
    suspended: Annotated[
        bool | None, Field(description="true: only the users who may not bid for strikes")
    ] = None
    limit: Annotated[int, Field(ge=1, le=500)] = 100


class DevLoginRequest(Contract):
    """`POST /api/dev/login` (development mode only)."""

    sub: Annotated[
        str,
        Field(max_length=64),
        matching(
            r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$",
            "must be letters, digits and . _ @ - (starting with a letter or digit)",
            description="A demo user's name, or any new one: no password",
        ),
    ]


class DevUser(Resource):
    sub: str
    role: Role
    name: str | None


class DevLogin(Resource):
    token: str
    expires_in: Annotated[int, Field(description="Seconds")]
    user: DevUser


class StripeConfig(Resource):
    publishable_key: str
    js_url: Annotated[str, Field(description="Where the page loads Stripe.js from")]
    stand_in: Annotated[bool, Field(description="True with a local Stripe stand-in")]
    api_base: Annotated[str | None, Field(description="The stand-in, as the browser reaches it")]


class CurrencyDigits(Resource):
    zero_decimal: list[str]
    three_decimal: list[str]


class MediaLimits(Resource):
    max_bytes: Annotated[int, Field(description="The largest image upload (MEDIA_MAX_BYTES)")]


class DemoConfig(Resource):
    """What the demo page needs: public facts only."""

    dev_mode: bool
    stripe: StripeConfig
    currencies: CurrencyDigits
    demo_users: Annotated[list[DevUser], Field(description="Empty unless in dev mode")]
    desk_users: Annotated[
        list[DevUser],
        Field(description="The demo seller and admin for the desks; empty unless in dev mode"),
    ]
    media: MediaLimits

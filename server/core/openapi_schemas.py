"""The schemas of the OpenAPI document (`server.core.openapi`).

Each resource lists the contract's fields (SPEC section 6) as required and
allows more; every field that can be null says so (OpenAPI 3.1: a type list
with "null").
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

MONEY = "An amount in the currency's minor unit (usd 12345 = $123.45, jpy 500 = ¥500)"
TIME: Schema = {"type": "string", "format": "date-time"}
CURRENCY: Schema = {"type": "string", "pattern": "^[a-z]{3}$", "description": "ISO 4217, lowercase"}
LOT_STATUS = ["SCHEDULED", "OPEN", "PENDING_PAYMENT", "SOLD", "UNSOLD", "CANCELED"]
PAYMENT_STATUS = [
    "CREATING",
    "REQUIRES_PAYMENT",
    "REQUIRES_ACTION",
    "PROCESSING",
    "SUCCEEDED",
    "FAILED",
    "EXPIRED",
    "CANCELED",
    "PARTIALLY_REFUNDED",
    "REFUNDED",
]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(type_: str, **extra: Any) -> Schema:
    return {"type": [type_, "null"], **extra}


def integer(description: str = "", **extra: Any) -> Schema:
    return {"type": "integer", **({"description": description} if description else {}), **extra}


def string(**extra: Any) -> Schema:
    return {"type": "string", **extra}


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


def obj(properties: dict[str, Schema], *, required: list[str] | None = None) -> Schema:
    """An object with `properties`; all of them required unless `required` says which."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
    }


def page(item: str) -> Schema:
    return obj({"items": array(ref(item)), "next_cursor": nullable("string")})


LOT_FIELDS: dict[str, Schema] = {
    "id": integer(),
    "title": string(),
    "description": string(),
    "seller_id": string(),
    "currency": CURRENCY,
    "starting_price": integer(MONEY),
    "reserve_met": {"type": "boolean", "description": "The reserve itself stays secret"},
    "bid_increment": nullable("integer", description="Null: the standard increment table"),
    "current_bid": nullable("integer", description=MONEY),
    "bid_count": integer(),
    "high_bidder": nullable("string", description="The high bidder's alias, not their id"),
    "min_next_bid": integer(MONEY),
    "starts_at": TIME,
    "ends_at": TIME,
    "status": string(enum=LOT_STATUS),
    "seq": integer("The lot's event counter: the seq of its latest event"),
}

PAYMENT_INFO_FIELDS: dict[str, Schema] = {
    "payment_id": integer(),
    "lot_id": integer(),
    "status": string(enum=PAYMENT_STATUS),
    "amount": integer("The total to pay. " + MONEY),
    "currency": CURRENCY,
    "breakdown": ref("Breakdown"),
    "client_secret": nullable("string", description="For Stripe.js; sent to the buyer only"),
    "publishable_key": string(),
    "expires_at": nullable("string", format="date-time"),
    "attempt": integer("Which confirmation attempt this is, from 1"),
    "attempts_left": integer(),
}

PAYMENT_FIELDS: dict[str, Schema] = {
    "id": integer(),
    "lot_id": integer(),
    "buyer_id": string(),
    "status": string(enum=PAYMENT_STATUS),
    "amount": integer("The total. " + MONEY),
    "currency": CURRENCY,
    "breakdown": ref("Breakdown"),
    "refunded_amount": integer(MONEY),
    "expires_at": nullable("string", format="date-time"),
    "attempts_left": integer(),
    "disputed": {"type": "boolean"},
    "receipt_url": nullable("string"),
    "paid_at": nullable("string", format="date-time"),
}

RECEIPT_FIELDS: dict[str, Schema] = {
    "receipt_number": string(),
    "payment_id": integer(),
    "status": string(enum=PAYMENT_STATUS),
    "lot_id": integer(),
    "lot_title": string(),
    "currency": CURRENCY,
    "hammer": integer(MONEY),
    "premium": integer(MONEY),
    "total": integer(MONEY),
    "refunded": integer(MONEY),
    "paid_at": TIME,
}

REFUND_FIELDS: dict[str, Schema] = {
    "id": integer(),
    "payment_id": integer(),
    "amount": integer(MONEY),
    "reason": nullable("string"),
    "status": string(),
    "created_at": TIME,
}

USER_FIELDS: dict[str, Schema] = {
    "sub": string(),
    "role": string(enum=["bidder", "seller", "admin"]),
    "email": nullable("string"),
    "name": nullable("string"),
    "strikes": integer("Expired payment windows counted against the user"),
    "suspended": {"type": "boolean", "description": "Too many strikes to bid"},
    "suspension_lifted_at": nullable("string", format="date-time"),
}

SCHEMAS: dict[str, Schema] = {
    "Error": obj(
        {
            "error": obj(
                {
                    "code": string(examples=["validation_error", "lot_locked"]),
                    "message": string(),
                }
            )
        }
    ),
    "Health": obj({"status": string()}, required=["status"]),
    "Breakdown": obj(
        {"hammer": integer(MONEY), "premium": integer(MONEY), "total": integer(MONEY)}
    ),
    "Lot": obj(
        {
            **LOT_FIELDS,
            "has_reserve": {"type": "boolean"},
            "closed_at": nullable("string", format="date-time"),
        },
        required=list(LOT_FIELDS),
    ),
    "LotPage": page("Lot"),
    "NewLot": obj(
        {
            "title": string(minLength=1),
            "description": string(),
            "currency": CURRENCY,
            "starting_price": integer(MONEY, minimum=1),
            "reserve_price": nullable("integer", minimum=1),
            "bid_increment": nullable("integer", minimum=1),
            "starts_at": nullable("string", format="date-time", description="Default: now"),
            "ends_at": TIME,
        },
        required=["title", "currency", "starting_price", "ends_at"],
    ),
    "Bid": obj(
        {
            "id": integer(),
            "lot_id": integer(),
            "amount": integer(MONEY),
            "bidder": nullable("string", description="The bidder's alias"),
            "created_at": TIME,
        },
        required=["id", "lot_id", "amount", "created_at"],
    ),
    "BidList": obj({"items": array(ref("Bid"))}),
    "PaymentInfo": obj(
        {**PAYMENT_INFO_FIELDS, "offer_number": integer()}, required=list(PAYMENT_INFO_FIELDS)
    ),
    "Payment": obj(
        {
            **PAYMENT_FIELDS,
            "offer_number": integer("1 for the winner, 2 for the next bidder offered the lot..."),
            "end_reason": nullable("string"),
            "receipt_number": nullable("string"),
            "card": {
                "type": ["object", "null"],
                "properties": {"brand": nullable("string"), "last4": string()},
            },
            "lot_title": string(),
            "attempts": array(
                obj(
                    {
                        "at": TIME,
                        "outcome": string(),
                        "failure_code": nullable("string"),
                        "failure_message": nullable("string"),
                    },
                    required=["at", "outcome"],
                )
            ),
            "refunds": array(ref("Refund")),
            "created_at": TIME,
        },
        required=list(PAYMENT_FIELDS),
    ),
    "PaymentPage": page("Payment"),
    "Receipt": obj(
        {
            **RECEIPT_FIELDS,
            "formatted": {"type": "object", "additionalProperties": string()},
            "payment_method": {"type": ["object", "null"]},
            "seller": {"type": "object"},
            "buyer": {"type": "object"},
        },
        required=list(RECEIPT_FIELDS),
    ),
    "Refund": obj(
        {**REFUND_FIELDS, "requested_by": nullable("string")}, required=list(REFUND_FIELDS)
    ),
    "RefundRequest": obj(
        {
            "amount": integer("Default: all that is left. " + MONEY, minimum=1),
            "reason": string(maxLength=500),
        },
        required=[],
    ),
    "RefundResult": obj({"refund": ref("Refund"), "payment": ref("Payment")}),
    "User": obj({**USER_FIELDS, "created_at": TIME}, required=list(USER_FIELDS)),
    "DevLogin": obj(
        {
            "token": string(),
            "expires_in": integer("Seconds"),
            "user": obj({"sub": string(), "role": string(), "name": nullable("string")}),
        }
    ),
}

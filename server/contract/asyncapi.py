"""The AsyncAPI 3.0 document of the Socket.IO events, generated from the event models.

Served at `GET /api/asyncapi.json`. The application described is this server:
`receive` operations are the client events it answers (each with its ack as
the reply), `send` operations the events it pushes to a lot room or to one
user's room. Payload schemas come from `model_json_schema`, so they are the
schemas the handlers validate with and the test suite checks every received
event against.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from server.contract.events import CLIENT_EVENTS, SERVER_EVENTS, ErrorAck
from server.core.http import json_response

Schema = dict[str, Any]

ROOT, LOT_ROOM, USER_ROOM = "root", "lotRoom", "userRoom"
REF = "#/components/schemas/{model}"
ERROR_ACK = "error_ack"

DESCRIPTION = """\
Socket.IO (Engine.IO 4, Socket.IO protocol 5) on namespace `/`, path `/socket.io`.
Connect with `auth = {"token": "<jwt>"}` (the same bearer token as the HTTP API);
without one you may watch lots but not bid. Every client event takes an ack
callback and is answered `{"ok": true, ...}` or `{"ok": false, "error": {"code",
"message"}}`; a malformed payload is answered `validation_error` with `fields`
listing every bad field. Amounts are integers in the currency's minor unit.

Each lot event carries the lot's `seq`, which grows by one per lot event; a
snapshot's `seq` is the latest event it includes. A client applies the event at
`seq + 1`, ignores older ones and, on a gap, joins the lot again for a fresh
snapshot. `payment_required` carries a Stripe client secret and goes to its
buyer only.
"""


def _schemas() -> tuple[dict[type[BaseModel], str], Schema]:
    """Every payload model's `$ref` and the shared component schemas."""
    models: list[type[BaseModel]] = [ErrorAck]
    for client_event in CLIENT_EVENTS:
        models += [client_event.payload, client_event.ack]
    for server_event in SERVER_EVENTS:
        models.append(server_event.payload)
    unique = list(dict.fromkeys(models))
    refs, top = models_json_schema([(model, "validation") for model in unique], ref_template=REF)
    by_model = {model: refs[(model, "validation")]["$ref"] for model in unique}
    return by_model, top.get("$defs", {})


def _message(name: str, ref: str, summary: str, **extra: Any) -> Schema:
    return {
        "name": name,
        "title": name,
        "summary": summary,
        "contentType": "application/json",
        "payload": {"$ref": ref},
        **extra,
    }


def _ref(channel: str, message: str) -> Schema:
    return {"$ref": f"#/channels/{channel}/messages/{message}"}


@functools.cache
def document() -> Schema:
    refs, schemas = _schemas()
    root_messages: Schema = {
        ERROR_ACK: _message(ERROR_ACK, refs[ErrorAck], "The ack of any refused client event")
    }
    rooms: dict[str, Schema] = {LOT_ROOM: {}, USER_ROOM: {}}
    operations: Schema = {}
    for client_event in CLIENT_EVENTS:
        ack = f"{client_event.name}_ack"
        root_messages[client_event.name] = _message(
            client_event.name,
            refs[client_event.payload],
            client_event.summary,
            description=(client_event.payload.__doc__ or "").strip(),
        )
        root_messages[ack] = _message(
            ack, refs[client_event.ack], f"The ack of a successful {client_event.name}"
        )
        operations[client_event.name] = {
            "action": "receive",
            "title": client_event.name,
            "summary": client_event.summary,
            "channel": {"$ref": f"#/channels/{ROOT}"},
            "messages": [_ref(ROOT, client_event.name)],
            "reply": {
                "channel": {"$ref": f"#/channels/{ROOT}"},
                "messages": [_ref(ROOT, ack), _ref(ROOT, ERROR_ACK)],
            },
            "x-requires-token": client_event.needs_token,
        }
    for server_event in SERVER_EVENTS:
        channel = LOT_ROOM if server_event.room == "lot" else USER_ROOM
        rooms[channel][server_event.name] = _message(
            server_event.name,
            refs[server_event.payload],
            server_event.summary,
            description=(server_event.payload.__doc__ or "").strip(),
        )
        operations[server_event.name] = {
            "action": "send",
            "title": server_event.name,
            "summary": server_event.summary,
            "channel": {"$ref": f"#/channels/{channel}"},
            "messages": [_ref(channel, server_event.name)],
        }
    return {
        "asyncapi": "3.0.0",
        "id": "urn:auction-payment-server:socketio",
        "info": {
            "title": "Auction payment server: Socket.IO events",
            "version": "1",
            "description": DESCRIPTION,
        },
        "defaultContentType": "application/json",
        "servers": {
            "this": {
                "host": "localhost:8080",
                "pathname": "/socket.io",
                "protocol": "ws",
                "description": "Socket.IO on the same host and port as the HTTP API "
                "(wss behind TLS); `host` is an example",
            }
        },
        "channels": {
            ROOT: {
                "address": "/",
                "title": "Namespace /",
                "description": "Client events and their acks.",
                "messages": root_messages,
            },
            LOT_ROOM: {
                "address": "lot:{lotId}",
                "title": "A lot's room",
                "description": "Joined with `join_lot`; every event carries `lot_id` and `seq`.",
                "parameters": {"lotId": {"description": "The lot's id"}},
                "messages": rooms[LOT_ROOM],
            },
            USER_ROOM: {
                "address": "user:{sub}",
                "title": "One user's room",
                "description": "Joined automatically on a connect with a token.",
                "parameters": {"sub": {"description": "The token's `sub`"}},
                "messages": rooms[USER_ROOM],
            },
        },
        "operations": operations,
        "components": {"schemas": schemas},
    }


async def asyncapi_json(request: web.Request) -> web.Response:
    return json_response(document())


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/asyncapi.json", asyncapi_json)


if __name__ == "__main__":  # `python -m server.contract.asyncapi > asyncapi.json`
    print(json.dumps(document(), indent=2))

"""Every Socket.IO event and ack the suite receives, checked against the AsyncAPI document.

The published schemas allow extra fields (adding one does not break clients);
here every object is closed, so a field the server sends but the document does
not name fails the test as surely as a wrong type does. Only an error body
stays open: refusals may carry details (`min_next_bid`, ...).
"""

from __future__ import annotations

import copy
import functools
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from server.contract.asyncapi import document

#: Schemas whose extra fields are part of the contract (error details).
OPEN_SCHEMAS = frozenset({"ErrorBody"})
URI = "urn:asyncapi"


def _closed(schema: Any) -> Any:
    """`schema` with `additionalProperties: true` turned to false, recursively."""
    if isinstance(schema, dict):
        closed = {key: _closed(value) for key, value in schema.items()}
        if closed.get("additionalProperties") is True and schema.get("title") not in OPEN_SCHEMAS:
            closed["additionalProperties"] = False
        return closed
    if isinstance(schema, list):
        return [_closed(item) for item in schema]
    return schema


@functools.cache
def _contract() -> tuple[Registry[Any], dict[str, str], dict[str, str]]:
    """The registry, and the schema ref of each event the server sends / each ack."""
    doc = document()
    closed = copy.deepcopy(doc)
    closed["components"] = _closed(closed["components"])
    registry: Registry[Any] = Registry().with_resource(URI, Resource.opaque(closed))
    sent: dict[str, str] = {}
    acks: dict[str, str] = {}
    channels = doc["channels"]
    for operation in doc["operations"].values():
        for message_ref in operation["messages"]:
            channel, message = _pointer(message_ref["$ref"])
            body = channels[channel]["messages"][message]
            if operation["action"] == "send":
                sent[body["name"]] = body["payload"]["$ref"]
        reply = operation.get("reply")
        if reply is not None:
            for message_ref in reply["messages"]:
                channel, message = _pointer(message_ref["$ref"])
                body = channels[channel]["messages"][message]
                acks[body["name"]] = body["payload"]["$ref"]
    return registry, sent, acks


def _pointer(ref: str) -> tuple[str, str]:
    _, channels, channel, messages, message = ref.split("/")
    assert (channels, messages) == ("channels", "messages"), ref
    return channel, message


def _problems(ref: str, data: Any) -> list[str]:
    registry, _, _ = _contract()
    validator = Draft202012Validator(
        {"$ref": URI + ref},
        registry=registry,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )
    return [
        f"{'/'.join(str(part) for part in error.absolute_path) or '(root)'}: {error.message}"
        for error in validator.iter_errors(data)
    ]


def event_problems(event: str, data: Any) -> list[str]:
    """Why `data` is not a valid `event` sent by the server ([] when it is)."""
    _, sent, _ = _contract()
    if event not in sent:
        return [f"{event!r} is not an event of the AsyncAPI document"]
    return _problems(sent[event], data)


def ack_problems(event: str, ack: Any) -> list[str]:
    """Why `ack` is not a valid answer to the client event `event`."""
    _, _, acks = _contract()
    if isinstance(ack, dict) and ack.get("ok") is True:
        name = f"{event}_ack"
        if name not in acks:
            return [f"{event!r} has no successful ack in the AsyncAPI document"]
        return _problems(acks[name], ack)
    return _problems(acks["error_ack"], ack)

"""The AsyncAPI document of the Socket.IO events: served, well formed, complete, enforced.

No AsyncAPI 3 meta-schema is available offline, so the essential structure is
checked here: every reference resolves, every operation names a channel and
messages of that channel, payload schemas are valid JSON Schema, and every
event of SPEC section 7 is there in the right direction.
"""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator

from server.auctions import SOCKET_HANDLERS as AUCTION_HANDLERS
from server.contract.asyncapi import document
from server.contract.openapi import document as openapi_document
from server.payments import SOCKET_HANDLERS as PAYMENT_HANDLERS
from tests.support.clients import ContractMismatch
from tests.support.events_contract import ack_problems, event_problems
from tests.support.factories import bid, create_lot

#: SPEC section 7, by hand: what a client sends, what a lot room and a user receive.
SPEC_CLIENT_EVENTS = {"join_lot", "leave_lot", "place_bid", "my_payments"}
SPEC_LOT_EVENTS = {"bid_placed", "lot_extended", "lot_status"}
SPEC_USER_EVENTS = {
    "outbid",
    "payment_required",
    "payment_action_required",
    "payment_failed",
    "payment_succeeded",
    "payment_expired",
}


def resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        assert isinstance(node, dict) and part in node, f"{ref} does not resolve"
        node = node[part]
    return node


def refs_in(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in refs_in(value)]
    if isinstance(node, list):
        return [ref for item in node for ref in refs_in(item)]
    return []


def messages_of(doc: dict[str, Any], action: str, channel: str) -> set[str]:
    names = set()
    for operation in doc["operations"].values():
        if (
            operation["action"] == action
            and operation["channel"]["$ref"] == f"#/channels/{channel}"
        ):
            names |= {resolve(doc, m["$ref"])["name"] for m in operation["messages"]}
    return names


async def test_the_document_is_served_as_generated(server):
    status, body = await server.request("GET", "/api/asyncapi.json")
    assert status == 200
    assert body == document()


def test_the_document_has_the_asyncapi_3_structure():
    doc = document()
    assert doc["asyncapi"] == "3.0.0"
    assert doc["info"]["title"] and doc["info"]["version"]
    for server in doc["servers"].values():
        assert {"host", "protocol"} <= server.keys()
    for name, channel in doc["channels"].items():
        assert isinstance(channel["address"], str), name
        for parameter in channel.get("parameters", {}):
            assert "{" + parameter + "}" in channel["address"], (name, parameter)
        for key, message in channel["messages"].items():
            assert message["name"] == key
            assert message["contentType"] == "application/json"
            assert "$ref" in message["payload"]
    for name, operation in doc["operations"].items():
        assert operation["action"] in ("send", "receive"), name
        channel = operation["channel"]["$ref"]
        resolve(doc, channel)
        for message in operation["messages"]:
            # AsyncAPI 3: an operation's messages are messages of its own channel.
            assert message["$ref"].startswith(channel + "/messages/"), (name, message)
        if "reply" in operation:
            for message in operation["reply"]["messages"]:
                assert message["$ref"].startswith(operation["reply"]["channel"]["$ref"])
    for ref in refs_in(doc):
        resolve(doc, ref)
    for name, schema in doc["components"]["schemas"].items():
        Draft202012Validator.check_schema(schema)
        assert schema.get("type") in ("object", "string"), name


def test_every_event_of_the_spec_is_described_in_its_direction():
    doc = document()
    assert messages_of(doc, "receive", "root") >= SPEC_CLIENT_EVENTS
    assert messages_of(doc, "send", "lotRoom") >= SPEC_LOT_EVENTS
    assert messages_of(doc, "send", "userRoom") >= SPEC_USER_EVENTS
    for name in SPEC_CLIENT_EVENTS:
        replies = {
            resolve(doc, m["$ref"])["name"] for m in doc["operations"][name]["reply"]["messages"]
        }
        assert replies == {f"{name}_ack", "error_ack"}


def test_the_server_answers_exactly_the_described_client_events():
    handled = set(AUCTION_HANDLERS) | set(PAYMENT_HANDLERS)
    assert messages_of(document(), "receive", "root") == handled


def test_every_lot_event_carries_lot_id_and_seq():
    doc = document()
    for name in messages_of(doc, "send", "lotRoom"):
        schema = resolve(doc, doc["channels"]["lotRoom"]["messages"][name]["payload"]["$ref"])
        assert {"lot_id", "seq"} <= set(schema["required"]), name


def test_the_client_secret_is_described_only_for_its_buyer():
    doc = document()
    for channel in ("lotRoom",):
        for message in doc["channels"][channel]["messages"].values():
            schema = resolve(doc, message["payload"]["$ref"])
            assert "client_secret" not in str(schema), message["name"]
    payment_info = resolve(
        doc, doc["channels"]["userRoom"]["messages"]["payment_required"]["payload"]["$ref"]
    )
    assert "client_secret" in payment_info["properties"]


@pytest.mark.parametrize(
    ("event", "data", "problem"),
    [
        ("outbid", {"lot_id": 1, "amount": 5, "your_amount": 4}, "'min_next_bid' is a required"),
        (
            "outbid",
            {"lot_id": "1", "amount": 5, "your_amount": 4, "min_next_bid": 6},
            "not of type",
        ),
        ("lot_extended", {"lot_id": 1, "seq": 2, "ends_at": "soon"}, "is not a 'date-time'"),
        (
            "lot_extended",
            {"lot_id": 1, "seq": 2, "ends_at": "2030-01-01T00:00:00Z", "x": 1},
            "'x' was unexpected",
        ),
        ("lot_status", {"lot_id": 1, "seq": 2, "status": "GONE"}, "is not one of"),
        ("no_such_event", {}, "is not an event"),
    ],
)
def test_the_checker_refuses_what_the_document_does_not_describe(event, data, problem):
    assert any(problem in line for line in event_problems(event, data)), event_problems(event, data)


def test_the_checker_refuses_acks_unlike_the_document():
    assert ack_problems("leave_lot", {"ok": True}) == []
    assert ack_problems("leave_lot", {"ok": False, "error": {"code": "x", "message": "m"}}) == []
    assert ack_problems("join_lot", {"ok": True})  # no lot
    assert ack_problems("join_lot", {"ok": False, "error": {"code": "x"}})  # no message


async def test_a_socket_client_fails_on_an_event_the_document_does_not_describe(server, db):
    """The hook every test's sockets go through can fail: an off-contract event is caught."""
    alice = await server.socket("alice")
    await server.context.hub.to_user("alice", "outbid", {"lot_id": 1, "amount": "lots"})
    with pytest.raises(ContractMismatch, match="outbid"):
        await alice.wait_for("bid_placed", timeout=2)
    alice.mismatches.clear()  # caught on purpose: the teardown check must not fail this test


async def test_acks_and_events_of_a_bid_match_the_document(server, db):
    """A bid's ack and its room and user events, checked field by field."""
    lot = await create_lot(server, starting_price=1000)
    alice, bob = await server.socket("alice"), await server.socket("bob")
    assert (await alice.call("join_lot", {"lot_id": lot["id"]}))["ok"]
    assert (await alice.call("place_bid", bid(lot["id"], 1000)))["ok"]
    assert (await bob.call("place_bid", bid(lot["id"], 1100)))["ok"]
    placed = await alice.wait_for("bid_placed", lambda e: e["amount"] == 1100)
    outbid = await alice.wait_for("outbid")
    assert event_problems("bid_placed", placed) == []
    assert event_problems("outbid", outbid) == []
    alice.check_contract()


def test_the_openapi_document_points_at_the_asyncapi_document():
    openapi = openapi_document()
    assert "/api/asyncapi.json" in openapi["info"]["description"]
    assert "/api/asyncapi.json" in openapi["paths"]

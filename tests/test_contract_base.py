"""`server.contract.base`: strict parsing that names every bad field, and the shared types.

These run the parser directly (no server): the HTTP and socket tests check
that handlers answer with what it raises.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import jsonschema
import pytest
from pydantic import Field

from server.contract.base import (
    NOT_BLANK,
    STRIPPED,
    WHITESPACE,
    Amount,
    Contract,
    Id,
    Timestamp,
    parse,
)
from server.core.errors import ValidationError


class Sample(Contract):
    title: Annotated[str, Field(max_length=5), NOT_BLANK, STRIPPED]
    price: Amount
    at: Timestamp | None = None
    kind: Literal["a", "b"] = "a"
    ref: Id | None = None

    def problems(self, context: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
        if self.title == context.get("forbidden", "no"):
            yield "title", f"'title' may not be {self.title}"


def refusal(data: object) -> dict[str, object]:
    with pytest.raises(ValidationError) as caught:
        parse(Sample, data)
    assert caught.value.status == 400
    return caught.value.as_dict()


def test_every_bad_field_is_listed_at_once():
    error = refusal({"title": " ", "price": "5", "colour": "red"})
    assert error["code"] == "validation_error"
    assert error["fields"] == {
        "title": "'title' must not be empty",
        "price": "'price' must be an integer",
        "colour": "'colour' is not a field of this request",
    }
    assert error["message"] == (
        "'title' must not be empty; 'price' must be an integer;"
        " 'colour' is not a field of this request"
    )


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"price": 5}, "title", "is required"),
        ({"title": "abcdef", "price": 5}, "title", "must be at most 5 characters"),
        ({"title": 7, "price": 5}, "title", "must be a string"),
        ({"title": "a", "price": True}, "price", "must be an integer"),
        ({"title": "a", "price": 1.5}, "price", "must be an integer"),
        ({"title": "a", "price": "1"}, "price", "must be an integer"),
        ({"title": "a", "price": 2.0**60}, "price", "must be an integer"),
        ({"title": "a", "price": 0}, "price", "must be at least 1"),
        ({"title": "a", "price": 10**16}, "price", "must be at most 1000000000000000"),
        ({"title": "a", "price": 5, "kind": "c"}, "kind", "must be one of 'a' or 'b'"),
        ({"title": "a", "price": 5, "ref": 2**63}, "ref", "must be at most 9223372036854775807"),
        ({"title": "no", "price": 5}, "title", "may not be no"),
    ],
)
def test_each_kind_of_problem_has_a_plain_message(data, field, message):
    assert refusal(data)["fields"] == {field: f"'{field}' {message}"}


@pytest.mark.parametrize(
    "value",
    [
        "tomorrow",
        "2031-01-01T00:00:00",  # no zone
        "9999-01-01T00:00:00Z",  # out of range
        "1999-12-31T23:59:59Z",
        "2030-02-30T00:00:00Z",  # not a day
        "2030-01-01 00:00:00Z",
        "\uff12030-01-01T00:00:00Z",  # a non-ASCII digit (fullwidth two)
        1893456000,
    ],
)
def test_timestamps_need_a_zone_and_a_sane_year(value):
    assert list(refusal({"title": "a", "price": 5, "at": value})["fields"]) == ["at"]


def test_cross_field_rules_get_the_context_parse_was_given():
    assert parse(Sample, {"title": "no", "price": 5}, forbidden="yes").title == "no"
    with pytest.raises(ValidationError) as caught:
        parse(Sample, {"title": "yes", "price": 5}, forbidden="yes")
    assert caught.value.as_dict()["fields"] == {"title": "'title' may not be yes"}


def test_a_good_payload_is_parsed_stripped_and_in_utc():
    parsed = parse(
        Sample, {"title": " ab ", "price": 5, "at": "2030-01-01T02:00:00.5+02:00", "ref": 3}
    )
    assert parsed.title == "ab"
    assert parsed.at == datetime(2030, 1, 1, 0, 0, 0, 500000, tzinfo=UTC)
    assert parsed.at.tzinfo is UTC
    assert parsed.kind == "a"


def test_a_number_without_a_fraction_is_an_integer_as_in_json_schema():
    parsed = parse(Sample, {"title": "a", "price": 5.0, "ref": 7.0})
    assert (parsed.price, parsed.ref) == (5, 7)
    assert type(parsed.price) is int


def test_whitespace_is_the_same_in_the_pattern_the_parser_and_python():
    spaces = "".join(c for c in map(chr, range(0x110000)) if c.isspace())
    assert set(WHITESPACE) == set(spaces)
    for space in spaces:
        assert refusal({"title": space * 3, "price": 5})["fields"] == {
            "title": "'title' must not be empty"
        }
    assert parse(Sample, {"title": "\u3000a\x1c", "price": 5}).title == "a"
    assert refusal({"title": "a\x00b", "price": 5})["fields"] == {
        "title": "'title' must not contain a NUL character"
    }


def test_only_objects_are_payloads():
    for data in ([1], "x", None, 5):
        assert refusal(data)["message"] == "The payload must be a JSON object"


def test_the_schema_refuses_what_the_parser_refuses():
    """The same bodies through the generated JSON schema: refused there too."""
    validator = jsonschema.Draft202012Validator(
        Sample.model_json_schema(), format_checker=jsonschema.FormatChecker()
    )
    assert validator.is_valid({"title": "ab", "price": 5, "at": "2030-01-01T00:00:00Z"})
    for bad in (
        {"title": " ", "price": 5},
        {"title": "abcdef", "price": 5},
        {"title": "a", "price": 10**16},
        {"title": "a", "price": 5, "at": "9999-01-01T00:00:00Z"},
        {"title": "a", "price": 5, "at": "2031-01-01T00:00:00"},
        {"title": "a", "price": 5, "colour": "red"},
    ):
        assert not validator.is_valid(bad), bad
        with pytest.raises(ValidationError):
            parse(Sample, bad)

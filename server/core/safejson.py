"""Parsing untrusted JSON without letting its nesting reach the parser's recursion.

The standard library's parser recurses once per `[` or `{`: fifty thousand of
them raise `RecursionError` (a 500, or a Socket.IO event that is never
answered). Every untrusted body goes through `loads`, which measures the
nesting first and refuses anything deeper than `MAX_DEPTH` with
`NestedTooDeep`, a `ValueError` like any other malformed JSON.

The measure costs next to nothing for ordinary payloads: a body with no more
brackets than the limit cannot be nested deeper, and `str.count` says so at C
speed. Only bodies with many brackets pay for the full check, which strips the
strings and keeps a running depth over the brackets left, in C-speed passes
(less than `json.loads` itself then spends on such a body).

The Socket.IO server uses `loads` as its packet decoder too (see
`server.realtime.packets`); whichever JSON library decodes packets, this check
should stay in front of it.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

#: Deeper than any payload of ours or Stripe's (a Stripe event is about 8 levels).
MAX_DEPTH = 64

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
#: `str.translate` table deleting every ASCII character but brackets (JSON outside
#: strings is ASCII; anything else is left in place and stops the peeling).
_ONLY_BRACKETS = {code: None for code in range(128) if chr(code) not in "[]{}"}
#: +1 for an opening bracket's byte, -1 for a closing one (nothing else is left).
_STEP = tuple(1 if chr(b) in "[{" else -1 if chr(b) in "]}" else 0 for b in range(256))


class NestedTooDeep(ValueError):
    """JSON nested deeper than `MAX_DEPTH` (or with brackets that never close)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"JSON is nested too deeply (at most {limit} levels)")


def nesting_exceeds(raw: str | bytes, limit: int = MAX_DEPTH) -> bool:
    """True when the arrays and objects in `raw` nest deeper than `limit`.

    Brackets inside strings do not count. Brackets that never close count as
    open, so `"[" * 50000` exceeds any limit although it is not JSON at all.
    Every step is a C-speed pass over the text (the running depth is an
    `itertools.accumulate`): no Python loop per character.
    """
    if isinstance(raw, bytes):
        if raw.count(b"[") + raw.count(b"{") <= limit:
            return False
        raw = raw.decode("utf-8", errors="replace")
    elif raw.count("[") + raw.count("{") <= limit:
        return False
    brackets = _STRING.sub("", raw).translate(_ONLY_BRACKETS).encode("ascii", "ignore")
    if re.search(rb"[\[{]{%d}" % (limit + 1), brackets):
        return True  # more openers in a row than the limit: the usual attack
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0) > limit


def check_depth(raw: str | bytes, limit: int = MAX_DEPTH) -> None:
    if nesting_exceeds(raw, limit):
        raise NestedTooDeep(limit)


def loads(raw: str | bytes, **kwargs: Any) -> Any:
    """`json.loads`, refusing (with `NestedTooDeep`) what nests deeper than `MAX_DEPTH`."""
    check_depth(raw)
    return json.loads(raw, **kwargs)

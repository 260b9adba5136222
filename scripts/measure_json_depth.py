"""How much the JSON nesting check (server.core.safejson) costs, against json.loads.

    .venv/bin/python scripts/measure_json_depth.py

Prints microseconds per call for a `place_bid` packet and milliseconds for the
hostile and the bracket-heavy bodies the check exists for.
"""

from __future__ import annotations

import json
import timeit

from server.core.safejson import nesting_exceeds

PACKET = (
    '["place_bid",{"lot_id":12,"amount":15000,"request_id":"4f1c0e8a9b7d4e2f8a1b2c3d4e5f6a7b"}]'
)
BODIES = {
    "50,000 nested arrays": "[" * 50_000 + "]" * 50_000,
    "20,000 nested objects": '{"a":' * 20_000 + "1" + "}" * 20_000,
    "300,000 empty arrays in one (900 KB)": "[" + ",".join(["[]"] * 300_000) + "]",
}


def best(call: object, number: int) -> float:
    return min(timeit.repeat(call, number=number, repeat=5)) / number  # type: ignore[arg-type]


def main() -> None:
    n = 100_000
    check = best(lambda: nesting_exceeds(PACKET), n)
    parse = best(lambda: json.loads(PACKET), n)
    print(f"place_bid packet: check {check * 1e6:.2f} us, json.loads {parse * 1e6:.2f} us")
    for name, body in BODIES.items():
        check = best(lambda body=body: nesting_exceeds(body), 3)
        if nesting_exceeds(body):
            print(f"{name}: refused in {check * 1e3:.1f} ms")
        else:
            parse = best(lambda body=body: json.loads(body), 3)
            print(f"{name}: check {check * 1e3:.1f} ms, json.loads {parse * 1e3:.1f} ms")


if __name__ == "__main__":
    main()

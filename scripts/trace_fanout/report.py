"""Per-bid timelines from a `--compare` run traced with scripts/trace_fanout (measurement only).

    $VENV/bin/python scripts/trace_fanout/report.py var/bench/compare-rounds.jsonl \\
        [var/bench/trace.jsonl [N]]

For every round (server, watchers): the round's p50/p99, the server's and the
four client processes' CPU per receipt, and per bid, milliseconds after the
bidder's send, of the ack and of the watchers' first, median, 99th-percentile
and last receipt: the medians over the round's bids and its four worst bids
(by last receipt). With the server's trace (this server only) its own stamps
per bid too (`s_*`: recv, batch, commit, the write loop's start and end, ack),
and the wall and CPU time of each step from `recv` to the first write, over
every traced bid. With N, the raw stamps of the first N bids instead.
"""

from __future__ import annotations

import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

SERVER_STAMPS = ("recv", "batch", "commit", "loop_start", "loop_end", "ack")
BACKGROUND = ("ping", "gc", "job", "job_end")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def lines(path: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line]


def traced_bids(events: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The trace cut into bids: each from its `recv` to just before the next one."""
    bids: list[list[dict[str, Any]]] = []
    for event in events:
        if event["e"] == "recv":
            bids.append([event])
        elif bids:
            bids[-1].append(event)
    return bids


def stamps_by_bid(events: list[dict[str, Any]]) -> dict[int, dict[str, float]]:
    """bid_id -> the first time of each server stamp of that bid."""
    found: dict[int, dict[str, float]] = {}
    for bid in traced_bids(events):
        ids = [e["x"] for e in bid if e["e"] == "emit bid_placed"]
        if ids:
            stamps: dict[str, float] = {}
            for event in bid:
                stamps.setdefault(event["e"], event["t"])
            found[ids[0]] = stamps
    return found


def steps(events: list[dict[str, Any]]) -> None:
    """Wall and CPU time of each step from `recv` to the first write, over all bids."""
    wall: dict[str, list[float]] = defaultdict(list)
    cpu: dict[str, list[float]] = defaultdict(list)
    for bid in traced_bids(events):
        previous = bid[0]
        for event in bid[1:]:
            if event["e"] in BACKGROUND:
                continue
            what = previous["e"] + (f" {previous['x'][:12]}" if previous["e"] == "sql" else "")
            label = f"{what} -> {event['e']}"
            wall[label].append((event["t"] - previous["t"]) * 1000)
            cpu[label].append((event["cpu"] - previous["cpu"]) * 1000)
            previous = event
            if event["e"] == "loop_start":
                break
    print("\nthis server, recv -> first write, per step over every traced bid (ms):")
    for label, values in wall.items():
        print(
            f"  {label:34} n={len(values):4}  wall median {statistics.median(values):6.2f}  "
            f"p90 {pct(values, 0.9):6.2f}  max {max(values):6.2f}  "
            f"CPU median {statistics.median(cpu[label]):5.2f}"
        )


def rounds(path: str, trace: dict[int, dict[str, float]]) -> None:
    for r in lines(path):
        rows = []
        everything: list[float] = []
        for bid in r["bids"]:
            sent, got = bid["sent"], bid["received"]
            everything += [at - sent for at in got]
            if not got:
                continue
            row = {
                "ack": bid["acked"] - sent,
                "first": got[0] - sent,
                "p50": pct(got, 0.5) - sent,
                "p99": pct(got, 0.99) - sent,
                "last": got[-1] - sent,
            }
            stamps = trace.get(bid["id"]) if r["target"] == "this server" else None
            for name in SERVER_STAMPS:
                if stamps and name in stamps:
                    row["s_" + name] = stamps[name] - sent
            rows.append(row)
        receipts = max(len(everything), 1)
        print(
            f"\n{r['target']:22} {r['watchers']} watchers (load {r['load']}): round p50 "
            f"{pct(everything, 0.5) * 1000:.1f} p99 {pct(everything, 0.99) * 1000:.1f} ms, "
            f"{len(everything)} receipts; CPU per receipt: server "
            f"{r['server_cpu'] / receipts * 1e6:.1f} us, the 4 clients "
            f"{r['clients_cpu'] / receipts * 1e6:.1f} us"
        )
        keys = list(rows[0])
        medians = (
            f"{k} {statistics.median(row[k] for row in rows if k in row) * 1000:.1f}" for k in keys
        )
        print("  median over bids (ms after send): " + "  ".join(medians))
        for row in sorted(rows, key=lambda row: -row["last"])[:4]:
            print("  worst: " + "  ".join(f"{k} {row[k] * 1000:.1f}" for k in keys if k in row))


def raw(events: list[dict[str, Any]], count: int) -> None:
    """The stamps of the first `count` bids: ms after `recv`, wall clock and the server's CPU."""
    for bid in traced_bids(events)[:count]:
        start, cpu0 = bid[0]["t"], bid[0]["cpu"]
        print()
        for event in bid:
            wall, cpu = (event["t"] - start) * 1000, (event["cpu"] - cpu0) * 1000
            print(f"  {wall:8.2f} ms  cpu {cpu:6.2f} ms  {event['e']} {event['x'] or ''}")


def main() -> None:
    events = lines(sys.argv[2]) if len(sys.argv) > 2 else []
    if len(sys.argv) > 3:
        raw(events, int(sys.argv[3]))
        return
    rounds(sys.argv[1], stamps_by_bid(events))
    if events:
        steps(events)


if __name__ == "__main__":
    main()

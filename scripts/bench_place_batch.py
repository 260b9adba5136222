#!/usr/bin/env python3
"""CPU of one bid transaction, in-process: the 100-lot case without the sockets.

    scripts/bench_place_batch.py [--batches 1000] [--rounds 3] [--group N] [--root TREE]

Creates a scratch database on the local PostgreSQL (BENCH_PG, default
postgresql://postgres@127.0.0.1:5432), migrates it, opens the server's context
without the scheduler, and calls `place_batch` for single-bid batches spread
over 100 lots, four at a time (a busy catalogue on a quiet machine: every
batch is one bid). Prints the process's CPU time (user + system) per bid,
which holds on a busy machine where latencies do not (uvloop when installed,
as `serve`). `--group N` (N <= 25) puts the single-bid batches of N lots into
one transaction (`place_group`, as the server does with lots due at once);
`--group 1` is `place_batch`, one transaction per bid. `--root` runs another
checkout's server code (a before/after pair, run back to back). Drops the
database at the end.
"""

# A benchmark driver: it runs a fixed local command.
# ruff: noqa: S603, S607

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

PG = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
SECRETS = {
    "STRIPE_SECRET_KEY": "sk_test_" + "b" * 24,
    "STRIPE_PUBLISHABLE_KEY": "pk_test_" + "b" * 24,
    "STRIPE_WEBHOOK_SECRET": "whsec_" + "b" * 24,
    "JWT_SECRET": "bench-" + "b" * 40,
}


async def run(root: Path, database: str, batches: int, rounds: int, group: int) -> None:
    from aiohttp import web
    from sqlalchemy import text

    from server.app import create_app
    from server.auctions import bids
    from server.auctions.bids import QueuedBid, place_batch
    from server.core.auth import Identity
    from server.core.context import CONTEXT
    from server.settings import Settings

    settings = Settings(
        database_url=f"postgresql+asyncpg://{PG.split('://', 1)[1]}/{database}",
        stripe_secret_key=SECRETS["STRIPE_SECRET_KEY"],
        stripe_publishable_key=SECRETS["STRIPE_PUBLISHABLE_KEY"],
        stripe_webhook_secrets=(SECRETS["STRIPE_WEBHOOK_SECRET"],),
        jwt_secret=SECRETS["JWT_SECRET"],
        anti_sniping_window_seconds=0,
        nonpayment_strikes=1000,
    )
    runner = web.AppRunner(create_app(settings, run_scheduler=False))
    await runner.setup()
    context = runner.app[CONTEXT]
    async with context.db.engine.begin() as conn:
        await conn.execute(text("INSERT INTO users (id, role) VALUES ('sam', 'seller')"))
        new_lots = text(
            "INSERT INTO lots (seller_id, title, currency, starting_price, bid_increment,"
            " starts_at, ends_at, status)"
            " SELECT 'sam', 'Bench lot', 'usd', 100, 1, now(), now() + interval '1 day', 'OPEN'"
            " FROM generate_series(1, 100) RETURNING id"
        )
        lots = (await conn.execute(new_lots)).scalars().all()
    bidders = [Identity(sub=f"u{n}", email=f"u{n}@bench.test") for n in range(20)]
    price = dict.fromkeys(lots, 100)

    def queued(n: int) -> QueuedBid:
        lot = lots[n % len(lots)]
        price[lot] += 1
        return QueuedBid(
            bidder=bidders[(n // len(lots) + n) % len(bidders)],
            lot_id=lot,
            amount=price[lot],
            request_id=uuid.uuid4().hex,
        )

    async def one(n: int) -> None:
        if group == 1:
            bid = queued(n)
            answers = {bid.lot_id: await place_batch(context, bid.lot_id, [bid])}
        else:
            batch = [queued(n * group + k) for k in range(group)]
            answers = await bids.place_group(context, {bid.lot_id: [bid] for bid in batch})
            assert len(answers) == group, "a lot was left out"
        for [answer] in answers.values():
            assert isinstance(answer, dict) and answer["ok"], answer

    sent = 0
    for _ in range(-(-300 // group)):  # warm-up: every bidder seen, every statement prepared
        await one(sent)
        sent += 1
    try:
        for _ in range(rounds):
            cpu, wall = time.process_time(), time.perf_counter()
            for _ in range(batches // 4):
                await asyncio.gather(*(one(sent + k) for k in range(4)))
                sent += 4
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            done = batches // 4 * 4 * group
            print(
                f"{root}: {cpu / done * 1e6:6.0f} µs CPU per bid, {group} lot(s) per transaction "
                f"(wall {wall / done * 1e6:6.0f} µs); load average "
                f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}",
                flush=True,
            )
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--group", type=int, default=1, choices=range(1, 26), metavar="N")
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    args = parser.parse_args()
    root = args.root.resolve()
    sys.path.insert(0, str(root))
    database = f"bench_pb_{uuid.uuid4().hex[:10]}"
    admin = PG + "/postgres"
    subprocess.run(["psql", admin, "-qc", f'CREATE DATABASE "{database}"'], check=True)
    try:
        env: dict[str, Any] = {**os.environ, **SECRETS}
        env["DATABASE_URL"] = f"postgresql+asyncpg://{PG.split('://', 1)[1]}/{database}"
        subprocess.run(
            [sys.executable, "-m", "server", "migrate"],
            cwd=root,
            env=env,
            check=True,
            capture_output=True,
        )
        try:  # the server's own loop when installed (`serve` uses it too)
            import uvloop

            uvloop.install()
        except ImportError:
            pass
        asyncio.run(run(root, database, args.batches, args.rounds, args.group))
    finally:
        subprocess.run(
            ["psql", admin, "-qc", f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'],
            check=True,
        )


if __name__ == "__main__":
    main()

"""APScheduler, driven by the database.

The rows are the schedule (`lots.ends_at`, `payments.expires_at`, ...). This
process keeps one precise date job per upcoming transition, with a
deterministic id (`close:{lot_id}`, `expire:{payment_id}`), rebuilt from the
rows at start-up, plus periodic sweeps that claim whatever is due with
`FOR UPDATE SKIP LOCKED`. Every job re-checks the row under a lock, so a job
that fires on two processes, or twice, changes things once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from server.core.errors import unavailable_for
from server.core.logging import isolated
from server.core.logthrottle import LogThrottle
from server.core.metrics import Metrics

log = logging.getLogger(__name__)

Job = Callable[..., Awaitable[Any]]

#: Date jobs further out than this are left to the sweeps and the start-up rebuild.
HORIZON = timedelta(hours=6)


def _database_down(exc: BaseException) -> bool:
    """True for failures that only say the database is out of reach right now."""
    return unavailable_for(exc) is not None or isinstance(exc, OSError | TimeoutError)


class Scheduler:
    """Runs the jobs; a failing job is logged once per condition and minute, with a count.

    While the database is down every sweep fails every second: that is one
    condition (`database unavailable`), logged as one warning with how many
    runs failed since the last one, with no traceback, and once more when jobs
    succeed again. Any other failure keeps its traceback, once per job kind,
    exception type and minute. `auction_scheduled_job_failures_total` counts
    every failure.
    """

    def __init__(self, metrics: Metrics | None = None) -> None:
        self.metrics = metrics
        self._throttle = LogThrottle(log)
        self._database_failures = 0
        self._scheduler = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        self._started = False
        self._running: set[asyncio.Task[Any]] = set()
        self._kinds: dict[str, Callable[[int], Awaitable[Any]]] = {}

    def start(self) -> None:
        self._scheduler.start()
        self._started = True

    def shutdown(self) -> None:
        if self._started:
            self._scheduler.shutdown(wait=False)
            self._started = False

    async def drain(self, within: float) -> int:
        """Start no new jobs and give the running ones `within` seconds to finish.

        APScheduler's own shutdown cancels running coroutines; a job cut off halfway
        only rolls back (the sweep redoes it), but letting it finish means a stopping
        server does not leave its last transitions to the other processes. Returns
        how many jobs were still running when the time was up.
        """
        if self._started:
            self._scheduler.pause()
        running = {task for task in self._running if task is not asyncio.current_task()}
        if not running:
            return 0
        _done, pending = await asyncio.wait(running, timeout=within)
        return len(pending)

    def every(self, job_id: str, seconds: float, job: Job, *args: Any) -> None:
        """Run `job(*args)` every `seconds`, never two at once on this process."""
        self._scheduler.add_job(
            self._guarded(job_id, job),
            "interval",
            seconds=seconds,
            args=args,
            id=job_id,
            replace_existing=True,
            next_run_time=datetime.now(UTC) + timedelta(seconds=min(seconds, 0.2)),
        )

    def at(self, job_id: str, when: datetime, job: Job, *args: Any) -> None:
        """Run `job(*args)` once at `when` (replacing an earlier job with the same id)."""
        if when - datetime.now(UTC) > HORIZON:
            self.cancel(job_id)
            return
        self._scheduler.add_job(
            self._guarded(job_id, job),
            "date",
            run_date=max(when, datetime.now(UTC)),
            args=args,
            id=job_id,
            replace_existing=True,
        )

    def define(self, kind: str, job: Callable[[int], Awaitable[Any]]) -> None:
        """Name what a `{kind}:{id}` date job runs (`job(id)`), so `run_at` needs only the name.

        Domains schedule each other's work by name (`expire`, `close`), never by
        importing the module that does it: the job's module may itself schedule.
        """
        self._kinds[kind] = job

    def run_at(self, kind: str, item_id: int, when: datetime) -> None:
        """Run the job defined for `kind` with `item_id` once at `when` (id `{kind}:{item_id}`)."""
        self.at(f"{kind}:{item_id}", when, self._kinds[kind], item_id)

    def cancel(self, job_id: str) -> None:
        job = self._scheduler.get_job(job_id)
        if job is not None:
            job.remove()

    def _guarded(self, job_id: str, job: Job) -> Job:
        async def run(*args: Any) -> None:
            task = asyncio.current_task()
            assert task is not None
            self._running.add(task)
            try:
                with isolated(job=job_id):
                    await job(*args)
            except Exception as exc:
                self._failed(job_id, exc)
            else:
                self._succeeded()
            finally:
                self._running.discard(task)

        return run

    def _failed(self, job_id: str, exc: Exception) -> None:
        kind = job_id.split(":", 1)[0]
        down = _database_down(exc)
        if self.metrics is not None:
            reason = "database_unavailable" if down else type(exc).__name__
            self.metrics.job_failures.labels(job=kind, reason=reason).inc()
        if down:
            self._database_failures += 1
            self._throttle.warning(
                "database",
                "scheduled jobs failing: database unavailable (%s in %s); the sweeps retry",
                type(exc).__name__,
                kind,
            )
            return
        self._throttle.warning(
            f"{kind}:{type(exc).__name__}",
            "scheduled job %s failed; the sweep will try again",
            job_id,
            exc_info=exc,
        )

    def _succeeded(self) -> None:
        if self._database_failures:
            log.warning(
                "scheduled jobs running again after %s failed runs (database unavailable)",
                self._database_failures,
            )
            self._database_failures = 0
            self._throttle.ended("database")

"""One warning per condition and interval, with a count, instead of one per occurrence.

Conditions an anonymous client or an outage can repeat thousands of times a
second (slow connections, oversized headers, a database that does not answer)
must not flood the log: the first occurrence is logged at once, the next ones
within `interval` are only counted, and the next warning after it says how
many there were.
"""

from __future__ import annotations

import logging
import time
from typing import Any


class LogThrottle:
    def __init__(self, logger: logging.Logger, interval: float = 60.0) -> None:
        self.logger = logger
        self.interval = interval
        #: condition -> (when it was last logged, occurrences since then)
        self._state: dict[str, tuple[float, int]] = {}

    def warning(self, condition: str, message: str, *args: Any, **kwargs: Any) -> bool:
        """Log `message % args` unless `condition` was logged within `interval`; True if logged."""
        now = time.monotonic()
        last = self._state.get(condition)
        if last is not None and now - last[0] < self.interval:
            self._state[condition] = (last[0], last[1] + 1)
            return False
        suppressed = last[1] if last is not None else 0
        if suppressed:
            message += " (%s more since the last such warning)"
            args = (*args, suppressed)
        self.logger.warning(message, *args, **kwargs)
        self._state[condition] = (now, 0)
        return True

    def ended(self, condition: str) -> int:
        """Forget `condition` (it has cleared); returns how many went unlogged."""
        last = self._state.pop(condition, None)
        return last[1] if last is not None else 0

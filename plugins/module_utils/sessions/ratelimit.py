# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pacing and time budgets for long-running modules: a rate limiter and a deadline, both on one clock.

No I/O: the clock and the sleep function are injected, so tests drive them without waiting.
"""

from __future__ import annotations

import time


class Deadline:
    """A time budget that started when the object was made; `seconds=None` (or 0) never expires."""

    def __init__(self, seconds=None, clock=time.monotonic):
        self.clock = clock
        self.started = clock()
        self.seconds = seconds if seconds else None

    def elapsed(self):
        return self.clock() - self.started

    def remaining(self):
        """Seconds left, or None when there is no budget."""
        if self.seconds is None:
            return None
        return max(0.0, self.seconds - self.elapsed())

    def expired(self):
        return self.seconds is not None and self.elapsed() >= self.seconds


class RateLimiter:
    """Keeps `done / elapsed` at or under `rate` operations per second (None or 0: unlimited).

    Call `pace(n)` after doing n operations: it sleeps until the total so far is due, never longer than
    what the optional deadline has left, so a rate limit cannot make a run overstay its time budget.
    """

    def __init__(self, rate=None, clock=time.monotonic, sleep=time.sleep, deadline=None):
        self.rate = float(rate) if rate else None
        self.clock = clock
        self.sleep = sleep
        self.deadline = deadline
        self.started = clock()
        self.done = 0
        self.slept = 0.0

    def burst(self, wanted):
        """How many operations to do in one go: at most one second's worth at the configured rate."""
        if self.rate is None:
            return wanted
        return max(1, min(wanted, int(self.rate)))

    def pace(self, count):
        self.done += count
        if self.rate is None:
            return 0.0
        due = self.started + self.done / self.rate
        wait = due - self.clock()
        if self.deadline is not None and self.deadline.remaining() is not None:
            wait = min(wait, self.deadline.remaining())
        if wait <= 0:
            return 0.0
        self.sleep(wait)
        self.slept += wait
        return wait

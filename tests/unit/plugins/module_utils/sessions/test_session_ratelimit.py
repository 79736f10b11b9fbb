"""The rate limiter and deadline used by the session modules, on a fake clock."""

import pytest

from ansible_collections.bruno.ops.plugins.module_utils.sessions.ratelimit import Deadline, RateLimiter


class Clock:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def test_unlimited_never_sleeps():
    clock = Clock()
    limiter = RateLimiter(None, clock=clock, sleep=clock.sleep)
    assert limiter.burst(5000) == 5000
    assert limiter.pace(10**6) == 0.0 and clock.sleeps == []


def test_paces_to_the_rate():
    clock = Clock()
    limiter = RateLimiter(100, clock=clock, sleep=clock.sleep)
    assert limiter.burst(1000) == 100
    limiter.pace(50)
    assert clock.now == pytest.approx(0.5)
    clock.now += 1.0  # slow work: already behind schedule, no sleep
    assert limiter.pace(50) == 0.0
    limiter.pace(200)
    assert clock.now == pytest.approx(3.0)


def test_sleep_never_outlasts_the_deadline():
    clock = Clock()
    deadline = Deadline(1.0, clock=clock)
    limiter = RateLimiter(1, clock=clock, sleep=clock.sleep, deadline=deadline)
    limiter.pace(100)
    assert clock.now == pytest.approx(1.0)
    assert deadline.expired() and deadline.remaining() == 0.0


def test_deadline_without_budget():
    clock = Clock()
    deadline = Deadline(None, clock=clock)
    clock.now = 10**6
    assert not deadline.expired() and deadline.remaining() is None
    assert Deadline(0, clock=clock).remaining() is None

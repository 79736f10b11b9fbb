"""The run lock over a keyspace: taken, re-entered by its owner, refused to another, released only by its owner."""

import os
import signal
import threading

import pytest

from ansible_collections.bruno.ops.plugins.module_utils import errors
from ansible_collections.bruno.ops.plugins.module_utils.sessions import lock as session_lock


class LockKeyspace:
    """run_script() playing LOCK_ACQUIRE_LUA / LOCK_RELEASE_LUA on a dict, as Redis would."""

    address = "redis://fake:6379/0"

    def __init__(self):
        self.store = {}

    def script(self, source):
        return source

    def run_script(self, script, keys, args, action=None):
        key, owner = keys[0], args[0]
        if script == session_lock.LOCK_RELEASE_LUA:
            if self.store.get(key) == owner:
                del self.store[key]
                return 1
            return 0
        held = self.store.get(key)
        if held is None:
            self.store[key] = owner
            return [1, b"", 0]
        if held == owner:
            return [2, b"", 0]
        return [0, held.encode(), 5000]


SPEC = {"key": "ops:lock", "owner": "run-1", "ttl": 60, "release": True}


def test_run_with_lock_takes_and_releases():
    space = LockKeyspace()
    result = session_lock.run_with_lock(space, SPEC, False, lambda lock: {"held_during": dict(space.store)})
    assert result["held_during"] == {"ops:lock": "run-1"}
    assert result["lock"] == {"key": "ops:lock", "owner": "run-1", "held": False, "released": True, "ttl": 60}
    assert space.store == {}


def test_another_owner_is_refused_and_the_same_owner_reenters():
    space = LockKeyspace()
    space.store["ops:lock"] = "run-0"
    with pytest.raises(errors.BrunoOpsError, match="held by another run \\(owner run-0\\) for 5 more") as raised:
        session_lock.run_with_lock(space, SPEC, False, lambda lock: {})
    assert raised.value.kind == errors.CONFIG
    space.store["ops:lock"] = "run-1"
    assert session_lock.RunLock(space, SPEC).acquire() == 2


def test_a_failed_run_releases_its_lock():
    space = LockKeyspace()

    def body(_lock):
        raise errors.BrunoOpsError("boom", kind=errors.UNREACHABLE)

    with pytest.raises(errors.BrunoOpsError, match="boom"):
        session_lock.run_with_lock(space, dict(SPEC, release=False), False, body)
    assert space.store == {}


def test_check_mode_takes_no_lock():
    space = LockKeyspace()
    result = session_lock.run_with_lock(space, SPEC, True, lambda lock: {"lock_given": lock})
    assert result["lock_given"] is None and result["lock"]["skipped"] == "check_mode"
    assert space.store == {}


@pytest.mark.parametrize("ttl", [0, -1, 2, None])
def test_ttl_must_be_a_few_seconds_at_least(ttl):
    with pytest.raises(errors.BrunoOpsError, match="lock.ttl must be at least 3 seconds") as raised:
        session_lock.RunLock(LockKeyspace(), dict(SPEC, ttl=ttl))
    assert raised.value.kind == errors.INVALID


def test_default_ttl_is_short():
    """Issue 18 item 3: a killed run's lock must not block the next (hourly) run for an hour."""
    assert session_lock.LOCK_SPEC["ttl"]["default"] <= 120


class CountingKeyspace(LockKeyspace):
    def __init__(self):
        super().__init__()
        self.acquires = 0
        self.renewed = threading.Event()

    def run_script(self, script, keys, args, action=None):
        if script == session_lock.LOCK_ACQUIRE_LUA:
            self.acquires += 1
            if self.acquires >= 3:
                self.renewed.set()
        return super().run_script(script, keys, args, action)


def test_heartbeat_renews_the_lock_while_one_step_blocks():
    """Issue 18 item 3: renewal does not wait for the run's next batch."""
    space = CountingKeyspace()
    lock = session_lock.RunLock(space, dict(SPEC, ttl=3))
    lock.acquire()
    lock.start_heartbeat()
    try:
        assert space.renewed.wait(timeout=30), "the heartbeat did not renew the lock"
    finally:
        lock.release()
    assert space.store == {} and lock.renewals >= 2


def test_a_lock_the_heartbeat_found_lost_fails_the_run():
    space = LockKeyspace()
    lock = session_lock.RunLock(space, SPEC)
    lock.acquire()
    lock.lost = errors.BrunoOpsError("lock taken", kind=errors.CONFIG)
    with pytest.raises(errors.BrunoOpsError, match="lock taken"):
        lock.refresh()


def test_sigterm_during_a_locked_run_releases_the_lock():
    """Issue 18 item 3: SIGTERM used to kill the process with the lock held for its whole TTL."""
    space = LockKeyspace()

    def body(_lock):
        assert space.store == {"ops:lock": "run-1"}
        os.kill(os.getpid(), signal.SIGTERM)
        raise AssertionError("SIGTERM did not interrupt the run")

    with pytest.raises(session_lock.Terminated, match="SIGTERM"):
        session_lock.run_with_lock(space, dict(SPEC, release=False), False, body)
    assert space.store == {}
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL

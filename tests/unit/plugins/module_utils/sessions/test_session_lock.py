"""The run lock over a keyspace: taken, re-entered by its owner, refused to another, released only by its owner."""

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
    assert result["lock"] == {"key": "ops:lock", "owner": "run-1", "held": False, "released": True}
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


def test_ttl_must_be_positive():
    with pytest.raises(errors.BrunoOpsError, match="lock.ttl"):
        session_lock.RunLock(LockKeyspace(), dict(SPEC, ttl=0))

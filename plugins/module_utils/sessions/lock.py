# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run lock of the session-changing modules: one Redis key with an expiry, owned by a token.

redis_session_cleanup and session_archive take the same `lock` option (LOCK_SPEC, documented by the
bruno.ops.session_lock doc fragment), so the scheduled playbook holds one lock over both. Acquire and release
are Lua scripts run through the keyspace: check-and-set and check-and-delete are atomic.
"""

from __future__ import annotations

import contextlib
import time
import uuid

from ansible_collections.bruno.ops.plugins.module_utils import errors
from ansible_collections.bruno.ops.plugins.module_utils.sessions.scope import key_text

# Mirrored by plugins/doc_fragments/session_lock.py: keep the two in step.
LOCK_SPEC = dict(
    key=dict(type="str", required=True, no_log=False),
    owner=dict(type="str"),
    ttl=dict(type="int", default=3600),
    release=dict(type="bool", default=True),
)


def lock_option():
    """The `lock` module option, ready to drop into an argument spec."""
    return dict(type="dict", options=LOCK_SPEC)


# Take it if free, keep it if it is ours already (same owner), else report who holds it.
LOCK_ACQUIRE_LUA = """
local held = redis.call('GET', KEYS[1])
if not held then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return {1, '', 0}
end
if held == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {2, '', 0}
end
return {0, held, redis.call('PTTL', KEYS[1])}
"""

LOCK_RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class RunLock:
    """A lock with an expiry in one Redis key (SET NX PX), owned by a token; re-entrant for the same owner."""

    def __init__(self, keyspace, spec, clock=time.monotonic):
        self.keyspace = keyspace
        self.key = spec["key"]
        self.owner = spec.get("owner") or "bruno.ops-%s" % uuid.uuid4()
        self.ttl_ms = int(spec["ttl"]) * 1000
        self.release_at_end = spec["release"]
        self.clock = clock
        self.held = False
        self.released = False
        self.last_refresh = None
        if self.ttl_ms <= 0:
            raise errors.BrunoOpsError("lock.ttl must be a positive number of seconds", kind=errors.INVALID)

    def acquire(self):
        state, holder, pttl = self.keyspace.run_script(
            self.keyspace.script(LOCK_ACQUIRE_LUA), [self.key], [self.owner, self.ttl_ms],
            action="take the run lock %s" % self.key)
        if not state:
            raise errors.BrunoOpsError(
                "refusing to run: lock %s is held by another run (owner %s) for %.0f more seconds; runs must not "
                "overlap, so wait for it to finish or for the lock to expire"
                % (self.key, key_text(holder), max(0, int(pttl)) / 1000.0),
                kind=errors.CONFIG, lock_key=self.key,
            )
        self.held = True
        self.last_refresh = self.clock()
        return state

    def refresh(self, force=False):
        """Extend the expiry (at most every third of the TTL); fail if the lock expired and someone took it."""
        if not self.held or (not force and self.clock() - self.last_refresh < self.ttl_ms / 3000.0):
            return
        self.acquire()

    def release(self):
        if not self.held:
            return False
        done = self.keyspace.run_script(self.keyspace.script(LOCK_RELEASE_LUA), [self.key], [self.owner],
                                        action="release the run lock %s" % self.key)
        self.held = False
        self.released = bool(done)
        return self.released

    def report(self):
        return {"key": self.key, "owner": self.owner, "held": self.held, "released": self.released}


def lock_report_skipped(spec):
    return {"key": spec["key"], "owner": spec.get("owner"), "held": False, "released": False,
            "skipped": "check_mode"}


def run_with_lock(keyspace, lock_spec, check_mode, body):
    """Run body(lock) under the run lock (none in check mode, which changes nothing, not even the lock).

    The lock is released at the end when lock.release is true, and always when the run fails, so a failed
    scheduled run never blocks the next one for the whole TTL.
    """
    if not lock_spec or check_mode:
        result = body(None)
        if lock_spec:
            result["lock"] = lock_report_skipped(lock_spec)
        return result
    lock = RunLock(keyspace, lock_spec)
    lock.acquire()
    try:
        result = body(lock)
    except BaseException:
        with contextlib.suppress(errors.BrunoOpsError):  # the run's own error is the one to report
            lock.release()
        raise
    if lock.release_at_end:
        lock.release()
    result["lock"] = lock.report()
    return result

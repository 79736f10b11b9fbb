# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run lock of the session-changing modules: one Redis key with an expiry, owned by a token.

redis_session_cleanup and session_archive take the same `lock` option (LOCK_SPEC, documented by the
bruno.ops.session_lock doc fragment), so the scheduled playbook holds one lock over both. Acquire and release
are Lua scripts run through the keyspace: check-and-set and check-and-delete are atomic.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
import uuid

from ansible_collections.bruno.ops.plugins.module_utils import errors
from ansible_collections.bruno.ops.plugins.module_utils.sessions.scope import key_text

# Mirrored by plugins/doc_fragments/session_lock.py: keep the two in step.
LOCK_SPEC = dict(
    key=dict(type="str", required=True, no_log=False),
    owner=dict(type="str"),
    ttl=dict(type="int", default=90),
    release=dict(type="bool", default=True),
)


def lock_option():
    """The `lock` module option, ready to drop into an argument spec."""
    return dict(type="dict", options=LOCK_SPEC)


# A killed run (SIGKILL, a crash of the host) cannot release its lock: the lock then blocks the next run until it
# expires, so the TTL is short and a heartbeat renews it while the run is alive.
MIN_TTL = 3


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
    """A lock with an expiry in one Redis key (SET NX PX), owned by a token; re-entrant for the same owner.

    While held, a heartbeat thread renews it every third of the TTL, independently of how long one step of the
    run takes; the run's own refresh() calls raise if the heartbeat found the lock lost."""

    def __init__(self, keyspace, spec, clock=time.monotonic):
        self.keyspace = keyspace
        self.key = spec["key"]
        self.owner = spec.get("owner") or "bruno.ops-%s" % uuid.uuid4()
        ttl = spec.get("ttl")
        if ttl is None or int(ttl) < MIN_TTL:
            raise errors.BrunoOpsError(
                "lock.ttl must be at least %d seconds (got %s): it is renewed every third of it while the run lives, "
                "and a killed run's lock expires after it; 60 to 120 suits a scheduled run" % (MIN_TTL, ttl),
                kind=errors.INVALID)
        self.ttl_ms = int(ttl) * 1000
        self.release_at_end = spec.get("release", True)
        self.clock = clock
        self.held = False
        self.released = False
        self.last_refresh = None
        self.lost = None  # the error the heartbeat met, raised by the run's next refresh()
        self.renewals = 0
        self._stop = threading.Event()
        self._thread = None
        self._mutex = threading.Lock()

    def acquire(self):
        with self._mutex:
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

    def interval(self):
        return self.ttl_ms / 3000.0

    def refresh(self, force=False):
        """Extend the expiry (at most every third of the TTL); fail if the lock expired and someone took it."""
        if self.lost is not None:
            raise self.lost
        if not self.held or (not force and self.clock() - self.last_refresh < self.interval()):
            return
        self.acquire()

    def start_heartbeat(self):
        """Renew the lock from a daemon thread until release(); it dies with the process, so the lock expires."""
        if self._thread is None and self.held:
            self._thread = threading.Thread(target=self._beat, name="bruno.ops-lock-heartbeat", daemon=True)
            self._thread.start()

    def _beat(self):
        while not self._stop.wait(self.interval()):
            try:
                self.acquire()
                self.renewals += 1
            except errors.BrunoOpsError as exc:  # lost, or Redis gone: the run's next refresh() reports it
                self.lost = exc
                return

    def stop_heartbeat(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval() + 5)

    def release(self):
        self.stop_heartbeat()
        if not self.held:
            return False
        self.held = False
        with self._mutex:
            done = self.keyspace.run_script(self.keyspace.script(LOCK_RELEASE_LUA), [self.key], [self.owner],
                                            action="release the run lock %s" % self.key)
        self.released = bool(done)
        return self.released

    def report(self):
        return {"key": self.key, "owner": self.owner, "held": self.held, "released": self.released,
                "ttl": self.ttl_ms // 1000}


class Terminated(errors.BrunoOpsError):
    """SIGTERM (or SIGINT) arrived during a locked run: raised in the main thread so the lock is released."""


@contextlib.contextmanager
def terminate_as_error():
    """SIGTERM/SIGINT become a Terminated error while the block runs (main thread only, default handlers only), so
    the failure path releases the lock instead of the process dying with it held for the whole TTL."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, _frame):
        raise Terminated("the run was stopped by signal %d (%s) and released its lock"
                         % (signum, signal.Signals(signum).name), kind=errors.API)

    previous = {}
    for signum in (signal.SIGTERM, signal.SIGINT):
        current = signal.getsignal(signum)
        if current in (signal.SIG_DFL, signal.default_int_handler):
            previous[signum] = signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def lock_report_skipped(spec):
    return {"key": spec["key"], "owner": spec.get("owner"), "held": False, "released": False,
            "skipped": "check_mode"}


def run_with_lock(keyspace, lock_spec, check_mode, body):
    """Run body(lock) under the run lock (none in check mode, which changes nothing, not even the lock).

    The lock is released at the end when lock.release is true, and always when the run fails, including on
    SIGTERM/SIGINT (turned into an error). A run killed outright (SIGKILL) or whose Redis went away cannot release
    it: the heartbeat stops with the process, and the lock expires within lock.ttl.
    """
    if not lock_spec or check_mode:
        result = body(None)
        if lock_spec:
            result["lock"] = lock_report_skipped(lock_spec)
        return result
    lock = RunLock(keyspace, lock_spec)
    with terminate_as_error():
        try:
            lock.acquire()
            lock.start_heartbeat()
            result = body(lock)
            lock.refresh()  # a lock lost during the last step is still a failed run
        except BaseException:
            with contextlib.suppress(errors.BrunoOpsError):  # the run's own error is the one to report
                lock.release()
            raise
        if lock.release_at_end:
            lock.release()
        else:
            lock.stop_heartbeat()  # held for the next task of the same owner; expires within lock.ttl otherwise
    result["lock"] = lock.report()
    return result

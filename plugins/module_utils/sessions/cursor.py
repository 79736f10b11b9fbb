# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The resumable walk shared by redis_session_cleanup and session_archive: run options, cursor tokens, the
paced and time-boxed SCAN loop, and the failure that carries the cursor to resume from.

The loop talks to Redis only through a Keyspace (plugins/module_utils/clients/redis_keyspace.py); the cursor
it hands out is the keyspace's own, as text, tied to the keyspace's epoch (a standalone server's run_id).
"""

from __future__ import annotations

import time

from ansible_collections.bruno.ops.plugins.module_utils import errors
from ansible_collections.bruno.ops.plugins.module_utils.clients.redis_keyspace import StandaloneKeyspace
from ansible_collections.bruno.ops.plugins.module_utils.sessions import scope
from ansible_collections.bruno.ops.plugins.module_utils.sessions.ratelimit import Deadline, RateLimiter


def parse_cursor(token, keyspace=StandaloneKeyspace):
    """'0', '<cursor>' or '<cursor>@<epoch>' -> (keyspace cursor, epoch or None). No I/O."""
    text = (token or "0").strip()
    position, _sep, epoch = text.partition("@")
    if position == "0":
        return keyspace.START, (epoch or None)
    try:
        return keyspace.decode_cursor(position), (epoch or None)
    except ValueError:
        raise errors.BrunoOpsError(
            "cursor must be a value this module returned ('0' to start over), got %r" % token, kind=errors.INVALID
        ) from None


def format_cursor(cursor, epoch, keyspace=StandaloneKeyspace):
    """'0' at the start (or end) of a walk; otherwise the keyspace's cursor tied to the epoch it belongs to."""
    if cursor == keyspace.START:
        return "0"
    text = keyspace.encode_cursor(cursor)
    return "%s@%s" % (text, epoch) if epoch else text


def validate_run_options(params):
    """The pacing, budget, sample and cursor options of scope.SCOPE_SPEC (and lock.key outside the prefix)."""
    if params["batch_size"] < 1 or params["batch_size"] > 10000:
        raise errors.BrunoOpsError("batch_size must be between 1 and 10000 (got %s)" % params["batch_size"],
                                   kind=errors.INVALID)
    if params.get("ops_per_second") is not None and params["ops_per_second"] <= 0:
        raise errors.BrunoOpsError("ops_per_second must be a positive number (omit it for no limit)",
                                   kind=errors.INVALID)
    if params.get("max_duration") is not None and params["max_duration"] <= 0:
        raise errors.BrunoOpsError("max_duration must be a positive number of seconds (omit it for no limit)",
                                   kind=errors.INVALID)
    if params["sample_size"] < 0:
        raise errors.BrunoOpsError("sample_size must be 0 or more", kind=errors.INVALID)
    parse_cursor(params["cursor"])
    if params.get("lock"):
        scope.outside_prefix("lock.key", params["lock"]["key"], params["prefix"])


class ScanLoop:
    """Resumable SCAN over one pattern, paced and time-boxed.

    `batches()` yields lists of keys; the position advances only after the consumer finished a batch, so a
    failure leaves `token()` pointing at the start of the unfinished batch, and reprocessing it is safe
    because every action of these modules is idempotent. A cursor carries the keyspace's epoch (Redis'
    run_id): a SCAN cursor means nothing to another server process (the hash seed changes at restart), so a
    cursor from a restarted server starts the scan over instead of silently skipping keys.
    """

    # Keys of one batch handed to the consumer at a time by parts(): max_duration and the lock are looked at between
    # parts, so one large batch cannot overstay the time budget.
    PART = 200

    def __init__(self, keyspace, pattern, params, clock=time.monotonic, sleep=time.sleep):
        self.keyspace = keyspace
        self.pattern = pattern
        self.count = params["batch_size"]
        self.deadline = Deadline(params.get("max_duration"), clock=clock)
        self.limiter = RateLimiter(params.get("ops_per_second"), clock=clock, sleep=sleep, deadline=self.deadline)
        self.warnings = []
        cursor, cursor_epoch = parse_cursor(params["cursor"], keyspace)
        self.run_id = keyspace.epoch()
        self.restarted = False
        if cursor != keyspace.START and cursor_epoch and cursor_epoch != self.run_id:
            self.warnings.append(
                "the cursor came from another Redis server process (it restarted since): a SCAN cursor is only "
                "valid on the process that issued it, so the scan started over from the beginning (safe: every "
                "action is idempotent)"
            )
            cursor = keyspace.START
            self.restarted = True
        self.cursor = cursor
        self.full_pass = cursor == keyspace.START  # this run walks the whole keyspace (not a resumed part)
        self.complete = False
        self.stopped_by = None
        self.walked = 0  # keys SCAN walked (its COUNT per step), matching the pattern or not
        self.interrupted = False  # stopped inside a batch: the cursor stays at its start

    def batches(self):
        """The keys of each SCAN step. The rate limit paces the SCAN itself: each step walks about COUNT keys of the
        database whether they match or not, so the pace counts those, not the matching keys."""
        while True:
            if self.deadline.expired():
                self.stopped_by = "max_duration"
                return
            count = self.limiter.burst(self.count)
            nxt, keys = self.keyspace.scan(self.cursor, self.pattern, count)
            self.walked += count
            if keys:
                yield keys
                if self.interrupted:
                    return
            self.cursor = nxt
            self.limiter.pace(count)
            if self.keyspace.done(nxt):
                self.complete = True
                return

    def parts(self, keys, size=None):
        """One batch's keys in parts; when max_duration runs out between two parts the walk stops there, and the
        cursor stays at the start of this batch (the resumed run handles it again: every action is idempotent)."""
        size = size or self.PART
        for offset in range(0, len(keys), size):
            if offset and self.deadline.expired():
                self.interrupted = True
                self.stopped_by = "max_duration"
                return
            yield keys[offset:offset + size]

    def finish(self):
        """After the loop: a server that restarted during the run invalidates the SCAN, so the run is incomplete."""
        if self.interrupted:
            self.complete = False
        run_id = self.keyspace.epoch()
        if run_id != self.run_id:
            self.warnings.append(
                "Redis restarted during the run (run_id changed), so the SCAN may have missed keys; run again "
                "(cursor '0') to finish"
            )
            self.complete = False
            self.cursor = self.keyspace.START
            self.run_id = run_id

    def position(self):
        """Where the walk is now, as a cursor token ('0' at the start)."""
        return format_cursor(self.cursor, self.run_id, self.keyspace)

    def token(self):
        """The cursor to resume from: '0' when the walk is complete."""
        return "0" if self.complete else self.position()

    def report(self):
        """The result keys every resumable run returns about its walk."""
        return dict(cursor=self.token(), complete=self.complete, stopped_by=self.stopped_by,
                    restarted_scan=self.restarted)


def failure_with_cursor(exc, loop, counts, what, guarantee):
    """The mid-run error again, with the resume cursor and what was done so far."""
    token = loop.position()
    message = "%s stopped after %d keys: %s. %s; rerun with cursor=%s to resume" % (
        what, counts.get("scanned", 0), exc.message, guarantee, token)
    if exc.kind == errors.UNREACHABLE:
        message += " (if Redis restarted meanwhile, the scan starts over by itself)"
    return errors.BrunoOpsError(message, kind=exc.kind, cursor=token, complete=False, **counts)


def resumable_failure(exc):
    """A failed run as a module result (for module_run's `failed: True`): msg, error {kind, message, cursor},
    and, at the top level as before, the cursor to resume from and the counts of what was done. Other errors
    (nothing was done yet) are raised again, for module_run's one failure shape."""
    if "cursor" not in exc.details:
        raise exc
    details = {key: value for key, value in exc.details.items() if key not in ("address", "exception")}
    result = dict(details, failed=True, msg=exc.message,
                  error={"kind": exc.kind, "message": exc.message, "cursor": details["cursor"]})
    return result


def diff_when_asked(result, module):
    """The run's `diff` stays in the result only under --diff (module None: always, for direct callers)."""
    if module is not None and not module._diff:
        result.pop("diff", None)
    return result

# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Session cleanup: which keys a run may touch, the per-key decision (as an atomic Lua script), the resumable
SCAN loop shared with session_archive, and the run lock of the scheduled playbook.

The pure parts (scope and policy validation, cursor tokens, tallies, diffs) do no I/O; `ScanLoop`,
`RunLock` and `run_cleanup()` talk to Redis only through a RedisClient and its `translate()`.
"""

from __future__ import annotations

import contextlib
import time
import uuid

from ansible_collections.bruno.ops.plugins.module_utils import errors
from ansible_collections.bruno.ops.plugins.module_utils.sessions.ratelimit import Deadline, RateLimiter

DEFAULT_PREFIX = "bruno:session:"
GLOB_SPECIAL = "*?[\\"
SESSION_TYPES = ("list", "hash", "string", "set", "zset", "stream")

# Options every session-scanning module takes (documented in each module; kept identical).
SCOPE_SPEC = dict(
    prefix=dict(type="str", default=DEFAULT_PREFIX),
    pattern=dict(type="str"),
    allow_broad_pattern=dict(type="bool", default=False),
    batch_size=dict(type="int", default=1000),
    ops_per_second=dict(type="float"),
    max_duration=dict(type="float"),
    cursor=dict(type="str", default="0"),
    sample_size=dict(type="int", default=10),
)

LOCK_SPEC = dict(
    key=dict(type="str", required=True, no_log=False),
    owner=dict(type="str"),
    ttl=dict(type="int", default=3600),
    release=dict(type="bool", default=True),
)

POLICY_SPEC = dict(
    missing_ttl=dict(type="int"),
    max_ttl=dict(type="int"),
    max_idle=dict(type="int"),
)

# One Lua call per SCAN batch decides and applies every policy for each key. Redis runs a script without
# interleaving any other client's command, so "idle longer than max_idle" is still true when UNLINK runs: a
# session touched before the script has a small idle time and is kept; one touched after it is recreated by
# the writer (as a new session) — no touch can land between the check and the delete.
# Only commands that do not update a key's access time are used (TYPE, OBJECT IDLETIME, PTTL, MEMORY USAGE),
# so a check-mode run leaves idle times exactly as it found them.
# While Redis has a fork running (BGSAVE, AOF rewrite) it does not record accesses, so idle times cannot be
# trusted: the script then defers idle deletions ('F') instead of acting on them.
# Reply: {codes, bytes, types}: one character per key, the estimated bytes of the deleted keys, and the type of
# each key of the wrong type.
#   '-' gone (expired or deleted since SCAN)   '?' not of session_type (skipped)   '.' nothing to do
#   'D' deleted (idle)   'S' TTL set (had none)   'C' TTL capped   'n' has no TTL, no missing_ttl policy
#   'F' idle, but deletion deferred (fork in progress)
CLEANUP_LUA = """
local apply = ARGV[1] == '1'
local want = ARGV[2]
local max_idle = tonumber(ARGV[3])
local missing_ms = tonumber(ARGV[4])
local max_ms = tonumber(ARGV[5])
local forking = false
if max_idle > 0 then
  forking = string.find(redis.call('INFO', 'persistence'), '_in_progress:1', 1, true) ~= nil
end
local codes = {}
local types = {}
local bytes = 0
for i = 1, #KEYS do
  local key = KEYS[i]
  local t = redis.call('TYPE', key)['ok']
  local c = '.'
  if t == 'none' then
    c = '-'
  elseif t ~= want then
    c = '?'
    types[#types + 1] = t
  elseif max_idle > 0 and redis.call('OBJECT', 'IDLETIME', key) > max_idle then
    if forking then
      c = 'F'
    else
      bytes = bytes + (redis.call('MEMORY', 'USAGE', key) or 0)
      if apply then redis.call('UNLINK', key) end
      c = 'D'
    end
  else
    local pttl = redis.call('PTTL', key)
    if pttl == -1 then
      if missing_ms > 0 then
        if apply then redis.call('PEXPIRE', key, missing_ms) end
        c = 'S'
      else
        c = 'n'
      end
    elseif max_ms > 0 and pttl > max_ms then
      if apply then redis.call('PEXPIRE', key, max_ms) end
      c = 'C'
    end
  end
  codes[i] = c
end
return {table.concat(codes), bytes, types}
"""

# The run lock: take it if free, keep it if it is ours already (same owner), else report who holds it.
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

ACTIONS = {"D": "deleted", "S": "ttl_set", "C": "ttl_capped"}


# ---- pure: scope, policies, cursor tokens -----------------------------------------------------------------

def literal_prefix(pattern):
    """The part of a SCAN MATCH glob before its first special character (backslash escapes honoured)."""
    out = []
    escaped = False
    for char in pattern:
        if escaped:
            out.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in "*?[":
            break
        else:
            out.append(char)
    return "".join(out)


def glob_escape(text):
    return "".join("\\" + c if c in GLOB_SPECIAL else c for c in text)


def resolve_scope(prefix, pattern, allow_broad_pattern):
    """The SCAN MATCH pattern a run uses, or BrunoOpsError(invalid_input) when it is too broad or inconsistent."""
    prefix = prefix or ""
    if pattern is None:
        pattern = glob_escape(prefix) + "*"
    if not pattern:
        raise errors.BrunoOpsError("pattern must not be empty", kind=errors.INVALID)
    literal = literal_prefix(pattern)
    if not allow_broad_pattern:
        if not literal:
            raise errors.BrunoOpsError(
                "refusing pattern %r: it has no literal prefix, so it could match every key in the database "
                "(for example the agent's sessions are 'bruno:session:*'); set allow_broad_pattern=true if you "
                "really mean it" % pattern,
                kind=errors.INVALID,
            )
        if not prefix:
            raise errors.BrunoOpsError(
                "refusing an empty prefix: it makes every key a session; set allow_broad_pattern=true if you "
                "really mean it",
                kind=errors.INVALID,
            )
    if not literal.startswith(prefix):
        raise errors.BrunoOpsError(
            "pattern %r does not start with prefix %r: every key the pattern matches must carry the prefix"
            % (pattern, prefix),
            kind=errors.INVALID,
        )
    return pattern


def validate_run_options(params):
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
    lock = params.get("lock")
    if lock and params["prefix"] and lock["key"].startswith(params["prefix"]):
        raise errors.BrunoOpsError("lock.key %r must not start with the sessions' prefix %r"
                                   % (lock["key"], params["prefix"]), kind=errors.INVALID)


def validate_policies(policies):
    """Returns the policies that are set; raises invalid_input for non-positive or contradictory values."""
    chosen = {name: value for name, value in (policies or {}).items() if value is not None}
    if not chosen:
        raise errors.BrunoOpsError(
            "no policy given: set at least one of policies.missing_ttl, policies.max_ttl, policies.max_idle",
            kind=errors.INVALID,
        )
    for name, value in chosen.items():
        if value <= 0:
            raise errors.BrunoOpsError(
                "policies.%s must be a positive number of seconds (got %s); omit it to leave that policy off"
                % (name, value),
                kind=errors.INVALID,
            )
    if "missing_ttl" in chosen and "max_ttl" in chosen and chosen["missing_ttl"] > chosen["max_ttl"]:
        raise errors.BrunoOpsError(
            "policies.missing_ttl (%s) is longer than policies.max_ttl (%s): the next run would cap what this one "
            "sets; use a missing_ttl no longer than max_ttl" % (chosen["missing_ttl"], chosen["max_ttl"]),
            kind=errors.INVALID,
        )
    return chosen


def parse_cursor(token):
    """'0', '<cursor>' or '<cursor>@<run_id>' -> (cursor, run_id or None)."""
    text = (token or "0").strip()
    number, _sep, run_id = text.partition("@")
    if not number.isdigit():
        raise errors.BrunoOpsError(
            "cursor must be a value this module returned ('0' to start over), got %r" % token, kind=errors.INVALID
        )
    return int(number), (run_id or None)


def format_cursor(cursor, run_id):
    """'0' when the scan is complete; otherwise the SCAN cursor tied to the server process it belongs to."""
    if not cursor:
        return "0"
    return "%d@%s" % (cursor, run_id) if run_id else str(cursor)


def connection_params(given, spec):
    """A connection option as the module got it, or the spec's defaults when the option was left out."""
    if given is not None:
        return given
    return {name: option.get("default") for name, option in spec.items()}


def key_text(key):
    return key.decode("utf-8", errors="backslashreplace") if isinstance(key, bytes) else str(key)


class Samples:
    """At most `size` example keys per category, in the order they were seen."""

    def __init__(self, size):
        self.size = size
        self.data = {}

    def add(self, category, key):
        bucket = self.data.setdefault(category, [])
        if len(bucket) < self.size:
            bucket.append(key_text(key))

    def get(self, category):
        return list(self.data.get(category, []))


def new_cleanup_counts():
    return dict(scanned=0, matched=0, ttl_set=0, ttl_capped=0, deleted=0, bytes_freed=0, skipped=0,
                vanished=0, without_ttl=0, deferred=0)


def tally_batch(counts, samples, keys, reply):
    """Fold one CLEANUP_LUA reply (codes, bytes, types) into the counters (pure)."""
    codes, nbytes, types = key_text(reply[0]), reply[1], reply[2]
    counts["scanned"] += len(keys)
    counts["bytes_freed"] += int(nbytes)
    for key, code in zip(keys, codes, strict=True):
        if code == "-":
            counts["vanished"] += 1
            continue
        if code == "?":
            counts["skipped"] += 1
            samples.add("skipped", key)
            continue
        counts["matched"] += 1
        if code in ACTIONS:
            counts[ACTIONS[code]] += 1
            samples.add(ACTIONS[code], key)
        elif code == "n":
            counts["without_ttl"] += 1
        elif code == "F":
            counts["deferred"] += 1
    for type_name in types:
        name = key_text(type_name)
        counts.setdefault("skipped_types", {})
        counts["skipped_types"][name] = counts["skipped_types"].get(name, 0) + 1


def cleanup_diff(counts, samples, policies):
    """Before/after summary for --diff: counts of what the policies look at, and example keys."""
    before = {"sessions": counts["matched"]}
    after = {"sessions": counts["matched"] - counts["deleted"]}
    if "max_idle" in policies:
        before["idle_longer_than_max_idle"] = counts["deleted"]
        after["idle_longer_than_max_idle"] = 0
    before["without_ttl"] = counts["ttl_set"] + counts["without_ttl"]
    after["without_ttl"] = counts["without_ttl"]
    if "max_ttl" in policies:
        before["ttl_longer_than_max_ttl"] = counts["ttl_capped"]
        after["ttl_longer_than_max_ttl"] = 0
    for action in ACTIONS.values():
        before["%s_keys" % action] = samples.get(action)
    return {"before": before, "after": after}


# ---- I/O: the SCAN loop, the lock, the cleanup run --------------------------------------------------------

class ScanLoop:
    """Resumable SCAN over one pattern, paced and time-boxed.

    `batches()` yields lists of keys; the position advances only after the consumer finished a batch, so a
    failure leaves `token()` pointing at the start of the unfinished batch, and reprocessing it is safe
    because every action of these modules is idempotent. A cursor carries the Redis run_id: a SCAN cursor
    means nothing to another server process (the hash seed changes at restart), so a cursor from a
    restarted server starts the scan over instead of silently skipping keys.
    """

    def __init__(self, client, pattern, params, clock=time.monotonic, sleep=time.sleep):
        self.client = client
        self.pattern = pattern
        self.count = params["batch_size"]
        self.deadline = Deadline(params.get("max_duration"), clock=clock)
        self.limiter = RateLimiter(params.get("ops_per_second"), clock=clock, sleep=sleep, deadline=self.deadline)
        self.warnings = []
        self.run_id = self.server_run_id()
        cursor, cursor_run_id = parse_cursor(params["cursor"])
        self.restarted = False
        if cursor and cursor_run_id and cursor_run_id != self.run_id:
            self.warnings.append(
                "the cursor came from another Redis server process (it restarted since): a SCAN cursor is only "
                "valid on the process that issued it, so the scan started over from the beginning (safe: every "
                "action is idempotent)"
            )
            cursor = 0
            self.restarted = True
        self.cursor = cursor
        self.full_pass = cursor == 0  # this run walks the whole keyspace (not a resumed part of a pass)
        self.complete = False
        self.stopped_by = None

    def server_run_id(self):
        with self.client.translate("read the server's run_id (INFO server)"):
            return self.client.raw.info("server").get("run_id")

    def batches(self):
        while True:
            if self.deadline.expired():
                self.stopped_by = "max_duration"
                return
            with self.client.translate("SCAN %s from cursor %s" % (self.pattern, self.cursor)):
                nxt, keys = self.client.raw.scan(self.cursor, match=self.pattern,
                                                 count=self.limiter.burst(self.count))
            if keys:
                yield keys
            self.cursor = nxt
            self.limiter.pace(len(keys))
            if nxt == 0:
                self.complete = True
                return

    def finish(self):
        """After the loop: a server that restarted during the run invalidates the SCAN, so the run is incomplete."""
        run_id = self.server_run_id()
        if run_id != self.run_id:
            self.warnings.append(
                "Redis restarted during the run (run_id changed), so the SCAN may have missed keys; run again "
                "(cursor '0') to finish"
            )
            self.complete = False
            self.cursor = 0
            self.run_id = run_id

    def token(self):
        return "0" if self.complete else format_cursor(self.cursor, self.run_id)


class RunLock:
    """A lock with an expiry in one Redis key (SET NX PX), owned by a token; re-entrant for the same owner."""

    def __init__(self, client, spec):
        self.client = client
        self.key = spec["key"]
        self.owner = spec.get("owner") or "bruno.ops-%s" % uuid.uuid4()
        self.ttl_ms = int(spec["ttl"]) * 1000
        self.release_at_end = spec["release"]
        self.held = False
        self.released = False
        self.last_refresh = None
        if self.ttl_ms <= 0:
            raise errors.BrunoOpsError("lock.ttl must be a positive number of seconds", kind=errors.INVALID)

    def _acquire_script(self):
        return self.client.raw.register_script(LOCK_ACQUIRE_LUA)

    def acquire(self):
        with self.client.translate("take the run lock %s" % self.key):
            state, holder, pttl = self._acquire_script()(keys=[self.key], args=[self.owner, self.ttl_ms])
        if not state:
            raise errors.BrunoOpsError(
                "refusing to run: lock %s is held by another run (owner %s) for %.0f more seconds; runs must not "
                "overlap, so wait for it to finish or for the lock to expire"
                % (self.key, key_text(holder), max(0, int(pttl)) / 1000.0),
                kind=errors.CONFIG, lock_key=self.key,
            )
        self.held = True
        self.last_refresh = time.monotonic()
        return state

    def refresh(self, force=False):
        """Extend the expiry (at most every third of the TTL); fail if the lock expired and someone took it."""
        if not self.held or (not force and time.monotonic() - self.last_refresh < self.ttl_ms / 3000.0):
            return
        self.acquire()

    def release(self):
        if not self.held:
            return False
        with self.client.translate("release the run lock %s" % self.key):
            done = self.client.raw.register_script(LOCK_RELEASE_LUA)(keys=[self.key], args=[self.owner])
        self.held = False
        self.released = bool(done)
        return self.released

    def report(self):
        return {"key": self.key, "owner": self.owner, "held": self.held, "released": self.released}


def lock_report_skipped(spec):
    return {"key": spec["key"], "owner": spec.get("owner"), "held": False, "released": False,
            "skipped": "check_mode"}


def run_with_lock(client, lock_spec, check_mode, body):
    """Run body(lock) under the run lock (none in check mode, which changes nothing, not even the lock).

    The lock is released at the end when lock.release is true, and always when the run fails, so a failed
    scheduled run never blocks the next one for the whole TTL.
    """
    if not lock_spec or check_mode:
        result = body(None)
        if lock_spec:
            result["lock"] = lock_report_skipped(lock_spec)
        return result
    lock = RunLock(client, lock_spec)
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


def failure_with_cursor(exc, loop, counts, what, guarantee):
    """The mid-run error again, with the resume cursor and what was done so far."""
    token = format_cursor(loop.cursor, loop.run_id) if loop.cursor else "0"
    message = "%s stopped after %d keys: %s. %s; rerun with cursor=%s to resume" % (
        what, counts.get("scanned", 0), exc.message, guarantee, token)
    if exc.kind == errors.UNREACHABLE:
        message += " (if Redis restarted meanwhile, the scan starts over by itself)"
    return errors.BrunoOpsError(message, kind=exc.kind, cursor=token, complete=False, **counts)


def run_cleanup(client, params, check_mode, *, clock=time.monotonic, sleep=time.sleep):
    """Apply (or, in check mode, predict) the policies to every key of the scope; returns the result dict."""
    pattern = resolve_scope(params["prefix"], params["pattern"], params["allow_broad_pattern"])
    validate_run_options(params)
    policies = validate_policies(params["policies"])
    started = clock()

    def body(lock):
        loop = ScanLoop(client, pattern, params, clock=clock, sleep=sleep)
        script = client.raw.register_script(CLEANUP_LUA)
        args = ["0" if check_mode else "1", params["session_type"], policies.get("max_idle", 0),
                policies.get("missing_ttl", 0) * 1000, policies.get("max_ttl", 0) * 1000]
        counts = new_cleanup_counts()
        samples = Samples(params["sample_size"])
        try:
            for keys in loop.batches():
                with client.translate("apply the cleanup policies to %d keys" % len(keys)):
                    reply = script(keys=keys, args=args)
                tally_batch(counts, samples, keys, reply)
                if lock is not None:
                    lock.refresh()
            loop.finish()
        except errors.BrunoOpsError as exc:
            raise failure_with_cursor(exc, loop, counts, "session cleanup",
                                      "Each batch is applied atomically, so nothing is half-applied") from None
        return finish_result(counts, samples, policies, loop, dict(duration=clock() - started, pattern=pattern))

    result = run_with_lock(client, params.get("lock"), check_mode, body)
    changed = any(result[name] for name in ACTIONS.values())
    result["changed"] = changed
    return result


def finish_result(counts, samples, policies, loop, extra):
    result = dict(counts)
    result.setdefault("skipped_types", {})
    pattern = extra["pattern"]
    result.update(
        pattern=pattern,
        duration=round(extra["duration"], 3),
        cursor=loop.token(),
        complete=loop.complete,
        stopped_by=loop.stopped_by,
        restarted_scan=loop.restarted,
        samples={name: samples.get(name) for name in ("deleted", "ttl_set", "ttl_capped", "skipped")},
        policies=policies,
        diff=cleanup_diff(counts, samples, policies),
        warnings=list(loop.warnings),
    )
    if counts["deferred"]:
        result["warnings"].append(
            "%d idle sessions were not deleted because Redis was saving (BGSAVE or AOF rewrite), when it does "
            "not record accesses; run again after the save" % counts["deferred"]
        )
    if counts["skipped"]:
        result["warnings"].append(
            "%d keys matching %s are not of the session type and were skipped (types: %s)"
            % (counts["skipped"], pattern, ", ".join(sorted(result["skipped_types"])))
        )
    return result

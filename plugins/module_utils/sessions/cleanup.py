# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Session cleanup: the policies, the per-key decision (as an atomic Lua script) and the cleanup run.

The scope, the resumable walk and the run lock are the sessions package's (scope.py, cursor.py, lock.py);
the pure parts here (policy validation, tallies, diffs) do no I/O, and `run_cleanup()` talks to Redis only
through a Keyspace (plugins/module_utils/clients/redis_keyspace.py).
"""

from __future__ import annotations

import time

from ansible_collections.bruno.ops.plugins.module_utils import errors
from ansible_collections.bruno.ops.plugins.module_utils.sessions import scope, shapes
from ansible_collections.bruno.ops.plugins.module_utils.sessions.cursor import (
    ScanLoop,
    failure_with_cursor,
    validate_run_options,
)
from ansible_collections.bruno.ops.plugins.module_utils.sessions.lock import run_with_lock
from ansible_collections.bruno.ops.plugins.module_utils.sessions.scope import Samples, key_text

POLICY_SPEC = dict(
    missing_ttl=dict(type="int"),
    max_ttl=dict(type="int"),
    max_idle=dict(type="int"),
)

# One Lua call per SCAN batch (or per part of one, see run_cleanup) decides and applies every policy for each
# key. Redis runs a script without interleaving any other client's command, so "idle longer than max_idle" is
# still true when UNLINK runs: a session touched before the script has a small idle time and is kept; one touched
# after it is recreated by the writer (as a new session) — no touch can land between the check and the delete.
# Only commands that do not update a key's access time are used (TYPE, OBJECT IDLETIME, PTTL, MEMORY USAGE),
# so a check-mode run leaves idle times exactly as it found them.
# While Redis has a fork running (BGSAVE, AOF rewrite, a replica's full sync, a module's fork) it does not record
# accesses, not even writes (lookupKey skips the LRU update while a child exists): a session used during the fork
# keeps the idle time it had when the fork started, and keeps ageing from there after the fork ended. So an idle
# time is only trusted when the last fork ended longer than max_idle (plus a margin for the 1 s resolution) ago:
# then even a session used at the very end of that fork has been unused for longer than max_idle. The end of the
# last fork is known when every fork since the start was an RDB save to disk and the last one succeeded
# (total_forks <= rdb_saves, no AOF rewrite): rdb_last_save_time. Otherwise (AOF rewrites, diskless replica syncs,
# a failed save) Redis 7.0 reports no end time, and idle deletion is deferred. The TTL policies still apply:
# EXPIRE is recorded during a fork.
# Reply: {codes, bytes, types, fork}: one character per key, the estimated bytes of the deleted keys, the type of
# each key of the wrong type, and {in_progress, seconds since the last fork ended (-1: unknown, -2: no fork),
# uptime_in_seconds}.
#   '-' gone (expired or deleted since SCAN)   '?' not of session_type (skipped)   '.' nothing to do
#   'D' deleted (idle)   'S' TTL set (had none)   'C' TTL capped   'n' has no TTL, no missing_ttl policy
#   'F' idle, but deletion deferred (fork in progress)   'R' idle, but deferred (a fork ended too recently)
CLEANUP_LUA = """
local apply = ARGV[1] == '1'
local want = ARGV[2]
local max_idle = tonumber(ARGV[3])
local missing_ms = tonumber(ARGV[4])
local max_ms = tonumber(ARGV[5])
local margin = tonumber(ARGV[6])
local deferred = nil
local fork = {0, -2, -1}
if max_idle > 0 then
  local info = redis.call('INFO', 'persistence') .. redis.call('INFO', 'stats') .. redis.call('INFO', 'server')
  local function field(name)
    return tonumber(string.match(info, '\\n' .. name .. ':(%-?%d+)')) or 0
  end
  fork[3] = field('uptime_in_seconds')
  if field('rdb_bgsave_in_progress') == 1 or field('aof_rewrite_in_progress') == 1
      or field('module_fork_in_progress') == 1 then
    deferred = 'F'
    fork[1] = 1
  elseif field('total_forks') > 0 then
    local age = -1
    if field('aof_rewrites') == 0 and field('total_forks') <= field('rdb_saves')
        and string.find(info, '\\nrdb_last_bgsave_status:ok', 1, true) then
      age = tonumber(redis.call('TIME')[1]) - field('rdb_last_save_time')
    end
    fork[2] = age
    if age < 0 or age <= max_idle + margin then deferred = 'R' end
  end
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
    if deferred then
      c = deferred
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
return {table.concat(codes), bytes, types, fork}
"""

# Seconds beyond max_idle that the last fork must have ended before idle times count again: OBJECT IDLETIME and
# rdb_last_save_time are whole seconds.
FORK_MARGIN = 2

ACTIONS = {"D": "deleted", "S": "ttl_set", "C": "ttl_capped"}


# ---- pure: policies, tallies, diffs ---------------------------------------------------------------------

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


def new_cleanup_counts():
    return dict(scanned=0, matched=0, ttl_set=0, ttl_capped=0, deleted=0, bytes_freed=0, skipped=0,
                vanished=0, without_ttl=0, deferred=0, deferred_after_fork=0)


def fork_state(reply):
    """The script's fork report: (a fork is running, seconds since the last one ended: -1 unknown, -2 none,
    Redis' uptime or None)."""
    if len(reply) < 4 or not reply[3]:
        return False, -2, None
    uptime = int(reply[3][2]) if len(reply[3]) > 2 and int(reply[3][2]) >= 0 else None
    return bool(int(reply[3][0])), int(reply[3][1]), uptime


def tally_batch(counts, samples, keys, reply, show=key_text):
    """Fold one CLEANUP_LUA reply (codes, bytes, types) into the counters (pure); `show` names a key for output."""
    codes, nbytes, types = key_text(reply[0]), reply[1], reply[2]
    counts["scanned"] += len(keys)
    counts["bytes_freed"] += int(nbytes)
    for key, code in zip(keys, codes, strict=True):
        if code == "-":
            counts["vanished"] += 1
            continue
        if code == "?":
            counts["skipped"] += 1
            samples.add("skipped", show(key))
            continue
        counts["matched"] += 1
        if code in ACTIONS:
            counts[ACTIONS[code]] += 1
            samples.add(ACTIONS[code], show(key))
        elif code == "n":
            counts["without_ttl"] += 1
        elif code == "F":
            counts["deferred"] += 1
        elif code == "R":
            counts["deferred"] += 1
            counts["deferred_after_fork"] += 1
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


# ---- I/O: the cleanup run ----------------------------------------------------------------------------

UNDO = ("deleted sessions cannot be brought back (UNLINK); a TTL that was set or capped can be changed with "
        "PERSIST or EXPIRE on the keys (samples name some)")


def run_cleanup(keyspace, params, check_mode, *, clock=time.monotonic, sleep=time.sleep):
    """Apply (or, in check mode, predict) the policies to every key of the scope; returns the result dict."""
    pattern = scope.resolve_scope(params["prefix"], params["pattern"], params["allow_broad_pattern"])
    validate_run_options(params)
    policies = validate_policies(params["policies"])
    started = clock()

    def body(lock):
        loop = ScanLoop(keyspace, pattern, params, clock=clock, sleep=sleep)
        script = keyspace.script(CLEANUP_LUA)
        session_type = params.get("session_type") or shapes.type_of_shape(params.get("session_shape") or "turns")
        prefix = params["prefix"] or ""

        def show(key):
            return shapes.redact_key(key_text(key), prefix, params.get("redact", True))

        args = ["0" if check_mode else "1", session_type, policies.get("max_idle", 0),
                policies.get("missing_ttl", 0) * 1000, policies.get("max_ttl", 0) * 1000, FORK_MARGIN]
        counts = new_cleanup_counts()
        samples = Samples(params["sample_size"])
        forks = {"in_progress": False, "ended_seconds_ago": None, "uptime": None}
        try:
            for keys in loop.batches():
                # Parts of a batch, so max_duration and the lock are looked at inside a large batch too.
                for part in loop.parts(keys):
                    reply = keyspace.run_script(script, part, args,
                                                action="apply the cleanup policies to %d keys" % len(part))
                    tally_batch(counts, samples, part, reply, show)
                    note_forks(forks, reply)
                    if lock is not None:
                        lock.refresh()
            loop.finish()
        except errors.BrunoOpsError as exc:
            raise failure_with_cursor(exc, loop, counts, "session cleanup",
                                      "Each batch is applied atomically, so nothing is half-applied") from None
        extra = dict(duration=clock() - started, pattern=pattern, forks=forks, uptime=forks["uptime"],
                     walked=loop.walked, slept=loop.limiter.slept)
        return finish_result(counts, samples, policies, loop, extra)

    result = run_with_lock(keyspace, params.get("lock"), check_mode, body)
    result["changed"] = any(result[name] for name in ACTIONS.values())
    result["change"] = scope.session_change("session_cleanup", keyspace.address, pattern, result["diff"],
                                            changed=result["changed"], undo=UNDO, check_mode=check_mode)
    return result


def note_forks(forks, reply):
    """The latest fork state (and uptime) a script saw (the warnings name them)."""
    in_progress, age, uptime = fork_state(reply)
    if uptime is not None and forks["uptime"] is None:
        forks["uptime"] = uptime
    forks["in_progress"] = forks["in_progress"] or in_progress
    if not in_progress and age != -2:
        forks["ended_seconds_ago"] = age


def idle_warnings(counts, policies, extra):
    """Why idle sessions were kept: a fork running or ended too recently, or a restarted Redis (pure)."""
    out = []
    max_idle = policies.get("max_idle")
    during = counts["deferred"] - counts["deferred_after_fork"]
    if during:
        out.append(
            "%d idle sessions were not deleted because Redis was saving (BGSAVE, AOF rewrite or another fork) while "
            "their batch ran: it records no access then, so their idle time cannot be trusted; a later run deletes "
            "them once the idle times count again" % during)
    if counts["deferred_after_fork"]:
        age = extra["forks"].get("ended_seconds_ago")
        when = ("the last fork ended %d s ago" % age if age is not None and age >= 0 else
                "Redis does not report when its last fork ended (an AOF rewrite, a replica's full sync or a failed "
                "save since it started)")
        out.append(
            "%d idle sessions were not deleted: %s, and during a fork (BGSAVE, AOF rewrite) Redis records no "
            "access, so a session used then still shows its old idle time; idle deletion resumes once the last fork "
            "ended more than max_idle (%d s) ago. The TTL policies are not affected"
            % (counts["deferred_after_fork"], when, max_idle))
    uptime = extra.get("uptime")
    if max_idle and uptime is not None and uptime < max_idle:
        out.append(
            "Redis started %d s ago, less than max_idle (%d s): idle clocks started over at the restart, so sessions "
            "unused since before it count as idle only from then on, and this run deletes none of them as idle"
            % (uptime, max_idle))
    return out


def finish_result(counts, samples, policies, loop, extra):
    result = dict(counts)
    result.setdefault("skipped_types", {})
    pattern = extra["pattern"]
    result.update(loop.report())
    result.update(
        pattern=pattern,
        duration=round(extra["duration"], 3),
        samples=samples.report(("deleted", "ttl_set", "ttl_capped", "skipped")),
        policies=policies,
        diff=cleanup_diff(counts, samples, policies),
        warnings=list(loop.warnings) + idle_warnings(counts, policies, extra),
        walked=extra.get("walked", 0),
        rate_limited_seconds=round(extra.get("slept", 0.0), 3),
        idle_clocks_started_over=bool("max_idle" in policies and extra.get("uptime") is not None
                                      and extra["uptime"] < policies["max_idle"]),
        last_fork_ended_seconds_ago=extra.get("forks", {}).get("ended_seconds_ago"),
    )
    if counts["skipped"]:
        result["warnings"].append(
            "%d keys matching %s are not of the session type and were skipped (types: %s)"
            % (counts["skipped"], pattern, ", ".join(sorted(result["skipped_types"])))
        )
    return result

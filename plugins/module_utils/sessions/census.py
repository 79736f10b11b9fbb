# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Census of the session keys in one Redis database, read-only and bounded in time and memory.

How many keys match the pattern (exact by SCAN, or estimated from RANDOMKEY samples with a binomial error
when the database is too large or the scan runs out of time), and, from a random sample of them, the TTL
and idle-time histograms, MEMORY USAGE and list length distributions and the largest keys. Never KEYS;
every per-key read is pipelined. The top part is pure (histograms, estimates, glob matching) and unit
tested; Census does the reads through a Keyspace (plugins/module_utils/clients/redis_keyspace.py).
"""

from __future__ import annotations

import heapq
import math
import random
import re
import time

from ansible_collections.bruno.ops.plugins.module_utils import errors
from ansible_collections.bruno.ops.plugins.module_utils.facts import series_stats
from ansible_collections.bruno.ops.plugins.module_utils.sessions import shapes
from ansible_collections.bruno.ops.plugins.module_utils.sessions.scope import key_text, literal_prefix

# Upper bounds of the histogram buckets, in seconds; the last bucket of each is "at or above the last bound".
TTL_BUCKETS = (("lt_1h", 3600), ("lt_24h", 86400))
IDLE_BUCKETS = (("lt_1m", 60), ("lt_10m", 600), ("lt_1h", 3600), ("lt_24h", 86400))
MEASURE_BATCH = 500  # keys measured between two looks at the clock
LENGTH_COMMANDS = {"list": "LLEN", "hash": "HLEN", "string": "STRLEN"}
CLIENT_ROWS = 50
SLOWLOG_ENTRIES = 128
Z95 = 1.959964


# ---- pure helpers -----------------------------------------------------------------------------------

def glob_to_regex(pattern):
    """A compiled regex (on latin-1 text) that matches exactly the keys the Redis glob matches.

    Redis globs: * any run, ? one byte, [abc] [^abc] [a-z] classes, backslash escapes the next byte.
    """
    out, i, n = [], 0, len(pattern)
    while i < n:
        char = pattern[i]
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i]))
        elif char == "[":
            i, cls = _glob_class(pattern, i + 1)
            out.append(cls)
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def _glob_class(pattern, i):
    """(index of the closing bracket, regex class) for a [...] starting after the bracket at i - 1."""
    n = len(pattern)
    negate = i < n and pattern[i] == "^"
    if negate:
        i += 1
    items = []
    while i < n and pattern[i] != "]":
        if pattern[i] == "\\" and i + 1 < n:
            items.append(re.escape(pattern[i + 1]))
            i += 2
        elif i + 2 < n and pattern[i + 1] == "-" and pattern[i + 2] != "]":
            low, high = sorted((pattern[i], pattern[i + 2]))
            items.append("%s-%s" % (re.escape(low), re.escape(high)))
            i += 3
        else:
            items.append(re.escape(pattern[i]))
            i += 1
    if not items:  # [] matches nothing, [^] any one byte
        return i, "." if negate else "(?!)"
    return i, "[%s%s]" % ("^" if negate else "", "".join(items))


def matches(regex, key):
    """Whether a key (bytes) matches a glob_to_regex() regex."""
    return regex.fullmatch(key.decode("latin-1") if isinstance(key, bytes) else key) is not None


def wilson_interval(hits, n, z=Z95):
    """(low, high) of the Wilson score interval for a proportion; sane even at 0 or n hits."""
    if n <= 0:
        return 0.0, 1.0
    p = hits / float(n)
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def estimate_count(dbsize, hits, n):
    """Keys matching, estimated as DBSIZE x the matched share of n random keys, with its binomial error."""
    if n <= 0:
        return {"count": None, "stderr": None, "ci95": None, "fraction": None}
    p = hits / float(n)
    low, high = wilson_interval(hits, n)
    return {
        "count": int(round(dbsize * p)),
        "stderr": round(dbsize * math.sqrt(p * (1 - p) / n), 1),
        "ci95": [int(math.floor(dbsize * low)), int(math.ceil(dbsize * high))],
        "fraction": p,
    }


def histogram(seconds, buckets):
    """Counts per bucket for non-negative durations; the last key holds those at or above the last bound."""
    last = "ge_%s" % buckets[-1][0].split("_", 1)[1]
    counts = dict.fromkeys([name for name, _bound in buckets] + [last], 0)
    for value in seconds:
        for name, bound in buckets:
            if value < bound:
                counts[name] += 1
                break
        else:
            counts[last] += 1
    return counts


def ttl_summary(pttls_ms):
    """TTL histogram (none / <1h / <24h / >=24h) of keys' PTTLs (-1 = no TTL) and the share without one."""
    without = sum(1 for ttl in pttls_ms if ttl < 0)
    with_ttl = [ttl / 1000.0 for ttl in pttls_ms if ttl >= 0]
    result = {"none": without}
    result.update(histogram(with_ttl, TTL_BUCKETS))
    total = len(pttls_ms)
    result["without_ttl_pct"] = round(100.0 * without / total, 2) if total else None
    result["p50_seconds"] = series_stats.percentile(with_ttl, 50)
    result["max_seconds"] = max(with_ttl) if with_ttl else None
    return result


def distribution(values):
    """mean / p50 / p95 / max of a list of numbers, None values for an empty list."""
    return {
        "mean": series_stats.mean(values),
        "p50": series_stats.percentile(values, 50),
        "p95": series_stats.percentile(values, 95),
        "max": max(values) if values else None,
    }


# ---- reads --------------------------------------------------------------------------------------------

class Census:
    """One census run over `keyspace` (a Keyspace). `options` is the module's parameters."""

    def __init__(self, keyspace, options, clock=time.monotonic, rng=None):
        self.keyspace = keyspace
        self.o = options
        self.clock = clock
        self.rng = rng or random.Random()  # noqa: S311 - picks a sample, guards nothing
        self.regex = glob_to_regex(options["pattern"].encode("utf-8").decode("latin-1"))
        self.notes = []
        self.not_reported = []
        self.session_type = options.get("session_type") or shapes.type_of_shape(options.get("session_shape") or "turns")
        self.unit = shapes.SHAPE_UNITS[options.get("session_shape") or "turns"]
        self.lengths = False  # whether lengths are read (never where reading one restarts an idle time)
        self.lengths_reason = None
        self.prefix = literal_prefix(options["pattern"])

    def run(self):
        started = self.clock()
        deadline = started + self.o["max_scan_seconds"]
        server, dbsize = self.server_facts()
        if self.o["context_lengths"]:
            self._no_touch(server.get("version"))
        else:
            self.lengths_reason = "context_lengths is false"

        exact_possible = dbsize <= self.o["exact_count_limit"]
        stop_at = None if exact_possible else self.o["sample_size"]
        seen, scan = self.scan(deadline, stop_at)
        if not exact_possible:
            scan["stopped_by"] = scan["stopped_by"] or "enough_for_sample"
        estimate = None
        if scan["complete"]:
            count, exact, stderr, ci95, method = len(seen), True, 0.0, [len(seen), len(seen)], "scan"
        else:
            estimate = self.estimate(dbsize)
            count = max(estimate["count"] or 0, len(seen))
            stderr = estimate["stderr"]
            ci95 = [max(estimate["ci95"][0], len(seen)), max(estimate["ci95"][1], len(seen))]
            exact, method = False, "randomkey_sample"
            why = ("DBSIZE %d is above exact_count_limit %d" % (dbsize, self.o["exact_count_limit"])
                   if not exact_possible else "SCAN did not finish within max_scan_seconds")
            self.notes.append("count estimated from %d random keys (%s): %d +/- %.0f (1 standard error)"
                              % (estimate["samples"], why, count, stderr))

        keys = list(seen)
        sample_keys = keys if len(keys) <= self.o["sample_size"] else self.rng.sample(keys, self.o["sample_size"])
        records = self.inspect(sample_keys)
        sessions = [r for r in records if r["type"] != "none"]
        vanished = len(records) - len(sessions)

        everything = scan["complete"] and len(sample_keys) == len(keys)
        largest, scope = self.largest(sessions, keys, scan["complete"] and not everything, deadline)
        if scope == "sample" and everything:
            scope = "all"
        result = {
            "pattern": self.o["pattern"],
            "dbsize": dbsize,
            "count": count,
            "count_exact": exact,
            "count_method": method,
            "count_stderr": stderr,
            "count_ci95": ci95,
            "scan": scan,
            "estimate": estimate,
            "sample": {"size": len(sessions), "vanished": vanished, "of": count},
            "server": server,
        }
        result.update(self.summarize(sessions, count))
        result["largest"] = largest
        result["largest_scope"] = scope
        result["seconds"] = round(self.clock() - started, 3)
        result["notes"] = self.notes
        result["not_reported"] = self.not_reported
        return result

    # -- server --------------------------------------------------------------------------------------

    def server_facts(self):
        infos, dbsize = self.keyspace.info("server", "clients", "memory", "stats", "keyspace")
        srv, clients, memory, stats, keyspace = infos
        maxmemory = memory.get("maxmemory")
        used = memory.get("used_memory")
        db = keyspace.get("db%d" % self.keyspace.db_index()) or {}
        facts = {
            "version": srv.get("redis_version"),
            "connected_clients": clients.get("connected_clients"),
            "blocked_clients": clients.get("blocked_clients"),
            "maxclients": clients.get("maxclients"),
            "used_memory_bytes": used,
            "used_memory_peak_bytes": memory.get("used_memory_peak"),
            "used_memory_rss_bytes": memory.get("used_memory_rss"),
            "maxmemory_bytes": maxmemory,
            "maxmemory_policy": memory.get("maxmemory_policy"),
            "used_memory_pct_of_maxmemory": round(100.0 * used / maxmemory, 2) if maxmemory and used else None,
            "evicted_keys": stats.get("evicted_keys"),
            "expired_keys": stats.get("expired_keys"),
            "db_keys_with_expiry": db.get("expires", 0 if dbsize == 0 else None),
        }
        for name, value in facts.items():
            if value is None and name != "used_memory_pct_of_maxmemory":
                self.not_reported.append("server.%s" % name)
        facts["clients_by_addr"] = self.client_facts()
        facts["slowlog_keys"] = self.slowlog_facts()
        return facts, int(dbsize)

    def _no_touch(self, version):
        """Ask Redis (7.2+) not to count this connection's reads as accesses. Where it cannot, lengths are not
        read at all (LLEN/HLEN/STRLEN would restart the sampled sessions' idle times, and the cleanup that runs
        next would spare them): sizes in bytes (MEMORY USAGE, which never touches) stand in."""
        try:
            took = self.keyspace.no_touch()
        except errors.BrunoOpsError:
            took = False
        if took:
            self.lengths = True
            return
        self.lengths_reason = ("Redis %s has no CLIENT NO-TOUCH (it needs 7.2+): reading a session's length there "
                               "restarts its idle time, so lengths were not read; context_bytes gives sizes "
                               "(MEMORY USAGE) instead" % version)
        self.notes.append(self.lengths_reason)

    def client_facts(self):
        """CLIENT LIST grouped by client address (connections per pod), without this module's own connection."""
        try:
            entries = self.keyspace.clients()
        except errors.BrunoOpsError as exc:
            self.notes.append("CLIENT LIST refused: %s" % exc.message)
            self.not_reported.append("server.clients_by_addr")
            return None
        return clients_by_addr(entries)

    def slowlog_facts(self):
        """SLOWLOG entries of KEYS (the agent's GET /stats runs KEYS bruno:session:*)."""
        try:
            entries = self.keyspace.slowlog(SLOWLOG_ENTRIES)
        except errors.BrunoOpsError as exc:
            self.notes.append("SLOWLOG refused: %s" % exc.message)
            self.not_reported.append("server.slowlog_keys")
            return None
        return slowlog_keys(entries)

    # -- counting ------------------------------------------------------------------------------------

    def scan(self, deadline, stop_at):
        """SCAN MATCH until the cursor returns to 0, the deadline passes, or `stop_at` keys are seen."""
        space, pattern = self.keyspace, self.o["pattern"]
        seen, cursor, calls = set(), space.START, 0
        stopped_by = None
        started = self.clock()
        while True:
            cursor, keys = space.scan(cursor, pattern, self.o["scan_count"], action="SCAN %s" % pattern)
            calls += 1
            seen.update(keys)
            if space.done(cursor):
                break
            if stop_at is not None and len(seen) >= stop_at:
                stopped_by = "enough_for_sample"
                break
            if self.clock() >= deadline:
                stopped_by = "max_scan_seconds"
                break
        return seen, {"calls": calls, "keys_seen": len(seen), "complete": space.done(cursor),
                      "stopped_by": stopped_by, "seconds": round(self.clock() - started, 3)}

    def estimate(self, dbsize):
        """Share of RANDOMKEY samples that match the pattern, scaled to DBSIZE."""
        n = self.o["estimate_samples"] if dbsize else 0
        keys = [k for k in self.keyspace.random_keys(n) if k is not None]
        hits = sum(1 for k in keys if matches(self.regex, k))
        result = estimate_count(dbsize, hits, len(keys))
        result.update({"samples": len(keys), "matched": hits})
        return result

    # -- per key -------------------------------------------------------------------------------------

    def inspect(self, keys):
        """TYPE, PTTL, OBJECT IDLETIME and MEMORY USAGE of each key, then LLEN of the lists (after the idle
        time was read: LLEN counts as an access)."""
        replies = self.keyspace.read_keys(keys, ("TYPE", "PTTL", "IDLETIME", "MEMORY"),
                                          action="read TYPE/PTTL/IDLETIME/MEMORY USAGE of sampled keys")
        records, idle_error = [], None
        for key, (kind, pttl, idle_reply, size) in zip(keys, replies, strict=True):
            idle = idle_reply
            if isinstance(idle_reply, Exception):
                idle_error, idle = str(idle_reply), None
            records.append({"key": key, "type": kind, "pttl": pttl if isinstance(pttl, int) else None,
                            "idle": idle, "bytes": size if isinstance(size, int) else None, "length": None})
        if idle_error:
            reason = idle_error.split(".", maxsplit=1)[0]
            self.notes.append("OBJECT IDLETIME refused (%s): idle times not reported" % reason)
            self.not_reported.append("idle")
        command = LENGTH_COMMANDS.get(self.session_type)
        if self.lengths and command:
            measured = [r for r in records if r["type"] == self.session_type]
            lengths = self.keyspace.pipeline([(command, r["key"]) for r in measured],
                                             action="read %s of sampled session keys" % command)
            for index, record in enumerate(measured):
                record["length"] = lengths[index] if isinstance(lengths[index], int) else None
        return records

    def largest(self, sessions, keys, measure_all, deadline):
        """The `largest` keys by MEMORY USAGE: over every key when the scan was complete, the sample is not
        all of them, and time allows; else over the sample (which may be every key)."""
        n = self.o["largest"]
        if n <= 0:
            return [], "none"
        if measure_all:
            sizes = {}
            for offset in range(0, len(keys), MEASURE_BATCH):
                if self.clock() >= deadline:
                    self.notes.append("largest keys taken from the sample: max_scan_seconds ran out measuring all")
                    break
                batch = keys[offset:offset + MEASURE_BATCH]
                measured = self.keyspace.pipeline([("MEMORY", k) for k in batch], action="read MEMORY USAGE")
                sizes.update((key, measured[i]) for i, key in enumerate(batch))
            else:
                top = heapq.nlargest(n, ((s, k) for k, s in sizes.items() if isinstance(s, int)))
                records = [r for r in self.inspect([k for _s, k in top]) if r["type"] != "none"]
                return [self._row(r) for r in sorted(records, key=lambda r: -(r["bytes"] or 0))], "all"
        ranked = sorted((r for r in sessions if r["bytes"] is not None), key=lambda r: -r["bytes"])[:n]
        return [self._row(r) for r in ranked], "sample"

    def _row(self, record):
        pttl = record["pttl"]
        shown = shapes.redact_key(key_text(record["key"]), self.prefix, self.o.get("redact", True))
        return {"key": shown, "bytes": record["bytes"], "type": record["type"],
                "length": record["length"], "ttl_seconds": None if pttl is None or pttl < 0 else pttl / 1000.0,
                "idle_seconds": record["idle"]}

    # -- figures -------------------------------------------------------------------------------------

    def summarize(self, sessions, count):
        types = {}
        for record in sessions:
            types[record["type"]] = types.get(record["type"], 0) + 1
        session_type = self.session_type
        sizes = [r["bytes"] for r in sessions if r["bytes"] is not None]
        memory = distribution(sizes)
        memory = {"mean_bytes": memory["mean"], "p50_bytes": memory["p50"], "p95_bytes": memory["p95"],
                  "max_bytes": memory["max"],
                  "estimated_total_bytes": int(round(memory["mean"] * count)) if sizes and count else None}
        lengths = [r["length"] for r in sessions if r["type"] == session_type and r["length"] is not None]
        context = None
        if self.lengths and lengths:
            context = distribution(lengths)
            context["sessions"] = len(lengths)
            context["unit"] = self.unit
        elif not self.lengths:
            self.not_reported.append("context_length")
        elif sessions:
            self.notes.append("no %s keys in the sample: context_length is null" % session_type)
        session_sizes = [r["bytes"] for r in sessions if r["type"] == session_type and r["bytes"] is not None]
        context_bytes = None
        if session_sizes:
            context_bytes = distribution(session_sizes)
            context_bytes["sessions"] = len(session_sizes)
        idles = [r["idle"] for r in sessions if r["idle"] is not None]
        idle = None
        if idles:
            idle = histogram(idles, IDLE_BUCKETS)
            idle.update({"p50_seconds": series_stats.percentile(idles, 50),
                         "p95_seconds": series_stats.percentile(idles, 95), "max_seconds": max(idles)})
        pttls = [r["pttl"] for r in sessions if r["pttl"] is not None]
        return {
            "types": types,
            "other_types": sum(n for t, n in types.items() if t != session_type),
            "ttl": ttl_summary(pttls) if pttls else None,
            "idle": idle,
            "memory": memory,
            "context_length": context,
            "context_length_unavailable": None if self.lengths else self.lengths_reason,
            "context_bytes": context_bytes,
        }


def clients_by_addr(entries, limit=CLIENT_ROWS):
    """CLIENT LIST entries -> [{addr (IP without port), connections, names}], most connections first. Pure."""
    groups = {}
    for entry in entries:
        addr = str(entry.get("addr") or "")
        host = addr.rsplit(":", 1)[0] if ":" in addr else addr
        host = host.strip("[]")
        row = groups.setdefault(host, {"addr": host, "connections": 0, "names": set()})
        row["connections"] += 1
        name = entry.get("name")
        if isinstance(name, bytes):
            name = name.decode("utf-8", errors="backslashreplace")
        if name:
            row["names"].add(name)
    rows = sorted(groups.values(), key=lambda row: (-row["connections"], row["addr"]))[:limit]
    return [dict(row, names=sorted(row["names"])) for row in rows]


def slowlog_keys(entries):
    """SLOWLOG GET entries -> {entries, max_duration_us, last_unix} of those whose command is KEYS. Pure."""
    durations, last = [], None
    for entry in entries:
        command = entry.get("command") or b""
        if isinstance(command, (list, tuple)):
            command = command[0] if command else b""
        if isinstance(command, bytes):
            command = command.decode("utf-8", errors="replace")
        if str(command).split(" ", 1)[0].upper() != "KEYS":
            continue
        durations.append(int(entry.get("duration") or 0))
        start = entry.get("start_time")
        if isinstance(start, int) and (last is None or start > last):
            last = start
    return {"entries": len(durations), "max_duration_us": max(durations) if durations else None, "last_unix": last}


def validate(params):
    """Check the census options; raise BrunoOpsError(invalid_input) naming the first bad one."""
    positive = ("scan_count", "sample_size", "estimate_samples", "exact_count_limit")
    for name in positive:
        if params[name] < 1:
            raise errors.BrunoOpsError("%s must be at least 1" % name, kind=errors.INVALID)
    if params["max_scan_seconds"] <= 0:
        raise errors.BrunoOpsError("max_scan_seconds must be a positive number of seconds", kind=errors.INVALID)
    if params["largest"] < 0:
        raise errors.BrunoOpsError("largest must be 0 or more", kind=errors.INVALID)

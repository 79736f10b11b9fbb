# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Count regex matches in log text and keep a few sample lines. Pure, no I/O."""

from __future__ import annotations

import re

DEFAULT_PATTERNS = ("memory", "leak", "cache", "OOM", "MemoryError")

# Groups of patterns whose matching lines are counted per group (a line counts once per group). They follow what
# agent-bruno's stack logs: its own "Redis operation failed: <redis-py error>", "Failed to save conversation:
# <pymongo error>", "Chat error: ...", and the errors of redis-py (ConnectionError "Too many connections", the
# server's "max number of clients reached", TimeoutError "Timeout reading from socket"), pymongo
# (ServerSelectionTimeoutError "..., Timeout: 30s, Topology Description", WaitQueueTimeoutError "Timed out while
# checking out a connection from connection pool", AutoReconnect) and asyncio (TimeoutError, CancelledError).
# `persistence` also catches the published app's "Database objects do not implement truth value testing" (its
# `if not self.db:` under pymongo 4).
DEFAULT_GROUPS = {
    # not a bare "memory": agent-bruno's loggers are src.memory.*, and every line of them would count
    "memory": [r"MemoryError", r"\bOOM", r"out of memory", r"memory (usage|limit|leak|pressure|is |keeps|grow)",
               r"\bleak", r"cache (size|full|grow)"],
    # what a full pool or a server out of connections says; not "Connection refused" (a server down is no pool)
    "pool": [r"Too many connections", r"max(imum)? number of clients reached", r"connection pool",
             r"WaitQueueTimeout", r"checking out a connection", r"pool (is )?(exhausted|full|paused|closed)",
             r"Timeout connecting to server", r"Error (110|99|24) connecting to", r"Too many open files",
             r"Cannot assign requested address"],
    "timeout": [r"TimeoutError", r"Timeout (reading|connecting|writing)", r"Timeout: \d", r"timed out",
                r"ServerSelectionTimeoutError", r"NetworkTimeout", r"CancelledError"],
    # a turn that did not reach MongoDB (not a health check failing: the store may come back before a write)
    "persistence": [r"Failed to save conversation", r"MongoDB not connected", r"truth value testing"],
}


def compile_patterns(patterns, ignore_case=True):
    """{pattern: compiled}; raises ValueError naming the pattern that does not compile."""
    compiled = {}
    for pattern in patterns:
        try:
            compiled[pattern] = re.compile(pattern, re.IGNORECASE if ignore_case else 0)
        except re.error as exc:
            raise ValueError("patterns: %r is not a valid regular expression (%s)" % (pattern, exc)) from None
    return compiled


def compile_groups(groups, ignore_case=True):
    """{group: {pattern: compiled}}; raises ValueError naming the group and pattern that does not compile."""
    compiled = {}
    for name, patterns in (groups or {}).items():
        if isinstance(patterns, str) or not isinstance(patterns, (list, tuple)):
            raise ValueError("groups.%s: give a list of regular expressions" % name)
        try:
            compiled[name] = compile_patterns(patterns, ignore_case)
        except ValueError as exc:
            raise ValueError("groups.%s: %s" % (name, exc)) from None
    return compiled


def scan_text(text, compiled, samples=3, max_line=300, *, groups=None, redact=None):
    """Lines, per-pattern match counts (a line counts once per pattern), lines matched per group (`groups`, from
    compile_groups) and the first `samples` matching lines, passed through `redact` when given."""
    counts = dict.fromkeys(compiled, 0)
    groups = groups or {}
    group_lines = dict.fromkeys(groups, 0)
    kept = []
    lines = matched = 0
    for line in text.splitlines():
        lines += 1
        hit = False
        for pattern, regex in compiled.items():
            if regex.search(line):
                counts[pattern] += 1
                hit = True
        for name, regexes in groups.items():
            if any(regex.search(line) for regex in regexes.values()):
                group_lines[name] += 1
                hit = True
        if hit:
            matched += 1
            if len(kept) < samples:
                kept.append((redact(line) if redact else line)[:max_line])
    return {"lines": lines, "matches": counts, "matched_lines": matched, "groups": group_lines, "samples": kept}


def totals(results):
    """Per-pattern and per-group totals over many scan results, and how many streams matched at all."""
    total, groups = {}, {}
    streams_with_matches = 0
    for result in results:
        matches = result.get("matches") or {}
        for pattern, count in matches.items():
            total[pattern] = total.get(pattern, 0) + count
        for name, count in (result.get("groups") or {}).items():
            groups[name] = groups.get(name, 0) + count
        if any(matches.values()) or any((result.get("groups") or {}).values()):
            streams_with_matches += 1
    return {"matches": total, "groups": groups, "streams_with_matches": streams_with_matches}

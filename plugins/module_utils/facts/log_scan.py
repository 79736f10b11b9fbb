# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Count regex matches in log text and keep a few sample lines. Pure, no I/O."""

from __future__ import annotations

import re

DEFAULT_PATTERNS = ("memory", "leak", "cache", "OOM", "MemoryError")


def compile_patterns(patterns, ignore_case=True):
    """{pattern: compiled}; raises ValueError naming the pattern that does not compile."""
    compiled = {}
    for pattern in patterns:
        try:
            compiled[pattern] = re.compile(pattern, re.IGNORECASE if ignore_case else 0)
        except re.error as exc:
            raise ValueError("patterns: %r is not a valid regular expression (%s)" % (pattern, exc)) from None
    return compiled


def scan_text(text, compiled, samples=3, max_line=300):
    """Lines, per-pattern match counts (a line counts once per pattern) and the first `samples` matching lines."""
    counts = dict.fromkeys(compiled, 0)
    kept = []
    lines = matched = 0
    for line in text.splitlines():
        lines += 1
        hit = False
        for pattern, regex in compiled.items():
            if regex.search(line):
                counts[pattern] += 1
                hit = True
        if hit:
            matched += 1
            if len(kept) < samples:
                kept.append(line[:max_line])
    return {"lines": lines, "matches": counts, "matched_lines": matched, "samples": kept}


def totals(results):
    """Per-pattern totals over many scan results, and how many streams matched at all."""
    total = {}
    streams_with_matches = 0
    for result in results:
        matches = result.get("matches") or {}
        for pattern, count in matches.items():
            total[pattern] = total.get(pattern, 0) + count
        if any(matches.values()):
            streams_with_matches += 1
    return {"matches": total, "streams_with_matches": streams_with_matches}

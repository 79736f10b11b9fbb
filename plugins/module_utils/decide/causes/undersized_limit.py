# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An undersized limit: steady usage near the limit (or OOM kills) that no other cause explains."""

from __future__ import annotations

from ansible_collections.bruno.ops.plugins.module_utils.decide.causes._scoring import best, ramp, signal

NAME = "undersized_limit"
SUMMARY = "Raise the memory limit to the recommended value (usage is steady, not growing)"
FIX = "undersized_limit"
NEEDS = ("kubernetes", "prometheus")
FACTS = ("p95_pct", "usage_max_pct", "oom_kills", "growth_mib_per_hour")
EVIDENCE = ("p95_pct", "usage_max_pct", "growth_mib_per_hour", "limit_bytes")
THRESHOLDS = {
    "undersized_p95_pct": (85.0, 1, 100, "steady usage above this leaves no headroom"),
    "flat_growth_mib_per_hour": (5.0, 0, 10 ** 5, "below this, usage is steady"),
}
# Read from memory_leak: growth this steep is not flat.
SHARED_THRESHOLDS = ("leak_growth_mib_per_hour",)
# Usage near the limit is the other causes' doing when they score: the strongest of them comes off.
EXPLAINED_BY = {
    "too_many_sessions": signal("many"),
    "connection_pool_exhaustion": signal("score"),
    "large_contexts": signal("score"),
}


def score(facts, t):
    near_limit = best(ramp(facts["p95_pct"], t["undersized_p95_pct"] - 15, t["undersized_p95_pct"]),
                      ramp(facts["usage_max_pct"], t["undersized_p95_pct"] - 15, t["undersized_p95_pct"]),
                      1.0 if facts["oom_kills"] else None)  # it reached the limit, by definition
    if near_limit is None:
        return None
    growth = facts["growth_mib_per_hour"]
    # Without history, steady-near-the-limit cannot be told from a leak caught late: stay half sure.
    if growth is None:
        flat = 0.5
    else:
        flat = 1.0 - ramp(abs(growth), t["flat_growth_mib_per_hour"], t["leak_growth_mib_per_hour"])
    return near_limit * flat

# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An undersized limit: steady usage near the limit (or OOM kills) that no other cause explains.

Steady is judged per container lifetime: a step up that then stays flat (a cache that filled) is steady at its new
level, not growth. Without any history, steady near the limit cannot be told from a leak caught late: half sure.
"""

from __future__ import annotations

from ansible_collections.bruno.ops.plugins.module_utils.decide.causes._scoring import best, pct_of_limit, ramp, signal

NAME = "undersized_limit"
SUMMARY = "Raise the memory limit to the recommended value (usage is steady, not growing)"
FIX = "undersized_limit"
NEEDS = ("kubernetes", "prometheus")
FACTS = ("p95_pct", "usage_max_pct", "oom_kills", "growth_mib_per_hour", "limit_bytes")
EVIDENCE = ("p95_pct", "usage_max_pct", "growth_mib_per_hour", "oom_kills", "limit_bytes", "request_bytes")
THRESHOLDS = {
    "undersized_p95_pct": (85.0, 1, 100, "steady usage above this leaves no headroom"),
    "flat_growth_pct_per_hour": (0.5, 0, 100, "below this share of the limit per hour, usage is steady"),
}
# Read from memory_leak: growth this steep is not flat.
SHARED_THRESHOLDS = ("leak_growth_pct_per_hour",)
# Usage near the limit is the other causes' doing when they score: the strongest of them comes off.
EXPLAINED_BY = {
    "too_many_sessions": signal("mechanism"),
    "connection_pool_exhaustion": signal("score"),
    "large_contexts": signal("score"),
}


def score(facts, t):
    near_limit = best(ramp(facts["p95_pct"], t["undersized_p95_pct"] - 15, t["undersized_p95_pct"]),
                      ramp(facts["usage_max_pct"], t["undersized_p95_pct"] - 15, t["undersized_p95_pct"]),
                      1.0 if facts["oom_kills"] else None)  # it reached the limit, by definition
    if near_limit is None:
        return None
    growth = pct_of_limit(facts["growth_mib_per_hour"], facts["limit_bytes"])
    flat = 0.5 if growth is None else 1.0 - ramp(growth, t["flat_growth_pct_per_hour"], t["leak_growth_pct_per_hour"])
    return near_limit * flat


def why(facts, t):
    text = "usage %s%% of the limit now, p95 %s%% over the history (threshold %.0f%%)" % (
        facts.get("usage_max_pct"), facts.get("p95_pct"), t["undersized_p95_pct"])
    if facts.get("oom_kills"):
        text += ", %d OOM kills" % facts["oom_kills"]
    growth = facts.get("growth_mib_per_hour")
    text += "; steady within container lifetimes" if growth is not None and pct_of_limit(
        growth, facts.get("limit_bytes")) < t["flat_growth_pct_per_hour"] else (
        "; growth %s MiB/h" % growth if growth is not None else "; no history to tell steady from growing")
    if facts.get("request_bytes") and facts.get("limit_bytes"):
        text += "; request %.0f%% of the limit" % (100.0 * facts["request_bytes"] / facts["limit_bytes"])
    return text

# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A memory leak: the working set grows within each container's lifetime and keeps growing to its end.

Growth is judged per lifetime (facts/lifetimes.py): a warm-up that flattens and a single step are not leaks, and a
sawtooth of OOM kills is one leak seen many times. Growth is measured against the limit (20 MiB/h fills 512Mi in a
day and 4Gi in a week), over lifetimes long enough to tell a leak from a warm-up. Growth that the session count
explains better than the container's age does is too_many_sessions' (it explains this cause).
"""

from __future__ import annotations

from ansible_collections.bruno.ops.plugins.module_utils.decide.causes._scoring import pct_of_limit, ramp

NAME = "memory_leak"
SUMMARY = "Restart the pods to reclaim memory now, and escalate the leak to the development team"
FIX = "memory_leak"
NEEDS = ("prometheus", "kubernetes")
FACTS = ("growth_mib_per_hour", "lifetime_hours", "limit_bytes", "lifetimes_ended_at_limit")
EVIDENCE = ("growth_mib_per_hour", "growth_early_mib_per_hour", "growth_window_mib_per_hour", "lifetime_hours",
            "hours_to_limit", "restarts_seen", "session_memory_share_pct")
THRESHOLDS = {
    "leak_growth_pct_per_hour": (2.0, 0.01, 100, "2% of the limit per hour fills it in about two days"),
    "leak_min_lifetime_hours": (2.0, 0.25, 24 * 30, "a shorter climb may be a warm-up"),
}


def _follows_sessions(_facts, _t, signals):
    """Growth that the session count explains (and the container's age adds nothing to) is the sessions'."""
    return signals.get("explains_growth")


EXPLAINED_BY = {"too_many_sessions": _follows_sessions}


def score(facts, t):
    growth = pct_of_limit(facts["growth_mib_per_hour"], facts["limit_bytes"])
    lifetime = facts["lifetime_hours"]
    if growth is None or lifetime is None:
        return None
    steady = ramp(growth, t["leak_growth_pct_per_hour"] * 0.5, t["leak_growth_pct_per_hour"])
    long_enough = ramp(lifetime, t["leak_min_lifetime_hours"] * 0.5, t["leak_min_lifetime_hours"])
    if (facts["lifetimes_ended_at_limit"] or 0) >= 2:
        long_enough = 1.0  # a sawtooth: lifetime after lifetime climbed to the limit, short as each was
    return steady * long_enough


def why(facts, t):
    growth, limit = facts.get("growth_mib_per_hour"), facts.get("limit_bytes")
    if growth is None:
        return "no container lifetime long enough to judge growth"
    text = ("the working set grows %.0f MiB/h within each container's life (%.1f%% of the limit per hour, threshold "
            "%.1f%%), judged over lifetimes up to %s h" % (
                growth, pct_of_limit(growth, limit) or 0, t["leak_growth_pct_per_hour"], facts.get("lifetime_hours")))
    if facts.get("hours_to_limit") is not None:
        text += "; limit reached in ~%.1f h" % facts["hours_to_limit"]
    if facts.get("restarts_seen"):
        text += "; %d restarts seen in the history" % facts["restarts_seen"]
    return text

# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A memory leak: steady growth of the working set over enough history, which the sessions do not explain."""

from __future__ import annotations

from ansible_collections.bruno.ops.plugins.module_utils.decide.causes._scoring import ramp

NAME = "memory_leak"
SUMMARY = "Restart the pods to reclaim memory now, and escalate the leak to the development team"
FIX = "memory_leak"
NEEDS = ("prometheus",)
FACTS = ("growth_mib_per_hour", "history_hours", "session_correlation")
EVIDENCE = ("growth_mib_per_hour", "history_hours", "session_correlation")
THRESHOLDS = {
    "leak_growth_mib_per_hour": (20.0, 0.1, 10 ** 5, "1Gi is gone in about two days"),
    "leak_min_history_hours": (2.0, 0, 24 * 30, "a shorter climb may be a warm-up"),
    "leak_max_correlation": (0.4, 0, 1, "growth that follows sessions is not a leak"),
}
# Read from too_many_sessions: where memory that tracks sessions is theirs.
SHARED_THRESHOLDS = ("session_correlation",)


def _follows_sessions(facts, t, _signals):
    """Growth that follows the session count is the sessions' doing, not a leak."""
    corr = facts["session_correlation"]
    return None if corr is None else ramp(abs(corr), t["leak_max_correlation"], t["session_correlation"])


EXPLAINED_BY = {"too_many_sessions": _follows_sessions}


def score(facts, t):
    growth, history = facts["growth_mib_per_hour"], facts["history_hours"]
    if growth is None or history is None:
        return None
    steady = ramp(growth, t["leak_growth_mib_per_hour"] * 0.5, t["leak_growth_mib_per_hour"])
    long_enough = ramp(history, t["leak_min_history_hours"] * 0.5, t["leak_min_history_hours"])
    return steady * long_enough

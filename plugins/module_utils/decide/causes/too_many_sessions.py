# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Too many active sessions: many session keys, many without a TTL, memory that follows the session count."""

from __future__ import annotations

from ansible_collections.bruno.ops.plugins.module_utils.decide.causes._scoring import ramp

NAME = "too_many_sessions"
SUMMARY = "Expire idle sessions now and lower SESSION_TTL so they stop piling up"
FIX = "too_many_sessions"
NEEDS = ("redis", "prometheus")
FACTS = ("sessions", "sessions_without_ttl_pct", "session_correlation")
EVIDENCE = ("sessions", "sessions_without_ttl_pct", "session_correlation")
THRESHOLDS = {
    "sessions_many": (50000, 1, 10 ** 9, "a 1Gi pod holding ~10 KiB of state per session is full at ~100k"),
    "sessions_without_ttl_pct": (20.0, 0, 100, "sessions without TTL never leave"),
    "session_correlation": (0.7, 0, 1, "memory that tracks sessions this closely is the sessions"),
}
EXPLAINED_BY = {}


def score(facts, t):
    """The score, and `many` (how many sessions there are, whatever their TTLs): what explains other causes."""
    many = ramp(facts["sessions"], t["sessions_many"] * 0.5, t["sessions_many"])
    untimed = ramp(facts["sessions_without_ttl_pct"], t["sessions_without_ttl_pct"] * 0.5,
                   t["sessions_without_ttl_pct"])
    tracks = ramp(facts["session_correlation"], t["session_correlation"] - 0.3, t["session_correlation"])
    if many is None:
        return {"score": None, "many": None}
    return {"score": many * (0.6 + 0.2 * (untimed or 0.0) + 0.2 * (tracks if tracks is not None else 0.5)),
            "many": many}

# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Too many active sessions: the pod's working set moves with the session count, and the sessions are many.

The runbook's "too many sessions" rests on a per-session cost in the pod. The real agent-bruno keeps none (it reads
the last turns from Redis per request), so sessions in Redis are blamed only when the working set is shown to move
with them: the regression of the working set on the session count over the history (bytes per session, the share of
the working set they account for, a fit at least as good as the fit on the container's age). Without that history
many sessions are a hint only (at most 0.4). Long contexts are large_contexts' evidence, not this cause's.
"""

from __future__ import annotations

from ansible_collections.bruno.ops.plugins.module_utils.decide.causes._scoring import (
    growth_is_sessions,
    long_contexts,
    ramp,
    session_mechanism,
)

NAME = "too_many_sessions"
SUMMARY = "Expire idle sessions now and lower SESSION_TTL so they stop piling up"
FIX = "too_many_sessions"
NEEDS = ("redis", "prometheus", "kubernetes")
FACTS = ("sessions", "sessions_without_ttl_pct", "session_memory_share_pct", "session_fit_r2", "age_fit_r2",
         "session_change_r", "session_gain_r2", "sessions_moved_pct", "context_p95_messages", "session_mean_bytes",
         "history_hours", "growth_unexplained_mib_per_hour", "age_gain_r2", "limit_bytes")
EVIDENCE = ("sessions", "session_memory_share_pct", "session_bytes_per_session", "session_fit_r2", "age_fit_r2",
            "sessions_without_ttl_pct")
THRESHOLDS = {
    "sessions_many": (50000, 1, 10 ** 9, "without a session history, only this many hint at the cause"),
    "sessions_without_ttl_pct": (20.0, 0, 100, "sessions without TTL never leave"),
    "session_memory_share_pct": (30.0, 1, 100, "sessions that account for this share of the working set are "
                                               "what cutting them frees"),
    "session_min_history_hours": (2.0, 0.25, 24 * 30, "two curves rising together for less than this prove nothing"),
}
SHARED_THRESHOLDS = ("context_p95_messages", "session_mean_bytes", "leak_growth_pct_per_hour")
EXPLAINED_BY = {}


def score(facts, t):
    """The score, and `mechanism` (how surely memory moves with the sessions): what explains other causes."""
    mechanism = session_mechanism(facts, t)
    untimed = ramp(facts["sessions_without_ttl_pct"], t["sessions_without_ttl_pct"] * 0.5,
                   t["sessions_without_ttl_pct"])
    long = long_contexts(facts, t) or 0.0
    if mechanism is None:
        many = ramp(facts["sessions"], t["sessions_many"] * 0.5, t["sessions_many"])
        return {"score": None if many is None else 0.4 * many * (1.0 - long), "mechanism": None,
                "explains_growth": None}
    return {"score": mechanism * (0.8 + 0.2 * (untimed or 0.0)) * (1.0 - 0.8 * long), "mechanism": mechanism,
            "explains_growth": growth_is_sessions(facts, t, mechanism)}


def why(facts, t):
    share, per_session = facts.get("session_memory_share_pct"), facts.get("session_bytes_per_session")
    if share is None:
        return ("%s sessions in Redis, but no session-count history shows the working set moving with them "
                "(set diagnose_sessions_query)" % _count(facts.get("sessions")))
    return ("the working set moves with the session count: %s bytes per session per pod, %.0f%% of the working set "
            "now (threshold %.0f%%), fit R² %s against %s on the container's age; %s sessions"
            % (_count(per_session), share, t["session_memory_share_pct"], facts.get("session_fit_r2"),
               facts.get("age_fit_r2"), _count(facts.get("sessions"))))


def _count(value):
    return "n/a" if value is None else f"{value:,.0f}"

# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rank the runbook's causes of high memory from gathered facts. Pure: no I/O, no clock.

Input is a flat dict of numbers (see FACTS); any may be None when its source was unavailable. Each
cause scores its evidence in [0, 1]; confidence is that score times the share of the cause's sources
that answered, so a missing source lowers confidence instead of being guessed at. The rules and
thresholds are written down in docs/diagnosis.md; keep the two in step.
"""

from __future__ import annotations

MIB = 2 ** 20

# Every fact the rules read, with the source it comes from.
FACTS = {
    "limit_bytes": "kubernetes",  # the container memory limit
    "usage_max_pct": "kubernetes",  # highest current usage as % of the limit (metrics.k8s.io)
    "oom_kills": "kubernetes",  # OOMKilled terminations in the window
    "restarts": "kubernetes",
    "history_hours": "prometheus",  # how much working-set history there is
    "growth_mib_per_hour": "prometheus",  # robust (Theil-Sen) slope of the working set, max over pods
    "p95_pct": "prometheus",  # p95 of the working set over the window, % of the limit
    "session_correlation": "prometheus",  # Pearson r of working set with bruno_active_sessions
    "sessions": "redis",  # session keys (exact or estimated)
    "sessions_without_ttl_pct": "redis",
    "context_p95_messages": "redis",  # p95 of messages per session context
    "session_mean_bytes": "redis",  # mean MEMORY USAGE of a session key
    "redis_clients": "redis",  # connected_clients
    "mongo_connections": "mongodb",  # serverStatus.connections.current; None when not reported
    "pool_in_use_pct": "agent",  # the agent's own pool gauges, busiest pool
    "log_memory_lines": "logs",
}

DEFAULT_THRESHOLDS = {
    "high_usage_pct": 80.0,  # the alert's own line
    "healthy_usage_pct": 70.0,  # the runbook's "leave headroom: ~70% utilization"
    "sessions_many": 50000,
    "sessions_without_ttl_pct": 20.0,
    "session_correlation": 0.7,
    "redis_clients_many": 200,
    "mongo_connections_many": 200,
    "pool_in_use_pct": 90.0,
    "leak_growth_mib_per_hour": 20.0,
    "leak_min_history_hours": 2.0,
    "leak_max_correlation": 0.4,
    "flat_growth_mib_per_hour": 5.0,
    "undersized_p95_pct": 85.0,
    "context_p95_messages": 200,
    "session_mean_bytes": 256 * 1024,
}

CAUSES = ("too_many_sessions", "connection_pool_exhaustion", "memory_leak", "large_contexts", "undersized_limit")

# What each cause needs to be judged at all.
NEEDS = {
    "too_many_sessions": ("redis", "prometheus"),
    "connection_pool_exhaustion": ("redis", "mongodb", "agent"),
    "memory_leak": ("prometheus",),
    "large_contexts": ("redis",),
    "undersized_limit": ("kubernetes", "prometheus"),
}

# The runbook's fix per cause: playbooks run in this order by remediate.yml, with these extra vars (the roles'
# documented variables; AWX surveys use the same names).
FIXES = {
    "too_many_sessions": {
        "summary": "Expire idle sessions now and lower SESSION_TTL so they stop piling up",
        "playbooks": [
            {"playbook": "playbooks/cleanup_sessions.yml",
             "extra_vars": {"session_cleanup_policies": {"missing_ttl": 3600, "max_ttl": 3600, "max_idle": 86400}}},
            {"playbook": "playbooks/reduce_session_ttl.yml", "extra_vars": {"session_ttl_seconds": 3600}},
        ],
    },
    "connection_pool_exhaustion": {
        "summary": "Restart the pods to drop stale connections, then cap REDIS_POOL_SIZE / MONGO_POOL_SIZE",
        "playbooks": [{"playbook": "playbooks/restart.yml", "extra_vars": {"restart_not_within": "10m"}}],
    },
    "memory_leak": {
        "summary": "Restart the pods to reclaim memory now, and escalate the leak to the development team",
        "playbooks": [{"playbook": "playbooks/restart.yml", "extra_vars": {"restart_not_within": "10m"}}],
    },
    "large_contexts": {
        "summary": "Archive old messages of long conversations to MongoDB, trim them in Redis, restart to free memory",
        "playbooks": [
            {"playbook": "playbooks/cleanup_sessions.yml",
             "extra_vars": {"session_cleanup_archive": True, "session_cleanup_keep_messages": 20}},
            {"playbook": "playbooks/restart.yml", "extra_vars": {"restart_not_within": "10m"}},
        ],
    },
    "undersized_limit": {
        "summary": "Raise the memory limit to the recommended value (usage is steady, not growing)",
        "playbooks": [{"playbook": "playbooks/tune_limits.yml", "extra_vars": {"tune_limits_mode": "apply"}}],
    },
}


def _ramp(value, low, high):
    """0 at or below `low`, 1 at or above `high`, linear between; None stays None."""
    if value is None:
        return None
    if high == low:
        return 1.0 if value >= high else 0.0
    return max(0.0, min(1.0, (value - low) / float(high - low)))


def _best(*scores):
    known = [s for s in scores if s is not None]
    return max(known) if known else None


def _evidence(facts, *names):
    return {name: facts.get(name) for name in names}


def score_causes(facts, t):
    """{cause: (score or None, evidence)}; score None means no usable evidence at all."""
    growth = facts.get("growth_mib_per_hour")
    corr = facts.get("session_correlation")
    history = facts.get("history_hours")
    scores = {}

    many = _ramp(facts.get("sessions"), t["sessions_many"] * 0.5, t["sessions_many"])
    untimed = _ramp(facts.get("sessions_without_ttl_pct"), t["sessions_without_ttl_pct"] * 0.5,
                    t["sessions_without_ttl_pct"])
    tracks = _ramp(corr, t["session_correlation"] - 0.3, t["session_correlation"])
    if many is None:
        sessions_score = None
    else:
        sessions_score = many * (0.6 + 0.2 * (untimed or 0.0) + 0.2 * (tracks if tracks is not None else 0.5))
    scores["too_many_sessions"] = (sessions_score, _evidence(
        facts, "sessions", "sessions_without_ttl_pct", "session_correlation"))

    pool = _best(
        _ramp(facts.get("redis_clients"), t["redis_clients_many"] * 0.5, t["redis_clients_many"]),
        _ramp(facts.get("mongo_connections"), t["mongo_connections_many"] * 0.5, t["mongo_connections_many"]),
        _ramp(facts.get("pool_in_use_pct"), t["pool_in_use_pct"] - 20, t["pool_in_use_pct"]),
    )
    scores["connection_pool_exhaustion"] = (pool, _evidence(
        facts, "redis_clients", "mongo_connections", "pool_in_use_pct"))

    leak = None
    if growth is not None and history is not None:
        steady = _ramp(growth, t["leak_growth_mib_per_hour"] * 0.5, t["leak_growth_mib_per_hour"])
        long_enough = _ramp(history, t["leak_min_history_hours"] * 0.5, t["leak_min_history_hours"])
        # Growth that follows the session count is the sessions' doing, not a leak.
        explained_by_sessions = 0.0
        if corr is not None:
            explained_by_sessions = _ramp(abs(corr), t["leak_max_correlation"], t["session_correlation"])
        unexplained = 1.0 - explained_by_sessions
        leak = steady * long_enough * unexplained
    scores["memory_leak"] = (leak, _evidence(facts, "growth_mib_per_hour", "history_hours", "session_correlation"))

    large = _best(
        _ramp(facts.get("context_p95_messages"), t["context_p95_messages"] * 0.5, t["context_p95_messages"]),
        _ramp(facts.get("session_mean_bytes"), t["session_mean_bytes"] * 0.5, t["session_mean_bytes"]),
    )
    if large is not None and many is not None:
        large *= 1.0 - 0.5 * many  # many sessions explain memory better than long ones
    scores["large_contexts"] = (large, _evidence(facts, "context_p95_messages", "session_mean_bytes", "sessions"))

    near_limit = _best(_ramp(facts.get("p95_pct"), t["undersized_p95_pct"] - 15, t["undersized_p95_pct"]),
                       _ramp(facts.get("usage_max_pct"), t["undersized_p95_pct"] - 15, t["undersized_p95_pct"]),
                       1.0 if facts.get("oom_kills") else None)  # it reached the limit, by definition
    undersized = None
    if near_limit is not None:
        # Without history, steady-near-the-limit cannot be told from a leak caught late: stay half sure.
        if growth is None:
            flat = 0.5
        else:
            flat = 1.0 - _ramp(abs(growth), t["flat_growth_mib_per_hour"], t["leak_growth_mib_per_hour"])
        explained = max(many or 0.0, pool or 0.0, large or 0.0)
        undersized = near_limit * flat * (1.0 - explained)
    scores["undersized_limit"] = (undersized, _evidence(
        facts, "p95_pct", "usage_max_pct", "growth_mib_per_hour", "limit_bytes"))
    return scores


def decide(facts, sources, thresholds=None):
    """The verdict: ranked causes with confidence, evidence and fix; the headline; what was missing.

    `sources` maps a source name to True (answered) or a string (why it did not).
    """
    t = dict(DEFAULT_THRESHOLDS, **(thresholds or {}))
    available = {name: state is True for name, state in sources.items()}
    unavailable = sorted(name for name, ok in available.items() if not ok)
    ranked = []
    for cause, (score, evidence) in score_causes(facts, t).items():
        needs = NEEDS[cause]
        coverage = sum(1 for s in needs if available.get(s)) / float(len(needs))
        confidence = round((score or 0.0) * (0.5 + 0.5 * coverage), 2)
        ranked.append({"cause": cause, "confidence": confidence, "score": None if score is None else round(score, 2),
                       "evidence": evidence, "missing_sources": [s for s in needs if not available.get(s)],
                       "fix": FIXES[cause]})
    ranked.sort(key=lambda c: (-c["confidence"], CAUSES.index(c["cause"])))

    usage = _best(facts.get("usage_max_pct"), facts.get("p95_pct"))
    under_pressure = (usage is not None and usage >= t["healthy_usage_pct"]) or bool(facts.get("oom_kills"))
    top = ranked[0]
    contradictory = len(ranked) > 1 and top["confidence"] >= 0.5 and ranked[1]["confidence"] >= top["confidence"] - 0.05
    if usage is None:
        primary, reason = "unknown", "no memory figures: neither metrics.k8s.io nor Prometheus gave a usage"
    elif not under_pressure and top["confidence"] < 0.5:
        primary, reason = "none", "no memory problem found: usage %s%% of the limit, no OOM kills" % _fmt(usage)
    elif top["confidence"] < 0.5:
        primary, reason = "unknown", "memory is high but no cause has enough evidence%s" % (
            " (unavailable: %s)" % ", ".join(unavailable) if unavailable else "")
    elif contradictory:
        primary, reason = "unknown", "evidence points two ways: %s and %s" % (top["cause"], ranked[1]["cause"])
    else:
        primary, reason = top["cause"], FIXES[top["cause"]]["summary"]
    return {
        "primary": primary,
        "headline": reason,
        "under_pressure": under_pressure,
        "usage_pct_of_limit": usage,
        "causes": ranked,
        "unavailable_sources": {name: sources[name] for name in unavailable},
        "thresholds": t,
    }


def _fmt(value):
    return "n/a" if value is None else "%.0f" % value

"""The verdict's rules on fact sets shaped like each lab scenario (see docs/diagnosis.md)."""

import pytest

from ansible_collections.bruno.ops.plugins.module_utils.change.fixes import FIXES
from ansible_collections.bruno.ops.plugins.module_utils.decide.verdict import decide

ALL = {s: True for s in ("kubernetes", "prometheus", "redis", "mongodb", "agent", "logs")}

HEALTHY = {
    "limit_bytes": 2 ** 30, "usage_max_pct": 45.0, "oom_kills": 0, "restarts": 0, "history_hours": 6.0,
    "growth_mib_per_hour": 0.5, "p95_pct": 44.0, "session_correlation": 0.2, "sessions": 800,
    "sessions_without_ttl_pct": 0.0, "context_p95_messages": 12, "session_mean_bytes": 4000,
    "redis_clients": 12, "mongo_connections": None, "pool_in_use_pct": 20.0, "log_memory_lines": 0,
}

SCENARIOS = {
    "session-flood": dict(HEALTHY, usage_max_pct=88.0, p95_pct=80.0, sessions=300000, sessions_without_ttl_pct=40.0,
                          session_correlation=0.93, growth_mib_per_hour=40.0),
    "pool-exhaustion": dict(HEALTHY, usage_max_pct=86.0, p95_pct=82.0, redis_clients=450, pool_in_use_pct=100.0),
    "memory-leak": dict(HEALTHY, usage_max_pct=85.0, p95_pct=75.0, growth_mib_per_hour=60.0, history_hours=6.0,
                        session_correlation=0.05),
    "large-contexts": dict(HEALTHY, usage_max_pct=87.0, p95_pct=84.0, sessions=400, context_p95_messages=900,
                           session_mean_bytes=2_000_000),
    "undersized-limit": dict(HEALTHY, usage_max_pct=93.0, p95_pct=91.0, growth_mib_per_hour=1.0),
    "oom-loop": dict(HEALTHY, usage_max_pct=97.0, p95_pct=95.0, oom_kills=6, restarts=6, growth_mib_per_hour=2.0),
}

EXPECTED = {
    "session-flood": "too_many_sessions",
    "pool-exhaustion": "connection_pool_exhaustion",
    "memory-leak": "memory_leak",
    "large-contexts": "large_contexts",
    "undersized-limit": "undersized_limit",
    "oom-loop": "undersized_limit",
}


def test_healthy_is_none():
    verdict = decide(HEALTHY, ALL)
    assert verdict["primary"] == "none"
    assert verdict["headline"].startswith("no memory problem found")


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_each_scenario_ranks_its_cause_first(scenario):
    verdict = decide(SCENARIOS[scenario], ALL)
    assert verdict["primary"] == EXPECTED[scenario]
    assert verdict["causes"][0]["cause"] == EXPECTED[scenario]
    assert verdict["causes"][0]["confidence"] >= 0.5
    assert FIXES[verdict["causes"][0]["fix_id"]]["playbooks"]


def test_missing_source_lowers_confidence():
    full = decide(SCENARIOS["session-flood"], ALL)["causes"][0]
    partial_sources = dict(ALL, prometheus="connection refused")
    facts = dict(SCENARIOS["session-flood"], session_correlation=None, growth_mib_per_hour=None, p95_pct=None,
                 history_hours=None)
    partial = decide(facts, partial_sources)
    top = partial["causes"][0]
    assert top["cause"] == "too_many_sessions"
    assert top["confidence"] < full["confidence"]
    assert top["missing_sources"] == ["prometheus"]
    assert partial["unavailable_sources"] == {"prometheus": "connection refused"}


def test_no_memory_figures_at_all_is_unknown():
    facts = {key: None for key in HEALTHY}
    verdict = decide(facts, {name: "down" for name in ALL})
    assert verdict["primary"] == "unknown"


def test_high_memory_without_evidence_is_unknown_not_a_guess():
    facts = dict({key: None for key in HEALTHY}, usage_max_pct=92.0, oom_kills=2)
    verdict = decide(facts, dict(ALL, prometheus="down", redis="down", mongodb="down", agent="down"))
    assert verdict["primary"] == "unknown"
    assert "no cause has enough evidence" in verdict["headline"]


def test_contradictory_evidence_is_unknown():
    facts = dict(SCENARIOS["session-flood"], redis_clients=450, pool_in_use_pct=100.0)
    verdict = decide(facts, ALL)
    assert verdict["primary"] == "unknown"
    assert "two ways" in verdict["headline"]


def test_growth_that_follows_sessions_is_not_a_leak():
    facts = dict(SCENARIOS["memory-leak"], session_correlation=0.95)
    leak = next(c for c in decide(facts, ALL)["causes"] if c["cause"] == "memory_leak")
    assert leak["confidence"] < 0.5

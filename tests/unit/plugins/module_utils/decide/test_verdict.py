"""The verdict's rules on fact sets shaped like each lab scenario (see docs/diagnosis.md)."""

import pytest

from ansible_collections.bruno.ops.plugins.module_utils.change.fixes import FIXES
from ansible_collections.bruno.ops.plugins.module_utils.decide.verdict import decide
from ansible_collections.bruno.ops.plugins.module_utils.facts.diagnosis_facts import FACTS as FACT_SOURCES

ALL = {s: True for s in ("kubernetes", "prometheus", "redis", "mongodb", "agent", "logs")}

HEALTHY = {
    "limit_bytes": 2 ** 30, "usage_max_pct": 45.0, "oom_kills": 0, "restarts": 0, "history_hours": 6.0,
    "growth_mib_per_hour": 0.5, "p95_pct": 44.0, "session_correlation": 0.2, "sessions": 800,
    "sessions_without_ttl_pct": 0.0, "context_p95_messages": 12, "session_mean_bytes": 4000,
    "redis_clients": 12, "mongo_connections": None, "pool_in_use_pct": None, "log_memory_lines": 0,
    # what a real deployment of agent-bruno shows: CLIENT LIST, request metrics, /ready, logs; no pool gauges
    "container_env": ["LOG_LEVEL", "MONGODB_DB", "MONGODB_URL", "OLLAMA_MODEL", "OLLAMA_URL", "PORT", "REDIS_URL",
                      "SESSION_TTL"],
    "session_mean_turns": 6.0, "sessions_recent_pct": 20.0, "redis_maxclients": 10000,
    "redis_clients_pct_of_max": 0.1, "redis_clients_top_addr": 4, "redis_client_addrs": 3,
    "redis_maxmemory_bytes": 0, "redis_maxmemory_policy": "noeviction", "redis_slowlog_keys": 0,
    "mongo_connections_pct": None, "conversations_documents": 20000, "conversations_latest_age_seconds": 30,
    "active_sessions_gauge": 800, "http_requests": 5000, "http_5xx_pct": 0.0, "chat_requests": 4000,
    "chat_latency_p95_seconds": 1.2, "memory_op_error_pct": 0.0, "mongo_save_failures": None, "ready_degraded": 0,
    "log_pool_error_lines": 0, "log_timeout_lines": 0, "log_persistence_error_lines": 0,
    # the history, judged per container lifetime, and the working set against the session count
    "request_bytes": 2 ** 29, "growth_early_mib_per_hour": 3.0, "growth_window_mib_per_hour": 0.8,
    "lifetime_hours": 6.0, "lifetimes_ended_at_limit": 0, "restarts_seen": 0, "hours_to_limit": None,
    "session_memory_share_pct": 2.0, "session_bytes_per_session": 30.0, "session_fit_r2": 0.1, "age_fit_r2": 0.1,
    "session_gain_r2": None, "age_gain_r2": None, "redis_used_memory_pct": None,
}

SCENARIOS = {
    "session-flood": dict(HEALTHY, usage_max_pct=88.0, p95_pct=80.0, sessions=300000, sessions_without_ttl_pct=40.0,
                          session_correlation=0.93, growth_mib_per_hour=40.0, session_memory_share_pct=49.0,
                          session_fit_r2=0.97, age_fit_r2=0.96),
    "pool-exhaustion": dict(HEALTHY, usage_max_pct=86.0, p95_pct=82.0, redis_clients=450, redis_clients_top_addr=420,
                            redis_clients_pct_of_max=4.5),
    "memory-leak": dict(HEALTHY, usage_max_pct=85.0, p95_pct=75.0, growth_mib_per_hour=60.0, history_hours=6.0,
                        session_correlation=0.05, age_fit_r2=0.98, hours_to_limit=2.5),
    "large-contexts": dict(HEALTHY, usage_max_pct=87.0, p95_pct=84.0, sessions=400, context_p95_messages=900,
                           session_mean_bytes=2_000_000, session_memory_share_pct=45.0, session_fit_r2=0.95,
                           age_fit_r2=0.95, growth_mib_per_hour=48.0),
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
    """Without Prometheus nothing shows the working set moving with the sessions: a hint, not a verdict."""
    full = decide(SCENARIOS["session-flood"], ALL)["causes"][0]
    partial_sources = dict(ALL, prometheus="connection refused")
    prometheus_facts = [name for name, source in FACT_SOURCES.items() if source == "prometheus"]
    facts = dict(SCENARIOS["session-flood"], **dict.fromkeys(prometheus_facts))
    partial = decide(facts, partial_sources)
    sessions = next(c for c in partial["causes"] if c["cause"] == "too_many_sessions")
    assert full["cause"] == "too_many_sessions"
    assert sessions["confidence"] < 0.5 < full["confidence"]
    assert sessions["missing_sources"] == ["prometheus"]
    assert partial["primary"] == "unknown"
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


def test_two_strong_causes_are_both_said():
    facts = dict(SCENARIOS["session-flood"], redis_clients=450, redis_clients_top_addr=420,
                 log_pool_error_lines=50, mongo_connections=300, mongo_connections_pct=40.0, pool_in_use_pct=100.0)
    verdict = decide(facts, ALL)
    assert {verdict["primary"], *verdict["also"]} == {"too_many_sessions", "connection_pool_exhaustion"}
    assert verdict["headline"].startswith("two causes: ")


def test_growth_that_follows_sessions_is_not_a_leak():
    facts = dict(SCENARIOS["memory-leak"], session_memory_share_pct=60.0, session_fit_r2=0.95, age_fit_r2=0.9)
    leak = next(c for c in decide(facts, ALL)["causes"] if c["cause"] == "memory_leak")
    assert leak["confidence"] < 0.5


def test_growth_that_age_explains_beyond_the_sessions_stays_a_leak():
    """Restarts reset the age, not the sessions: with both fitted, age adding a lot beyond sessions is a leak."""
    facts = dict(SCENARIOS["memory-leak"], session_memory_share_pct=60.0, session_fit_r2=0.6, age_fit_r2=0.9,
                 session_gain_r2=0.0, age_gain_r2=0.35)
    assert decide(facts, ALL)["primary"] == "memory_leak"


# --------------------------------------------------------------------------- pool trouble without pool gauges

POOL_SIGNALS = {
    "connections held by one pod": dict(redis_clients_top_addr=420, redis_clients=430),
    "Redis near maxclients": dict(redis_clients_pct_of_max=95.0, redis_clients=9500),
    "MongoDB connections": dict(mongo_connections=400, mongo_connections_pct=30.0),
    "no CLIENT LIST, many clients": dict(redis_clients_top_addr=None, redis_client_addrs=None, redis_clients=450),
}


@pytest.mark.parametrize("signal", sorted(POOL_SIGNALS))
def test_pool_trouble_is_diagnosed_without_pool_gauges(signal):
    facts = dict(HEALTHY, usage_max_pct=86.0, p95_pct=82.0, pool_in_use_pct=None, **POOL_SIGNALS[signal])
    verdict = decide(facts, ALL)
    assert verdict["primary"] == "connection_pool_exhaustion", verdict["causes"][:2]
    top = verdict["causes"][0]
    assert top["missing_facts"]["pool_in_use_pct"] == "pool gauges not exported"
    assert top["coverage"] < 1.0


def test_a_null_fact_lowers_coverage_like_a_missing_source():
    facts = dict(HEALTHY, usage_max_pct=86.0, p95_pct=82.0, redis_clients_top_addr=420, mongo_connections=20,
                 mongo_connections_pct=2.0, pool_in_use_pct=10.0)
    full = decide(facts, ALL)["causes"][0]
    assert full["cause"] == "connection_pool_exhaustion" and full["coverage"] == 1.0
    gauges_gone = decide(dict(facts, pool_in_use_pct=None), ALL)["causes"][0]
    agent_gone = decide(dict(facts, pool_in_use_pct=None), dict(ALL, logs="down"))["causes"][0]
    assert gauges_gone["confidence"] < full["confidence"]
    assert gauges_gone["missing_sources"] == [] and "pool_in_use_pct" in gauges_gone["missing_facts"]
    assert agent_gone["confidence"] < gauges_gone["confidence"] and agent_gone["missing_sources"] == ["logs"]
    assert agent_gone["missing_facts"]["log_pool_error_lines"] == "logs unavailable"
    assert agent_gone["coverage"] < gauges_gone["coverage"]


def test_logged_pool_errors_back_up_connections_but_do_not_replace_them():
    base = dict(HEALTHY, usage_max_pct=86.0, p95_pct=82.0, log_pool_error_lines=40, log_timeout_lines=40)
    normal = next(c for c in decide(base, ALL)["causes"] if c["cause"] == "connection_pool_exhaustion")
    assert normal["score"] == 0.0  # connections look normal now: the errors are the past, or another cause
    blind = dict(base, redis_clients_top_addr=None, redis_clients=None, redis_clients_pct_of_max=None)
    alone = next(c for c in decide(blind, ALL)["causes"] if c["cause"] == "connection_pool_exhaustion")
    assert alone["score"] == 0.5 and alone["confidence"] < 0.5
    held = dict(base, redis_clients_top_addr=70)
    backed = next(c for c in decide(held, ALL)["causes"] if c["cause"] == "connection_pool_exhaustion")
    plain = next(c for c in decide(dict(held, log_pool_error_lines=0), ALL)["causes"]
                 if c["cause"] == "connection_pool_exhaustion")
    assert backed["score"] > plain["score"] > 0


def test_symptoms_alone_are_not_pool_exhaustion():
    facts = dict(HEALTHY, usage_max_pct=86.0, p95_pct=82.0, ready_degraded=1, http_5xx_pct=40.0,
                 chat_latency_p95_seconds=30.0, redis_clients_top_addr=None, redis_clients=None,
                 redis_clients_pct_of_max=None)
    pool = next(c for c in decide(facts, ALL)["causes"] if c["cause"] == "connection_pool_exhaustion")
    assert pool["confidence"] < 0.5


def test_symptoms_back_up_direct_signs():
    base = dict(HEALTHY, usage_max_pct=86.0, p95_pct=82.0, redis_clients_top_addr=70)
    calm = next(c for c in decide(base, ALL)["causes"] if c["cause"] == "connection_pool_exhaustion")
    hurting = next(c for c in decide(dict(base, http_5xx_pct=20.0, ready_degraded=1), ALL)["causes"]
                   if c["cause"] == "connection_pool_exhaustion")
    assert hurting["score"] > calm["score"] > 0


def test_normal_connections_with_symptoms_score_nothing():
    facts = dict(HEALTHY, usage_max_pct=86.0, p95_pct=82.0, http_5xx_pct=40.0, ready_degraded=1)
    pool = next(c for c in decide(facts, ALL)["causes"] if c["cause"] == "connection_pool_exhaustion")
    assert pool["score"] == 0.0

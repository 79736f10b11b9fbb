"""diagnosis_facts.extract: the gather modules' registered results become the verdict's flat facts."""

import pytest

from ansible_collections.bruno.ops.plugins.module_utils.facts.diagnosis_facts import (
    FACTS,
    MIB,
    SOURCES,
    extract,
    source_state,
)

GIB = 2 ** 30

RESULTS = {
    "kubernetes": {"changed": False, "summary": {
        "limits_bytes": [GIB, 2 * GIB], "max_usage_pct_of_limit": 88.4, "oom_kills": 2, "total_restarts": 5}},
    "prometheus": {"changed": False, "aggregate": {
        "history_seconds": 5400, "growth_per_hour_max": 41 * MIB, "p95_max": 1.5 * GIB, "correlation_r": 0.93}},
    "redis": {"changed": False, "count": 300000, "ttl": {"without_ttl_pct": 40.0},
              "context_length": {"p95": 120}, "memory": {"mean_bytes": 9000}, "server": {"connected_clients": 450}},
    "mongodb": {"changed": False, "connections": {"current": 37}},
    "agent": {"changed": False, "families": {
        "bruno_redis_pool_in_use": {"samples": [{"value": 9}, {"value": 10}]},
        "bruno_redis_pool_max": {"samples": [{"value": 10}, {"value": 10}]},
        "bruno_mongo_pool_in_use": {"samples": [{"value": 3}]},
        "bruno_mongo_pool_max": {"samples": [{"value": 20}]},
    }},
    "logs": {"changed": False, "logs": [{"pod": "a", "matched_lines": 3}, {"pod": "b", "matched_lines": None},
                                        {"pod": "c"}, {"pod": "d", "matched_lines": 4}]},
}

EXPECTED = {
    "limit_bytes": 2 * GIB, "usage_max_pct": 88.4, "oom_kills": 2, "restarts": 5,
    "history_hours": 1.5, "growth_mib_per_hour": 41.0, "p95_pct": 75.0, "session_correlation": 0.93,
    "sessions": 300000, "sessions_without_ttl_pct": 40.0, "context_p95_messages": 120, "session_mean_bytes": 9000,
    "redis_clients": 450, "mongo_connections": 37, "pool_in_use_pct": 95.0, "log_memory_lines": 7,
}


def facts_of(source):
    return [name for name, owner in FACTS.items() if owner == source]


def test_every_source_answers():
    facts, sources = extract(RESULTS)
    assert sources == dict.fromkeys(SOURCES, True)
    assert facts == EXPECTED
    assert list(facts) == list(FACTS)


def test_every_fact_has_a_known_source():
    assert set(FACTS.values()) == set(SOURCES)


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize(("result", "reason"), [
    (None, "not gathered"),
    ({}, "not gathered"),
    ({"skipped": True, "skip_reason": "Conditional result was False"}, "skipped: Conditional result was False"),
    ({"skipped": True}, "skipped: condition false"),
    ({"failed": True, "msg": "cannot connect to Redis at 10.0.0.1:6379: refused\ntraceback..."},
     "cannot connect to Redis at 10.0.0.1:6379: refused"),
    ({"failed": True}, "failed"),
    ({"unreachable": True, "msg": "host down"}, "host down"),
])
def test_an_unusable_result_makes_its_source_unavailable_and_its_facts_null(source, result, reason):
    results = dict(RESULTS)
    if result is None:
        del results[source]
    else:
        results[source] = dict(RESULTS[source], **result) if result else result
    facts, sources = extract(results)
    assert sources == dict(dict.fromkeys(SOURCES, True), **{source: reason})
    assert {name: facts[name] for name in facts_of(source)} == dict.fromkeys(facts_of(source))
    others = {name: value for name, value in EXPECTED.items() if FACTS[name] != source}
    if source == "kubernetes":  # p95 is a share of the limit kubernetes reports
        others["p95_pct"] = None
    assert {name: facts[name] for name in others} == others


def test_a_long_failure_message_is_cut():
    assert source_state({"failed": True, "msg": "x" * 1000}) == "x" * 300


def test_nothing_gathered():
    facts, sources = extract({})
    assert facts == dict.fromkeys(FACTS)
    assert sources == dict.fromkeys(SOURCES, "not gathered")


def test_zero_is_a_fact_and_missing_is_none():
    zeros = {
        "kubernetes": {"summary": {"limits_bytes": [], "max_usage_pct_of_limit": 0.0, "oom_kills": 0,
                                   "total_restarts": 0}},
        "prometheus": {"aggregate": {"history_seconds": 0, "growth_per_hour_max": 0, "p95_max": 0,
                                     "correlation_r": 0.0}},
        "redis": {"count": 0, "ttl": {"without_ttl_pct": 0.0}, "context_length": {}, "memory": None, "server": {}},
        "mongodb": {"connections": {"current": 0}},
        "agent": {"families": {"bruno_redis_pool_in_use": {"samples": [{"value": 0}]},
                               "bruno_redis_pool_max": {"samples": [{"value": 10}]}}},
        "logs": {"logs": []},
    }
    facts, sources = extract(zeros)
    assert sources == dict.fromkeys(SOURCES, True)
    assert facts == {
        "limit_bytes": None, "usage_max_pct": 0.0, "oom_kills": 0, "restarts": 0,
        "history_hours": 0.0, "growth_mib_per_hour": 0.0, "p95_pct": None, "session_correlation": 0.0,
        "sessions": 0, "sessions_without_ttl_pct": 0.0, "context_p95_messages": None, "session_mean_bytes": None,
        "redis_clients": None, "mongo_connections": 0, "pool_in_use_pct": 0.0, "log_memory_lines": 0,
    }


@pytest.mark.parametrize(("source", "result", "expected"), [
    ("kubernetes", {"summary": None}, {"limit_bytes": None, "usage_max_pct": None, "oom_kills": None,
                                       "restarts": None}),
    ("prometheus", {"aggregate": None}, {"history_hours": None, "growth_mib_per_hour": None, "p95_pct": None,
                                         "session_correlation": None}),
    ("prometheus", {"aggregate": {"p95_max": GIB, "growth_per_hour_max": -3 * MIB}},
     {"p95_pct": 50.0, "growth_mib_per_hour": -3.0, "history_hours": None}),
    ("redis", {"count": 12, "ttl": "n/a", "server": None}, {"sessions": 12, "sessions_without_ttl_pct": None,
                                                            "redis_clients": None}),
    ("mongodb", {"connections": None}, {"mongo_connections": None}),  # FerretDB does not report connections
    ("agent", {"families": {}}, {"pool_in_use_pct": None}),
    ("agent", {"families": {"bruno_mongo_pool_in_use": {"samples": [{"value": 4}, {"value": None}]},
                            "bruno_mongo_pool_max": {"samples": [{"value": 0}]}}}, {"pool_in_use_pct": None}),
    ("agent", {"families": {"bruno_mongo_pool_in_use": {"samples": [{"value": 4}]}}}, {"pool_in_use_pct": None}),
    ("logs", {"logs": None}, {"log_memory_lines": 0}),
])
def test_partial_results_give_none_not_zero(source, result, expected):
    facts, sources = extract(dict(RESULTS, **{source: result}))
    assert sources[source] is True
    assert {name: facts[name] for name in expected} == expected

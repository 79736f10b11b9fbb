"""diagnosis_facts.extract: the gather modules' registered results become the verdict's flat facts."""

import pytest

from ansible_collections.bruno.ops.plugins.module_utils.facts.diagnosis_facts import (
    FACTS,
    MIB,
    SOURCES,
    extract,
    histogram_quantile,
    missing_reasons,
    source_state,
)

GIB = 2 ** 30

RESULTS = {
    "kubernetes": {"changed": False, "summary": {
        "limits_bytes": [GIB, 2 * GIB], "max_usage_pct_of_limit": 88.4, "oom_kills": 2, "total_restarts": 5},
        "pods": [{"containers": [{"env_names": ["SESSION_TTL", "REDIS_URL"], "request_bytes": GIB // 2}]},
                 {"containers": [{"env_names": ["PORT"]}, {"env_names": []}]}]},
    "prometheus": {"changed": False, "aggregate": {
        "history_seconds": 5400, "growth_per_hour_max": 41 * MIB, "p95_max": 1.5 * GIB, "correlation_r": 0.93,
        "persistent_growth_per_hour": 40 * MIB, "early_growth_per_hour": 60 * MIB, "lifetime_seconds_max": 5400,
        "lifetimes_ended_at_limit": 0, "restarts_seen": 1, "regression_share": 0.5, "regression_slope": 1500.0,
        "regression_r2": 0.9, "regression_r2_age": 0.7, "regression_gain_load": 0.21, "regression_gain_age": 0.01,
        "regression_change_r": None, "regression_unexplained_per_hour": None, "regression_load_moved": 0.4,
        "regression_collinear": False}},
    "redis": {"changed": False, "count": 300000, "ttl": {"without_ttl_pct": 40.0},
              "context_length": {"p95": 120, "mean": 7.5}, "memory": {"mean_bytes": 9000},
              "idle": {"lt_1m": 10, "lt_10m": 15, "lt_1h": 25, "lt_24h": 50, "ge_24h": 0},
              "server": {"connected_clients": 450, "maxclients": 1000, "maxmemory_bytes": 0,
                         "maxmemory_policy": "noeviction", "used_memory_bytes": 10 ** 8,
                         "slowlog_keys": {"entries": 3, "max_duration_us": 9000},
                         "clients_by_addr": [{"addr": "10.0.0.7", "connections": 420, "names": []},
                                             {"addr": "10.0.0.8", "connections": 30, "names": []}]}},
    "mongodb": {"changed": False, "connections": {"current": 37, "available": 963},
                "collection": {"name": "conversations", "exists": True, "documents": 1200,
                               "latest_age_seconds": 7200.0}},
    "agent": {"changed": False, "families": {
        "bruno_redis_pool_in_use": {"samples": [{"value": 9}, {"value": 10}]},
        "bruno_redis_pool_max": {"samples": [{"value": 10}, {"value": 10}]},
        "bruno_mongo_pool_in_use": {"samples": [{"value": 3}]},
        "bruno_mongo_pool_max": {"samples": [{"value": 20}]},
        "bruno_active_sessions": {"samples": [{"name": "bruno_active_sessions", "labels": {}, "value": 0}]},
        "bruno_requests": {"samples": [
            {"name": "bruno_requests_total", "labels": {"method": "POST", "endpoint": "/chat", "status": "200"},
             "value": 90},
            {"name": "bruno_requests_total", "labels": {"method": "POST", "endpoint": "/chat", "status": "503"},
             "value": 10},
            {"name": "bruno_requests_total", "labels": {"method": "GET", "endpoint": "/health", "status": "500"},
             "value": 1000},
            {"name": "bruno_requests_created", "labels": {"method": "POST", "endpoint": "/chat", "status": "200"},
             "value": 1.7e9}]},
        "bruno_request_duration_seconds": {"samples": [
            {"name": "bruno_request_duration_seconds_bucket", "labels": {"endpoint": "/chat", "le": "1.0"},
             "value": 50},
            {"name": "bruno_request_duration_seconds_bucket", "labels": {"endpoint": "/chat", "le": "5.0"},
             "value": 90},
            {"name": "bruno_request_duration_seconds_bucket", "labels": {"endpoint": "/chat", "le": "10.0"},
             "value": 100},
            {"name": "bruno_request_duration_seconds_bucket", "labels": {"endpoint": "/chat", "le": "+Inf"},
             "value": 100},
            {"name": "bruno_request_duration_seconds_bucket", "labels": {"endpoint": "/health", "le": "+Inf"},
             "value": 1000}]},
        "bruno_memory_operations": {"samples": [
            {"name": "bruno_memory_operations_total", "labels": {"operation": "chat", "status": "success"},
             "value": 95},
            {"name": "bruno_memory_operations_total", "labels": {"operation": "mongo_save", "status": "error"},
             "value": 5}]},
    }, "ready": {"status_code": 200, "status": "degraded", "degraded": True}},
    "logs": {"changed": False, "logs": [{"pod": "a", "matched_lines": 3}, {"pod": "b", "matched_lines": None},
                                        {"pod": "c"}, {"pod": "d", "matched_lines": 4}],
             "summary": {"groups": {"memory": 7, "pool": 12, "timeout": 4, "persistence": 2}}},
}

EXPECTED = {
    "limit_bytes": 2 * GIB, "request_bytes": GIB // 2, "usage_max_pct": 88.4, "oom_kills": 2, "restarts": 5,
    "container_env": ["PORT", "REDIS_URL", "SESSION_TTL"],
    "history_hours": 1.5, "growth_mib_per_hour": 40.0, "growth_early_mib_per_hour": 60.0,
    "growth_window_mib_per_hour": 41.0, "lifetime_hours": 1.5, "lifetimes_ended_at_limit": 0, "restarts_seen": 1,
    # (2 GiB - 88.4 % of it) / 40 MiB/h
    "hours_to_limit": 5.94, "session_memory_share_pct": 50.0, "session_bytes_per_session": 1500.0,
    "session_fit_r2": 0.9, "age_fit_r2": 0.7, "session_gain_r2": 0.21, "age_gain_r2": 0.01,
    "session_change_r": None, "growth_unexplained_mib_per_hour": None, "sessions_moved_pct": 40.0,
    "p95_pct": 75.0, "session_correlation": 0.93,
    "sessions": 300000, "sessions_without_ttl_pct": 40.0, "context_p95_messages": 120, "session_mean_turns": 7.5,
    "session_mean_bytes": 9000, "sessions_recent_pct": 25.0,
    "redis_clients": 450, "redis_maxclients": 1000, "redis_clients_pct_of_max": 45.0, "redis_clients_top_addr": 420,
    "redis_client_addrs": 2, "redis_maxmemory_bytes": 0, "redis_maxmemory_policy": "noeviction",
    "redis_used_memory_pct": None, "redis_slowlog_keys": 3,
    "mongo_connections": 37, "mongo_connections_pct": 3.7, "conversations_documents": 1200,
    "conversations_latest_age_seconds": 7200.0,
    "pool_in_use_pct": 95.0, "active_sessions_gauge": 0, "http_requests": 100, "http_5xx_pct": 10.0,
    "chat_requests": 100, "chat_latency_p95_seconds": 7.5, "memory_op_error_pct": 5.0, "mongo_save_failures": 5,
    "ready_degraded": 1,
    "log_memory_lines": 7, "log_pool_error_lines": 12, "log_timeout_lines": 4, "log_persistence_error_lines": 2,
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
    if source == "kubernetes":  # p95 and the time to the limit read the limit and usage kubernetes reports
        others["p95_pct"] = None
        others["hours_to_limit"] = None
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
                                     "correlation_r": 0.0, "persistent_growth_per_hour": 0}},
        "redis": {"count": 0, "ttl": {"without_ttl_pct": 0.0}, "context_length": {}, "memory": None, "server": {}},
        "mongodb": {"connections": {"current": 0}},
        "agent": {"families": {"bruno_redis_pool_in_use": {"samples": [{"value": 0}]},
                               "bruno_redis_pool_max": {"samples": [{"value": 10}]}}},
        "logs": {"logs": []},
    }
    facts, sources = extract(zeros)
    assert sources == dict.fromkeys(SOURCES, True)
    old = {
        "limit_bytes": None, "usage_max_pct": 0.0, "oom_kills": 0, "restarts": 0,
        "history_hours": 0.0, "growth_mib_per_hour": 0.0, "growth_window_mib_per_hour": 0.0, "p95_pct": None,
        "session_correlation": 0.0, "sessions": 0, "sessions_without_ttl_pct": 0.0, "context_p95_messages": None,
        "session_mean_bytes": None,
        "redis_clients": None, "mongo_connections": 0, "pool_in_use_pct": 0.0, "log_memory_lines": 0,
    }
    assert {name: facts[name] for name in old} == old
    assert {name: value for name, value in facts.items() if name not in old} == dict.fromkeys(set(facts) - set(old))


@pytest.mark.parametrize(("source", "result", "expected"), [
    ("kubernetes", {"summary": None}, {"limit_bytes": None, "usage_max_pct": None, "oom_kills": None,
                                       "restarts": None}),
    ("prometheus", {"aggregate": None}, {"history_hours": None, "growth_mib_per_hour": None, "p95_pct": None,
                                         "session_correlation": None}),
    ("prometheus", {"aggregate": {"p95_max": GIB, "growth_per_hour_max": -3 * MIB}},
     {"p95_pct": 50.0, "growth_window_mib_per_hour": -3.0, "growth_mib_per_hour": None, "history_hours": None}),
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


def test_missing_reasons_name_what_was_not_reported():
    facts, sources = extract(dict(RESULTS, agent={"families": {}}, prometheus={"failed": True, "msg": "down"}))
    reasons = missing_reasons(facts, sources)
    assert reasons["pool_in_use_pct"] == "pool gauges not exported"
    assert reasons["ready_degraded"] == "GET /ready not read"
    assert reasons["growth_mib_per_hour"] == "prometheus unavailable"
    assert "sessions" not in reasons


@pytest.mark.parametrize(("buckets", "expected"), [
    ([], None), ([(1.0, 0), (float("inf"), 0)], None),
    ([(1.0, 100), (float("inf"), 100)], 0.95),
    ([(1.0, 0), (2.0, 100), (float("inf"), 100)], 1.95),
    ([(1.0, 10), (float("inf"), 100)], 1.0),  # the top is above the last finite bucket: its bound
])
def test_histogram_quantile(buckets, expected):
    got = histogram_quantile(0.95, buckets)
    assert got == expected if expected is None else abs(got - expected) < 1e-9


def test_the_gauge_and_requests_without_labels_or_counts():
    facts, _sources = extract(dict(RESULTS, agent={"families": {
        "bruno_requests": {"samples": [{"name": "bruno_requests_total", "value": 5,
                                        "labels": {"endpoint": "/metrics", "status": "200"}}]}}}))
    assert facts["http_requests"] == 0 and facts["http_5xx_pct"] is None and facts["chat_requests"] == 0
    assert facts["mongo_save_failures"] is None and facts["memory_op_error_pct"] is None
    assert facts["ready_degraded"] is None and facts["active_sessions_gauge"] is None


def test_ready_states():
    for ready, expected in (({"status": "ready", "degraded": False}, 0), ({"status": "degraded"}, 1),
                            ({"status": None}, None), ("oops", None)):
        facts, _sources = extract(dict(RESULTS, agent={"families": {}, "ready": ready}))
        assert facts["ready_degraded"] == expected


@pytest.mark.parametrize("container", [{}, {"env_names": ["A"], "env_from": ["configMap/agent"]}])
def test_the_env_is_unknown_when_not_reported_or_partly_elsewhere(container):
    facts, _sources = extract(dict(RESULTS, kubernetes=dict(RESULTS["kubernetes"], pods=[{"containers": [container]}])))
    assert facts["container_env"] is None


def test_the_window_over_every_pod_beats_one_pods_scrape():
    window = {"requests": 2000.0, "errors_5xx": 160.0, "chats": 1900.0, "chat_p95_seconds": 3.4567}
    facts, _sources = extract(dict(RESULTS, prometheus=dict(RESULTS["prometheus"], requests=window)))
    assert (facts["http_requests"], facts["http_5xx_pct"], facts["chat_requests"],
            facts["chat_latency_p95_seconds"]) == (2000, 8.0, 1900, 3.457)
    quiet = {"requests": 5.0, "errors_5xx": None, "chats": None, "chat_p95_seconds": None}
    facts, _sources = extract(dict(RESULTS, prometheus=dict(RESULTS["prometheus"], requests=quiet)))
    assert facts["http_requests"] == 5 and facts["http_5xx_pct"] == EXPECTED["http_5xx_pct"]  # too few: the scrape's
    assert facts["chat_latency_p95_seconds"] == EXPECTED["chat_latency_p95_seconds"]
    facts, _sources = extract(dict(RESULTS, agent={"failed": True, "msg": "down"},
                                   prometheus=dict(RESULTS["prometheus"], requests=window)))
    assert facts["http_5xx_pct"] is None  # the agent's facts stay with the agent source

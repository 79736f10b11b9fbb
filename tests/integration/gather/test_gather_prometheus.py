"""bruno.ops.prometheus_query against a real Prometheus whose 6 hours of history were backfilled with a
known slope, spikes and a correlated session count."""

import pytest
from gatherlab import HOUR, MIB, POD_A_SLOPE, POD_A_START, POINTS, STEP, run_module

from ansible_collections.bruno.ops.plugins.module_utils.facts import series_stats

MODULE = "bruno.ops.prometheus_query"
WS = 'container_memory_working_set_bytes{namespace="bruno"}'
LIMIT = 1024 * MIB


def by_pod(result):
    return {s["labels"]["pod"]: s for s in result["series"]}


def window(prom, **extra):
    args = {"prometheus": prom["conn"], "start": str(prom["start_ts"]), "end": str(prom["end_ts"]), "step": "1m"}
    args.update(extra)
    return args


def test_range_summaries_match_the_injected_history(history_prometheus):
    rc, result, _raw = run_module(MODULE, window(history_prometheus, query=WS, limit_bytes=LIMIT))
    assert rc == 0, result
    assert result["changed"] is False and result["result_type"] == "matrix"
    pods = by_pod(result)
    assert sorted(pods) == ["agent-bruno-a", "agent-bruno-b"]
    a, b = pods["agent-bruno-a"], pods["agent-bruno-b"]
    assert a["samples"] == POINTS and b["samples"] == POINTS
    # Theil-Sen sees through the 300 MiB spikes on 5% of the points.
    assert a["growth_per_hour"] / MIB == pytest.approx(POD_A_SLOPE / MIB, abs=1.0)
    assert abs(b["growth_per_hour"] / MIB) < 1.0
    level = POD_A_START + POD_A_SLOPE * (POINTS - 1) * STEP / HOUR
    assert a["projected_seconds_to_limit"] / HOUR == pytest.approx((LIMIT - level) / POD_A_SLOPE, rel=0.06)
    assert a["max"] >= level + 250 * MIB  # a spike is the maximum
    assert a["p95"] < a["max"]
    assert a["first_timestamp"] == history_prometheus["start_ts"]
    assert a["last_timestamp"] == history_prometheus["end_ts"]
    agg = result["aggregate"]
    assert agg["series"] == 2 and agg["samples"] == 2 * POINTS
    assert agg["growth_per_hour_max"] == a["growth_per_hour"]
    assert agg["projected_seconds_to_limit_min"] is not None
    assert agg["history_seconds"] == (POINTS - 1) * STEP
    assert "points" not in a and result["notes"] == []


def test_correlation_with_the_session_count(history_prometheus):
    rc, result, _raw = run_module(MODULE, window(history_prometheus, query=WS,
                                                 correlate_with="bruno_active_sessions"))
    assert rc == 0, result
    a, b = by_pod(result)["agent-bruno-a"], by_pod(result)["agent-bruno-b"]
    assert a["correlation"]["paired_with"] == "the only series"
    assert a["correlation"]["pairs"] == POINTS
    injected = history_prometheus["series"]
    sessions = [v for _t, v in injected["sessions"]]
    for pod, summary in (("ws_a", a), ("ws_b", b)):
        memory = [v for _t, v in injected[pod]]
        assert summary["correlation"]["r"] == pytest.approx(series_stats.pearson(memory, sessions), abs=1e-9)
        assert summary["correlation"]["spearman"] == pytest.approx(series_stats.spearman(memory, sessions), abs=1e-9)
    assert a["correlation"]["spearman"] > 0.8  # grows with the sessions; the spikes cannot hide it from ranks
    assert abs(b["correlation"]["r"]) < 0.3 and abs(b["correlation"]["spearman"]) < 0.3  # flat: unexplained
    assert result["aggregate"]["correlation_r"] == a["correlation"]["r"]


def test_correlation_pairs_series_with_the_same_labels(history_prometheus):
    rc, result, _raw = run_module(MODULE, window(history_prometheus, query=WS,
                                                 correlate_with='container_memory_rss{namespace="bruno"}'))
    assert rc == 0, result
    for summary in result["series"]:
        assert summary["correlation"]["paired_with"] == "matching labels"
        assert summary["correlation"]["r"] > 0.9  # each pod's RSS follows its own working set


def test_points_are_downsampled_for_charts(history_prometheus):
    rc, result, _raw = run_module(MODULE, window(history_prometheus, query=WS, return_points=True, max_points=50))
    assert rc == 0, result
    points = by_pod(result)["agent-bruno-a"]["points"]
    assert len(points) == 50
    assert points[0][0] == history_prometheus["start_ts"] and points[-1][0] == history_prometheus["end_ts"]


def test_instant_query_at_a_given_time(history_prometheus):
    rc, result, _raw = run_module(MODULE, {"prometheus": history_prometheus["conn"], "mode": "instant",
                                           "query": "sum(%s)" % WS, "end": str(history_prometheus["end_ts"])})
    assert rc == 0, result
    assert result["result_type"] == "vector" and result["window"]["start"] is None
    (series,) = result["series"]
    assert series["samples"] == 1 and series["growth_per_hour"] is None
    assert 1050 * MIB < series["last"] < 1400 * MIB  # 520 + 600 MiB, noise and a possible spike aside


def test_check_mode_gives_the_same_answer(history_prometheus):
    args = window(history_prometheus, query=WS)
    _rc, real, _raw = run_module(MODULE, args)
    rc, checked, _raw = run_module(MODULE, args, check=True)
    assert rc == 0 and checked["changed"] is False
    assert checked["series"] == real["series"]


def test_no_series_is_an_empty_answer_not_a_failure(history_prometheus):
    rc, result, _raw = run_module(MODULE, window(history_prometheus, query="nothing_here_total"))
    assert rc == 0, result
    assert result["series"] == [] and result["aggregate"]["max"] is None
    assert result["notes"] == ["the query returned no series"]


def test_bad_promql_says_what_prometheus_said(history_prometheus):
    rc, result, raw = run_module(MODULE, window(history_prometheus, query="sum(rate(x[5m])"))
    assert rc != 0 and result["failed"] is True
    assert result["error"]["kind"] == "api_error"
    assert "HTTP 400" in result["msg"] and "parse error" in result["msg"]
    assert "Traceback" not in raw

"""prometheus_query's pure parts (time options, result parsing, pairing) and its argument handling."""

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.bruno.ops.plugins.module_utils.facts import prometheus_series as ps
from ansible_collections.bruno.ops.plugins.modules import prometheus_query

NOW = 1_764_396_000.0


@pytest.mark.parametrize(("spec", "expected"), [
    (None, NOW),
    ("now", NOW),
    ("-6h", NOW - 6 * 3600),
    ("now-30m", NOW - 1800),
    ("now - 1h30m", NOW - 5400),
    ("-300", NOW - 300),
    ("1764000000", 1764000000.0),
    (1764000000, 1764000000.0),
    ("2025-11-24T16:00:00Z", 1764000000.0),
    ("2025-11-24T17:00:00+01:00", 1764000000.0),
])
def test_time_specs(spec, expected):
    assert ps.parse_time_spec(spec, NOW, "start") == pytest.approx(expected)


@pytest.mark.parametrize("spec", ["yesterday", "-6 hours", "now+1h", ""])
def test_bad_time_specs_say_what_is_accepted(spec):
    with pytest.raises(ValueError, match="start .* is not a time: use now, a relative time"):
        ps.parse_time_spec(spec, NOW, "start")


def test_range_window_auto_step_and_limits():
    start, end, step = ps.range_window("-6h", "now", None, NOW)
    assert (start, end, step) == (NOW - 21600, NOW, 30.0)
    assert ps.range_window("-10m", "now", None, NOW)[2] == 15.0  # never below 15 s
    assert ps.range_window("-6h", "now", "1m", NOW)[2] == 60.0
    with pytest.raises(ValueError, match="end must be after start"):
        ps.range_window("now", "-1h", None, NOW)
    with pytest.raises(ValueError, match="more than 11000 points per series"):
        ps.range_window("-30d", "now", "15s", NOW)


def test_parse_result_every_type():
    matrix = {"resultType": "matrix", "result": [
        {"metric": {"pod": "a"}, "values": [[1, "1.5"], [2, "NaN"]]}]}
    assert ps.parse_result(matrix)[0][0] == {"pod": "a"}
    assert ps.parse_result(matrix)[0][1][0] == (1.0, 1.5)
    vector = {"resultType": "vector", "result": [{"metric": {}, "value": [5, "+Inf"]}]}
    assert ps.parse_result(vector)[0][1][0][1] == float("inf")
    assert ps.parse_result({"resultType": "scalar", "result": [7, "3"]}) == [({}, [(7.0, 3.0)])]
    assert ps.parse_result({"resultType": "vector", "result": []}) == []
    with pytest.raises(ValueError, match="string"):
        ps.parse_result({"resultType": "string", "result": [7, "x"]})


def test_pairing_prefers_matching_labels_then_the_only_series_then_the_sum():
    others = [({"__name__": "rss", "pod": "a"}, [(1, 1.0)]), ({"__name__": "rss", "pod": "b"}, [(1, 2.0)])]
    assert ps.pair_series({"__name__": "ws", "pod": "b"}, others) == ([(1, 2.0)], "matching labels")
    assert ps.pair_series({"pod": "c"}, others) == ([(1, 3.0)], "sum of 2 series")
    assert ps.pair_series({"pod": "c"}, others[:1]) == ([(1, 1.0)], "the only series")


def test_summaries_with_correlation_and_points_and_aggregate():
    a = [(float(t), 100.0 + t) for t in range(0, 600, 60)]
    b = [(float(t), 200.0 - t) for t in range(0, 600, 60)]
    sessions = [({}, [(float(t), float(t)) for t in range(0, 600, 60)])]
    summaries, dropped = ps.summarize_series([({"pod": "b"}, b), ({"pod": "a"}, a + [(600.0, float("nan"))])],
                                             limit=1000.0, correlate_with=sessions, return_points=True,
                                             max_points=5)
    assert dropped == 1
    assert [s["labels"]["pod"] for s in summaries] == ["a", "b"]
    assert summaries[0]["correlation"]["r"] == pytest.approx(1.0)
    assert summaries[1]["correlation"] == {"r": pytest.approx(-1.0), "spearman": pytest.approx(-1.0), "pairs": 10,
                                           "paired_with": "the only series"}
    assert len(summaries[0]["points"]) == 5
    agg = ps.aggregate(summaries)
    assert agg["series"] == 2 and agg["samples"] == 20
    assert agg["growth_per_hour_max"] == pytest.approx(3600.0)
    assert abs(agg["correlation_r"]) == pytest.approx(1.0)
    assert agg["history_seconds"] == 540.0
    assert agg["projected_seconds_to_limit_min"] == pytest.approx(1000 - 640.0)


def test_aggregate_of_nothing_is_nulls():
    agg = ps.aggregate([])
    assert agg["series"] == 0 and agg["max"] is None and agg["correlation_r"] is None


def run_main(capsys, args):
    with patch_module_args(args), pytest.raises(SystemExit) as exited:
        prometheus_query.main()
    return exited.value.code, json.loads(capsys.readouterr().out)


def test_bad_window_fails_before_any_request(capsys):
    code, result = run_main(capsys, {"prometheus": {"url": "http://127.0.0.1:9"}, "query": "up",
                                     "start": "the day before"})
    assert code == 1 and result["error"]["kind"] == "invalid_input"
    assert "start 'the day before' is not a time" in result["msg"]


def test_correlation_needs_range_mode(capsys):
    code, result = run_main(capsys, {"prometheus": {"url": "http://127.0.0.1:9"}, "query": "up",
                                     "mode": "instant", "correlate_with": "up"})
    assert code == 1 and "correlate_with needs mode=range" in result["msg"]


def test_unreachable_prometheus_is_one_clear_error(capsys):
    code, result = run_main(capsys, {"prometheus": {"url": "http://127.0.0.1:9", "timeout": 2.0}, "query": "up"})
    assert code == 1 and result["error"]["kind"] == "unreachable"
    assert "Prometheus http://127.0.0.1:9" in result["msg"]

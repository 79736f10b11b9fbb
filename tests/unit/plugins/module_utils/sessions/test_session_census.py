"""The pure parts of the Redis session census: glob matching, the count estimate, histograms."""

import math

import pytest

from ansible_collections.bruno.ops.plugins.module_utils.sessions import census as sc
from ansible_collections.bruno.ops.plugins.module_utils.sessions import scope


@pytest.mark.parametrize(("pattern", "key", "expected"), [
    ("bruno:session:*", b"bruno:session:abc", True),
    ("bruno:session:*", b"bruno:session:", True),
    ("bruno:session:*", b"bruno:sessions", False),
    ("bruno:session:*", b"xbruno:session:1", False),
    ("s?ss", b"sess", True),
    ("s?ss", b"ss", False),
    ("k[abc]", b"kb", True),
    ("k[abc]", b"kd", False),
    ("k[^abc]", b"kd", True),
    ("k[^abc]", b"ka", False),
    ("k[a-c]", b"kb", True),
    ("k[c-a]", b"kb", True),  # Redis swaps a reversed range
    ("k\\*", b"k*", True),
    ("k\\*", b"kx", False),
    ("a.b*", b"aXb", False),  # a regex dot is a literal in a glob
    ("*", b"line\nbreak", True),
    ("caf\xc3\xa9:*", "café:1".encode(), True),  # pattern given as latin-1 text of its UTF-8 bytes
])
def test_glob_matches_like_redis(pattern, key, expected):
    assert sc.matches(sc.glob_to_regex(pattern), key) is expected


def test_escape_glob_makes_a_literal_prefix():
    pattern = scope.escape_glob("app[1]:*?\\") + "*"
    assert pattern == "app\\[1\\]:\\*\\?\\\\*"
    assert sc.matches(sc.glob_to_regex(pattern), b"app[1]:*?\\session")
    assert not sc.matches(sc.glob_to_regex(pattern), b"app1:x?\\session")


def test_wilson_interval_brackets_the_share_and_handles_the_edges():
    low, high = sc.wilson_interval(50, 100)
    assert low < 0.5 < high and high - low == pytest.approx(0.19, abs=0.01)
    low, high = sc.wilson_interval(0, 100)
    assert low == 0.0 and 0.02 < high < 0.05  # none seen is not "none exist"
    low, high = sc.wilson_interval(100, 100)
    assert high == 1.0 and 0.95 < low < 0.98
    assert sc.wilson_interval(0, 0) == (0.0, 1.0)


def test_estimate_count_scales_the_share_with_its_binomial_error():
    est = sc.estimate_count(100000, 800, 2000)
    assert est["count"] == 40000
    assert est["fraction"] == 0.4
    assert est["stderr"] == pytest.approx(100000 * math.sqrt(0.4 * 0.6 / 2000), abs=0.1)
    low, high = est["ci95"]
    assert low < 40000 < high
    assert high - low == pytest.approx(2 * 1.96 * est["stderr"], rel=0.02)
    assert sc.estimate_count(100000, 0, 0)["count"] is None


def test_histograms_put_bounds_in_the_next_bucket():
    assert sc.histogram([0, 59, 60, 599, 600, 3599, 3600, 86399, 86400, 10 ** 7], sc.IDLE_BUCKETS) == {
        "lt_1m": 2, "lt_10m": 2, "lt_1h": 2, "lt_24h": 2, "ge_24h": 2}


def test_ttl_summary_counts_no_ttl_separately():
    summary = sc.ttl_summary([-1, -1, 1000, 3_600_000, 86_400_000, 90_000_000])
    assert {k: summary[k] for k in ("none", "lt_1h", "lt_24h", "ge_24h")} == {
        "none": 2, "lt_1h": 1, "lt_24h": 1, "ge_24h": 2}
    assert summary["without_ttl_pct"] == pytest.approx(33.33)
    assert summary["max_seconds"] == 90000.0


def test_distribution_and_empty_distribution():
    assert sc.distribution([1, 2, 3, 4, 100]) == {"mean": 22.0, "p50": 3, "p95": pytest.approx(80.8), "max": 100}
    assert sc.distribution([]) == {"mean": None, "p50": None, "p95": None, "max": None}


def test_key_text_never_fails_on_binary_keys():
    assert sc.key_text(b"bruno:session:\xff") == "bruno:session:\\xff"


@pytest.mark.parametrize(("name", "value", "message"), [
    ("scan_count", 0, "scan_count must be at least 1"),
    ("max_scan_seconds", 0, "max_scan_seconds must be a positive"),
    ("largest", -1, "largest must be 0 or more"),
])
def test_validate_names_the_bad_option(name, value, message):
    params = {"scan_count": 10, "sample_size": 10, "estimate_samples": 10, "exact_count_limit": 10,
              "max_scan_seconds": 1.0, "largest": 1, name: value}
    with pytest.raises(sc.errors.BrunoOpsError, match=message):
        sc.validate(params)


def test_clients_grouped_by_address_most_connections_first():
    entries = [{"addr": "10.42.0.7:5101", "name": "agent"}, {"addr": "10.42.0.7:5102", "name": ""},
               {"addr": "10.42.0.9:6000", "name": "other"}, {"addr": "[::1]:7000", "name": b"raw"},
               {"addr": "10.42.0.7:5103", "name": "agent"}]
    assert sc.clients_by_addr(entries) == [
        {"addr": "10.42.0.7", "connections": 3, "names": ["agent"]},
        {"addr": "10.42.0.9", "connections": 1, "names": ["other"]},
        {"addr": "::1", "connections": 1, "names": ["raw"]},
    ]
    assert len(sc.clients_by_addr([{"addr": "10.0.%d.1:1" % i} for i in range(80)])) == 50


def test_slowlog_counts_only_keys():
    entries = [{"command": b"KEYS bruno:session:*", "duration": 52000, "start_time": 1764706443},
               {"command": b"keys x*", "duration": 10, "start_time": 1764706400},
               {"command": b"SCAN 0", "duration": 99999, "start_time": 1764706999}]
    assert sc.slowlog_keys(entries) == {"entries": 2, "max_duration_us": 52000, "last_unix": 1764706443}
    assert sc.slowlog_keys([]) == {"entries": 0, "max_duration_us": None, "last_unix": None}

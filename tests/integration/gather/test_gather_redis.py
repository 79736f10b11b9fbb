"""bruno.ops.redis_session_info against a real Redis (7.0: no CLIENT NO-TOUCH) holding 20k sessions in the
agent's shape (lists of JSON turns under bruno:session:<ip>, mixed TTLs, some long contexts), 1k string keys
under the same prefix and 4k other keys."""

import pytest
from gatherlab import LARGE_EVERY, LARGE_LENGTH, REDIS_PASSWORD, SESSIONS, run_module, session_ip, turn

MODULE = "bruno.ops.redis_session_info"


def census(session_redis, check=False, **options):
    rc, result, raw = run_module(MODULE, dict({"redis": session_redis["conn"]}, **options), check=check)
    assert rc == 0, raw[-3000:]
    assert result["changed"] is False
    return result


def test_exact_census_of_every_key(session_redis):
    truth = session_redis["truth"]
    result = census(session_redis, sample_size=50000)
    assert result["dbsize"] == truth["dbsize"]
    assert result["count"] == truth["count"] and result["count_exact"] is True
    assert result["count_method"] == "scan" and result["count_ci95"] == [truth["count"], truth["count"]]
    assert result["scan"]["complete"] is True and result["estimate"] is None
    assert result["sample"] == {"size": truth["count"], "vanished": 0, "of": truth["count"]}
    assert result["types"] == {"list": 20000, "string": 1000} and result["other_types"] == 1000
    ttl = result["ttl"]
    assert {k: ttl[k] for k in ("none", "lt_1h", "lt_24h", "ge_24h")} == truth["ttl"]
    assert ttl["without_ttl_pct"] == pytest.approx(100.0 * truth["ttl"]["none"] / truth["count"], abs=0.01)
    # Redis 7.0 has no CLIENT NO-TOUCH: lengths would restart idle times, so they are not read; bytes are.
    assert result["context_length"] is None and "context_length" in result["not_reported"]
    assert "NO-TOUCH" in result["context_length_unavailable"]
    lengths = truth["lengths"]
    size = result["context_bytes"]
    assert size["sessions"] == len(lengths)
    assert size["p50"] < size["p95"] < size["max"]
    assert size["max"] > LARGE_LENGTH * len(turn(0, 0))  # the long contexts are the largest
    memory = result["memory"]
    assert 0 < memory["p50_bytes"] <= memory["p95_bytes"] <= memory["max_bytes"]
    assert memory["estimated_total_bytes"] == pytest.approx(memory["mean_bytes"] * truth["count"], rel=1e-6)
    assert result["largest_scope"] == "all"
    assert len(result["largest"]) == 10
    assert all(row["length"] is None and row["type"] == "list" for row in result["largest"])
    assert all(row["key"].startswith("bruno:session:198.18.") and row["key"].endswith(".x")
               for row in result["largest"])  # redacted by default
    assert [row["bytes"] for row in result["largest"]] == sorted((row["bytes"] for row in result["largest"]),
                                                                 reverse=True)
    server = result["server"]
    assert server["version"].startswith("7.") and server["connected_clients"] >= 1
    assert server["maxmemory_policy"] == "noeviction" and server["maxmemory_bytes"] == 0
    assert server["used_memory_pct_of_maxmemory"] is None and server["used_memory_bytes"] > 0
    assert server["db_keys_with_expiry"] == truth["count"] - truth["ttl"]["none"]
    assert isinstance(server["clients_by_addr"], list) and server["clients_by_addr"][0]["addr"] == "127.0.0.1"
    assert server["slowlog_keys"]["entries"] >= 0
    assert result["not_reported"] == ["context_length"]


def test_default_sample_and_largest_over_all_keys(session_redis):
    truth = session_redis["truth"]
    result = census(session_redis, max_scan_seconds=120)  # a generous budget: largest must cover every key
    assert result["count"] == truth["count"] and result["count_exact"] is True
    assert result["sample"]["size"] == 1000
    expected_pct = 100.0 * truth["ttl"]["none"] / truth["count"]
    assert result["ttl"]["without_ttl_pct"] == pytest.approx(expected_pct, abs=6)  # > 4 standard errors
    assert result["context_bytes"]["p95"] < result["context_bytes"]["max"]
    assert result["largest_scope"] == "all"
    unredacted = census(session_redis, max_scan_seconds=120, redact=False)
    large = {"bruno:session:%s" % session_ip(i) for i in range(0, SESSIONS, LARGE_EVERY)}
    assert len(unredacted["largest"]) == 10 and {row["key"] for row in unredacted["largest"]} <= large


def test_estimate_above_the_exact_count_limit(session_redis):
    truth = session_redis["truth"]
    result = census(session_redis, exact_count_limit=1000)
    assert result["count_exact"] is False and result["count_method"] == "randomkey_sample"
    estimate = result["estimate"]
    assert estimate["samples"] == 2000 and 0 < estimate["fraction"] < 1
    assert result["count_stderr"] > 0
    assert abs(result["count"] - truth["count"]) <= 5 * result["count_stderr"]
    low, high = result["count_ci95"]
    assert low <= result["count"] <= high
    assert result["scan"]["complete"] is False and result["scan"]["stopped_by"] == "enough_for_sample"
    assert result["sample"]["size"] == 1000
    assert result["largest_scope"] == "sample"
    assert any("count estimated from 2000 random keys" in note for note in result["notes"])


def test_scan_out_of_time_falls_back_to_the_estimate(session_redis):
    result = census(session_redis, max_scan_seconds=0.001, scan_count=10)
    assert result["scan"]["complete"] is False and result["scan"]["stopped_by"] == "max_scan_seconds"
    assert result["count_exact"] is False
    assert result["count"] >= result["scan"]["keys_seen"] and result["count_ci95"][0] >= result["scan"]["keys_seen"]
    assert any("SCAN did not finish within max_scan_seconds" in note for note in result["notes"])


def test_prefix_of_string_keys(session_redis):
    result = census(session_redis, prefix="bruno:session:meta:")
    assert result["pattern"] == "bruno:session:meta:*"
    assert result["count"] == 1000 and result["types"] == {"string": 1000} and result["other_types"] == 1000
    assert result["context_length"] is None and result["context_bytes"] is None


def test_idle_histogram_from_restored_idle_times(session_redis):
    client = session_redis["client"]
    client.rpush("bruno:template", "{}")
    dump = client.dump("bruno:template")
    pipe = client.pipeline(transaction=False)
    for i in range(30):
        pipe.restore("bruno:idle:old-%02d" % i, 0, dump, replace=True, idletime=7200)
        pipe.restore("bruno:idle:stale-%02d" % i, 0, dump, replace=True, idletime=100000)
        pipe.restore("bruno:idle:new-%02d" % i, 0, dump, replace=True)
    pipe.delete("bruno:template")
    pipe.execute()
    try:
        first = census(session_redis, pattern="bruno:idle:*", context_lengths=False)
        idle = first["idle"]
        assert idle["lt_24h"] == 30 and idle["ge_24h"] == 30
        assert idle["lt_1m"] + idle["lt_10m"] == 30
        assert idle["max_seconds"] >= 100000
        assert "context_length" in first["not_reported"]
        # Reading without LLEN leaves idle times as they were.
        again = census(session_redis, pattern="bruno:idle:*", context_lengths=False)
        assert (again["idle"]["lt_24h"], again["idle"]["ge_24h"]) == (30, 30)
    finally:
        client.delete(*["bruno:idle:%s-%02d" % (kind, i) for kind in ("old", "stale", "new") for i in range(30)])


WRITES = ("cmdstat_set", "cmdstat_rpush", "cmdstat_expire", "cmdstat_del", "cmdstat_restore", "cmdstat_unlink",
          "cmdstat_ltrim", "cmdstat_persist", "cmdstat_flushdb")


def test_reads_only_and_never_keys(session_redis):
    client = session_redis["client"]

    def state():
        db, stats = client.info("keyspace")["db0"], client.info("commandstats")
        return (db["keys"], db["expires"]), {name: stats.get(name, {}).get("calls", 0) for name in WRITES}

    before = state()
    census(session_redis, check=True)
    stats = client.info("commandstats")
    assert "cmdstat_keys" not in stats
    assert {"cmdstat_scan", "cmdstat_memory|usage", "cmdstat_object|idletime", "cmdstat_pttl"} <= set(stats)
    assert state() == before  # same keys, same TTL count, not one write command


def idle_times(client, pattern):
    pipe = client.pipeline(transaction=False)
    keys = sorted(client.scan_iter(match=pattern, count=5000))
    for key in keys:
        pipe.object("idletime", key)
    return dict(zip(keys, pipe.execute(), strict=True))


def test_census_leaves_every_idle_time_alone_on_redis_7_0(session_redis):
    """Issue 12/18: a census before the cleanup must not make idle sessions look used."""
    client = session_redis["client"]
    client.rpush("bruno:template", turn(0, 0))
    dump = client.dump("bruno:template")
    pipe = client.pipeline(transaction=False)
    for i in range(40):
        pipe.restore("bruno:aging:198.51.100.%d" % i, 0, dump, replace=True, idletime=500 + i)
    pipe.delete("bruno:template")
    pipe.execute()
    try:
        before = idle_times(client, "bruno:aging:*")
        result = census(session_redis, pattern="bruno:aging:*", largest=5)
        after = idle_times(client, "bruno:aging:*")
        assert set(after) == set(before)
        # Idle times only grow with the clock (the run takes seconds); a touched key would be back near 0.
        assert all(after[key] >= before[key] for key in before), {
            key: (before[key], after[key]) for key in before if after[key] < before[key]}
        assert result["context_length"] is None and result["context_bytes"]["sessions"] == 40
    finally:
        client.delete(*["bruno:aging:198.51.100.%d" % i for i in range(40)])


def test_keys_in_the_slowlog_are_reported(session_redis):
    client = session_redis["client"]
    threshold = client.config_get("slowlog-log-slower-than")["slowlog-log-slower-than"]
    client.slowlog_reset()
    client.config_set("slowlog-log-slower-than", 0)
    try:
        client.keys("bruno:session:198.18.0.*")  # what the agent's GET /stats runs
    finally:
        client.config_set("slowlog-log-slower-than", threshold)
    result = census(session_redis, prefix="bruno:session:198.18.0.", largest=0)
    slow = result["server"]["slowlog_keys"]
    assert slow["entries"] >= 1 and slow["max_duration_us"] >= 0 and slow["last_unix"] > 0
    client.slowlog_reset()


def test_wrong_password_is_an_authentication_failure(session_redis):
    conn = dict(session_redis["conn"], password="Wr0ng-census-pw")
    rc, result, raw = run_module(MODULE, {"redis": conn})
    assert rc != 0 and result["error"]["kind"] == "authentication"
    assert "Wr0ng-census-pw" not in raw and REDIS_PASSWORD not in raw


def test_empty_database_is_zero_not_an_error(session_redis):
    result = census(session_redis, redis=dict(session_redis["conn"], db=5))
    assert (result["dbsize"], result["count"], result["count_exact"]) == (0, 0, True)
    assert result["ttl"] is None and result["idle"] is None and result["context_length"] is None
    assert result["memory"]["mean_bytes"] is None and result["memory"]["estimated_total_bytes"] is None
    assert result["largest"] == [] and result["server"]["db_keys_with_expiry"] == 0


def test_lfu_policy_reports_idle_as_not_reported(session_redis):
    client = session_redis["client"]
    policy = client.config_get("maxmemory-policy")["maxmemory-policy"]
    client.config_set("maxmemory-policy", "allkeys-lfu")
    try:
        result = census(session_redis, prefix="bruno:session:198.18.0.", context_lengths=False)
    finally:
        client.config_set("maxmemory-policy", policy)
    assert result["count"] == 100 and result["idle"] is None
    assert "idle" in result["not_reported"]
    assert any(note.startswith("OBJECT IDLETIME refused") for note in result["notes"])
    assert result["server"]["maxmemory_policy"] == "allkeys-lfu"

"""redis_session_cleanup against a Redis of each test's own (7.0 here): idle times a fork froze (issue 18 item 1),
the run lock on SIGTERM and SIGKILL (item 3), max_duration inside one batch (item 8), a paced SCAN and a restarted
Redis (item 11). The fork is made long by config (rdb-key-save-delay), not by data volume."""

import os
import signal
import time

from sessionlab import PREFIX, REDIS_PASSWORD, Background, load_idle_and_recent, message, run_module, wait_for

CLEANUP = "bruno.ops.redis_session_cleanup"
NEEDLE = "AnsiballZ_redis_session_cleanup"
LOCK = "bruno:ops:lock:reliability"


def persistence(client, name):
    return client.info("persistence")[name]


def test_sessions_written_during_a_save_are_not_deleted_as_idle(own_redis):
    """Redis 7.0 records no access while a fork runs, even for writes: a session used during a BGSAVE keeps its
    old idle time afterwards. The cleanup must not trust it until max_idle after the fork ended."""
    client = own_redis.client()
    load_idle_and_recent(client, idle=200, recent=0)  # idle for two hours
    client.config_set("rdb-key-save-delay", 10000)  # 10 ms per key: the BGSAVE of 200 keys lasts about 2 s
    client.bgsave()
    wait_for(lambda: persistence(client, "rdb_bgsave_in_progress") == 1, "the BGSAVE to start", timeout=30)
    written = ["%sidle-%06d" % (PREFIX, i) for i in range(100)]
    for key in written:  # the app writes a turn to 100 of them while Redis saves
        assert client.rpushx(key, message(2, "written during the save"))
        client.expire(key, 600)
    wait_for(lambda: persistence(client, "rdb_bgsave_in_progress") == 0, "the BGSAVE to end", timeout=60)
    client.config_set("rdb-key-save-delay", 0)
    assert client.object("idletime", written[0]) > 3600, "Redis 7.0 did refresh the idle time during the fork"

    args = {"redis": own_redis.options(), "policies": {"max_idle": 3600}}
    rc, result, raw = run_module(CLEANUP, args)
    assert rc == 0, raw[-3000:]
    assert result["deleted"] == 0 and result["deferred"] == 200 and result["deferred_after_fork"] == 200
    assert 0 <= result["last_fork_ended_seconds_ago"] < 3600
    assert any("last fork ended" in warning for warning in result["warnings"]), result["warnings"]
    assert all(client.exists(key) for key in written)

    # Once the fork ended longer than max_idle (+ 2 s) ago, idle times count again: with max_idle 1, after 3 s.
    wait_for(lambda: client.time()[0] - persistence(client, "rdb_last_save_time") > 3, "the save to age", timeout=30)
    rc, result, raw = run_module(CLEANUP, dict(args, policies={"max_idle": 1}))
    assert rc == 0, raw[-3000:]
    assert result["deleted"] == 200 and result["deferred"] == 0
    assert REDIS_PASSWORD not in raw


def test_a_restarted_redis_says_that_idle_clocks_started_over(own_redis):
    client = own_redis.client()
    load_idle_and_recent(client, idle=0, recent=5)
    rc, result, raw = run_module(CLEANUP, {"redis": own_redis.options(), "policies": {"max_idle": 86400}})
    assert rc == 0, raw[-3000:]
    assert result["idle_clocks_started_over"] is True
    assert any("idle clocks started over" in warning for warning in result["warnings"]), result["warnings"]


def test_the_rate_limit_paces_the_scan_over_keys_that_do_not_match(own_redis):
    """ops_per_second counted only the matching keys: 20,000 other keys were walked at full speed."""
    client = own_redis.client()
    load_idle_and_recent(client, idle=0, recent=10, with_ttl_every=0, other=20000)
    rc, result, raw = run_module(CLEANUP, {"redis": own_redis.options(), "policies": {"missing_ttl": 600},
                                           "ops_per_second": 10000, "batch_size": 1000})
    assert rc == 0, raw[-3000:]
    assert result["ttl_set"] == 10 and result["complete"] is True
    assert result["walked"] >= 20000
    assert result["rate_limited_seconds"] > 0  # 20,000 keys at 10,000/s: the limiter had to wait


def test_max_duration_stops_inside_one_large_batch(own_redis):
    """One SCAN batch of 10,000 keys was one script: a run blocked in it overstayed max_duration and still said
    complete: true. Now the batch goes in parts, and the run stops between two of them with a cursor."""
    client = own_redis.client()
    load_idle_and_recent(client, idle=0, recent=10000, with_ttl_every=0)
    client.execute_command("CLIENT", "PAUSE", 60000, "WRITE")  # scripts wait: the first part blocks
    try:
        run = Background(CLEANUP, {"redis": own_redis.options(socket_timeout=90.0), "batch_size": 10000,
                                   "policies": {"missing_ttl": 600}, "max_duration": 0.5})

        def blocked_in_a_script():
            return any(entry.get("name") == "bruno.ops" and entry.get("cmd") in ("evalsha", "eval")
                       for entry in client.client_list())

        wait_for(blocked_in_a_script, "the cleanup's first script to wait for the pause", timeout=120)
        time.sleep(1.0)  # past max_duration while blocked; not an assertion
    finally:
        client.execute_command("CLIENT", "UNPAUSE")
    result = run.wait(timeout=120)
    assert result is not None and result.get("failed") is not True, run.output()[-3000:]
    assert result["complete"] is False and result["stopped_by"] == "max_duration"
    assert 0 < result["ttl_set"] < 10000
    assert result["cursor"] == "0"  # the unfinished (first) batch is redone from its start
    rc, rest, raw = run_module(CLEANUP, {"redis": own_redis.options(), "batch_size": 10000,
                                         "policies": {"missing_ttl": 600}})
    assert rc == 0 and rest["complete"] is True, raw[-3000:]
    assert result["ttl_set"] + rest["ttl_set"] == 10000


def slow_run(own_redis, **lock):
    """A cleanup under the lock, paced to last about 20 s, in the background; returns it once it holds the lock."""
    client = own_redis.client()
    load_idle_and_recent(client, idle=0, recent=2000, with_ttl_every=0)
    run = Background(CLEANUP, {"redis": own_redis.options(), "policies": {"missing_ttl": 600},
                               "ops_per_second": 100, "batch_size": 50, "lock": dict({"key": LOCK}, **lock)})
    wait_for(lambda: client.get(LOCK) is not None and run.module_pids(NEEDLE), "the run to take its lock",
             timeout=120)
    return client, run


def test_sigterm_releases_the_run_lock(own_redis):
    client, run = slow_run(own_redis, release=False)
    try:
        for pid in run.module_pids(NEEDLE):
            os.kill(pid, signal.SIGTERM)
        result = run.wait(timeout=120)
    finally:
        if run.popen.poll() is None:
            run.kill(NEEDLE)
    assert client.get(LOCK) is None, "the lock outlived a SIGTERMed run (pttl %s ms)" % client.pttl(LOCK)
    assert result is not None and result.get("failed") is True, run.output()[-3000:]
    assert "SIGTERM" in result["msg"] and "rerun with cursor=" in result["msg"]


def test_a_sigkilled_runs_lock_expires_soon(own_redis):
    """The default TTL was an hour (the schedule): a killed run blocked the next one. It is short now, renewed by
    a heartbeat while the run lives."""
    client, run = slow_run(own_redis)
    assert 0 < client.pttl(LOCK) <= 120000
    killed = run.kill(NEEDLE)
    assert killed
    assert 0 < client.pttl(LOCK) <= 120000  # left behind, but expires within the short TTL

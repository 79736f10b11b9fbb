"""playbooks/cleanup_sessions.yml: check -> apply -> rerun unchanged, a summary, and no overlapping runs."""

import re

from sessionlab import (
    PREFIX,
    REDIS_PASSWORD,
    app_documents,
    load_idle_and_recent,
    run_playbook,
    seed_app,
    snapshot,
)

from labctl import procs

LOCK = "bruno:ops:lock:cleanup_sessions"


def extra_vars(redis_options, mongo_options):
    return {"session_cleanup_redis": redis_options, "session_cleanup_mongodb": mongo_options,
            "session_cleanup_keep_messages": 10,
            "session_cleanup_policies": {"missing_ttl": 600, "max_ttl": 600, "max_idle": 3600}}


def flat(output):
    """The output with YAML line wrapping undone (the summary lines are long)."""
    return " ".join(output.split())


def recap_changed(output):
    match = re.search(r"localhost\s*:\s*ok=\d+\s+changed=(\d+)", output)
    assert match, output[-2000:]
    return int(match.group(1))


def test_check_apply_rerun_with_summary(sessions_redis, redis_options, mongo_options, archive_db):
    load_idle_and_recent(sessions_redis, idle=50, recent=50, with_ttl_every=2)
    seed_app(sessions_redis, 5, 25)
    archive_db.conversations.insert_many(app_documents(5, 25))  # the app persists every turn
    before = snapshot(sessions_redis)
    extra = extra_vars(redis_options, mongo_options)

    checked = run_playbook("playbooks/cleanup_sessions.yml", extra, "--check")
    assert checked.returncode == 0, checked.stdout[-3000:]
    assert "50 idle sessions would be deleted" in flat(checked.stdout)
    assert "unknown (check mode reads no list before Redis 7.2)" in flat(checked.stdout)
    assert snapshot(sessions_redis) == before
    assert archive_db.conversations.count_documents({}) == 5 * 25

    applied = run_playbook("playbooks/cleanup_sessions.yml", extra, "-v")
    assert applied.returncode == 0, applied.stdout[-3000:]
    assert recap_changed(applied.stdout) == 2
    summary = flat(applied.stdout)
    assert "50 idle sessions were deleted" in summary, summary[summary.find("cleanup:"):][:600]
    assert ("75 turns were found in bruno_it_sessions.conversations, 0 copied there, 75 trimmed from Redis"
            in summary), summary[summary.find("archive"):][:600]
    assert "NOT PERSISTING" not in summary
    assert archive_db.conversations.count_documents({}) == 5 * 25
    assert sessions_redis.get(LOCK) is None  # released at the end
    assert REDIS_PASSWORD not in applied.stdout + applied.stderr

    again = run_playbook("playbooks/cleanup_sessions.yml", extra)
    assert again.returncode == 0, again.stdout[-3000:]
    assert recap_changed(again.stdout) == 0


def test_refuses_to_run_while_another_run_holds_the_lock(sessions_redis, redis_options, mongo_options):
    load_idle_and_recent(sessions_redis, idle=10, recent=10)
    sessions_redis.set(LOCK, "cleanup-other-run", px=60000)
    before = snapshot(sessions_redis)
    refused = run_playbook("playbooks/cleanup_sessions.yml", extra_vars(redis_options, mongo_options))
    assert refused.returncode != 0
    assert "is held by another run (owner cleanup-other-run)" in flat(refused.stdout)
    assert snapshot(sessions_redis) == before  # the lock too: still the other run's
    assert sessions_redis.get(LOCK) == b"cleanup-other-run"
    assert sum(1 for _k in sessions_redis.scan_iter(match=PREFIX + "idle-*")) == 10


# Issue 18 items 3 and 10: everything is checked before anything changes, and a failed run does not keep the lock.

def unreachable_mongodb():
    return {"host": "127.0.0.1", "port": procs.free_port(), "connect_timeout": 1.0}


def test_a_misspelt_variable_fails_naming_the_closest_one_and_changes_nothing(sessions_redis, redis_options):
    load_idle_and_recent(sessions_redis, idle=10, recent=10)
    before = snapshot(sessions_redis)
    extra = {"session_cleanup_redis": redis_options, "session_cleanup_archive": False,
             "session_cleanup_polcies": {"max_ttl": 60}}
    failed = run_playbook("playbooks/cleanup_sessions.yml", extra)
    assert failed.returncode != 0
    assert ("unknown variable session_cleanup_polcies: did you mean session_cleanup_policies?"
            in flat(failed.stdout)), failed.stdout[-2000:]
    assert snapshot(sessions_redis) == before
    assert sessions_redis.get(LOCK) is None


def test_null_means_no_limit_and_zero_is_refused(sessions_redis, redis_options):
    load_idle_and_recent(sessions_redis, idle=0, recent=10, with_ttl_every=0)
    before = snapshot(sessions_redis)
    base = {"session_cleanup_redis": redis_options, "session_cleanup_archive": False,
            "session_cleanup_policies": {"missing_ttl": 600}}
    refused = run_playbook("playbooks/cleanup_sessions.yml", dict(base, session_cleanup_ops_per_second=0))
    assert refused.returncode != 0
    assert ("session_cleanup_ops_per_second must be a number greater than 0, or null for no limit (got 0)"
            in flat(refused.stdout)), refused.stdout[-2000:]
    assert snapshot(sessions_redis) == before
    no_limits = dict(base, session_cleanup_ops_per_second=None, session_cleanup_max_duration=None)
    unlimited = run_playbook("playbooks/cleanup_sessions.yml", no_limits)
    assert unlimited.returncode == 0, unlimited.stdout[-3000:]
    assert "10 were given a TTL" in flat(unlimited.stdout)


def test_a_bad_archive_option_fails_before_the_cleanup_changes_ttls(sessions_redis, redis_options):
    load_idle_and_recent(sessions_redis, idle=10, recent=10, with_ttl_every=0)
    before = snapshot(sessions_redis)
    extra = dict(extra_vars(redis_options, unreachable_mongodb()), session_cleanup_keep_messages=0)
    failed = run_playbook("playbooks/cleanup_sessions.yml", extra)
    assert failed.returncode != 0
    assert "session_cleanup_keep_messages must be a whole number of turns, 1 or more" in flat(failed.stdout)
    assert snapshot(sessions_redis) == before


def test_an_archive_step_that_fails_early_leaves_no_lock_and_no_change(sessions_redis, redis_options):
    """MongoDB down: the archive step used to fail after the cleanup had changed TTLs and taken the lock for the
    next task, which then stayed for its whole TTL (an hour)."""
    load_idle_and_recent(sessions_redis, idle=10, recent=10, with_ttl_every=0)
    before = snapshot(sessions_redis)
    failed = run_playbook("playbooks/cleanup_sessions.yml", extra_vars(redis_options, unreachable_mongodb()))
    assert failed.returncode != 0
    assert "unreachable" in flat(failed.stdout)
    assert sessions_redis.get(LOCK) is None, "lock left for %s ms" % sessions_redis.pttl(LOCK)
    assert snapshot(sessions_redis) == before

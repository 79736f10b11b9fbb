"""bruno.ops.redis_session_cleanup against a real Redis: check -> apply (diff) -> rerun unchanged."""

import json

from sessionlab import PREFIX, REDIS_PASSWORD, load_idle_and_recent, run_module, run_with_diff, seed_app, snapshot

MODULE = "bruno.ops.redis_session_cleanup"
POLICIES = {"missing_ttl": 600, "max_ttl": 1200, "max_idle": 3600}


def test_check_apply_rerun(sessions_redis, redis_options):
    load_idle_and_recent(sessions_redis, idle=300, recent=600, with_ttl_every=2)  # 300 recent with a 1-day TTL
    sessions_redis.set(PREFIX + "not-a-list", "x")
    before = snapshot(sessions_redis)
    idle_before = sessions_redis.object("idletime", PREFIX + "idle-000001")
    args = {"redis": redis_options, "policies": POLICIES, "sample_size": 3}

    rc, checked, raw = run_module(MODULE, args, check=True)
    assert rc == 0, raw[-3000:]
    assert checked["changed"] is True
    assert (checked["deleted"], checked["ttl_set"], checked["ttl_capped"]) == (300, 300, 300)
    assert (checked["matched"], checked["skipped"], checked["skipped_types"]) == (900, 1, {"string": 1})
    assert checked["complete"] is True and checked["cursor"] == "0"
    assert len(checked["samples"]["deleted"]) == 3
    assert checked["samples"]["skipped"][0].startswith(PREFIX + "h:")  # redacted: not an IP, so hashed
    assert checked["change"]["action"] == "session_cleanup" and checked["change"]["changed"] is True
    assert checked["change"]["target"].endswith(" " + PREFIX + "*") and "check mode" in checked["change"]["note"]
    assert snapshot(sessions_redis) == before, "check mode changed Redis"
    assert sessions_redis.object("idletime", PREFIX + "idle-000001") >= idle_before, "check mode touched a key"

    applied, raw = run_with_diff(MODULE, args)
    assert applied.get("failed") is not True, raw[-3000:]
    assert applied["changed"] is True
    assert applied["diff"]["before"]["idle_longer_than_max_idle"] == 300
    assert applied["diff"]["after"] == {"sessions": 600, "idle_longer_than_max_idle": 0, "without_ttl": 0,
                                        "ttl_longer_than_max_ttl": 0}
    assert len(applied["diff"]["before"]["deleted_keys"]) == 3
    change = applied["change"]
    assert change["before"]["idle_longer_than_max_idle"] == 300 and change["after"] == applied["diff"]["after"]
    assert "deleted_keys" not in change["before"] and change["note"] == "" and "UNLINK" in change["undo"]
    assert REDIS_PASSWORD not in json.dumps(change)
    assert (applied["deleted"], applied["ttl_set"], applied["ttl_capped"]) == (300, 300, 300)
    assert applied["bytes_freed"] > 0
    assert not any(key.startswith(PREFIX.encode() + b"idle-") for key in sessions_redis.scan_iter(count=1000))
    for i in range(600):
        ttl = sessions_redis.ttl("%srecent-%06d" % (PREFIX, i))
        assert 0 < ttl <= 1200
    assert sessions_redis.get(PREFIX + "not-a-list") == b"x"

    rc, again, raw = run_module(MODULE, args)
    assert rc == 0, raw[-3000:]
    assert again["changed"] is False and again["change"]["changed"] is False
    assert (again["deleted"], again["ttl_set"], again["ttl_capped"]) == (0, 0, 0)
    assert REDIS_PASSWORD not in raw


def test_max_duration_returns_a_cursor_and_resume_finishes(sessions_redis, redis_options):
    load_idle_and_recent(sessions_redis, idle=0, recent=3000, with_ttl_every=0)
    args = {"redis": redis_options, "policies": {"missing_ttl": 600}, "batch_size": 100, "ops_per_second": 1000,
            "max_duration": 0.5}
    rc, first, raw = run_module(MODULE, args)
    assert rc == 0, raw[-3000:]
    assert first["complete"] is False and first["stopped_by"] == "max_duration"
    assert first["cursor"] != "0" and "@" in first["cursor"]
    assert 0 < first["ttl_set"] < 3000
    rc, rest, raw = run_module(MODULE, dict(args, cursor=first["cursor"], max_duration=None, ops_per_second=None))
    assert rc == 0, raw[-3000:]
    assert rest["complete"] is True
    assert first["ttl_set"] + rest["ttl_set"] == 3000
    assert all(sessions_redis.ttl(key) > 0 for key in sessions_redis.scan_iter(count=1000))


# What docs/sessions.md tells operators to grant (CLIENT NO-TOUCH exists from Redis 7.2 on; the lab runs 7.0).
ACL_RULES = ["~bruno:*", "+scan", "+info", "+evalsha", "+eval", "+script|load", "+script|exists", "+type",
             "+object|idletime", "+pttl", "+pexpire", "+unlink", "+memory|usage", "+get", "+set", "+del",
             "+select", "+client|setname", "+ping", "+llen", "+lrange", "+ltrim", "+time",
             # the archive keeps idle times on Redis < 7.2 by DUMP + RESTORE ... IDLETIME in its scripts
             "+dump", "+restore"]


def test_acl_user_with_only_the_needed_commands(sessions_redis, redis_options, mongo_options, archive_db):
    admin = sessions_redis
    admin.execute_command("ACL", "SETUSER", "bruno-ops-it", "reset", "on", ">acl-pw-5e1", *ACL_RULES)
    try:
        load_idle_and_recent(admin, idle=10, recent=10, with_ttl_every=1)
        seed_app(admin, 1, 30)
        options = dict(redis_options, username="bruno-ops-it", password="acl-pw-5e1")
        rc, result, raw = run_module(MODULE, {"redis": options, "policies": POLICIES,
                                              "lock": {"key": "bruno:ops:lock:acl-test"}})
        assert rc == 0, raw[-3000:]
        assert (result["deleted"], result["ttl_capped"]) == (10, 11)  # and the long session's 3600 s TTL
        assert result["lock"]["released"] is True
        rc, archived, raw2 = run_module("bruno.ops.session_archive", {
            "redis": options, "mongodb": mongo_options, "keep_messages": 20, "archive_mode": "copy",
            "lock": {"key": "bruno:ops:lock:acl-test"}})
        assert rc == 0, raw2[-3000:]
        assert archived["moved"] == 10
        assert "acl-pw-5e1" not in raw + raw2
    finally:
        admin.execute_command("ACL", "DELUSER", "bruno-ops-it")

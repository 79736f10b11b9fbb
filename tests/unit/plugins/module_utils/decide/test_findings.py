"""decide/findings.py and the fixes they adapt (change/fixes.py): pure rules on facts."""

import pytest

from ansible_collections.bruno.ops.plugins.module_utils.change.fixes import fix
from ansible_collections.bruno.ops.plugins.module_utils.decide import findings

PERSISTING = {"sessions": 2000, "session_mean_turns": 6.0, "conversations_documents": 30000,
              "conversations_latest_age_seconds": 20, "sessions_recent_pct": 10.0, "mongo_save_failures": 0,
              "log_persistence_error_lines": 0}


def ids(facts):
    return [f["id"] for f in findings.findings(facts)]


def test_an_app_that_persists_is_no_finding():
    assert "app_not_persisting" not in ids(PERSISTING)
    assert findings.not_persisting(PERSISTING) == []


@pytest.mark.parametrize(("change", "reason"), [
    ({"conversations_documents": 0}, "holds 0 document(s) for about 12000 turn(s) in 2000 Redis session(s)"),
    ({"conversations_documents": 5000}, "holds 5000 document(s)"),
    ({"mongo_save_failures": 12}, "12 failed MongoDB write(s)"),
    ({"log_persistence_error_lines": 3}, "3 log line(s) of failed MongoDB writes"),
    ({"conversations_latest_age_seconds": 7200}, "the newest document is 7200 s old"),
])
def test_signs_that_redis_holds_the_only_copy(change, reason):
    found = findings.findings(dict(PERSISTING, **change))
    assert found[0]["id"] == "app_not_persisting" and found[0]["severity"] == "critical"
    assert reason in found[0]["detail"]
    assert "Do not trim or expire sessions without a copy" in found[0]["detail"]
    assert findings.conditions(found) == ["app_not_persisting"]


def test_unknown_is_no_sign():
    facts = dict(PERSISTING, conversations_documents=None, conversations_latest_age_seconds=None,
                 mongo_save_failures=None, log_persistence_error_lines=None)
    assert findings.not_persisting(facts) == []
    assert findings.not_persisting({"sessions": 0, "conversations_documents": 0}) == []  # nothing in Redis


def test_turns_fall_back_to_sessions():
    assert findings.redis_turns({"sessions": 10, "session_mean_turns": None}) == 10
    assert findings.redis_turns({"sessions": 10, "session_mean_turns": 2.5}) == 25
    assert findings.redis_turns({}) is None


@pytest.mark.parametrize(("gauge", "stale"), [(0, True), (1000, True), (1900, False), (2000, False), (None, False)])
def test_a_stale_gauge_is_said_and_the_census_used(gauge, stale):
    found = findings.findings({"sessions": 2000, "active_sessions_gauge": gauge})
    assert ("active_sessions_stale" in [f["id"] for f in found]) is stale
    if stale:
        (finding,) = [f for f in found if f["id"] == "active_sessions_stale"]
        assert "census counts 2000" in finding["detail"] and "GET /stats" in finding["detail"]


def test_slowlog_keys_maxmemory_ready_and_5xx():
    found = findings.findings({"redis_slowlog_keys": 4, "redis_maxmemory_bytes": 0,
                               "redis_maxmemory_policy": "noeviction", "ready_degraded": 1, "http_5xx_pct": 12.0})
    assert [f["id"] for f in found] == ["redis_keys_in_slowlog", "ready_degraded", "http_errors",
                                        "redis_memory_policy"]
    assert "no maxmemory" in found[-1]["detail"]
    policies = {p: findings.findings({"redis_maxmemory_bytes": 2 ** 30, "redis_maxmemory_policy": p})[0]["detail"]
                for p in ("noeviction", "allkeys-lru", "volatile-lru")}
    assert "refuses writes" in policies["noeviction"] and "any key" in policies["allkeys-lru"]
    assert "with a TTL" in policies["volatile-lru"]
    assert findings.findings({"redis_slowlog_keys": 0, "http_5xx_pct": 1.0, "ready_degraded": 0}) == []


def test_the_session_fixes_delete_nothing_when_redis_holds_the_only_copy():
    plain = fix("large_contexts", "s")
    copy_first = fix("large_contexts", "s", ["app_not_persisting"])
    cleanup = copy_first["playbooks"][0]
    assert cleanup["playbook"] == "playbooks/cleanup_sessions.yml"
    assert cleanup["extra_vars"]["session_cleanup_archive_mode"] == "copy"
    assert cleanup["extra_vars"]["session_cleanup_archive"] is True
    assert set(cleanup["extra_vars"]["session_cleanup_policies"]) == {"missing_ttl"}  # no max_idle: no deletion
    assert any("only copy" in line for line in copy_first["advice"])
    assert not any("only copy" in line for line in plain.get("advice", []))
    assert [s["playbook"] for s in plain["playbooks"]] == [s["playbook"] for s in copy_first["playbooks"]]
    sessions = fix("too_many_sessions", "s", ["app_not_persisting"])
    assert sessions["playbooks"] == []  # expiring sessions would delete the only copy
    assert "Not run automatically" in sessions["advice"][0]
    assert fix("too_many_sessions", "s", ["something_else"]) == fix("too_many_sessions", "s")


def test_a_fix_names_only_settings_the_container_has():
    with_ttl = fix("too_many_sessions", "s", container_env=["REDIS_URL", "SESSION_TTL"])
    assert [s["playbook"] for s in with_ttl["playbooks"]] == [
        "playbooks/cleanup_sessions.yml", "playbooks/reduce_session_ttl.yml"]
    without = fix("too_many_sessions", "s", container_env=["REDIS_URL"])
    assert [s["playbook"] for s in without["playbooks"]] == ["playbooks/cleanup_sessions.yml"]
    assert any("container sets no SESSION_TTL" in line for line in without["advice"])
    unknown = fix("too_many_sessions", "s", container_env=None)
    assert len(unknown["playbooks"]) == 2


def test_the_pool_fix_names_no_fake_settings():
    pool = fix("connection_pool_exhaustion", "s")
    text = repr(pool)
    assert "REDIS_POOL_SIZE" not in text and "MONGO_POOL_SIZE" not in text
    assert [s["playbook"] for s in pool["playbooks"]] == ["playbooks/restart.yml"]
    assert any("in code" in line for line in pool["advice"]) and any("scale" in line for line in pool["advice"])

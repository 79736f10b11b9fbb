"""The pure parts of remediation: rollout predicates, the waiter, the change lock's rules, the limit
recommendation and its guardrails, verification verdicts, env and bounds planning. No apiserver here; the
modules themselves are tested against the lab in tests/integration/remediate."""

import datetime

import pytest

from ansible_collections.bruno.ops.plugins.module_utils import errors
from ansible_collections.bruno.ops.plugins.module_utils.change import lease_lock, rollout, workload
from ansible_collections.bruno.ops.plugins.module_utils.decide import limits_recommend, verify_checks
from ansible_collections.bruno.ops.plugins.module_utils.quantity import parse_bytes
from ansible_collections.bruno.ops.plugins.modules import (
    change_lock,
    container_env,
    memory_limits,
    rollout_restart,
    workload_scale,
)

MIB = 2 ** 20
GIB = 2 ** 30
NOW = datetime.datetime(2026, 11, 29, 3, 0, tzinfo=datetime.timezone.utc)


def deployment(*, replicas=2, generation=2, observed=2, updated=2, ready=2, available=2, total=2, conditions=()):
    return {"metadata": {"generation": generation}, "spec": {"replicas": replicas},
            "status": {"observedGeneration": observed, "updatedReplicas": updated, "readyReplicas": ready,
                       "availableReplicas": available, "replicas": total, "conditions": list(conditions)}}


@pytest.mark.parametrize(("obj", "complete", "reason"), [
    (deployment(), True, "complete"),
    (deployment(observed=1), False, "the controller has not seen generation 2 yet"),
    (deployment(updated=1, total=3), False, "1 of 2 replicas updated"),
    (deployment(total=3), False, "1 old replicas pending termination"),
    (deployment(ready=1, available=1), False, "1 of 2 updated replicas ready, 1 available"),
])
def test_rollout_status(obj, complete, reason):
    status = rollout.rollout_status(obj)
    assert status["complete"] is complete and status["reason"] == reason and status["failed"] is False


def test_progress_deadline_is_a_failure():
    obj = deployment(updated=1, conditions=[{"type": "Progressing", "reason": "ProgressDeadlineExceeded",
                                             "message": "ReplicaSet x has timed out progressing."}])
    status = rollout.rollout_status(obj)
    assert status["failed"] is True and not status["complete"] and "timed out" in status["reason"]


def test_wait_for_is_bounded_and_reads_once_more_at_the_deadline():
    clock = iter(range(0, 100, 5))
    now = [0]

    def tick():
        now[0] = next(clock)
        return now[0]

    reads = []
    ok, value, waited = rollout.wait_for(lambda: reads.append(1) or len(reads), lambda v: v > 99, 12,
                                         interval=5, clock=tick, sleep=lambda s: None)
    assert ok is False and waited >= 12 and len(reads) <= 5
    ok, value, _waited = rollout.wait_for(lambda: 7, lambda v: v == 7, 0, clock=lambda: 0, sleep=lambda s: None)
    assert ok is True and value == 7


def lease(holder, renewed, duration=600, phase="held"):
    return {"metadata": {"annotations": {lease_lock.PHASE: phase, lease_lock.PURPOSE: "restart"}},
            "spec": {"holderIdentity": holder, "leaseDurationSeconds": duration,
                     "acquireTime": lease_lock.micro(renewed), "renewTime": lease_lock.micro(renewed),
                     "leaseTransitions": 0}}


def test_lock_is_taken_when_free_expired_or_ours():
    write, spec, _ann = lease_lock.decide(None, "ns/l", "me", "acquired", NOW, ttl=60)
    assert write == "create" and spec["holderIdentity"] == "me" and spec["leaseTransitions"] == 0
    expired = lease("other", NOW - datetime.timedelta(seconds=700))
    assert lease_lock.decide(expired, "ns/l", "me", "acquired", NOW, ttl=60)[0] == "update"
    ours = lease("me", NOW - datetime.timedelta(seconds=10))
    write, spec, _ann = lease_lock.decide(ours, "ns/l", "me", "acquired", NOW, ttl=60)
    assert write == "update" and "leaseTransitions" not in spec  # a renewal, not a new holder


def test_lock_held_by_someone_else_says_who_and_until_when():
    held = lease("alice remediate.yml", NOW - datetime.timedelta(seconds=30))
    with pytest.raises(errors.BrunoOpsError) as caught:
        lease_lock.decide(held, "bruno/lock", "me", "acquired", NOW, ttl=60)
    assert caught.value.kind == errors.CONFLICT
    assert "held by alice remediate.yml since 2026-11-29T02:59:30Z" in caught.value.message
    assert "expires at 2026-11-29T03:09:30Z" in caught.value.message
    cooling = lease("alice", NOW - datetime.timedelta(seconds=30), phase="cooldown")
    with pytest.raises(errors.BrunoOpsError, match="in its cooldown after a change"):
        lease_lock.decide(cooling, "bruno/lock", "me", "acquired", NOW, ttl=60)


def test_release_frees_or_keeps_a_cooldown_and_never_steals():
    ours = lease("me", NOW)
    write, spec, ann = lease_lock.decide(ours, "l", "me", "released", NOW, ttl=60)
    assert write == "update" and spec["holderIdentity"] is None and ann[lease_lock.PHASE] == "released"
    write, spec, ann = lease_lock.decide(ours, "l", "me", "released", NOW, ttl=60, cooldown=600)
    assert spec["holderIdentity"] == "me" and spec["leaseDurationSeconds"] == 600
    assert ann[lease_lock.PHASE] == "cooldown"
    theirs = lease("other", NOW)
    assert lease_lock.decide(theirs, "l", "me", "released", NOW, ttl=60)[0] is None
    assert lease_lock.decide(theirs, "l", "me", "released", NOW, ttl=60, force=True)[0] == "update"


@pytest.mark.parametrize(("peak", "limit", "kills", "expected", "basis"), [
    (960 * MIB, GIB, 0, 1152 * MIB, "observed peak"),  # 960 x 1.15 = 1104 -> 1152 (64Mi steps)
    (1000 * MIB, GIB, 3, 1280 * MIB, "OOM kill"),  # OOM bump max(1Gi + 100Mi, 1.2Gi) = 1228.8 -> 1280
    (300 * MIB, GIB, 0, GIB, "kept"),  # 345Mi would lower it: kept without allow_decrease
])
def test_recommendation(peak, limit, kills, expected, basis):
    rec = limits_recommend.recommend(peak, limit, kills, headroom=1.15)
    assert rec["limit_bytes"] == expected and basis in rec["basis"]


def test_recommendation_compares_with_krr_and_vpa_and_may_decrease_when_allowed():
    rec = limits_recommend.recommend(300 * MIB, GIB, 0, headroom=1.15, allow_decrease=True, p90=280 * MIB)
    assert rec["limit"] == "384Mi" and rec["krr_simple"] == "384Mi" and rec["vpa_target"] == "384Mi"
    with pytest.raises(errors.BrunoOpsError, match="no memory usage history"):
        limits_recommend.recommend(None, GIB, 0, headroom=1.15)


@pytest.mark.parametrize(("strategy", "replicas", "surge"), [
    (None, 2, 1), ({"rollingUpdate": {"maxSurge": 3}}, 2, 3), ({"rollingUpdate": {"maxSurge": "50%"}}, 3, 2),
    ({"type": "Recreate"}, 4, 0),
])
def test_surge_pods(strategy, replicas, surge):
    assert limits_recommend.surge_pods(strategy, replicas) == surge


def guardrails(new, **kw):
    args = dict(request=256 * MIB, peak=900 * MIB, headroom=1.15, max_limit=4 * GIB, limit_ranges=[], quotas=[],
                node_max=8 * GIB, replicas=2, surge=1, current_limit=GIB, parse=parse_bytes)
    args.update(kw)
    return {g["guardrail"]: g["passed"] for g in limits_recommend.check(new, **args)}


def test_guardrails_pass_and_fail_one_by_one():
    assert all(guardrails(1280 * MIB).values())
    assert guardrails(768 * MIB)["above_peak"] is False
    assert guardrails(5 * GIB)["max_limit"] is False
    assert guardrails(9 * GIB, max_limit=16 * GIB)["fits_a_node"] is False
    assert guardrails(GIB, request=2 * GIB)["request_within_limit"] is False
    lr = [{"metadata": {"name": "lr"}, "spec": {"limits": [
        {"type": "Container", "max": {"memory": "2Gi"}, "min": {"memory": "512Mi"},
         "maxLimitRequestRatio": {"memory": "4"}}]}}]
    result = guardrails(3 * GIB, limit_ranges=lr, request=GIB)
    assert result["limitrange_max"] is False and result["limitrange_min"] is True and result["limitrange_ratio"] is True
    assert guardrails(1280 * MIB, limit_ranges=lr)["limitrange_ratio"] is False  # 1280/256 = 5 > 4
    quota = [{"metadata": {"name": "q"},
              "status": {"hard": {"limits.memory": "5Gi"}, "used": {"limits.memory": "2Gi"}}}]
    assert guardrails(1536 * MIB, quotas=quota)["resourcequota"] is True  # 2 + 1 + 1.5 = 4.5Gi
    assert guardrails(1792 * MIB, quotas=quota)["resourcequota"] is False  # 2 + 1.5 + 1.75 = 5.25Gi
    no_usage = guardrails(768 * MIB, peak=None)
    assert no_usage["above_peak"] is False and guardrails(2 * GIB, peak=None)["above_peak"] is True


def test_refusal_lists_every_failed_guardrail():
    results = limits_recommend.check(5 * GIB, request=256 * MIB, peak=900 * MIB, headroom=1.15, max_limit=4 * GIB,
                                     limit_ranges=[], quotas=[], node_max=4 * GIB, replicas=2, surge=1,
                                     current_limit=GIB, parse=parse_bytes)
    error = limits_recommend.refusal(results, "deployment bruno/agent-bruno")
    assert error.kind == errors.GUARDRAIL and "max_limit" in error.message and "fits_a_node" in error.message
    assert error.message.endswith("nothing was changed")


def test_memory_hpa_is_a_warning():
    hpa = {"metadata": {"name": "h"}, "spec": {"metrics": [{"type": "Resource", "resource": {"name": "memory"}}]}}
    assert "scales on memory" in limits_recommend.memory_hpa_notes([hpa])[0]
    assert limits_recommend.memory_hpa_notes([{"metadata": {"name": "c"}, "spec": {"metrics": [
        {"type": "Resource", "resource": {"name": "cpu"}}]}}]) == []


def test_verify_checks():
    memory = verify_checks.memory_check([{"a": 100 * MIB}, {"a": 900 * MIB}], {"a": GIB}, 80, ["a"])
    assert memory["passed"] is False and "reached 87.9%" in memory["summary"]
    assert verify_checks.memory_check([{"a": 64 * MIB}], {"a": GIB}, 80, ["a"])["passed"] is True
    assert verify_checks.memory_check([{}], {"a": GIB}, 80, ["a"])["passed"] is False  # no data is not a pass
    assert verify_checks.memory_check([], {}, 80, [])["summary"] == "no pod matches the selector"
    pod = {"metadata": {"name": "a"}, "spec": {"containers": [{"name": "c"}]},
           "status": {"containerStatuses": [{"name": "c", "lastState": {"terminated": {
               "reason": "OOMKilled", "exitCode": 137, "finishedAt": "2026-11-29T03:05:00Z"}}}]}}
    assert verify_checks.oom_check([pod], [], "2026-11-29T03:00:00Z")["passed"] is False
    assert verify_checks.oom_check([pod], [], "2026-11-29T03:10:00Z")["passed"] is True
    overall = verify_checks.overall([verify_checks.chat_check(200, ANSWER), memory])
    assert overall["passed"] is False and overall["failed_checks"] == ["memory"]


# The real app's ChatResponse: {response, timestamp, model, sources}.
ANSWER = {"response": "Hello! How can I help?", "timestamp": "2026-12-02T20:14:03.123456Z", "model": "llama3.2:3b",
          "sources": ["Agent Bruno"]}
GONE = {"address": "192.0.2.10", "seen_before_delete": 1, "deleted": True, "gone": True, "error": None,
        "note": None}


@pytest.mark.parametrize(("status", "body", "error", "cleanup", "problem"), [
    (200, ANSWER, None, GONE, None),
    (200, ANSWER, None, None, None),
    (200, dict(ANSWER, response=" "), None, GONE, "without a response"),
    (200, {"text": "ok"}, None, GONE, "without a response"),  # only the app's own field counts
    # the app's own error answer when its LLM call failed: 200, its apology, no model
    (200, {"response": "Sorry, I encountered an error processing your message.", "timestamp": "t", "model": None,
           "sources": ["Error Handler"]}, None, GONE, "with no model"),
    (200, dict(ANSWER, timestamp=None), None, GONE, "without a timestamp"),
    (503, None, None, GONE, "answered HTTP 503"),
    (None, None, "cannot POST /chat: unreachable", GONE, "unreachable"),
    (200, ANSWER, None, dict(GONE, deleted=False, gone=None, error="DELETE /memory/192.0.2.10 failed (HTTP 500)"),
     "DELETE /memory/192.0.2.10 failed"),
])
def test_chat_check_reads_the_real_apps_answer_and_its_cleanup(status, body, error, cleanup, problem):
    check = verify_checks.chat_check(status, body, error, cleanup=cleanup, message="bruno.ops verify")
    assert check["passed"] is (problem is None), check
    if problem:
        assert problem in check["summary"]
    elif cleanup:
        assert "the smoke session of 192.0.2.10 was removed" in check["summary"]


def test_chat_evidence_carries_no_chat_text_unless_asked():
    redacted = verify_checks.chat_check(200, ANSWER, message="my message")["evidence"]
    assert redacted["response_chars"] == len(ANSWER["response"]) and redacted["message_chars"] == 10
    assert "response" not in redacted and "message" not in redacted
    assert ANSWER["response"] not in repr(redacted) and "my message" not in repr(redacted)
    shown = verify_checks.chat_check(200, ANSWER, redact=False, message="my message")["evidence"]
    assert shown["response"] == ANSWER["response"] and shown["message"] == "my message"


@pytest.mark.parametrize(("address", "test", "masked"), [
    ("192.0.2.10", True, "192.0.2.x"),
    ("198.51.100.7", True, "198.51.100.x"),
    ("203.0.113.250", True, "203.0.113.x"),
    ("2001:db8::1", True, "2001:db8::x"),
    ("10.1.2.3", False, "10.1.2.x"),
    ("192.0.3.1", False, "192.0.3.x"),
    ("2a00:1450::5", False, "2a00:1450::x"),
    ("not-an-ip", False, "<9 characters>"),
])
def test_test_addresses_are_shown_other_addresses_masked(address, test, masked):
    assert verify_checks.is_test_address(address) is test
    assert verify_checks.mask_address(address) == masked
    assert verify_checks.shown_address(address, True) == (address if test else masked)
    assert verify_checks.shown_address(address, False) == address


@pytest.mark.parametrize(("health", "ready", "problem"), [
    ((200, {"status": "healthy"}, None), (200, {"status": "ready"}, None), None),
    ((200, {"status": "healthy"}, None),
     (200, {"status": "degraded", "health": {"redis": True, "mongodb": False, "overall": False}, "degraded": True},
      None), "GET /ready says 'degraded', not 'ready' (down: mongodb)"),
    ((503, None, "cannot GET /health: HTTP 503"), (200, {"status": "ready"}, None), "cannot GET /health"),
    ((200, {"status": "healthy"}, None), (503, None, None), "GET /ready answered HTTP 503"),
])
def test_health_check_fails_on_degraded_with_the_store(health, ready, problem):
    check = verify_checks.health_check(health, ready)
    assert check["check"] == "health" and check["passed"] is (problem is None)
    if problem:
        assert problem in check["summary"]


@pytest.mark.parametrize(("body", "turns"), [
    ({"ip": "192.0.2.10", "recent_messages": 0, "total_conversations": 3, "has_history": True}, 0),
    ({"ip": "192.0.2.10", "recent_messages": 2}, 2),
    ([{"timestamp": "t", "message": "m", "response": "r", "context": {}}], 1),
    ({"turns": []}, 0),
    ({"detail": "boom"}, None),
    (None, None),
])
def test_session_turns_from_get_memory(body, turns):
    assert verify_checks.session_turns(body) == turns


def test_desired_env_keeps_order_and_references():
    current = [{"name": "A", "value": "1"}, {"name": "S", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
               {"name": "B", "value": "2"}]
    new = container_env.desired_env(current, {"B": "3", "C": "4"}, {"A"})
    assert new == [current[1], {"name": "B", "value": "3"}, {"name": "C", "value": "4"}]
    assert container_env.desired_env(current, {"A": "1"}, set()) == current
    undo = container_env.undo_options(container_env.env_view({"env": current}), {"S": "x", "C": "4"}, {"A"})
    assert undo == {"env": {"A": "1"}, "unset": ["C"], "manual": ["S"]}


def test_hpa_bounds_plan():
    assert workload_scale.plan_bounds(2, 5, replicas=4, min_replicas=None, max_replicas=None, cap=20) == (4, 5)
    assert workload_scale.plan_bounds(2, 5, replicas=8, min_replicas=None, max_replicas=None, cap=20) == (8, 8)
    with pytest.raises(errors.BrunoOpsError, match="min_replicas 6 is above max_replicas 3"):
        workload_scale.plan_bounds(2, 5, replicas=None, min_replicas=6, max_replicas=3, cap=20)


def test_recent_restart_skips_only_within_the_window():
    obj = {"spec": {"template": {"metadata": {"annotations": {rollout_restart.RESTARTED_AT: "2026-11-29T02:55:00Z"}}}}}
    assert "within not_within=600s" in rollout_restart.recent_restart(obj, 600, NOW)
    assert rollout_restart.recent_restart(obj, 60, NOW) is None
    assert rollout_restart.recent_restart(obj, None, NOW) is None


# The `change` entry every change-making module returns (change/record.py): its undo is a command a person can run.
TARGET = workload.Workload(None, "bruno", "agent-bruno")
ENTRY_KEYS = {"action", "target", "changed", "before", "after", "undo", "note"}  # + images when the module says


def test_set_env_change_entry_undoes_with_kubectl_set_env():
    before = {"container": "agent-bruno", "env": {"SESSION_TTL": "86400", "S": {"secretKeyRef": {"name": "s"}}}}
    after = {"container": "agent-bruno", "env": {"SESSION_TTL": "3600", "NEW": "1"}}
    result = {"changed": True, "before": before, "after": after, "revision_before": "3", "revision_after": "4",
              "undo": container_env.undo_options(before["env"], {"SESSION_TTL": "3600", "NEW": "1"}, {"S"})}
    entry = container_env.change_of(TARGET, result, ["NEW", "SESSION_TTL", "S"])
    assert set(entry) == ENTRY_KEYS and entry["action"] == "set_env" and entry["changed"] is True
    assert entry["target"] == "deployment bruno/agent-bruno container agent-bruno"
    assert entry["before"] == {"NEW": None, "SESSION_TTL": "86400", "S": {"secretKeyRef": {"name": "s"}}}
    assert entry["after"] == {"NEW": "1", "SESSION_TTL": "3600", "S": None}
    assert entry["undo"] == ("kubectl -n bruno set env deployment/agent-bruno -c agent-bruno SESSION_TTL=86400 NEW- "
                             "and restore S from the manifest (a valueFrom reference)")
    assert "kubectl -n bruno rollout undo deployment/agent-bruno --to-revision=3" in entry["note"]
    unchanged = dict(result, changed=False, after=before, revision_after="3")
    assert container_env.change_of(TARGET, unchanged, ["SESSION_TTL"])["undo"] == "nothing to undo"


def test_scale_change_entry_undoes_replicas_or_hpa_bounds():
    entry = workload_scale.change_of(TARGET, {"target": {"kind": "deployment", "name": "agent-bruno"}, "changed": True,
                                              "before": {"replicas": 2}, "after": {"replicas": 4},
                                              "undo": {"replicas": 2}, "notes": []})
    assert entry["undo"] == "kubectl -n bruno scale deployment/agent-bruno --replicas=2"
    entry = workload_scale.change_of(TARGET, {"target": {"kind": "hpa", "name": "agent-bruno-hpa"}, "changed": True,
                                              "before": {"min_replicas": 2}, "after": {"min_replicas": 4},
                                              "undo": {"min_replicas": 2, "max_replicas": 5}, "notes": ["hpa owns it"]})
    assert entry["target"] == "hpa bruno/agent-bruno-hpa" and entry["note"] == "hpa owns it"
    assert entry["undo"] == ("kubectl -n bruno patch hpa agent-bruno-hpa --type=merge -p "
                             "'{\"spec\": {\"minReplicas\": 2, \"maxReplicas\": 5}}'")


def test_memory_limit_change_entry_and_a_deploymentconfig_undoes_with_oc():
    dc = workload.Workload.__new__(workload.Workload)
    dc.namespace, dc.name, dc.kind = "bruno", "agent-bruno", "DeploymentConfig"
    dc.ref = "deploymentconfig bruno/agent-bruno"
    result = {"changed": True, "before": {"container": "c", "limits": "1Gi", "requests": "256Mi"},
              "after": {"container": "c", "limits": "1280Mi", "requests": "256Mi"}, "revision_before": "5",
              "revision_after": "6"}
    entry = memory_limits.change_of(dc, result)
    assert entry["before"] == {"memory_limit": "1Gi", "memory_request": "256Mi"}
    assert entry["after"]["memory_limit"] == "1280Mi"
    assert entry["undo"] == ("oc -n bruno set resources deploymentconfig/agent-bruno -c c --limits=memory=1Gi "
                             "--requests=memory=256Mi")
    assert entry["note"].startswith("revision 5 -> 6; oc -n bruno rollout undo deploymentconfig/agent-bruno")


def test_lock_change_entry():
    params = {"state": "acquired", "namespace": "bruno", "name": "lock", "holder": "alice remediate.yml"}
    result = {"lease": "bruno/lock", "changed": True, "before": lease_lock.lease_view(None),
              "after": {"holder": "alice remediate.yml", "phase": "held"}}
    entry = change_lock.with_change(params, result)["change"]
    assert entry["action"] == "acquire_lock" and entry["after"] == {"holder": "alice remediate.yml", "phase": "held"}
    assert entry["undo"] == ("bruno.ops.change_lock namespace=bruno name=lock holder='alice remediate.yml' "
                             "state=released")
    released = change_lock.with_change(dict(params, state="released"), dict(result, changed=False))["change"]
    assert released["action"] == "release_lock" and released["undo"] == "nothing to undo"

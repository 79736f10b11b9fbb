"""The change-making modules against the lab's real apiserver, the kubernetes.core way: check mode changes
nothing on the server, the real run with --diff changes exactly what it says, a rerun is unchanged; bad input
and failed guardrails change nothing. All on remediate-it/it-agent (remediatelab.py)."""

import json
import shlex

import pytest
import remediatelab as rl

from bruno_it import kubectl, run_module, wait_for

ENV = "bruno.ops.container_env"
RESTART = "bruno.ops.rollout_restart"
SCALE = "bruno.ops.workload_scale"
LIMITS = "bruno.ops.memory_limits"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


@pytest.fixture(scope="module")
def namespace(lab):
    rl.create_namespace()
    yield rl.NS
    rl.delete_namespace()


@pytest.fixture
def agent(namespace):
    rl.fresh_deployment()
    return rl.get()


def env_of(obj):
    return {e["name"]: e.get("value") for e in obj["spec"]["template"]["spec"]["containers"][0].get("env") or []}


def memory_of(obj):
    return obj["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"]


def run_undo(change):
    """Run a change entry's undo command (kubectl ...) against the lab: the record's undo must really undo."""
    args = shlex.split(change["undo"])
    assert args[0] == "kubectl", change
    kubectl(*args[1:])


# ---------------------------------------------------------------------------------------------- container_env


def test_container_env_check_mode_then_apply_with_diff_then_unchanged(agent):
    args = dict(rl.TARGET, container="agent", env={"SESSION_TTL": 3600}, wait_timeout=120)
    rc, result, _raw = run_module(ENV, args, check=True)
    assert rc == 0, result
    assert result["changed"] is True and result["after"]["env"]["SESSION_TTL"] == "3600"
    server = rl.get()
    assert env_of(server)["SESSION_TTL"] == "86400"
    assert server["metadata"]["generation"] == agent["metadata"]["generation"]

    rc, result, raw = run_module(ENV, args, diff=True)
    assert rc == 0, result
    assert result["changed"] is True
    assert result["diff"]["before"]["env"]["SESSION_TTL"] == "86400"
    assert result["diff"]["after"]["env"]["SESSION_TTL"] == "3600"
    assert result["undo"] == {"env": {"SESSION_TTL": "86400"}, "unset": [], "manual": []}
    change = result["change"]
    assert (change["action"], change["target"], change["changed"]) == (
        "set_env", "deployment %s/%s container agent" % (rl.NS, rl.NAME), True)
    assert change["before"] == {"SESSION_TTL": "86400"} and change["after"] == {"SESSION_TTL": "3600"}
    assert "rollout undo deployment/%s --to-revision=%s" % (rl.NAME, result["revision_before"]) in change["note"]
    assert result["rollout"]["complete"] is True and result["old_replica_set"] != result["new_replica_set"]
    server = rl.get()
    assert env_of(server) == {"SESSION_TTL": "3600", "PORT": "8080"}  # order and the other variable kept
    assert "+" in raw and "SESSION_TTL" in raw  # the diff is printed

    rc, result, _raw = run_module(ENV, args)
    assert rc == 0 and result["changed"] is False
    assert result["change"]["changed"] is False and result["change"]["undo"] == "nothing to undo"
    assert rl.get()["metadata"]["generation"] == server["metadata"]["generation"]
    run_undo(change)
    assert env_of(rl.get()) == {"SESSION_TTL": "86400", "PORT": "8080"}


def test_container_env_unsets_and_adds(agent):
    rc, result, _raw = run_module(ENV, dict(rl.TARGET, env={"DEBUG_MEMORY": "1"}, unset=["PORT"], wait=False))
    assert rc == 0, result
    assert env_of(rl.get()) == {"SESSION_TTL": "86400", "DEBUG_MEMORY": "1"}
    assert result["undo"]["env"] == {"PORT": "8080"} and result["undo"]["unset"] == ["DEBUG_MEMORY"]


@pytest.mark.parametrize(("args", "message"), [
    ({"env": {"1BAD": "x"}}, "env: '1BAD' is not a valid variable name"),
    ({"env": {"A": "1"}, "unset": ["A"]}, "A is both in env and in unset"),
    ({}, "nothing to do"),
    ({"env": {"A": "1"}, "container": "nope"}, "has no container 'nope'; its containers are: agent"),
])
def test_container_env_bad_input_changes_nothing(agent, args, message):
    rc, result, _raw = run_module(ENV, dict(rl.TARGET, **args))
    assert rc != 0 and message in result["msg"]
    assert rl.get()["metadata"]["generation"] == agent["metadata"]["generation"]


# ---------------------------------------------------------------------------------------------- rollout_restart


def test_rollout_restart_check_apply_rerun(agent):
    args = dict(rl.TARGET, not_within="10m", wait_timeout=120)
    rc, result, _raw = run_module(RESTART, args, check=True)
    assert rc == 0 and result["changed"] is True and result["after"]["restarted_at"]
    assert RESTARTED_AT not in (rl.get()["spec"]["template"]["metadata"].get("annotations") or {})

    rc, result, _raw = run_module(RESTART, args, diff=True)
    assert rc == 0, result
    assert result["changed"] is True and result["rollout"]["complete"] is True
    assert result["old_replica_set"] and result["new_replica_set"]
    assert result["old_replica_set"] != result["new_replica_set"]
    assert result["change"]["action"] == "restart" and result["change"]["changed"] is True
    assert result["change"]["before"]["replica_set"] == result["old_replica_set"]
    assert result["change"]["after"] == {"restarted_at": result["restarted_at"],
                                         "replica_set": result["new_replica_set"]}
    assert int(result["revision_after"]) == int(result["revision_before"]) + 1
    server = rl.get()
    assert server["spec"]["template"]["metadata"]["annotations"][RESTARTED_AT] == result["restarted_at"]
    pods = json.loads(kubectl("-n", rl.NS, "get", "pods", "-l", "app=" + rl.NAME, "-o", "json").stdout)["items"]
    live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    assert {p["metadata"]["labels"]["pod-template-hash"] for p in live} == {result["new_replica_set"].rsplit("-", 1)[1]}

    rc, result, _raw = run_module(RESTART, args)
    assert rc == 0 and result["changed"] is False and "within not_within" in result["skipped_reason"]
    assert rl.get()["metadata"]["generation"] == server["metadata"]["generation"]


def test_a_rollout_that_cannot_complete_is_rolled_back(agent):
    """A quota of exactly the running pods: the surge pod of the new ReplicaSet can never be created."""
    rl.apply({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "two-pods", "namespace": rl.NS},
              "spec": {"hard": {"pods": "2"}}})
    try:
        rc, result, _raw = run_module(RESTART, dict(rl.TARGET, wait_timeout=15), timeout=180)
        assert rc != 0
        error = result["error"]
        assert error["kind"] == "rollout_failed" and error["rolled_back"] is True and error["rollback_complete"]
        assert "did not complete in 15s" in result["msg"]
        assert "rolled back to the previous pod template" in result["msg"]
        server = rl.get()
        assert RESTARTED_AT not in (server["spec"]["template"]["metadata"].get("annotations") or {})
        assert server["status"]["readyReplicas"] == 2 and server["status"]["updatedReplicas"] == 2
        assert error["old_replica_set"] == error["new_replica_set"]  # back on the ReplicaSet it started from
    finally:
        kubectl("-n", rl.NS, "delete", "resourcequota", "two-pods", "--ignore-not-found")


# ---------------------------------------------------------------------------------------------- workload_scale


def test_scale_without_hpa_check_apply_rerun(agent):
    args = dict(rl.TARGET, replicas=3, wait_timeout=120)
    rc, result, _raw = run_module(SCALE, args, check=True)
    assert rc == 0 and result["changed"] is True and result["after"] == {"replicas": 3}
    assert rl.get()["spec"]["replicas"] == 2
    rc, result, _raw = run_module(SCALE, args, diff=True)
    assert rc == 0 and result["changed"] is True and result["undo"] == {"replicas": 2}
    change = result["change"]
    assert change["before"] == {"replicas": 2} and change["after"] == {"replicas": 3}
    assert rl.get()["status"]["readyReplicas"] == 3
    rc, result, _raw = run_module(SCALE, args)
    assert rc == 0 and result["changed"] is False
    run_undo(change)
    assert rl.get()["spec"]["replicas"] == 2


def test_scale_with_hpa_moves_its_bounds_not_the_replicas(agent):
    rl.apply({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
              "metadata": {"name": "it-agent-hpa", "namespace": rl.NS},
              "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": rl.NAME},
                       "minReplicas": 2, "maxReplicas": 5,
                       "metrics": [{"type": "Resource", "resource": {"name": "memory", "target": {
                           "type": "Utilization", "averageUtilization": 80}}}]}})
    args = dict(rl.TARGET, replicas=4)
    rc, result, _raw = run_module(SCALE, args, check=True)
    assert rc == 0 and result["changed"] is True and result["target"] == {"kind": "hpa", "name": "it-agent-hpa"}
    assert rl.get("hpa", "it-agent-hpa")["spec"]["minReplicas"] == 2
    rc, result, raw = run_module(SCALE, args, diff=True)
    assert rc == 0 and result["after"]["min_replicas"] == 4 and result["after"]["max_replicas"] == 5
    assert "its bounds were changed instead of spec.replicas" in raw  # shown as a warning
    hpa = rl.get("hpa", "it-agent-hpa")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (4, 5)
    assert rl.get()["spec"]["replicas"] == 2  # the HPA's to change, not ours
    change = result["change"]
    assert change["target"] == "hpa %s/it-agent-hpa" % rl.NS and "bounds were changed" in change["note"]
    rc, result, _raw = run_module(SCALE, args)
    assert rc == 0 and result["changed"] is False

    # min above max, above the cap: refused, nothing changed
    for bad, message in (({"min_replicas": 6, "max_replicas": 3}, "min_replicas 6 is above max_replicas 3"),
                         ({"max_replicas": 50}, "max_replicas 50 is above max_replicas_cap 20"),
                         ({"replicas": 0}, "replicas must be at least 1")):
        rc, result, _raw = run_module(SCALE, dict(rl.TARGET, **bad))
        assert rc != 0 and message in result["msg"], result
    hpa_after = rl.get("hpa", "it-agent-hpa")  # its status moves (the controller scales to 4); its spec must not
    assert hpa_after["spec"] == hpa["spec"]
    run_undo(change)
    hpa = rl.get("hpa", "it-agent-hpa")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 5)


# ---------------------------------------------------------------------------------------------- memory_limits


def test_memory_limits_explicit_limit_check_apply_rerun(agent):
    rl.wait_for_metrics(lambda seen: len(seen) == 2)
    args = dict(rl.TARGET, container="agent", mode="apply", limit="1536Mi", wait_timeout=120)
    rc, result, _raw = run_module(LIMITS, args, check=True)
    assert rc == 0, result
    assert result["changed"] is True and result["after"]["limits"] == "1536Mi"
    assert result["observed"]["source"] == "metrics.k8s.io"
    assert {g["guardrail"] for g in result["guardrails"]} >= {"above_peak", "max_limit", "request_within_limit",
                                                              "fits_a_node"}
    assert memory_of(rl.get()) == "1Gi"
    rc, result, _raw = run_module(LIMITS, args, diff=True)
    assert rc == 0 and result["changed"] is True
    assert result["diff"]["before"]["limits"] == "1Gi" and result["diff"]["after"]["limits"] == "1536Mi"
    assert result["undo"]["limit"] == "1Gi"
    change = result["change"]
    assert change["action"] == "set_memory_limit" and change["before"]["memory_limit"] == "1Gi"
    assert change["after"]["memory_limit"] == "1536Mi"
    assert memory_of(rl.get()) == "1536Mi"
    rc, result, _raw = run_module(LIMITS, args)
    assert rc == 0 and result["changed"] is False
    run_undo(change)
    assert memory_of(rl.get()) == "1Gi"


@pytest.mark.parametrize(("limit", "message"), [
    ("1Gb", "limit '1Gb' is not a Kubernetes quantity"),
    ("-5Mi", "limit '-5Mi' must not be negative"),
    ("0", "limit must be more than zero"),
])
def test_memory_limits_refuses_bad_quantities(agent, limit, message):
    rc, result, _raw = run_module(LIMITS, dict(rl.TARGET, mode="apply", limit=limit))
    assert rc != 0 and message in result["msg"] and result["error"]["kind"] == "invalid_input"
    assert rl.get()["metadata"]["generation"] == agent["metadata"]["generation"]


def test_memory_limits_guardrails_refuse_and_change_nothing(agent):
    rl.set_pod_memory("900Mi")
    rl.wait_for_metrics(lambda seen: all(v == 900 * rl.MIB for v in seen.values()))
    rl.apply({"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "max-2gi", "namespace": rl.NS},
              "spec": {"limits": [{"type": "Container", "max": {"memory": "2Gi"}}]}})
    rl.apply({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "mem-5gi", "namespace": rl.NS},
              "spec": {"hard": {"limits.memory": "5Gi"}}})
    wait_for(lambda: rl.get("resourcequota", "mem-5gi").get("status", {}).get("used", {}).get("limits.memory"),
             "the quota controller to count the namespace")
    cases = [
        ({"limit": "768Mi"}, "above_peak (limit 768Mi < observed peak 900.0Mi x headroom 1.15"),
        ({"limit": "3Gi", "max_limit": "2560Mi"}, "max_limit (limit 3Gi > max_limit 2560Mi)"),
        ({"limit": "3Gi", "max_limit": "8Gi"}, "limitrange_max (limit 3Gi > LimitRange max-2gi Container max 2Gi)"),
        ({"limit": "1792Mi"}, "resourcequota (namespace limits.memory during the rollout"),
        ({"limit": "1536Mi", "request": "1600Mi"}, "request_within_limit (request 1600Mi > limit 1536Mi)"),
    ]
    before = rl.get()
    for extra, message in cases:
        rc, result, _raw = run_module(LIMITS, dict(rl.TARGET, mode="apply", **extra))
        assert rc != 0, (extra, result)
        assert result["error"]["kind"] == "guardrail" and message in result["msg"], (extra, result["msg"])
        assert "nothing was changed" in result["msg"]
    after = rl.get()
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert memory_of(after) == "1Gi"


# ---------------------------------------------------------------------------------------------- image_policy

DIGEST = "sha256:" + "5e" * 32


def with_mutable_image():
    """it-agent as agent-bruno really runs: :latest pulled Always (a rollout of the new template)."""
    path = "/spec/template/spec/containers/0/"
    kubectl("-n", rl.NS, "patch", "deployment", rl.NAME, "--type=json", "-p", json.dumps([
        {"op": "replace", "path": path + "image", "value": "ghcr.io/bruno/agent-bruno:latest"},
        {"op": "add", "path": path + "imagePullPolicy", "value": "Always"}]))
    rl.rollout_done()
    return rl.get()


def report_digest(digest):
    """What a kubelet reports after pulling: each live pod's status.containerStatuses[].imageID (kwok sets none)."""
    pods = json.loads(kubectl("-n", rl.NS, "get", "pods", "-l", "app=" + rl.NAME, "-o", "json").stdout)["items"]
    for pod in pods:
        if pod["metadata"].get("deletionTimestamp"):
            continue
        statuses = pod["status"]["containerStatuses"]
        statuses[0]["imageID"] = "ghcr.io/bruno/agent-bruno@" + digest
        kubectl("-n", rl.NS, "patch", "pod", pod["metadata"]["name"], "--subresource=status", "--type=merge", "-p",
                json.dumps({"status": {"containerStatuses": statuses}}))


def image_of(obj):
    return obj["spec"]["template"]["spec"]["containers"][0]["image"]


def test_mutable_image_warn_refuse_and_pin(agent):
    before = with_mutable_image()
    args = dict(rl.TARGET, env={"SESSION_TTL": "7200"}, wait_timeout=120)

    # refuse, and pin with no digest known (kwok pods report no imageID): nothing changed, the option named
    for policy, message in (("refuse", "with image_policy=refuse"), ("pin", "no running pod reports its image digest")):
        rc, result, _raw = run_module(ENV, dict(args, image_policy=policy))
        assert rc != 0 and result["error"]["kind"] == "guardrail" and message in result["msg"], result
        assert "nothing was changed" in result["msg"]
        assert result["error"]["change"]["images"]["action"] == "refused"  # what the change record lists
    assert rl.get()["metadata"]["generation"] == before["metadata"]["generation"]

    # pin, in check mode and with --diff: the running digest goes into the same patch as the env
    report_digest(DIGEST)
    rc, result, _raw = run_module(ENV, dict(args, image_policy="pin"), check=True)
    assert rc == 0 and result["images"]["action"] == "pinned", result
    assert result["after"]["images"] == {"agent": "ghcr.io/bruno/agent-bruno:latest@" + DIGEST}
    assert rl.get()["metadata"]["generation"] == before["metadata"]["generation"]
    rc, result, _raw = run_module(ENV, dict(args, image_policy="pin"), diff=True)
    assert rc == 0, result
    assert result["diff"]["before"]["images"] == {"agent": "ghcr.io/bruno/agent-bruno:latest"}
    assert int(result["revision_after"]) == int(result["revision_before"]) + 1  # one rollout for both
    server = rl.get()
    assert image_of(server) == "ghcr.io/bruno/agent-bruno:latest@" + DIGEST and env_of(server)["SESSION_TTL"] == "7200"
    change = result["change"]
    assert change["images"]["action"] == "pinned" and "image pinned: agent ghcr.io/bruno/agent-bruno:latest ->" in \
        change["note"]

    # pinned now: nothing mutable is left, so the default (warn) says nothing
    rc, result, raw = run_module(RESTART, dict(rl.TARGET, wait_timeout=120))
    assert rc == 0 and result["images"]["action"] == "none" and "[WARNING]" not in raw

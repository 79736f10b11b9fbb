"""Facts from pods, PodMetrics and events (the dict shapes the apiserver returns)."""

import datetime

from ansible_collections.bruno.ops.plugins.module_utils.facts import pod_memory

NOW = datetime.datetime(2026, 11, 29, 6, 0, tzinfo=datetime.timezone.utc)


def pod(name, *, restarts=0, last_reason=None, limit="1Gi", request="256Mi", ready=True):
    status = {"name": "agent-bruno", "restartCount": restarts, "ready": ready, "state": {"running": {}}}
    if last_reason:
        status["lastState"] = {"terminated": {"reason": last_reason, "exitCode": 137,
                                              "startedAt": "2026-11-29T05:00:00Z",
                                              "finishedAt": "2026-11-29T05:40:00Z"}}
    resources = {"limits": {"memory": limit} if limit else {}, "requests": {"memory": request}}
    return {
        "metadata": {"name": name, "namespace": "bruno", "ownerReferences": [{"name": "agent-bruno-abc"}]},
        "spec": {"nodeName": "kwok-node-0", "containers": [{"name": "agent-bruno", "resources": resources},
                                                           {"name": "sidecar", "resources": {}}]},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                   "containerStatuses": [status]},
    }


def metrics(name, usage):
    return {"metadata": {"name": name}, "timestamp": "2026-11-29T05:59:00Z", "window": "30s",
            "containers": [{"name": "agent-bruno", "usage": {"memory": usage, "cpu": "10m"}}]}


def event(name, reason, when, count=1, kind="Pod"):
    return {"involvedObject": {"kind": kind, "name": name}, "reason": reason, "type": "Warning",
            "message": "m", "count": count, "lastTimestamp": when}


def test_usage_against_limit_and_oom():
    usage = pod_memory.metrics_by_pod([metrics("a", "870Mi")])
    facts = pod_memory.pod_facts(pod("a", restarts=2, last_reason="OOMKilled"), usage["a"], [], "agent-bruno")
    (container,) = facts["containers"]
    assert container["usage_bytes"] == 870 * 2 ** 20
    assert container["usage_pct_of_limit"] == 85.0
    assert container["oom_killed"] and container["oom_killed_at"] == ["2026-11-29T05:40:00Z"]
    assert facts["restarts"] == 2 and facts["oom_killed"] and facts["owner"] == "agent-bruno-abc"


def test_missing_metrics_and_limits_are_null_not_errors():
    facts = pod_memory.pod_facts(pod("b", limit=None), None, None)
    main, sidecar = facts["containers"]
    assert main["usage_bytes"] is None and main["usage_pct_of_limit"] is None and main["limit_bytes"] is None
    assert sidecar["request_bytes"] is None and sidecar["restarts"] == 0
    summary = pod_memory.summarize([facts], metrics_available=False)
    assert summary["max_usage_bytes"] is None and summary["containers_without_limit"] == 2


def test_events_in_window_only_and_pod_only():
    since = NOW - datetime.timedelta(hours=1)
    found = pod_memory.events_by_pod([
        event("a", "BackOff", "2026-11-29T05:30:00Z", count=4),
        event("a", "Killing", "2026-11-29T04:00:00Z"),  # too old
        event("a", "Scheduled", "2026-11-29T05:31:00Z"),  # not about memory
        event("node-0", "OOMKilling", "2026-11-29T05:32:00Z", kind="Node"),  # a node's event
        event("b", "OOMKilled", "2026-11-29T05:50:00Z"),
    ], since)
    assert [e["reason"] for e in found["a"]] == ["BackOff"]
    assert found["a"][0]["count"] == 4
    assert set(found) == {"a", "b"}


def test_summary():
    usage = pod_memory.metrics_by_pod([metrics("a", "512Mi"), metrics("b", "1000Mi")])
    facts = [pod_memory.pod_facts(pod("a"), usage["a"], [], "agent-bruno"),
             pod_memory.pod_facts(pod("b", restarts=3, last_reason="OOMKilled", ready=False), usage["b"],
                                  [{"reason": "BackOff", "count": 2}], "agent-bruno")]
    summary = pod_memory.summarize(facts, metrics_available=True)
    assert summary["pods"] == 2 and summary["pods_ready"] == 1
    assert summary["max_usage_pct_of_limit"] == 97.7
    assert summary["oom_killed_pods"] == ["b"] and summary["oom_kills"] == 1
    assert summary["total_restarts"] == 3 and summary["limits_bytes"] == [2 ** 30]
    assert summary["memory_events"] == {"BackOff": 2}


def test_env_names_image_and_env_sources_never_values():
    spec = pod("a")
    spec["spec"]["containers"][0].update(
        image="ghcr.io/brunovlucena/agent-bruno:latest", imagePullPolicy="Always",
        env=[{"name": "SESSION_TTL", "value": "86400"}, {"name": "REDIS_URL", "value": "redis://:s3cret@redis:6379"},
             {"name": "MONGODB_URL", "valueFrom": {"secretKeyRef": {"name": "db", "key": "url"}}}],
        envFrom=[{"configMapRef": {"name": "agent-config"}}, {"secretRef": {"name": "agent-secrets"}}])
    (container,) = pod_memory.pod_facts(spec, {"containers": {}}, [], "agent-bruno")["containers"]
    assert container["env_names"] == ["MONGODB_URL", "REDIS_URL", "SESSION_TTL"]
    assert container["env_from"] == ["configMap/agent-config", "secret/agent-secrets"]
    assert container["image"] == "ghcr.io/brunovlucena/agent-bruno:latest"
    assert container["image_pull_policy"] == "Always"
    assert "s3cret" not in repr(container) and "86400" not in repr(container)
    (plain,) = pod_memory.pod_facts(pod("b"), {"containers": {}}, [], "agent-bruno")["containers"]
    assert plain["env_names"] == [] and plain["env_from"] == []

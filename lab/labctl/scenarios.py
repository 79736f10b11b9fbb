"""`lab scenario NAME`: put the whole lab into one consistent state per runbook cause.

Order matters: fresh pods first (so their names are known), then their memory, statuses and events, the
Redis keyspace, the agent's knobs, the Prometheus history (which carries the pod names), and the logs.
"""

from __future__ import annotations

import datetime
import json
import subprocess
import time
import urllib.request

from labctl import layout, procs, scenario_specs, seed

NAMESPACE = "bruno"
SELECTOR = "app=agent-bruno"
DEPLOYMENT = "agent-bruno"
CONTAINER = "agent-bruno"
MEMORY_ANNOTATION = "lab.bruno.ops/memory-usage." + CONTAINER
EXIT_HOOK = "lab.bruno.ops/on-exit-post"  # lab/k8s/cluster pod-sync POSTs it when the pod terminates
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
CLUSTER = layout.LAB_SRC / "k8s" / "cluster"


def kubectl(*args, stdin=None, check=True):
    out = subprocess.run([str(CLUSTER), "kubectl", *args], input=stdin, capture_output=True, text=True,
                         timeout=120, check=False)
    if check and out.returncode != 0:
        raise procs.LabError("kubectl %s failed: %s" % (" ".join(args), (out.stderr or out.stdout).strip()[-800:]))
    return out.stdout


def api():
    from kubernetes import client, config  # noqa: PLC0415 - the venv's client, only for scenarios

    cfg = client.Configuration()
    config.load_kube_config(config_file=str(layout.KUBECONFIG_ADMIN), client_configuration=cfg)
    return client.ApiClient(cfg)


def agent_pods(core, timeout=120):
    """The agent's Ready pods (kept across scenarios, so their metrics keep flowing); old events go."""
    kubectl("-n", NAMESPACE, "delete", "events", "--all", "--wait=false")

    def ready():
        pods = [p for p in core.list_namespaced_pod(NAMESPACE, label_selector=SELECTOR).items
                if p.metadata.deletion_timestamp is None]
        if pods and all(any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])
                        for p in pods):
            return sorted(p.metadata.name for p in pods)
        return None

    return procs.wait_until(ready, timeout, "agent-bruno pods to be Ready")


def wait_for_usage(custom, pods, spec, timeout=90):
    """Until metrics.k8s.io (what kubectl top shows) reports each pod's new usage: the next scrapes."""
    expected = {pod: int((spec.usage_end_mib - 4 * i) * scenario_specs.MIB) for i, pod in enumerate(pods)}

    def current():
        items = custom.list_namespaced_custom_object("metrics.k8s.io", "v1beta1", NAMESPACE, "pods",
                                                     label_selector=SELECTOR)["items"]
        seen = {}
        for item in items:
            for container in item["containers"]:
                if container["name"] == CONTAINER:
                    seen[item["metadata"]["name"]] = _bytes(container["usage"]["memory"])
        return all(abs(seen.get(pod, -1) - value) < scenario_specs.MIB for pod, value in expected.items())

    procs.wait_until(current, timeout, "metrics.k8s.io to report the scenario's memory usage", interval=2.0)


def _bytes(quantity):
    units = {"Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30}
    for suffix, factor in units.items():
        if quantity.endswith(suffix):
            return int(float(quantity[:-2]) * factor)
    return int(quantity)


def set_memory(core, pods, spec):
    for index, pod in enumerate(pods):
        usage = int((spec.usage_end_mib - 4 * index) * scenario_specs.MIB)
        core.patch_namespaced_pod(pod, NAMESPACE, {"metadata": {"annotations": {MEMORY_ANNOTATION: str(usage)}}})


def set_container_statuses(core, pods, spec, now):
    """Restart counts and last states as the scenario has them: clean, or an OOM loop's OOMKilled history
    with the kubelet's events. containerStatuses is replaced as a whole, which also clears older ones."""
    from kubernetes import client  # noqa: PLC0415

    finished = now - datetime.timedelta(minutes=3)
    serializer = client.ApiClient()
    for pod in pods:
        current = core.read_namespaced_pod_status(pod, NAMESPACE)
        statuses = []
        for status in current.status.container_statuses or []:
            entry = serializer.sanitize_for_serialization(status)
            entry["restartCount"] = spec.oom_kills
            entry.pop("lastState", None)
            if spec.oom_kills:
                entry["lastState"] = {"terminated": {
                    "reason": "OOMKilled", "exitCode": 137,
                    "startedAt": _iso(finished - datetime.timedelta(minutes=20)), "finishedAt": _iso(finished)}}
            statuses.append(entry)
        core.patch_namespaced_pod_status(pod, NAMESPACE, {"status": {"containerStatuses": statuses}})
        if not spec.oom_kills:
            continue
        for reason, kind, message in (
            ("OOMKilled", "Warning", "Container %s was OOMKilled (exit code 137)" % CONTAINER),
            ("BackOff", "Warning", "Back-off restarting failed container %s" % CONTAINER),
            ("Killing", "Normal", "Container %s exceeded its memory limit and will be restarted" % CONTAINER),
        ):
            body = client.CoreV1Event(
                metadata=client.V1ObjectMeta(generate_name="%s." % pod, namespace=NAMESPACE),
                involved_object=client.V1ObjectReference(kind="Pod", name=pod, namespace=NAMESPACE,
                                                         field_path="spec.containers{%s}" % CONTAINER),
                reason=reason, type=kind, message=message, count=spec.oom_kills,
                first_timestamp=finished - datetime.timedelta(minutes=40), last_timestamp=finished,
                source=client.V1EventSource(component="kubelet"))
            core.create_namespaced_event(NAMESPACE, body)


def agent_knobs(core, pods, spec):
    """The agent's held connections. The agent runs outside the pods, so the pods carry an exit hook: when one of
    them terminates (a restart, a rollout), the lab's pod-sync POSTs /lab/release, as a real process's
    connections would go with it."""
    base = "http://%s:%d" % (layout.HOST, layout.PORTS["agent"])
    _post(base + "/lab/release", {})
    if spec.hold_redis_connections:
        # Extra clients Redis sees, plus every connection of the agent's own pool (REDIS_POOL_SIZE, 20 here).
        _post(base + "/lab/hold-connections", {"redis": spec.hold_redis_connections, "redis_pool": 20})
        for pod in pods:
            core.patch_namespaced_pod(pod, NAMESPACE, {"metadata": {"annotations": {EXIT_HOOK: base + "/lab/release"}}})


def reset_workload():
    """agent-bruno's objects as the manifest has them, whatever an earlier remediation changed (env, limits, HPA
    bounds, the restart annotation), and no change lock left from it: each scenario is a fresh incident."""
    from labctl import components  # noqa: PLC0415 - avoids an import cycle with components

    kubectl("apply", "-f", str(components.Workload.manifest))
    template = json.loads(kubectl("-n", NAMESPACE, "get", "deployment", DEPLOYMENT, "-o",
                                  "jsonpath={.spec.template.metadata.annotations}") or "{}")
    if RESTARTED_AT in template:
        kubectl("-n", NAMESPACE, "patch", "deployment", DEPLOYMENT, "--type=json", "-p",
                json.dumps([{"op": "remove", "path": "/spec/template/metadata/annotations/"
                             + RESTARTED_AT.replace("/", "~1")}]))
    kubectl("-n", NAMESPACE, "rollout", "status", "deployment/" + DEPLOYMENT, "--timeout=120s")
    kubectl("-n", NAMESPACE, "delete", "lease", "-l", "app.kubernetes.io/managed-by=bruno.ops", "--ignore-not-found")
    kubectl("-n", NAMESPACE, "delete", "limitrange,resourcequota", "-l", "lab.bruno.ops/test", "--ignore-not-found")


def write_logs(pods, spec):
    lines = ["INFO agent-bruno serving on :8080", "INFO chat ok session=%s" % spec.name]
    lines += list(spec.log_lines) * 5
    for pod in pods:
        subprocess.run([str(CLUSTER), "pod-log", NAMESPACE, pod], input="\n".join(lines) + "\n", text=True,
                       timeout=30, check=True, capture_output=True)
        if spec.oom_kills:
            last = list(spec.log_lines) + ["ERROR Killed: out of memory"]
            subprocess.run([str(CLUSTER), "pod-log", NAMESPACE, pod, "--previous"], input="\n".join(last) + "\n",
                           text=True, timeout=30, check=True, capture_output=True)


def _post(url, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",  # noqa: S310
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - the lab's loopback agent
        return json.loads(response.read() or b"{}")


def _iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def apply(name):
    from kubernetes import client  # noqa: PLC0415

    from labctl import components  # noqa: PLC0415 - avoids an import cycle with components

    spec = scenario_specs.get(name)
    started = time.monotonic()
    now = datetime.datetime.now(datetime.timezone.utc)
    api_client = api()
    core = client.CoreV1Api(api_client)
    reset_workload()
    pods = agent_pods(core)
    set_memory(core, pods, spec)
    set_container_statuses(core, pods, spec, now)
    seed.seed_redis(spec, layout.PORTS["redis"], now=now.timestamp())
    seed.reset_archive(layout.PORTS["ferretdb"])
    agent_knobs(core, pods, spec)
    nodes = {p.metadata.name: p.spec.node_name
             for p in core.list_namespaced_pod(NAMESPACE, label_selector=SELECTOR).items}
    components.restart_prometheus_with_history(spec, [(pod, nodes[pod]) for pod in pods], int(now.timestamp()) - 60)
    write_logs(pods, spec)
    wait_for_usage(client.CustomObjectsApi(api_client), pods, spec)
    state = {"scenario": name, "cause": spec.cause, "pods": pods, "applied_at": _iso(now)}
    (layout.LAB_DIR / "scenario.json").write_text(json.dumps(state, indent=2) + "\n")
    print("lab: scenario %s applied in %.1fs (%s): pods %s" % (name, time.monotonic() - started, spec.summary,
                                                               ", ".join(pods)))
    return 0

"""`lab scenario NAME`: put the whole lab into one consistent state per runbook cause.

Order matters: the workload as the manifest has it and its pods' agent processes first (so pod names and
ports are known), then the pods' memory, statuses and events, the agents' lab switches, the Redis keyspace and
the MongoDB collection (the app's own format, labctl.seed), held connections and faults, the Prometheus
history (which carries pod names and ports), and the logs.
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


def agent_post(rows, pod, path, body):
    return _post("http://%s:%d%s" % (layout.HOST, rows[pod]["port"], path), body)


def agent_switches(rows, persistence_broken):
    """Every pod's agent as a fresh process would be, then the scenario's persistence switch. It is sticky
    (layout.AGENT_LAB_STATE): the supervisor gives it to every agent it starts later, because in the published
    app it is the code, not a state a restart clears."""
    seed_state = {"persistence_broken": bool(persistence_broken)}
    layout.AGENT_LAB_STATE.parent.mkdir(parents=True, exist_ok=True)
    layout.AGENT_LAB_STATE.write_text(json.dumps(seed_state) + "\n")
    for pod in sorted(rows):
        agent_post(rows, pod, "/lab/release", {})
        agent_post(rows, pod, "/lab/fault", {"kind": "none"})
        agent_post(rows, pod, "/lab/persistence", {"broken": bool(persistence_broken)})


def agent_load(rows, spec):
    """Held connections (split over the pods: each process holds its share, and a restart drops it, as it would
    for a real process) and the scenario's live fault."""
    pods = sorted(rows)
    for index, pod in enumerate(pods):
        share = spec.hold_redis_connections // len(pods) + (1 if index < spec.hold_redis_connections % len(pods)
                                                            else 0)
        if share:
            agent_post(rows, pod, "/lab/hold-connections", {"redis": share, "mongo": 0})
        if spec.live_fault:
            agent_post(rows, pod, "/lab/fault", dict(spec.live_fault))


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
    components.settle_replicas(_kubectl_rc)
    components.rollout(_kubectl_rc)
    kubectl("-n", NAMESPACE, "delete", "lease", "-l", "app.kubernetes.io/managed-by=bruno.ops", "--ignore-not-found")
    kubectl("-n", NAMESPACE, "delete", "limitrange,resourcequota", "-l", "lab.bruno.ops/test", "--ignore-not-found")


def _kubectl_rc(*args, timeout=180):
    out = subprocess.run([str(CLUSTER), "kubectl", *args], capture_output=True, text=True, timeout=timeout,
                         check=False)
    return out.returncode, (out.stdout + out.stderr).strip()


def app_log(line, moment=None):
    """A line in the real app's logging format: '%(asctime)s - %(name)s - %(levelname)s - %(message)s'."""
    moment = moment or datetime.datetime.now()
    return "%s,%03d - %s" % (moment.strftime("%Y-%m-%d %H:%M:%S"), moment.microsecond // 1000, line)


def write_logs(pods, spec):
    """The scenario's extra log lines (the agents' own output is in the pod logs already, via the supervisor)."""
    if not spec.log_lines and not spec.oom_kills:
        return
    lines = [app_log(line) for line in list(spec.log_lines) * 5]
    for pod in pods:
        subprocess.run([str(CLUSTER), "pod-log", NAMESPACE, pod], input="\n".join(lines) + "\n", text=True,
                       timeout=30, check=True, capture_output=True)
        if spec.oom_kills:
            last = [app_log("__main__ - INFO - \U0001f680 Starting Agent Bruno..."),
                    app_log("src.memory.mongo_store - INFO - \u2705 Connected to MongoDB: agent_bruno")]
            last += [app_log(line) for line in spec.log_lines]
            subprocess.run([str(CLUSTER), "pod-log", NAMESPACE, pod, "--previous"], input="\n".join(last) + "\n",
                           text=True, timeout=30, check=True, capture_output=True)


def _post(url, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",  # noqa: S310
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - the lab's loopback agent
        return json.loads(response.read() or b"{}")


def _iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def apply(name, persistence="ok"):
    from kubernetes import client  # noqa: PLC0415

    from labctl import components  # noqa: PLC0415 - avoids an import cycle with components

    spec = scenario_specs.get(name)
    broken = spec.persistence_broken or persistence == "broken"
    started = time.monotonic()
    now = datetime.datetime.now(datetime.timezone.utc)
    api_client = api()
    core = client.CoreV1Api(api_client)
    reset_workload()
    pods = agent_pods(core)
    rows = components.wait_for_pod_agents(pods, timeout=90)
    agent_switches(rows, broken)
    set_memory(core, pods, spec)
    set_container_statuses(core, pods, spec, now)
    seed.seed_redis(spec, layout.PORTS["redis"], now=now)
    seed.seed_mongo(spec, layout.PORTS["ferretdb"], now=now, persisting=not broken)
    agent_load(rows, spec)
    nodes = {p.metadata.name: p.spec.node_name
             for p in core.list_namespaced_pod(NAMESPACE, label_selector=SELECTOR).items}
    components.restart_prometheus_with_history(spec, [(pod, nodes[pod], rows[pod]["port"]) for pod in pods],
                                               int(now.timestamp()) - 60)
    write_logs(pods, spec)
    wait_for_usage(client.CustomObjectsApi(api_client), pods, spec)
    state = {"scenario": name, "cause": spec.cause, "pods": pods, "applied_at": _iso(now),
             "persistence_broken": broken, "agents": {pod: rows[pod]["url"] for pod in pods},
             "service": "http://%s:%d" % (layout.HOST, layout.PORTS["agent"])}
    (layout.LAB_DIR / "scenario.json").write_text(json.dumps(state, indent=2) + "\n")
    print("lab: scenario %s applied in %.1fs (%s%s): pods %s" % (
        name, time.monotonic() - started, spec.summary, "; persistence broken" if broken else "", ", ".join(pods)))
    return 0

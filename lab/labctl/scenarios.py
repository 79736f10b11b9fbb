"""`lab scenario NAME`: put the whole lab into one consistent state per runbook cause.

Order matters: the workload as the manifest has it and its pods' agent processes first (so pod names and
ports are known), then the pods' memory, statuses and events, the agents' lab switches, the Redis keyspace and
the MongoDB collection (the app's own format, labctl.seed), held connections and faults, the Prometheus
history (which carries pod names and ports), and the logs.

`lab generated SEED CLASS` goes the same way (`apply_target`) with a generated state (labctl.generator, see
`GeneratedTarget`): its replicas, limit and request first, then per pod its own history, restarts and held
connections, and at the end the sources the state has stopped.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
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


def wait_for_usage(custom, pods, usages, timeout=90):
    """Until metrics.k8s.io (what kubectl top shows) reports each pod's new usage: the next scrapes."""
    expected = dict(zip(pods, usages, strict=True))

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


def set_memory(core, pods, usages):
    """Each pod's working set now (bytes): what kwok reports, metrics.k8s.io and the live scrape show."""
    for pod, usage in zip(pods, usages, strict=True):
        core.patch_namespaced_pod(pod, NAMESPACE, {"metadata": {"annotations": {MEMORY_ANNOTATION: str(usage)}}})


def set_container_statuses(core, pods, containers):
    """Restart counts and last states, one ContainerPlan per pod: clean, or a restart history (an OOM loop's
    OOMKilled ones with the kubelet's events). containerStatuses is replaced as a whole, which also clears older
    ones."""
    from kubernetes import client  # noqa: PLC0415

    serializer = client.ApiClient()
    for pod, plan in zip(pods, containers, strict=True):
        current = core.read_namespaced_pod_status(pod, NAMESPACE)
        statuses = []
        for status in current.status.container_statuses or []:
            entry = serializer.sanitize_for_serialization(status)
            entry["restartCount"] = plan.restarts
            entry.pop("lastState", None)
            if plan.last_reason:
                entry["lastState"] = {"terminated": {
                    "reason": plan.last_reason, "exitCode": 137 if plan.last_reason == "OOMKilled" else 1,
                    "startedAt": _iso(plan.last_started), "finishedAt": _iso(plan.last_finished)}}
            if plan.started_at and (entry.get("state") or {}).get("running") is not None:
                entry["state"] = {"running": {"startedAt": _iso(plan.started_at)}}
            statuses.append(entry)
        core.patch_namespaced_pod_status(pod, NAMESPACE, {"status": {"containerStatuses": statuses}})
        if not plan.oom_kills:
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
                reason=reason, type=kind, message=message, count=plan.oom_kills,
                first_timestamp=plan.oom_first, last_timestamp=plan.oom_last,
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


def split(total, parts):
    """`total` over `parts` as evenly as integers go (the first ones get the remainder)."""
    return [total // parts + (1 if index < total % parts else 0) for index in range(parts)]


def agent_load(rows, pods, held, live_fault):
    """Held Redis connections, one count per pod (each process holds its share, and a restart drops it, as it
    would for a real process), and the live fault."""
    for pod, share in zip(pods, held, strict=True):
        if share:
            agent_post(rows, pod, "/lab/hold-connections", {"redis": share, "mongo": 0})
        if live_fault:
            agent_post(rows, pod, "/lab/fault", dict(live_fault))


def reset_workload(manifest=None):
    """agent-bruno's objects as the manifest has them (or as `manifest`, its text with a generated state's
    changes), whatever an earlier remediation changed (env, limits, HPA bounds, the restart annotation), and no
    change lock left from it: each scenario is a fresh incident."""
    from labctl import components  # noqa: PLC0415 - avoids an import cycle with components

    if manifest is None:
        kubectl("apply", "-f", str(components.Workload.manifest))
    else:
        kubectl("apply", "-f", "-", stdin=manifest)
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


PREVIOUS_START = ("__main__ - INFO - \U0001f680 Starting Agent Bruno...",
                  "src.memory.mongo_store - INFO - \u2705 Connected to MongoDB: agent_bruno")


def write_logs(pods, logs):
    """Extra log lines per pod, logs = [(current lines, previous container's lines)] (the agents' own output is in
    the pod logs already, via the supervisor)."""
    for pod, (current, previous) in zip(pods, logs, strict=True):
        if current:
            subprocess.run([str(CLUSTER), "pod-log", NAMESPACE, pod],
                           input="\n".join(app_log(line) for line in current) + "\n", text=True, timeout=30,
                           check=True, capture_output=True)
        if previous is not None:  # the previous container's log is this state's alone (an earlier one's goes)
            (layout.POD_LOGS / NAMESPACE / ("%s.previous.log" % pod)).unlink(missing_ok=True)
            subprocess.run([str(CLUSTER), "pod-log", NAMESPACE, pod, "--previous"],
                           input="\n".join(app_log(line) for line in PREVIOUS_START + tuple(previous)) + "\n",
                           text=True, timeout=30, check=True, capture_output=True)


def _post(url, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",  # noqa: S310
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - the lab's loopback agent
        return json.loads(response.read() or b"{}")


def _iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------------------------------ what gets applied


@dataclasses.dataclass(frozen=True)
class ContainerPlan:
    """One pod's agent-bruno container status: restarts, the last termination, OOM kills for the events."""

    restarts: int = 0
    last_reason: str | None = None  # OOMKilled or Error
    last_started: datetime.datetime | None = None
    last_finished: datetime.datetime | None = None
    started_at: datetime.datetime | None = None  # the running container's start (None: left as kwok has it)
    oom_kills: int = 0
    oom_first: datetime.datetime | None = None
    oom_last: datetime.datetime | None = None


class ScenarioTarget:
    """A named scenario (scenario_specs): the same numbers for every pod, 4 MiB apart."""

    kind = "scenario"

    def __init__(self, spec):
        self.spec = spec
        self.name = spec.name
        self.summary = spec.summary
        self.stopped = {}
        self.notes = []

    def manifest(self):
        """The workload as the manifest has it."""
        return None

    def usages(self, pods):
        return [int((self.spec.usage_end_mib - 4 * i) * scenario_specs.MIB) for i in range(len(pods))]

    def containers(self, pods, now):
        kills = self.spec.oom_kills
        if not kills:
            return [ContainerPlan() for _pod in pods]
        finished = now - datetime.timedelta(minutes=3)
        plan = ContainerPlan(restarts=kills, last_reason="OOMKilled", last_finished=finished,
                             last_started=finished - datetime.timedelta(minutes=20), oom_kills=kills,
                             oom_first=finished - datetime.timedelta(minutes=40), oom_last=finished)
        return [plan for _pod in pods]

    def held(self, pods):
        return split(self.spec.hold_redis_connections, len(pods))

    def logs(self, pods):
        if not self.spec.log_lines and not self.spec.oom_kills:
            return [((), None) for _pod in pods]
        previous = tuple(self.spec.log_lines) if self.spec.oom_kills else None
        return [(list(self.spec.log_lines) * 5, previous) for _pod in pods]

    def history(self, live, _end_ts):
        """(pods to backfill [(name, node, port)], series for seed.openmetrics or None: the spec's)."""
        return live, None

    def record(self):
        return {"scenario": self.name, "cause": self.spec.cause}


# A generated state's Redis, shrunk when it would take too long to write or too much memory: the session count
# (in Redis and in the redis_db_keys history alike, so the sources agree) is scaled down to at most this many
# sessions and this much session data; the memory history is kept, so bytes per session grow by the same factor.
GENERATED_MAX_SESSIONS = 300_000
GENERATED_MAX_SESSION_BYTES = 256 * scenario_specs.MIB
GENERATED_MAX_MONGO_TURNS = 10_000  # MongoDB documents written (the first sessions' turns, as session-flood does)
NODE_MEMORY = 8 * 2 ** 30  # each kwok node's allocatable memory (lab/k8s/manifests/nodes.yaml)
LINES = {
    "pool": "src.memory.redis_store - WARNING - \u26a0\ufe0f  Redis operation failed: Too many connections",
    "timeout": "src.memory.redis_store - WARNING - \u26a0\ufe0f  Redis operation failed: Timeout reading from socket",
    "memory": "src.main - ERROR - \u274c Chat error: MemoryError",
}
STOPPABLE = {"prometheus": "prometheus", "redis": "redis", "mongodb": "ferretdb", "agent": "service"}


def hold_resample(points, step):
    """[(t, v)] sorted, resampled every `step` seconds from the first to the last point, each sample the latest
    point at or before it (so a query step coarser than Prometheus' 5 min lookback still finds samples, and a
    restart's drop stays a drop). The last point is kept at its own time."""
    if not points:
        return []
    out, index = [], 0
    t = points[0][0]
    while t < points[-1][0]:
        while index + 1 < len(points) and points[index + 1][0] <= t:
            index += 1
        out.append((t, points[index][1]))
        t += step
    out.append(points[-1])
    return out


class GeneratedTarget:
    """One labctl.generator State: the lab set to what it describes (see docs/lab.md, `lab generated`)."""

    kind = "generated"

    def __init__(self, state):
        self.state = state
        self.name = "generated %s %s" % (state.seed, state.cls)
        self.summary = "expected %s" % "+".join(state.expected)
        self.notes = []
        self.live_pods = [p for p in state.pods if p.current]
        self.old_pods = [p for p in state.pods if not p.current and p.points]
        self.sample_step = min(state.step_seconds, 120)
        self.replicas = len(self.live_pods)
        self.limit_mib = max(1, round(state.limit_bytes / scenario_specs.MIB))
        self.request_mib = max(1, round(state.request_bytes / scenario_specs.MIB))
        per_node = math.ceil(self.replicas / 2.0)
        fits = int(NODE_MEMORY * 0.95 / per_node / scenario_specs.MIB)
        if self.request_mib > fits:
            self.notes.append("memory request lowered from %dMi to %dMi so %d pods fit on the two 8Gi nodes"
                              % (self.request_mib, fits, self.replicas))
            self.request_mib = fits
        self.stopped = {}
        for source, why in state.stopped.items():
            if source in STOPPABLE:
                self.stopped[source] = why
            else:
                self.notes.append("source %s cannot be stopped in the lab (kwok serves the logs): left running"
                                  % source)
        if state.agent.get("ready_degraded"):
            self.notes.append("/ready degraded is not reproduced (the lab's agents say so only with a store down)")
        self.spec, self.scale = self._spec()

    def _spec(self):
        """A Scenario for the shared code paths (Redis and MongoDB seeds, the agents' history): the state's
        session count, TTLs, context lengths and sizes, 5xx and latency."""
        state, redis = self.state, self.state.redis
        count = max(int(state.sessions_now), 0)
        mean_bytes = max(float((redis.get("memory") or {}).get("mean_bytes") or 1024), 200.0)
        scale = min(1.0, GENERATED_MAX_SESSIONS / max(count, 1),
                    GENERATED_MAX_SESSION_BYTES / max(count * mean_bytes, 1))
        if scale < 1.0:
            self.notes.append("sessions scaled by %.3g: %d in Redis and in the redis_db_keys history instead of %d"
                              % (scale, round(count * scale), count))
        sessions = int(round(count * scale))
        lengths = redis.get("context_length") or {}
        p95 = max(float(lengths.get("p95") or 6), 1.0)
        mean = min(max(float(lengths.get("mean") or p95 / 2.0), 1.0), p95)
        width = (p95 - mean) / 0.45  # a uniform [low, high] with this mean and 95th percentile
        low = max(1, int(round(mean - width / 2)))
        high = max(low, int(round(2 * mean - low)))
        name = "generated-%s-%s" % (state.seed, state.cls)
        per_turn = mean_bytes / ((low + high) / 2.0)
        message_bytes = max(45, int(round((per_turn - _turn_overhead(name)) / 3.0)))
        mongo = 0 if "mongodb" in self.stopped else min(sessions, max(1, GENERATED_MAX_MONGO_TURNS * 2 // (low + high)))
        pool = state.injected.get("pool")
        ws_now = [p.points[-1][1] for p in self.live_pods]
        spec = dataclasses.replace(
            scenario_specs.SCENARIOS["healthy"], name=name, cause="+".join(state.expected), summary=self.summary,
            usage_start_mib=ws_now[0] / scenario_specs.MIB, usage_end_mib=ws_now[0] / scenario_specs.MIB,
            sessions=sessions, sessions_start=None,
            sessions_without_ttl_pct=float((redis.get("ttl") or {}).get("without_ttl_pct") or 0.0),
            turns=(low, high), message_bytes=message_bytes, mongo_sessions=mongo,
            hold_redis_connections=0, oom_kills=0, log_lines=(),
            chat_5xx_pct=float(state.agent.get("pct_5xx") or 0.0),
            chat_latency_s=max(float(state.agent.get("latency_p95") or 0.8) / 2.0, 0.01),
            live_fault={"kind": "slow", "seconds": 1.0, "rate": 0.5} if pool else None)
        return spec, scale

    def manifest(self):
        """The manifest's text with the state's replicas (the HPA pinned to them: min = max), memory limit and
        request: one apply, so one rollout at most (none when the workload is already so)."""
        import yaml  # noqa: PLC0415 - the venv's PyYAML

        from labctl import components  # noqa: PLC0415 - avoids an import cycle with components

        docs = [doc for doc in yaml.safe_load_all(components.Workload.manifest.read_text()) if doc]
        for doc in docs:
            if doc["kind"] == "HorizontalPodAutoscaler":
                doc["spec"]["minReplicas"] = doc["spec"]["maxReplicas"] = self.replicas
            if doc["kind"] == "Deployment":
                for container in doc["spec"]["template"]["spec"]["containers"]:
                    if container["name"] == CONTAINER:
                        resources = container.setdefault("resources", {})
                        resources.setdefault("limits", {})["memory"] = "%dMi" % self.limit_mib
                        resources.setdefault("requests", {})["memory"] = "%dMi" % self.request_mib
        return yaml.safe_dump_all(docs, sort_keys=False)

    def _at(self, end_ts, t):
        return datetime.datetime.fromtimestamp(end_ts + t, datetime.timezone.utc)

    def usages(self, pods):
        return [int(p.points[-1][1]) for p in self.live_pods]

    def containers(self, pods, now):
        end_ts = int(now.timestamp()) - 60
        plans = []
        for pod in self.live_pods:
            restarts = sorted(pod.restarts)
            ooms = [t for t, reason in restarts if reason == "OOMKilled"]
            first = pod.points[0][0] if pod.points else 0
            if not restarts:
                plans.append(ContainerPlan(started_at=self._at(end_ts, first)))
                continue
            last_t, last_reason = restarts[-1]
            before = restarts[-2][0] if len(restarts) > 1 else first
            plans.append(ContainerPlan(
                restarts=len(restarts), last_reason=last_reason, last_started=self._at(end_ts, before),
                last_finished=self._at(end_ts, last_t), started_at=self._at(end_ts, last_t + 5),
                oom_kills=len(ooms), oom_first=self._at(end_ts, ooms[0]) if ooms else None,
                oom_last=self._at(end_ts, ooms[-1]) if ooms else None))
        return plans

    def held(self, pods):
        if not self.state.injected.get("pool"):
            return [0 for _pod in pods]  # the agents' own few connections are the normal clients
        by_addr = self.state.redis.get("server", {}).get("clients_by_addr") or []
        counts = [min(int(entry.get("connections", 0)), 1000) for entry in by_addr][:len(pods)]
        return counts + [counts[-1] if counts else 0] * (len(pods) - len(counts))

    def logs(self, pods):
        groups = self.state.logs
        pool, timeout = split(int(groups.get("pool", 0)), len(pods)), split(int(groups.get("timeout", 0)), len(pods))
        out = []
        for index, pod in enumerate(self.live_pods):
            kills = sum(1 for _t, reason in pod.restarts if reason == "OOMKilled")
            out.append(([LINES["pool"]] * pool[index] + [LINES["timeout"]] * timeout[index],
                        (LINES["memory"],) * kills if kills else None))
        return out

    def history(self, live, end_ts):
        """Every pod's own history, live ones under the lab's pod names and ports, pods a deploy replaced under
        their own names (on ports no agent listens on: history only); sessions scaled with the Redis seed."""
        step = self.sample_step
        pods, usage, chat = list(live), {}, {}
        chat_points = [(end_ts + t, v) for t, v in self.state.chat_series]
        for index, old in enumerate(self.old_pods):
            pods.append((old.name, "kwok-node-%d" % (index % 2), layout.POD_PORTS.stop + index))
        for (name, _node, _port), pod in zip(pods, self.live_pods + self.old_pods, strict=True):
            usage[name] = [(ts, int(v)) for ts, v in hold_resample([(end_ts + t, v) for t, v in pod.points], step)]
            first, last = usage[name][0][0], usage[name][-1][0]
            if not pod.current:  # gone: its series ends here, as the kubelet's staleness marker ends it
                usage[name].append((last + step, float("nan")))
            chat[name] = [(ts, v) for ts, v in hold_resample(chat_points, step) if first <= ts <= last]
        sessions = [(end_ts + t, int(round(v * self.scale))) for t, v in self.state.sessions_series]
        sessions[-1] = (sessions[-1][0], self.spec.sessions)  # what Redis holds now, exactly
        return pods, {"usage": usage, "chat": chat, "chat_step": step, "sessions": hold_resample(sessions, step)}

    def record(self):
        state = self.state
        return {"scenario": "generated", "seed": state.seed, "class": state.cls, "expected": list(state.expected),
                "history_seconds": state.history_seconds, "step_seconds": state.step_seconds,
                "replicas": self.replicas, "limit": "%dMi" % self.limit_mib, "request": "%dMi" % self.request_mib,
                "sessions": self.spec.sessions, "sessions_scale": self.scale, "stopped": sorted(self.stopped),
                "notes": self.notes, "injected": state.injected}


def _turn_overhead(name):
    """Bytes of one seeded turn besides 3 x message_bytes (labctl.seed.sessions' message and response)."""
    spec = dataclasses.replace(scenario_specs.SCENARIOS["healthy"], name=name, sessions=1, turns=(1, 1),
                               message_bytes=100)
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    (_ip, turns, _ttl), = seed.sessions(spec, now)
    return len(seed.turn(*turns[0])) - 300


def ensure_sources(components):
    """The stores, the exporter and the Service running (a fault or a generated state may have stopped them)."""
    for component in components.ordered():
        if component.name in ("redis", "redis-exporter", "ferretdb", "service") and not component.status()["running"]:
            component.up()


def stop_sources(components, stopped):
    for source in sorted(stopped):
        (component,) = [c for c in components.ordered() if c.name == STOPPABLE[source]]
        component.down()


def apply_target(target, persistence="ok"):
    from kubernetes import client  # noqa: PLC0415

    from labctl import components  # noqa: PLC0415 - avoids an import cycle with components

    spec = target.spec
    broken = spec.persistence_broken or persistence == "broken"
    started = time.monotonic()
    now = datetime.datetime.now(datetime.timezone.utc)
    api_client = api()
    core = client.CoreV1Api(api_client)
    ensure_sources(components)
    reset_workload(target.manifest())
    pods = agent_pods(core)
    rows = components.wait_for_pod_agents(pods, timeout=90)
    agent_switches(rows, broken)
    usages = target.usages(pods)
    set_memory(core, pods, usages)
    set_container_statuses(core, pods, target.containers(pods, now))
    seed.seed_redis(spec, layout.PORTS["redis"], now=now)
    seed.seed_mongo(spec, layout.PORTS["ferretdb"], now=now, persisting=not broken)
    agent_load(rows, pods, target.held(pods), spec.live_fault)
    nodes = {p.metadata.name: p.spec.node_name
             for p in core.list_namespaced_pod(NAMESPACE, label_selector=SELECTOR).items}
    end_ts = int(now.timestamp()) - 60
    backfill, series = target.history([(pod, nodes[pod], rows[pod]["port"]) for pod in pods], end_ts)
    components.restart_prometheus_with_history(spec, backfill, end_ts, series=series)
    write_logs(pods, target.logs(pods))
    wait_for_usage(client.CustomObjectsApi(api_client), pods, usages)
    stop_sources(components, target.stopped)
    state = dict(target.record(), pods=pods, applied_at=_iso(now), persistence_broken=broken,
                 agents={pod: rows[pod]["url"] for pod in pods},
                 service="http://%s:%d" % (layout.HOST, layout.PORTS["agent"]))
    (layout.LAB_DIR / "scenario.json").write_text(json.dumps(state, indent=2) + "\n")
    print("lab: %s applied in %.1fs (%s%s): pods %s" % (
        target.name if target.kind == "generated" else "scenario " + target.name, time.monotonic() - started,
        target.summary, "; persistence broken" if broken else "", ", ".join(pods)))
    for note in target.notes:
        print("lab: note: %s" % note)
    if target.stopped:
        print("lab: stopped %s (the next `lab scenario` or `lab generated` starts them again)"
              % ", ".join(sorted(target.stopped)))
    return 0


def apply(name, persistence="ok"):
    """`lab scenario NAME`."""
    return apply_target(ScenarioTarget(scenario_specs.get(name)), persistence)


def apply_generated(seed_value, cls):
    """`lab generated SEED CLASS`: labctl.generator.generate(SEED, CLASS) applied to the live lab."""
    from labctl import generator  # noqa: PLC0415

    if cls not in generator.CLASSES:
        raise procs.LabError("unknown class %r; choose one of: %s" % (cls, ", ".join(generator.CLASSES)))
    return apply_target(GeneratedTarget(generator.generate(seed_value, cls)))

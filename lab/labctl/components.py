"""The lab's parts in start order. Each has up() (idempotent), down() (by PID) and status()."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from labctl import flux, layout, procs, redis_exporter, services

K8S_CLUSTER = layout.LAB_SRC / "k8s" / "cluster"
KWOK_NODES = ("kwok-node-0", "kwok-node-1")
KWOK_PORT = 10253

PROMETHEUS_CONFIG = """\
# Written by `lab up`; the lab's Prometheus.
global:
  scrape_interval: 15s
  evaluation_interval: 15s
scrape_configs:
  # The (kwok-emulated) kubelet's /metrics/resource of each node: container_memory_working_set_bytes
  # with namespace/pod/container labels, as in a real cluster.
  - job_name: kubelet-resource
    honor_labels: true
    static_configs:
{kubelet_targets}
  # One target per agent-bruno pod (its own process and port), labels namespace/pod/container/service, as a
  # ServiceMonitor gives them; labctl.podsup rewrites the file as pods come and go.
  - job_name: agent-bruno
    file_sd_configs:
      - files: ["{targets}"]
        refresh_interval: 5s
  # The lab's redis_exporter stand-in (labctl.redis_exporter): redis_db_keys{{db}}, the session count over time.
  # job and instance are the labels the scenarios' backfill gives that history (labctl.seed), so they are one series.
  - job_name: redis
    static_configs:
      - targets: ["{redis_exporter}"]
"""


def prometheus_config():
    targets = "".join(
        f'      - targets: ["{layout.HOST}:{KWOK_PORT}"]\n'
        f"        labels: {{__metrics_path__: /metrics/nodes/{node}/metrics/resource, node: {node}}}\n"
        for node in KWOK_NODES)
    return PROMETHEUS_CONFIG.format(targets=layout.PROMETHEUS_AGENT_TARGETS, kubelet_targets=targets,
                                    redis_exporter=redis_exporter.instance())


class Server:
    """A data server from labctl.services on its fixed lab port."""

    def __init__(self, name, factory):
        self.name = name
        self.factory = factory

    def up(self):
        self.factory().start()

    def down(self):
        return self.factory().stop()

    def status(self):
        server = self.factory()
        pid = server.proc.pid()
        return {"name": self.name, "running": bool(pid), "pid": pid,
                "detail": "%s:%d pid %s" % (layout.HOST, server.port, pid) if pid else ""}


def _prometheus():
    return services.Prometheus(layout.RUN_DIR, layout.PORTS["prometheus"], prometheus_config())


def restart_prometheus_with_history(spec, pods, end_ts, series=None):
    """Stop Prometheus, replace its TSDB with the scenario's history of `pods` ([(name, node, agent port)]) or the
    given `series` (labctl.seed.openmetrics), start it."""
    from labctl import seed  # noqa: PLC0415 - needs the venv's libraries

    prometheus = _prometheus()
    prometheus.stop()
    data = prometheus.dir / "data"
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    seed.backfill_prometheus(spec, pods, data, end_ts, host=layout.HOST,
                             kubelet_instance="%s:%d" % (layout.HOST, KWOK_PORT),
                             redis_instance=redis_exporter.instance(), series=series)
    prometheus.start()


class Kubernetes:
    """lab/k8s/cluster: apiserver, etcd, controller-manager, scheduler, kwok, metrics-server."""

    name = "kubernetes"

    def _run(self, command, timeout):
        out = subprocess.run([str(K8S_CLUSTER), command], capture_output=True, text=True, timeout=timeout,
                             check=False)
        return out.returncode, (out.stdout + out.stderr).strip()

    def up(self):
        code, output = self._run("up", timeout=5400)  # a cold first run builds the binaries
        if code != 0:
            raise procs.LabError("kubernetes did not come up:\n%s" % output[-3000:])

    def down(self):
        code, output = self._run("down", timeout=120)
        if code != 0:
            raise procs.LabError(output[-2000:])
        return "stopped" in output

    def status(self):
        code, output = self._run("status", timeout=60)
        return {"name": self.name, "running": code == 0, "detail": " | ".join(output.splitlines())[:300]}


class LabProcess:
    """A long-running lab process of ours (python -m MODULE) with a health check."""

    def __init__(self, name, pidname, module, *, args=(), port=None, health=None, env=None):
        self.name = name
        self.pidname = pidname
        self.module = module
        self.args = list(args)
        self.port = port
        self.health = health
        self.env = env or {}

    def proc(self):
        return procs.Proc(layout.RUN_DIR, self.pidname)

    def up(self):
        env = dict(os.environ, PYTHONPATH=str(layout.LAB_SRC), PYTHONUNBUFFERED="1", **self.env)
        proc = self.proc()
        proc.start([sys.executable, "-m", self.module, *self.args], env=env, cwd=str(layout.REPO))
        if self.health:
            procs.wait_until(self.health, 30, "%s (%s)" % (self.name, self.module), proc)

    def down(self):
        return self.proc().stop()

    def status(self):
        pid = self.proc().pid()
        where = "%s:%d " % (layout.HOST, self.port) if self.port else ""
        return {"name": self.name, "running": bool(pid), "pid": pid,
                "detail": "%spid %s" % (where, pid) if pid else ""}


def ollama():
    """The Ollama API stand-in (lab/agent_bruno/ollama_stub.py) that the Deployment's OLLAMA_URL points at."""
    port = layout.PORTS["ollama"]
    return LabProcess("ollama", "ollama-stub", "agent_bruno.ollama_stub", port=port,
                      health=lambda: procs.tcp_open(layout.HOST, port),
                      env={"PORT": str(port), "LISTEN_ADDR": layout.HOST})


class Pods(LabProcess):
    """labctl.podsup: one agent-bruno process per pod, with the pod's env (see its docstring)."""

    def __init__(self):
        super().__init__("agent-pods", "agent-pods", "labctl.podsup")

    def up(self):
        for path in (layout.PODS_DIR, layout.PROMETHEUS_AGENT_TARGETS.parent):
            path.mkdir(parents=True, exist_ok=True)
        if not layout.PROMETHEUS_AGENT_TARGETS.exists():
            layout.PROMETHEUS_AGENT_TARGETS.write_text("[]\n")
        super().up()

    def down(self):
        stopped = super().down()  # it stops its agents on SIGTERM
        for pid_file in sorted(layout.PODS_DIR.glob("*.pid")):  # and whatever a killed supervisor left
            stopped = procs.Proc(layout.PODS_DIR, pid_file.stem).stop() or stopped
        return stopped

    def status(self):
        row = super().status()
        pods = pod_rows()
        ready = sum(1 for r in pods.values() if r.get("ready"))
        row["pods"] = pods
        row["detail"] = (row["detail"] + "; " if row["detail"] else "") + "%d agent process(es), %d ready: %s" % (
            len(pods), ready, ", ".join("%s :%s pid %s%s" % (n, r.get("port"), r.get("pid"),
                                                             "" if r.get("ready") else " (not ready)")
                                        for n, r in sorted(pods.items())))
        row["running"] = row["running"] and all(r.get("pid") for r in pods.values())
        return row


def pod_rows():
    """{pod: {port, pid, ready, url, ...}} of the agent processes, as labctl.podsup last wrote them."""
    try:
        return json.loads(layout.PODS_FILE.read_text()).get("pods", {})
    except (OSError, ValueError):
        return {}


def wait_for_pod_agents(pods, timeout=60):
    """Until every pod in `pods` has a Ready agent process; returns {pod: row}."""

    def ready():
        rows = pod_rows()
        if all(rows.get(p, {}).get("ready") and rows[p].get("pid") for p in pods):
            return {p: rows[p] for p in pods}
        return None

    return procs.wait_until(ready, timeout, "an agent process per pod (%s)" % ", ".join(pods), interval=0.5)


def exporter():
    """labctl.redis_exporter: the lab Redis's redis_db_keys for Prometheus (the real redis_exporter's metric)."""
    port = redis_exporter.PORT
    return LabProcess("redis-exporter", "redis-exporter", "labctl.redis_exporter", args=[str(port)], port=port,
                      health=lambda: procs.tcp_open(layout.HOST, port),
                      env={"REDIS_PORT": str(layout.PORTS["redis"])})


def service():
    port = layout.PORTS["agent"]
    return LabProcess("service", "agent-bruno-service", "labctl.svcproxy", args=[str(port)], port=port,
                      health=lambda: procs.tcp_open(layout.HOST, port))


FLUX_KUSTOMIZATION = "agent-bruno"  # flux-system/agent-bruno, with LAB_GITOPS=1
FLUX_INTERVAL = "10m"


class Workload:
    """agent-bruno's Kubernetes objects (lab/manifests), applied (by kubectl, or with LAB_GITOPS=1 by Flux) and
    rolled out."""

    name = "workload"
    manifest = layout.LAB_SRC / "manifests" / "agent-bruno.yaml"

    def _kubectl(self, *args, timeout=180):
        out = subprocess.run([str(K8S_CLUSTER), "kubectl", *args], capture_output=True, text=True,
                             timeout=timeout, check=False)
        return out.returncode, (out.stdout + out.stderr).strip()

    def up(self):
        if flux.wanted():
            # LAB_GITOPS=1: agent-bruno as the homelab deploys it, a Flux Kustomization of its manifests (the
            # kustomize labels and field manager on every object), not kubectl
            flux.sync(self.manifest.parent, FLUX_KUSTOMIZATION, interval=FLUX_INTERVAL)
        else:
            code, output = self._kubectl("apply", "-f", str(self.manifest))
            if code != 0:
                raise procs.LabError("kubectl apply: %s" % output[-1500:])
        settle_replicas(self._kubectl)
        pods = rollout(self._kubectl)
        wait_for_pod_agents(pods, timeout=90)

    def down(self):
        return False  # its objects live in etcd, which `kubernetes` stops

    def status(self):
        code, output = self._kubectl("-n", "bruno", "get", "deployment", "agent-bruno", "-o",
                                     "jsonpath={.status.readyReplicas}/{.spec.replicas}", timeout=30)
        ready = code == 0 and output.split("/")[0] == output.split("/")[-1] and output.split("/")[0] != ""
        return {"name": self.name, "running": ready, "detail": "ready %s" % output if code == 0 else output[:200]}


def settle_replicas(kubectl):
    """Scale agent-bruno to the HPA's maxReplicas when it runs another count: where the HPA settles anyway (the
    pods' memory is above 80% of the 256Mi request in every scenario), without waiting a minute for it to get
    there, and before a scenario picks its pods. The manifest has no spec.replicas (the HPA owns the count)."""
    code, output = kubectl("-n", "bruno", "get", "hpa", "agent-bruno-hpa", "-o", "jsonpath={.spec.maxReplicas}")
    want = output.strip() if code == 0 else ""
    code, have = kubectl("-n", "bruno", "get", "deployment", "agent-bruno", "-o", "jsonpath={.spec.replicas}")
    if want.isdigit() and code == 0 and have.strip() != want:
        code, output = kubectl("-n", "bruno", "scale", "deployment/agent-bruno", "--replicas=" + want)
        if code != 0:
            raise procs.LabError("kubectl scale: %s" % output[-1500:])


def rollout(kubectl, timeout=120):
    """Wait for the rollout; returns the names of the Deployment's live pods once only the new ones are left."""
    code, output = kubectl("-n", "bruno", "rollout", "status", "deployment/agent-bruno", "--timeout=%ds" % timeout)
    if code != 0:
        raise procs.LabError("kubectl rollout status: %s" % output[-1500:])

    def settled():
        code, out = kubectl("-n", "bruno", "get", "deployment,pods", "-l", "app=agent-bruno", "-o", "json")
        if code != 0:
            return None
        items = json.loads(out)["items"]
        (deployment,) = [i for i in items if i["kind"] == "Deployment"] or [None]
        pods = [i for i in items if i["kind"] == "Pod" and not i["metadata"].get("deletionTimestamp")]
        if deployment is None or len(pods) != deployment["spec"].get("replicas"):
            return None
        return sorted(p["metadata"]["name"] for p in pods)

    return procs.wait_until(settled, 60, "agent-bruno's old pods to go", interval=0.5)


def ordered():
    return [
        Kubernetes(),
        *([flux.Flux()] if flux.wanted() else []),  # LAB_GITOPS=1: Flux kustomize-controller (lab/flux)
        Server("redis", lambda: services.Redis(layout.RUN_DIR, layout.PORTS["redis"])),
        exporter(),
        Server("ferretdb", lambda: services.FerretDB(layout.RUN_DIR, layout.PORTS["ferretdb"])),
        ollama(),
        Server("prometheus", _prometheus),
        Pods(),
        service(),
        Workload(),
    ]

"""The lab's parts in start order. Each has up() (idempotent), down() (by PID) and status()."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from labctl import layout, procs, services

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
  - job_name: agent-bruno
    static_configs:
      - targets: ["{host}:{agent}"]
        labels:
          namespace: bruno
          service: agent-bruno-service
"""


def prometheus_config():
    targets = "".join(
        f'      - targets: ["{layout.HOST}:{KWOK_PORT}"]\n'
        f"        labels: {{__metrics_path__: /metrics/nodes/{node}/metrics/resource, node: {node}}}\n"
        for node in KWOK_NODES)
    return PROMETHEUS_CONFIG.format(host=layout.HOST, agent=layout.PORTS["agent"], kubelet_targets=targets)


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


def restart_prometheus_with_history(spec, pods, end_ts):
    """Stop Prometheus, replace its TSDB with the scenario's history of `pods` ([(name, node)]), start it."""
    from labctl import seed  # noqa: PLC0415 - needs the venv's libraries

    prometheus = _prometheus()
    prometheus.stop()
    data = prometheus.dir / "data"
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    seed.backfill_prometheus(spec, pods, data, end_ts, agent_instance="%s:%d" % (layout.HOST, layout.PORTS["agent"]),
                             kubelet_instance="%s:%d" % (layout.HOST, KWOK_PORT))
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


class Agent:
    """agent-bruno as a local process on the lab's agent port (its Deployment's pods run on kwok nodes)."""

    name = "agent"

    def proc(self):
        return procs.Proc(layout.RUN_DIR, "agent-bruno")

    def up(self):
        env = dict(os.environ, PYTHONPATH=str(layout.LAB_SRC), LISTEN_ADDR=layout.HOST,
                   PORT=str(layout.PORTS["agent"]), LAB_MODE="1", POD_NAME="agent-bruno-lab",
                   REDIS_URL="redis://%s:%d/0" % (layout.HOST, layout.PORTS["redis"]),
                   MONGO_URL="mongodb://%s:%d/" % (layout.HOST, layout.PORTS["ferretdb"]),
                   SESSION_TTL="86400", REDIS_POOL_SIZE="20", MONGO_POOL_SIZE="20")
        proc = self.proc()
        proc.start([sys.executable, "-m", "agent_bruno"], env=env, cwd=str(layout.REPO))
        url = "http://%s:%d/healthz" % (layout.HOST, layout.PORTS["agent"])
        procs.wait_until(lambda: procs.http_ok(url), 30, "agent-bruno on :%d" % layout.PORTS["agent"], proc)

    def down(self):
        return self.proc().stop()

    def status(self):
        pid = self.proc().pid()
        return {"name": self.name, "running": bool(pid), "pid": pid,
                "detail": "%s:%d pid %s" % (layout.HOST, layout.PORTS["agent"], pid) if pid else ""}


class Workload:
    """agent-bruno's Kubernetes objects (lab/manifests), applied and rolled out."""

    name = "workload"
    manifest = layout.LAB_SRC / "manifests" / "agent-bruno.yaml"

    def _kubectl(self, *args, timeout=180):
        out = subprocess.run([str(K8S_CLUSTER), "kubectl", *args], capture_output=True, text=True,
                             timeout=timeout, check=False)
        return out.returncode, (out.stdout + out.stderr).strip()

    def up(self):
        for args in (("apply", "-f", str(self.manifest)),
                     ("-n", "bruno", "rollout", "status", "deployment/agent-bruno", "--timeout=120s")):
            code, output = self._kubectl(*args)
            if code != 0:
                raise procs.LabError("kubectl %s: %s" % (" ".join(args), output[-1500:]))

    def down(self):
        return False  # its objects live in etcd, which `kubernetes` stops

    def status(self):
        code, output = self._kubectl("-n", "bruno", "get", "deployment", "agent-bruno", "-o",
                                     "jsonpath={.status.readyReplicas}/{.spec.replicas}", timeout=30)
        ready = code == 0 and output.split("/")[0] == output.split("/")[-1] and output.split("/")[0] != ""
        return {"name": self.name, "running": ready, "detail": "ready %s" % output if code == 0 else output[:200]}


def ordered():
    return [
        Kubernetes(),
        Server("redis", lambda: services.Redis(layout.RUN_DIR, layout.PORTS["redis"])),
        Server("ferretdb", lambda: services.FerretDB(layout.RUN_DIR, layout.PORTS["ferretdb"])),
        Agent(),
        Server("prometheus", _prometheus),
        Workload(),
    ]

"""One agent-bruno process per pod: the lab's stand-in for a kubelet running the container.

`python -m labctl.podsup` (started by `lab up`, stopped by `lab down`, by PID) polls the apiserver (every
second, bounded requests) for the agent-bruno pods and, for each Running pod, runs `python -m agent_bruno` with
the environment a kubelet would give that container: the pod spec's `env` (value, valueFrom fieldRef /
secretKeyRef / configMapKeyRef) and `envFrom`, then the lab's overrides LISTEN_ADDR=127.0.0.1, PORT=<the pod's
own port> and LAB_MODE=1. A pod that terminates or disappears has its process stopped (SIGTERM, then SIGKILL),
so a rollout really replaces the processes. It also

- probes each process as the pod spec says (readinessProbe on /ready, livenessProbe on /health; a failed
  liveness restarts the process, as a kubelet restarts the container);
- copies each process's stdout into the pod's CRI log file, so `kubectl logs` shows what the agent logged;
- writes PODS_FILE (pod -> port, pid, ready), which the Service proxy (labctl.svcproxy) and `lab pods` read,
  and PROMETHEUS_AGENT_TARGETS (file_sd, labels namespace/pod), so each pod's /metrics is its own series;
- gives every process it starts the sticky lab switches of AGENT_LAB_STATE (persistence broken:
  LAB_PERSISTENCE_BROKEN=1) and a loopback source address of its own for its Redis connections
  (LAB_SOURCE_ADDR=127.0.0.<10 + port offset>).

Stdlib only. It exits when its PID file names another process, or after the apiserver has been unreachable
for five minutes; either way it stops its agents first.
"""

from __future__ import annotations

import base64
import datetime
import http.client
import json
import os
import signal
import socket
import ssl
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

from labctl import layout, procs

NAMESPACE = "bruno"
SELECTOR = "app=agent-bruno"
CONTAINER = "agent-bruno"
SERVICE = "agent-bruno-service"
POLL_SECONDS = 1.0
APISERVER_GRACE = 300
AGENT_ARGV = [sys.executable, "-m", "agent_bruno"]


# ------------------------------------------------------------------------------------------------ apiserver


def _ssl_context():
    ctx = ssl.create_default_context(cafile=str(layout.K8S_PKI / "ca.crt"))
    ctx.load_cert_chain(str(layout.K8S_PKI / "admin.crt"), str(layout.K8S_PKI / "admin.key"))
    return ctx


def api_get(path, timeout=10.0):
    """(status, JSON body) of GET path on the lab's apiserver, as cluster admin."""
    conn = http.client.HTTPSConnection(layout.HOST, layout.APISERVER_PORT, timeout=timeout, context=_ssl_context())
    try:
        conn.request("GET", path, headers={"Accept": "application/json"})
        resp = conn.getresponse()
        raw = resp.read()
        try:
            return resp.status, json.loads(raw)
        except ValueError:
            return resp.status, {}
    finally:
        conn.close()


def list_pods():
    query = urllib.parse.urlencode({"labelSelector": SELECTOR})
    status, body = api_get("/api/v1/namespaces/%s/pods?%s" % (NAMESPACE, query))
    if status != 200:
        raise procs.LabError("list pods: HTTP %s" % status)
    return body.get("items", [])


# ------------------------------------------------------------------------------------------------ pod env


def _container(pod):
    for container in pod.get("spec", {}).get("containers", []):
        if container.get("name") == CONTAINER:
            return container
    return None


def resolve_env(pod, container, lookup):
    """The container's env as a kubelet sets it. `lookup(kind, name)` returns a Secret/ConfigMap's decoded data
    (dict) or None. A missing non-optional reference raises LabError (the kubelet's CreateContainerConfigError)."""
    meta, spec = pod["metadata"], pod.get("spec", {})
    fields = {"metadata.name": meta.get("name", ""), "metadata.namespace": meta.get("namespace", ""),
              "metadata.uid": meta.get("uid", ""), "spec.nodeName": spec.get("nodeName", ""),
              "spec.serviceAccountName": spec.get("serviceAccountName", ""),
              "status.podIP": pod.get("status", {}).get("podIP", ""), "status.hostIP": layout.HOST}
    env = {}
    for source in container.get("envFrom") or []:
        kind = "secrets" if "secretRef" in source else "configmaps"
        ref = source.get("secretRef") or source.get("configMapRef") or {}
        data = lookup(kind, ref.get("name", ""))
        if data is None:
            if not ref.get("optional"):
                raise procs.LabError("%s %s not found (envFrom)" % (kind[:-1], ref.get("name")))
            continue
        for key, value in data.items():
            env[source.get("prefix", "") + key] = value
    for item in container.get("env") or []:
        name = item["name"]
        if "valueFrom" not in item:
            env[name] = str(item.get("value", ""))
            continue
        source = item["valueFrom"]
        if "fieldRef" in source:
            env[name] = fields.get(source["fieldRef"].get("fieldPath"), "")
            continue
        ref = source.get("secretKeyRef") or source.get("configMapKeyRef")
        if ref is None:
            continue  # resourceFieldRef: not used by agent-bruno
        kind = "secrets" if "secretKeyRef" in source else "configmaps"
        data = lookup(kind, ref.get("name", ""))
        if data is None or ref.get("key") not in data:
            if ref.get("optional"):
                continue
            raise procs.LabError("%s %s key %s not found (env %s)" % (kind[:-1], ref.get("name"), ref.get("key"),
                                                                      name))
        env[name] = data[ref["key"]]
    return env


def api_lookup(namespace):
    cache = {}

    def lookup(kind, name):
        if (kind, name) not in cache:
            status, body = api_get("/api/v1/namespaces/%s/%s/%s" % (namespace, kind, name))
            if status != 200:
                cache[(kind, name)] = None
            elif kind == "secrets":
                cache[(kind, name)] = {k: base64.b64decode(v).decode(errors="replace")
                                       for k, v in (body.get("data") or {}).items()}
            else:
                cache[(kind, name)] = dict(body.get("data") or {})
        return cache[(kind, name)]

    return lookup


def source_addr(port):
    """The loopback address a pod's agent connects from (LAB_SOURCE_ADDR), one per pod port: Redis CLIENT LIST
    then groups connections by pod, as it groups them by pod IP in a cluster."""
    return "127.0.0.%d" % (10 + port - layout.POD_PORTS.start)


def process_env(pod_env, pod_name, port, sticky=None):
    """What the agent process gets: a bare base (no lab environment leaks in), the pod's env, the lab overrides."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/root"),
           "LANG": "C.UTF-8", "PYTHONPATH": str(layout.LAB_SRC), "PYTHONUNBUFFERED": "1", "HOSTNAME": pod_name}
    env.update(pod_env)
    env.update({"LISTEN_ADDR": layout.HOST, "PORT": str(port), "LAB_MODE": "1", "LAB_SOURCE_ADDR": source_addr(port)})
    env.setdefault("POD_NAME", pod_name)
    if (sticky or {}).get("persistence_broken"):
        env["LAB_PERSISTENCE_BROKEN"] = "1"
    return env


def wanted(pod):
    """A pod whose container would be running: scheduled, Running, not terminating, with the agent container."""
    meta = pod.get("metadata", {})
    return (not meta.get("deletionTimestamp") and pod.get("spec", {}).get("nodeName")
            and pod.get("status", {}).get("phase") == "Running" and _container(pod) is not None)


def probe(container, kind):
    """(path, period, failure threshold) of the container's readinessProbe/livenessProbe (httpGet only)."""
    spec = container.get(kind) or {}
    path = (spec.get("httpGet") or {}).get("path")
    return path, max(int(spec.get("periodSeconds", 10)), 1), max(int(spec.get("failureThreshold", 3)), 1)


# ------------------------------------------------------------------------------------------------ files


def write_json(path, value):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def read_json(path, default):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return default


def file_sd(pods):
    return [{"targets": ["%s:%d" % (layout.HOST, row["port"])],
             "labels": {"namespace": NAMESPACE, "pod": name, "container": CONTAINER, "service": SERVICE}}
            for name, row in sorted(pods.items())]


def cri_lines(chunk):
    """Complete lines of `chunk` (bytes) as CRI log lines, and the unconsumed tail."""
    *lines, rest = chunk.split(b"\n")
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ").encode()
    return b"".join(stamp + b" stdout F " + line.rstrip(b"\r") + b"\n" for line in lines), rest


def free_pod_port(taken):
    for port in layout.POD_PORTS:
        if port in taken:
            continue
        with socket.socket() as sock:
            try:
                sock.bind((layout.HOST, port))
            except OSError:
                continue
        return port
    raise procs.LabError("no free port left in %s-%s" % (layout.POD_PORTS.start, layout.POD_PORTS.stop - 1))


def http_json(method, url, body=None, timeout=3.0):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method,  # noqa: S310 - loopback pod ports only
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        return response.status, json.loads(response.read() or b"{}")


# ------------------------------------------------------------------------------------------------ supervisor


class Agent:
    """The process of one pod."""

    def __init__(self, pod, row=None):
        meta = pod["metadata"]
        self.name = meta["name"]
        self.uid = meta.get("uid", "")
        self.node = pod.get("spec", {}).get("nodeName", "")
        self.container = _container(pod)
        self.proc = procs.Proc(layout.PODS_DIR, self.name)
        row = row or {}
        self.port = row.get("port")
        self.restarts = row.get("restarts", 0)
        self.ready = False
        self.offset = row.get("log_offset")
        self.tail = b""
        self.next_ready = self.next_live = 0.0
        self.live_failures = 0
        self.was_ready = False
        self.started_at = row.get("started_at")
        self.retry_at = 0.0
        self.error = None

    def start(self, env):
        self.proc.log_file.parent.mkdir(parents=True, exist_ok=True)
        if self.offset is None:
            self.offset = self.proc.log_file.stat().st_size if self.proc.log_file.exists() else 0
        self.proc.start(AGENT_ARGV, env=env, cwd=str(layout.REPO))
        self.started_at = time.time()
        self.ready = self.was_ready = False
        self.live_failures = 0
        self.next_ready = self.next_live = time.monotonic() + 0.5

    def url(self, path):
        return "http://%s:%d%s" % (layout.HOST, self.port, path)

    def copy_logs(self):
        """New output of the process -> the pod's CRI log file (kubectl logs)."""
        try:
            with open(self.proc.log_file, "rb") as src:
                src.seek(self.offset or 0)
                chunk = src.read(1 << 20)
        except OSError:
            return
        if not chunk:
            return
        self.offset = (self.offset or 0) + len(chunk)
        text, self.tail = cri_lines(self.tail + chunk)
        if text:
            target = layout.POD_LOGS / NAMESPACE / ("%s.log" % self.name)
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "ab") as out:
                out.write(text)

    def check(self, now):
        """Readiness and liveness probes at the pod spec's periods; True if the process must be restarted."""
        path, period, _threshold = probe(self.container, "readinessProbe")
        if now >= self.next_ready:
            try:
                status, _body = http_json("GET", self.url(path or "/ready"), timeout=2.0)
                self.ready = status == 200
            except (OSError, ValueError, http.client.HTTPException):
                self.ready = False
            self.was_ready = self.was_ready or self.ready
            # Until it first answers, probe every half second (a kubelet would wait initialDelaySeconds: 20).
            self.next_ready = now + (period if self.was_ready else 0.5)
        path, period, threshold = probe(self.container, "livenessProbe")
        if path and now >= self.next_live and self.started_at and time.time() - self.started_at > 5:
            self.next_live = now + period
            try:
                status, _body = http_json("GET", self.url(path), timeout=2.0)
                self.live_failures = 0 if status == 200 else self.live_failures + 1
            except (OSError, ValueError, http.client.HTTPException):
                self.live_failures += 1
            if self.live_failures >= threshold:
                return True
        return False

    def row(self):
        return {"uid": self.uid, "node": self.node, "port": self.port, "pid": self.proc.pid(), "ready": self.ready,
                "restarts": self.restarts, "log_offset": self.offset,
                "started_at": self.started_at, "url": "http://%s:%d" % (layout.HOST, self.port),
                "log": str(self.proc.log_file), "error": self.error}


class Supervisor:
    def __init__(self):
        self.agents = {}  # pod name -> Agent
        self.written = None
        saved = read_json(layout.PODS_FILE, {}).get("pods", {})
        self.saved = saved  # rows of a previous supervisor: adopt their processes

    def stop_agent(self, name):
        agent = self.agents.pop(name)
        agent.copy_logs()
        agent.proc.stop(timeout=10.0)
        print("podsup: %s: stopped (pod gone)" % name, flush=True)

    def sync(self, pods):
        now = time.monotonic()
        sticky = read_json(layout.AGENT_LAB_STATE, {})
        live = {p["metadata"]["name"]: p for p in pods if wanted(p)}
        for name in list(self.agents):
            if name not in live or live[name]["metadata"].get("uid") != self.agents[name].uid:
                self.stop_agent(name)
        lookup = api_lookup(NAMESPACE)
        for name, pod in sorted(live.items()):
            agent = self.agents.get(name)
            if agent is None:
                row = self.saved.pop(name, None)
                if row and row.get("uid") != pod["metadata"].get("uid"):
                    row = None
                agent = self.agents[name] = Agent(pod, row)
            self.tend(agent, pod, now, sticky, lookup)
        for name in list(self.saved):  # processes of pods that went while no supervisor ran
            procs.Proc(layout.PODS_DIR, name).stop(timeout=10.0)
            self.saved.pop(name)
        self.write()

    def tend(self, agent, pod, now, sticky, lookup):
        """Start the pod's process if it is not running (a restart after a backoff), else copy logs and probe."""
        agent.proc.reap()
        if agent.proc.pid() is not None:
            agent.copy_logs()
            if agent.check(now):
                print("podsup: %s: liveness failed; restarting" % agent.name, flush=True)
                agent.proc.stop(timeout=10.0)
                agent.ready = False
            return
        agent.ready = False
        if now < agent.retry_at:
            return
        if agent.started_at is not None:
            agent.copy_logs()
            agent.restarts += 1
            print("podsup: %s: process exited; restarting\n%s" % (agent.name, agent.proc.log_tail(5)), flush=True)
        agent.retry_at = now + min(5.0 * (agent.restarts + 1), 30.0)
        try:
            if agent.port is None:
                agent.port = free_pod_port({a.port for a in self.agents.values() if a.port})
            agent.start(process_env(resolve_env(pod, agent.container, lookup), agent.name, agent.port, sticky))
            agent.error = None
            print("podsup: %s: started pid %s on :%d" % (agent.name, agent.proc.pid(), agent.port), flush=True)
        except (procs.LabError, OSError, http.client.HTTPException) as exc:
            agent.error = str(exc)
            print("podsup: %s: cannot start: %s" % (agent.name, exc), flush=True)

    def write(self):
        rows = {name: agent.row() for name, agent in self.agents.items() if agent.port}
        state = {"namespace": NAMESPACE, "pods": rows}
        if state != self.written:
            write_json(layout.PODS_FILE, state)
            write_json(layout.PROMETHEUS_AGENT_TARGETS,
                       file_sd({n: r for n, r in rows.items() if r["pid"]}))
            self.written = state

    def stop_all(self):
        for name in list(self.agents):
            self.stop_agent(name)
        self.write()


def main():
    me = os.getpid()
    born = time.monotonic()
    mine = procs.Proc(layout.RUN_DIR, "agent-pods")
    supervisor = Supervisor()
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_args: stopping.append(True))
    signal.signal(signal.SIGINT, lambda *_args: stopping.append(True))
    last_ok = time.monotonic()
    while not stopping:
        pid = mine.pid()
        if pid != me and not (pid is None and time.monotonic() - born < 10):
            print("podsup: PID file names another process; exiting", flush=True)
            break
        try:
            supervisor.sync(list_pods())
            last_ok = time.monotonic()
        except (OSError, ssl.SSLError, http.client.HTTPException, procs.LabError, ValueError, KeyError) as exc:
            print("podsup: %s" % exc, flush=True)
            if time.monotonic() - last_ok > APISERVER_GRACE:
                print("podsup: apiserver unreachable for %ds; exiting" % APISERVER_GRACE, flush=True)
                break
        time.sleep(POLL_SECONDS)
    supervisor.stop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())

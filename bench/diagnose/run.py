"""Diagnosis at scale: playbooks/diagnose.yml (its Kubernetes part) against the runbook's kubectl reads, in one run.

    .venv/bin/python bench/diagnose/run.py --sizes 10 100 1000 --rounds 3

Needs the lab's Kubernetes running (`make lab-up`). For each size N it creates namespace bench-N with a
Deployment of N agent-like pods on extra kwok fake nodes (bench-node-K, made for the run), writes 200 log lines
into every pod's log, waits until every pod is Running, has its Logs object and shows in `kubectl top`, then
alternates, round after round:

  diagnose   ansible-playbook playbooks/diagnose.yml, Kubernetes only (pods + metrics + events + logs; no probe)
  runbook    the same reads by hand, as the runbook does them: kubectl top, describe, get -o jsonpath
             (lastState), get events --sort-by, logs -l --tail=200
  info       one task, bruno.ops.pod_memory_info, through ansible-playbook
  lists      kubectl top + get pods -o json + get events -o json (the three reads pod_memory_info makes)

and prints the medians, the ratios module/kubectl, the modules' api_requests and peak RSS as a Markdown table.
Everything it creates (namespaces bench-N, nodes bench-node-K, the pods' log and exec directories) is deleted
at the end, also on failure or Ctrl-C. Every wait is bounded. No assertion on time: the figures go to
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAB_DIR = Path(os.environ.get("BRUNO_LAB_DIR") or ROOT / ".lab")
KUBECONFIG = LAB_DIR / "kubeconfig" / "admin.yaml"
POD_LOGS = LAB_DIR / "k8s" / "pod-logs"
POD_EXEC = LAB_DIR / "k8s" / "pod-exec"
KUBECTL_VERSION = "v1.34.4"
SELECTOR = "app=bench-agent"
CONTAINER = "agent-bruno"
LOG_LINES = 200          # the runbook's --tail=200: both sides read every line of every pod's log
PODS_PER_NODE = 110      # the kubelet's default, as on the lab's own kwok nodes
POOL_LABEL = "bench.bruno.ops/pool"
POOL = "diagnose"
OWNER = "bench-diagnose"


def kubectl_path():
    cache = Path(os.environ.get("BRUNO_CACHE_DIR") or Path.home() / ".cache" / "bruno-ops")
    path = cache / "bin" / ("kubectl-%s" % KUBECTL_VERSION) / "kubectl"
    if not path.is_file():
        raise SystemExit("%s not found: start the lab first (make lab-up)" % path)
    return str(path)


KUBECTL = None


def kubectl(*args, stdin=None, check=True, timeout=600):
    env = dict(os.environ, KUBECONFIG=str(KUBECONFIG))
    done = subprocess.run([KUBECTL, *args], input=stdin, env=env, capture_output=True, text=True, check=False,
                          timeout=timeout)
    if check and done.returncode != 0:
        raise RuntimeError("kubectl %s: %s" % (" ".join(args), done.stderr.strip()[-2000:]))
    return done


def wait(what, predicate, timeout, interval=3.0):
    """Poll predicate() until it returns a true value or timeout seconds pass; the last value is in the error."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last is True:
            return
        time.sleep(interval)
    raise RuntimeError("timed out after %ds waiting for %s (last: %s)" % (timeout, what, last))


# ------------------------------------------------------------------------------------------------- objects


def node(k):
    """A kwok fake node shaped like lab/k8s/manifests/nodes.yaml, plus a pool label and taint of the benchmark.

    The taint keeps everyone else's pods off these nodes, and the benchmark's pods select the pool, so they stay
    off kwok-node-0/1, which other users of the lab share. Capacity: 110 pods, and enough memory for 110 pods of
    256Mi requests.
    """
    name = "bench-node-%d" % k
    capacity = {"cpu": "16", "memory": "32Gi", "pods": str(PODS_PER_NODE), "ephemeral-storage": "50Gi"}
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0",
                            "metrics.k8s.io/resource-metrics-path": "/metrics/nodes/%s/metrics/resource" % name},
            "labels": {"kubernetes.io/arch": "amd64", "kubernetes.io/os": "linux", "kubernetes.io/hostname": name,
                       "node-role.kubernetes.io/agent": "", "type": "kwok", POOL_LABEL: POOL,
                       "app.kubernetes.io/managed-by": OWNER},
        },
        "spec": {"taints": [{"key": "kwok.x-k8s.io/node", "value": "fake", "effect": "NoSchedule"},
                            {"key": POOL_LABEL, "value": POOL, "effect": "NoSchedule"}]},
        "status": {"allocatable": capacity, "capacity": capacity,
                   "nodeInfo": {"architecture": "amd64", "operatingSystem": "linux", "osImage": "bruno lab (kwok)"}},
    }


def deployment(namespace, replicas):
    """agent-bruno's shape (lab/manifests/agent-bruno.yaml): one container, 256Mi request, 1Gi limit, 600Mi used."""
    labels = {"app": "bench-agent"}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "bench-agent", "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels,
                             "annotations": {"lab.bruno.ops/memory-usage.%s" % CONTAINER: "600Mi"}},
                "spec": {
                    "nodeSelector": {"type": "kwok", POOL_LABEL: POOL},
                    "tolerations": [
                        {"key": "kwok.x-k8s.io/node", "operator": "Equal", "value": "fake", "effect": "NoSchedule"},
                        {"key": POOL_LABEL, "operator": "Equal", "value": POOL, "effect": "NoSchedule"}],
                    "terminationGracePeriodSeconds": 30,
                    "containers": [{
                        "name": CONTAINER, "image": "ghcr.io/bruno/agent-bruno:lab",
                        "imagePullPolicy": "IfNotPresent",
                        "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                        "env": [{"name": "SESSION_TTL", "value": "86400"}, {"name": "CONTEXT_WINDOW", "value": "50"}],
                        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"},
                                      "limits": {"cpu": "500m", "memory": "1Gi"}},
                    }],
                },
            },
        },
    }


def log_lines(pod):
    """LOG_LINES CRI-formatted lines (what kwok serves), 1 in 10 mentioning memory or the cache."""
    now = datetime.datetime.now(datetime.timezone.utc)
    out = []
    for i in range(LOG_LINES):
        stamp = (now - datetime.timedelta(seconds=LOG_LINES - i)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        if i % 10 == 9:
            msg = "WARNING memory usage high: rss=%dMi context cache entries=%d pod=%s" % (500 + i, 40 * i, pod)
        else:
            msg = "INFO handled request id=%s-%04d session=bruno:session:%06d tokens=%d status=200" % (
                pod[-5:], i, i * 7919 % 1000000, 100 + i)
        out.append("%s stdout F %s\n" % (stamp, msg))
    return "".join(out)


def pods_of(namespace):
    body = json.loads(kubectl("get", "pods", "-n", namespace, "-l", SELECTOR, "-o", "json").stdout)
    return body["items"]


def prepare(namespace, n):
    """bench-N with N Running pods, each with its Logs object, LOG_LINES log lines and a kubectl top row."""
    kubectl("create", "namespace", namespace)
    kubectl("label", "namespace", namespace, "app.kubernetes.io/managed-by=%s" % OWNER)
    kubectl("create", "-f", "-", stdin=json.dumps(deployment(namespace, n)))
    started = time.monotonic()

    def running():
        phases = [p["status"].get("phase") for p in pods_of(namespace)]
        return True if phases.count("Running") == n and len(phases) == n else "%d/%d Running" % (
            phases.count("Running"), n)

    wait("%d pods Running in %s" % (n, namespace), running, timeout=120 + n)
    print("  %s: %d pods Running after %.0f s" % (namespace, n, time.monotonic() - started), flush=True)

    def logs_objects():
        got = len(kubectl("get", "logs.kwok.x-k8s.io", "-n", namespace, "-o", "name").stdout.split())
        return True if got >= n else "%d/%d Logs objects" % (got, n)

    wait("the lab's pod-sync to give every pod its Logs object", logs_objects, timeout=120 + n)
    for pod in pods_of(namespace):
        name = pod["metadata"]["name"]
        path = POD_LOGS / namespace / ("%s.log" % name)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as out:
            out.write(log_lines(name))

    def in_top():
        done = kubectl("top", "pods", "-n", namespace, "-l", SELECTOR, "--no-headers", check=False)
        rows = [line for line in done.stdout.splitlines() if line.strip()]
        return True if len(rows) == n else "%d/%d pods in kubectl top" % (len(rows), n)

    wait("metrics-server to report every pod", in_top, timeout=180 + n // 5, interval=5)
    print("  %s: ready to measure after %.0f s" % (namespace, time.monotonic() - started), flush=True)


# ---------------------------------------------------------------------------------------------------- runs


def timed(fn):
    started = time.monotonic()
    value = fn()
    return time.monotonic() - started, value


def run_playbook(playbook, extra, work, label):
    """ansible-playbook with the timing/RSS interpreter; returns (wall seconds, the module records)."""
    records = work / ("modules-%s.jsonl" % label)
    records.unlink(missing_ok=True)
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), BENCH_MODULE_FILE=str(records),
               BENCH_REAL_PYTHON=sys.executable, ANSIBLE_NOCOLOR="1")
    extra = dict(extra, ansible_python_interpreter=str(work / "modwrap.py"))
    cmd = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(ROOT / "inventory" / "lab"),
           str(playbook), "-e", json.dumps(extra)]
    elapsed, done = timed(lambda: subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                                                 check=False, timeout=1800))
    if done.returncode != 0:
        raise RuntimeError("%s failed:\n%s" % (label, (done.stdout + done.stderr)[-4000:]))
    mods = {}
    for line in records.read_text().splitlines():
        rec = json.loads(line)
        mods[rec["module"]] = rec
    return elapsed, mods


def diagnose(namespace, work):
    """The Kubernetes part of playbooks/diagnose.yml: every other source null, the in-pod probe off."""
    report_dir = work / ("reports-%s" % namespace)
    extra = {"diagnose_namespace": namespace, "diagnose_selector": SELECTOR, "diagnose_container": CONTAINER,
             "diagnose_redis": None, "diagnose_mongodb": None, "diagnose_prometheus": None,
             "diagnose_agent": None, "diagnose_probe": False, "diagnose_report_dir": str(report_dir)}
    elapsed, mods = run_playbook(ROOT / "playbooks" / "diagnose.yml", extra, work, "diagnose")
    report = json.loads((report_dir / "diagnosis.json").read_text())
    return elapsed, mods, report


def pod_memory_info(namespace, work):
    """One task: bruno.ops.pod_memory_info with the role's arguments."""
    playbook = work / "pod_memory_info.yml"
    if not playbook.exists():
        playbook.write_text(json.dumps([{
            "name": "pod_memory_info alone", "hosts": "localhost", "gather_facts": False,
            "tasks": [{"name": "Gather", "bruno.ops.pod_memory_info": {
                "kubernetes": "{{ bruno_kubernetes }}", "namespace": "{{ bench_namespace }}",
                "label_selector": SELECTOR, "container": CONTAINER, "events_window": "6h"}}],
        }]))
    return run_playbook(playbook, {"bench_namespace": namespace}, work, "info")


def runbook(namespace, verbose=False):
    """The runbook's steps 1, 2 and 4, by hand with kubectl, one after the other. Returns per-command seconds.

    verbose (the untimed first pass only): describe and logs at -v=3, so client-go's "Waited for ... due to
    client-side throttling" lines show, and logs with --prefix, so the pods it read can be counted.
    """
    cmds = {
        "top": ["top", "pods", "-n", namespace, "-l", SELECTOR],
        "describe": ["describe", "pod", "-n", namespace, "-l", SELECTOR],
        "lastState": ["get", "pods", "-n", namespace, "-l", SELECTOR, "-o",
                      "jsonpath={.items[*].status.containerStatuses[*].lastState.terminated.reason}"],
        "events": ["get", "events", "-n", namespace, "--sort-by=.lastTimestamp"],
        "logs": ["logs", "-n", namespace, "-l", SELECTOR, "--tail=%d" % LOG_LINES],
    }
    if verbose:
        cmds["describe"].append("-v=3")
        cmds["logs"] += ["-v=3", "--prefix"]
    return _kubectl_set(cmds)


def lists(namespace):
    """The three reads pod_memory_info makes, with kubectl: metrics, pods and pod events as lists."""
    cmds = {
        "top": ["top", "pods", "-n", namespace, "-l", SELECTOR],
        "pods": ["get", "pods", "-n", namespace, "-l", SELECTOR, "-o", "json"],
        "events": ["get", "events", "-n", namespace, "--field-selector", "involvedObject.kind=Pod", "-o", "json"],
    }
    return _kubectl_set(cmds)


def _kubectl_set(cmds):
    times, runs = {}, {}
    for name, args in cmds.items():
        times[name], runs[name] = timed(lambda args=args: kubectl(*args))
    return sum(times.values()), times, runs


# client-go 1.34 logs at -v=3: "Waited before sending request" delay="192.4ms" reason="client-side throttling, ..."
# (older: "Waited for 192.4ms due to client-side throttling, ...")
THROTTLED = re.compile(r'(?:delay="|Waited for )([0-9.]+)(ms|s|µs)"?(?: due to |\s+reason=")client-side throttling')


def throttling(stderr):
    """(requests client-go delayed, total seconds waited) from kubectl -v=3 output."""
    waits = [float(v) / {"s": 1, "ms": 1e3, "µs": 1e6}[unit] for v, unit in THROTTLED.findall(stderr)]
    return len(waits), sum(waits)


# ---------------------------------------------------------------------------------------------------- main


def _deleted(kind, name):
    """Ask for the deletion again (the apiserver may have been away) and say whether the object is gone."""
    kubectl("delete", kind, name, "--ignore-not-found", "--wait=false", check=False, timeout=60)
    done = kubectl("get", kind, name, "-o", "name", check=False, timeout=60)
    if done.returncode == 0:
        return "still there"
    return True if "NotFound" in done.stderr else "apiserver: %s" % done.stderr.strip()[-300:]


def cleanup(namespaces, nodes, budget=300):
    """Delete what this run made, whatever state it is in: namespaces first (their pods go with them), then the
    nodes. Each deletion is asked again until the object is gone, so a lab restart in between does not leave it
    behind; budget seconds in all (a few seconds per object once it is spent, e.g. with the apiserver down).
    What is still there is reported with the command that deletes it, never raised."""
    deadline = time.monotonic() + budget
    for kind, names in (("namespace", namespaces), ("node", nodes)):
        for name in names:
            try:
                wait("%s %s to go" % (kind, name), lambda kind=kind, name=name: _deleted(kind, name),
                     timeout=max(5, deadline - time.monotonic()), interval=3)
            except RuntimeError as exc:
                print("cleanup: %s; delete it by hand: kubectl delete %s %s" % (exc, kind, name),
                      file=sys.stderr, flush=True)
            if kind == "namespace":
                for base in (POD_LOGS, POD_EXEC):
                    shutil.rmtree(base / name, ignore_errors=True)


def _terminate(signum, _frame):
    raise KeyboardInterrupt("signal %d" % signum)


def measure_size(n, rounds, work, rows):
    namespace = "bench-%d" % n
    prepare(namespace, n)
    # one untimed pass of each, to warm kubectl's discovery cache and the apiserver's, and to check what both read
    _seconds, _parts, runs = runbook(namespace, verbose=True)
    log_out = runs["logs"].stdout.splitlines()
    check = {"log_lines": len(log_out),
             "log_pods": len({line.split("/")[1] for line in log_out if line.startswith("[pod/")}),
             "logs_throttled": throttling(runs["logs"].stderr),
             "describe_throttled": throttling(runs["describe"].stderr),
             "pod_events": len(json.loads(lists(namespace)[2]["events"].stdout)["items"])}
    print("  n=%d first pass (untimed): kubectl logs read %d lines of %d pods; client-side throttling delayed "
          "%d log requests by %.1f s in all, %d describe requests by %.1f s; %d pod events"
          % (n, check["log_lines"], check["log_pods"], *check["logs_throttled"], *check["describe_throttled"],
             check["pod_events"]), flush=True)
    _seconds, mods, report = diagnose(namespace, work)
    fig = {k: [] for k in ("diag", "rb", "info", "lists", "pmi_in", "pls_in", "pmi_in_alone")}
    rb_parts = {}
    peaks = {"pod_memory_info": [], "pod_log_scan": []}
    api = set()
    for r in range(rounds):
        order = ["module", "kubectl"] if r % 2 == 0 else ["kubectl", "module"]
        for side in order:
            if side == "module":
                diag_s, mods, report = diagnose(namespace, work)
                info_s, info_mods = pod_memory_info(namespace, work)
                pmi, pls = mods["pod_memory_info"], mods["pod_log_scan"]
                if pmi["pods"] != n or pls["logs_read"] != n or info_mods["pod_memory_info"]["pods"] != n:
                    raise RuntimeError("the modules did not see every pod: %s %s" % (pmi, pls))
                fig["diag"].append(diag_s)
                fig["info"].append(info_s)
                fig["pmi_in"].append(pmi["elapsed"])
                fig["pls_in"].append(pls["elapsed"])
                fig["pmi_in_alone"].append(info_mods["pod_memory_info"]["elapsed"])
                peaks["pod_memory_info"] += [pmi["peak_kib"], info_mods["pod_memory_info"]["peak_kib"]]
                peaks["pod_log_scan"].append(pls["peak_kib"])
                api.update({pmi["api_requests"], info_mods["pod_memory_info"]["api_requests"]})
                print("  n=%d round %d diagnose.yml %.2fs (pod_memory_info %.2fs, pod_log_scan %.2fs) "
                      "pod_memory_info alone %.2fs (in-module %.2fs) api_requests %s"
                      % (n, r + 1, diag_s, pmi["elapsed"], pls["elapsed"], info_s,
                         info_mods["pod_memory_info"]["elapsed"], pmi["api_requests"]), flush=True)
            else:
                rb_s, parts, _runs = runbook(namespace)
                ls_s, ls_parts, _runs = lists(namespace)
                fig["rb"].append(rb_s)
                fig["lists"].append(ls_s)
                for k, v in parts.items():
                    rb_parts.setdefault(k, []).append(v)
                print("  n=%d round %d runbook kubectl %.2fs (%s) lists kubectl %.2fs (%s)"
                      % (n, r + 1, rb_s, ", ".join("%s %.2f" % kv for kv in parts.items()), ls_s,
                         ", ".join("%s %.2f" % kv for kv in ls_parts.items())), flush=True)
    med = {k: statistics.median(v) for k, v in fig.items()}
    rows.append({
        "n": n, "diag": med["diag"], "rb": med["rb"], "ratio": med["diag"] / med["rb"],
        # what the runbook would take if kubectl did not hold its own requests back (client-go's default
        # 5 requests/s, burst 10): the median less the waits the first pass logged
        "rb_free": med["rb"] - check["logs_throttled"][1] - check["describe_throttled"][1],
        "pmi_in": med["pmi_in"], "pls_in": med["pls_in"],
        "rb_parts": {k: statistics.median(v) for k, v in rb_parts.items()},
        "info": med["info"], "lists": med["lists"], "info_ratio": med["info"] / med["lists"],
        "pmi_in_alone": med["pmi_in_alone"],
        "api": sorted(api), "pmi_peak": max(peaks["pod_memory_info"]) / 1024.0,
        "pls_peak": max(peaks["pod_log_scan"]) / 1024.0,
        "check": check, "module_log_bytes": mods["pod_log_scan"]["log_bytes"],
        "module_logs_read": mods["pod_log_scan"]["logs_read"],
    })
    return namespace


def print_tables(rows, rounds, load):
    print("\nmachine: %s, %d cores, Python %s; load average before/after: %s; medians of %d rounds"
          % (platform.machine(), os.cpu_count(), platform.python_version(), load, rounds))
    print("\n| pods | diagnose.yml (s) | runbook kubectl (s) | ratio | runbook less throttling waits (s) | ratio "
          "| pod_memory_info / pod_log_scan in-module (s) | kubectl top / describe / lastState / events / logs (s) |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for r in rows:
        parts = r["rb_parts"]
        print("| %d | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f / %.2f | %s |" % (
            r["n"], r["diag"], r["rb"], r["ratio"], r["rb_free"], r["diag"] / r["rb_free"], r["pmi_in"],
            r["pls_in"], " / ".join("%.2f" % parts[k] for k in ("top", "describe", "lastState", "events", "logs"))))
    print("\n| pods | pod_memory_info via Ansible (s) | kubectl top + get pods + get events (s) | ratio "
          "| pod_memory_info in-module (s) | api_requests | peak RSS pod_memory_info / pod_log_scan (MiB) |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print("| %d | %.2f | %.2f | %.2f | %.2f | %s | %.1f / %.1f |" % (
            r["n"], r["info"], r["lists"], r["info_ratio"], r["pmi_in_alone"], "–".join(map(str, r["api"])),
            r["pmi_peak"], r["pls_peak"]))
    print("\n| pods | kubectl logs: pods / lines read | throttled log requests (total wait, s) "
          "| throttled describe requests (total wait, s) | pod_log_scan: logs / bytes read | pod events |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        c = r["check"]
        print("| %d | %d / %d | %d (%.1f) | %d (%.1f) | %d / %d | %d |" % (
            r["n"], c["log_pods"], c["log_lines"], *c["logs_throttled"], *c["describe_throttled"],
            r["module_logs_read"], r["module_log_bytes"], c["pod_events"]))


def main():
    global KUBECTL  # noqa: PLW0603 (set once, from the lab's cache)
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    KUBECTL = kubectl_path()
    if kubectl("get", "--raw", "/readyz", check=False).returncode != 0:
        raise SystemExit("the lab's apiserver is not answering: start the lab first (make lab-up)")
    taken = [ns for ns in ("bench-%d" % n for n in args.sizes) if kubectl("get", "ns", ns, check=False).returncode == 0]
    if taken:
        raise SystemExit("namespace(s) %s already exist: delete them or wait for the other run" % ", ".join(taken))
    signal.signal(signal.SIGTERM, _terminate)
    count = math.ceil(sum(args.sizes) / PODS_PER_NODE)
    node_names = ["bench-node-%d" % k for k in range(count)]
    existing = kubectl("get", "nodes", "-o", "name").stdout.split()
    if kubectl("get", "nodes", "-l", POOL_LABEL, "-o", "name").stdout.strip() or any(
            "node/%s" % name in existing for name in node_names):
        raise SystemExit("bench nodes exist already: another run? delete them first")
    namespaces = []
    rows = []
    load = [os.getloadavg()[0]]
    try:
        with tempfile.TemporaryDirectory(prefix="bench-diagnose-") as tmp:
            work = Path(tmp)
            wrapper = work / "modwrap.py"
            wrapper.write_text("#!%s\n%s" % (sys.executable, (Path(__file__).parent / "modwrap.py").read_text()))
            wrapper.chmod(0o755)
            for k in range(count):
                kubectl("create", "-f", "-", stdin=json.dumps(node(k)))

            def ready():
                body = json.loads(kubectl("get", "nodes", "-l", POOL_LABEL, "-o", "json").stdout)
                up = [n for n in body["items"] if any(c["type"] == "Ready" and c["status"] == "True"
                                                      for c in n["status"].get("conditions", []))]
                return True if len(up) == count else "%d/%d nodes Ready" % (len(up), count)

            wait("kwok to take the %d bench nodes (Ready)" % count, ready, timeout=120)
            print("%d kwok nodes Ready (kwok manages them)" % count, flush=True)
            for n in args.sizes:
                namespaces.append("bench-%d" % n)
                measure_size(n, args.rounds, work, rows)
                cleanup([namespaces[-1]], [])
            load.append(os.getloadavg()[0])
    finally:
        cleanup(namespaces, node_names)
    print_tables(rows, args.rounds, " / ".join("%.1f" % x for x in load))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)

"""`lab fleet up N | down | status | inventory N`: many agent-bruno targets in the one lab, cheap (kwok).

`fleet up N` makes namespaces bruno-fleet-01..NN, each holding agent-bruno shaped like lab/manifests/agent-bruno.yaml
(the Secret, the Deployment app=agent-bruno with its container agent-bruno and the 1Gi limit, the Service and
the HPA, derived from that file, not copied), on the kwok nodes with a memory usage of its own (what
metrics.k8s.io reports), and seeds the target's sessions in Redis DB <index> in the app's format
(labctl.seed: `bruno:session:<client-ip>`, a LIST of JSON turns, RPUSH then EXPIRE). The main lab (namespace
`bruno`, Redis DB 0) is untouched. The targets differ a little (replicas, memory, session count: `plan()`), so
a fleet summary has different rows. Idempotent: what is already as planned is left alone (kubectl apply says
"unchanged", a DB already holding the target's sessions is not rewritten).

What a fleet target lacks next to the main one, and why (docs/lab.md, "Fleet"): no agent processes (labctl.podsup
runs them for namespace `bruno` only: 37 MiB each would make 50 targets cost ~2.5 GiB), so its agent source is
the main lab's Service; no Prometheus history (a backfill restarts Prometheus and replaces the main lab's): its
series start at `fleet up`; MongoDB is the shared agent_bruno.conversations.

`fleet inventory N [--out PATH]` writes an Ansible inventory of the main target plus N fleet targets, one host
each, with the backends of inventory/lab/group_vars/all/backends.yml as group vars.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import subprocess
import sys
import time

from labctl import layout, procs

PREFIX = "bruno-fleet-"
FLEET_LABEL = "lab.bruno.ops/fleet"  # on each fleet namespace: what `fleet down` deletes
MANIFEST = layout.LAB_SRC / "manifests" / "agent-bruno.yaml"
BACKENDS = layout.REPO / "inventory" / "lab" / "group_vars" / "all" / "backends.yml"
CLUSTER = layout.LAB_SRC / "k8s" / "cluster"
CONTAINER = "agent-bruno"
MEMORY_ANNOTATION = "lab.bruno.ops/memory-usage." + CONTAINER
# The lab Redis runs with --databases 64 (labctl.services): DB 0 is the main lab's, 1..63 one per fleet target.
REDIS_DATABASES = 64
MAX_TARGETS = REDIS_DATABASES - 1
# Lab-only, smaller than the manifest's 100m/256Mi requests: the two kwok nodes (4 CPU, 8Gi each) hold 64 pods at
# 256Mi, which 50 targets next to the main lab's 3 pods and a generated state's up to 7 would exceed. The limit,
# what the diagnosis compares usage with, stays the manifest's 1Gi.
REQUESTS = {"cpu": "50m", "memory": "128Mi"}
TIMEOUT = 240  # seconds: 50 targets' pods on a busy 2-core machine, then two metrics-server scrapes


@dataclasses.dataclass(frozen=True)
class Target:
    index: int  # also its Redis DB
    replicas: int
    usage_mib: int  # each pod's working set (kwok reports it from the template's annotation)
    sessions: int

    @property
    def namespace(self):
        return "%s%02d" % (PREFIX, self.index)


def plan(index):
    """The index-th fleet target, deterministic, so any three in a row differ: every third runs 2 replicas, memory
    steps 440/610/780/950Mi of the 1Gi limit (the last near it), 40..400 sessions."""
    return Target(index=index, replicas=2 if index % 3 == 2 else 1, usage_mib=(440, 610, 780, 950)[index % 4],
                  sessions=40 + 60 * (index % 7))


def targets(count):
    if not 0 <= count <= MAX_TARGETS:
        raise procs.LabError("fleet size %d: choose 0..%d (Redis DB 0 is the main lab's, one DB per target)"
                             % (count, MAX_TARGETS))
    return [plan(index) for index in range(1, count + 1)]


def kubectl(*args, stdin=None, timeout=180):
    out = subprocess.run([str(CLUSTER), "kubectl", *args], input=stdin, capture_output=True, text=True,
                         timeout=timeout, check=False)
    if out.returncode != 0:
        raise procs.LabError("kubectl %s failed: %s" % (" ".join(args[:3]), (out.stderr or out.stdout).strip()[-1500:]))
    return out.stdout


# ------------------------------------------------------------------------------------------------ objects


def objects(target):
    """The target's Kubernetes objects: the lab manifest's, moved into its namespace, with its replicas (the HPA
    pinned to them, min = max, so it never scales against `spec.replicas`), memory usage and Redis DB."""
    import yaml  # noqa: PLC0415 - the venv's PyYAML

    namespace = {"apiVersion": "v1", "kind": "Namespace",
                 "metadata": {"name": target.namespace, "labels": {FLEET_LABEL: "true"}}}
    docs = [namespace]
    for doc in yaml.safe_load_all(MANIFEST.read_text()):
        if not doc:
            continue
        doc["metadata"]["namespace"] = target.namespace
        kind = doc["kind"]
        if kind == "Secret":
            doc["stringData"]["REDIS_URL"] = "%s/%d" % (doc["stringData"]["REDIS_URL"].rstrip("/"), target.index)
        elif kind == "Deployment":
            doc["spec"]["replicas"] = target.replicas
            template = doc["spec"]["template"]
            template["metadata"]["annotations"][MEMORY_ANNOTATION] = "%dMi" % target.usage_mib
            for container in template["spec"]["containers"]:
                if container["name"] == CONTAINER:
                    container["resources"]["requests"] = dict(REQUESTS)
        elif kind == "HorizontalPodAutoscaler":
            doc["spec"]["minReplicas"] = doc["spec"]["maxReplicas"] = target.replicas
        docs.append(doc)
    return docs


def snapshot():
    """{(kind, namespace, name): what a change would alter} of the fleet's objects. Not kubectl apply's
    "configured": it says so for every Secret with stringData and every Deployment whose quantities the server
    normalises (1000m -> 1) even when nothing changes; not resourceVersion: the HPA's status moves it."""
    namespaces = json.loads(kubectl("get", "namespaces", "-l", FLEET_LABEL, "-o", "json"))["items"]
    owned = json.loads(kubectl("get", "secrets,deployments,services,horizontalpodautoscalers", "-A", "-l",
                               "app=agent-bruno", "-o", "json"))["items"]
    state = {}
    for item in namespaces + [i for i in owned if i["metadata"]["namespace"].startswith(PREFIX)]:
        meta = item["metadata"]
        state[(item["kind"], meta.get("namespace", ""), meta["name"])] = json.dumps(
            [meta.get("labels"), meta.get("annotations"), item.get("spec"), item.get("data")], sort_keys=True)
    return state


def apply(fleet):
    """One `kubectl apply` of every target's objects; returns how many objects it created or changed."""
    if not fleet:
        return 0
    items = [doc for target in fleet for doc in objects(target)]
    before = snapshot()
    kubectl("apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    after = snapshot()
    return sum(1 for key, value in after.items() if before.get(key) != value)


def present():
    """Names of the fleet namespaces that exist (any size, also from an earlier, larger `fleet up`)."""
    out = kubectl("get", "namespaces", "-l", FLEET_LABEL, "-o", "jsonpath={.items[*].metadata.name}")
    return sorted(out.split())


def wait_rolled_out(fleet, timeout=TIMEOUT):
    """Until each target runs exactly its replicas, all Ready and of the current template; returns {ns: [pods]}."""
    wanted = {t.namespace: t.replicas for t in fleet}
    if not wanted:
        return {}

    def settled():
        items = json.loads(kubectl("get", "deployments,pods", "-A", "-l", "app=agent-bruno", "-o", "json"))["items"]
        pods, ready = {}, {}
        for item in items:
            ns = item["metadata"]["namespace"]
            if ns not in wanted:
                continue
            if item["kind"] == "Deployment":
                status = item.get("status", {})
                ready[ns] = (status.get("observedGeneration") == item["metadata"]["generation"]
                             and status.get("updatedReplicas") == wanted[ns]
                             and status.get("readyReplicas") == wanted[ns])
            elif not item["metadata"].get("deletionTimestamp"):
                pods.setdefault(ns, []).append(item["metadata"]["name"])
        if all(ready.get(ns) and len(pods.get(ns, [])) == count for ns, count in wanted.items()):
            return {ns: sorted(pods[ns]) for ns in wanted}
        return None

    return procs.wait_until(settled, timeout, "the fleet's pods to be Ready (%d targets)" % len(fleet), interval=1.0)


def pod_usage():
    """{(namespace, pod): agent-bruno's memory in MiB} as metrics.k8s.io reports it (kubectl top), all namespaces."""
    body = json.loads(kubectl("get", "--raw", "/apis/metrics.k8s.io/v1beta1/pods?labelSelector=app%3Dagent-bruno"))
    usage = {}
    for item in body.get("items", []):
        for container in item.get("containers", []):
            if container["name"] == CONTAINER:
                usage[(item["metadata"]["namespace"], item["metadata"]["name"])] = _mib(container["usage"]["memory"])
    return usage


def _mib(quantity):
    factors = {"Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30}
    for suffix, factor in factors.items():
        if quantity.endswith(suffix):
            return float(quantity[:-2]) * factor / 2 ** 20
    return float(quantity) / 2 ** 20


def wait_for_metrics(fleet, pods, timeout=TIMEOUT):
    """Until metrics.k8s.io reports each fleet pod's planned usage (a new pod needs two scrapes, <= ~30 s)."""
    expected = {(t.namespace, pod): t.usage_mib for t in fleet for pod in pods[t.namespace]}

    def reported():
        usage = pod_usage()
        return all(abs(usage.get(key, -1) - mib) < 1 for key, mib in expected.items())

    procs.wait_until(reported, timeout, "metrics.k8s.io to report the fleet pods' memory", interval=2.0)


# ------------------------------------------------------------------------------------------------ Redis


def redis_client(db):
    import redis  # noqa: PLC0415 - the venv's client

    return redis.Redis(host=layout.HOST, port=layout.PORTS["redis"], db=db, socket_timeout=30)


def check_databases():
    client = redis_client(0)
    try:
        have = int(client.config_get("databases").get("databases", 16))
    finally:
        client.close()
    if have < REDIS_DATABASES:
        raise procs.LabError(
            "the lab Redis has %d databases, the fleet needs %d (one per target): it was started before labctl."
            "services gave it --databases; restart it: lab/lab fault redis-down && lab/lab fault none && "
            "lab/lab scenario healthy" % (have, REDIS_DATABASES))


def spec_for(target):
    """The sessions of a target: the `healthy` scenario's shape, its own count, named after its namespace (the
    turns' text and the random seed, so every target's sessions differ)."""
    from labctl import scenario_specs  # noqa: PLC0415

    return dataclasses.replace(scenario_specs.SCENARIOS["healthy"], name=target.namespace, sessions=target.sessions,
                               turns=(2, 6))


def seeded(client, target):
    """True when the target's DB holds its sessions already: the planned count, of this target (first key's turns
    name its namespace). TTLs run down meanwhile; once some expire the count differs and `up` reseeds."""
    from labctl import seed  # noqa: PLC0415

    if client.dbsize() != target.sessions:
        return False
    first = client.lindex(seed.SESSION_PREFIX + seed.session_ip(0), 0) or b""
    return ('"message": "%s question 0 from session 0: ' % target.namespace) in first.decode(errors="replace")


def seed_sessions(fleet):
    """Each target's sessions in its own DB (flushed first, as a scenario flushes DB 0); returns targets seeded."""
    from labctl import seed  # noqa: PLC0415

    now = datetime.datetime.now(datetime.timezone.utc)
    written = 0
    for target in fleet:
        client = redis_client(target.index)
        try:
            fresh = seeded(client, target)
        finally:
            client.close()
        if not fresh:
            seed.seed_redis(spec_for(target), layout.PORTS["redis"], db=target.index, now=now)
            written += 1
    return written


def flush(indexes):
    for index in indexes:
        client = redis_client(index)
        try:
            client.flushdb()
        finally:
            client.close()


# ------------------------------------------------------------------------------------------------ commands


def up(count):
    started = time.monotonic()
    fleet = targets(count)
    check_databases()
    changed = apply(fleet)
    pods = wait_rolled_out(fleet)
    seeded_count = seed_sessions(fleet)
    wait_for_metrics(fleet, pods)
    extra = [ns for ns in present() if ns not in {t.namespace for t in fleet}]
    print("lab: fleet of %d up in %.1fs: %d object(s) created or changed, %d Redis DB(s) seeded%s" % (
        count, time.monotonic() - started, changed, seeded_count,
        "; also present: %s (`lab fleet down` removes every one)" % ", ".join(extra) if extra else ""))
    return {"targets": count, "changed_objects": changed, "seeded_dbs": seeded_count, "extra": extra}


def down():
    started = time.monotonic()
    names = present()
    if names:
        kubectl("delete", "namespaces", *names, "--wait=true", "--timeout=180s", timeout=240)
    # Every fleet DB, also of targets whose namespace is gone already (an interrupted `down`): 1..63 are the
    # fleet's alone, the main lab uses DB 0.
    flush(range(1, REDIS_DATABASES))
    print("lab: fleet down in %.1fs: %d namespace(s) deleted, Redis DBs 1..%d flushed" % (
        time.monotonic() - started, len(names), MAX_TARGETS))
    return names


def status():
    names = present()
    rows = []
    for name in names:
        index = int(name[len(PREFIX):])
        client = redis_client(index)
        try:
            sessions = client.dbsize()
        finally:
            client.close()
        rows.append({"namespace": name, "redis_db": index, "sessions": sessions})
    return rows


def target_vars(namespace, db, redis):
    """One inventory host's own vars: its namespace, its Redis DB, the session-count query of that DB."""
    return {"bruno_namespace": namespace,
            "bruno_redis": {"host": redis["host"], "port": redis["port"], "db": db},
            "diagnose_sessions_query": 'sum(redis_db_keys{db="db%d"})' % db}


def inventory(count, with_main=True):
    """The inventory as a dict: group vars = the lab backends (bruno_lab_dir made absolute, since the file may be
    written anywhere and the lab's own value is relative to its inventory), one host per target."""
    import yaml  # noqa: PLC0415

    backends = yaml.safe_load(BACKENDS.read_text())
    backends["bruno_lab_dir"] = str(layout.LAB_DIR)
    hosts = {}
    if with_main:
        hosts["bruno"] = target_vars("bruno", 0, backends["bruno_redis"])
    for target in targets(count):
        hosts[target.namespace] = target_vars(target.namespace, target.index, backends["bruno_redis"])
    group = {"ansible_connection": "local",
             # Interpreter discovery can pick a broken shim on these machines: use the venv that runs Ansible.
             "ansible_python_interpreter": "{{ ansible_playbook_python }}"}
    group.update(backends)
    return {"all": {"vars": group, "hosts": hosts}}


def inventory_text(count, with_main=True):
    import yaml  # noqa: PLC0415

    head = ("# Written by `lab/lab fleet inventory %d`: the lab's main target and %d fleet targets (`lab/lab fleet up"
            " %d`),\n# one host each; group vars: inventory/lab/group_vars/all/backends.yml.\n" % (count, count, count))
    return "---\n" + head + yaml.safe_dump(inventory(count, with_main), sort_keys=False, width=120)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="lab fleet", description=__doc__.split("\n\n", maxsplit=1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    up_cmd = sub.add_parser("up", help="namespaces bruno-fleet-01..N with agent-bruno and sessions in DBs 1..N")
    up_cmd.add_argument("count", type=int)
    sub.add_parser("down", help="delete every fleet namespace, flush Redis DBs 1..63")
    status_cmd = sub.add_parser("status", help="the fleet namespaces and their session counts")
    status_cmd.add_argument("--json", action="store_true")
    inv = sub.add_parser("inventory", help="an Ansible inventory: the main target plus N fleet targets")
    inv.add_argument("count", type=int)
    inv.add_argument("--out", help="write here (default: stdout)")
    inv.add_argument("--without-main", action="store_true", help="only the fleet targets (the benchmark's)")
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            up(args.count)
        elif args.command == "down":
            down()
        elif args.command == "status":
            rows = status()
            if args.json:
                print(json.dumps(rows, indent=2))
            else:
                for row in rows:
                    print("%-16s db%-3d %d sessions" % (row["namespace"], row["redis_db"], row["sessions"]))
        else:
            text = inventory_text(args.count, with_main=not args.without_main)
            if args.out:
                with open(args.out, "w", encoding="utf-8") as handle:
                    handle.write(text)
            else:
                sys.stdout.write(text)
    except procs.LabError as exc:
        print("lab: fleet: %s" % exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

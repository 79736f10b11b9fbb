"""`lab/lab fleet`: N agent-bruno targets in the one lab (labctl.fleet). `fleet up 3` makes namespaces
bruno-fleet-01..03, each with the Deployment, Ready kwok pods whose memory metrics.k8s.io reports, and its
sessions in Redis DB 1..3 in the app's format; a second `fleet up 3` changes nothing; `fleet down` removes them
and leaves the main lab (namespace bruno, DB 0) alone. A fleet that was up before is put back afterwards.
Needs the live lab: run under `flock /tmp/bruno-lab.lock`.
"""

import base64
import json
import subprocess

import pytest
import redis
import yaml

from bruno_it import BIN, ROOT, ansible_env, kubectl, run_lab
from labctl import fleet, layout, seed

pytestmark = pytest.mark.lab

SIZE = 3
PLAN = [fleet.plan(index) for index in range(1, SIZE + 1)]
TURN_KEYS = {"timestamp", "message", "response", "context"}


def db(index):
    return redis.Redis(host="127.0.0.1", port=layout.PORTS["redis"], db=index, decode_responses=True)


def deployments():
    """{namespace: (resourceVersion, spec.replicas, readyReplicas)} of the fleet's agent-bruno Deployments."""
    items = json.loads(kubectl("get", "deployments", "-A", "-l", "app=agent-bruno", "-o", "json").stdout)["items"]
    return {i["metadata"]["namespace"]: (i["metadata"]["resourceVersion"], i["spec"]["replicas"],
                                         i["status"].get("readyReplicas"))
            for i in items if i["metadata"]["namespace"].startswith(fleet.PREFIX)}


@pytest.fixture(scope="module")
def fleet_up(lab):
    before = fleet.present()
    main_sessions = db(0).dbsize()
    output = run_lab("fleet", "up", str(SIZE), timeout=300)
    yield {"output": output, "main_sessions": main_sessions}
    run_lab("fleet", "down", timeout=300)
    if before:  # put back what an earlier `fleet up N` (the benchmark's) left
        run_lab("fleet", "up", str(max(int(ns[len(fleet.PREFIX):]) for ns in before)), timeout=600)


def test_up_creates_targets(fleet_up):
    names = fleet.present()
    for target in PLAN:
        assert target.namespace in names
    deploys = deployments()
    usage = fleet.pod_usage()
    for target in PLAN:
        _version, replicas, ready = deploys[target.namespace]
        assert (replicas, ready) == (target.replicas, target.replicas)
        pods = {pod: mib for (ns, pod), mib in usage.items() if ns == target.namespace}
        assert len(pods) == target.replicas, usage
        assert all(abs(mib - target.usage_mib) < 1 for mib in pods.values()), pods
        limit = kubectl("-n", target.namespace, "get", "deployment", "agent-bruno", "-o",
                        "jsonpath={.spec.template.spec.containers[0].resources.limits.memory}").stdout
        assert limit == "1Gi"
        url = kubectl("-n", target.namespace, "get", "secret", "agent-bruno-secrets", "-o",
                      "jsonpath={.data.REDIS_URL}").stdout
        assert base64.b64decode(url).decode() == "redis://127.0.0.1:16379/%d" % target.index
    assert len({t.usage_mib for t in PLAN}) > 1 and len({t.replicas for t in PLAN}) > 1  # rows that differ


def test_sessions_in_own_db(fleet_up):
    for target in PLAN:
        client = db(target.index)
        keys = sorted(client.scan_iter(match=seed.SESSION_PREFIX + "*", count=1000))
        assert len(keys) == client.dbsize() == target.sessions
        key = keys[0]
        assert client.type(key) == "list"
        assert 0 < client.ttl(key) <= seed.SESSION_TTL
        turn = json.loads(client.lindex(key, 0))
        assert set(turn) == TURN_KEYS
        assert target.namespace in turn["message"]
    assert db(0).dbsize() == fleet_up["main_sessions"]  # the main lab's sessions are untouched


def test_up_again_changes_nothing(fleet_up):
    versions = deployments()
    ttl = db(1).ttl(seed.SESSION_PREFIX + seed.session_ip(0))
    output = run_lab("fleet", "up", str(SIZE), timeout=300)
    assert "0 object(s) created or changed, 0 Redis DB(s) seeded" in output, output
    assert deployments() == versions
    assert db(1).ttl(seed.SESSION_PREFIX + seed.session_ip(0)) <= ttl  # not rewritten: the TTL only runs down


def test_inventory(fleet_up, tmp_path):
    """`fleet inventory 2` has the hosts and host vars of the committed inventory/lab-fleet, and Ansible reads it."""
    path = tmp_path / "fleet.yml"
    run_lab("fleet", "inventory", "2", "--out", str(path))
    generated = yaml.safe_load(path.read_text())["all"]["hosts"]
    committed = yaml.safe_load((ROOT / "inventory" / "lab-fleet" / "hosts.yml").read_text())["all"]["hosts"]
    assert generated == committed
    for inventory in (path, ROOT / "inventory" / "lab-fleet"):
        out = subprocess.run([str(BIN / "ansible-inventory"), "-i", str(inventory), "--list"], cwd=ROOT,
                             env=ansible_env(), capture_output=True, text=True, timeout=120, check=True)
        hostvars = json.loads(out.stdout)["_meta"]["hostvars"]
        assert hostvars["bruno-fleet-02"]["bruno_redis"]["db"] == 2
        assert hostvars["bruno-fleet-02"]["bruno_prometheus"] == {"url": "http://127.0.0.1:19090"}


def test_down_removes_them(fleet_up):
    run_lab("fleet", "down", timeout=300)
    assert fleet.present() == []
    assert not deployments()
    for target in PLAN:
        assert db(target.index).dbsize() == 0
    assert db(0).dbsize() == fleet_up["main_sessions"]

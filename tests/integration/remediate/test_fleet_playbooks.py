"""Playbooks over an inventory of targets, against the lab: two inventory hosts that point at the same workload,
run in parallel (forks 2), never both change it (the change lock is per workload); each target writes its own
reports under reports/<run>/<target>/ and the run a fleet summary in which the failed target is a row.

Objects only in namespace fleet-lock."""

import json
import re

import pytest
import yaml

from bruno_it import ADMIN_KUBECONFIG, create_namespace, delete_namespace, kubectl, kubectl_apply, run_playbook

pytestmark = pytest.mark.lab

NS = "fleet-lock"


@pytest.fixture(scope="module")
def workload():
    create_namespace(NS)
    kubectl_apply({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "agent-bruno", "namespace": NS, "labels": {"app": "agent-bruno"}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "agent-bruno"}},
                 "template": {"metadata": {"labels": {"app": "agent-bruno"}}, "spec": {
                     "nodeSelector": {"type": "kwok"},
                     "tolerations": [{"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}],
                     "containers": [{"name": "agent-bruno", "image": "agent-bruno:lab",
                                     "imagePullPolicy": "IfNotPresent",
                                     "resources": {"limits": {"memory": "1Gi"}}}]}}}})
    try:
        yield NS
    finally:
        delete_namespace(NS)


def two_aliases(tmp_path):
    """An inventory whose two hosts are one workload (a copy-pasted entry, an alias)."""
    target = {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}",
              "bruno_namespace": NS, "bruno_kubernetes": {"kubeconfig": str(ADMIN_KUBECONFIG)}}
    path = tmp_path / "aliases.yml"
    path.write_text(yaml.safe_dump({"all": {"hosts": {"alias-a": target, "alias-b": target}}}))
    return path


def recap(stdout):
    """{host: {ok, changed, failed, ...}} from the PLAY RECAP."""
    found = {}
    for host, counts in re.findall(r"^(\S+)\s+:\s+(ok=.*)$", stdout, re.M):
        found[host] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", counts)}
    return found


def test_two_hosts_on_one_workload_never_change_it_together(workload, tmp_path):
    out = run_playbook("playbooks/scale.yml", {
        "scale_replicas": 2, "scale_wait_timeout": 120, "bruno_report_root": str(tmp_path / "reports"),
        "bruno_run_id": "lock"}, "-i", str(two_aliases(tmp_path)), "-f", "2")
    hosts = recap(out.stdout)
    assert set(hosts) >= {"alias-a", "alias-b"}, out.stdout[-3000:]
    failed = [h for h in ("alias-a", "alias-b") if hosts[h]["failed"]]
    assert len(failed) == 1, out.stdout[-4000:]
    assert re.search(r"held by|cooldown", out.stdout), out.stdout[-4000:]
    assert kubectl("-n", NS, "get", "deployment", "agent-bruno", "-o", "jsonpath={.spec.replicas}").stdout == "2"
    run = tmp_path / "reports" / "lock"
    winner = ({"alias-a", "alias-b"} - set(failed)).pop()
    record = json.loads((run / winner / "change-record.json").read_text())
    assert [c["changed"] for c in record["changes"] if c["action"] == "scale"] == [True]
    fleet = json.loads((run / "fleet.json").read_text())
    states = {row["target"]: row["state"] for row in fleet["rows"]}
    assert states == {winner: "done", failed[0]: "failed"}
    assert fleet["rows"][0]["target"] == failed[0]  # worst first
    assert (tmp_path / "reports" / "latest").resolve() == run.resolve()

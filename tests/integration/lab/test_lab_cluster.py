"""The lab itself: a real, RBAC-enforcing apiserver with working logs/exec/top, Prometheus, FerretDB."""

import json
import subprocess
import urllib.parse
import urllib.request

import pymongo

from bruno_it import AUTOMATION_KUBECONFIG, KUBECTL_CLUSTER, kubectl, run_lab
from labctl import layout

NS = "bruno"


def agent_pods():
    out = kubectl("-n", NS, "get", "pods", "-l", "app=agent-bruno", "-o", "json")
    return sorted(item["metadata"]["name"] for item in json.loads(out.stdout)["items"])


def test_rbac_is_enforced_for_the_automation_identity(lab):
    denied = kubectl("auth", "can-i", "delete", "namespaces", kubeconfig=AUTOMATION_KUBECONFIG, check=False)
    assert denied.stdout.strip() == "no"
    allowed = kubectl("-n", NS, "auth", "can-i", "list", "pods", kubeconfig=AUTOMATION_KUBECONFIG, check=False)
    assert allowed.stdout.strip() == "yes"
    secrets = kubectl("-n", NS, "get", "secrets", kubeconfig=AUTOMATION_KUBECONFIG, check=False)
    assert secrets.returncode != 0 and "forbidden" in secrets.stderr


def test_deployment_is_ready(lab):
    out = json.loads(kubectl("-n", NS, "get", "deploy", "agent-bruno", "-o", "json").stdout)
    assert out["status"].get("readyReplicas") == out["spec"]["replicas"] >= 1


def test_logs_exec_and_top_work_on_the_pods(lab):
    pod = agent_pods()[0]
    subprocess.run([str(KUBECTL_CLUSTER), "pod-log", NS, pod], input="marker-line-4711\n", text=True, check=True,
                   capture_output=True, timeout=30)
    assert "marker-line-4711" in kubectl("-n", NS, "logs", pod, "--tail=50").stdout
    assert kubectl("-n", NS, "exec", pod, "--", "python3", "-c", "print(6 * 7)").stdout.strip() == "42"
    top = kubectl("-n", NS, "top", "pods", "-l", "app=agent-bruno").stdout
    assert all(name in top for name in agent_pods())
    assert "Mi" in top


def test_prometheus_has_one_working_set_series_per_pod(lab):
    run_lab("scenario", "healthy")
    query = urllib.parse.urlencode({"query": 'container_memory_working_set_bytes{namespace="bruno",'
                                             'container="agent-bruno"}'})
    url = "http://127.0.0.1:%d/api/v1/query?%s" % (layout.PORTS["prometheus"], query)
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - the lab's loopback Prometheus
        result = json.loads(response.read())["data"]["result"]
    assert sorted(series["metric"]["pod"] for series in result) == agent_pods()


def test_pymongo_round_trips_through_ferretdb(lab):
    client = pymongo.MongoClient("127.0.0.1", layout.PORTS["ferretdb"], serverSelectionTimeoutMS=5000)
    try:
        collection = client["lab_test"]["roundtrip"]
        collection.delete_many({})
        collection.insert_one({"_id": "s1:0", "content": "hello", "seq": 0})
        assert collection.find_one({"_id": "s1:0"})["content"] == "hello"
    finally:
        client["lab_test"].drop_collection("roundtrip")
        client.close()

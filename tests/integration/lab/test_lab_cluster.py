"""The lab itself: a real, RBAC-enforcing apiserver with working logs/exec/top, Prometheus, FerretDB, and one
agent-bruno process per pod behind the Service port."""

import json
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path

import pymongo
import redis

from bruno_it import AUTOMATION_KUBECONFIG, KUBECTL_CLUSTER, LAB, kubectl, run_lab, wait_for
from labctl import layout

NS = "bruno"


def agent_pods():
    out = kubectl("-n", NS, "get", "pods", "-l", "app=agent-bruno", "-o", "json")
    return sorted(item["metadata"]["name"] for item in json.loads(out.stdout)["items"]
                  if not item["metadata"].get("deletionTimestamp"))


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


# ---------------------------------------------------------------------------------------- one agent per pod

TEST_IPS = ("192.0.2.71", "192.0.2.72")  # TEST-NET-1: never a real client


def lab_pods():
    return json.loads(run_lab("pods", "--json"))


def http(method, url, body=None, headers=None):
    request = urllib.request.Request(  # noqa: S310 - the lab's loopback agents
        url, data=None if body is None else json.dumps(body).encode(), method=method,
        headers=dict({"Content-Type": "application/json"}, **(headers or {})))
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the lab's loopback agents
        return response.status, response.read().decode()


def chat_count(metrics_text):
    """bruno_requests_total of POST /chat answered 200, from one /metrics text."""
    total = 0.0
    for line in metrics_text.splitlines():
        if line.startswith("bruno_requests_total{") and 'endpoint="/chat"' in line and 'method="POST"' in line \
                and 'status="200"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def alive(pid):
    try:
        return b"agent_bruno" in Path("/proc/%d/cmdline" % pid).read_bytes()
    except OSError:
        return False


def test_each_pod_has_its_own_agent_process_and_metrics(lab):
    rows = lab_pods()
    assert sorted(rows) == agent_pods()
    assert len({row["port"] for row in rows.values()}) == len(rows)
    first, *others = sorted(rows)
    before = {pod: chat_count(http("GET", rows[pod]["url"] + "/metrics")[1]) for pod in rows}
    try:
        status, body = http("POST", rows[first]["url"] + "/chat", {"message": "which pod?"},
                            {"X-Forwarded-For": TEST_IPS[0]})
        assert status == 200 and "response" in json.loads(body)
    finally:
        http("DELETE", rows[first]["url"] + "/memory/" + TEST_IPS[0])
    after = {pod: chat_count(http("GET", rows[pod]["url"] + "/metrics")[1]) for pod in rows}
    assert after[first] == before[first] + 1
    assert all(after[pod] == before[pod] for pod in others)
    # Prometheus scrapes every pod's own process, labelled with its pod (file_sd written by the supervisor).
    url = "http://127.0.0.1:%d/api/v1/targets?state=active" % layout.PORTS["prometheus"]

    def scraped_pods():
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - the lab's loopback Prometheus
            targets = json.loads(response.read())["data"]["activeTargets"]
        found = sorted(t["labels"].get("pod", "") for t in targets if t["labels"].get("job") == "agent-bruno")
        return found if found == sorted(rows) and all(
            t["labels"].get("namespace") == NS for t in targets if t["labels"].get("job") == "agent-bruno") else None

    assert wait_for(scraped_pods, "Prometheus to target every pod's agent", timeout=60)


def test_a_session_ttl_rollout_changes_what_new_turns_get(lab):
    old = lab_pods()
    try:
        kubectl("-n", NS, "set", "env", "deployment/agent-bruno", "SESSION_TTL=600")
        kubectl("-n", NS, "rollout", "status", "deployment/agent-bruno", "--timeout=120s")

        def replaced():
            rows = lab_pods_quiet()
            new = agent_pods()
            if rows and sorted(rows) == new and not set(new) & set(old) and all(r["ready"] for r in rows.values()):
                return rows
            return None

        rows = wait_for(replaced, "an agent process for each new pod only", timeout=120)
        assert not any(alive(row["pid"]) for row in old.values())  # pods gone -> their processes gone
        service = "http://127.0.0.1:%d" % layout.PORTS["agent"]
        client = redis.Redis(port=layout.PORTS["redis"])
        try:
            status, _body = http("POST", service + "/chat", {"message": "short memory?"},
                                 {"X-Forwarded-For": TEST_IPS[1]})
            assert status == 200
            ttl = client.ttl("bruno:session:" + TEST_IPS[1])
            assert 0 < ttl <= 600
            (turn,) = [json.loads(item) for item in client.lrange("bruno:session:" + TEST_IPS[1], 0, -1)]
            assert list(turn) == ["timestamp", "message", "response", "context"]
        finally:
            client.delete("bruno:session:" + TEST_IPS[1])
            client.close()
        assert all(row["pid"] and alive(row["pid"]) for row in rows.values())
    finally:
        run_lab("scenario", "healthy")  # the manifest's SESSION_TTL again, fresh pods, consistent signals
    assert "86400" in kubectl("-n", NS, "get", "deployment", "agent-bruno", "-o",
                              "jsonpath={.spec.template.spec.containers[0].env}").stdout


def lab_pods_quiet():
    out = subprocess.run([str(LAB), "pods", "--json"], capture_output=True, text=True, timeout=60, check=False)
    try:
        return json.loads(out.stdout)
    except ValueError:
        return {}

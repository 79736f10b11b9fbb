"""pod_memory_info lists pods, metrics and events: its request count does not grow with the pod count."""

import json
import subprocess
import time

from bruno_it import ADMIN_KUBECONFIG, KUBECTL_CLUSTER, kubectl, run_module

NS = "scale-test"
DEPLOYMENT = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "scale", "namespace": NS},
    "spec": {
        "replicas": 10,
        "selector": {"matchLabels": {"app": "scale"}},
        "template": {
            "metadata": {"labels": {"app": "scale"}},
            "spec": {
                "nodeSelector": {"type": "kwok"},
                "tolerations": [{"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}],
                "containers": [{"name": "app", "image": "scale:lab",
                                "resources": {"limits": {"memory": "64Mi"}, "requests": {"memory": "16Mi"}}}],
            },
        },
    },
}


def wait_running(count, timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pods = json.loads(kubectl("-n", NS, "get", "pods", "-l", "app=scale", "-o", "json").stdout)["items"]
        running = [p for p in pods if p["status"].get("phase") == "Running" and not p["metadata"].get(
            "deletionTimestamp")]
        if len(running) == count == len(pods):
            return
        time.sleep(2)
    raise AssertionError("%d pods did not become Running in %ss" % (count, timeout))


def test_api_requests_do_not_grow_with_pods(lab):
    kubectl("create", "namespace", NS, check=False)
    try:
        subprocess.run([str(KUBECTL_CLUSTER), "kubectl", "apply", "-f", "-"], input=json.dumps(DEPLOYMENT),
                       text=True, check=True, capture_output=True, timeout=60,
                       env={"KUBECONFIG": str(ADMIN_KUBECONFIG), "PATH": "/usr/bin:/bin"})
        counts = {}
        for replicas in (10, 200):
            kubectl("-n", NS, "scale", "deployment/scale", "--replicas=%d" % replicas)
            wait_running(replicas)
            rc, result, _raw = run_module("bruno.ops.pod_memory_info", {
                "kubernetes": {"kubeconfig": str(ADMIN_KUBECONFIG)}, "namespace": NS, "label_selector": "app=scale"})
            assert rc == 0, result
            assert result["summary"]["pods"] == replicas
            counts[replicas] = result["api_requests"]
        assert counts[10] == counts[200] == 3  # pods, PodMetrics, events: one page each
    finally:
        kubectl("delete", "namespace", NS, "--wait=false", check=False)

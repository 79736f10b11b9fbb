"""A throwaway Deployment for the remediation modules' tests: namespace remediate-it, Deployment it-agent (two
kwok pods shaped like agent-bruno), so the change-making tests never touch the lab's own agent-bruno."""

import json
import time

import bruno_it
from bruno_it import ADMIN_KUBECONFIG, kubectl, kubectl_apply

NS = "remediate-it"
NAME = "it-agent"
ADMIN = {"kubeconfig": str(ADMIN_KUBECONFIG)}
TARGET = {"kubernetes": ADMIN, "namespace": NS, "name": NAME}
MIB = 2 ** 20


def deployment(replicas=2):
    labels = {"app": NAME}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": NAME, "namespace": NS, "labels": labels},
        "spec": {
            "replicas": replicas, "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "nodeSelector": {"type": "kwok"},
                    "tolerations": [{"key": "kwok.x-k8s.io/node", "operator": "Equal", "value": "fake",
                                     "effect": "NoSchedule"}],
                    "containers": [{
                        "name": "agent", "image": "ghcr.io/bruno/agent-bruno:lab",
                        "env": [{"name": "SESSION_TTL", "value": "86400"}, {"name": "PORT", "value": "8080"}],
                        "resources": {"requests": {"memory": "256Mi", "cpu": "100m"}, "limits": {"memory": "1Gi"}},
                    }],
                },
            },
        },
    }


def apply(obj):
    return kubectl_apply(obj)


def get(kind="deployment", name=NAME, namespace=NS):
    return json.loads(kubectl("-n", namespace, "get", kind, name, "-o", "json").stdout)


def rollout_done(timeout=120):
    kubectl("-n", NS, "rollout", "status", "deployment/" + NAME, "--timeout=%ds" % timeout, timeout=timeout + 30)


def fresh_deployment():
    """it-agent as deployment() has it, rolled out, with no HPA, LimitRange, quota or lease around it."""
    kubectl("-n", NS, "delete", "hpa,limitrange,resourcequota,lease", "--all", "--ignore-not-found")
    kubectl("-n", NS, "delete", "deployment", NAME, "--ignore-not-found", "--wait=true", "--timeout=120s", timeout=150)
    apply(deployment())
    rollout_done()


def create_namespace():
    bruno_it.create_namespace(NS)


def delete_namespace():
    bruno_it.delete_namespace(NS)


def set_pod_memory(value):
    """Each it-agent pod's working set as kwok reports it (metrics.k8s.io catches up within ~30 s)."""
    pods = json.loads(kubectl("-n", NS, "get", "pods", "-l", "app=" + NAME, "-o", "json").stdout)["items"]
    for pod in pods:
        kubectl("-n", NS, "annotate", "pod", pod["metadata"]["name"], "--overwrite",
                "lab.bruno.ops/memory-usage.agent=%s" % value)
    return [p["metadata"]["name"] for p in pods]


def wait_for_metrics(predicate, timeout=90):
    """Until PodMetrics of it-agent satisfy predicate({pod: bytes})."""
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        out = kubectl("get", "--raw", "/apis/metrics.k8s.io/v1beta1/namespaces/%s/pods" % NS, check=False)
        if out.returncode == 0:
            items = json.loads(out.stdout)["items"]
            seen = {i["metadata"]["name"]: _bytes(c["usage"]["memory"]) for i in items for c in i["containers"]}
            if seen and predicate(seen):
                return seen
        time.sleep(3)
    raise AssertionError("metrics.k8s.io never reported what the test waits for; last seen %s" % seen)


def _bytes(quantity):
    units = {"Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30}
    for suffix, factor in units.items():
        if quantity.endswith(suffix):
            return int(float(quantity[:-2]) * factor)
    return int(quantity)

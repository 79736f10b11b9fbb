"""A DeploymentConfig for the tests of kind DeploymentConfig: the API served by a CRD (deploymentconfig-crd.yaml),
namespace openshift-it, DeploymentConfig it-dc shaped like agent-bruno. No DeploymentConfig controller runs in the
lab: FakeController plays its part where a test waits for a rollout, writing the status subresource as the real
controller does (observedGeneration, latestVersion, replica counts, the Progressing condition)."""

import contextlib
import json
import threading
from pathlib import Path

import bruno_it
from bruno_it import ADMIN_KUBECONFIG, kubectl, kubectl_apply

NS = "openshift-it"
NAME = "it-dc"
CRD = "deploymentconfigs.apps.openshift.io"
CRD_FILE = Path(__file__).with_name("deploymentconfig-crd.yaml")
RESOURCE = "deploymentconfigs.apps.openshift.io"
ADMIN = {"kubeconfig": str(ADMIN_KUBECONFIG)}
TARGET = {"kubernetes": ADMIN, "namespace": NS, "name": NAME, "kind": "DeploymentConfig"}


def deployment_config(replicas=2):
    labels = {"app": NAME}
    return {
        "apiVersion": "apps.openshift.io/v1", "kind": "DeploymentConfig",
        "metadata": {"name": NAME, "namespace": NS, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": dict(labels),  # a plain map, not a LabelSelector, on a DeploymentConfig
            "strategy": {"type": "Rolling", "rollingParams": {"maxSurge": "25%", "maxUnavailable": "25%",
                                                              "timeoutSeconds": 600}},
            "triggers": [{"type": "ConfigChange"}],
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{
                    "name": "agent", "image": "ghcr.io/bruno/agent-bruno:lab",
                    "env": [{"name": "SESSION_TTL", "value": "86400"}, {"name": "PORT", "value": "8080"}],
                    "resources": {"requests": {"memory": "256Mi", "cpu": "100m"}, "limits": {"memory": "1Gi"}},
                }]},
            },
        },
    }


def apply(obj):
    kubectl_apply(obj)


def get(name=NAME):
    return json.loads(kubectl("-n", NS, "get", RESOURCE, name, "-o", "json").stdout)


def patch_status(status):
    kubectl("-n", NS, "patch", RESOURCE, NAME, "--subresource=status", "--type=merge", "-p",
            json.dumps({"status": status}))


def wait_for(check, what, timeout=60):
    return bruno_it.wait_for(check, what, timeout, interval=1.0)


def served():
    out = kubectl("get", "--raw", "/apis/apps.openshift.io/v1", check=False)
    return out.returncode == 0 and any(r["name"] == "deploymentconfigs" for r in json.loads(out.stdout)["resources"])


def remove_api():
    """The CRD gone (with every DeploymentConfig), and discovery no longer serving the API."""
    kubectl("delete", "crd", CRD, "--ignore-not-found", "--wait=true", "--timeout=90s", timeout=120)
    wait_for(lambda: not served(), "apps.openshift.io/v1 to leave discovery")


def install_api():
    """The CRD applied, Established, and served by discovery."""
    kubectl("apply", "-f", str(CRD_FILE))
    kubectl("wait", "--for=condition=Established", "crd/" + CRD, "--timeout=60s", timeout=90)
    wait_for(served, "apps.openshift.io/v1 deploymentconfigs in discovery")


def create_namespace():
    bruno_it.create_namespace(NS)


def delete_namespace():
    bruno_it.delete_namespace(NS)


def rolled_out_status(obj, latest_version):
    """The status the controller writes once a rollout completed."""
    replicas = obj["spec"]["replicas"]
    return {"observedGeneration": obj["metadata"]["generation"], "latestVersion": latest_version,
            "replicas": replicas, "updatedReplicas": replicas, "readyReplicas": replicas,
            "availableReplicas": replicas, "unavailableReplicas": 0,
            "conditions": [
                {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
                {"type": "Progressing", "status": "True", "reason": "NewReplicationControllerAvailable",
                 "message": 'replication controller "%s-%d" successfully rolled out' % (NAME, latest_version)}]}


def fresh_deployment_config():
    """it-dc as deployment_config() has it, rolled out (as its controller would report), nothing else around."""
    kubectl("-n", NS, "delete", "hpa,limitrange,resourcequota", "--all", "--ignore-not-found")
    kubectl("-n", NS, "delete", RESOURCE, NAME, "--ignore-not-found", "--wait=true", "--timeout=60s", timeout=90)
    apply(deployment_config())
    patch_status(rolled_out_status(get(), 1))
    return get()


class FakeController:
    """The DeploymentConfig controller's part, in a thread: for each generation it has not observed, it first
    reports a rollout in progress (a new latestVersion when the pod template changed: the ConfigChange trigger),
    then, `delay` seconds later, the rollout complete, or failed (ProgressDeadlineExceeded, as the real controller
    reports a failed deployer) when `fails(obj)` says so."""

    def __init__(self, delay=3.0, fails=lambda obj: False):
        self.delay, self.fails = delay, fails
        obj = get()
        self.template, self.version = obj["spec"]["template"], obj["status"]["latestVersion"]
        self.stop, self.error, self.rollouts = threading.Event(), None, []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        try:
            while not self.stop.wait(0.5):
                self._step()
        except Exception as exc:  # reported by __exit__, in the test's thread
            self.error = exc

    def _step(self):
        obj = get()
        status = obj.get("status") or {}
        if status.get("observedGeneration", 0) >= obj["metadata"]["generation"]:
            return
        if obj["spec"]["template"] != self.template:
            self.template, self.version = obj["spec"]["template"], self.version + 1
            updated = 0
        else:  # a scale: the running ReplicationController grows or shrinks
            updated = status.get("updatedReplicas", 0)
        patch_status({"observedGeneration": obj["metadata"]["generation"], "latestVersion": self.version,
                      "updatedReplicas": updated, "conditions": [
                          {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
                          {"type": "Progressing", "status": "True", "reason": "ReplicationControllerUpdated"}]})
        self.rollouts.append(obj["metadata"]["generation"])
        if self.stop.wait(self.delay):
            return
        if self.fails(obj):
            patch_status({"conditions": [
                {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
                {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                 "message": 'replication controller "%s-%d" has failed progressing' % (NAME, self.version)}]})
        else:
            patch_status(rolled_out_status(obj, self.version))

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc_info):
        self.stop.set()
        self.thread.join(timeout=30)
        if self.error and not exc_info[0]:
            raise AssertionError("the fake DeploymentConfig controller failed: %s" % self.error)


@contextlib.contextmanager
def no_change(before):
    """Assert the DeploymentConfig's spec is what it was (check mode, refusals)."""
    yield
    after = get()
    assert after["metadata"]["generation"] == before["metadata"]["generation"]
    assert after["spec"] == before["spec"]

"""Kind DeploymentConfig without an apiserver: what openshift_client asks the dynamic client for (a JSON patch, a
server-side dry run, plain dicts back), its errors when the library or the API is missing, and rollout_status over
the status a DeploymentConfig controller writes. tests/integration/openshift runs the same against the lab."""

import contextlib
import json
from types import SimpleNamespace

import pytest
from openshift.dynamic.exceptions import ResourceNotFoundError

from ansible_collections.bruno.ops.plugins.module_utils import errors
from ansible_collections.bruno.ops.plugins.module_utils.change import rollout
from ansible_collections.bruno.ops.plugins.module_utils.clients import openshift_client

REF = "deploymentconfig ns/dc"


class FakeClient:
    """What openshift_client uses of K8sClient."""

    address = "https://127.0.0.1:6443"
    requests = 0

    @contextlib.contextmanager
    def translate(self, action):
        yield


class FakeDynamic:
    calls = []
    served = True

    def __init__(self, client, cache_file=None):
        self.resources = self

    def get(self, resource=None, **kwargs):
        if resource is None:  # resources.get(api_version=..., kind=...)
            if not self.served:
                raise ResourceNotFoundError("No matches found for %s" % kwargs)
            return "dc-resource"
        return self._answer("get", resource, kwargs)

    def patch(self, resource, **kwargs):
        return self._answer("patch", resource, kwargs)

    def _answer(self, verb, resource, kwargs):
        FakeDynamic.calls.append((verb, resource, kwargs))
        return SimpleNamespace(data=json.dumps({"kind": "DeploymentConfig", "metadata": {"name": kwargs["name"]}}))


@pytest.fixture
def dynamic(monkeypatch):
    FakeDynamic.calls, FakeDynamic.served = [], True
    monkeypatch.setattr(openshift_client, "CountingDynamicClient", FakeDynamic)
    return FakeDynamic


def test_read_and_patch_send_a_json_patch_and_a_server_side_dry_run(dynamic):
    read, patch = openshift_client.deployment_config_access(FakeClient(), "ns", "dc", REF)
    assert dynamic.calls == []  # nothing is discovered or read until the first call
    assert read() == {"kind": "DeploymentConfig", "metadata": {"name": "dc"}}
    ops = [{"op": "replace", "path": "/spec/replicas", "value": 3}]
    patch(ops, dry_run=True)
    patch(ops)
    (_v, _r, got), (_v2, _r2, dry), (_v3, _r3, real) = dynamic.calls
    assert got == {"name": "dc", "namespace": "ns", "serialize": False}
    assert dry == {"name": "dc", "namespace": "ns", "serialize": False, "body": ops,
                   "content_type": "application/json-patch+json", "dry_run": "All"}
    assert "dry_run" not in real and real["content_type"] == "application/json-patch+json"


def test_an_api_that_is_not_served_is_not_found_and_says_so(dynamic):
    dynamic.served = False
    read, _patch = openshift_client.deployment_config_access(FakeClient(), "ns", "dc", REF)
    with pytest.raises(errors.BrunoOpsError) as caught:
        read()
    assert caught.value.kind == errors.NOT_FOUND
    assert caught.value.message.startswith("cannot get deploymentconfig ns/dc: apps.openshift.io/v1 DeploymentConfig "
                                           "is not served by this cluster (not OpenShift?)")


def test_without_the_library_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setattr(openshift_client, "OPENSHIFT_IMPORT_ERROR", "ModuleNotFoundError: No module named 'openshift'")
    with pytest.raises(errors.BrunoOpsError) as caught:
        openshift_client.deployment_config_access(FakeClient(), "ns", "dc", REF)
    assert caught.value.kind == errors.MISSING_LIBRARY and "pip install openshift" in caught.value.message


def config(*, generation=3, observed=3, replicas=2, updated=2, ready=2, available=2, total=2, progressing=None):
    """A DeploymentConfig as its controller reports it (status.latestVersion and Progressing reasons are its own)."""
    conditions = [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"}]
    if progressing:
        conditions.append(dict(type="Progressing", **progressing))
    return {"apiVersion": "apps.openshift.io/v1", "kind": "DeploymentConfig",
            "metadata": {"name": "agent-bruno", "generation": generation},
            "spec": {"replicas": replicas, "selector": {"app": "agent-bruno"},
                     "triggers": [{"type": "ConfigChange"}]},
            "status": {"latestVersion": 4, "observedGeneration": observed, "replicas": total,
                       "updatedReplicas": updated, "readyReplicas": ready, "availableReplicas": available,
                       "unavailableReplicas": total - available, "conditions": conditions}}


@pytest.mark.parametrize(("obj", "complete", "failed", "reason"), [
    (config(progressing={"status": "True", "reason": "NewReplicationControllerAvailable",
                         "message": 'replication controller "agent-bruno-4" successfully rolled out'}),
     True, False, "complete"),
    # the trigger bumped latestVersion, the new ReplicationController is not there yet
    (config(observed=2), False, False, "the controller has not seen generation 3 yet"),
    (config(updated=1, total=3, progressing={"status": "True", "reason": "ReplicationControllerUpdated"}),
     False, False, "1 of 2 replicas updated"),
    (config(total=3), False, False, "1 old replicas pending termination"),
    (config(updated=0, total=2, progressing={
        "status": "False", "reason": "ProgressDeadlineExceeded",
        "message": 'replication controller "agent-bruno-4" has failed progressing'}),
     False, True, 'progress deadline exceeded: replication controller "agent-bruno-4" has failed progressing'),
    (config(updated=0, total=2, progressing={
        "status": "False", "reason": "RolloutCancelled",
        "message": 'rollout of replication controller "agent-bruno-4" was cancelled'}),
     False, True, 'rollout cancelled: rollout of replication controller "agent-bruno-4" was cancelled'),
])
def test_rollout_status_of_a_deployment_config(obj, complete, failed, reason):
    status = rollout.rollout_status(obj)
    assert (status["complete"], status["failed"], status["reason"]) == (complete, failed, reason)

"""gitops_policy against a real Flux kustomize-controller (labctl.flux): refuse changes nothing, check mode touches
neither the Kustomization nor the workload, suspend keeps the change for the whole window and its undo (resume)
lets Flux restore Git's state, patch-only is reverted by the next reconcile.

Objects only in flux-system (Kustomization and GitRepository gitops-policy) and namespace gitops-policy."""

import time

import pytest
import yaml

from bruno_it import ADMIN_KUBECONFIG, create_namespace, delete_namespace, kubectl, run_module, wait_for
from labctl import flux

pytestmark = pytest.mark.lab

NS = NAME = "gitops-policy"
DEPLOYMENT = "agent-bruno"
INTERVAL = 20
GIT_TTL = "86400"


def manifests(directory):
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": DEPLOYMENT, "namespace": NS, "labels": {"app": DEPLOYMENT}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": DEPLOYMENT}},
                 "template": {"metadata": {"labels": {"app": DEPLOYMENT}}, "spec": {
                     "nodeSelector": {"type": "kwok"},
                     "tolerations": [{"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}],
                     "containers": [{"name": "agent-bruno", "image": "agent-bruno:lab",
                                     "env": [{"name": "SESSION_TTL", "value": GIT_TTL}]}]}}},
    }
    (directory / "deployment.yaml").write_text(yaml.safe_dump(deployment))
    (directory / "kustomization.yaml").write_text(yaml.safe_dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": ["deployment.yaml"]}))
    return directory


def session_ttl():
    return kubectl("-n", NS, "get", "deployment", DEPLOYMENT, "-o",
                   'jsonpath={.spec.template.spec.containers[0].env[?(@.name=="SESSION_TTL")].value}').stdout.strip()


@pytest.fixture(scope="module")
def managed(lab, tmp_path_factory):
    with flux.running():
        try:
            create_namespace(NS)
            published = flux.publish(manifests(tmp_path_factory.mktemp("gitops-policy")), name=NAME)
            flux.apply_kustomization(NAME, source=NAME, path="./", interval="%ds" % INTERVAL, prune=True)
            flux.wait_applied(NAME, published["revision"], timeout=120)
            yield published
        finally:
            flux.set_suspended(NAME, False)  # its finalizer is run by a reconcile
            flux.kubectl("-n", flux.NAMESPACE, "delete", "kustomization", NAME, "--ignore-not-found",
                         "--wait=true", "--timeout=60s", check=False, timeout=90)
            flux.kubectl("-n", flux.NAMESPACE, "delete", "gitrepository", NAME, "--ignore-not-found", check=False)
            delete_namespace(NS)


def set_ttl(value, policy=None, check=False):
    args = {"kubernetes": {"kubeconfig": str(ADMIN_KUBECONFIG)}, "namespace": NS, "name": DEPLOYMENT,
            "container": "agent-bruno", "env": {"SESSION_TTL": value}, "wait": False}
    if policy:
        args["gitops_policy"] = policy
    return run_module("bruno.ops.container_env", args, check=check)


def test_refuse_is_the_default_and_changes_nothing(managed):
    rc, result, _raw = set_ttl("600")
    assert rc != 0 and result["error"]["kind"] == "guardrail"
    assert "managed by Kustomization flux-system/gitops-policy" in result["msg"]
    assert result["error"].get("change", {}).get("changed") is not True
    assert session_ttl() == GIT_TTL and flux.kustomization_status(NAME)["suspended"] is False


def test_check_mode_touches_neither_the_kustomization_nor_the_workload(managed):
    rc, result, _raw = set_ttl("600", policy="suspend", check=True)
    assert rc == 0 and result["changed"] is True
    assert result["gitops"]["suspension"]["applied"] is False
    assert session_ttl() == GIT_TTL and flux.kustomization_status(NAME)["suspended"] is False


def test_suspend_keeps_the_change_and_its_undo_lets_flux_restore_git(managed):
    rc, result, _raw = set_ttl("600", policy="suspend")
    assert rc == 0 and result["changed"] is True, result
    change = result["change"]
    assert change["gitops"]["suspension"]["applied"] is True
    assert change["gitops"]["git"]["json6902"] == [
        {"op": "replace", "path": "/spec/template/spec/containers/0/env/0/value", "value": "600"}]
    assert "flux resume kustomization gitops-policy -n flux-system" in change["undo"]
    samples, deadline = [], time.monotonic() + 1.5 * INTERVAL + 5
    while time.monotonic() < deadline:
        samples.append(session_ttl())
        time.sleep(2)
    assert set(samples) == {"600"}
    flux.set_suspended(NAME, False)  # the undo's resume
    wait_for(lambda: session_ttl() == GIT_TTL, "Flux to restore SESSION_TTL from Git", INTERVAL + 10, 1.0)


def test_patch_only_is_reverted_by_the_next_reconcile(managed):
    rc, result, _raw = set_ttl("900", policy="patch-only")
    assert rc == 0 and result["changed"] is True
    assert any("reverts this change" in w for w in result.get("warnings") or [])
    wait_for(lambda: session_ttl() == GIT_TTL, "Flux to revert the patch", 2 * INTERVAL + 5, 1.0)

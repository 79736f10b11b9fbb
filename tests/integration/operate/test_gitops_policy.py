"""gitops_policy against a real Flux kustomize-controller (labctl.flux): refuse changes nothing, check mode touches
neither the Kustomization nor the workload, suspend keeps the change for the whole window and its undo (resume)
lets Flux restore Git's state (and verify's gitops check sees the change held, then the revert), patch-only is
reverted by the next reconcile; the HPA is guarded like the Deployment; flux_suspension resumes only expired
bruno.ops suspensions; the diagnosis names the Kustomization.

Objects only in flux-system (Kustomization and GitRepository gitops-policy) and namespace gitops-policy."""

import json
import time

import pytest
import yaml

from bruno_it import ADMIN_KUBECONFIG, create_namespace, delete_namespace, kubectl, run_module, run_playbook, wait_for
from labctl import flux

pytestmark = pytest.mark.lab

NS = NAME = "gitops-policy"
DEPLOYMENT = "agent-bruno"
HPA = "agent-bruno-hpa"
KUBERNETES = {"kubeconfig": str(ADMIN_KUBECONFIG)}
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
    hpa = {
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": HPA, "namespace": NS},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": DEPLOYMENT},
                 "minReplicas": 1, "maxReplicas": 3,
                 "metrics": [{"type": "Resource", "resource": {"name": "memory", "target": {
                     "type": "Utilization", "averageUtilization": 80}}}]},
    }
    (directory / "deployment.yaml").write_text(yaml.safe_dump(deployment))
    (directory / "hpa.yaml").write_text(yaml.safe_dump(hpa))
    (directory / "kustomization.yaml").write_text(yaml.safe_dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        "resources": ["deployment.yaml", "hpa.yaml"]}))
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
    held = gitops_verdict(change)
    assert held["passed"] is True and "1 field(s) as changed" in held["summary"], held
    flux.set_suspended(NAME, False)  # the undo's resume
    wait_for(lambda: session_ttl() == GIT_TTL, "Flux to restore SESSION_TTL from Git", INTERVAL + 10, 1.0)
    reverted = gitops_verdict(change)
    assert reverted["passed"] is False
    assert "is '86400' again, not '600'" in reverted["summary"] and "no longer suspended" in reverted["summary"]


def gitops_verdict(change):
    """remediation_verify's gitops check of this change record entry (a 1 s window: only the re-read matters)."""
    rc, result, raw = run_module("bruno.ops.remediation_verify", {
        "kubernetes": KUBERNETES, "namespace": NS, "name": DEPLOYMENT, "window": "1s", "interval": "1s",
        "health": False, "chat": False, "changes": [change], "fail_on_failure": False})
    assert rc == 0, raw
    (check,) = [c for c in result["checks"] if c["check"] == "gitops"]
    return check


def hpa_bounds():
    out = kubectl("-n", NS, "get", "hpa", HPA, "-o", "json").stdout
    spec = json.loads(out)["spec"]
    return spec.get("minReplicas"), spec["maxReplicas"]


def test_the_hpa_is_guarded_like_the_deployment(managed):
    args = {"kubernetes": KUBERNETES, "namespace": NS, "name": DEPLOYMENT, "min_replicas": 2, "wait": False}
    rc, result, _raw = run_module("bruno.ops.workload_scale", args)
    assert rc != 0 and result["error"]["kind"] == "guardrail", result
    assert "hpa gitops-policy/agent-bruno-hpa is managed by Kustomization flux-system/gitops-policy" in result["msg"]
    assert result["error"]["change"]["changed"] is False
    assert hpa_bounds() == (1, 3)
    rc, result, _raw = run_module("bruno.ops.workload_scale", dict(args, gitops_policy="suspend"), check=True)
    assert rc == 0 and result["changed"] is True and result["gitops"]["suspension"]["applied"] is False
    assert result["change"]["gitops"]["git"]["json6902"] == [{"op": "replace", "path": "/spec/minReplicas",
                                                              "value": 2}]
    assert hpa_bounds() == (1, 3) and flux.kustomization_status(NAME)["suspended"] is False


def test_flux_suspension_resumes_only_expired_bruno_ops_suspensions(managed):
    args = {"kubernetes": KUBERNETES, "namespace": flux.NAMESPACE}
    try:
        flux.set_suspended(NAME, True)  # a person's suspension: no bruno.ops annotation
        rc, result, _raw = run_module("bruno.ops.flux_suspension", args)
        assert rc == 0 and result["changed"] is False and result["resumed"] == [], result
        assert flux.kustomization_status(NAME)["suspended"] is True
        for until, resumed in (("2999-01-01T00:00:00Z", False), ("2020-01-01T00:00:00Z", True)):
            kubectl("-n", flux.NAMESPACE, "annotate", "--overwrite", "kustomization", NAME,
                    "bruno.ops/suspended-reason=test", "bruno.ops/suspended-until=%s" % until)
            rc, result, _raw = run_module("bruno.ops.flux_suspension", args, check=True, diff=True)
            assert rc == 0 and result["changed"] is resumed, result
            assert [r["kustomization"] for r in result["resumed"]] == (["flux-system/gitops-policy"] if resumed else [])
            assert flux.kustomization_status(NAME)["suspended"] is True  # check mode
        rc, result, _raw = run_module("bruno.ops.flux_suspension", args)
        assert rc == 0 and result["changed"] is True
        assert flux.kustomization_status(NAME)["suspended"] is False
        annotations = json.loads(kubectl("-n", flux.NAMESPACE, "get", "kustomization", NAME, "-o", "json").stdout)[
            "metadata"].get("annotations") or {}
        assert "bruno.ops/suspended-until" not in annotations
        rc, result, _raw = run_module("bruno.ops.flux_suspension", args)
        assert rc == 0 and result["changed"] is False
    finally:
        flux.set_suspended(NAME, False)


def test_the_diagnosis_names_the_kustomization(managed, tmp_path):
    out = run_playbook("playbooks/diagnose.yml", {
        "diagnose_report_dir": str(tmp_path), "diagnose_namespace": NS, "diagnose_probe": False,
        "diagnose_redis": None, "diagnose_mongodb": None, "diagnose_prometheus": None, "diagnose_agent": None})
    assert out.returncode == 0, out.stdout[-3000:]
    assert "deployed by: deployment agent-bruno: Kustomization flux-system/gitops-policy" in out.stdout
    report = (tmp_path / "diagnosis.md").read_text()
    assert "- **Deployed by:** Kustomization flux-system/gitops-policy" in report
    assert "## Deployed by" in report and "interval %ds" % INTERVAL in report
    assert "horizontalpodautoscaler agent-bruno-hpa: Kustomization flux-system/gitops-policy" in report
    assert "bruno_gitops_policy=suspend" in report
    owners = json.loads((tmp_path / "diagnosis.json").read_text())["extra"]["ownership"]
    (entry,) = owners["workloads"]
    assert entry["source"]["last_applied_revision"] == managed["revision"]
    assert entry["hpas"][0]["owner"]["name"] == NAME


def test_patch_only_is_reverted_by_the_next_reconcile(managed):
    rc, result, _raw = set_ttl("900", policy="patch-only")
    assert rc == 0 and result["changed"] is True
    assert any("reverts this change" in w for w in result.get("warnings") or [])
    wait_for(lambda: session_ttl() == GIT_TTL, "Flux to revert the patch", 2 * INTERVAL + 5, 1.0)

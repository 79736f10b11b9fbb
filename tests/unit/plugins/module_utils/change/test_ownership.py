"""ownership: the workloads of a set of pods, the state of the GitOps source that applies them, and the lines the
report shows; verify's gitops check; flux_suspension's choice of what to resume."""

import datetime

from ansible_collections.bruno.ops.plugins.module_utils.change import gitops, ownership
from ansible_collections.bruno.ops.plugins.module_utils.decide import verify_checks
from ansible_collections.bruno.ops.plugins.modules import flux_suspension

NOW = datetime.datetime(2026, 12, 3, 12, 0, tzinfo=datetime.timezone.utc)
FLUX = {"manager": "flux", "kind": "Kustomization", "name": "agent-bruno", "namespace": "flux-system", "evidence": []}
ARGO = {"manager": "argocd", "kind": "Application", "name": "agent-bruno", "namespace": None, "evidence": []}


def pod(kind, name, controller=True):
    return {"metadata": {"ownerReferences": [{"kind": kind, "name": name, "controller": controller}]}}


def test_pods_lead_to_their_deployment_through_the_replicaset():
    replica_sets = {("ReplicaSet", "agent-bruno-7d9f"): {"metadata": {"ownerReferences": [
        {"kind": "Deployment", "name": "agent-bruno"}]}}}
    pods = [pod("ReplicaSet", "agent-bruno-7d9f"), pod("ReplicaSet", "agent-bruno-7d9f"),
            pod("StatefulSet", "redis"), pod("ReplicaSet", "gone"), pod("Node", "n1", controller=False)]
    assert ownership.workloads_of_pods(pods, replica_sets) == [("Deployment", "agent-bruno"), ("StatefulSet", "redis")]


def kustomization(suspend=False, until=None):
    annotations = {gitops.SUSPENDED_UNTIL: until, gitops.SUSPENDED_REASON: "INC-1"} if until else {}
    return {"metadata": {"annotations": annotations},
            "spec": {"suspend": suspend, "interval": "10m", "path": "./apps/agent-bruno"},
            "status": {"lastAppliedRevision": "main@sha1:abc", "conditions": [
                {"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded", "message": "Applied"}]}}


def test_a_kustomization_state_says_whether_a_patch_survives():
    state = ownership.source_state(FLUX, kustomization(), NOW)
    assert (state["suspended"], state["interval"], state["last_applied_revision"], state["ready"]) == (
        False, "10m", "main@sha1:abc", "True")
    assert state["reverts_changes"] is True and state["suspended_by_bruno_ops"] is None
    expired = ownership.source_state(FLUX, kustomization(True, "2026-12-03T11:00:00Z"), NOW)
    assert expired["reverts_changes"] is False
    assert expired["suspended_by_bruno_ops"] == {"reason": "INC-1", "until": "2026-12-03T11:00:00Z", "expired": True}
    line = ownership.describe({"kind": "Deployment", "name": "agent-bruno", "owner": FLUX, "source": expired})
    assert line == ("deployment agent-bruno: Kustomization flux-system/agent-bruno, suspended, interval 10m, last "
                    "applied main@sha1:abc, suspended by bruno.ops until 2026-12-03T11:00:00Z (EXPIRED)")


def test_argo_application_and_missing_sources():
    app = {"spec": {"syncPolicy": {"automated": {"selfHeal": True}}, "source": {"path": "k8s"}},
           "status": {"sync": {"revision": "9f1c", "status": "Synced"}, "health": {"status": "Healthy"}}}
    assert ownership.source_ref(ARGO) == ("argocd", "agent-bruno")
    state = ownership.source_state(ARGO, app, NOW)
    assert state["self_heal"] is True and state["reverts_changes"] is True and state["revision"] == "9f1c"
    missing = dict(ownership.source_state(FLUX, None, NOW), error="not found")
    entry = {"kind": "Deployment", "name": "agent-bruno", "owner": FLUX, "source": missing}
    assert "could not be read (not found)" in ownership.describe(entry)
    nothing = {"kind": "Deployment", "name": "x", "owner": gitops.owner({}), "source": None}
    summary = ownership.summarize([dict(entry, hpas=[]), dict(nothing, hpas=[])])
    assert summary["managed"] is True and summary["sources"] == ["Kustomization flux-system/agent-bruno"]
    assert summary["lines"][1] == "deployment x: applied by nothing that reconciles (a patch stays)"
    assert ownership.summarize([dict(nothing, hpas=[])])["managed"] is False


def item(now, action="suspend", suspended=True):
    return {"target": "deployment bruno/agent-bruno container agent-bruno", "action": action, "suspended": suspended,
            "owner": "Kustomization flux-system/agent-bruno",
            "fields": [{"path": "/spec/template/spec/containers/0/env/3/value", "after": "3600", "now": now}]}


def test_the_gitops_check_fails_on_a_revert_only_under_a_suspension():
    assert verify_checks.gitops_check([item("3600")])["passed"] is True
    reverted = verify_checks.gitops_check([item("86400")])
    assert reverted["passed"] is False and "is '86400' again, not '3600'" in reverted["summary"]
    lifted = verify_checks.gitops_check([item("3600", suspended=False)])
    assert lifted["passed"] is False and "no longer suspended" in lifted["summary"]
    accepted = verify_checks.gitops_check([item("86400", action="patch-only", suspended=None)])
    assert accepted["passed"] is True and "reverted as accepted (patch-only)" in accepted["summary"]


def test_flux_suspension_resumes_expired_bruno_ops_suspensions_only():
    def named(name, obj):
        obj["metadata"].update(name=name, namespace="flux-system")
        return obj

    items = [named("expired", kustomization(True, "2026-12-03T11:00:00Z")),
             named("later", kustomization(True, "2026-12-03T13:00:00Z")),
             named("by-a-person", kustomization(True)),
             named("resumed-already", kustomization(False, "2026-12-03T11:00:00Z")),
             named("unreadable", kustomization(True, "tomorrow"))]
    resume, kept = flux_suspension.due(items, NOW, expired_only=True)
    assert [r["kustomization"] for r in resume] == ["flux-system/expired", "flux-system/unreadable"]
    assert [r["kustomization"] for r in kept] == ["flux-system/later"]
    resume, kept = flux_suspension.due(items, NOW, expired_only=False)
    assert len(resume) == 3 and kept == []

"""gitops: who owns a workload, what gitops_policy lets a change do, and the change for Git."""

import pytest

from ansible_collections.bruno.ops.plugins.module_utils import errors
from ansible_collections.bruno.ops.plugins.module_utils.change import gitops

REF = "deployment bruno/agent-bruno"


def deployment(labels=None, annotations=None, managers=()):
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "agent-bruno", "namespace": "bruno", "labels": labels or {},
                         "annotations": annotations or {},
                         "managedFields": [{"manager": m, "operation": "Apply"} for m in managers]}}


FLUX = deployment({gitops.FLUX_NAME: "agent-bruno", gitops.FLUX_NAMESPACE: "flux-system"},
                  managers=("kustomize-controller", "kube-controller-manager"))
ARGO = deployment(annotations={gitops.ARGO_TRACKING: "argocd_agent-bruno:apps/Deployment:bruno/agent-bruno"})
HELM = deployment(annotations={gitops.HELM_RELEASE: "bruno", gitops.HELM_RELEASE_NAMESPACE: "bruno"},
                  managers=("helm",))


def test_flux_is_found_by_its_labels_with_the_field_manager_as_evidence():
    found = gitops.owner(FLUX)
    assert (found["manager"], found["kind"], found["namespace"], found["name"]) == (
        "flux", "Kustomization", "flux-system", "agent-bruno")
    assert found["evidence"] == ["label kustomize.toolkit.fluxcd.io/name=agent-bruno",
                                 "field manager kustomize-controller"]


def test_argo_helm_and_nothing():
    argo = gitops.owner(ARGO)
    assert (argo["manager"], argo["namespace"], argo["name"]) == ("argocd", "argocd", "agent-bruno")
    assert gitops.owner(HELM)["manager"] == "helm"
    assert gitops.owner(deployment(managers=("kubectl-client-side-apply",)))["manager"] is None
    # the field manager alone still says Flux applies it
    assert gitops.owner(deployment(managers=("kustomize-controller",)))["manager"] == "flux"


def test_refuse_is_the_default_and_names_the_owner_and_the_ways_out():
    with pytest.raises(errors.BrunoOpsError) as caught:
        gitops.policy_action(gitops.owner(FLUX), gitops.DEFAULT_POLICY, REF)
    assert caught.value.kind == errors.GUARDRAIL
    message = str(caught.value)
    assert "managed by Kustomization flux-system/agent-bruno" in message and "nothing changed" in message
    assert "commit the change to the Git source" in message and "gitops_policy=suspend" in message


def test_suspend_is_for_flux_only_and_argo_says_how_to_pause_self_heal():
    assert gitops.policy_action(gitops.owner(FLUX), "suspend", REF) == ("suspend", None)
    with pytest.raises(errors.BrunoOpsError, match="argocd app set agent-bruno --self-heal=false"):
        gitops.policy_action(gitops.owner(ARGO), "suspend", REF)
    action, warning = gitops.policy_action(gitops.owner(ARGO), "patch-only", REF)
    assert action == "patch" and "reverts this change" in warning


def test_unmanaged_patches_and_plain_helm_warns():
    assert gitops.policy_action(gitops.owner(deployment()), "refuse", REF) == ("patch", None)
    action, warning = gitops.policy_action(gitops.owner(HELM), "refuse", REF)
    assert action == "patch" and "helm upgrade reverts" in warning


def test_a_wrong_policy_is_one_clear_error():
    with pytest.raises(errors.BrunoOpsError, match="gitops_policy: 'pause' is not one of refuse, suspend, "
                                                   "patch-only") as caught:
        gitops.check_policy("pause")
    assert caught.value.kind == errors.INVALID


def test_the_suspension_and_its_undo():
    got = gitops.suspension(gitops.owner(FLUX), "OOM incident", 1_790_000_000, 3600)
    assert got["patch"]["spec"] == {"suspend": True} and got["undo"]["spec"] == {"suspend": False}
    assert got["patch"]["metadata"]["annotations"]["bruno.ops/suspended-until"] == got["expires"]
    assert got["undo"]["metadata"]["annotations"] == {"bruno.ops/suspended-reason": None,
                                                      "bruno.ops/suspended-until": None}
    assert got["resume"].startswith("flux resume kustomization agent-bruno -n flux-system")


def test_the_change_for_git():
    path = "/spec/template/spec/containers/0/env/3/value"
    fragment = {"spec": {"template": {"spec": {"containers": [
        {"name": "agent-bruno", "env": [{"name": "SESSION_TTL", "value": "3600"}]}]}}}}
    got = gitops.git_change(FLUX, [(path, "86400", "3600", fragment)])
    assert got["target"] == {"group": "apps", "version": "v1", "kind": "Deployment", "name": "agent-bruno"}
    assert got["json6902"] == [{"op": "replace", "path": path, "value": "3600"}]
    assert got["strategic_merge"]["spec"]["template"]["spec"]["containers"][0]["env"] == [
        {"name": "SESSION_TTL", "value": "3600"}]
    assert got["kustomization_entry"]["patches"][0]["target"]["kind"] == "Deployment"
    assert got["fields"] == [{"path": path, "before": "86400", "after": "3600"}]

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


def with_ttl(obj, ttl, replicas=2):
    obj = dict(obj)
    obj["spec"] = {"replicas": replicas, "template": {"spec": {"containers": [
        {"name": "agent-bruno", "image": "agent:1", "env": [{"name": "PORT", "value": "8080"},
                                                            {"name": "MONGODB_DB", "value": "agent_bruno"},
                                                            {"name": "REDIS_URL", "value": "redis://redis:6379"},
                                                            {"name": "SESSION_TTL", "value": ttl}]}]}}}
    return obj


def test_spec_fields_match_named_items():
    fields = gitops.spec_fields(with_ttl(FLUX, "86400"), with_ttl(FLUX, "3600", replicas=3))
    assert [(f["pointer"], f["before"], f["after"]) for f in fields] == [
        ("/spec/replicas", 2, 3), ("/spec/template/spec/containers/0/env/3/value", "86400", "3600")]
    assert fields[1]["fragment"] == {"spec": {"template": {"spec": {"containers": [
        {"name": "agent-bruno", "env": [{"name": "SESSION_TTL", "value": "3600"}]}]}}}}


def test_a_field_the_gitops_controller_does_not_own_is_not_reverted():
    obj = dict(FLUX, metadata=dict(FLUX["metadata"], managedFields=[{
        "manager": "kustomize-controller", "operation": "Apply",
        "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {'k:{"name":"agent-bruno"}': {
            "f:env": {'k:{"name":"SESSION_TTL"}': {".": {}, "f:name": {}, "f:value": {}}}}}}}}}}]))
    found = gitops.owner(obj)
    ttl = [("key", "spec"), ("key", "template"), ("key", "spec"), ("key", "containers"), ("name", "agent-bruno"),
           ("key", "env"), ("name", "SESSION_TTL"), ("key", "value")]
    restarted = [("key", "spec"), ("key", "template"), ("key", "metadata"), ("key", "annotations"),
                 ("key", "kubectl.kubernetes.io/restartedAt")]
    assert gitops.owned_by_gitops(obj, ttl, found) is True
    assert gitops.owned_by_gitops(obj, restarted, found) is False
    assert gitops.owned_by_gitops(FLUX, restarted, found) is True  # no fieldsV1: assume it is owned


def test_the_change_for_git():
    path = "/spec/template/spec/containers/0/env/3/value"
    got = gitops.git_change(FLUX, gitops.spec_fields(with_ttl(FLUX, "86400"), with_ttl(FLUX, "3600")))
    assert got["target"] == {"group": "apps", "version": "v1", "kind": "Deployment", "name": "agent-bruno"}
    assert got["json6902"] == [{"op": "replace", "path": path, "value": "3600"}]
    assert got["strategic_merge"]["spec"]["template"]["spec"]["containers"][0]["env"] == [
        {"name": "SESSION_TTL", "value": "3600"}]
    assert got["kustomization_entry"]["patches"][0]["target"]["kind"] == "Deployment"
    where = [["key", "spec"], ["key", "template"], ["key", "spec"], ["key", "containers"], ["name", "agent-bruno"],
             ["key", "env"], ["name", "SESSION_TTL"], ["key", "value"]]
    assert got["fields"] == [{"path": path, "before": "86400", "after": "3600", "where": where}]
    # found by name wherever the items are: the env reordered by a reconcile
    moved = with_ttl(FLUX, "3600")
    env = moved["spec"]["template"]["spec"]["containers"][0]["env"]
    env.reverse()
    assert gitops.value_at(moved, where) == "3600"
    assert gitops.value_at(moved, where[:-2] + [["name", "NOT_THERE"], ["key", "value"]]) is None


# --------------------------------------------------------------------------- workload.guard_gitops with a fake API

class FakeCustom:
    def __init__(self, kustomization):
        self.kustomization, self.patches = kustomization, []

    def get_namespaced_custom_object(self, *args, **_kw):
        assert args[:2] == ("kustomize.toolkit.fluxcd.io", "v1") and args[3] == "kustomizations"
        if self.kustomization is None:
            raise LookupError
        return self.kustomization

    def patch_namespaced_custom_object(self, *args, **_kw):
        _group, _version, namespace, _plural, name, body = args
        self.patches.append((namespace, name, body))
        return body


class FakeClient:
    def __init__(self, kustomization):
        self.custom = FakeCustom(kustomization)

    def call(self, action, func, *args, **kwargs):
        try:
            return func(*args, **kwargs)
        except LookupError:
            raise errors.BrunoOpsError("cannot %s: not found" % action, errors.NOT_FOUND) from None


class FakeWorkload:
    ref = REF

    def __init__(self, kustomization):
        self.client = FakeClient(kustomization)


KUSTOMIZATION = {"spec": {"interval": "10m", "suspend": False},
                 "status": {"lastAppliedRevision": "main@sha1:abc"}}


def guard(policy, check_mode=False, kustomization="default", before=None):
    from ansible_collections.bruno.ops.plugins.module_utils.change import workload  # noqa: PLC0415

    kustomization = KUSTOMIZATION if kustomization == "default" else kustomization
    before = FLUX if before is None else before
    fake = FakeWorkload(kustomization)
    info = workload.guard_gitops(fake, with_ttl(before, "86400"), with_ttl(before, "3600"), policy, check_mode,
                                 reason="OOM incident", seconds=3600, now=1_790_000_000)
    return info, fake.client.custom.patches


def test_suspend_patches_the_kustomization_then_records_it():
    info, patches = guard("suspend")
    assert info["action"] == "suspend" and info["suspension"]["applied"] is True
    assert patches == [("flux-system", "agent-bruno", info["suspension"]["patch"])]
    assert info["suspension"]["interval"] == "10m" and info["suspension"]["last_applied_revision"] == "main@sha1:abc"
    assert info["git"]["json6902"] == [{"op": "replace", "path": "/spec/template/spec/containers/0/env/3/value",
                                        "value": "3600"}]


def test_check_mode_touches_no_kustomization():
    info, patches = guard("suspend", check_mode=True)
    assert patches == [] and info["suspension"]["applied"] is False


def test_refuse_and_a_missing_kustomization_change_nothing():
    with pytest.raises(errors.BrunoOpsError, match="managed by Kustomization flux-system/agent-bruno"):
        guard("refuse")
    with pytest.raises(errors.BrunoOpsError, match="which is not there") as caught:
        guard("suspend", kustomization=None)
    assert caught.value.kind == errors.GUARDRAIL


def test_an_unmanaged_workload_just_patches():
    info, patches = guard("refuse", before=deployment())
    assert info is None and patches == []

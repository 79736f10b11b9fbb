"""image_policy (change/workload.py): image reference parsing, which containers a change-making module flags, the
decision table (warn / pin / refuse, digest known or not), and change() threading it into the patch, the
before/after and the change record. No apiserver: the workload is a fake that answers like one."""

import copy

import pytest

from ansible_collections.bruno.ops.plugins.module_utils import errors
from ansible_collections.bruno.ops.plugins.module_utils.change import record, workload
from ansible_collections.bruno.ops.plugins.modules import rollout_restart

DIGEST = "sha256:" + "4f" * 32
OTHER = "sha256:" + "a1" * 32


@pytest.mark.parametrize(("ref", "name", "registry", "tag", "digest"), [
    ("nginx", "nginx", None, None, None),
    ("nginx:1.27", "nginx", None, "1.27", None),
    ("library/nginx:latest", "library/nginx", None, "latest", None),
    ("ghcr.io/brunovlucena/agent-bruno:latest", "ghcr.io/brunovlucena/agent-bruno", "ghcr.io", "latest", None),
    ("localhost:5000/agent:v1", "localhost:5000/agent", "localhost:5000", "v1", None),
    ("registry:5000/team/agent", "registry:5000/team/agent", "registry:5000", None, None),
    ("localhost/agent", "localhost/agent", "localhost", None, None),
    ("reg.example.com:8443/a/b:2.0@" + DIGEST, "reg.example.com:8443/a/b", "reg.example.com:8443", "2.0", DIGEST),
    ("nginx@" + DIGEST, "nginx", None, None, DIGEST),
])
def test_parse_image(ref, name, registry, tag, digest):
    parsed = workload.parse_image(ref)
    assert (parsed["name"], parsed["registry"], parsed["tag"], parsed["digest"]) == (name, registry, tag, digest)


@pytest.mark.parametrize(("container", "flagged", "reason"), [
    ({"image": "ghcr.io/b/agent:latest", "imagePullPolicy": "Always"}, True, "tag :latest without a digest"),
    ({"image": "ghcr.io/b/agent"}, True, "no tag (means :latest) and no digest"),  # Always by default
    ({"image": "ghcr.io/b/agent:latest"}, True, "tag :latest without a digest"),
    ({"image": "ghcr.io/b/agent:v1.2", "imagePullPolicy": "Always"}, True, "tag :v1.2 without a digest"),
    ({"image": "ghcr.io/b/agent:v1.2"}, False, None),  # IfNotPresent by default: running nodes keep their copy
    ({"image": "ghcr.io/b/agent:latest", "imagePullPolicy": "IfNotPresent"}, False, None),
    ({"image": "ghcr.io/b/agent:latest@" + DIGEST, "imagePullPolicy": "Always"}, False, None),
    ({"image": "localhost:5000/agent", "imagePullPolicy": "Always"}, True, "no tag (means :latest) and no digest"),
])
def test_which_containers_are_flagged(container, flagged, reason):
    obj = deployment([dict(container, name="c")])
    found = workload.image_findings(obj)
    assert bool(found) is flagged
    if flagged:
        assert found[0]["reason"] == reason and found[0]["pull_policy"] == "Always" and found[0]["index"] == 0


def test_init_containers_are_flagged_too():
    obj = deployment([{"name": "c", "image": "a@" + DIGEST}])
    obj["spec"]["template"]["spec"]["initContainers"] = [{"name": "init", "image": "busybox:latest"}]
    (found,) = workload.image_findings(obj)
    assert found["container"] == "init" and found["init"] is True


def deployment(containers=None, replicas=2):
    containers = containers or [{"name": "agent-bruno", "image": "ghcr.io/b/agent-bruno:latest",
                                 "imagePullPolicy": "Always"}]
    return {"metadata": {"name": "agent-bruno", "namespace": "bruno", "resourceVersion": "7", "uid": "u",
                         "annotations": {workload.REVISION: "3"}, "generation": 3},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "agent-bruno"}},
                     "template": {"metadata": {"labels": {"app": "agent-bruno"}},
                                  "spec": {"containers": containers}}},
            "status": {"observedGeneration": 3, "replicas": replicas, "updatedReplicas": replicas,
                       "readyReplicas": replicas, "availableReplicas": replicas}}


def pod(name, image_id, container="agent-bruno", deleting=False):
    meta = {"name": name}
    if deleting:
        meta["deletionTimestamp"] = "2026-12-02T20:00:00Z"
    return {"metadata": meta, "status": {"containerStatuses": [{"name": container, "imageID": image_id}]}}


RUNNING = [pod("a", "ghcr.io/b/agent-bruno@" + DIGEST), pod("b", "docker-pullable://ghcr.io/b/agent-bruno@" + DIGEST),
           pod("old", "ghcr.io/b/agent-bruno@" + OTHER, deleting=True)]


def test_running_digests_skip_terminating_pods_and_bare_image_ids():
    assert workload.running_digests(RUNNING, "agent-bruno") == ({DIGEST: 2}, 0)
    kwok = [pod("a", ""), pod("b", "sha256:" + "0" * 64)]  # no imageID; an image ID is not a repository digest
    assert workload.running_digests(kwok, "agent-bruno") == ({}, 2)


FINDINGS = workload.image_findings(deployment())
REF = "deployment bruno/agent-bruno"


# The decision table: (policy, pods, new pods) -> action, or the guardrail's words; nothing is changed on a raise.
@pytest.mark.parametrize(("policy", "pods", "new_pods", "action", "raises"), [
    ("warn", RUNNING, True, "warned", None),
    ("warn", None, True, "warned", None),
    ("pin", RUNNING, True, "pinned", None),
    ("pin", [pod("a", "")], True, None, "no running pod reports its image digest"),
    ("pin", None, True, None, "the pods were not read"),
    ("pin", [pod("a", "x@" + DIGEST), pod("b", "x@" + OTHER)], True, None, "the running pods report 2 digests"),
    ("refuse", RUNNING, True, None, "refusing to change deployment bruno/agent-bruno with image_policy=refuse"),
    ("refuse", RUNNING, False, "none", None),  # a change that starts no pods pulls nothing
    ("pin", [], False, "none", None),
])
def test_image_policy_decision_table(policy, pods, new_pods, action, raises):
    if raises:
        with pytest.raises(errors.BrunoOpsError, match=raises) as caught:
            workload.plan_images(FINDINGS, pods, policy, REF, new_pods=new_pods)
        assert caught.value.kind == errors.GUARDRAIL and "nothing was changed" in caught.value.message
        assert "image_policy" in caught.value.message and caught.value.details["images"]["containers"]
        return
    report, ops, warnings = workload.plan_images(FINDINGS, pods, policy, REF, new_pods=new_pods)
    assert report["action"] == action and report["policy"] == policy
    assert bool(warnings) is (action == "warned") and bool(ops) is (action == "pinned")
    if action == "pinned":
        assert ops == [{"op": "replace", "path": "/spec/template/spec/containers/0/image",
                        "value": "ghcr.io/b/agent-bruno:latest@" + DIGEST}]
        assert report["containers"][0]["pinned_to"] == "ghcr.io/b/agent-bruno:latest@" + DIGEST
    if action == "warned":
        assert "image_policy=pin" in warnings[0] and "ghcr.io/b/agent-bruno:latest" in warnings[0]


def test_nothing_mutable_is_action_none():
    obj = deployment([{"name": "c", "image": "a:1@" + DIGEST, "imagePullPolicy": "Always"}])
    report, ops, warnings = workload.plan_images(workload.image_findings(obj), RUNNING, "refuse", REF, new_pods=True)
    assert (report["action"], ops, warnings) == ("none", [], [])


class FakeWorkload(workload.Workload):
    """A Deployment as the apiserver keeps it: JSON patches applied (dry run or not), pods as given."""

    def __init__(self, obj, pods):
        self.client, self.namespace, self.name, self.kind = None, "bruno", "agent-bruno", "Deployment"
        self.ref = "deployment bruno/agent-bruno"
        self.obj, self.running, self.writes = obj, pods, []

    def read(self):
        return copy.deepcopy(self.obj)

    def patch(self, ops, dry_run=False):
        obj = copy.deepcopy(self.obj)
        for op in ops:
            parts = [p.replace("~1", "/") for p in op["path"].split("/")[1:]]
            if op["op"] == "test":
                assert obj["metadata"]["resourceVersion"] == op["value"]
                continue
            target = obj
            for part in parts[:-1]:
                target = target[int(part)] if isinstance(target, list) else target.setdefault(part, {})
            key = int(parts[-1]) if isinstance(target, list) else parts[-1]
            target[key] = op["value"]
        if not dry_run:
            obj["metadata"]["resourceVersion"] = str(int(obj["metadata"]["resourceVersion"]) + 1)
            self.obj = obj
            self.writes.append(ops)
        return copy.deepcopy(obj)

    def pods(self, obj):
        return self.running

    def replica_sets(self, obj):
        return []


def restart_ops(obj):
    return [{"op": "add", "path": "/spec/template/metadata/annotations",
             "value": {rollout_restart.RESTARTED_AT: "2026-12-02T20:30:00Z"}}]


def view(obj):
    return {"restarted_at": rollout_restart.restarted_at(obj)}


def test_pin_goes_into_the_same_patch_and_shows_in_the_diff():
    target = FakeWorkload(deployment(), RUNNING)
    predicted = workload.change(target, restart_ops, view, True, wait=False, image_policy="pin")
    assert target.writes == []  # check mode: dry runs only
    assert predicted["before"]["images"] == {"agent-bruno": "ghcr.io/b/agent-bruno:latest"}
    assert predicted["after"]["images"] == {"agent-bruno": "ghcr.io/b/agent-bruno:latest@" + DIGEST}
    assert predicted["images"]["action"] == "pinned" and predicted["changed"] is True
    result = workload.change(target, restart_ops, view, False, wait=False, image_policy="pin")
    (ops,) = target.writes  # one patch: the restart and the pin, one rollout
    assert {op["path"] for op in ops} == {"/metadata/resourceVersion", "/spec/template/metadata/annotations",
                                          "/spec/template/spec/containers/0/image"}
    assert result["after"] == predicted["after"]
    note = workload.images_note(target, result["images"])
    assert note.startswith("image pinned: agent-bruno ghcr.io/b/agent-bruno:latest -> ghcr.io/b/agent-bruno:latest@")
    assert "kubectl -n bruno set image deployment/agent-bruno agent-bruno=ghcr.io/b/agent-bruno:latest" in note


def test_pin_without_a_known_digest_changes_nothing_and_records_the_refusal():
    target = FakeWorkload(deployment(), [pod("kwok-a", "")])
    with pytest.raises(errors.BrunoOpsError, match="image_policy=pin cannot pin") as caught:
        workload.change(target, restart_ops, view, False, wait=False, image_policy="pin")
    assert target.writes == []
    exc = record.with_refusal(caught.value, "restart", target.ref)
    entry = exc.details["change"]
    assert entry["changed"] is False and entry["images"]["action"] == "refused"
    assert entry["note"].startswith("refused: image_policy=pin cannot pin")


def test_warn_changes_as_asked_and_says_so():
    target = FakeWorkload(deployment(), [pod("kwok-a", "")])
    result = workload.change(target, restart_ops, view, False, wait=False, image_policy="warn")
    (ops,) = target.writes
    assert all("image" not in op["path"] for op in ops)
    assert result["images"]["action"] == "warned" and result["warnings"]
    assert "images" not in result["after"]
    assert workload.images_note(target, result["images"]).startswith("image warned: container agent-bruno runs")


def test_scaling_down_starts_no_pods_so_refuse_lets_it_through():
    target = FakeWorkload(deployment(replicas=3), RUNNING)
    down = [{"op": "replace", "path": "/spec/replicas", "value": 2}]
    result = workload.change(target, lambda obj: down, lambda obj: {"replicas": obj["spec"]["replicas"]}, False,
                             wait=False, image_policy="refuse")
    assert result["changed"] is True and result["images"]["action"] == "none"
    up = [{"op": "replace", "path": "/spec/replicas", "value": 4}]
    with pytest.raises(errors.BrunoOpsError, match="image_policy=refuse"):
        workload.change(target, lambda obj: up, lambda obj: {"replicas": obj["spec"]["replicas"]}, False,
                        wait=False, image_policy="refuse")
    assert target.obj["spec"]["replicas"] == 2

#!/usr/bin/python
# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: workload_scale
short_description: Scale a Deployment, or the bounds of the HorizontalPodAutoscaler that drives it
version_added: 0.2.0
description:
  - Without an HPA on the workload, sets C(spec.replicas) to O(replicas) and waits until they are ready.
  - When an HPA targets the workload, its replica count belongs to the HPA, and a write to C(spec.replicas) would
    be undone at its next sync. The module then never touches C(spec.replicas) and sets the HPA's
    C(minReplicas) / C(maxReplicas) instead. O(replicas) becomes the new minimum (and the maximum is raised to it
    when lower); O(min_replicas) and O(max_replicas) set the bounds directly.
  - Bounds are checked before anything is changed. Replicas and minimum are at least 1. The minimum must not be
    above the maximum. Nothing may exceed O(max_replicas_cap).
  - More replicas (or higher HPA bounds) start pods, which pull a mutable image again; O(image_policy) applies.
    With C(pin) and an HPA, the Deployment's images are pinned first (a rollout of the same code), then the HPA
    is changed.
author:
  - bruno.ops contributors (@bruno-ops)
extends_documentation_fragment:
  - bruno.ops.attributes
  - bruno.ops.attributes.change_module
  - bruno.ops.kubernetes
  - bruno.ops.workload
  - bruno.ops.workload.WAIT
  - bruno.ops.workload.IMAGE
  - bruno.ops.workload.GITOPS
options:
  replicas:
    description: Desired replicas (or, with an HPA, the new minimum).
    type: int
  min_replicas:
    description: The HPA's new C(minReplicas); fails when no HPA targets the workload.
    type: int
  max_replicas:
    description: The HPA's new C(maxReplicas); fails when no HPA targets the workload.
    type: int
  max_replicas_cap:
    description: No replica count or HPA bound may exceed this; a guardrail against a typo such as 200 for 20.
    type: int
    default: 20
attributes:
  check_mode:
    details: The patch (Deployment or HPA) is sent as a server-side dry run.
"""

EXAMPLES = r"""
- name: Run at least 4 agent-bruno pods (sets the HPA's minReplicas when an HPA scales it)
  bruno.ops.workload_scale:
    namespace: bruno
    name: agent-bruno
    replicas: 4

- name: Widen the HPA's range
  bruno.ops.workload_scale:
    namespace: bruno
    name: agent-bruno
    min_replicas: 3
    max_replicas: 8
"""

RETURN = r"""
target:
  description: What was scaled, C(deployment) or C(hpa), and its name.
  returned: always
  type: dict
  sample: {kind: hpa, name: agent-bruno-hpa}
before:
  description: Replicas (no HPA) or the HPA's bounds and current replicas, before.
  returned: always
  type: dict
  sample: {min_replicas: 2, max_replicas: 5, current_replicas: 2}
after:
  description: The same after the change (in check mode, the dry run's answer).
  returned: always
  type: dict
  sample: {min_replicas: 4, max_replicas: 5, current_replicas: 2}
undo:
  description: Options of this module that put the previous values back.
  returned: always
  type: dict
  sample: {min_replicas: 2, max_replicas: 5}
notes:
  description: What the caller should know, e.g. that an HPA owns the replica count (also shown as warnings).
  returned: always
  type: list
  elements: str
  sample: ["hpa bruno/agent-bruno-hpa scales deployment bruno/agent-bruno: its bounds were changed instead"]
images:
  description:
    - What O(image_policy) found and did - C(action) C(none) (nothing mutable, or the change starts no pods),
      C(warned) or C(pinned) (a refusal fails, with this in the error's C(images)); per container the image, its
      pull policy, why it is mutable, the digests the running pods report and what it was pinned to.
  returned: always
  type: dict
  sample: {policy: warn, action: warned, new_pods: true,
           containers: [{container: agent-bruno, init: false, image: "ghcr.io/brunovlucena/agent-bruno:latest",
                         pull_policy: Always, reason: "tag :latest without a digest",
                         running_digests: ["sha256:4f1c...e9"], pods_without_digest: 0, pinned_to: null}]}
change:
  description:
    - This call's entry for a change record (action C(scale)) - C(before) and C(after) as above; C(undo) is the
      C(kubectl scale) (or, for an HPA, C(kubectl patch hpa)) that puts the previous values back.
    - Its C(images) is RV(images); C(note) says C(image warned) / C(image pinned) (with the C(kubectl set image)
      that puts the tag back). A change refused before it was made carries its entry in the error's C(change).
  returned: always
  type: dict
  sample: {action: scale, target: hpa bruno/agent-bruno-hpa, changed: true,
           before: {min_replicas: 2, max_replicas: 5, current_replicas: 2},
           after: {min_replicas: 4, max_replicas: 5, current_replicas: 2},
           undo: "kubectl -n bruno patch hpa agent-bruno-hpa --type=merge -p '{\"spec\": {\"minReplicas\": 2,
             \"maxReplicas\": 5}}'", note: "hpa bruno/agent-bruno-hpa scales deployment bruno/agent-bruno: ..."}
rollout:
  description: The Deployment's rollout state when the wait for ready replicas ended (no HPA).
  returned: when spec.replicas changed and O(wait=true), not in check mode
  type: dict
  sample: {complete: true, desired: 4, ready: 4}
"""

import json
import shlex

from ansible_collections.bruno.ops.plugins.module_utils import errors, module_run
from ansible_collections.bruno.ops.plugins.module_utils.change import workload
from ansible_collections.bruno.ops.plugins.module_utils.change.record import change_entry, join_notes, with_refusal
from ansible_collections.bruno.ops.plugins.module_utils.clients.k8s_client import kubernetes_option

ARGUMENT_SPEC = dict(kubernetes=kubernetes_option(), replicas=dict(type="int"), min_replicas=dict(type="int"),
                     max_replicas=dict(type="int"), max_replicas_cap=dict(type="int", default=20),
                     **workload.workload_options(), **workload.wait_options(), **workload.image_options(),
                     **workload.gitops_options())


def plan_bounds(current_min, current_max, *, replicas, min_replicas, max_replicas, cap):
    """The HPA's new (min, max) from the options; raises guardrail naming the option. Pure."""
    new_min = min_replicas if min_replicas is not None else (replicas if replicas is not None else current_min)
    new_max = max_replicas if max_replicas is not None else max(current_max, new_min)
    check_bounds(new_min=new_min, new_max=new_max, cap=cap)
    return new_min, new_max


def check_bounds(new_min=None, new_max=None, replicas=None, cap=20):
    for name, value in (("replicas", replicas), ("min_replicas", new_min), ("max_replicas", new_max)):
        if value is not None and value < 1:
            raise errors.BrunoOpsError("%s must be at least 1 (got %d); scaling to zero is not a remediation"
                                       % (name, value), kind=errors.GUARDRAIL)
        if value is not None and value > cap:
            raise errors.BrunoOpsError("%s %d is above max_replicas_cap %d; raise max_replicas_cap if you mean it"
                                       % (name, value, cap), kind=errors.GUARDRAIL)
    if new_min is not None and new_max is not None and new_min > new_max:
        raise errors.BrunoOpsError("min_replicas %d is above max_replicas %d; the minimum must not exceed the "
                                   "maximum" % (new_min, new_max), kind=errors.GUARDRAIL)


def validate(params):
    if all(params[k] is None for k in ("replicas", "min_replicas", "max_replicas")):
        raise errors.BrunoOpsError("nothing to do: set replicas, or min_replicas / max_replicas of the HPA",
                                   kind=errors.INVALID)
    workload.check_wait_options(params)
    workload.check_gitops_options(params)
    if params["max_replicas_cap"] < 1:
        raise errors.BrunoOpsError("max_replicas_cap must be at least 1", kind=errors.INVALID)
    check_bounds(params["min_replicas"], params["max_replicas"], params["replicas"], params["max_replicas_cap"])


def scale_hpa(client, target, hpa, params, check_mode):
    ref = "hpa %s/%s" % (target.namespace, hpa["metadata"]["name"])
    spec = hpa["spec"]
    new_min, new_max = plan_bounds(spec.get("minReplicas", 1), spec["maxReplicas"], replicas=params["replicas"],
                                   min_replicas=params["min_replicas"], max_replicas=params["max_replicas"],
                                   cap=params["max_replicas_cap"])

    def view(obj):
        return {"min_replicas": obj["spec"].get("minReplicas", 1), "max_replicas": obj["spec"]["maxReplicas"],
                "current_replicas": (obj.get("status") or {}).get("currentReplicas")}

    before = view(hpa)
    result = dict(target={"kind": "hpa", "name": hpa["metadata"]["name"]}, before=before,
                  undo={"min_replicas": before["min_replicas"], "max_replicas": before["max_replicas"]},
                  notes=["%s scales %s: its bounds were changed instead of spec.replicas" % (ref, target.ref)])
    ops = [{"op": "add", "path": "/spec/minReplicas", "value": new_min},
           {"op": "replace", "path": "/spec/maxReplicas", "value": new_max}]
    obj = target.read()
    grows = new_min > before["min_replicas"] or new_max > before["max_replicas"]
    images, pin_ops, warnings = workload.guard_images(target, obj, params["image_policy"], new_pods=grows)
    result.update(images=images, warnings=warnings)
    if (new_min, new_max) == (before["min_replicas"], before["max_replicas"]):
        return dict(result, changed=False, after=before)
    ops = workload.guarded(hpa, ops)
    patch = client.autoscaling.patch_namespaced_horizontal_pod_autoscaler
    name = hpa["metadata"]["name"]
    predicted = client.call_json("patch %s" % ref, patch, name, target.namespace, ops, dry_run="All")
    # An HPA applied from Git is reverted by the next reconcile like the Deployment: the same gitops_policy,
    # decided before anything (the image pin included) is changed.
    managed = workload.guard_gitops(target, hpa, predicted, params["gitops_policy"], check_mode,
                                    reason=params["gitops_reason"], seconds=params["gitops_suspend_seconds"], ref=ref)
    if managed is not None:
        result["gitops"] = managed
        if managed.get("warning"):
            result["warnings"] = result["warnings"] + [managed["warning"]]
    if pin_ops:
        pinned = workload.change(target, lambda _obj: pin_ops, lambda o: workload.images_view(o, images), check_mode,
                                 wait=params["wait"], wait_timeout=params["wait_timeout"],
                                 rollback_on_failure=params["rollback_on_failure"], image_policy=None,
                                 **workload.gitops_args(params))
        before = dict(before, images=pinned["before"])
        result.update(before=before, revision_before=pinned["revision_before"],
                      revision_after=pinned["revision_after"])
    after = predicted
    if not check_mode:
        after = client.call_json("patch %s" % ref, patch, name, target.namespace, ops)
    after = view(after)
    if pin_ops:
        after["images"] = pinned["after"]
    return dict(result, changed=True, after=after)


def change_of(target, result):
    """The change-record entry; undo is the kubectl command that puts the previous replicas or bounds back."""
    if result["target"]["kind"] == "hpa":
        name = result["target"]["name"]
        undo = result["undo"]
        bounds = {"spec": {"minReplicas": undo["min_replicas"], "maxReplicas": undo["max_replicas"]}}
        ref = "hpa %s/%s" % (target.namespace, name)
        undo = target.command("patch", "hpa", name, "--type=merge", "-p", shlex.quote(json.dumps(bounds)))
    else:
        ref = target.ref
        undo = target.command("scale", target.resource, "--replicas=%s" % result["undo"]["replicas"])
    return change_entry("scale", ref, changed=result["changed"], before=result["before"], after=result["after"],
                        undo=undo if result["changed"] else "nothing to undo",
                        note=join_notes(*result["notes"], workload.images_note(target, result.get("images"))),
                        images=result.get("images"), gitops=result.get("gitops"))


def scale_deployment(target, params, check_mode):
    if params["replicas"] is None:
        raise errors.BrunoOpsError("min_replicas / max_replicas need an HPA, and none targets %s; set replicas"
                                   % target.ref, kind=errors.INVALID)
    return workload.change_as_asked(
        target,
        lambda obj: [] if obj["spec"].get("replicas") == params["replicas"] else [
            {"op": "replace", "path": "/spec/replicas", "value": params["replicas"]}],
        lambda obj: {"replicas": obj["spec"].get("replicas")},
        params, check_mode, rollback_on_failure=False)


def run(params, check_mode):
    validate(params)
    with workload.opened(params) as (client, target):
        hpas = target.hpas()
        if len(hpas) > 1:
            raise errors.BrunoOpsError("%d HPAs target %s (%s); leave one" % (
                len(hpas), target.ref, ", ".join(h["metadata"]["name"] for h in hpas)), kind=errors.CONFLICT)
        try:
            if hpas:
                result = scale_hpa(client, target, hpas[0], params, check_mode)
                return dict(result, change=change_of(target, result))
            result = scale_deployment(target, params, check_mode)
        except errors.BrunoOpsError as exc:
            raise with_refusal(exc, "scale", target.ref) from None
    result.update(target={"kind": params["kind"].lower(), "name": params["name"]}, notes=[],
                  undo={"replicas": result["before"]["replicas"]})
    if "rollout" in result:
        result["rollout"] = {k: result["rollout"][k] for k in ("complete", "desired", "ready")}
    result["change"] = change_of(target, result)
    return result


def main():
    module_run.main(ARGUMENT_SPEC, run)


if __name__ == "__main__":
    main()

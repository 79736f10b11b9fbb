#!/usr/bin/python
# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: rollout_restart
short_description: Restart a Deployment's pods the way kubectl rollout restart does, wait, roll back on failure
version_added: 0.2.0
description:
  - Sets the pod template annotation C(kubectl.kubernetes.io/restartedAt) to now, so the controller replaces
    every pod with a new one through a normal rolling update (respecting maxUnavailable and PodDisruptionBudgets
    of evictions), then waits until the rollout is complete.
  - When the rollout does not complete within O(wait_timeout), the previous pod template is put back and the
    module fails with kind C(rollout_failed), naming the old and new ReplicaSets.
  - The runbook's fix for a memory leak and for exhausted connection pools, since new processes start empty.
  - A restart is a change every time it runs. O(not_within) makes a rerun idempotent - when the pods were
    already restarted that recently, nothing is done and C(changed=false).
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
  not_within:
    description:
      - Skip the restart when the template's C(restartedAt) is more recent than this duration (C(90s), C(15m),
        C(1h)), for example because an earlier run of the same playbook did it. Unset restarts every time.
    type: str
attributes:
  check_mode:
    details: The annotation patch is sent as a server-side dry run; nothing restarts.
"""

EXAMPLES = r"""
- name: Restart agent-bruno unless it was restarted in the last 15 minutes
  bruno.ops.rollout_restart:
    kubernetes: {kubeconfig: ~/.kube/config}
    namespace: bruno
    name: agent-bruno
    not_within: 15m
    wait_timeout: 600
  register: restart

- name: Say which ReplicaSets ran before and after
  ansible.builtin.debug:
    msg: "{{ restart.old_replica_set }} -> {{ restart.new_replica_set }}"
"""

RETURN = r"""
before:
  description: The template's restart annotation and the desired replicas before.
  returned: always
  type: dict
  sample: {restarted_at: null, replicas: 2}
after:
  description: The same after the restart (in check mode, the dry run's answer).
  returned: always
  type: dict
  sample: {restarted_at: "2026-11-29T03:12:09Z", replicas: 2}
restarted_at:
  description: When the pods were (or, in check mode, would be) restarted; the existing time when skipped.
  returned: always
  type: str
  sample: "2026-11-29T03:12:09Z"
skipped_reason:
  description: Why nothing was done (O(not_within)).
  returned: when the restart was skipped
  type: str
  sample: pods were restarted at 2026-11-29T03:12:09Z, within not_within=15m
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
    - This call's entry for a change record (action C(restart)) - the restart time and the ReplicaSet of the pods
      before and after. A restart only replaces the pods, so C(undo) says there is nothing to undo.
    - Its C(images) is RV(images); C(note) says C(image warned) / C(image pinned) (with the C(kubectl set image)
      that puts the tag back). A change refused before it was made carries its entry in the error's C(change).
  returned: always
  type: dict
  sample: {action: restart, target: deployment bruno/agent-bruno, changed: true,
           before: {restarted_at: null, replica_set: agent-bruno-5d8f7c9b6},
           after: {restarted_at: "2026-11-29T03:12:09Z", replica_set: agent-bruno-7b9c6d5f4},
           undo: "nothing to undo: a restart only replaces the pods", note: ""}
revision_before:
  description: The Deployment's revision before the restart.
  returned: always
  type: str
  sample: "4"
revision_after:
  description: Its revision after the restart.
  returned: always
  type: str
  sample: "5"
old_replica_set:
  description: The ReplicaSet whose pods were replaced.
  returned: when changed and not in check mode, for a Deployment
  type: str
  sample: agent-bruno-5d8f7c9b6
new_replica_set:
  description: The ReplicaSet of the new pods.
  returned: when changed and not in check mode, for a Deployment
  type: str
  sample: agent-bruno-7b9c6d5f4
rollout:
  description: The rollout's state when the wait ended.
  returned: when changed and O(wait=true), not in check mode
  type: dict
  sample: {complete: true, desired: 2, updated: 2, ready: 2, available: 2, total: 2, observed: true,
           failed: false, reason: complete}
waited:
  description: Seconds spent waiting for the rollout.
  returned: when changed and O(wait=true), not in check mode
  type: float
  sample: 12.3
rolled_back:
  description: Whether the template was rolled back (true only in the error details of a failed run).
  returned: when changed and O(wait=true), not in check mode
  type: bool
  sample: false
"""

from ansible_collections.bruno.ops.plugins.module_utils import errors, module_run
from ansible_collections.bruno.ops.plugins.module_utils.change import workload
from ansible_collections.bruno.ops.plugins.module_utils.change.record import change_entry, join_notes, with_refusal
from ansible_collections.bruno.ops.plugins.module_utils.clients.k8s_client import kubernetes_option
from ansible_collections.bruno.ops.plugins.module_utils.durations import iso, parse_duration, parse_time, utcnow

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


ARGUMENT_SPEC = dict(kubernetes=kubernetes_option(), not_within=dict(type="str"), **workload.workload_options(),
                     **workload.wait_options(), **workload.image_options(), **workload.gitops_options())


def restarted_at(obj):
    return ((obj["spec"]["template"].get("metadata") or {}).get("annotations") or {}).get(RESTARTED_AT)


def recent_restart(obj, not_within, now):
    """The reason to skip, when the template was restarted less than `not_within` seconds before `now`."""
    if not not_within:
        return None
    last = parse_time(restarted_at(obj))
    if last and (now - last).total_seconds() < not_within:
        return "pods were restarted at %s, within not_within=%ss" % (iso(last), int(not_within))
    return None


def run(params, check_mode):
    try:
        not_within = parse_duration(params["not_within"], "not_within") if params["not_within"] else None
    except ValueError as exc:
        raise errors.BrunoOpsError(str(exc), kind=errors.INVALID) from None
    workload.check_wait_options(params)
    now = utcnow()
    stamp = iso(now)
    skipped = {}

    def build(obj):
        skipped["reason"] = recent_restart(obj, not_within, now)
        if skipped["reason"]:
            return []
        if (obj["spec"]["template"].get("metadata") or {}).get("annotations") is None:
            return [{"op": "add", "path": "/spec/template/metadata/annotations", "value": {RESTARTED_AT: stamp}}]
        return [{"op": "add", "path": "/spec/template/metadata/annotations/%s" % RESTARTED_AT.replace("/", "~1"),
                 "value": stamp}]

    def view(obj):
        return {"restarted_at": restarted_at(obj), "replicas": obj["spec"].get("replicas")}

    with workload.opened(params) as (_client, target):
        try:
            result = workload.change_as_asked(target, build, view, params, check_mode)
        except errors.BrunoOpsError as exc:
            raise with_refusal(exc, "restart", target.ref) from None
    result["restarted_at"] = result["after"]["restarted_at"]
    if skipped.get("reason"):
        result["skipped_reason"] = skipped["reason"]
    result["change"] = change_entry(
        "restart", target.ref, changed=result["changed"],
        before={"restarted_at": result["before"]["restarted_at"], "replica_set": result.get("old_replica_set")},
        after={"restarted_at": result["after"]["restarted_at"], "replica_set": result.get("new_replica_set")},
        undo="nothing to undo: a restart only replaces the pods (the template is the same but for restartedAt)",
        note=join_notes(skipped.get("reason"), workload.images_note(target, result.get("images"))),
        images=result.get("images"), gitops=result.get("gitops"))
    return result


def main():
    module_run.main(ARGUMENT_SPEC, run)


if __name__ == "__main__":
    main()

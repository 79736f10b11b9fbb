#!/usr/bin/python
# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: container_env
short_description: Set or unset environment variables of a Deployment's container, e.g. SESSION_TTL
version_added: 0.2.0
description:
  - Sets the variables in O(env) to plain values and removes those in O(unset) from one container of the pod
    template, then waits for the rollout and rolls the template back if it does not complete.
  - The runbook's fix for "too many active sessions" lowers C(SESSION_TTL) from 86400 (24 h) to 3600 (1 h).
  - A variable set from C(valueFrom) (a Secret or ConfigMap reference) and named in O(env) becomes a plain value;
    one only in O(unset) is removed. Other variables and their order are kept.
  - A rerun with the same values changes nothing and reports C(changed=false).
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
  container:
    description: Container whose environment is changed; may be omitted when the pod has only one.
    type: str
  env:
    description:
      - Variables to set, name to value. Values are strings in the pod spec; numbers are converted.
      - Do not put secrets here; reference a Secret from the manifest instead (values show in --diff).
    type: dict
    default: {}
  unset:
    description: Names of variables to remove.
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    details: The patch is sent as a server-side dry run; the predicted C(after) is the apiserver's answer.
"""

EXAMPLES = r"""
- name: Lower agent-bruno's session TTL to one hour (runbook, too many active sessions)
  bruno.ops.container_env:
    kubernetes: {kubeconfig: ~/.kube/config}
    namespace: bruno
    name: agent-bruno
    container: agent-bruno
    env:
      SESSION_TTL: "3600"
    wait_timeout: 300

- name: Remove a debug variable, without waiting for the rollout
  bruno.ops.container_env:
    namespace: bruno
    name: agent-bruno
    unset: [DEBUG_MEMORY]
    wait: false
"""

RETURN = r"""
before:
  description: The container's environment before, name to value (C(valueFrom) entries as their reference).
  returned: always
  type: dict
  sample: {container: agent-bruno, env: {SESSION_TTL: "86400", REDIS_URL: {secretKeyRef: {name: s, key: k}}}}
after:
  description: The container's environment after the change (in check mode, the dry run's answer).
  returned: always
  type: dict
  sample: {container: agent-bruno, env: {SESSION_TTL: "3600"}}
undo:
  description:
    - Options of this module that put the changed variables back as they were (C(env), C(unset)).
    - C(manual) lists variables that came from a C(valueFrom) reference; restore those from the manifest.
  returned: always
  type: dict
  sample: {env: {SESSION_TTL: "86400"}, unset: [], manual: []}
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
    - This call's entry for a change record (action C(set_env)), the variables it touched before and after; C(undo)
      is the C(kubectl set env) that puts them back, C(note) names the revision to roll back to.
    - Its C(images) is RV(images); C(note) says C(image warned) / C(image pinned) (with the C(kubectl set image)
      that puts the tag back). A change refused before it was made carries its entry in the error's C(change).
  returned: always
  type: dict
  sample: {action: set_env, target: deployment bruno/agent-bruno container agent-bruno, changed: true,
           before: {SESSION_TTL: "86400"}, after: {SESSION_TTL: "3600"},
           undo: kubectl -n bruno set env deployment/agent-bruno -c agent-bruno SESSION_TTL=86400,
           note: "revision 3 -> 4; kubectl -n bruno rollout undo deployment/agent-bruno --to-revision=3 puts the
             previous pod template back"}
revision_before:
  description: The Deployment's revision before the change.
  returned: always
  type: str
  sample: "3"
revision_after:
  description: The Deployment's revision after the change (and after a rollback, if one happened).
  returned: always
  type: str
  sample: "4"
old_replica_set:
  description: The ReplicaSet that ran the pods before the change.
  returned: when changed and not in check mode, for a Deployment
  type: str
  sample: agent-bruno-5d8f7c9b6
new_replica_set:
  description: The ReplicaSet that runs the pods now.
  returned: when changed and not in check mode, for a Deployment
  type: str
  sample: agent-bruno-7b9c6d5f4
rollout:
  description: The rollout's state when the wait ended (see bruno.ops.rollout_restart).
  returned: when changed and O(wait=true), not in check mode
  type: dict
  sample: {complete: true, desired: 2, updated: 2, ready: 2, available: 2, reason: complete}
waited:
  description: Seconds spent waiting for the rollout.
  returned: when changed and O(wait=true), not in check mode
  type: float
  sample: 4.1
rolled_back:
  description: Whether the pod template was rolled back (only true on failure, in the error details).
  returned: when changed and O(wait=true), not in check mode
  type: bool
  sample: false
"""

import re
import shlex

from ansible_collections.bruno.ops.plugins.module_utils import errors, module_run
from ansible_collections.bruno.ops.plugins.module_utils.change import workload
from ansible_collections.bruno.ops.plugins.module_utils.change.record import change_entry, join_notes, with_refusal
from ansible_collections.bruno.ops.plugins.module_utils.clients.k8s_client import kubernetes_option

_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")  # the apiserver's rule for env var names


ARGUMENT_SPEC = dict(kubernetes=kubernetes_option(), container=dict(type="str"),
                     env=dict(type="dict", default={}), unset=dict(type="list", elements="str", default=[]),
                     **workload.workload_options(), **workload.wait_options(), **workload.image_options(),
                     **workload.gitops_options())


def validate(params):
    """The values to set, as strings; raises invalid_input naming the option."""
    env = {}
    for name, value in (params["env"] or {}).items():
        if not _NAME.match(name):
            raise errors.BrunoOpsError("env: %r is not a valid variable name (letters, digits, '-', '.', '_', not "
                                       "starting with a digit)" % name, kind=errors.INVALID)
        if value is None or isinstance(value, (dict, list)):
            raise errors.BrunoOpsError("env.%s must be a string or number; to remove a variable list it in unset"
                                       % name, kind=errors.INVALID)
        env[name] = str(value).lower() if isinstance(value, bool) else str(value)
    both = sorted(set(env) & set(params["unset"]))
    if both:
        raise errors.BrunoOpsError("%s is both in env and in unset; keep it in one of them" % ", ".join(both),
                                   kind=errors.INVALID)
    workload.check_wait_options(params)
    if not env and not params["unset"]:
        raise errors.BrunoOpsError("nothing to do: set env (name: value) and/or unset (names)", kind=errors.INVALID)
    return env


def desired_env(current, env, unset):
    """The new env list: existing entries kept in order (changed in place or dropped), new names appended."""
    result = []
    for entry in current:
        name = entry["name"]
        if name in unset:
            continue
        result.append({"name": name, "value": env[name]} if name in env else entry)
    known = {entry["name"] for entry in current}
    result.extend({"name": name, "value": env[name]} for name in sorted(env) if name not in known)
    return result


def env_view(container):
    return {entry["name"]: entry["value"] if "valueFrom" not in entry else entry["valueFrom"]
            for entry in container.get("env") or []}


def undo_options(before, env, unset):
    """What puts back the variables this call touches: old values, and names that did not exist to unset."""
    restore = {name: before[name] for name in list(env) + list(unset) if name in before}
    return {"env": {k: v for k, v in restore.items() if isinstance(v, str)},
            "unset": sorted(name for name in env if name not in before),
            "manual": sorted(k for k, v in restore.items() if not isinstance(v, str))}


def change_of(target, result, touched):
    """The change-record entry: the touched variables before and after, and the kubectl set env that undoes it."""
    container, undo = result["before"]["container"], result["undo"]
    restore = ["%s=%s" % (name, shlex.quote(value)) for name, value in sorted(undo["env"].items())]
    restore += ["%s-" % name for name in undo["unset"]]
    command = target.command("set", "env", target.resource, "-c", container, *restore) if restore else ""
    manual = ("restore %s from the manifest (a valueFrom reference)" % ", ".join(undo["manual"])
              if undo["manual"] else "")
    note = join_notes(manual, workload.rollback_note(target, result),
                      workload.images_note(target, result.get("images")))
    return change_entry("set_env", "%s container %s" % (target.ref, container), changed=result["changed"],
                        before={name: result["before"]["env"].get(name) for name in touched},
                        after={name: result["after"]["env"].get(name) for name in touched},
                        undo=" and ".join(part for part in (command, manual) if part) if result["changed"]
                        else "nothing to undo", note=note, images=result.get("images"),
                        gitops=result.get("gitops"))


def run(params, check_mode):
    env = validate(params)
    unset = set(params["unset"])
    index = {}

    def container_of(obj):
        if "i" not in index:
            index["i"] = workload.container_index(obj, params["container"], target.ref)
        return obj["spec"]["template"]["spec"]["containers"][index["i"]]

    def build(obj):
        current = container_of(obj).get("env") or []
        new = desired_env(current, env, unset)
        if new == current:
            return []
        return [{"op": "add", "path": "/spec/template/spec/containers/%d/env" % index["i"], "value": new}]

    def view(obj):
        container = container_of(obj)
        return {"container": container["name"], "env": env_view(container)}

    with workload.opened(params) as (_client, target):
        try:
            result = workload.change_as_asked(target, build, view, params, check_mode)
        except errors.BrunoOpsError as exc:
            raise with_refusal(exc, "set_env", target.ref) from None
    result["undo"] = undo_options(result["before"]["env"], env, unset)
    result["change"] = change_of(target, result, sorted(env) + sorted(unset))
    return result


def main():
    module_run.main(ARGUMENT_SPEC, run)


if __name__ == "__main__":
    main()

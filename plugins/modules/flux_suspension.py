#!/usr/bin/python
# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: flux_suspension
short_description: Resume the Flux Kustomizations bruno.ops suspended, once their expiry has passed
version_added: 0.5.0
description:
  - A change made with C(gitops_policy=suspend) suspends the owning Flux Kustomization and records a reason and an
    expiry on it (annotations C(bruno.ops/suspended-reason) and C(bruno.ops/suspended-until)). The change record's
    undo resumes it; this module is the safety net, run on a schedule, for the suspension nobody lifted.
  - Lists the Kustomizations of O(namespace) (every namespace when unset) and resumes (C(spec.suspend=false), the
    two annotations removed) each one carrying C(bruno.ops/suspended-until) in the past. Flux then re-applies Git's
    state at its next reconcile, which reverts the emergency change unless it was committed to Git.
  - A Kustomization suspended by a person (no bruno.ops annotation) is never touched. With O(expired_only=false)
    and O(name), that one Kustomization is resumed now, if bruno.ops suspended it.
  - Check mode reports what would be resumed and changes nothing; C(--diff) shows each one's suspension before and
    after; a second run reports C(changed=false).
author:
  - bruno.ops contributors (@bruno-ops)
extends_documentation_fragment:
  - bruno.ops.kubernetes
  - bruno.ops.attributes
  - bruno.ops.attributes.change_module
options:
  namespace:
    description:
      - Namespace of the Kustomizations; every namespace when unset (needs list on kustomizations, cluster-wide).
    type: str
  name:
    description: Only this Kustomization (needs O(namespace)).
    type: str
  expired_only:
    description: Resume only suspensions whose C(bruno.ops/suspended-until) has passed; V(false) resumes O(name) now.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Resume what bruno.ops suspended and nobody resumed (an AWX schedule every 15 minutes)
  bruno.ops.flux_suspension:
    namespace: flux-system
  register: resumed

- name: End one suspension now
  bruno.ops.flux_suspension:
    namespace: flux-system
    name: agent-bruno
    expired_only: false
"""

RETURN = r"""
resumed:
  description: The Kustomizations resumed (in check mode, that would be), as namespace/name, with reason and expiry.
  returned: always
  type: list
  elements: dict
  sample: [{kustomization: flux-system/agent-bruno, reason: "bruno.ops emergency change",
            until: "2026-12-03T14:00:00Z"}]
kept:
  description: Kustomizations bruno.ops suspended whose expiry has not passed yet.
  returned: always
  type: list
  elements: dict
  sample: [{kustomization: flux-system/agent-bruno, reason: "INC-42", until: "2026-12-03T18:00:00Z"}]
change:
  description: The change-record entry (action C(resume_gitops)); its undo suspends the resumed ones again.
  returned: always
  type: dict
  sample: {action: resume_gitops, target: "kustomizations flux-system", changed: true, undo: "kubectl -n flux-system
           patch kustomization agent-bruno --type merge -p '{\"spec\":{\"suspend\":true}}'"}
"""

from ansible_collections.bruno.ops.plugins.module_utils import errors, module_run
from ansible_collections.bruno.ops.plugins.module_utils.change import gitops, ownership, workload
from ansible_collections.bruno.ops.plugins.module_utils.change.record import change_entry
from ansible_collections.bruno.ops.plugins.module_utils.clients.k8s_client import K8sClient, kubernetes_option
from ansible_collections.bruno.ops.plugins.module_utils.durations import utcnow

ARGUMENT_SPEC = dict(
    kubernetes=kubernetes_option(),
    namespace=dict(type="str"),
    name=dict(type="str"),
    expired_only=dict(type="bool", default=True),
)


def listed(client, params):
    group, version, plural = workload.KUSTOMIZATION
    if params["name"]:
        found = workload.kustomization(client, params["namespace"], params["name"])
        return [found] if found else []
    if params["namespace"]:
        return client.list_all("list kustomizations in %s" % params["namespace"],
                               client.custom.list_namespaced_custom_object, group, version, params["namespace"], plural)
    return client.list_all("list kustomizations", client.custom.list_cluster_custom_object, group, version, plural)


def due(items, now, expired_only):
    """(to resume, kept): bruno.ops' suspensions, split by their expiry. Pure."""
    resume, kept = [], []
    for item in items:
        meta = item.get("metadata") or {}
        annotations = meta.get("annotations") or {}
        until = annotations.get(ownership.SUSPENDED_UNTIL)
        if until is None or not (item.get("spec") or {}).get("suspend"):
            continue
        when = ownership.parse_rfc3339(until)
        row = {"kustomization": "%s/%s" % (meta.get("namespace"), meta.get("name")),
               "reason": annotations.get(ownership.SUSPENDED_REASON), "until": until}
        # an unreadable expiry is treated as passed: a suspension must not outlive its record
        (resume if not expired_only or when is None or when <= now else kept).append(row)
    return resume, kept


def run(params, check_mode, module):
    if params["name"] and not params["namespace"]:
        raise errors.BrunoOpsError("name needs namespace (the Kustomization's)", kind=errors.INVALID)
    if not params["expired_only"] and not params["name"]:
        raise errors.BrunoOpsError("expired_only=false resumes one Kustomization now: set name (and namespace)",
                                   kind=errors.INVALID)
    client = K8sClient(params["kubernetes"] or {})
    now = utcnow()
    try:
        resume, kept = due(listed(client, params), now, params["expired_only"])
        for row in resume if not check_mode else []:
            namespace, name = row["kustomization"].split("/", 1)
            workload.set_kustomization(client, namespace, name, gitops.RESUME)
    finally:
        client.close()
    redo = "; ".join("kubectl -n %s patch kustomization %s --type merge -p '{\"spec\":{\"suspend\":true}}'"
                     % tuple(r["kustomization"].split("/", 1)) for r in resume)
    result = dict(changed=bool(resume), resumed=resume, kept=kept,
                  change=change_entry("resume_gitops", "kustomizations %s" % (params["namespace"] or "(all)"),
                                      changed=bool(resume), before={r["kustomization"]: "suspended" for r in resume},
                                      after={r["kustomization"]: "resumed" for r in resume},
                                      undo=redo or "nothing to undo",
                                      note="Flux re-applies Git's state at the next reconcile" if resume else ""))
    if module._diff:
        result["diff"] = {"before": {r["kustomization"]: {"suspend": True, "until": r["until"]} for r in resume},
                          "after": {r["kustomization"]: {"suspend": False} for r in resume}}
    return result


def main():
    module_run.main(ARGUMENT_SPEC, run, with_module=True)


if __name__ == "__main__":
    main()

#!/usr/bin/python
# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: workload_owner_info
short_description: Who applies a workload and its HPA from Git (Flux, Argo CD, Helm or nothing), and that source's state
version_added: 0.5.0
description:
  - Finds the workloads of the pods matching O(label_selector) (pod, ReplicaSet, Deployment; or
    ReplicationController, DeploymentConfig), or reads the workload O(name), and the HPAs that scale them.
  - For each, tells who applies it, from its labels, annotations and C(managedFields). Flux's kustomize-controller
    (C(kustomize.toolkit.fluxcd.io/name) and C(/namespace) labels, or its field manager), Flux's helm-controller,
    Argo CD (C(argocd.argoproj.io/tracking-id) annotation or C(argocd.argoproj.io/instance) label), Helm
    (C(meta.helm.sh/release-name)), or nothing.
  - Reads the owning Flux Kustomization or HelmRelease (suspended, reconcile interval, last applied revision,
    Ready, and whether bruno.ops suspended it and until when) or Argo CD Application (automated sync, self-heal,
    revision). A source that cannot be read is reported with the reason; the rest is still returned.
  - A patch to a workload whose source reconciles (not suspended, or self-heal on) is undone at the next
    reconcile; the change modules' O(bruno.ops.container_env#module:gitops_policy) acts on what this module reports.
author:
  - bruno.ops contributors (@bruno-ops)
extends_documentation_fragment:
  - bruno.ops.kubernetes
  - bruno.ops.pod_selection
  - bruno.ops.pod_selection.label_selector
  - bruno.ops.attributes
  - bruno.ops.attributes.info_module
options:
  name:
    description: The workload; when unset, the workloads of the pods matching O(label_selector).
    type: str
  kind:
    description: Kind of O(name).
    type: str
    default: Deployment
    choices: [Deployment, DeploymentConfig]
"""

EXAMPLES = r"""
- name: Who deploys agent-bruno, and would a patch survive
  bruno.ops.workload_owner_info:
    namespace: bruno
    label_selector: app=agent-bruno
  register: owner

- name: Refuse to go on when a reconciling GitOps source owns it
  ansible.builtin.assert:
    that: not owner.summary.managed
    fail_msg: "{{ owner.summary.lines | join('; ') }}"
"""

RETURN = r"""
workloads:
  description: Each workload with its owner, the owner's source object and its HPAs (same shape, without C(hpas)).
  returned: always
  type: list
  elements: dict
  sample:
    - kind: Deployment
      name: agent-bruno
      owner: {manager: flux, kind: Kustomization, name: agent-bruno, namespace: flux-system,
              evidence: ["label kustomize.toolkit.fluxcd.io/name=agent-bruno", "field manager kustomize-controller"]}
      source: {kind: Kustomization, namespace: flux-system, name: agent-bruno, found: true, suspended: false,
               interval: 10m, last_applied_revision: "main@sha1:3f2a", ready: "True", reverts_changes: true,
               suspended_by_bruno_ops: null}
      hpas: [{kind: HorizontalPodAutoscaler, name: agent-bruno-hpa, owner: {manager: flux}, source: {found: true}}]
summary:
  description: C(managed) (a workload or HPA is applied from Git), C(managers), C(sources), one line per object.
  returned: always
  type: dict
  sample:
    managed: true
    managers: [flux]
    sources: [Kustomization flux-system/agent-bruno]
    lines: ["deployment agent-bruno: Kustomization flux-system/agent-bruno, not suspended (reverts patches at its next
             reconcile), interval 10m, last applied main@sha1:3f2a"]
notes:
  description: What could not be read and why.
  returned: always
  type: list
  elements: str
  sample: ["no pod matches app=agent-bruno in bruno"]
"""

from ansible_collections.bruno.ops.plugins.module_utils import errors, module_run
from ansible_collections.bruno.ops.plugins.module_utils.change import gitops, ownership, workload
from ansible_collections.bruno.ops.plugins.module_utils.clients.k8s_client import K8sClient, kubernetes_option
from ansible_collections.bruno.ops.plugins.module_utils.durations import utcnow
from ansible_collections.bruno.ops.plugins.module_utils.facts.pod_selection import list_pods, pod_selection_options

ARGUMENT_SPEC = dict(
    kubernetes=kubernetes_option(),
    **pod_selection_options(label_selector=True),
    name=dict(type="str"),
    kind=dict(type="str", default="Deployment", choices=list(workload.KINDS)),
)


def controllers(client, namespace, kinds):
    """{(kind, name): object} of the ReplicaSets / ReplicationControllers in the namespace (only kinds needed)."""
    found = {}
    lists = {"ReplicaSet": client.apps.list_namespaced_replica_set,
             "ReplicationController": client.core.list_namespaced_replication_controller}
    for kind in sorted(kinds & set(lists)):
        for item in client.list_all("list %ss in %s" % (kind.lower(), namespace), lists[kind], namespace):
            found[(kind, item["metadata"]["name"])] = item
    return found


def with_source(client, entry, now, notes):
    found = entry["owner"]
    ref = ownership.source_ref(found)
    if ref is None:
        return entry
    group, version, plural = ownership.SOURCE_RESOURCES[found["manager"]]
    try:
        obj = client.call("get %s %s/%s" % (found["kind"].lower(), ref[0], ref[1]),
                          client.custom.get_namespaced_custom_object, group, version, ref[0], plural, ref[1])
    except errors.BrunoOpsError as exc:
        if exc.kind == errors.UNREACHABLE:
            raise
        entry["source"] = dict(ownership.source_state(found, None, now),
                               error=exc.message if exc.kind != errors.NOT_FOUND else "not found")
        notes.append("%s %s/%s: %s" % (found["kind"], ref[0], ref[1], entry["source"]["error"]))
        return entry
    entry["source"] = ownership.source_state(found, obj, now)
    return entry


def describe_workload(client, namespace, kind_name, now, notes):
    kind, name = kind_name
    target = workload.Workload(client, namespace, name, kind)
    obj = target.read()
    entry = with_source(client, {"kind": kind, "name": name, "owner": gitops.owner(obj), "source": None}, now, notes)
    entry["hpas"] = [with_source(client, {"kind": "HorizontalPodAutoscaler", "name": hpa["metadata"]["name"],
                                          "owner": gitops.owner(hpa), "source": None}, now, notes)
                     for hpa in target.hpas()]
    return entry


def run(params, check_mode=False):
    namespace, notes = params["namespace"], []
    client = K8sClient(params["kubernetes"] or {})
    now = utcnow()
    try:
        if params["name"]:
            targets = [(params["kind"], params["name"])]
        else:
            pods = list_pods(client, namespace, params["label_selector"])
            kinds = {ref.get("kind") for pod in pods for ref in pod["metadata"].get("ownerReferences") or []}
            targets = [t for t in ownership.workloads_of_pods(pods, controllers(client, namespace, kinds))
                       if t[0] in workload.KINDS]
            if not pods:
                notes.append("no pod matches %s in %s" % (params["label_selector"] or "any label", namespace))
        entries = [describe_workload(client, namespace, one, now, notes) for one in targets]
    finally:
        client.close()
    return dict(changed=False, workloads=entries, summary=ownership.summarize(entries), notes=notes)


def main():
    module_run.main(ARGUMENT_SPEC, run)


if __name__ == "__main__":
    main()

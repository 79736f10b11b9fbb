# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who applies a workload and its HPA from Git, and the state of that source object. Pure, no I/O (read-only:
used by the diagnosis as much as by the change modules).

change/gitops.owner() tells the owner from the object's labels, annotations and managedFields; this module finds
the workloads of a set of pods (pod -> ReplicaSet/ReplicationController -> Deployment/DeploymentConfig) and turns
the owning Flux Kustomization / HelmRelease or Argo CD Application into what the on-call person needs: suspended or
not (and whether bruno.ops suspended it, until when), reconcile interval, last applied revision, Ready, self-heal.
"""

from __future__ import annotations

import datetime

from ansible_collections.bruno.ops.plugins.module_utils.change import gitops

# The object each owner's name refers to: (group, version, plural).
SOURCE_RESOURCES = {
    "flux": ("kustomize.toolkit.fluxcd.io", "v1", "kustomizations"),
    "flux-helm": ("helm.toolkit.fluxcd.io", "v2", "helmreleases"),
    "argocd": ("argoproj.io", "v1alpha1", "applications"),
}
ARGO_DEFAULT_NAMESPACE = "argocd"
SUSPENDED_REASON, SUSPENDED_UNTIL = gitops.SUSPENDED_REASON, gitops.SUSPENDED_UNTIL
# What owns a pod's owner: ReplicaSet -> Deployment, ReplicationController -> DeploymentConfig.
PARENTS = {"ReplicaSet": "Deployment", "ReplicationController": "DeploymentConfig"}


def workloads_of_pods(pods, controllers):
    """Sorted [(kind, name)] of the workloads owning `pods`, through `controllers` ({(kind, name): object} of the
    ReplicaSets / ReplicationControllers in the namespace). A pod owned directly by something else (a StatefulSet)
    is its own workload's pod: (that kind, that name)."""
    found = set()
    for pod in pods:
        for ref in (pod.get("metadata") or {}).get("ownerReferences") or []:
            if not ref.get("controller", True):
                continue
            kind, name = ref.get("kind"), ref.get("name")
            if kind in PARENTS:
                parent = controllers.get((kind, name))
                owners = [o for o in ((parent or {}).get("metadata") or {}).get("ownerReferences") or []
                          if o.get("kind") == PARENTS[kind]]
                found.update((o["kind"], o["name"]) for o in owners)
            elif kind:
                found.add((kind, name))
    return sorted(found)


def source_ref(found):
    """(namespace, name) of the object to read for an owner of gitops.owner(), or None (plain Helm, no name)."""
    if found.get("manager") not in SOURCE_RESOURCES or not found.get("name"):
        return None
    namespace = found.get("namespace") or (ARGO_DEFAULT_NAMESPACE if found["manager"] == "argocd" else None)
    return (namespace, found["name"]) if namespace else None


def _condition(obj, kind="Ready"):
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return cond
    return {}


def parse_rfc3339(text):
    try:
        return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    except (TypeError, ValueError):
        return None


def source_state(found, obj, now):
    """What the owner's source object says, for the report and a change's pre-check. `obj` None: not found."""
    kind = found.get("kind")
    ref = source_ref(found)
    state = {"kind": kind, "namespace": ref[0] if ref else None, "name": ref[1] if ref else None,
             "found": obj is not None}
    if obj is None:
        return state
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if found["manager"] == "argocd":
        automated = (spec.get("syncPolicy") or {}).get("automated")
        sync = status.get("sync") or {}
        state.update(auto_sync=automated is not None, self_heal=bool((automated or {}).get("selfHeal")),
                     revision=sync.get("revision"), sync_status=sync.get("status"),
                     health=(status.get("health") or {}).get("status"),
                     path=(spec.get("source") or {}).get("path"), repo=(spec.get("source") or {}).get("repoURL"))
        state["reverts_changes"] = state["self_heal"]
        return state
    ready = _condition(obj)
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    until = annotations.get(SUSPENDED_UNTIL)
    until_time = parse_rfc3339(until)
    history = status.get("history") or []
    revision = status.get("lastAppliedRevision") or (history[0].get("chartVersion") if history else None)
    state.update(suspended=bool(spec.get("suspend")), interval=spec.get("interval"),
                 last_applied_revision=revision, last_attempted_revision=status.get("lastAttemptedRevision"),
                 ready=ready.get("status"), ready_reason=ready.get("reason"),
                 ready_message=(ready.get("message") or "")[:300] or None,
                 path=spec.get("path"), source=spec.get("sourceRef"),
                 suspended_by_bruno_ops={"reason": annotations.get(SUSPENDED_REASON), "until": until,
                                         "expired": bool(until_time and until_time <= now)} if until else None)
    state["reverts_changes"] = not state["suspended"]
    return state


def describe(entry):
    """One line for people: who applies the workload and what that means for a change."""
    owner, source = entry["owner"], entry.get("source")
    what = "%s %s" % (entry["kind"].lower(), entry["name"])
    manager = owner.get("manager")
    if manager is None:
        return "%s: applied by nothing that reconciles (a patch stays)" % what
    label = "%s %s/%s" % (owner.get("kind") or manager, owner.get("namespace"), owner.get("name")) if owner.get(
        "name") else "%s (field manager only)" % manager
    if manager == "helm":
        return "%s: Helm release %s (the next helm upgrade reverts a patch)" % (what, owner.get("name"))
    if not source or not source.get("found"):
        return "%s: %s, which could not be read (%s)" % (what, label, (source or {}).get("error") or "not found")
    if manager == "argocd":
        return "%s: Argo CD Application %s/%s, self-heal %s, revision %s" % (
            what, source["namespace"], source["name"], "on (reverts patches)" if source["self_heal"] else "off",
            source.get("revision") or "unknown")
    bits = ["suspended" if source["suspended"] else "not suspended (reverts patches at its next reconcile)",
            "interval %s" % (source.get("interval") or "unknown"),
            "last applied %s" % (source.get("last_applied_revision") or "nothing yet")]
    mark = source.get("suspended_by_bruno_ops")
    if mark:
        bits.append("suspended by bruno.ops until %s%s" % (mark["until"], " (EXPIRED)" if mark["expired"] else ""))
    return "%s: %s, %s" % (what, label, ", ".join(bits))


def summarize(entries):
    """{managed, managers, sources, lines} over the workloads (and their HPAs)."""
    everything = []
    for entry in entries:
        everything.append(entry)
        everything.extend(entry.get("hpas") or [])
    managed = [e for e in everything if e["owner"].get("manager")]
    sources = sorted({"%s %s/%s" % (e["owner"].get("kind"), e["owner"].get("namespace"), e["owner"].get("name"))
                      for e in managed if e["owner"].get("name")})
    return {"managed": bool(managed), "managers": sorted({e["owner"]["manager"] for e in managed}),
            "sources": sources, "lines": [describe(e) for e in everything]}

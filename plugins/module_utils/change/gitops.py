# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who owns a workload in Git, what a change-making module may do about it, and what must go to Git. Pure.

A workload applied by Flux's kustomize-controller (server-side apply, field manager `kustomize-controller`) is
re-applied from Git on every reconcile, so a patch made here is undone minutes later; Argo CD with self-heal does
the same. `owner()` reads the object's labels, annotations and managedFields; `policy_action()` turns the
`gitops_policy` option into what the module does; `git_change()` is the change for the GitOps source, so it
survives the next reconcile: a strategic-merge patch and a JSON 6902 patch (both kustomize-compatible) and the
plain before/after of the fields.
"""

from __future__ import annotations

import datetime

from ansible_collections.bruno.ops.plugins.module_utils import errors

FLUX_NAME = "kustomize.toolkit.fluxcd.io/name"
FLUX_NAMESPACE = "kustomize.toolkit.fluxcd.io/namespace"
FLUX_HELM_NAME = "helm.toolkit.fluxcd.io/name"
FLUX_HELM_NAMESPACE = "helm.toolkit.fluxcd.io/namespace"
ARGO_TRACKING = "argocd.argoproj.io/tracking-id"
ARGO_INSTANCE = "argocd.argoproj.io/instance"
HELM_RELEASE = "meta.helm.sh/release-name"
HELM_RELEASE_NAMESPACE = "meta.helm.sh/release-namespace"
# Field managers of the controllers that apply from Git (managedFields[].manager).
MANAGERS = {"kustomize-controller": "flux", "helm-controller": "flux-helm", "argocd-controller": "argocd",
            "argocd-application-controller": "argocd", "helm": "helm"}

POLICIES = ("refuse", "suspend", "patch-only")
# What a change does by default when the workload is managed: refuse, naming the owner and the two ways out.
DEFAULT_POLICY = "refuse"


def owner(obj):
    """{manager: flux | flux-helm | argocd | helm | None, name, namespace, evidence: [...]} of a workload object.

    Labels and annotations name the owner (Flux's kustomize labels, Argo CD's tracking annotation or instance
    label, Helm's release annotations); managedFields back them up or, alone, say a controller applies it."""
    meta = obj.get("metadata") or {}
    labels, annotations = meta.get("labels") or {}, meta.get("annotations") or {}
    managers = sorted({entry.get("manager") for entry in meta.get("managedFields") or []
                       if entry.get("manager") in MANAGERS})
    evidence = ["field manager %s" % name for name in managers]
    if labels.get(FLUX_NAME):
        return {"manager": "flux", "kind": "Kustomization", "name": labels[FLUX_NAME],
                "namespace": labels.get(FLUX_NAMESPACE) or meta.get("namespace"),
                "evidence": ["label %s=%s" % (FLUX_NAME, labels[FLUX_NAME])] + evidence}
    if labels.get(FLUX_HELM_NAME):
        return {"manager": "flux-helm", "kind": "HelmRelease", "name": labels[FLUX_HELM_NAME],
                "namespace": labels.get(FLUX_HELM_NAMESPACE) or meta.get("namespace"),
                "evidence": ["label %s=%s" % (FLUX_HELM_NAME, labels[FLUX_HELM_NAME])] + evidence}
    tracking = annotations.get(ARGO_TRACKING)
    if tracking or labels.get(ARGO_INSTANCE) or "argocd" in {MANAGERS[m] for m in managers}:
        # tracking id: "<app>:<group>/<kind>:<namespace>/<name>"; the app may be "<namespace>_<name>"
        app = (tracking or "").split(":", 1)[0] or labels.get(ARGO_INSTANCE)
        app_namespace, _sep, app_name = (app or "").rpartition("_")
        return {"manager": "argocd", "kind": "Application", "name": app_name or app, "namespace": app_namespace or None,
                "evidence": (["annotation %s" % ARGO_TRACKING] if tracking else [])
                + (["label %s" % ARGO_INSTANCE] if labels.get(ARGO_INSTANCE) else []) + evidence}
    if annotations.get(HELM_RELEASE):
        return {"manager": "helm", "kind": "HelmRelease", "name": annotations[HELM_RELEASE],
                "namespace": annotations.get(HELM_RELEASE_NAMESPACE) or meta.get("namespace"),
                "evidence": ["annotation %s" % HELM_RELEASE] + evidence}
    if managers:
        kind = MANAGERS[managers[0]]
        return {"manager": kind, "kind": None, "name": None, "namespace": None, "evidence": evidence}
    return {"manager": None, "kind": None, "name": None, "namespace": None, "evidence": []}


def check_policy(value):
    if value not in POLICIES:
        raise errors.BrunoOpsError("gitops_policy: %r is not one of %s" % (value, ", ".join(POLICIES)),
                                   errors.INVALID)
    return value


def _ways_out(found, ref):
    if found["manager"] == "flux":
        return ("commit the change to the Git source of Kustomization %s/%s, or re-run with gitops_policy=suspend "
                "(suspends it with a reason and an expiry, then patches; the change record's undo resumes it)"
                % (found["namespace"], found["name"]))
    if found["manager"] == "argocd":
        return ("commit the change to the Application's Git source, or pause its self-heal first (`argocd app set "
                "%s --self-heal=false`, or `kubectl -n %s patch application %s --type merge -p "
                "'{\"spec\":{\"syncPolicy\":{\"automated\":{\"selfHeal\":false}}}}'`) and re-run with "
                "gitops_policy=patch-only" % (found["name"], found["namespace"] or "argocd", found["name"]))
    return ("commit the change to the %s that applies %s, or re-run with gitops_policy=patch-only to accept that "
            "its next reconcile reverts it" % (found["kind"] or found["manager"], ref))


def policy_action(found, policy, ref):
    """(action, warning) for a change to a workload `found` owns: action "patch" or "suspend"; raises
    BrunoOpsError (refused, nothing changed) naming the owner and the ways out when the policy forbids it.

    Not managed: patch. Plain Helm (no controller re-applies it): patch, with a warning that the next
    `helm upgrade` reverts it. Flux: refuse / suspend the Kustomization / patch-only. Argo CD: refuse, or
    patch-only once self-heal is paused by a person (bruno.ops does not suspend Argo CD)."""
    check_policy(policy)
    manager = found["manager"]
    if manager is None:
        return "patch", None
    label = "%s %s" % (found["kind"] or manager, "%s/%s" % (found["namespace"], found["name"])
                       if found["name"] else "(field manager only)")
    if manager == "helm":
        return "patch", "%s is a Helm release: the next helm upgrade reverts this change (%s)" % (
            label, _ways_out(found, ref))
    if policy == "patch-only":
        return "patch", "%s manages %s: its next reconcile reverts this change (gitops_policy=patch-only)" % (
            label, ref)
    if policy == "suspend" and manager == "flux":
        return "suspend", None
    reason = ("gitops_policy=suspend suspends only Flux Kustomizations" if policy == "suspend" else
              "gitops_policy=refuse")
    raise errors.BrunoOpsError(
        "%s is managed by %s (%s): a change here would be reverted by its next reconcile; nothing changed (%s). "
        "Ways out: %s" % (ref, label, ", ".join(found["evidence"]), reason, _ways_out(found, ref)),
        errors.GUARDRAIL, owner=found)


# What bruno.ops writes on a Kustomization it suspends: why, and until when (flux_suspension resumes it then).
SUSPENDED_REASON = "bruno.ops/suspended-reason"
SUSPENDED_UNTIL = "bruno.ops/suspended-until"
# The merge patch that resumes it and removes both annotations.
RESUME = {"metadata": {"annotations": {SUSPENDED_REASON: None, SUSPENDED_UNTIL: None}}, "spec": {"suspend": False}}


def suspension(found, reason, now, expires_seconds):
    """The annotations and spec bruno.ops sets on a Kustomization it suspends (merge patch), and its undo."""
    expires = now + expires_seconds
    annotations = {SUSPENDED_REASON: reason, SUSPENDED_UNTIL: _rfc3339(expires)}
    return {
        "patch": {"metadata": {"annotations": annotations}, "spec": {"suspend": True}},
        "undo": RESUME,
        "kustomization": "%s/%s" % (found["namespace"], found["name"]),
        "expires": _rfc3339(expires),
        "resume": "flux resume kustomization %s -n %s (or kubectl -n %s patch kustomization %s --type merge -p "
                  "'{\"spec\":{\"suspend\":false}}')" % (
                      found["name"], found["namespace"], found["namespace"], found["name"]),
    }


def _rfc3339(seconds):
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def git_change(obj, fields):
    """What to commit so the change survives: {strategic_merge, json6902, fields} for the workload `obj`.

    `fields` is spec_fields()' list: the JSON 6902 path of each changed field, its values, and its strategic-merge
    fragment (containers and env matched by name, as kustomize's strategic merge does). The patches target the
    object by apiVersion/kind/name, as a kustomization.yaml `patches:` entry does."""
    meta = obj.get("metadata") or {}
    target = {"group": (obj.get("apiVersion") or "apps/v1").rpartition("/")[0] or None,
              "version": (obj.get("apiVersion") or "apps/v1").rpartition("/")[2],
              "kind": obj.get("kind") or "Deployment", "name": meta.get("name")}
    target = {k: v for k, v in target.items() if v}
    merge = {"apiVersion": obj.get("apiVersion") or "apps/v1", "kind": obj.get("kind") or "Deployment",
             "metadata": {"name": meta.get("name")}}
    ops = []
    for field in fields:
        _deep_merge(merge, field["fragment"])
        path, before, after = field["pointer"], field["before"], field["after"]
        ops.append({"op": "remove", "path": path} if after is None else
                   {"op": "add" if before is None else "replace", "path": path, "value": after})
    return {
        "target": target,
        "strategic_merge": merge,
        "json6902": ops,
        "kustomization_entry": {"patches": [{"target": target, "patch": ops}]},
        "fields": [{"path": f["pointer"], "before": f["before"], "after": f["after"],
                    "where": [list(segment) for segment in f["segments"]]} for f in fields],
    }


def _deep_merge(into, fragment):
    for key, value in fragment.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _deep_merge(into[key], value)
        elif isinstance(value, list) and isinstance(into.get(key), list):
            by_name = {item.get("name"): item for item in into[key] if isinstance(item, dict)}
            for item in value:
                if isinstance(item, dict) and item.get("name") in by_name:
                    _deep_merge(by_name[item["name"]], item)
                else:
                    into[key].append(item)
        else:
            into[key] = value


def spec_fields(before, after):
    """Every leaf that differs under `spec`: {pointer, before, after, fragment, segments}.

    Lists of named items (containers, env) are matched by name, as strategic merge does; `pointer` is the JSON
    pointer in the live object, `fragment` the strategic-merge patch of that one field, `segments` the path as
    [("key", k) | ("name", n)] (what managedFields' fieldsV1 is keyed by)."""
    fields = []

    def leaf(pointer, segments, old, new):
        value = {"$patch": "delete"} if new is None and segments[-1][0] == "name" else new
        fields.append({"pointer": "/".join([""] + [p.replace("~", "~0").replace("/", "~1") for p in pointer]),
                       "before": old, "after": new, "fragment": fragment(segments, value), "segments": segments})

    def walk(old, new, pointer, segments):
        if isinstance(old, dict) and isinstance(new, dict):
            for key in sorted(set(old) | set(new)):
                walk(old.get(key), new.get(key), pointer + [str(key)], segments + [("key", key)])
        elif _named_list(old) and _named_list(new):
            olds = {item["name"]: item for item in old}
            for index, item in enumerate(new):
                walk(olds.get(item["name"]), item, pointer + [str(index)], segments + [("name", item["name"])])
            kept = {item["name"] for item in new}
            for index, item in enumerate(old):
                if item["name"] not in kept:
                    leaf(pointer + [str(index)], segments + [("name", item["name"])], item, None)
        elif old != new:
            leaf(pointer, segments, old, new)

    walk((before or {}).get("spec"), (after or {}).get("spec"), ["spec"], [("key", "spec")])
    return fields


def _named_list(value):
    return isinstance(value, list) and bool(value) and all(isinstance(i, dict) and "name" in i for i in value)


def fragment(segments, value):
    """The strategic-merge patch that sets `value` at `segments` (a ("name", n) item of the list keyed before it)."""
    if not segments:
        return value
    kind, key = segments[0]
    if kind == "key" and len(segments) > 1 and segments[1][0] == "name":
        item = {"name": segments[1][1]}
        rest = fragment(segments[2:], value)
        if isinstance(rest, dict):
            item.update(rest)
        return {key: [item]}
    return {key: fragment(segments[1:], value)}


def value_at(obj, where):
    """The value at `where` ([["key", k] | ["name", n]], git_change()'s fields) in `obj`, or None when absent; the
    named items of a list are found by name, wherever a reconcile or a rollout has put them."""
    node = obj
    for kind, key in where:
        if kind == "key":
            node = node.get(key) if isinstance(node, dict) else None
        else:
            node = next((item for item in node if isinstance(item, dict) and item.get("name") == key), None) if (
                isinstance(node, list)) else None
        if node is None:
            return None
    return node


def owned_by_gitops(obj, segments, found):
    """Whether the controller that applies from Git owns the field at `segments`, by its managedFields
    (fieldsV1); True when that cannot be told (no managedFields of that controller: assume it does)."""
    manager = {"flux": "kustomize-controller", "argocd": "argocd-controller"}.get(found["manager"])
    entries = [e for e in (obj.get("metadata") or {}).get("managedFields") or []
               if e.get("manager") == manager and isinstance(e.get("fieldsV1"), dict)]
    if not entries:
        return True
    for entry in entries:
        node = entry["fieldsV1"]
        for kind, key in segments:
            node = node.get("f:%s" % key) if kind == "key" else node.get('k:{"name":"%s"}' % key)
            if not isinstance(node, dict):
                break
        else:
            return True
    return False

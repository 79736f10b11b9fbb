# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Deployment (or DeploymentConfig) the remediation modules change: read it, patch it (JSON patch, with the
apiserver's server-side dry run for check mode), wait for its rollout and roll the pod template back when
the rollout does not complete.

Every change is a JSON patch that starts with a `test` of the resourceVersion the change was computed from,
so a change computed from a stale read fails instead of overwriting someone else's edit.

A change that starts new pods (a template change, more replicas) makes each new pod pull its image again when the
image is a mutable tag pulled `Always` (agent-bruno runs `:latest` with `imagePullPolicy: Always`): the change
could ship new code in the middle of an incident. `image_policy` says what to do then: `warn`, `pin` each such
image to the digest the running pods report (in the same patch), or `refuse` (docs/remediation.md).

A workload applied from Git (Flux, Argo CD) is re-applied on the next reconcile, undoing a patch of the fields Git
owns: `gitops_policy` says what to do then (change/gitops.py): `refuse` (the default), `suspend` the owning Flux
Kustomization first, or `patch-only`; every change reports its owner and the change to commit to Git.
"""

from __future__ import annotations

import contextlib
import copy
import re
import time

from ansible_collections.bruno.ops.plugins.module_utils import errors
from ansible_collections.bruno.ops.plugins.module_utils.change import gitops, rollout
from ansible_collections.bruno.ops.plugins.module_utils.clients.k8s_client import K8sClient

REVISION = "deployment.kubernetes.io/revision"
KINDS = ("Deployment", "DeploymentConfig")
IMAGE_POLICIES = ("warn", "pin", "refuse")


def workload_options():
    """Options naming the target, shared by every remediation module (doc fragment bruno.ops.workload)."""
    return dict(
        namespace=dict(type="str", required=True),
        name=dict(type="str", required=True),
        kind=dict(type="str", default="Deployment", choices=list(KINDS)),
    )


def wait_options():
    return dict(
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=300),
        rollback_on_failure=dict(type="bool", default=True),
    )


def image_options():
    """`image_policy` (doc fragment bruno.ops.workload.IMAGE), for every module whose change may start pods."""
    return dict(image_policy=dict(type="str", default="warn", choices=list(IMAGE_POLICIES)))


def gitops_options():
    """`gitops_policy` and its suspension (doc fragment bruno.ops.workload.GITOPS), for every change module."""
    return dict(gitops_policy=dict(type="str", default=gitops.DEFAULT_POLICY, choices=list(gitops.POLICIES)),
                gitops_reason=dict(type="str", default="bruno.ops emergency change"),
                gitops_suspend_seconds=dict(type="int", default=7200))


def check_wait_options(params):
    if params["wait_timeout"] < 1:
        raise errors.BrunoOpsError("wait_timeout must be at least 1 second", kind=errors.INVALID)


@contextlib.contextmanager
def opened(params):
    """(client, Workload) for a module's kubernetes/namespace/name/kind options; the client is closed after."""
    client = K8sClient(params["kubernetes"] or {})
    try:
        yield client, Workload(client, params["namespace"], params["name"], params["kind"])
    finally:
        client.close()


def check_gitops_options(params):
    seconds = params.get("gitops_suspend_seconds")
    if seconds is not None and seconds < 60:
        raise errors.BrunoOpsError("gitops_suspend_seconds must be at least 60 (it is the suspension's expiry); "
                                   "got %s" % seconds, kind=errors.INVALID)


def gitops_args(params):
    """change()'s gitops keyword arguments from the module's gitops_options()."""
    return dict(gitops_policy=params.get("gitops_policy"), gitops_reason=params.get("gitops_reason"),
                gitops_suspend_seconds=params.get("gitops_suspend_seconds") or 7200)


def change_as_asked(target, build, view, params, check_mode, *, rollback_on_failure=None):
    """change() with the module's wait options (wait_options()) and image_policy (image_options())."""
    rollback = params["rollback_on_failure"] if rollback_on_failure is None else rollback_on_failure
    check_gitops_options(params)
    return change(target, build, view, check_mode, wait=params["wait"], wait_timeout=params["wait_timeout"],
                  rollback_on_failure=rollback, image_policy=params.get("image_policy") or "warn",
                  **gitops_args(params))


class Workload:
    """One workload object through one K8sClient; knows how to read, patch and find its ReplicaSets."""

    def __init__(self, client, namespace, name, kind="Deployment"):
        self.client, self.namespace, self.name, self.kind = client, namespace, name, kind
        self.ref = "%s %s/%s" % (kind.lower(), namespace, name)
        if kind == "Deployment":
            self._read = lambda: client.call_json("get %s" % self.ref, client.apps.read_namespaced_deployment,
                                                  name, namespace)
            self._patch = lambda ops, dry_run: client.call_json(
                "patch %s" % self.ref, client.apps.patch_namespaced_deployment, name, namespace, ops,
                **({"dry_run": "All"} if dry_run else {}))
        else:
            from ansible_collections.bruno.ops.plugins.module_utils.clients import openshift_client  # noqa: PLC0415

            self._read, self._patch = openshift_client.deployment_config_access(client, namespace, name, self.ref)

    @property
    def resource(self):
        """kind/name as kubectl (or oc, for a DeploymentConfig) names it."""
        return "%s/%s" % (self.kind.lower(), self.name)

    def command(self, *args):
        """A command line on this workload's namespace: `kubectl -n NS ARGS` (`oc` for a DeploymentConfig)."""
        return " ".join(("oc" if self.kind == "DeploymentConfig" else "kubectl", "-n", self.namespace) + args)

    def read(self):
        return self._read()

    def patch(self, ops, dry_run=False):
        return self._patch(ops, dry_run)

    def hpas(self):
        """HorizontalPodAutoscalers whose scaleTargetRef is this workload."""
        items = self.client.list_all("list horizontalpodautoscalers in %s" % self.namespace,
                                     self.client.autoscaling.list_namespaced_horizontal_pod_autoscaler,
                                     self.namespace)
        return [hpa for hpa in items
                if (hpa.get("spec") or {}).get("scaleTargetRef", {}).get("kind") == self.kind
                and hpa["spec"]["scaleTargetRef"].get("name") == self.name]

    def pods(self, obj):
        """The pods of this workload's selector (matchLabels of a Deployment, the plain map of a DeploymentConfig)."""
        selector = (obj["spec"].get("selector") or {})
        labels = selector.get("matchLabels") if "matchLabels" in selector else selector
        label_selector = ",".join("%s=%s" % kv for kv in sorted((labels or {}).items()))
        return self.client.list_all("list pods in %s" % self.namespace, self.client.core.list_namespaced_pod,
                                    self.namespace, label_selector=label_selector)

    def replica_sets(self, obj):
        """[(revision, name)] of the ReplicaSets this Deployment owns, oldest first (empty for other kinds)."""
        if self.kind != "Deployment":
            return []
        uid = obj["metadata"].get("uid")
        items = self.client.list_all("list replicasets in %s" % self.namespace,
                                     self.client.apps.list_namespaced_replica_set, self.namespace)
        owned = [rs for rs in items
                 if any(ref.get("uid") == uid for ref in rs["metadata"].get("ownerReferences") or [])]
        return sorted((int(rs["metadata"].get("annotations", {}).get(REVISION, "0")), rs["metadata"]["name"])
                      for rs in owned)


def container_index(obj, container, ref):
    """Index of `container` in the pod template; the only container when `container` is None."""
    containers = obj["spec"]["template"]["spec"].get("containers") or []
    names = [c["name"] for c in containers]
    if container is None:
        if len(names) == 1:
            return 0
        raise errors.BrunoOpsError("%s has %d containers (%s); set container to one of them"
                                   % (ref, len(names), ", ".join(names)), kind=errors.INVALID)
    if container not in names:
        raise errors.BrunoOpsError("%s has no container %r; its containers are: %s"
                                   % (ref, container, ", ".join(names)), kind=errors.NOT_FOUND)
    return names.index(container)


def rollback_note(target, result):
    """How to put the previous pod template back, when a change made a new revision (for a change entry)."""
    before, after = result.get("revision_before"), result.get("revision_after")
    if not before or before == after:
        return ""
    return "revision %s -> %s; %s puts the previous pod template back" % (
        before, after, target.command("rollout", "undo", target.resource, "--to-revision=%s" % before))


def revision(obj):
    return (obj.get("metadata", {}).get("annotations") or {}).get(REVISION)


def guarded(obj, ops):
    """The JSON patch `ops`, made to fail if the object changed since `obj` was read."""
    return [{"op": "test", "path": "/metadata/resourceVersion", "value": obj["metadata"]["resourceVersion"]}] + ops


def change(workload, build, view, check_mode, *, wait=True, wait_timeout=300, rollback_on_failure=True,
           interval=2.0, image_policy="warn", gitops_policy=None, gitops_reason=None, gitops_suspend_seconds=7200):
    """Apply the change `build(obj)` returns (JSON patch ops; empty means nothing to do) and report it.

    `view(obj)` is the part of the object the change is about, shown in --diff and in the result. In check
    mode the patch goes to the apiserver as a server-side dry run (admission and validation run, nothing is
    stored) and its answer is the predicted `after`. A change that starts pods goes through `image_policy`
    first (guard_images: warn, pin the running digests in the same patch, or refuse; None: not guarded, for a
    change that is itself the pin). A pod-template change is then waited for; when the rollout does not
    complete within `wait_timeout`, the previous pod template is put back (rollback)."""
    before_obj = workload.read()
    ops = build(before_obj)
    result = dict(changed=bool(ops), before=view(before_obj), revision_before=revision(before_obj))
    if not ops:
        result.update(after=result["before"], revision_after=result["revision_before"],
                      images=plan_images(image_findings(before_obj), None, image_policy, workload.ref,
                                         new_pods=False)[0] if image_policy else None)
        return result
    after_obj = workload.patch(guarded(before_obj, ops), dry_run=True)
    images, pin_ops, warnings = guard_images(workload, before_obj, image_policy,
                                             new_pods=starts_pods(before_obj, after_obj)) if image_policy else (
        None, [], [])
    result.update(images=images, warnings=warnings)
    if pin_ops:
        ops = ops + pin_ops
        after_obj = workload.patch(guarded(before_obj, ops), dry_run=True)
    result["after"] = view(after_obj)
    if pin_ops:
        result["before"] = dict(result["before"], images=images_view(before_obj, images))
        result["after"] = dict(result["after"], images=images_view(after_obj, images))
    result["changed"] = result["after"] != result["before"]
    if gitops_policy is not None and result["changed"]:
        managed = guard_gitops(workload, before_obj, after_obj, gitops_policy, check_mode,
                               reason=gitops_reason, seconds=gitops_suspend_seconds)
        if managed is not None:  # only a workload something applies from Git carries `gitops`
            result["gitops"] = managed
            if managed.get("warning"):
                result.setdefault("warnings", []).append(managed["warning"])
    if check_mode or not result["changed"]:
        result["revision_after"] = result["revision_before"]
        return result
    old_sets = workload.replica_sets(before_obj)
    old_rs = old_sets[-1][1] if old_sets else None
    after_obj = workload.patch(guarded(before_obj, ops))
    result["after"] = view(after_obj)
    if pin_ops:
        result["after"] = dict(result["after"], images=images_view(after_obj, images))
    template_changed = after_obj["spec"].get("template") != before_obj["spec"].get("template")
    if wait and (template_changed or _replicas_changed(before_obj, after_obj)):
        result.update(_wait_or_roll_back(workload, before_obj, old_rs, template_changed=template_changed,
                                         timeout=wait_timeout, rollback_on_failure=rollback_on_failure,
                                         interval=interval))
    final = workload.read()
    result["revision_after"] = revision(final)
    result.update(_replica_sets(workload, final, old_rs))
    return result


def _replicas_changed(before_obj, after_obj):
    return before_obj["spec"].get("replicas") != after_obj["spec"].get("replicas")


def _wait_or_roll_back(workload, before_obj, old_rs, *, template_changed, timeout, rollback_on_failure, interval):
    def done(obj):
        status = rollout.rollout_status(obj)
        return status["complete"] or status["failed"]

    _ok, obj, waited = rollout.wait_for(workload.read, done, timeout, interval=interval)
    status = rollout.rollout_status(obj)
    if status["complete"]:
        return {"rollout": status, "waited": round(waited, 1), "rolled_back": False}
    details = {"rollout": status, "waited": round(waited, 1), "rolled_back": False}
    what = "the rollout of %s did not complete in %ss (%s)" % (workload.ref, timeout, status["reason"])
    if not (rollback_on_failure and template_changed):
        raise errors.BrunoOpsError("%s; the change stays in place (rollback_on_failure is off or only replicas "
                                   "changed)" % what, kind=errors.ROLLOUT, **details)
    restore = [{"op": "replace", "path": "/spec/template", "value": copy.deepcopy(before_obj["spec"]["template"])}]
    workload.patch(restore)
    back_ok, back_obj, _waited = rollout.wait_for(workload.read, lambda o: rollout.rollout_status(o)["complete"],
                                                  timeout, interval=interval)
    details.update(rolled_back=True, rollback_complete=back_ok, rollback_rollout=rollout.rollout_status(back_obj),
                   revision_after=revision(back_obj))
    details.update(_replica_sets(workload, back_obj, old_rs))
    raise errors.BrunoOpsError(
        "%s; rolled back to the previous pod template (revision %s)%s" % (
            what, revision(back_obj),
            "" if back_ok else ", but the rollback itself has not completed in %ss either: check the pods" % timeout),
        kind=errors.ROLLOUT, **details)


def _replica_sets(workload, final, old_rs):
    """Old and new ReplicaSet names: the newest one before the change (read then), and the newest one now (after
    a rollback, the controller gives the old ReplicaSet the newest revision again, so both names are the same)."""
    sets = workload.replica_sets(final)
    if not sets:
        return {}
    return {"old_replica_set": old_rs, "new_replica_set": sets[-1][1]}


# ---------------------------------------------------------------------------------------------------- images
# An image reference is [registry[:port]/]path[:tag][@digest]; only a digest names one image for good.
_REPO_DIGEST = re.compile(r"@(sha256:[0-9a-f]{64})$")


def parse_image(ref):
    """{name, registry, repository, tag, digest} of an image reference; registry None when implicit (Docker Hub),
    tag None when absent. The first path component is a registry when it has a dot or a port, or is localhost."""
    rest = (ref or "").strip()
    digest = None
    if "@" in rest:
        rest, digest = rest.split("@", 1)
    first, sep, remainder = rest.partition("/")
    registry, path = (first, remainder) if sep and ("." in first or ":" in first or first == "localhost") else (
        None, rest)
    tag = None
    if ":" in path.rsplit("/", 1)[-1]:
        path, tag = path.rsplit(":", 1)
    return {"name": (registry + "/" if registry else "") + path, "registry": registry, "repository": path,
            "tag": tag, "digest": digest or None}


def mutable_reason(parsed):
    """Why the reference can name other code tomorrow, or None when it has a digest."""
    if parsed["digest"]:
        return None
    if parsed["tag"] is None:
        return "no tag (means :latest) and no digest"
    return "tag :%s without a digest" % parsed["tag"]


def pull_policy(container, parsed):
    """The container's imagePullPolicy, or the apiserver's default for it: Always for :latest or no tag."""
    if container.get("imagePullPolicy"):
        return container["imagePullPolicy"]
    return "Always" if not parsed["digest"] and parsed["tag"] in (None, "latest") else "IfNotPresent"


def image_findings(obj):
    """The pod template's containers (init containers too) whose image every new pod pulls again and that can
    be other code than the running pods': a mutable reference (no digest) pulled Always."""
    found = []
    spec = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
    for field in ("initContainers", "containers"):
        for index, container in enumerate(spec.get(field) or []):
            parsed = parse_image(container.get("image"))
            reason, policy = mutable_reason(parsed), pull_policy(container, parsed)
            if reason and policy == "Always":
                found.append({"container": container["name"], "init": field == "initContainers", "index": index,
                              "image": container.get("image"), "pull_policy": policy, "reason": reason})
    return found


def running_digests(pods, container, init=False):
    """{digest: pods} the live pods report for `container` (status.containerStatuses[].imageID), and how many
    report none usable (an empty imageID, or a bare image ID that is not a repository digest)."""
    digests, unknown = {}, 0
    field = "initContainerStatuses" if init else "containerStatuses"
    for pod in pods:
        if (pod.get("metadata") or {}).get("deletionTimestamp"):
            continue
        for status in (pod.get("status") or {}).get(field) or []:
            if status.get("name") != container:
                continue
            match = _REPO_DIGEST.search(status.get("imageID") or "")
            if match:
                digests[match.group(1)] = digests.get(match.group(1), 0) + 1
            else:
                unknown += 1
    return digests, unknown


def pinned_image(image, digest):
    """`image` pinned to `digest`, its tag kept for people (name:tag@sha256:...)."""
    parsed = parse_image(image)
    return parsed["name"] + (":" + parsed["tag"] if parsed["tag"] else "") + "@" + digest


def plan_images(findings, pods, policy, ref, *, new_pods):
    """What image_policy does with the findings: (report, JSON patch ops, warnings); raises guardrail for
    `refuse`, and for `pin` when a running digest is unknown or not one. Pure (pods are given, None when unread).

    report: {policy, action (none | warned | pinned), new_pods, containers: [{container, image, pull_policy, reason,
    running_digests, pinned_to}]}."""
    rows = []
    for found in findings:
        digests, unknown = running_digests(pods or [], found["container"], found["init"]) if pods is not None \
            else ({}, None)
        rows.append(dict({k: found[k] for k in ("container", "init", "image", "pull_policy", "reason")},
                         running_digests=sorted(digests), pods_without_digest=unknown, pinned_to=None))
    report = {"policy": policy, "action": "none", "new_pods": bool(new_pods), "containers": rows}
    if not rows or not new_pods:
        return report, [], []
    what = "; ".join("container %s runs %s (%s, imagePullPolicy %s)" % (
        r["container"], r["image"], r["reason"], r["pull_policy"]) for r in rows)
    if policy == "refuse":
        raise errors.BrunoOpsError(
            "refusing to change %s with image_policy=refuse: %s, so every pod the change starts pulls the image "
            "again and may run other code than the pods now; nothing was changed. Pin the image to a digest in the "
            "manifest, or set image_policy=pin (pin the running digest first) or image_policy=warn"
            % (ref, what), kind=errors.GUARDRAIL, images=report)
    if policy == "warn":
        report["action"] = "warned"
        return report, [], ["%s: %s; every pod this change starts pulls it again and may run other code than the "
                            "pods now (a ReplicaSet rollback cannot undo that). image_policy=pin pins the running "
                            "digest first; pin the manifest to a digest for good" % (ref, what)]
    missing = []
    for row in rows:
        if len(row["running_digests"]) == 1:
            row["pinned_to"] = pinned_image(row["image"], row["running_digests"][0])
        elif not row["running_digests"]:
            missing.append("container %s: no running pod reports its image digest (status.containerStatuses"
                           "[].imageID holds no @sha256: digest%s)" % (
                               row["container"], "; the pods were not read" if pods is None else ""))
        else:
            missing.append("container %s: the running pods report %d digests (%s), so there is no one running "
                           "image to pin" % (row["container"], len(row["running_digests"]),
                                             ", ".join(row["running_digests"])))
    if missing:
        raise errors.BrunoOpsError(
            "image_policy=pin cannot pin the images of %s: %s; nothing was changed. Pin the image to a digest in "
            "the manifest (image@sha256:...), or set image_policy=warn to change it anyway"
            % (ref, "; ".join(missing)), kind=errors.GUARDRAIL, images=report)
    report["action"] = "pinned"
    ops = [{"op": "replace", "path": "/spec/template/spec/%s/%d/image" % (
        "initContainers" if found["init"] else "containers", found["index"]), "value": rows[i]["pinned_to"]}
        for i, found in enumerate(findings)]
    return report, ops, []


def images_note(target, report):
    """One line for the change record: what image_policy did, and for a pin the command that puts the tag back."""
    report = report or {}
    rows = report.get("containers") or []
    if report.get("action") == "warned":
        return "image warned: " + ", ".join("container %s runs %s (%s, pull %s)" % (
            r["container"], r["image"], r["reason"], r["pull_policy"]) for r in rows)
    if report.get("action") == "pinned":
        pairs = ["%s=%s" % (r["container"], r["image"]) for r in rows]
        undo = target.command("set", "image", target.resource, *pairs)
        return "image pinned: %s (%s puts the tags back)" % (", ".join(
            "%s %s -> %s" % (r["container"], r["image"], r["pinned_to"]) for r in rows), undo)
    return ""


def images_view(obj, report):
    """{container: image} of the containers image_policy is about, for the before/after of a pinned change."""
    names = {r["container"] for r in report["containers"]}
    spec = obj["spec"]["template"]["spec"]
    return {c["name"]: c.get("image") for field in ("initContainers", "containers") for c in spec.get(field) or []
            if c["name"] in names}


def starts_pods(before_obj, after_obj):
    """Whether going from before_obj to after_obj starts new pods: a new pod template, or more replicas."""
    if (after_obj.get("spec") or {}).get("template") != (before_obj.get("spec") or {}).get("template"):
        return True
    return (after_obj["spec"].get("replicas", 1) or 0) > (before_obj["spec"].get("replicas", 1) or 0)


def guard_images(workload, obj, policy, *, new_pods):
    """plan_images() for the workload as read (`obj`), reading its pods when there is something to pin or say."""
    findings = image_findings(obj)
    pods = None
    if findings and new_pods:
        try:
            pods = workload.pods(obj)
        except errors.BrunoOpsError:
            if policy == "pin":
                raise
    return plan_images(findings, pods, policy, workload.ref, new_pods=new_pods)


KUSTOMIZATION = ("kustomize.toolkit.fluxcd.io", "v1", "kustomizations")


def kustomization(client, namespace, name):
    """The Flux Kustomization namespace/name, or None when it is not there (or its CRD is not)."""
    try:
        return client.call("get kustomization %s/%s" % (namespace, name), client.custom.get_namespaced_custom_object,
                           KUSTOMIZATION[0], KUSTOMIZATION[1], namespace, KUSTOMIZATION[2], name)
    except errors.BrunoOpsError as exc:
        if exc.kind == errors.NOT_FOUND:
            return None
        raise


def set_kustomization(client, namespace, name, body):
    """Merge-patch a Flux Kustomization (its suspension and annotations)."""
    return client.call("patch kustomization %s/%s" % (namespace, name),
                       client.custom.patch_namespaced_custom_object, KUSTOMIZATION[0], KUSTOMIZATION[1],
                       namespace, KUSTOMIZATION[2], name, body)


def guard_gitops(workload, before_obj, after_obj, policy, check_mode, *, reason, seconds, now=None, ref=None):
    """What gitops_policy does for this change of `before_obj`, the workload or (with its `ref`, such as
    "hpa bruno/agent-bruno-hpa") another object of it: its owner, the fields Git owns, the change for Git, and
    (policy suspend, not in check mode) the Flux Kustomization suspended first. Raises BrunoOpsError (guardrail) before
    anything is changed when the policy refuses; None for a workload nothing applies from Git. A change only of
    fields Git does not own (a restart's restartedAt annotation) is not reverted by a reconcile: it goes ahead
    whatever the policy."""
    ref = ref or workload.ref
    found = gitops.owner(before_obj)
    if found["manager"] is None:
        return None
    fields = gitops.spec_fields(before_obj, after_obj)
    owned = [f for f in fields if gitops.owned_by_gitops(before_obj, f["segments"], found)]
    info = {"owner": found, "policy": policy, "owned_fields": [f["pointer"] for f in owned],
            "git": gitops.git_change(before_obj, owned) if owned else None}
    if not owned:
        info["action"] = "patch"
        return info
    action, warning = gitops.policy_action(found, policy, ref)
    info.update(action=action, warning=warning)
    if action == "suspend":
        current = kustomization(workload.client, found["namespace"], found["name"])
        if current is None:
            raise errors.BrunoOpsError(
                "%s is labelled as applied by Kustomization %s/%s, which is not there (or the Flux CRDs are not): "
                "nothing changed; check the labels, or use gitops_policy=patch-only" % (
                    ref, found["namespace"], found["name"]), errors.GUARDRAIL, owner=found)
        spec, status = current.get("spec") or {}, current.get("status") or {}
        planned = gitops.suspension(found, reason, time.time() if now is None else now, seconds)
        planned.update(interval=spec.get("interval"), last_applied_revision=status.get("lastAppliedRevision"),
                       already_suspended=bool(spec.get("suspend")), applied=False)
        if not check_mode and not spec.get("suspend"):
            set_kustomization(workload.client, found["namespace"], found["name"], planned["patch"])
            planned["applied"] = True
        info["suspension"] = planned
    return info

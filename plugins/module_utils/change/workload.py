# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Deployment (or DeploymentConfig) the remediation modules change: read it, patch it (JSON patch, with the
apiserver's server-side dry run for check mode), wait for its rollout and roll the pod template back when
the rollout does not complete.

Every change is a JSON patch that starts with a `test` of the resourceVersion the change was computed from,
so a change computed from a stale read fails instead of overwriting someone else's edit.
"""

from __future__ import annotations

import contextlib
import copy

from ansible_collections.bruno.ops.plugins.module_utils import errors
from ansible_collections.bruno.ops.plugins.module_utils.change import rollout
from ansible_collections.bruno.ops.plugins.module_utils.clients.k8s_client import K8sClient

REVISION = "deployment.kubernetes.io/revision"
KINDS = ("Deployment", "DeploymentConfig")


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


def change_as_asked(target, build, view, params, check_mode, *, rollback_on_failure=None):
    """change() with the module's wait options (wait_options())."""
    rollback = params["rollback_on_failure"] if rollback_on_failure is None else rollback_on_failure
    return change(target, build, view, check_mode, wait=params["wait"], wait_timeout=params["wait_timeout"],
                  rollback_on_failure=rollback)


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
           interval=2.0):
    """Apply the change `build(obj)` returns (JSON patch ops; empty means nothing to do) and report it.

    `view(obj)` is the part of the object the change is about, shown in --diff and in the result. In check
    mode the patch goes to the apiserver as a server-side dry run (admission and validation run, nothing is
    stored) and its answer is the predicted `after`. A pod-template change is then waited for; when the
    rollout does not complete within `wait_timeout`, the previous pod template is put back (rollback)."""
    before_obj = workload.read()
    ops = build(before_obj)
    result = dict(changed=bool(ops), before=view(before_obj), revision_before=revision(before_obj))
    if not ops:
        result.update(after=result["before"], revision_after=result["revision_before"])
        return result
    after_obj = workload.patch(guarded(before_obj, ops), dry_run=True)
    result["after"] = view(after_obj)
    result["changed"] = result["after"] != result["before"]
    if check_mode or not result["changed"]:
        result["revision_after"] = result["revision_before"]
        return result
    old_sets = workload.replica_sets(before_obj)
    old_rs = old_sets[-1][1] if old_sets else None
    after_obj = workload.patch(guarded(before_obj, ops))
    result["after"] = view(after_obj)
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

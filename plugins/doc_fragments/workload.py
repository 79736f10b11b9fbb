# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Mirrors workload_options() in plugins/module_utils/change/workload.py.
    DOCUMENTATION = r"""
options:
  namespace:
    description: Namespace of the workload.
    type: str
    required: true
  name:
    description: Name of the workload, for example C(agent-bruno).
    type: str
    required: true
  kind:
    description:
      - Kind of the workload. C(DeploymentConfig) is OpenShift's C(apps.openshift.io/v1), reached through the
        dynamic client of the C(openshift) package.
    type: str
    default: Deployment
    choices: [Deployment, DeploymentConfig]
notes:
  - Every change is a JSON patch that first tests the object's C(resourceVersion), so a change computed from a
    stale read fails with kind C(conflict) instead of overwriting someone else's edit; rerun to recompute it.
  - Check mode sends the same patch as a server-side dry run, so admission and validation answer as they would
    for the real change and nothing is stored.
"""

    # Mirrors wait_options() in plugins/module_utils/change/workload.py.
    WAIT = r"""
options:
  wait:
    description:
      - Wait until the rollout completes (the controller saw the change; every desired replica is updated, ready
        and available; no old replica is left), like C(kubectl rollout status).
    type: bool
    default: true
  wait_timeout:
    description: How many seconds to wait for the rollout (and again for a rollback).
    type: int
    default: 300
  rollback_on_failure:
    description:
      - When the rollout does not complete within O(wait_timeout), put the previous pod template back, wait for
        that rollout, and fail with kind C(rollout_failed) saying so.
    type: bool
    default: true
"""

    # Mirrors image_options() in plugins/module_utils/change/workload.py.
    IMAGE = r"""
options:
  image_policy:
    description:
      - What to do when the change starts pods (a new pod template, more replicas) and a container's image is
        mutable - C(:latest), no tag, or any tag without an C(@sha256:) digest - and pulled C(Always) (set, or the
        default for C(:latest)). Every new pod pulls such an image again, so the change can ship other code than
        the pods run now, and rolling the ReplicaSet back cannot undo that.
      - C(warn) changes as asked and warns; the result's C(images) and the change record say C(warned).
      - C(pin) first pins each such image to the digest the running pods report
        (C(status.containerStatuses[].imageID)), C(name:tag@sha256:...), in the same patch and rollout; the change
        record says C(pinned) with the image before and after. When no running pod reports a digest (or the pods
        report several), it fails with kind C(guardrail) naming what is missing, and nothing is changed.
      - C(refuse) fails with kind C(guardrail) before anything is changed.
      - A pin in the cluster lasts until the manifest is applied again (e.g. the next Flux reconcile puts the tag
        back); pin the manifest for good.
    type: str
    default: warn
    choices: [warn, pin, refuse]
"""

    # Mirrors gitops_options() in plugins/module_utils/change/workload.py.
    GITOPS = r"""
options:
  gitops_policy:
    description:
      - What to do when the workload is applied from Git and the change touches fields Git owns (the GitOps
        controller's managedFields, which a restart's C(restartedAt) is not), since its next reconcile would
        undo the change. The owner is read from Flux's C(kustomize.toolkit.fluxcd.io/name) labels, Argo CD's tracking
        annotation or instance label, Helm's release annotations, and the field managers.
      - C(refuse) fails with kind C(guardrail) before anything is changed, naming the owner and the two ways out
        (commit to Git, or C(suspend)).
      - C(suspend) first suspends the owning Flux Kustomization (C(spec.suspend=true), with the reason and an
        expiry in its C(bruno.ops/suspended-reason) and C(bruno.ops/suspended-until) annotations), then changes
        the workload; the change record's undo resumes it. Argo CD is refused, with the command that pauses its
        self-heal.
      - C(patch-only) changes the workload and warns that the next reconcile reverts it.
      - Every change of a managed workload reports C(gitops) (in the result and the change record), with the owner,
        the fields Git owns, the suspension, and the change to commit to Git (a strategic-merge and a JSON 6902
        patch for the Kustomization path, and the fields before and after). A Helm release that no controller
        re-applies is changed, with a warning.
    type: str
    default: refuse
    choices: [refuse, suspend, patch-only]
  gitops_reason:
    description: The reason recorded on a Kustomization this change suspends (C(gitops_policy=suspend)).
    type: str
    default: bruno.ops emergency change
  gitops_suspend_seconds:
    description: How long the suspension is meant to last, recorded as its expiry (C(bruno.ops/suspended-until)).
    type: int
    default: 7200
"""

# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One entry of a change record, built by the module that made (or predicted) the change. Pure.

Every change-making module returns it as `change`, so the roles append the module's own account to the run's
change record instead of rebuilding it in Jinja. A change refused before it was made (a guardrail such as
image_policy=refuse) carries its entry in the error's details (`error.change`), so the record says so too."""

from __future__ import annotations

from ansible_collections.bruno.ops.plugins.module_utils import errors


def change_entry(action, target, *, changed, before, after, undo, note="", images=None, gitops=None):
    """action: what was done (restart, scale, set_env, ...); target: namespace/name or the Redis/MongoDB scope;
    before/after: the part of the target the change is about; undo: the command (or words) that reverses it;
    images: what image_policy did (workload.plan_images' report), for a change that may start pods; gitops: what
    gitops_policy did (workload.guard_gitops: owner, suspension, the change for Git). A suspension bruno.ops made
    is resumed by the undo, after which the GitOps controller puts Git's state back."""
    suspension = (gitops or {}).get("suspension") or {}
    if suspension.get("applied") and changed:
        undo = "%s; then resume the Kustomization: %s" % (undo, suspension["resume"])
    entry = {
        "action": action,
        "target": target,
        "changed": bool(changed),
        "before": before,
        "after": after,
        "undo": undo,
        "note": note or "",
    }
    if images is not None:
        entry["images"] = images
    if gitops is not None:
        entry["gitops"] = gitops
    return entry


def join_notes(*notes):
    return "; ".join(note for note in notes if note)


def with_refusal(exc, action, target):
    """`exc`, with the change entry of a refused change (`change` in its details) when a guardrail refused it
    before anything was changed, so the change record lists the refusal. Other errors are returned as they are."""
    if exc.kind == errors.GUARDRAIL and "change" not in exc.details:
        images = exc.details.get("images")
        if images is not None:
            images = dict(images, action="refused")
        exc.details["change"] = change_entry(action, target, changed=False, before=None, after=None,
                                             undo="nothing to undo: nothing was changed",
                                             note="refused: %s" % exc.message, images=images)
    return exc

# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""When is a rollout done, and when has it failed? Pure predicates over a workload object, and a bounded
waiter driven by an injectable clock (kubernetes.core's waiter model), so the logic is unit-tested without
an apiserver and the module code only reads and sleeps."""

from __future__ import annotations

import time


def rollout_status(obj):
    """{complete, failed, reason, desired, updated, ready, available, total, observed} of a Deployment or a
    DeploymentConfig (same status fields), the checks of `kubectl rollout status` / `oc rollout status`: the
    controller has seen the latest generation, and every desired replica is updated, ready and available, with
    no old replica left."""
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    desired = spec.get("replicas", 1)
    counts = {
        "desired": desired,
        "updated": status.get("updatedReplicas") or 0,
        "ready": status.get("readyReplicas") or 0,
        "available": status.get("availableReplicas") or 0,
        "total": status.get("replicas") or 0,
        "observed": (status.get("observedGeneration") or 0) >= (meta.get("generation") or 0),
    }
    failed = _failure(status)
    if not counts["observed"]:
        reason = "the controller has not seen generation %s yet" % meta.get("generation")
    elif failed:
        reason = failed
    elif counts["updated"] < desired:
        reason = "%d of %d replicas updated" % (counts["updated"], desired)
    elif counts["total"] > counts["updated"]:
        reason = "%d old replicas pending termination" % (counts["total"] - counts["updated"])
    elif counts["ready"] < desired or counts["available"] < desired:
        reason = "%d of %d updated replicas ready, %d available" % (counts["ready"], desired, counts["available"])
    else:
        reason = "complete"
    counts.update(complete=reason == "complete", failed=bool(failed) and counts["observed"], reason=reason)
    return counts


# Progressing reasons after which waiting cannot see the rollout complete, as `kubectl rollout status` and
# `oc rollout status` stop on them: a Deployment's or DeploymentConfig's deadline, a cancelled DeploymentConfig rollout.
FAILED_REASONS = {"ProgressDeadlineExceeded": "progress deadline exceeded", "RolloutCancelled": "rollout cancelled"}


def _failure(status):
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Progressing" and condition.get("reason") in FAILED_REASONS:
            return "%s: %s" % (FAILED_REASONS[condition["reason"]], condition.get("message") or condition["reason"])
    return None


def wait_for(read, done, timeout, *, interval=2.0, clock=time.monotonic, sleep=time.sleep):
    """Call read() until done(value) is true or `timeout` seconds pass; (ok, last value, seconds waited).

    Always reads at least once and once more at the deadline, so a short timeout still sees the state."""
    started = clock()
    while True:
        value = read()
        if done(value):
            return True, value, clock() - started
        left = timeout - (clock() - started)
        if left <= 0:
            return False, value, clock() - started
        sleep(min(interval, left))

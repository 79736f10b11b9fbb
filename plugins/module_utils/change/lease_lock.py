# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The change lock's rules over a coordination.k8s.io Lease. Pure: lease dict in, decision out.

One Lease per workload is shared by every change-making run - from a shell, AWX or an alert - so two runs
never change the same workload at once. A run holds it while it works; on release it may keep it for a
cooldown, so an alert that fires again right after a fix does not trigger a second change on top of the
first. A holder that died leaves the lease to expire after its duration.
"""

from __future__ import annotations

import datetime

from ansible_collections.bruno.ops.plugins.module_utils import errors
from ansible_collections.bruno.ops.plugins.module_utils.durations import iso, parse_time

PURPOSE = "bruno.ops/purpose"
PHASE = "bruno.ops/phase"  # held | cooldown | released


def micro(moment):
    """A Lease MicroTime."""
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def lease_view(lease):
    """What a person needs to know about the lock, from a Lease (None when there is none)."""
    if not lease:
        return {"holder": None, "phase": "absent", "acquired_at": None, "renewed_at": None, "expires_at": None,
                "purpose": None}
    spec, annotations = lease.get("spec") or {}, (lease.get("metadata") or {}).get("annotations") or {}
    renewed = parse_time(spec.get("renewTime"))
    duration = spec.get("leaseDurationSeconds") or 0
    holder = spec.get("holderIdentity") or None
    return {
        "holder": holder,
        "phase": annotations.get(PHASE, "held") if holder else "released",
        "acquired_at": iso(parse_time(spec.get("acquireTime"))),
        "renewed_at": iso(renewed),
        "expires_at": iso(renewed + datetime.timedelta(seconds=duration)) if renewed and holder else None,
        "purpose": annotations.get(PURPOSE),
    }


def is_live(lease, now):
    """Held by someone and not expired at `now`."""
    view = lease_view(lease)
    return bool(view["holder"]) and view["expires_at"] is not None and parse_time(view["expires_at"]) > now


def decide(lease, ref, holder, state, now, *, ttl, cooldown=0, purpose=None, force=False):
    """(write, spec, annotations): write is None (nothing to do), "create" or "update". Raises conflict.

    acquire: free, expired or already ours -> take or renew it (a renewal of our own lock is not a change);
             held by someone else -> conflict "held by ... since ...".
    release: ours (or force) -> free it, or keep it `cooldown` seconds more in phase cooldown;
             not ours -> nothing (reported, never stolen without force)."""
    view = lease_view(lease)
    ours = view["holder"] == holder
    live = is_live(lease, now)
    if state == "acquired":
        if live and not ours:
            raise errors.BrunoOpsError(held_message(ref, view), kind=errors.CONFLICT, lock=view)
        acquired = view["acquired_at"] if ours and live else iso(now)
        spec = {"holderIdentity": holder, "leaseDurationSeconds": int(ttl),
                "acquireTime": micro(parse_time(acquired)), "renewTime": micro(now)}
        if not ours or not live:
            spec["leaseTransitions"] = ((lease or {}).get("spec") or {}).get("leaseTransitions", -1) + 1
        return ("create" if lease is None else "update"), spec, {PHASE: "held", PURPOSE: purpose or ""}
    if lease is None or not view["holder"] or (not ours and not force):
        return None, None, None
    if cooldown:
        spec = {"holderIdentity": view["holder"], "leaseDurationSeconds": int(cooldown), "renewTime": micro(now)}
        return "update", spec, {PHASE: "cooldown"}
    return "update", {"holderIdentity": None, "renewTime": micro(now)}, {PHASE: "released"}


def held_message(ref, view):
    what = "in its cooldown after a change" if view["phase"] == "cooldown" else "held"
    return ("change lock %s is %s by %s since %s (purpose: %s); it expires at %s. Wait for it, or - if that run "
            "is gone - release it with bruno.ops.change_lock state=released force=true"
            % (ref, what, view["holder"], view["acquired_at"], view["purpose"] or "not given", view["expires_at"]))

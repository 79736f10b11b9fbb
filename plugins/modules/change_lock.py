#!/usr/bin/python
# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: change_lock
short_description: Take or release the Kubernetes Lease that lets one change-making run at a time touch a workload
version_added: 0.2.0
description:
  - Every change-making playbook of the collection (session TTL, limits, scaling, restart, remediate) holds
    this lock while it runs, whether it was started from a shell, AWX or an alert, so two of them never change
    the same workload at once.
  - O(state=acquired) takes the Lease when it is free, expired or already held by O(holder). Held by someone
    else, it fails with kind C(conflict) and the message says who holds it, since when and until when.
  - O(state=released) frees it. With O(cooldown) it keeps it that many seconds more (phase C(cooldown)),
    so an alert that fires again right after a fix waits instead of changing the workload a second time.
  - A holder that died leaves the Lease to expire after O(ttl) seconds; O(force=true) releases someone else's.
  - Writes carry the Lease's resourceVersion, so two runs racing for a free lock cannot both win.
author:
  - bruno.ops contributors (@bruno-ops)
extends_documentation_fragment:
  - bruno.ops.attributes
  - bruno.ops.attributes.change_module
  - bruno.ops.kubernetes
options:
  namespace:
    description: Namespace of the Lease (the workload's).
    type: str
    required: true
  name:
    description: Name of the Lease, one per workload.
    type: str
    default: bruno-ops-change-lock
  holder:
    description:
      - Who holds it; unique per run, for example C(alice@laptop remediate.yml 2026-11-29T03:12:09Z) or the AWX
        job id. A rerun with the same holder renews its own lock.
    type: str
    required: true
  state:
    description: Take (C(acquired)) or give back (C(released)) the lock.
    type: str
    choices: [acquired, released]
    default: acquired
  ttl:
    description: Seconds the lock stays valid without renewal; longer than the longest run it guards.
    type: int
    default: 1800
  cooldown:
    description: On release, seconds to keep the lock so that no other change starts right away; 0 frees it.
    type: int
    default: 0
  purpose:
    description: What the run is doing, stored on the Lease and shown to whoever finds it held.
    type: str
  force:
    description: Release the lock even when another holder has it (an operator clearing a dead run's lock).
    type: bool
    default: false
attributes:
  check_mode:
    details: Reads the Lease and sends the write as a server-side dry run; fails the same way when it is held.
"""

EXAMPLES = r"""
- name: Take the change lock of agent-bruno for this run
  bruno.ops.change_lock:
    namespace: bruno
    holder: "{{ lookup('ansible.builtin.env', 'USER') }} remediate.yml {{ now(utc=true).isoformat() }}"
    purpose: restart agent-bruno (memory leak)
    ttl: 1800

- name: Give it back, keeping 10 minutes of cooldown
  bruno.ops.change_lock:
    namespace: bruno
    holder: "{{ lock_holder }}"
    state: released
    cooldown: 600
"""

RETURN = r"""
before:
  description: The lock before.
  returned: always
  type: dict
  sample: {holder: null, phase: absent, acquired_at: null, renewed_at: null, expires_at: null, purpose: null}
after:
  description: The lock after (in check mode, as it would be).
  returned: always
  type: dict
  sample: {holder: alice remediate.yml, phase: held, acquired_at: "2026-11-29T03:12:09Z",
           renewed_at: "2026-11-29T03:12:09Z", expires_at: "2026-11-29T03:42:09Z", purpose: restart}
change:
  description:
    - This call's entry for a change record (action C(acquire_lock) or C(release_lock)), the holder and phase of
      the lock before and after; C(undo) is the C(bruno.ops.change_lock) call that reverses it.
  returned: always
  type: dict
  sample: {action: acquire_lock, target: lease bruno/bruno-ops-change-lock, changed: true,
           before: {holder: null, phase: absent}, after: {holder: alice remediate.yml, phase: held},
           undo: "bruno.ops.change_lock namespace=bruno name=bruno-ops-change-lock holder='alice remediate.yml'
             state=released", note: ""}
lease:
  description: Namespace and name of the Lease.
  returned: always
  type: str
  sample: bruno/bruno-ops-change-lock
"""

import shlex

from ansible_collections.bruno.ops.plugins.module_utils import errors, module_run
from ansible_collections.bruno.ops.plugins.module_utils.change import lease_lock
from ansible_collections.bruno.ops.plugins.module_utils.change.record import change_entry
from ansible_collections.bruno.ops.plugins.module_utils.clients.k8s_client import K8sClient, kubernetes_option
from ansible_collections.bruno.ops.plugins.module_utils.durations import utcnow

ARGUMENT_SPEC = dict(
    kubernetes=kubernetes_option(),
    namespace=dict(type="str", required=True),
    name=dict(type="str", default="bruno-ops-change-lock"),
    holder=dict(type="str", required=True),
    state=dict(type="str", default="acquired", choices=["acquired", "released"]),
    ttl=dict(type="int", default=1800),
    cooldown=dict(type="int", default=0),
    purpose=dict(type="str"),
    force=dict(type="bool", default=False),
)


def validate(params):
    if not params["holder"].strip():
        raise errors.BrunoOpsError("holder must not be empty: name this run, e.g. user, playbook and time",
                                   kind=errors.INVALID)
    if params["ttl"] < 1:
        raise errors.BrunoOpsError("ttl must be at least 1 second", kind=errors.INVALID)
    if params["cooldown"] < 0:
        raise errors.BrunoOpsError("cooldown must be 0 (free the lock) or a number of seconds", kind=errors.INVALID)


def read_lease(client, namespace, name, ref):
    try:
        return client.call_json("get lease %s" % ref, client.coordination.read_namespaced_lease, name, namespace)
    except errors.BrunoOpsError as exc:
        if exc.kind == errors.NOT_FOUND:
            return None
        raise


def write_lease(client, ref, lease, write, change, *, dry_run):
    """Create or replace the Lease `ref` (namespace/name) with `change` = (spec, annotations)."""
    namespace, name = ref.split("/", 1)
    spec, annotations = change
    extra = {"dry_run": "All"} if dry_run else {}
    if write == "create":
        body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": name, "namespace": namespace, "annotations": annotations,
                             "labels": {"app.kubernetes.io/managed-by": "bruno.ops"}},
                "spec": spec}
        return client.call_json("create lease %s" % ref, client.coordination.create_namespaced_lease, namespace,
                                body, **extra)
    body = dict(lease)
    body["metadata"] = dict(lease["metadata"])
    body["metadata"]["annotations"] = dict(lease["metadata"].get("annotations") or {}, **annotations)
    body["spec"] = dict(lease.get("spec") or {}, **spec)
    return client.call_json("update lease %s" % ref, client.coordination.replace_namespaced_lease, name, namespace,
                            body, **extra)


def run(params, check_mode):
    return with_change(params, take_or_release(params, check_mode))


def take_or_release(params, check_mode):
    validate(params)
    namespace, name = params["namespace"], params["name"]
    ref = "%s/%s" % (namespace, name)
    client = K8sClient(params["kubernetes"] or {})
    try:
        lease = read_lease(client, namespace, name, ref)
        before = lease_lock.lease_view(lease)
        now = utcnow()
        write, spec, annotations = lease_lock.decide(lease, ref, params["holder"], params["state"], now,
                                                     ttl=params["ttl"], cooldown=params["cooldown"],
                                                     purpose=params["purpose"], force=params["force"])
        result = dict(lease=ref, before=before, after=before, changed=False)
        if write is None:
            if params["state"] == "released" and before["holder"] and before["holder"] != params["holder"]:
                result["notes"] = ["not released: %s holds it (force=true releases it)" % before["holder"]]
            return result
        written = write_lease(client, ref, lease, write, (spec, annotations), dry_run=True)
        if not check_mode:
            written = write_lease(client, ref, lease, write, (spec, annotations), dry_run=False)
    finally:
        client.close()
    after = lease_lock.lease_view(written)
    renewal = params["state"] == "acquired" and before["holder"] == params["holder"] and before["phase"] == "held" \
        and lease_lock.is_live(lease, now)
    result.update(after=after, changed=not renewal)
    return result


def with_change(params, result):
    """`result` with its change-record entry; undo is the change_lock call that reverses it."""
    before, after = result["before"], result["after"]
    acquire = params["state"] == "acquired"
    if acquire:
        undo = "bruno.ops.change_lock namespace=%s name=%s holder=%s state=released" % (
            params["namespace"], params["name"], shlex.quote(params["holder"]))
    else:
        undo = "nothing to undo: the lock is %s" % after["phase"]
    return dict(result, change=change_entry(
        "acquire_lock" if acquire else "release_lock", "lease %s" % result["lease"], changed=result["changed"],
        before={"holder": before["holder"], "phase": before["phase"]},
        after={"holder": after["holder"], "phase": after["phase"]},
        undo=undo if result["changed"] else "nothing to undo", note="; ".join(result.get("notes") or [])))


def main():
    module_run.main(ARGUMENT_SPEC, run)


if __name__ == "__main__":
    main()

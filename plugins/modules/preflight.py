#!/usr/bin/python
# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: preflight
short_description: Check that every backend bruno.ops uses is reachable, authenticated and permitted
version_added: 0.1.0
description:
  - Probes each configured backend once, Kubernetes, Redis, MongoDB and Prometheus, and returns one row per
    backend with whether it is reachable, whether it accepted the credentials, its version and its latency.
  - For Kubernetes it also asks the apiserver, with one SelfSubjectAccessReview per verb, whether the current
    identity may do what the collection needs. Read verbs for diagnosis, change verbs for remediation.
  - A backend whose option is not set is skipped. A backend that fails is reported with the reason and the
    address that was tried, and the other backends are still checked. O(fail_on) turns chosen failures into a
    task failure.
  - Only reads, so it runs the same in check mode.
author:
  - bruno.ops contributors (@bruno-ops)
extends_documentation_fragment:
  - bruno.ops.kubernetes
  - bruno.ops.redis
  - bruno.ops.mongodb
  - bruno.ops.prometheus
  - bruno.ops.attributes
  - bruno.ops.attributes.info_module
options:
  namespace:
    description: Namespace whose permissions are checked for namespaced resources.
    type: str
    default: default
  access:
    description:
      - Which permission sets to check on Kubernetes. C(diagnose) holds the read verbs, C(remediate) the change verbs.
    type: list
    elements: str
    choices: [diagnose, remediate]
    default: [diagnose, remediate]
  fail_on:
    description:
      - Failures that make the task fail instead of only being reported.
      - C(unreachable), a configured backend did not answer. C(authentication), a backend rejected the credentials.
      - C(diagnose_access) and C(remediate_access), the Kubernetes identity lacks a verb of that set, or it could
        not be checked.
      - C(any), every configured backend must be C(ok).
    type: list
    elements: str
    choices: [unreachable, authentication, diagnose_access, remediate_access, any]
    default: []
notes:
  - Passwords, tokens and URIs with credentials are never returned or logged; addresses are reported without them.
  - FerretDB and other MongoDB-wire servers are supported; their real version is added to RV(backends[].details).
attributes:
  check_mode:
    details: Every probe is a read or an access review, so check mode runs them all.
"""

EXAMPLES = r"""
- name: Check the backends of agent-bruno, fail only if one is down
  bruno.ops.preflight:
    namespace: bruno
    kubernetes:
      kubeconfig: ~/.kube/config
    redis:
      host: redis-master.redis.svc
      password: "{{ vault_redis_password }}"
    mongodb:
      uri: "{{ vault_mongodb_uri }}"
    prometheus:
      url: http://prometheus.monitoring:9090
    fail_on: [unreachable]
  register: preflight

- name: Before remediation, insist on the change verbs
  bruno.ops.preflight:
    namespace: bruno
    kubernetes: {}
    access: [remediate]
    fail_on: [remediate_access, unreachable, authentication]

- name: Share connection settings through module_defaults
  module_defaults:
    group/bruno.ops.redis:
      redis:
        url: "{{ vault_redis_url }}"
  bruno.ops.preflight: {}
"""

RETURN = r"""
ok:
  description: True when no configured backend failed and no needed Kubernetes verb is missing.
  returned: always
  type: bool
  sample: true
summary:
  description: How many backends ended in each status.
  returned: always
  type: dict
  sample: {"ok": 3, "limited": 1, "failed": 0, "skipped": 0}
backends:
  description: One row per backend, in the order kubernetes, redis, mongodb, prometheus.
  returned: always
  type: list
  elements: dict
  contains:
    backend:
      description: Which backend the row is about.
      type: str
      returned: always
      sample: redis
    status:
      description:
        - C(ok), C(failed), C(skipped) when its option is not set, or C(limited) when Kubernetes answered but
          some needed verbs are not allowed.
      type: str
      returned: always
      sample: ok
    address:
      description: The address that was tried, without credentials.
      type: str
      returned: always
      sample: redis://127.0.0.1:6379/0
    reachable:
      description: Whether the server answered at all; null when not checked.
      type: bool
      returned: always
      sample: true
    authenticated:
      description: Whether the server accepted the credentials, or anonymous access when none were given.
      type: bool
      returned: always
      sample: true
    version:
      description: Server version as the server reports it.
      type: str
      returned: always
      sample: 7.0.15
    latency_ms:
      description: Round trip of one cheap request on an open connection, in milliseconds.
      type: float
      returned: always
      sample: 0.21
    identity:
      description: Kubernetes only, the user and groups the apiserver sees (SelfSubjectReview).
      type: dict
      returned: always
      sample: {"username": "system:serviceaccount:bruno:bruno-ops-automation", "groups": ["system:serviceaccounts"]}
    error:
      description: Why the backend failed, with a machine-readable kind and a message naming the address.
      type: dict
      returned: always
      sample: {"kind": "unreachable", "message": "cannot ping: Redis at redis://127.0.0.1:6379/0 is unreachable"}
    access:
      description: Kubernetes only, one entry per verb the collection needs.
      type: list
      elements: dict
      returned: always
      sample: [{"purpose": "diagnose", "verb": "list", "resource": "pods", "namespace": "bruno",
                "allowed": true, "reason": "RBAC: allowed by RoleBinding"}]
    missing_access:
      description: Kubernetes only, the needed verbs that are not allowed, as C(verb resource (purpose)).
      type: list
      elements: str
      returned: always
      sample: ["patch deployments.apps (remediate)"]
    details:
      description:
        - Backend specific facts, such as the Redis mode and client count or the FerretDB version.
        - For Redis, C(diagnosis_reads) says whether C(CLIENT LIST) and C(SLOWLOG) may be run (true, or why
          not). Without them the diagnosis has no connections per client address and no KEYS entries.
      type: dict
      returned: always
      sample: {"mode": "standalone", "connected_clients": 3,
               "diagnosis_reads": {"client_list": true, "slowlog": true}}
"""

from ansible_collections.bruno.ops.plugins.module_utils import errors, module_run
from ansible_collections.bruno.ops.plugins.module_utils.clients.http_client import http_option
from ansible_collections.bruno.ops.plugins.module_utils.clients.k8s_client import kubernetes_option
from ansible_collections.bruno.ops.plugins.module_utils.clients.mongo_client import mongodb_option
from ansible_collections.bruno.ops.plugins.module_utils.clients.redis_client import redis_option
from ansible_collections.bruno.ops.plugins.module_utils.facts import preflight

ARGUMENT_SPEC = dict(
    kubernetes=kubernetes_option(),
    redis=redis_option(),
    mongodb=mongodb_option(),
    prometheus=http_option(),
    namespace=dict(type="str", default="default"),
    access=dict(type="list", elements="str", choices=["diagnose", "remediate"], default=["diagnose", "remediate"]),
    fail_on=dict(type="list", elements="str", choices=list(preflight.FAIL_ON_CHOICES), default=[]),
)


def run(params, check_mode=False):
    """Probe every configured backend. A backend failure is a row of the result; it fails the task (with the rows
    kept) only as O(fail_on) says. Options that are wrong raise, once for all backends."""
    probes = {
        "kubernetes": lambda p: preflight.check_kubernetes(p, params["namespace"], params["access"]),
        "redis": preflight.check_redis,
        "mongodb": preflight.check_mongodb,
        "prometheus": preflight.check_prometheus,
    }
    rows = [probes[name](params[name]) if params[name] is not None else preflight.new_row(name)
            for name in preflight.BACKENDS]
    invalid = [row["error"]["message"] for row in rows if row["error"] and row["error"]["kind"] == errors.INVALID]
    if invalid:
        # The caller's options are wrong: say so once instead of reporting a "failed" backend.
        raise errors.BrunoOpsError("; ".join(invalid), kind=errors.INVALID)
    summary = preflight.summarize(rows)
    result = dict(changed=False, ok=summary["failed"] == 0 and summary["limited"] == 0, summary=summary, backends=rows)
    reasons = preflight.fatal_reasons(rows, params["fail_on"])
    if reasons:
        result.update(failed=True, msg="preflight failed: " + "; ".join(reasons))
    return result


def main():
    module_run.main(ARGUMENT_SPEC, run)


if __name__ == "__main__":
    main()

#!/usr/bin/python
# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: remediation_verify
short_description: Prove a fix worked - memory under the limit for a while, no new OOM kills, chat answers
version_added: 0.2.0
description:
  - Runs the runbook's verification and returns pass or fail with the evidence of each check.
  - C(rollout) checks that the workload's rollout is complete (when O(name) is given).
  - C(memory) samples metrics.k8s.io every O(interval) for O(window). Every current pod's working set must stay
    below O(memory_max_percent) of its limit in every sample. With O(prometheus), the max over the window from
    C(container_memory_working_set_bytes) counts too.
  - C(no_new_oom_kills) fails if a container of the current pods was OOMKilled (its state or its events) after
    O(since).
  - C(chat) does a C(POST /chat) smoke test against O(endpoint). It must answer 2xx with a non-empty C(reply).
  - Only reads (the chat message creates one short session in the agent), so it is safe in check mode.
author:
  - bruno.ops contributors (@bruno-ops)
extends_documentation_fragment:
  - bruno.ops.attributes
  - bruno.ops.attributes.info_module
  - bruno.ops.kubernetes
  - bruno.ops.prometheus
  - bruno.ops.http_endpoint
  - bruno.ops.pod_selection
options:
  endpoint:
    description:
      - The agent's HTTP endpoint for the C(POST /chat) smoke test, for example its Service URL or the apiserver's
        service proxy with a bearer token; without it the chat check is skipped.
  prometheus:
    description:
      - Prometheus, for the max over the window; without it only metrics.k8s.io is sampled.
  name:
    description: The workload; its rollout is checked and its selector used when O(selector) is unset.
    type: str
  kind:
    description: Kind of the workload.
    type: str
    default: Deployment
    choices: [Deployment, DeploymentConfig]
  selector:
    description: Label selector of the pods; the workload's own selector when unset.
    type: str
  container:
    description: Container whose memory is checked; every container when unset.
    type: str
  memory_max_percent:
    description: Memory must stay below this percentage of the limit.
    type: float
    default: 80
  window:
    description: For how long memory is sampled (C(30s), C(2m), C(5m)).
    type: str
    default: 2m
  interval:
    description: Time between two samples of metrics.k8s.io.
    type: str
    default: 15s
  since:
    description: OOM kills after this time (RFC 3339, e.g. the start of the change) fail; default the window's start.
    type: str
  chat_path:
    description: Path of the chat endpoint on O(endpoint).
    type: str
    default: /chat
  chat_message:
    description: The message sent.
    type: str
    default: "bruno.ops verify: reply with one word"
  fail_on_failure:
    description: Fail the task when a check fails (the evidence is in the result either way).
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Verify agent-bruno for five minutes after the restart
  bruno.ops.remediation_verify:
    namespace: bruno
    name: agent-bruno
    container: agent-bruno
    prometheus: {url: http://prometheus.monitoring:9090}
    endpoint: {url: http://agent-bruno-service.bruno:8080}
    memory_max_percent: 80
    window: 5m
    since: "{{ change_started }}"
"""

RETURN = r"""
passed:
  description: Whether every check passed.
  returned: always
  type: bool
  sample: true
summary:
  description: One line for people.
  returned: always
  type: str
  sample: "verify passed: rollout complete; every pod stayed under 80% of its limit; no OOM kill since ..."
failed_checks:
  description: Names of the checks that failed.
  returned: always
  type: list
  elements: str
  sample: []
checks:
  description: Each check with C(passed), C(summary) and its C(evidence) (per pod maxima, OOM kills, HTTP status).
  returned: always
  type: list
  elements: dict
  sample: [{check: memory, passed: true, summary: every pod stayed under 80% of its limit,
            evidence: {pods: {agent-bruno-7b9c-x: {max_bytes: 67108864, max_pct_of_limit: 6.2}}}}]
notes:
  description: What limited the verification, e.g. Prometheus unavailable.
  returned: always
  type: list
  elements: str
  sample: []
"""

import json
import time

from ansible_collections.bruno.ops.plugins.module_utils import errors, module_run
from ansible_collections.bruno.ops.plugins.module_utils.change import rollout, workload
from ansible_collections.bruno.ops.plugins.module_utils.clients.http_client import (
    HttpClient,
    PrometheusClient,
    http_option,
)
from ansible_collections.bruno.ops.plugins.module_utils.clients.k8s_client import K8sClient, kubernetes_option
from ansible_collections.bruno.ops.plugins.module_utils.decide import verify_checks
from ansible_collections.bruno.ops.plugins.module_utils.durations import iso, parse_duration, parse_time, utcnow
from ansible_collections.bruno.ops.plugins.module_utils.facts import pod_memory
from ansible_collections.bruno.ops.plugins.module_utils.facts.pod_selection import list_pods, pod_selection_options

ARGUMENT_SPEC = dict(
    kubernetes=kubernetes_option(), prometheus=http_option(), endpoint=http_option(), name=dict(type="str"),
    kind=dict(type="str", default="Deployment", choices=list(workload.KINDS)),
    selector=dict(type="str"), container=dict(type="str"),
    memory_max_percent=dict(type="float", default=80.0), window=dict(type="str", default="2m"),
    interval=dict(type="str", default="15s"), since=dict(type="str"),
    chat_path=dict(type="str", default="/chat"),
    chat_message=dict(type="str", default="bruno.ops verify: reply with one word"),
    fail_on_failure=dict(type="bool", default=True),
    **pod_selection_options(),
)


def validate(params):
    try:
        window = parse_duration(params["window"], "window")
        interval = parse_duration(params["interval"], "interval")
    except ValueError as exc:
        raise errors.BrunoOpsError(str(exc), kind=errors.INVALID) from None
    if not 0 < params["memory_max_percent"] <= 100:
        raise errors.BrunoOpsError("memory_max_percent must be in (0, 100], got %s" % params["memory_max_percent"],
                                   kind=errors.INVALID)
    if params["since"] and parse_time(params["since"]) is None:
        raise errors.BrunoOpsError("since %r is not an RFC 3339 time such as 2026-11-29T03:12:09Z" % params["since"],
                                   kind=errors.INVALID)
    if not params["name"] and not params["selector"]:
        raise errors.BrunoOpsError("set name (the workload) or selector (its pods)", kind=errors.INVALID)
    return window, interval


def live_pods(client, namespace, selector):
    pods = list_pods(client, namespace, selector)
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")
            and (p.get("status") or {}).get("phase") == "Running"]


def sample(client, namespace, selector, container):
    """{pod: working set bytes} now, for the chosen container (or the pod's sum)."""
    try:
        items = client.list_all("list PodMetrics in %s" % namespace, client.custom.list_namespaced_custom_object,
                                "metrics.k8s.io", "v1beta1", namespace, "pods", label_selector=selector)
    except errors.BrunoOpsError as exc:
        if exc.kind == errors.NOT_FOUND:
            return {}
        raise
    out = {}
    for pod, facts in pod_memory.metrics_by_pod(items).items():
        values = [v for name, v in facts["containers"].items() if v is not None and name == (container or name)]
        if values:
            out[pod] = sum(values)
    return out


def limits_of(pods, container):
    out = {}
    for pod in pods:
        total = 0
        for c in pod["spec"].get("containers") or []:
            if container and c["name"] != container:
                continue
            limit = pod_memory._bytes(c.get("resources") or {}, "limits")
            if limit is None:
                total = None
                break
            total += limit
        out[pod["metadata"]["name"]] = total
    return out


def prometheus_max(params, namespace, pods, container, window):
    client = PrometheusClient(params)
    matcher = "|".join(pods)
    promql = 'max by (pod) (max_over_time(container_memory_working_set_bytes{namespace="%s",pod=~"%s"%s}[%ds]))' % (
        namespace, matcher, ',container="%s"' % container if container else "", int(window))
    data, _warnings = client.query(promql)
    return {r["metric"].get("pod"): float(r["value"][1]) for r in (data or {}).get("result") or []}


def chat(params, path, message):
    client = HttpClient(params)
    body = {"message": message, "session_id": "bruno-ops-verify-%d" % int(time.time())}
    try:
        status, _headers, payload, _elapsed = client.request(path, method="POST", body=body,
                                                             action="POST %s" % path)
    except errors.BrunoOpsError as exc:
        return verify_checks.chat_check(exc.details.get("status"), None, exc.message)
    try:
        answer = json.loads(payload.decode("utf-8"))
    except ValueError:
        answer = None
    return verify_checks.chat_check(status, answer)


def run(params, check_mode):
    window, interval = validate(params)
    namespace, container = params["namespace"], params["container"]
    started = utcnow()
    since = params["since"] or iso(started)
    notes, checks = [], []
    client = K8sClient(params["kubernetes"] or {})
    try:
        selector = params["selector"]
        if params["name"]:
            target = workload.Workload(client, namespace, params["name"], params["kind"])
            obj = target.read()
            checks.append(verify_checks.rollout_check(rollout.rollout_status(obj)))
            if not selector:
                labels = (obj["spec"].get("selector") or {}).get("matchLabels") or obj["spec"].get("selector") or {}
                selector = ",".join("%s=%s" % kv for kv in sorted(labels.items()))
        samples = []
        deadline = time.monotonic() + window
        while True:
            samples.append(sample(client, namespace, selector, container))
            left = deadline - time.monotonic()
            if left <= 0:
                break
            time.sleep(min(interval, left))
        pods = live_pods(client, namespace, selector)
        names = sorted(p["metadata"]["name"] for p in pods)
        from_prometheus = None
        if params["prometheus"] and names:
            try:
                from_prometheus = prometheus_max(params["prometheus"], namespace, names, container, window)
            except errors.BrunoOpsError as exc:
                notes.append("Prometheus not used: %s" % exc.message)
        checks.append(verify_checks.memory_check(samples, limits_of(pods, container), params["memory_max_percent"],
                                                 names, from_prometheus))
        events = client.list_all("list events in %s" % namespace, client.core.list_namespaced_event, namespace,
                                 field_selector="involvedObject.kind=Pod")
        checks.append(verify_checks.oom_check(pods, events, since))
    finally:
        client.close()
    if params["endpoint"]:
        checks.append(chat(params["endpoint"], params["chat_path"], params["chat_message"]))
    else:
        notes.append("no agent endpoint: the chat smoke test was skipped")
    verdict = verify_checks.overall(checks)
    result = dict(changed=False, checks=checks, notes=notes, **verdict)
    if not verdict["passed"] and params["fail_on_failure"]:
        result.update(failed=True, msg=verdict["summary"])
    return result


def main():
    module_run.main(ARGUMENT_SPEC, run)


if __name__ == "__main__":
    main()

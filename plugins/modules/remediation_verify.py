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
  - C(health) reads the agent's C(GET /health) (must say C(healthy)) and C(GET /ready) (must say C(ready); the
    app answers 200 C(degraded) when Redis or MongoDB is down, which fails the check and names the store).
  - C(gitops) (with O(changes)) checks that no GitOps reconcile has reverted this run's changes.
  - C(chat) does a C(POST /chat) smoke test against O(endpoint) with the app's request, a JSON object with
    C(message) (O(chat_message)) and C(context) (O(chat_context)). It must answer 2xx with a non-empty
    C(response), a C(timestamp) and a C(model); the app answers its own error text with 200 and no model when its
    LLM call fails, which fails the check.
  - The agent keys sessions by client address (the first C(X-Forwarded-For) entry). The smoke chat is sent with
    C(X-Forwarded-For) O(chat_client_ip), a documentation address (TEST-NET-1 C(192.0.2.10)) no real user has, so
    it never writes into a real user's session. With O(chat_cleanup) the module then sends
    C(DELETE /memory/<chat_client_ip>) (Redis session and MongoDB history of that address) and reads
    C(GET /memory/<chat_client_ip>) again to prove the session is gone; a failed delete fails the check and says
    what is left behind.
  - Only reads, but for the smoke chat (one turn, in a session that is removed again); in check mode the smoke chat
    is skipped and a note says so, so check mode writes nothing to the app.
  - The output carries no chat text and no client address other than the documentation address unless
    O(redact=false).
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
      - The agent's HTTP endpoint for the health and C(POST /chat) checks, for example its Service URL or the
        apiserver's service proxy with a bearer token; without it both are skipped.
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
  health:
    description: Check C(GET) O(health_path) and O(ready_path) on O(endpoint).
    type: bool
    default: true
  health_path:
    description: Path of the liveness endpoint on O(endpoint).
    type: str
    default: /health
  ready_path:
    description: Path of the readiness endpoint on O(endpoint).
    type: str
    default: /ready
  chat:
    description: Do the C(POST /chat) smoke test on O(endpoint).
    type: bool
    default: true
  chat_path:
    description: Path of the chat endpoint on O(endpoint).
    type: str
    default: /chat
  chat_message:
    description: The message sent.
    type: str
    default: "bruno.ops verify: answer with one word"
  chat_context:
    description: The request's C(context) object (the app stores it with the turn).
    type: dict
    default: {source: bruno.ops verify}
  chat_client_ip:
    description:
      - The client address the smoke chat is sent as (C(X-Forwarded-For)); the agent keeps its turn in the session
        of this address, which O(chat_cleanup) removes afterwards.
      - Keep a documentation address (C(192.0.2.0/24), C(198.51.100.0/24), C(203.0.113.0/24), C(2001:db8::/32)) so
        that no real user's session is written to or deleted; any other address is warned about.
      - A proxy in front of the agent that replaces C(X-Forwarded-For) defeats this; the result notes when the agent
        had no session for this address right after the chat.
    type: str
    default: 192.0.2.10
  chat_cleanup:
    description:
      - After the smoke chat, C(DELETE) O(memory_path)C(/<chat_client_ip>) (the app deletes the address's Redis
        session and its MongoDB history) and C(GET) it again to prove no turn is left (C(recent_messages) 0).
      - A failed C(DELETE) fails the chat check and says what may be left behind.
    type: bool
    default: true
  memory_path:
    description: Path of the agent's per-client memory endpoint (C(GET|DELETE /memory/{ip})).
    type: str
    default: /memory
  redact:
    description:
      - Keep chat text and client addresses out of the result. The response and the message are shown as their
        length, a O(chat_client_ip) that is not a documentation address as C(203.0.113.x).
      - C(false) shows the first 200 characters of the response and the address as given.
    type: bool
    default: true
  changes:
    description:
      - The change record's entries of this run (the change modules' RV(bruno.ops.container_env#module:change), the
        roles' C(bruno_changes)). For every applied change to an object a GitOps controller applies (its C(gitops)
        key), the C(gitops) check reads the object again after O(window) and fails when a field bruno.ops changed
        under a suspension is back at Git's value, or when the suspension was lifted (the next reconcile reverts
        it). A C(patch-only) change that was reverted is reported, not failed (the user accepted it).
    type: list
    elements: dict
    default: []
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
    chat_client_ip: 192.0.2.10  # TEST-NET-1: its session is deleted again after the smoke chat
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
            evidence: {pods: {agent-bruno-7b9c-x: {max_bytes: 67108864, max_pct_of_limit: 6.2}}}},
           {check: chat, passed: true, summary: "POST /chat answered 200 with a response; the smoke session of
              192.0.2.10 was removed",
            evidence: {status: 200, model: "llama3.2:3b", timestamp: "2026-12-02T20:14:03.123456Z",
                       sources: [Agent Bruno], response_chars: 42, message_chars: 37,
                       cleanup: {address: 192.0.2.10, seen_before_delete: 1, deleted: true, gone: true,
                                 error: null, note: null}}}]
notes:
  description: What limited the verification, e.g. Prometheus unavailable, or a smoke chat address that is not a
    documentation address.
  returned: always
  type: list
  elements: str
  sample: []
"""

import ipaddress
import json
import time
from urllib.parse import quote

from ansible_collections.bruno.ops.plugins.module_utils import errors, module_run
from ansible_collections.bruno.ops.plugins.module_utils.change import gitops, rollout, workload
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
    health=dict(type="bool", default=True), health_path=dict(type="str", default="/health"),
    ready_path=dict(type="str", default="/ready"), chat=dict(type="bool", default=True),
    chat_path=dict(type="str", default="/chat"),
    chat_message=dict(type="str", default="bruno.ops verify: answer with one word"),
    chat_context=dict(type="dict", default={"source": "bruno.ops verify"}),
    chat_client_ip=dict(type="str", default=verify_checks.DEFAULT_TEST_ADDRESS),
    chat_cleanup=dict(type="bool", default=True), memory_path=dict(type="str", default="/memory"),
    redact=dict(type="bool", default=True), changes=dict(type="list", elements="dict", default=[]),
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
    try:
        ipaddress.ip_address(params["chat_client_ip"])
    except ValueError:
        raise errors.BrunoOpsError("chat_client_ip %r is not an IP address; keep a documentation address such as "
                                   "192.0.2.10" % params["chat_client_ip"], kind=errors.INVALID) from None
    return window, interval


def gitops_items(client, changes):
    """What the gitops check compares: each applied change to a GitOps-managed object, re-read now."""
    items = []
    for entry in changes:
        managed = entry.get("gitops") or {}
        git = managed.get("git") or {}
        if not entry.get("changed") or managed.get("action") not in ("suspend", "patch-only") or not git.get("fields"):
            continue
        kind, _space, ref = str(entry.get("target") or "").partition(" ")
        namespace, _slash, name = ref.partition("/")
        name = name.split(" ")[0]  # "deployment bruno/agent-bruno container agent-bruno"
        if kind == "hpa":
            obj = client.call_json("get %s" % entry["target"],
                                   client.autoscaling.read_namespaced_horizontal_pod_autoscaler, name, namespace)
        else:
            kinds = {k.lower(): k for k in workload.KINDS}
            obj = workload.Workload(client, namespace, name, kinds.get(kind, "Deployment")).read()
        owner = managed.get("owner") or {}
        suspended = None
        if owner.get("manager") == "flux" and owner.get("name"):
            current = workload.kustomization(client, owner.get("namespace"), owner["name"])
            suspended = bool(((current or {}).get("spec") or {}).get("suspend")) if current is not None else None
        items.append({"target": entry["target"], "action": managed["action"], "suspended": suspended,
                      "owner": "%s %s/%s" % (owner.get("kind") or owner.get("manager"), owner.get("namespace"),
                                             owner.get("name")),
                      "fields": [{"path": f["path"], "after": f["after"],
                                  "now": gitops.value_at(obj, f.get("where") or [])} for f in git["fields"]]})
    return items


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


def call(client, path, method="GET", body=None, headers=None):
    """(status, JSON body or None, error message or None) of one request to the agent; never raises."""
    try:
        status, _headers, payload, _elapsed = client.request(path, method=method, body=body, headers=headers,
                                                             action="%s %s" % (method, path))
    except errors.BrunoOpsError as exc:
        return exc.details.get("status"), None, exc.message
    try:
        return status, json.loads(payload.decode("utf-8")), None
    except ValueError:
        return status, None, None


def health(client, params):
    return verify_checks.health_check(call(client, params["health_path"]), call(client, params["ready_path"]))


def memory_url(params, address):
    return params["memory_path"].rstrip("/") + "/" + quote(address, safe="")


def turns_at(client, path):
    """(turns the agent reports for one address, error); None when its answer cannot tell (the app answers
    {recent_messages: n} for any address, so an error, a 404 included, tells nothing)."""
    _status, body, error = call(client, path)
    return verify_checks.session_turns(body), error


def cleanup(client, params, shown):
    """DELETE the smoke chat's memory and read it again: {address, seen_before_delete, deleted, gone, error, note}.
    A failed DELETE, or turns still there after it, is an error; a GET that cannot tell is only a note."""
    address = params["chat_client_ip"]
    path, shown_path = memory_url(params, address), memory_url(params, shown)
    seen, _error = turns_at(client, path)
    out = {"address": shown, "seen_before_delete": seen, "deleted": False, "gone": None, "error": None, "note": None}
    status, _body, error = call(client, path, method="DELETE")
    out["deleted"] = not error and status is not None and 200 <= status < 300
    left, get_error = turns_at(client, path)
    out["gone"] = None if left is None else left == 0
    if not out["deleted"]:
        out["error"] = "DELETE %s failed (%s): %s" % (
            shown_path, (error or "HTTP %s" % status).replace(address, shown),
            "the Redis session is gone, but the app's MongoDB history of %s may be left" % shown if out["gone"]
            else "the smoke chat's session of %s is left behind; delete it with DEL bruno:session:%s in Redis"
            % (shown, shown))
    elif left:
        out["error"] = "GET %s still shows %d turn(s) after the DELETE: the smoke session is left behind" % (
            shown_path, left)
    elif left is None:
        out["note"] = ("DELETE %s answered %s, but GET %s could not tell whether the session is gone (%s)"
                       % (shown_path, status, shown_path, (get_error or "no turn count").replace(address, shown)))
    return out


def chat(client, params):
    """The chat check, then (chat_cleanup) the removal of its session; and the notes it leads to."""
    address = params["chat_client_ip"]
    shown = verify_checks.shown_address(address, params["redact"])
    body = {"message": params["chat_message"], "context": params["chat_context"] or {}}
    status, answer, error = call(client, params["chat_path"], method="POST", body=body,
                                 headers={"X-Forwarded-For": address})
    notes, warnings = [], []
    if not verify_checks.is_test_address(address):
        warnings.append("chat_client_ip %s is not a documentation address: the smoke chat wrote into (and the "
                        "cleanup deleted) the session of whoever has it" % shown)
    removed = cleanup(client, params, shown) if params["chat_cleanup"] else None
    if removed is not None and removed["note"]:
        notes.append(removed["note"])
    if removed is None:
        notes.append("chat_cleanup is off: the smoke chat's session of %s stays until its TTL" % shown)
    elif removed["seen_before_delete"] == 0 and status and 200 <= status < 300:
        notes.append("the agent had no session for %s right after the chat: a proxy in front of it may replace "
                     "X-Forwarded-For, and then the smoke turn is in the session of the address the agent saw, "
                     "or the agent could not write to Redis" % shown)
    check = verify_checks.chat_check(status, answer, error and error.replace(address, shown), cleanup=removed,
                                     redact=params["redact"], message=params["chat_message"])
    return check, notes + warnings, warnings


def agent_checks(params, checks, notes, check_mode):
    """The health and chat checks on the agent's endpoint, appended to `checks`; returns the warnings."""
    if not (params["endpoint"] and (params["health"] or params["chat"])):
        notes.append("no agent endpoint: the health and chat checks were skipped")
        return []
    agent = HttpClient(params["endpoint"])
    warnings = []
    if params["health"]:
        checks.append(health(agent, params))
    if params["chat"] and check_mode:
        # The smoke chat writes a turn to Redis and MongoDB and the cleanup deletes it: not in check mode.
        notes.append("check mode: the smoke chat was skipped (it writes a turn, and its cleanup deletes one)")
    elif params["chat"]:
        check, chat_notes, warnings = chat(agent, params)
        checks.append(check)
        notes.extend(chat_notes)
    return warnings


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
        managed = gitops_items(client, params["changes"])
        if managed:
            checks.append(verify_checks.gitops_check(managed))
    finally:
        client.close()
    warnings = agent_checks(params, checks, notes, check_mode)
    verdict = verify_checks.overall(checks)
    result = dict(changed=False, checks=checks, notes=notes, warnings=warnings, **verdict)
    if not verdict["passed"] and params["fail_on_failure"]:
        result.update(failed=True, msg=verdict["summary"])
    return result


def main():
    module_run.main(ARGUMENT_SPEC, run)


if __name__ == "__main__":
    main()

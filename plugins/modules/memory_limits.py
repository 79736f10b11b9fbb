#!/usr/bin/python
# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: memory_limits
short_description: Recommend a right-sized memory limit from Prometheus history, and apply it with guardrails
version_added: 0.2.0
description:
  - O(mode=recommend) reads the container's working set over O(history) from Prometheus (its peak and p90),
    the pods' OOM kills (C(lastState) and events) and the current limit, and recommends a limit. The limit is
    the peak x O(headroom); after OOM kills it is at least the VPA's OOM bump of the current limit,
    max(limit + 100Mi, limit x 1.2). It is rounded up to 64Mi. Never lower than the current limit unless
    O(allow_decrease). docs/remediation.md compares it with KRR's simple strategy and the VPA recommender,
    whose figures are also returned.
  - O(mode=apply) sets the recommended limit (or O(limit)) after every guardrail passed. The new limit must be at
    least the observed peak x O(headroom) and at most O(max_limit). It must stay inside the namespace's
    LimitRanges and the C(limits.memory) of its ResourceQuotas, counting the rollout's surge pods. It must fit
    the largest node's allocatable memory, and the request must not exceed it. A failed guardrail refuses the
    change with one message listing every failure, and nothing is changed.
  - Then waits for the rollout and rolls the pod template back when it does not complete. HPAs that scale on
    memory are reported as warnings.
author:
  - bruno.ops contributors (@bruno-ops)
extends_documentation_fragment:
  - bruno.ops.attributes
  - bruno.ops.attributes.change_module
  - bruno.ops.kubernetes
  - bruno.ops.prometheus
  - bruno.ops.workload
  - bruno.ops.workload.WAIT
  - bruno.ops.workload.IMAGE
  - bruno.ops.workload.GITOPS
options:
  prometheus:
    description:
      - How to reach Prometheus, whose C(container_memory_working_set_bytes) history the recommendation uses.
      - Without it, only an explicit O(limit) can be applied, checked against the current usage from
        metrics.k8s.io.
  container:
    description: Container whose limit is tuned; may be omitted when the pod has only one.
    type: str
  mode:
    description: C(recommend) only reports; C(apply) changes the limit.
    type: str
    choices: [recommend, apply]
    default: recommend
  limit:
    description: A limit to apply instead of the recommendation, for example C(1536Mi). The guardrails still apply.
    type: str
  request:
    description: A memory request to set together with the limit; the current request is kept when unset.
    type: str
  history:
    description: How far back the usage is read (C(14d), C(6h)); also the window for OOM kills.
    type: str
    default: 14d
  min_history:
    description: Refuse to recommend from less history than this (a fresh workload has not shown its peak).
    type: str
    default: 1h
  headroom:
    description: Factor over the observed peak, at least 1 (1.15 = 15% headroom, as KRR).
    type: float
    default: 1.15
  max_limit:
    description: The highest limit this may ever set.
    type: str
    default: 4Gi
  allow_decrease:
    description: Whether a recommendation below the current limit is applied (right-sizing down).
    type: bool
    default: false
attributes:
  check_mode:
    details: Everything is read and checked; the change is sent as a server-side dry run.
"""

EXAMPLES = r"""
- name: What limit does agent-bruno need?
  bruno.ops.memory_limits:
    prometheus: {url: http://prometheus.monitoring:9090}
    namespace: bruno
    name: agent-bruno
    container: agent-bruno
  register: sizing

- name: Apply it (guardrails, wait, rollback)
  bruno.ops.memory_limits:
    prometheus: {url: http://prometheus.monitoring:9090}
    namespace: bruno
    name: agent-bruno
    container: agent-bruno
    mode: apply
    max_limit: 2Gi
"""

RETURN = r"""
current:
  description: The container's limit and request now, as quantities and bytes.
  returned: always
  type: dict
  sample: {limit: 1Gi, limit_bytes: 1073741824, request: 256Mi, request_bytes: 268435456}
observed:
  description: >-
    Usage over the history: peak and p90 working set (bytes), how much history there was (seconds), and
    OOM kills seen. C(source) is C(prometheus) or C(metrics.k8s.io); the latter is the current usage only.
  returned: always
  type: dict
  sample: {peak_bytes: 1006632960, p90_bytes: 996147200, history_seconds: 21600, oom_kills: 3,
           source: prometheus}
recommendation:
  description: >-
    The recommended limit and why. The same history under KRR's simple strategy and the VPA recommender
    (C(krr_simple), C(vpa_target), C(vpa_oom_bump)) is given for comparison.
  returned: always
  type: dict
  sample: {limit: 1280Mi, limit_bytes: 1342177280, basis: "3 OOM kill(s) at the 1.0Gi limit", kept_current: false,
           krr_simple: 1152Mi, vpa_target: 1152Mi, vpa_oom_bump: 1280Mi}
target_limit:
  description: The limit that is (or would be) applied - O(limit) or the recommendation.
  returned: always
  type: str
  sample: 1280Mi
guardrails:
  description: Every guardrail checked for the target limit, passed or not.
  returned: always
  type: list
  elements: dict
  sample: [{guardrail: max_limit, passed: true, detail: "limit 1280Mi <= max_limit 4Gi"}]
notes:
  description: Warnings, e.g. an HPA that scales on memory, or a short history.
  returned: always
  type: list
  elements: str
  sample: []
before:
  description: The container's memory resources before.
  returned: always
  type: dict
  sample: {container: agent-bruno, limits: 1Gi, requests: 256Mi}
after:
  description: The same after (in check mode, the dry run's answer; in recommend mode, unchanged).
  returned: always
  type: dict
  sample: {container: agent-bruno, limits: 1280Mi, requests: 256Mi}
undo:
  description: Options of this module that put the previous limit (and request) back.
  returned: always
  type: dict
  sample: {mode: apply, limit: 1Gi, request: 256Mi}
images:
  description:
    - What O(image_policy) found and did - C(action) C(none) (nothing mutable, or the change starts no pods),
      C(warned) or C(pinned) (a refusal fails, with this in the error's C(images)); per container the image, its
      pull policy, why it is mutable, the digests the running pods report and what it was pinned to.
  returned: always
  type: dict
  sample: {policy: warn, action: warned, new_pods: true,
           containers: [{container: agent-bruno, init: false, image: "ghcr.io/brunovlucena/agent-bruno:latest",
                         pull_policy: Always, reason: "tag :latest without a digest",
                         running_digests: ["sha256:4f1c...e9"], pods_without_digest: 0, pinned_to: null}]}
change:
  description:
    - This call's entry for a change record (action C(set_memory_limit); never a change with O(mode=recommend)),
      the memory limit and request before and after, the C(kubectl set resources) that puts them back as C(undo).
    - Its C(images) is RV(images); C(note) says C(image warned) / C(image pinned) (with the C(kubectl set image)
      that puts the tag back). A change refused before it was made carries its entry in the error's C(change).
  returned: always
  type: dict
  sample: {action: set_memory_limit, target: deployment bruno/agent-bruno container agent-bruno, changed: true,
           before: {memory_limit: 1Gi, memory_request: 256Mi}, after: {memory_limit: 1280Mi, memory_request: 256Mi},
           undo: kubectl -n bruno set resources deployment/agent-bruno -c agent-bruno --limits=memory=1Gi
             --requests=memory=256Mi, note: "revision 5 -> 6; ..."}
revision_before:
  description: The Deployment's revision before.
  returned: always
  type: str
  sample: "5"
revision_after:
  description: Its revision after the change (or the rollback).
  returned: always
  type: str
  sample: "6"
old_replica_set:
  description: The ReplicaSet before the change.
  returned: when changed and not in check mode, for a Deployment
  type: str
  sample: agent-bruno-5d8f7c9b6
new_replica_set:
  description: The ReplicaSet after the change.
  returned: when changed and not in check mode, for a Deployment
  type: str
  sample: agent-bruno-7b9c6d5f4
rollout:
  description: The rollout's state when the wait ended.
  returned: when changed and O(wait=true), not in check mode
  type: dict
  sample: {complete: true, desired: 2, updated: 2, ready: 2, available: 2, reason: complete}
"""

import datetime

from ansible_collections.bruno.ops.plugins.module_utils import errors, module_run
from ansible_collections.bruno.ops.plugins.module_utils.change import workload
from ansible_collections.bruno.ops.plugins.module_utils.change.record import change_entry, join_notes, with_refusal
from ansible_collections.bruno.ops.plugins.module_utils.clients.http_client import PrometheusClient, http_option
from ansible_collections.bruno.ops.plugins.module_utils.clients.k8s_client import kubernetes_option
from ansible_collections.bruno.ops.plugins.module_utils.decide import limits_recommend
from ansible_collections.bruno.ops.plugins.module_utils.durations import parse_duration, parse_time, utcnow
from ansible_collections.bruno.ops.plugins.module_utils.facts import pod_memory
from ansible_collections.bruno.ops.plugins.module_utils.facts.pod_selection import list_pods
from ansible_collections.bruno.ops.plugins.module_utils.quantity import QuantityError, format_bytes, parse_bytes

ARGUMENT_SPEC = dict(
    kubernetes=kubernetes_option(), prometheus=http_option(), container=dict(type="str"),
    mode=dict(type="str", default="recommend", choices=["recommend", "apply"]),
    limit=dict(type="str"), request=dict(type="str"), history=dict(type="str", default="14d"),
    min_history=dict(type="str", default="1h"), headroom=dict(type="float", default=1.15),
    max_limit=dict(type="str", default="4Gi"), allow_decrease=dict(type="bool", default=False),
    **workload.workload_options(), **workload.wait_options(), **workload.image_options(), **workload.gitops_options(),
)


def _quantity(value, option):
    try:
        result = parse_bytes(value, option)
    except QuantityError as exc:
        raise errors.BrunoOpsError(str(exc), kind=errors.INVALID) from None
    if result <= 0:
        raise errors.BrunoOpsError("%s must be more than zero (got %r)" % (option, value), kind=errors.INVALID)
    return result


def validate(params):
    """Parsed options; raises invalid_input naming the option before anything is read."""
    out = {"limit": _quantity(params["limit"], "limit") if params["limit"] else None,
           "request": _quantity(params["request"], "request") if params["request"] else None,
           "max_limit": _quantity(params["max_limit"], "max_limit")}
    for name in ("history", "min_history"):
        try:
            out[name] = parse_duration(params[name], name)
        except ValueError as exc:
            raise errors.BrunoOpsError(str(exc), kind=errors.INVALID) from None
    if not 1.0 <= params["headroom"] <= 4.0:
        raise errors.BrunoOpsError("headroom must be between 1 and 4 (1.15 = 15%% over the peak), got %s"
                                   % params["headroom"], kind=errors.INVALID)
    workload.check_wait_options(params)
    return out


def _resources(container):
    resources = container.get("resources") or {}
    return ((resources.get("limits") or {}).get("memory"), (resources.get("requests") or {}).get("memory"))


def usage_from_prometheus(params, namespace, name, container, history):
    """(peak, p90, seconds of history) of the container's working set across the workload's pods."""
    client = PrometheusClient(params)
    selector = 'container_memory_working_set_bytes{namespace="%s",pod=~"%s-.+",container="%s"}' % (
        namespace, name, container)
    window = "%ds" % int(history)

    def scalar(promql):
        data, _warnings = client.query(promql)
        values = [float(r["value"][1]) for r in (data or {}).get("result") or []]
        return max(values) if values else None

    peak = scalar("max(max_over_time(%s[%s]))" % (selector, window))
    p90 = scalar("max(quantile_over_time(0.9, %s[%s]))" % (selector, window))
    first = scalar("-min(min_over_time(timestamp(%s)[%s:1m]))" % (selector, window))
    covered = (utcnow().timestamp() + first) if first is not None else 0.0
    return peak, p90, max(0.0, covered)


def oom_kills(client, namespace, selector, container, since):
    pods = list_pods(client, namespace, selector)
    events = client.list_all("list events in %s" % namespace, client.core.list_namespaced_event, namespace,
                             field_selector="involvedObject.kind=Pod")
    names = {p["metadata"]["name"] for p in pods}
    by_pod = pod_memory.events_by_pod(events, since)
    facts = [pod_memory.pod_facts(p, None, by_pod.get(p["metadata"]["name"]), container) for p in pods]
    from_status = sum(1 for pod in facts for c in pod["containers"]
                      if any(parse_time(t) and parse_time(t) >= since
                             for t in c["oom_killed_at"]))
    from_events = sum(e["count"] for pod, items in by_pod.items() if pod in names for e in items
                      if e["reason"] in ("OOMKilled", "OOMKilling"))
    return max(from_status, from_events), pods


def current_usage(client, namespace, selector, container):
    items = client.list_all("list PodMetrics in %s" % namespace, client.custom.list_namespaced_custom_object,
                            "metrics.k8s.io", "v1beta1", namespace, "pods", label_selector=selector)
    usage = [u for pod in pod_memory.metrics_by_pod(items).values()
             for name, u in pod["containers"].items() if name == container and u is not None]
    return max(usage) if usage else None


def largest_node(client):
    nodes = client.list_all("list nodes (the largest node's allocatable memory)", client.core.list_node)
    sizes = [parse_bytes(n["status"]["allocatable"]["memory"]) for n in nodes
             if (n.get("status") or {}).get("allocatable", {}).get("memory")]
    return max(sizes) if sizes else None


def observe(client, target, params, opts, *, container, selector):
    """(observed usage and OOM kills, recommendation, notes, pod count) for the container."""
    since = utcnow() - datetime.timedelta(seconds=opts["history"])
    kills, pods = oom_kills(client, target.namespace, selector, container["name"], since)
    notes = []
    observed = {"oom_kills": kills, "peak_bytes": None, "p90_bytes": None, "history_seconds": 0}
    if params["prometheus"]:
        peak, p90, covered = usage_from_prometheus(params["prometheus"], target.namespace, target.name,
                                                   container["name"], opts["history"])
        observed.update(peak_bytes=peak, p90_bytes=p90, history_seconds=int(covered), source="prometheus")
        if opts["limit"] is None and covered < opts["min_history"]:
            raise errors.BrunoOpsError(
                "only %ds of usage history for %s (min_history %ds): too little to size a limit from; wait, "
                "or set limit explicitly" % (covered, target.ref, opts["min_history"]), kind=errors.CONFIG,
                observed=observed)
        if covered < opts["history"]:
            notes.append("usage history covers %.1fh of the %.1fh asked for"
                         % (covered / 3600.0, opts["history"] / 3600.0))
        limit_q = _resources(container)[0]
        recommendation = limits_recommend.recommend(
            peak, parse_bytes(limit_q) if limit_q else None, kills, headroom=params["headroom"],
            allow_decrease=params["allow_decrease"], p90=p90)
    elif opts["limit"] is None:
        raise errors.BrunoOpsError("a recommendation needs the usage history: set the prometheus option, or "
                                   "give limit explicitly", kind=errors.INVALID)
    else:
        observed.update(peak_bytes=current_usage(client, target.namespace, selector, container["name"]),
                        source="metrics.k8s.io")
        notes.append("no Prometheus: the peak is today's usage from metrics.k8s.io, not the history")
        recommendation = {"limit": None, "limit_bytes": None, "basis": "not computed (no Prometheus)"}
    return observed, recommendation, notes, len(pods)


def guardrails_for(client, target, obj, params, opts, *, index, new_limit, request, peak):
    namespace = target.namespace
    replicas = obj["spec"].get("replicas", 1)
    containers = obj["spec"]["template"]["spec"]["containers"]
    others = sum(parse_bytes(_resources(c)[0]) for i, c in enumerate(containers) if i != index and _resources(c)[0])
    limit_q = _resources(containers[index])[0]
    return limits_recommend.check(
        new_limit, request=request, peak=peak, headroom=params["headroom"], max_limit=opts["max_limit"],
        limit_ranges=client.list_all("list limitranges in %s" % namespace, client.core.list_namespaced_limit_range,
                                     namespace),
        quotas=client.list_all("list resourcequotas in %s" % namespace, client.core.list_namespaced_resource_quota,
                               namespace),
        node_max=largest_node(client), replicas=replicas,
        surge=limits_recommend.surge_pods(obj["spec"].get("strategy"), replicas),
        current_limit=parse_bytes(limit_q) if limit_q else None, other_limits=others, parse=parse_bytes)


def limit_ops(container, index, new_limit, new_request):
    """JSON patch ops that set the memory limit (and request) of container `index`; [] when already so."""
    base = "/spec/template/spec/containers/%d/resources" % index
    resources = container.get("resources") or {}
    ops = [] if container.get("resources") is not None else [{"op": "add", "path": base, "value": {}}]
    want = {"limits": format_bytes(new_limit)}
    if new_request:
        want["requests"] = format_bytes(new_request)
    for kind, value in want.items():
        have = (resources.get(kind) or {}).get("memory")
        if have is not None and parse_bytes(have) == parse_bytes(value):
            continue
        if kind not in resources:
            ops.append({"op": "add", "path": "%s/%s" % (base, kind), "value": {"memory": value}})
        else:
            ops.append({"op": "add", "path": "%s/%s/memory" % (base, kind), "value": value})
    return ops if len(ops) > (0 if container.get("resources") is not None else 1) else []


def change_of(target, result):
    """The change-record entry; undo is the kubectl set resources that puts the previous limit and request back."""
    before, after = result["before"], result["after"]
    restore = ["--%s=memory=%s" % (kind, before[kind]) for kind in ("limits", "requests") if before[kind]]
    undo = target.command("set", "resources", target.resource, "-c", before["container"], *restore)
    if not before["limits"]:
        undo += " (it had no memory limit: remove the one set from the manifest)"
    return change_entry(
        "set_memory_limit", "%s container %s" % (target.ref, before["container"]), changed=result["changed"],
        before={"memory_limit": before["limits"], "memory_request": before["requests"]},
        after={"memory_limit": after["limits"], "memory_request": after["requests"]},
        undo=undo if result["changed"] else "nothing to undo",
        note=join_notes(workload.rollback_note(target, result), workload.images_note(target, result.get("images"))),
        images=result.get("images"), gitops=result.get("gitops"))


def run(params, check_mode):
    opts = validate(params)
    if params.get("prometheus"):
        PrometheusClient(params["prometheus"])  # a bad prometheus option is named before the cluster is read
    with workload.opened(params) as (client, target):
        obj = target.read()
        index = workload.container_index(obj, params["container"], target.ref)
        container = obj["spec"]["template"]["spec"]["containers"][index]
        limit_q, request_q = _resources(container)
        labels = (obj["spec"].get("selector") or {}).get("matchLabels") or obj["spec"].get("selector") or {}
        selector = ",".join("%s=%s" % kv for kv in sorted(labels.items()))
        observed, recommendation, notes, pods = observe(client, target, params, opts, container=container,
                                                        selector=selector)
        new_limit = opts["limit"] or recommendation["limit_bytes"]
        notes.extend(limits_recommend.memory_hpa_notes(target.hpas()))
        request = opts["request"] or (parse_bytes(request_q) if request_q else None)
        guardrails = guardrails_for(client, target, obj, params, opts, index=index, new_limit=new_limit,
                                    request=request, peak=observed["peak_bytes"])
        result = dict(current={"limit": limit_q, "limit_bytes": parse_bytes(limit_q) if limit_q else None,
                               "request": request_q, "request_bytes": parse_bytes(request_q) if request_q else None},
                      observed=observed, recommendation=recommendation, target_limit=format_bytes(new_limit),
                      guardrails=guardrails, notes=notes, pods=pods,
                      undo={"mode": "apply", "limit": limit_q, "request": request_q})

        def view(current_obj):
            limit, req = _resources(current_obj["spec"]["template"]["spec"]["containers"][index])
            return {"container": container["name"], "limits": limit, "requests": req}

        if params["mode"] == "recommend":
            result.update(changed=False, before=view(obj), after=view(obj), revision_before=workload.revision(obj),
                          revision_after=workload.revision(obj),
                          images=workload.plan_images(workload.image_findings(obj), None, params["image_policy"],
                                                      target.ref, new_pods=False)[0])
            return dict(result, change=change_of(target, result))
        refused = limits_recommend.refusal(guardrails, target.ref)
        if refused:
            raise refused
        try:
            result.update(workload.change_as_asked(
                target, lambda current: limit_ops(current["spec"]["template"]["spec"]["containers"][index], index,
                                                  new_limit, opts["request"]),
                view, params, check_mode))
        except errors.BrunoOpsError as exc:
            raise with_refusal(exc, "set_memory_limit", "%s container %s" % (target.ref, container["name"])) from None
        return dict(result, change=change_of(target, result))


def main():
    module_run.main(ARGUMENT_SPEC, run)


if __name__ == "__main__":
    main()

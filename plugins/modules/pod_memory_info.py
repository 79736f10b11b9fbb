#!/usr/bin/python
# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pod_memory_info
short_description: Memory usage, limits, restarts, OOM kills and memory events of the pods matching a selector
version_added: 0.1.0
description:
  - For every pod matching O(label_selector) in O(namespace), reports each container's memory usage
    (metrics.k8s.io, what C(kubectl top pods) shows) against its request and limit, its restarts, whether it
    was OOMKilled (current C(state) or C(lastState)) and when, and the memory-related events of the pod
    (C(OOMKilling), C(OOMKilled), C(Killing), C(BackOff), C(Evicted)) seen within O(events_window).
  - Reads three lists, pods, PodMetrics and events, each paginated, so the number of API requests does not
    grow with the number of pods. It never makes a call per pod. RV(api_requests) reports how many it made.
  - When the metrics API is not served or not allowed, usage is null, C(metrics_available) in RV(summary) is
    false and the reason is in RV(notes); the rest is still reported.
author:
  - bruno.ops contributors (@bruno-ops)
extends_documentation_fragment:
  - bruno.ops.kubernetes
  - bruno.ops.pod_selection
  - bruno.ops.pod_selection.label_selector
  - bruno.ops.attributes
  - bruno.ops.attributes.info_module
options:
  container:
    description: Only report this container of each pod.
    type: str
  events_window:
    description: How far back to look for events, a duration such as C(30m), C(1h) or C(1d).
    type: str
    default: 1h
  include_events:
    description: Whether to list events at all.
    type: bool
    default: true
  page_size:
    description: Items per page of each list request.
    type: int
    default: 500"""

EXAMPLES = r"""
- name: What kubectl top and describe would tell about agent-bruno, in one call
  bruno.ops.pod_memory_info:
    kubernetes: {}
    namespace: bruno
    label_selector: app=agent-bruno
    events_window: 6h
  register: pods

- name: Fail fast when a pod was OOMKilled
  ansible.builtin.assert:
    that: pods.summary.oom_killed_pods | length == 0
    fail_msg: "OOMKilled: {{ pods.summary.oom_killed_pods | join(', ') }}"
"""

RETURN = r"""
pods:
  description: One entry per matching pod, sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Pod name.
      type: str
      returned: always
      sample: agent-bruno-7d9f8b6c5-x2x9q
    namespace:
      description: Pod namespace.
      type: str
      returned: always
      sample: bruno
    node:
      description: Node the pod runs on.
      type: str
      returned: always
      sample: kwok-node-0
    phase:
      description: Pod phase.
      type: str
      returned: always
      sample: Running
    ready:
      description: Whether the pod's Ready condition is true.
      type: bool
      returned: always
      sample: true
    start_time:
      description: When the pod started.
      type: str
      returned: always
      sample: "2026-11-29T06:00:00Z"
    owner:
      description: Name of the pod's owner (its ReplicaSet for a Deployment's pod).
      type: str
      returned: always
      sample: agent-bruno-7d9f8b6c5
    restarts:
      description: Restarts of the reported containers, summed.
      type: int
      returned: always
      sample: 3
    oom_killed:
      description: Whether any reported container's current or last state is OOMKilled.
      type: bool
      returned: always
      sample: false
    metrics_at:
      description: Timestamp of the usage sample, null without metrics.
      type: str
      returned: always
      sample: "2026-11-29T06:10:00Z"
    containers:
      description: One entry per container.
      type: list
      elements: dict
      returned: always
      sample:
        - name: agent-bruno
          usage_bytes: 912261120
          request_bytes: 268435456
          limit_bytes: 1073741824
          usage_pct_of_limit: 85.0
          usage_pct_of_request: 339.8
          restarts: 2
          ready: true
          state: running
          state_reason: null
          last_state: {"reason": "OOMKilled", "exit_code": 137, "started_at": "2026-11-29T05:00:00Z",
                       "finished_at": "2026-11-29T05:40:00Z"}
          oom_killed: true
          oom_killed_at: ["2026-11-29T05:40:00Z"]
          image: ghcr.io/brunovlucena/agent-bruno:latest
          image_pull_policy: Always
          env_names: [LOG_LEVEL, MONGODB_DB, MONGODB_URL, OLLAMA_MODEL, OLLAMA_URL, PORT, REDIS_URL, SESSION_TTL]
          env_from: []
    events:
      description: Memory-related events of the pod within the window, newest first.
      type: list
      elements: dict
      returned: always
      sample: [{"reason": "BackOff", "type": "Warning", "message": "Back-off restarting failed container",
                "count": 4, "last_seen": "2026-11-29T05:41:00Z"}]
summary:
  description: Figures over all reported containers.
  returned: always
  type: dict
  sample:
    pods: 2
    pods_ready: 2
    containers: 2
    metrics_available: true
    max_usage_bytes: 912261120
    mean_usage_bytes: 800000000
    max_usage_pct_of_limit: 85.0
    limits_bytes: [1073741824]
    containers_without_limit: 0
    total_restarts: 2
    oom_killed_pods: ["agent-bruno-7d9f8b6c5-x2x9q"]
    oom_kills: 1
    memory_events: {"BackOff": 4}
notes:
  description: What could not be read and why (for example the metrics API), so a reader knows what is missing.
  returned: always
  type: list
  elements: str
  sample: ["metrics.k8s.io unavailable: 404 the server could not find the requested resource"]
api_requests:
  description: How many API requests the module made; does not grow with the number of pods.
  returned: always
  type: int
  sample: 3
"""

import datetime

from ansible_collections.bruno.ops.plugins.module_utils import errors, module_run
from ansible_collections.bruno.ops.plugins.module_utils.clients.k8s_client import K8sClient, kubernetes_option
from ansible_collections.bruno.ops.plugins.module_utils.durations import parse_duration, utcnow
from ansible_collections.bruno.ops.plugins.module_utils.facts import pod_memory
from ansible_collections.bruno.ops.plugins.module_utils.facts.pod_selection import list_pods, pod_selection_options

ARGUMENT_SPEC = dict(
    kubernetes=kubernetes_option(),
    **pod_selection_options(label_selector=True),
    container=dict(type="str"),
    events_window=dict(type="str", default="1h"),
    include_events=dict(type="bool", default=True),
    page_size=dict(type="int", default=500),
)


def run(params, check_mode=False):
    try:
        window = parse_duration(params["events_window"], "events_window")
    except ValueError as exc:
        raise errors.BrunoOpsError(str(exc), kind=errors.INVALID) from None
    if params["page_size"] < 1:
        raise errors.BrunoOpsError("page_size must be at least 1", kind=errors.INVALID)
    client = K8sClient(params["kubernetes"] or {})
    namespace, selector, size = params["namespace"], params["label_selector"], params["page_size"]
    notes = []
    try:
        pods = list_pods(client, namespace, selector, page_size=size)
        metrics_available = True
        try:
            usage = pod_memory.metrics_by_pod(client.list_all(
                "list PodMetrics in %s" % namespace, client.custom.list_namespaced_custom_object,
                "metrics.k8s.io", "v1beta1", namespace, "pods", label_selector=selector, page_size=size))
        except errors.BrunoOpsError as exc:
            if exc.kind == errors.UNREACHABLE:
                raise
            metrics_available, usage = False, {}
            notes.append("metrics.k8s.io unavailable: %s" % exc.message)
        events = {}
        if params["include_events"]:
            since = utcnow() - datetime.timedelta(seconds=window)
            raw = client.list_all("list events in %s" % namespace, client.core.list_namespaced_event, namespace,
                                  field_selector="involvedObject.kind=Pod", page_size=size)
            events = pod_memory.events_by_pod(raw, since)
    finally:
        client.close()
    facts = sorted((pod_memory.pod_facts(pod, usage.get(pod["metadata"]["name"]),
                                         events.get(pod["metadata"]["name"]), params["container"])
                    for pod in pods), key=lambda pod: pod["name"])
    return dict(changed=False, pods=facts, summary=pod_memory.summarize(facts, metrics_available), notes=notes,
                api_requests=client.requests)


def main():
    module_run.main(ARGUMENT_SPEC, run)


if __name__ == "__main__":
    main()

#!/usr/bin/python
# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pod_log_scan
short_description: Count memory-related lines in the logs of every matching pod, including the crashed containers
version_added: 0.1.0
description:
  - Reads the log of every pod matching O(label_selector), and the previous container's log of every pod that
    restarted, which is where an OOMKilled container's last words are. Counts the lines matching each of
    O(patterns) and keeps a few sample lines per log.
  - Reads at most O(max_bytes) per log and only the last O(since) of it, so a chatty pod cannot flood the run.
  - A log that cannot be read (for example no previous container) is reported with its reason; the scan goes on.
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
    description: Container whose log is read; the pod's first container when unset.
    type: str
  patterns:
    description: Regular expressions to count, matched case-insensitively unless O(ignore_case=false).
    type: list
    elements: str
    default: [memory, leak, cache, OOM, MemoryError]
  groups:
    description:
      - Named groups of regular expressions; the lines matching any pattern of a group are counted per group in
        RV(summary) (C(groups)) and in each log's C(groups). The verdict reads C(memory), C(pool) (redis-py / pymongo
        pool and connection errors), C(timeout) (asyncio, socket and server-selection timeouts) and
        C(persistence) (failed MongoDB writes of the conversation).
      - The default holds those four groups, written for agent-bruno's stack (FastAPI, redis-py asyncio, motor /
        pymongo); C(plugins/module_utils/facts/log_scan.py) lists the patterns. V({}) counts no group.
    type: dict
  redact:
    description:
      - Mask client IPs (C(203.0.113.x)) and replace quoted chat text (C(message), C(response)) by its length in
        the sample lines returned. Log lines of agent-bruno name its users' IPs.
    type: bool
    default: true
  ignore_case:
    description: Match O(patterns) and O(groups) case-insensitively.
    type: bool
    default: true
  since:
    description: Only log lines newer than this duration, such as C(1h) or C(30m).
    type: str
    default: 1h
  max_bytes:
    description: Read at most this many bytes of each log (the newest ones).
    type: int
    default: 1048576
  previous:
    description: Also read the previous container's log of pods whose container restarted.
    type: bool
    default: true
  samples:
    description: Matching lines to keep per log.
    type: int
    default: 3"""

EXAMPLES = r"""
- name: The runbook's "kubectl logs | grep -i memory|leak|cache", for every pod and crashed container
  bruno.ops.pod_log_scan:
    kubernetes: {}
    namespace: bruno
    label_selector: app=agent-bruno
    since: 2h
  register: logs
"""

RETURN = r"""
logs:
  description: One entry per log read, current and previous containers.
  returned: always
  type: list
  elements: dict
  sample:
    - pod: agent-bruno-7d9f8b6c5-x2x9q
      container: agent-bruno
      previous: true
      bytes: 20480
      lines: 210
      matched_lines: 12
      matches: {"memory": 9, "leak": 0, "cache": 3, "OOM": 1, "MemoryError": 1}
      groups: {"memory": 12, "pool": 3, "timeout": 1, "persistence": 0}
      samples: ["WARNING memory usage high: 980 MiB", "WARNING - Redis operation failed: Too many connections"]
      truncated: false
      error: null
summary:
  description: Totals over all logs read; C(groups) counts the lines matched per group of O(groups).
  returned: always
  type: dict
  sample:
    pods: 2
    logs_read: 3
    logs_failed: 0
    matches: {"memory": 9, "leak": 0, "cache": 3, "OOM": 1, "MemoryError": 1}
    groups: {"memory": 12, "pool": 3, "timeout": 1, "persistence": 0}
    streams_with_matches: 1
    pods_with_matches: ["agent-bruno-7d9f8b6c5-x2x9q"]
"""

from ansible_collections.bruno.ops.plugins.module_utils import errors, module_run
from ansible_collections.bruno.ops.plugins.module_utils.clients.k8s_client import K8sClient, kubernetes_option
from ansible_collections.bruno.ops.plugins.module_utils.durations import parse_duration
from ansible_collections.bruno.ops.plugins.module_utils.facts import log_scan, privacy
from ansible_collections.bruno.ops.plugins.module_utils.facts.pod_selection import list_pods, pod_selection_options

ARGUMENT_SPEC = dict(
    kubernetes=kubernetes_option(),
    **pod_selection_options(label_selector=True),
    container=dict(type="str"),
    patterns=dict(type="list", elements="str", default=list(log_scan.DEFAULT_PATTERNS)),
    groups=dict(type="dict"),
    redact=dict(type="bool", default=True),
    ignore_case=dict(type="bool", default=True),
    since=dict(type="str", default="1h"),
    max_bytes=dict(type="int", default=1048576),
    previous=dict(type="bool", default=True),
    samples=dict(type="int", default=3),
)


def _streams(pods, container, previous):
    """(pod, container, previous?) for every log to read."""
    for pod in pods:
        containers = [c["name"] for c in pod["spec"].get("containers", [])]
        name = container or (containers[0] if containers else None)
        if name is None or name not in containers:
            continue
        yield pod["metadata"]["name"], name, False
        statuses = {s["name"]: s for s in pod.get("status", {}).get("containerStatuses") or []}
        if previous and statuses.get(name, {}).get("restartCount", 0) > 0:
            yield pod["metadata"]["name"], name, True


def run(params, check_mode=False):
    try:
        since = int(parse_duration(params["since"], "since"))
        compiled = log_scan.compile_patterns(params["patterns"], params["ignore_case"])
        groups = log_scan.compile_groups(
            log_scan.DEFAULT_GROUPS if params["groups"] is None else params["groups"], params["ignore_case"])
    except ValueError as exc:
        raise errors.BrunoOpsError(str(exc), kind=errors.INVALID) from None
    if params["max_bytes"] < 1 or params["samples"] < 0:
        raise errors.BrunoOpsError("max_bytes must be at least 1 and samples 0 or more", kind=errors.INVALID)
    namespace = params["namespace"]
    client = K8sClient(params["kubernetes"] or {})
    results = []
    try:
        pods = list_pods(client, namespace, params["label_selector"])
        for pod, container, previous in _streams(pods, params["container"], params["previous"]):
            entry = {"pod": pod, "container": container, "previous": previous, "bytes": 0, "lines": 0,
                     "matched_lines": 0, "matches": dict.fromkeys(compiled, 0), "groups": dict.fromkeys(groups, 0),
                     "samples": [], "truncated": False,
                     "error": None}
            try:
                text = client.call("read the %slog of %s/%s" % ("previous " if previous else "", namespace, pod),
                                   client.core.read_namespaced_pod_log, pod, namespace, container=container,
                                   previous=previous, since_seconds=None if previous else since,
                                   limit_bytes=params["max_bytes"])
            except errors.BrunoOpsError as exc:
                if exc.kind == errors.UNREACHABLE:
                    raise
                entry["error"] = exc.message
                results.append(entry)
                continue
            text = text or ""
            entry.update(log_scan.scan_text(text, compiled, params["samples"], groups=groups,
                                            redact=privacy.redact_text if params["redact"] else None))
            entry["bytes"] = len(text.encode("utf-8", "replace"))
            entry["truncated"] = entry["bytes"] >= params["max_bytes"]
            results.append(entry)
    finally:
        client.close()
    read = [r for r in results if r["error"] is None]
    summary = log_scan.totals(read)
    summary.update(pods=len(pods), logs_read=len(read), logs_failed=len(results) - len(read),
                   pods_with_matches=sorted({r["pod"] for r in read if r["matched_lines"]}))
    return dict(changed=False, logs=results, summary=summary)


def main():
    module_run.main(ARGUMENT_SPEC, run)


if __name__ == "__main__":
    main()

#!/usr/bin/python
# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pod_memory_probe
short_description: Measure the application's memory from inside its pods with a read-only probe
version_added: 0.1.0
description:
  - Execs a small read-only Python probe in each matching pod (at most O(max_pods)) and reports the
    application process's RSS, VMS, shared and peak memory, the container cgroup's usage and limit, and the
    node's memory as the container sees it.
  - The runbook's one-liner measured the probe's own interpreter. This probe measures the process whose command
    line contains O(process_match), or PID 1 when none does (said in C(errors)). The default C(uvicorn) matches
    agent-bruno's container, which runs C(python -m uvicorn src.main:app).
  - Uses psutil when the image has it and falls back to reading C(/proc). When the image has no C(python3) at all it
    falls back to a shell reading C(/proc/1/status) and the cgroup files.
  - With O(debug_url) it also reads one URL of the application from inside the pod, a JSON memory endpoint or
    its Prometheus C(/metrics) page, of which it keeps the C(process_*) and C(python_gc_*) samples (garbage
    collector counts live only in the application process). agent-bruno has no memory endpoint; its
    C(http://127.0.0.1:8080/metrics) serves these samples.
  - Safe in check mode. The probe only reads files and, optionally, does one local HTTP GET.
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
    description: Container to exec in; the pod's first container when unset.
    type: str
  process_match:
    description:
      - Measure the first process whose command line contains this text; PID 1 when none does.
      - The default matches agent-bruno's C(python -m uvicorn src.main:app). An empty string measures PID 1.
    type: str
    default: uvicorn
  debug_url:
    description:
      - A URL the probe GETs from inside the pod for the application's own memory facts, either JSON or a
        Prometheus text page such as agent-bruno's C(http://127.0.0.1:8080/metrics). Unset reads none.
    type: str
  max_pods:
    description: Probe at most this many pods (in name order).
    type: int
    default: 10
  timeout:
    description: Seconds each exec may take before it is abandoned.
    type: int
    default: 20
notes:
  - Needs C(create) on C(pods/exec) in the namespace.
"""

EXAMPLES = r"""
- name: Memory of the agent process in each pod, plus its process and gc figures from its /metrics
  bruno.ops.pod_memory_probe:
    kubernetes: {}
    namespace: bruno
    label_selector: app=agent-bruno
    process_match: uvicorn
    debug_url: http://127.0.0.1:8080/metrics
  register: probe
"""

RETURN = r"""
probes:
  description: One entry per probed pod.
  returned: always
  type: list
  elements: dict
  sample:
    - pod: agent-bruno-7d9f8b6c5-x2x9q
      container: agent-bruno
      rc: 0
      source: proc
      pid: 7
      cmdline: python -m uvicorn src.main:app --host 0.0.0.0 --port 8080
      process: {"rss_bytes": 734003200, "vms_bytes": 1288490188, "shared_bytes": 8388608,
                "peak_rss_bytes": 901775360, "threads": 12}
      cgroup: {"version": 2, "usage_bytes": 780000000, "limit_bytes": 1073741824}
      system: {"total_bytes": 8589934592, "available_bytes": 4294967296}
      app: {"metrics": {"process_resident_memory_bytes": 734003200.0,
                        "python_gc_objects_collected_total": 5120.0}}
      errors: []
      error: null
summary:
  description: Figures over the pods that answered.
  returned: always
  type: dict
  sample: {"pods": 2, "probed": 2, "failed": 0, "max_rss_bytes": 734003200, "sources": ["proc"]}
"""

from ansible_collections.bruno.ops.plugins.module_utils import errors, module_run
from ansible_collections.bruno.ops.plugins.module_utils.clients.k8s_client import K8sClient, kubernetes_option
from ansible_collections.bruno.ops.plugins.module_utils.facts import memory_probe
from ansible_collections.bruno.ops.plugins.module_utils.facts.pod_selection import list_pods, pod_selection_options

ARGUMENT_SPEC = dict(
    kubernetes=kubernetes_option(),
    **pod_selection_options(label_selector=True),
    container=dict(type="str"),
    process_match=dict(type="str", default=memory_probe.DEFAULT_PROCESS_MATCH),
    debug_url=dict(type="str"),
    max_pods=dict(type="int", default=10),
    timeout=dict(type="int", default=20),
)


def probe_pod(client, namespace, pod, container, params):
    """One pod: the Python probe, else the shell fallback; never raises for a pod-level failure."""
    entry = {"pod": pod, "container": container, "rc": None, "error": None}
    command = memory_probe.python_command(params["process_match"] or None, params["debug_url"], params["timeout"])
    rc, stdout, stderr = client.exec_in_pod(namespace, pod, container, command, params["timeout"])
    document = memory_probe.parse_python_output(stdout)
    if document is None:
        rc, stdout, stderr = client.exec_in_pod(namespace, pod, container, memory_probe.shell_command(),
                                                params["timeout"])
        document = memory_probe.parse_shell_output(stdout) if rc == 0 else None
    entry["rc"] = rc
    if document is None:
        entry["error"] = "the probe produced no result (rc %s): %s" % (rc, (stderr or stdout or "").strip()[:300])
    else:
        entry.update(document)
    return entry


def run(params, check_mode=False):
    if params["max_pods"] < 1 or params["timeout"] < 1:
        raise errors.BrunoOpsError("max_pods and timeout must be at least 1", kind=errors.INVALID)
    if params["debug_url"]:
        parsed = errors.split_url(params["debug_url"], "debug_url")
        if parsed["scheme"] not in ("http", "https"):
            raise errors.BrunoOpsError("debug_url must be an http:// or https:// URL inside the pod, such as "
                                       "http://127.0.0.1:8080/metrics", kind=errors.INVALID)
    namespace = params["namespace"]
    client = K8sClient(params["kubernetes"] or {})
    probes = []
    try:
        pods = list_pods(client, namespace, params["label_selector"])
        running = sorted((p for p in pods if (p.get("status") or {}).get("phase") == "Running"),
                         key=lambda p: p["metadata"]["name"])
        for pod in running[:params["max_pods"]]:
            names = [c["name"] for c in pod["spec"]["containers"]]
            container = params["container"] or names[0]
            try:
                probes.append(probe_pod(client, namespace, pod["metadata"]["name"], container, params))
            except errors.BrunoOpsError as exc:
                if exc.kind == errors.UNREACHABLE:
                    raise
                probes.append({"pod": pod["metadata"]["name"], "container": container, "rc": None,
                               "error": exc.message})
    finally:
        client.close()
    answered = [p for p in probes if p["error"] is None]
    rss = [p["process"]["rss_bytes"] for p in answered if (p.get("process") or {}).get("rss_bytes")]
    summary = {"pods": len(pods), "probed": len(answered), "failed": len(probes) - len(answered),
               "max_rss_bytes": max(rss) if rss else None,
               "sources": sorted({p["source"] for p in answered})}
    return dict(changed=False, probes=probes, summary=summary)


def main():
    module_run.main(ARGUMENT_SPEC, run)


if __name__ == "__main__":
    main()

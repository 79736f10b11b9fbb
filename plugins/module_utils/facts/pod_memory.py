# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Facts about pods' memory from three lists the apiserver returns (pods, PodMetrics, events).

Pure: takes the decoded JSON, returns plain dicts. The module does the listing.
"""

from __future__ import annotations

from ansible_collections.bruno.ops.plugins.module_utils.durations import iso, parse_time
from ansible_collections.bruno.ops.plugins.module_utils.quantity import QuantityError, parse_bytes

# Events that tell a memory story. OOMKilling is the kubelet's (node-level) report, the others are the pod's.
MEMORY_EVENT_REASONS = ("OOMKilling", "OOMKilled", "Killing", "BackOff", "Evicted")
OOM = "OOMKilled"


def _bytes(resources, kind):
    value = ((resources or {}).get(kind) or {}).get("memory")
    if value is None:
        return None
    try:
        return parse_bytes(value)
    except QuantityError:
        return None


def _state(state):
    """(name, reason) of a container state object."""
    for name in ("running", "waiting", "terminated"):
        if (state or {}).get(name) is not None:
            return name, state[name].get("reason")
    return None, None


def _terminated(state):
    term = (state or {}).get("terminated")
    if not term:
        return None
    return {
        "reason": term.get("reason"),
        "exit_code": term.get("exitCode"),
        "started_at": term.get("startedAt"),
        "finished_at": term.get("finishedAt"),
    }


def _pct(part, whole):
    if part is None or not whole:
        return None
    return round(100.0 * part / whole, 1)


def metrics_by_pod(pod_metrics):
    """{pod: {container: usage_bytes}} from metrics.k8s.io PodMetrics items."""
    usage = {}
    for item in pod_metrics or []:
        containers = {}
        for container in item.get("containers") or []:
            try:
                containers[container["name"]] = parse_bytes((container.get("usage") or {}).get("memory", "0"))
            except QuantityError:
                continue
        usage[item["metadata"]["name"]] = {"containers": containers, "timestamp": item.get("timestamp"),
                                           "window": item.get("window")}
    return usage


def event_time(event):
    for key in ("lastTimestamp", "eventTime", "firstTimestamp"):
        moment = parse_time(event.get(key))
        if moment:
            return moment
    series = parse_time((event.get("series") or {}).get("lastObservedTime"))
    return series or parse_time((event.get("metadata") or {}).get("creationTimestamp"))


def events_by_pod(events, since):
    """{pod: [event facts]} for memory-related pod events seen at or after `since`, newest first."""
    found = {}
    for event in events or []:
        involved = event.get("involvedObject") or {}
        if involved.get("kind") != "Pod" or event.get("reason") not in MEMORY_EVENT_REASONS:
            continue
        moment = event_time(event)
        if since is not None and (moment is None or moment < since):
            continue
        found.setdefault(involved.get("name"), []).append({
            "reason": event.get("reason"),
            "type": event.get("type"),
            "message": (event.get("message") or "")[:300],
            "count": event.get("count") or (event.get("series") or {}).get("count") or 1,
            "last_seen": iso(moment),
        })
    for items in found.values():
        items.sort(key=lambda e: e["last_seen"] or "", reverse=True)
    return found


def container_facts(spec, status, usage_bytes):
    resources = spec.get("resources") or {}
    limit, request = _bytes(resources, "limits"), _bytes(resources, "requests")
    state_name, state_reason = _state(status.get("state"))
    last = _terminated(status.get("lastState"))
    current = _terminated(status.get("state"))
    oom_times = [t["finished_at"] for t in (current, last) if t and t["reason"] == OOM]
    return {
        "name": spec.get("name"),
        "usage_bytes": usage_bytes,
        "request_bytes": request,
        "limit_bytes": limit,
        "usage_pct_of_limit": _pct(usage_bytes, limit),
        "usage_pct_of_request": _pct(usage_bytes, request),
        "restarts": status.get("restartCount", 0),
        "ready": bool(status.get("ready")),
        "state": state_name,
        "state_reason": state_reason,
        "last_state": last,
        "oom_killed": bool(oom_times),
        "oom_killed_at": [t for t in oom_times if t],
        "image": spec.get("image"),
        "image_pull_policy": spec.get("imagePullPolicy"),
        # names only: values may be secrets (a REDIS_URL with its password)
        "env_names": sorted({item.get("name") for item in spec.get("env") or [] if item.get("name")}),
        "env_from": [_env_source(item) for item in spec.get("envFrom") or []],
    }


def _env_source(item):
    for kind, key in (("configMap", "configMapRef"), ("secret", "secretRef")):
        if item.get(key):
            return "%s/%s" % (kind, item[key].get("name"))
    return "unknown"


def pod_facts(pod, usage, events, container=None):
    meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    statuses = {s.get("name"): s for s in status.get("containerStatuses") or []}
    pod_usage = (usage or {}).get("containers", {})
    containers = [
        container_facts(c, statuses.get(c.get("name"), {}), pod_usage.get(c.get("name")))
        for c in spec.get("containers") or []
        if container is None or c.get("name") == container
    ]
    conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    return {
        "name": meta.get("name"),
        "namespace": meta.get("namespace"),
        "node": spec.get("nodeName"),
        "phase": status.get("phase"),
        "ready": conditions.get("Ready") == "True",
        "start_time": status.get("startTime"),
        "owner": next((o.get("name") for o in meta.get("ownerReferences") or []), None),
        "restarts": sum(c["restarts"] for c in containers),
        "oom_killed": any(c["oom_killed"] for c in containers),
        "metrics_at": (usage or {}).get("timestamp"),
        "containers": containers,
        "events": events or [],
    }


def summarize(pods, metrics_available):
    containers = [c for pod in pods for c in pod["containers"]]
    usages = [c["usage_bytes"] for c in containers if c["usage_bytes"] is not None]
    pcts = [c["usage_pct_of_limit"] for c in containers if c["usage_pct_of_limit"] is not None]
    limits = sorted({c["limit_bytes"] for c in containers if c["limit_bytes"] is not None})
    events = [e for pod in pods for e in pod["events"]]
    return {
        "pods": len(pods),
        "pods_ready": sum(1 for pod in pods if pod["ready"]),
        "containers": len(containers),
        "metrics_available": metrics_available,
        "max_usage_bytes": max(usages) if usages else None,
        "mean_usage_bytes": int(sum(usages) / len(usages)) if usages else None,
        "max_usage_pct_of_limit": max(pcts) if pcts else None,
        "limits_bytes": limits,
        "containers_without_limit": sum(1 for c in containers if c["limit_bytes"] is None),
        "total_restarts": sum(c["restarts"] for c in containers),
        "oom_killed_pods": sorted(pod["name"] for pod in pods if pod["oom_killed"]),
        "oom_kills": sum(len(c["oom_killed_at"]) for c in containers),
        "memory_events": {reason: sum(e["count"] for e in events if e["reason"] == reason)
                          for reason in MEMORY_EVENT_REASONS if any(e["reason"] == reason for e in events)},
    }

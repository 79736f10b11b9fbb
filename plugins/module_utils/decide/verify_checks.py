# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Did the fix work? Each check is pure over what was read: a verdict (passed or not) with its evidence."""

from __future__ import annotations

from ansible_collections.bruno.ops.plugins.module_utils.durations import iso, parse_time
from ansible_collections.bruno.ops.plugins.module_utils.facts import pod_memory

OOM_REASONS = ("OOMKilled", "OOMKilling")


def memory_check(samples, limits, max_percent, pods, prometheus_max=None):
    """Every pod's working set stayed under max_percent of its limit in every sample (and in Prometheus' max
    over the window when given). `samples` is [{pod: bytes}], one per sampling of metrics.k8s.io."""
    per_pod = {}
    for pod in pods:
        seen = [s[pod] for s in samples if s.get(pod) is not None]
        if prometheus_max and prometheus_max.get(pod) is not None:
            seen.append(prometheus_max[pod])
        limit = limits.get(pod)
        worst = max(seen) if seen else None
        pct = round(100.0 * worst / limit, 1) if worst is not None and limit else None
        per_pod[pod] = {"max_bytes": worst, "limit_bytes": limit, "max_pct_of_limit": pct, "samples": len(seen)}
    problems = []
    for pod, facts in sorted(per_pod.items()):
        if facts["limit_bytes"] is None:
            problems.append("%s has no memory limit" % pod)
        elif facts["max_bytes"] is None:
            problems.append("no memory usage reported for %s during the window" % pod)
        elif facts["max_pct_of_limit"] >= max_percent:
            problems.append("%s reached %.1f%% of its limit (max %s%%)"
                            % (pod, facts["max_pct_of_limit"], max_percent))
    if not pods:
        problems.append("no pod matches the selector")
    return _verdict("memory", problems, {"pods": per_pod, "max_percent": max_percent, "samples": len(samples)},
                    "every pod stayed under %s%% of its limit" % max_percent)


def oom_check(pods, events, since):
    """No container of the current pods was OOMKilled after `since` (container states and pod events)."""
    since_time = parse_time(since)
    names = {p["metadata"]["name"] for p in pods}
    found = []
    for pod in pods:
        facts = pod_memory.pod_facts(pod, None, None)
        for container in facts["containers"]:
            for moment in container["oom_killed_at"]:
                when = parse_time(moment)
                if when is None or when >= since_time:
                    found.append({"pod": facts["name"], "container": container["name"], "at": moment,
                                  "source": "containerStatus"})
    for pod, items in pod_memory.events_by_pod(events, since_time).items():
        if pod in names:
            found.extend({"pod": pod, "at": e["last_seen"], "source": "event " + e["reason"]}
                         for e in items if e["reason"] in OOM_REASONS)
    problems = ["%s was OOMKilled at %s (%s)" % (f["pod"], f["at"], f["source"]) for f in found]
    return _verdict("no_new_oom_kills", problems, {"since": iso(since_time), "oom_kills": found},
                    "no OOM kill since %s" % iso(since_time))


def chat_check(status, body, error=None):
    """POST /chat answered 2xx with a non-empty reply."""
    reply = (body or {}).get("reply") if isinstance(body, dict) else None
    problems = []
    if error:
        problems.append(error)
    elif status is None or not 200 <= status < 300:
        problems.append("POST /chat answered HTTP %s" % status)
    elif not (isinstance(reply, str) and reply.strip()):
        problems.append("POST /chat answered %s without a reply" % status)
    return _verdict("chat", problems, {"status": status, "reply": (reply or "")[:200]}, "POST /chat answered %s "
                    "with a reply" % status)


def rollout_check(status):
    problems = [] if status["complete"] else ["rollout not complete: %s" % status["reason"]]
    return _verdict("rollout", problems, status, "rollout complete")


def _verdict(name, problems, evidence, ok_text):
    return {"check": name, "passed": not problems, "summary": ok_text if not problems else "; ".join(problems),
            "evidence": evidence}


def overall(checks):
    failed = [c for c in checks if not c["passed"]]
    return {"passed": not failed, "failed_checks": [c["check"] for c in failed],
            "summary": "verify passed: " + "; ".join(c["summary"] for c in checks) if not failed
            else "verify FAILED: " + "; ".join("%s: %s" % (c["check"], c["summary"]) for c in failed)}

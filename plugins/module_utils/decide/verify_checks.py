# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Did the fix work? Each check is pure over what was read: a verdict (passed or not) with its evidence."""

from __future__ import annotations

import ipaddress

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


# The smoke chat's default client address: TEST-NET-1 (RFC 5737).
DEFAULT_TEST_ADDRESS = "192.0.2.10"
# Documentation ranges (RFC 5737, RFC 3849): addresses no real client has, so a smoke chat sent "from" one of them
# (X-Forwarded-For) never lands in a real user's session.
TEST_NETWORKS = ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")


def is_test_address(address):
    """Whether `address` is in a documentation range (TEST-NET-1/2/3, 2001:db8::/32). Pure."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    networks = (ipaddress.ip_network(net) for net in TEST_NETWORKS)
    return any(ip in net for net in networks if net.version == ip.version)


def mask_address(address):
    """A client address as reports show it: IPv4 without its last octet (203.0.113.x), IPv6 with its first two
    groups (2001:db8::x); anything else becomes its length. Pure."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "<%d characters>" % len(address or "")
    if ip.version == 4:
        return ".".join(str(ip).split(".")[:3]) + ".x"
    return ":".join("%x" % int(group, 16) for group in ip.exploded.split(":")[:2]) + "::x"


def shown_address(address, redact):
    """The smoke chat's address in the output: a documentation address is ours and shown; any other is masked."""
    return address if not redact or is_test_address(address) else mask_address(address)


def text_evidence(name, text, redact, limit=200):
    """Chat text as evidence: its length when redacted, else its first `limit` characters."""
    text = text if isinstance(text, str) else ""
    return {name + "_chars": len(text)} if redact else {name: text[:limit]}


def health_check(health, ready):
    """GET /health said healthy and GET /ready said ready. `health` and `ready` are (status, body, error); a 200
    `{"status": "degraded"}` from /ready is a failed check that says which store is down."""
    problems, evidence = [], {}
    for path, (status, body, error), want in (("/health", health, "healthy"), ("/ready", ready, "ready")):
        said = body.get("status") if isinstance(body, dict) else None
        evidence[path] = {"status_code": status, "status": said}
        if error:
            problems.append(error)
        elif status is None or not 200 <= status < 300:
            problems.append("GET %s answered HTTP %s" % (path, status))
        elif said != want:
            stores = (body.get("health") or {}) if isinstance(body, dict) else {}
            down = sorted(k for k, v in stores.items() if k != "overall" and v is False)
            suffix = " (down: %s)" % ", ".join(down) if down else ""
            problems.append("GET %s says %r, not %r%s" % (path, said, want, suffix))
            if stores:
                evidence[path]["stores"] = stores
    return _verdict("health", problems, evidence, "GET /health healthy and GET /ready ready")


def chat_check(status, body, error=None, *, cleanup=None, redact=True, message=""):
    """POST /chat answered 2xx with the real app's ChatResponse: a non-empty `response`, a `timestamp` and a
    `model` (the app answers its own error text with 200 and no model when the LLM failed), and the smoke chat's
    session was removed afterwards (`cleanup`: {"address", "deleted", "gone", "error"}, None when not asked)."""
    answer = body if isinstance(body, dict) else {}
    response = answer.get("response")
    problems = []
    if error:
        problems.append(error)
    elif status is None or not 200 <= status < 300:
        problems.append("POST /chat answered HTTP %s" % status)
    elif not (isinstance(response, str) and response.strip()):
        problems.append("POST /chat answered %s without a response" % status)
    elif not answer.get("model"):
        problems.append("POST /chat answered %s with no model: the agent's error answer (its LLM call failed)"
                        % status)
    elif not answer.get("timestamp"):
        problems.append("POST /chat answered %s without a timestamp" % status)
    if cleanup is not None and cleanup.get("error"):
        problems.append(cleanup["error"])
    evidence = {"status": status, "model": answer.get("model"), "timestamp": answer.get("timestamp"),
                "sources": answer.get("sources")}
    evidence.update(text_evidence("response", response, redact))
    evidence.update(text_evidence("message", message, redact))
    if cleanup is not None:
        evidence["cleanup"] = cleanup
    ok = "POST /chat answered %s with a response" % status
    if cleanup is not None:
        ok += "; the smoke session of %s was removed" % cleanup.get("address")
    return _verdict("chat", problems, evidence, ok)


def session_turns(body):
    """How many turns GET /memory/{ip} reports: the real app answers {ip, recent_messages, ...}; a list of turns
    (or {"turns"|"history": [...]}) counts its items. None when the answer says neither."""
    if isinstance(body, list):
        return len(body)
    if isinstance(body, dict):
        if isinstance(body.get("recent_messages"), int):
            return body["recent_messages"]
        for key in ("turns", "history", "messages"):
            if isinstance(body.get(key), list):
                return len(body[key])
    return None


def rollout_check(status):
    problems = [] if status["complete"] else ["rollout not complete: %s" % status["reason"]]
    return _verdict("rollout", problems, status, "rollout complete")


def gitops_check(items):
    """Whether the changes made to GitOps-managed objects are still there after the window.

    `items`: [{target, action (suspend | patch-only), owner ("Kustomization ns/name"), fields: [{path, after, now}],
    suspended (the owner's spec.suspend now, None when unknown)}]. A reverted field fails when bruno.ops suspended
    the owner for it (its reconcile should not have run); with patch-only the revert was accepted and is only
    reported. A suspension lifted before the window ended fails too: the next reconcile reverts the change."""
    problems, evidence = [], []
    for item in items:
        reverted = [f for f in item["fields"] if f["now"] != f["after"]]
        evidence.append(dict(item, reverted=[f["path"] for f in reverted]))
        if item["action"] != "suspend":
            continue
        for field in reverted:
            problems.append("%s %s is %s again, not %s: %s reconciled it back" % (
                item["target"], field["path"], _shown(field["now"]), _shown(field["after"]), item["owner"]))
        if item.get("suspended") is False:
            problems.append("%s is no longer suspended: its next reconcile reverts the change to %s" % (
                item["owner"], item["target"]))
    kept = sum(len(i["fields"]) for i in items) - sum(len(e["reverted"]) for e in evidence)
    accepted = [e for e in evidence if e["action"] != "suspend" and e["reverted"]]
    ok = "the change held against GitOps: %d field(s) as changed" % kept
    if accepted:
        ok += "; reverted as accepted (patch-only): %s" % ", ".join(
            "%s %s" % (e["target"], p) for e in accepted for p in e["reverted"])
    return _verdict("gitops", problems, {"changes": evidence}, ok)


def _shown(value):
    return "unset" if value is None else repr(value)


def _verdict(name, problems, evidence, ok_text):
    return {"check": name, "passed": not problems, "summary": ok_text if not problems else "; ".join(problems),
            "evidence": evidence}


def overall(checks):
    failed = [c for c in checks if not c["passed"]]
    return {"passed": not failed, "failed_checks": [c["check"] for c in failed],
            "summary": "verify passed: " + "; ".join(c["summary"] for c in checks) if not failed
            else "verify FAILED: " + "; ".join("%s: %s" % (c["check"], c["summary"]) for c in failed)}

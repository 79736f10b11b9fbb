# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn the gather modules' registered results into the verdict's flat facts. Pure, no I/O.

A result that failed, was skipped or is missing makes its source unavailable (with the reason) and
its facts null: the verdict then lowers confidence instead of reading a zero.
"""

from __future__ import annotations

MIB = 2 ** 20

SOURCES = ("kubernetes", "prometheus", "redis", "mongodb", "agent", "logs")

# Every fact the verdict's causes read, with the source it comes from.
FACTS = {
    "limit_bytes": "kubernetes",  # the container memory limit
    "usage_max_pct": "kubernetes",  # highest current usage as % of the limit (metrics.k8s.io)
    "oom_kills": "kubernetes",  # OOMKilled terminations in the window
    "restarts": "kubernetes",
    "history_hours": "prometheus",  # how much working-set history there is
    "growth_mib_per_hour": "prometheus",  # robust (Theil-Sen) slope of the working set, max over pods
    "p95_pct": "prometheus",  # p95 of the working set over the window, % of the limit
    "session_correlation": "prometheus",  # Pearson r of working set with bruno_active_sessions
    "sessions": "redis",  # session keys (exact or estimated)
    "sessions_without_ttl_pct": "redis",
    "context_p95_messages": "redis",  # p95 of messages per session context
    "session_mean_bytes": "redis",  # mean MEMORY USAGE of a session key
    "redis_clients": "redis",  # connected_clients
    "mongo_connections": "mongodb",  # serverStatus.connections.current; None when not reported
    "pool_in_use_pct": "agent",  # the agent's own pool gauges, busiest pool
    "log_memory_lines": "logs",
}


def source_state(result):
    """True when the result is usable, else a short reason."""
    if not result:
        return "not gathered"
    if result.get("skipped"):
        return "skipped: %s" % (result.get("skip_reason") or "condition false")
    if result.get("failed") or result.get("unreachable"):
        return (result.get("msg") or "failed").splitlines()[0][:300]
    return True


def _get(mapping, *path):
    for key in path:
        if not isinstance(mapping, dict):
            return None
        mapping = mapping.get(key)
    return mapping


def _kubernetes(result):
    summary = result.get("summary") or {}
    limits = summary.get("limits_bytes") or []
    return {
        "limit_bytes": max(limits) if limits else None,
        "usage_max_pct": summary.get("max_usage_pct_of_limit"),
        "oom_kills": summary.get("oom_kills"),
        "restarts": summary.get("total_restarts"),
    }


def _prometheus(result, limit_bytes):
    aggregate = result.get("aggregate") or {}
    history = aggregate.get("history_seconds")
    growth = aggregate.get("growth_per_hour_max")
    p95 = aggregate.get("p95_max")
    return {
        "history_hours": None if history is None else round(history / 3600.0, 2),
        "growth_mib_per_hour": None if growth is None else round(growth / MIB, 2),
        "p95_pct": None if p95 is None or not limit_bytes else round(100.0 * p95 / limit_bytes, 1),
        "session_correlation": aggregate.get("correlation_r"),
    }


def _redis(result):
    return {
        "sessions": result.get("count"),
        "sessions_without_ttl_pct": _get(result, "ttl", "without_ttl_pct"),
        "context_p95_messages": _get(result, "context_length", "p95"),
        "session_mean_bytes": _get(result, "memory", "mean_bytes"),
        "redis_clients": _get(result, "server", "connected_clients"),
    }


def _gauge(families, name):
    samples = _get(families, name, "samples") or []
    values = [s.get("value") for s in samples if s.get("value") is not None]
    return sum(values) if values else None


def _agent(result):
    families = result.get("families") or {}
    busiest = None
    for pool in ("redis", "mongo"):
        in_use, size = _gauge(families, "bruno_%s_pool_in_use" % pool), _gauge(families, "bruno_%s_pool_max" % pool)
        if in_use is not None and size:
            pct = round(100.0 * in_use / size, 1)
            busiest = pct if busiest is None else max(busiest, pct)
    return {"pool_in_use_pct": busiest}


def _logs(result):
    logs = result.get("logs") or []
    return {"log_memory_lines": sum(entry.get("matched_lines") or 0 for entry in logs)}


def _mongodb(result):
    return {"mongo_connections": _get(result, "connections", "current")}


# Each source's extractor, in the order they run: prometheus reads the limit kubernetes found.
_EXTRACT = {
    "kubernetes": lambda result, facts: _kubernetes(result),
    "prometheus": lambda result, facts: _prometheus(result, facts["limit_bytes"]),
    "redis": lambda result, facts: _redis(result),
    "mongodb": lambda result, facts: _mongodb(result),
    "agent": lambda result, facts: _agent(result),
    "logs": lambda result, facts: _logs(result),
}


def extract(results):
    """(facts, sources) from {"kubernetes": pod_memory_info result, "prometheus": prometheus_query result,
    "redis": redis_session_info, "mongodb": mongodb_info, "agent": metrics_scrape, "logs": pod_log_scan}.

    Every fact of FACTS is there; those of a source that is unavailable are None."""
    sources = {name: source_state(results.get(name)) for name in SOURCES}
    facts = dict.fromkeys(FACTS)
    for name in SOURCES:
        if sources[name] is True:
            facts.update(_EXTRACT[name](results[name], facts))
    return facts, sources

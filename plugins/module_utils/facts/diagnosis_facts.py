# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn the gather modules' registered results into the verdict's flat facts. Pure, no I/O.

A result that failed, was skipped or is missing makes its source unavailable (with the reason) and
its facts null: the verdict then lowers confidence instead of reading a zero. A source that answered but did
not report a figure (no pool gauges, FerretDB's missing connection counts) leaves that fact null too, and
`missing_reasons` says why, so the verdict can list it as missing.
"""

from __future__ import annotations

import re

MIB = 2 ** 20

SOURCES = ("kubernetes", "prometheus", "redis", "mongodb", "agent", "logs")

# Every fact the verdict's causes and findings read, with the source it comes from.
FACTS = {
    "limit_bytes": "kubernetes",  # the container memory limit
    "usage_max_pct": "kubernetes",  # highest current usage as % of the limit (metrics.k8s.io)
    "oom_kills": "kubernetes",  # OOMKilled terminations in the window
    "restarts": "kubernetes",
    "container_env": "kubernetes",  # names of the container's environment variables (pod spec), sorted
    "request_bytes": "kubernetes",  # the container memory request
    "history_hours": "prometheus",  # how much working-set history there is
    "growth_mib_per_hour": "prometheus",  # growth that persists within container lifetimes (median over pods)
    "growth_early_mib_per_hour": "prometheus",  # growth in the first third of the lifetimes (a warm-up shows here)
    "growth_window_mib_per_hour": "prometheus",  # Theil-Sen slope over the whole window, max over pods
    "lifetime_hours": "prometheus",  # the longest container lifetime judged
    "lifetimes_ended_at_limit": "prometheus",  # judged lifetimes that ended at the limit (OOM kills)
    "restarts_seen": "prometheus",  # drops of the working set that look like restarts
    "hours_to_limit": "prometheus",  # at the persistent growth, from the current usage to the limit
    "session_memory_share_pct": "prometheus",  # % of the working set the session count accounts for (regression)
    "session_bytes_per_session": "prometheus",  # working-set bytes per session key, per pod (regression slope)
    "session_fit_r2": "prometheus",  # R² of the working set on the session count
    "age_fit_r2": "prometheus",  # R² of the working set on the container's age, same samples
    "session_change_r": "prometheus",  # how closely the working set's changes follow the sessions' (within lifetimes)
    "growth_unexplained_mib_per_hour": "prometheus",  # growth the sessions' changes do not explain
    "sessions_moved_pct": "prometheus",  # how much the session count moved over the history (range / now)
    "session_gain_r2": "prometheus",  # partial R² of the sessions beyond the container's age (sessions only rose)
    "age_gain_r2": "prometheus",  # partial R² of the age beyond the sessions (same)
    "p95_pct": "prometheus",  # p95 of the working set over the window, % of the limit
    "session_correlation": "prometheus",  # Pearson r of working set with the app's activity (role: its chat rate)
    "sessions": "redis",  # session keys (exact or estimated): the census, not the app's gauge
    "sessions_without_ttl_pct": "redis",
    "context_p95_messages": "redis",  # p95 of turns (or messages) per session
    "session_mean_turns": "redis",  # mean turns (or messages) per session
    "session_mean_bytes": "redis",  # mean MEMORY USAGE of a session key
    "sessions_recent_pct": "redis",  # share of sampled sessions used in the last 10 minutes
    "redis_clients": "redis",  # connected_clients
    "redis_maxclients": "redis",
    "redis_clients_pct_of_max": "redis",  # connected_clients / maxclients
    "redis_clients_top_addr": "redis",  # connections of the busiest client address (CLIENT LIST)
    "redis_client_addrs": "redis",  # distinct client addresses
    "redis_maxmemory_bytes": "redis",  # 0: no limit
    "redis_maxmemory_policy": "redis",
    "redis_used_memory_pct": "redis",  # used_memory / maxmemory; None without maxmemory
    "redis_slowlog_keys": "redis",  # KEYS commands in SLOWLOG (GET /stats runs one)
    "mongo_connections": "mongodb",  # serverStatus.connections.current; None when not reported
    "mongo_connections_pct": "mongodb",  # current / (current + available)
    "conversations_documents": "mongodb",  # documents in the app's collection (agent_bruno.conversations)
    "conversations_latest_age_seconds": "mongodb",  # age of its newest document
    "pool_in_use_pct": "agent",  # the agent's own pool gauges, busiest pool; only when it exports them
    "active_sessions_gauge": "agent",  # bruno_active_sessions as the app reports it (0 until GET /stats)
    "http_requests": "agent",  # requests counted by bruno_requests_total since the process started
    "http_5xx_pct": "agent",  # 5xx share of those requests (probes and /metrics left out; 20 at least)
    "chat_requests": "agent",  # POST /chat requests
    "chat_latency_p95_seconds": "agent",  # p95 of bruno_request_duration_seconds for /chat
    "memory_op_error_pct": "agent",  # error share of bruno_memory_operations_total
    "mongo_save_failures": "agent",  # failed MongoDB writes among bruno_memory_operations_total
    "ready_degraded": "agent",  # 1 when GET /ready says degraded, 0 when ready
    "log_memory_lines": "logs",
    "log_pool_error_lines": "logs",  # redis-py / pymongo pool and connection errors
    "log_timeout_lines": "logs",  # asyncio / socket / server-selection timeouts
    "log_persistence_error_lines": "logs",  # failed MongoDB writes of the conversation
}

# Why a fact is null although its source answered, when the result does not say more.
NOT_REPORTED = {
    "container_env": "the pods' container env not reported",
    "pool_in_use_pct": "pool gauges not exported",
    "active_sessions_gauge": "bruno_active_sessions not exported",
    "mongo_connections": "MongoDB does not report serverStatus.connections",
    "mongo_connections_pct": "MongoDB does not report serverStatus.connections",
    "redis_clients_top_addr": "Redis CLIENT LIST not reported",
    "redis_client_addrs": "Redis CLIENT LIST not reported",
    "redis_slowlog_keys": "Redis SLOWLOG not reported",
    "session_correlation": "no activity history to correlate with",
    "session_memory_share_pct": "no session-count history to regress on",
    "session_bytes_per_session": "no session-count history to regress on",
    "session_fit_r2": "no session-count history to regress on",
    "age_fit_r2": "no session-count history to regress on",
    "session_change_r": "no session-count history, or sessions and container age moved together",
    "growth_unexplained_mib_per_hour": "no session-count history, or sessions and container age moved together",
    "sessions_moved_pct": "no session-count history to regress on",
    "session_gain_r2": "no session-count history, or the sessions went both ways, or moved with container age",
    "age_gain_r2": "no session-count history, or the sessions went both ways, or moved with container age",
    "growth_mib_per_hour": "no container lifetime long enough to judge (15 minutes, 9 samples)",
    "growth_early_mib_per_hour": "no container lifetime long enough to judge (15 minutes, 9 samples)",
    "lifetime_hours": "no container lifetime long enough to judge (15 minutes, 9 samples)",
    "hours_to_limit": "memory is not growing, or no limit or usage",
    "request_bytes": "no memory request set",
    "redis_used_memory_pct": "Redis has no maxmemory",
    "sessions_recent_pct": "Redis does not track idle time",
    "conversations_documents": "the app's collection was not counted",
    "conversations_latest_age_seconds": "the app's collection has no dated document",
    "http_requests": "bruno_requests_total not exported",
    "http_5xx_pct": "fewer than 20 requests counted",
    "chat_requests": "bruno_requests_total not exported",
    "chat_latency_p95_seconds": "fewer than 20 /chat requests timed",
    "memory_op_error_pct": "bruno_memory_operations_total not exported",
    "mongo_save_failures": "bruno_memory_operations_total names no MongoDB write",
    "ready_degraded": "GET /ready not read",
}

# Fewer requests than this say nothing about an error share or a p95: those facts stay null.
MIN_REQUESTS = 20
# Endpoints that say nothing about serving chats: probes and scrapes.
PROBE_PATHS = ("/health", "/ready", "/metrics", "/healthz", "/readyz", "/livez")
CHAT_PATHS = ("/chat", "/mcp/chat")
# A bruno_memory_operations_total sample that counts a MongoDB write, and statuses that mean it failed.
MONGO_OPERATION = re.compile(r"mongo|persist|archive|history|save|insert", re.IGNORECASE)
FAILED_STATUS = re.compile(r"error|fail|timeout|exception", re.IGNORECASE)


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


def _number(value):
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _pct(part, whole, digits=1):
    part, whole = _number(part), _number(whole)
    if part is None or not whole:
        return None
    return round(100.0 * part / whole, digits)


def _env_names(pods):
    """The env var names the containers set, or None when unknown (not reported, or envFrom adds names unseen)."""
    names, seen = set(), False
    for pod in pods or []:
        for container in pod.get("containers") or []:
            env = container.get("env_names")
            if not isinstance(env, list) or container.get("env_from"):
                return None
            seen = True
            names.update(str(name) for name in env)
    return sorted(names) if seen else None


def _kubernetes(result):
    summary = result.get("summary") or {}
    limits = summary.get("limits_bytes") or []
    requests = [c.get("request_bytes") for pod in result.get("pods") or [] for c in pod.get("containers") or []
                if _number(c.get("request_bytes"))]
    return {
        "limit_bytes": max(limits) if limits else None,
        "request_bytes": max(requests) if requests else None,
        "usage_max_pct": summary.get("max_usage_pct_of_limit"),
        "oom_kills": summary.get("oom_kills"),
        "restarts": summary.get("total_restarts"),
        "container_env": _env_names(result.get("pods")),
    }


def _mib(value):
    return None if _number(value) is None else round(value / MIB, 2)


def _round(value, digits):
    return None if _number(value) is None else round(value, digits)


def _prometheus(result, facts):
    aggregate = result.get("aggregate") or {}
    limit_bytes = facts["limit_bytes"]
    history = aggregate.get("history_seconds")
    persistent = aggregate.get("persistent_growth_per_hour")
    p95 = aggregate.get("p95_max")
    lifetime = aggregate.get("lifetime_seconds_max")
    share = aggregate.get("regression_share")
    usage_pct = facts.get("usage_max_pct")
    hours_to_limit = None
    if limit_bytes and usage_pct is not None and _number(persistent) and persistent > 0:
        hours_to_limit = round(max(0.0, limit_bytes * (1 - usage_pct / 100.0)) / persistent, 2)
    return {
        "history_hours": None if history is None else round(history / 3600.0, 2),
        "growth_mib_per_hour": _mib(persistent),
        "growth_early_mib_per_hour": _mib(aggregate.get("early_growth_per_hour")),
        "growth_window_mib_per_hour": _mib(aggregate.get("growth_per_hour_max")),
        "lifetime_hours": None if not _number(lifetime) else round(lifetime / 3600.0, 2),
        "restarts_seen": aggregate.get("restarts_seen"),
        "lifetimes_ended_at_limit": aggregate.get("lifetimes_ended_at_limit"),
        "hours_to_limit": hours_to_limit,
        "p95_pct": None if p95 is None or not limit_bytes else round(100.0 * p95 / limit_bytes, 1),
        "session_correlation": aggregate.get("correlation_r"),
        "session_memory_share_pct": None if _number(share) is None else round(100.0 * share, 1),
        "session_bytes_per_session": _round(aggregate.get("regression_slope"), 1),
        "session_fit_r2": _round(aggregate.get("regression_r2"), 3),
        "age_fit_r2": _round(aggregate.get("regression_r2_age"), 3),
        "session_change_r": None if aggregate.get("regression_collinear") else _round(
            aggregate.get("regression_change_r"), 3),
        "growth_unexplained_mib_per_hour": _mib(aggregate.get("regression_unexplained_per_hour")),
        "sessions_moved_pct": None if _number(aggregate.get("regression_load_moved")) is None else round(
            100.0 * aggregate["regression_load_moved"], 1),
        "session_gain_r2": None if aggregate.get("regression_collinear") else _round(
            aggregate.get("regression_gain_load"), 3),
        "age_gain_r2": None if aggregate.get("regression_collinear") else _round(
            aggregate.get("regression_gain_age"), 3),
    }


def _recent_pct(idle):
    if not isinstance(idle, dict):
        return None
    buckets = [_number(idle.get(name)) for name in ("lt_1m", "lt_10m", "lt_1h", "lt_24h", "ge_24h")]
    if any(b is None for b in buckets) or not sum(buckets):
        return None
    return round(100.0 * (buckets[0] + buckets[1]) / sum(buckets), 1)


def _redis(result):
    server = result.get("server") if isinstance(result.get("server"), dict) else {}
    by_addr = server.get("clients_by_addr")
    rows = [row for row in by_addr if isinstance(row, dict)] if isinstance(by_addr, list) else None
    slowlog = server.get("slowlog_keys")
    return {
        "sessions": result.get("count"),
        "sessions_without_ttl_pct": _get(result, "ttl", "without_ttl_pct"),
        "context_p95_messages": _get(result, "context_length", "p95"),
        "session_mean_turns": _get(result, "context_length", "mean"),
        "session_mean_bytes": _get(result, "memory", "mean_bytes"),
        "sessions_recent_pct": _recent_pct(result.get("idle")),
        "redis_clients": server.get("connected_clients"),
        "redis_maxclients": server.get("maxclients"),
        "redis_clients_pct_of_max": _pct(server.get("connected_clients"), server.get("maxclients")),
        "redis_clients_top_addr": None if rows is None else max(
            [_number(row.get("connections")) or 0 for row in rows] or [0]),
        "redis_client_addrs": None if rows is None else len(rows),
        "redis_maxmemory_bytes": server.get("maxmemory_bytes"),
        "redis_maxmemory_policy": server.get("maxmemory_policy"),
        "redis_used_memory_pct": _pct(server.get("used_memory_bytes"), server.get("maxmemory_bytes")),
        "redis_slowlog_keys": _get(slowlog, "entries") if isinstance(slowlog, dict) else None,
    }


def _mongodb(result):
    connections = result.get("connections") if isinstance(result.get("connections"), dict) else {}
    current, available = _number(connections.get("current")), _number(connections.get("available"))
    collection = result.get("collection") if isinstance(result.get("collection"), dict) else {}
    return {
        "mongo_connections": current,
        "mongo_connections_pct": None if current is None or available is None else _pct(current, current + available),
        "conversations_documents": collection.get("documents"),
        "conversations_latest_age_seconds": collection.get("latest_age_seconds"),
    }


def _samples(families, name):
    family = families.get(name)
    if family is None and name.endswith("_total"):
        family = families.get(name[:-len("_total")])  # the text parser names counter families without _total
    return _get(family, "samples") or [] if isinstance(family, dict) else []


def _gauge(families, name):
    values = [s.get("value") for s in _samples(families, name) if s.get("value") is not None]
    return sum(values) if values else None


def _pools(families):
    busiest = None
    for pool in ("redis", "mongo"):
        in_use, size = _gauge(families, "bruno_%s_pool_in_use" % pool), _gauge(families, "bruno_%s_pool_max" % pool)
        if in_use is not None and size:
            pct = round(100.0 * in_use / size, 1)
            busiest = pct if busiest is None else max(busiest, pct)
    return busiest


def _requests(families):
    """(requests, 5xx %, chat requests) from bruno_requests_total{method,endpoint,status}; probes left out."""
    samples = [s for s in _samples(families, "bruno_requests_total")
               if s.get("name", "bruno_requests_total").endswith("_total") and s.get("value") is not None]
    if not samples:
        return None, None, None
    served = [s for s in samples if (s.get("labels") or {}).get("endpoint") not in PROBE_PATHS]
    total = sum(s["value"] for s in served)
    errors_5xx = sum(s["value"] for s in served if str((s.get("labels") or {}).get("status", "")).startswith("5"))
    chats = sum(s["value"] for s in served if (s.get("labels") or {}).get("endpoint") in CHAT_PATHS)
    return int(total), _pct(errors_5xx, total, 2) if total >= MIN_REQUESTS else None, int(chats)


def histogram_quantile(q, buckets):
    """The q-quantile of cumulative (upper bound, count) buckets, interpolated as Prometheus does; None if empty."""
    buckets = sorted((float(le), float(count)) for le, count in buckets)
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if bound == float("inf"):
                return lower_bound
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = bound, count
    return lower_bound


def _chat_latency(families):
    merged = {}
    for sample in _samples(families, "bruno_request_duration_seconds"):
        labels = sample.get("labels") or {}
        if not sample.get("name", "").endswith("_bucket") or labels.get("endpoint") not in CHAT_PATHS:
            continue
        if sample.get("value") is None or "le" not in labels:
            continue
        bound = float(labels["le"])
        merged[bound] = merged.get(bound, 0.0) + sample["value"]
    if merged.get(float("inf"), 0.0) < MIN_REQUESTS:
        return None
    p95 = histogram_quantile(0.95, merged.items())
    return None if p95 is None else round(p95, 3)


def _memory_operations(families):
    samples = [s for s in _samples(families, "bruno_memory_operations_total")
               if s.get("name", "bruno_memory_operations_total").endswith("_total") and s.get("value") is not None]
    if not samples:
        return None, None
    total = sum(s["value"] for s in samples)
    failed = [s for s in samples if FAILED_STATUS.search(str((s.get("labels") or {}).get("status", "")))]
    mongo = [s for s in samples if MONGO_OPERATION.search(str((s.get("labels") or {}).get("operation", "")))]
    mongo_failures = sum(s["value"] for s in mongo if s in failed) if mongo else None
    return _pct(sum(s["value"] for s in failed), total, 2), None if mongo_failures is None else int(mongo_failures)


def _ready(result):
    ready = result.get("ready")
    if not isinstance(ready, dict) or ready.get("status") is None:
        return None
    return 0 if str(ready.get("status")).lower() in ("ready", "ok", "healthy") and not ready.get("degraded") else 1


def _agent(result):
    families = result.get("families") or {}
    requests, pct_5xx, chats = _requests(families)
    op_errors, mongo_failures = _memory_operations(families)
    return {
        "pool_in_use_pct": _pools(families),
        "active_sessions_gauge": _gauge(families, "bruno_active_sessions"),
        "http_requests": requests,
        "http_5xx_pct": pct_5xx,
        "chat_requests": chats,
        "chat_latency_p95_seconds": _chat_latency(families),
        "memory_op_error_pct": op_errors,
        "mongo_save_failures": mongo_failures,
        "ready_degraded": _ready(result),
    }


# pod_log_scan's pattern groups (its `groups` option) behind each log fact.
LOG_GROUPS = {"log_memory_lines": "memory", "log_pool_error_lines": "pool", "log_timeout_lines": "timeout",
              "log_persistence_error_lines": "persistence"}


def _logs(result):
    logs = result.get("logs") or []
    groups = _get(result, "summary", "groups")
    facts = {}
    for fact, group in LOG_GROUPS.items():
        if isinstance(groups, dict) and group in groups:
            facts[fact] = groups[group]
        elif fact == "log_memory_lines" and not isinstance(groups, dict):
            facts[fact] = sum(entry.get("matched_lines") or 0 for entry in logs)  # a scan without groups
        else:
            facts[fact] = None
    return facts


def _window(result):
    """The request figures the diagnose role reads from Prometheus over the window (all pods), or None each."""
    requests = result.get("requests") if isinstance(result.get("requests"), dict) else {}
    total, errors_5xx = _number(requests.get("requests")), _number(requests.get("errors_5xx"))
    chats, p95 = _number(requests.get("chats")), _number(requests.get("chat_p95_seconds"))
    return {
        "http_requests": None if total is None else int(round(total)),
        "http_5xx_pct": _pct(errors_5xx or 0, total, 2) if total is not None and total >= MIN_REQUESTS else None,
        "chat_requests": None if chats is None else int(round(chats)),
        "chat_latency_p95_seconds": round(p95, 3) if p95 is not None and (chats or 0) >= MIN_REQUESTS else None,
    }


# Each source's extractor, in the order they run: prometheus reads the limit kubernetes found.
_EXTRACT = {
    "kubernetes": lambda result, facts: _kubernetes(result),
    "prometheus": _prometheus,
    "redis": lambda result, facts: _redis(result),
    "mongodb": lambda result, facts: _mongodb(result),
    "agent": lambda result, facts: _agent(result),
    "logs": lambda result, facts: _logs(result),
}


def extract(results):
    """(facts, sources) from {"kubernetes": pod_memory_info result, "prometheus": prometheus_query result,
    "redis": redis_session_info, "mongodb": mongodb_info, "agent": metrics_scrape, "logs": pod_log_scan}.

    Every fact of FACTS is there; those of a source that is unavailable are None. The request facts come from the
    agent's scrape (one pod, since it started), or, when the prometheus result carries `requests` (the diagnose
    role's instant queries of bruno_requests_total / bruno_request_duration_seconds over the window, all pods),
    from those."""
    sources = {name: source_state(results.get(name)) for name in SOURCES}
    facts = dict.fromkeys(FACTS)
    for name in SOURCES:
        if sources[name] is True:
            facts.update(_EXTRACT[name](results[name], facts))
    if sources["agent"] is True and sources["prometheus"] is True:
        # every pod over the window beats one pod since its start: Prometheus's figures where it has them
        facts.update({name: value for name, value in _window(results["prometheus"]).items() if value is not None})
    return facts, sources


def missing_reasons(facts, sources):
    """{fact: why it is null} for every null fact: its source's reason, else what the source did not report."""
    reasons = {}
    for name, value in facts.items():
        if value is not None:
            continue
        source = FACTS.get(name)
        state = sources.get(source)
        if state is not True:
            reasons[name] = "%s unavailable" % source
        else:
            reasons[name] = NOT_REPORTED.get(name, "not reported by %s" % source)
    return reasons

# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection-pool exhaustion: the pods hold far more Redis or MongoDB connections than they need, or a server is
near its client limit; pool errors in the logs, slow or failing answers and a degraded /ready back it up.

Read from what a real deployment has: Redis CLIENT LIST grouped by client address (one address per agent pod),
connected_clients against maxclients, MongoDB serverStatus connections where reported, pool/timeout errors in
the pods' logs (redis-py, pymongo, asyncio), /ready, and the request metrics. The app's own pool gauges are
read only when it exports them (agent-bruno does not); a fact that is null lowers the coverage.
"""

from __future__ import annotations

from ansible_collections.bruno.ops.plugins.module_utils.decide.causes._scoring import best, ramp

NAME = "connection_pool_exhaustion"
SUMMARY = ("Restart the pods to drop the connections they hold (scale out if one pod cannot keep up), and have "
           "the app bound its Redis and MongoDB pools in code")
FIX = "connection_pool_exhaustion"
NEEDS = ("redis", "mongodb", "agent", "logs")
FACTS = ("redis_clients_top_addr", "redis_clients", "redis_clients_pct_of_max", "mongo_connections",
         "mongo_connections_pct", "pool_in_use_pct", "log_pool_error_lines", "ready_degraded", "http_5xx_pct",
         "chat_latency_p95_seconds")
EVIDENCE = ("redis_clients_top_addr", "redis_client_addrs", "redis_clients", "redis_maxclients",
            "mongo_connections", "pool_in_use_pct", "log_pool_error_lines", "log_timeout_lines", "ready_degraded",
            "http_5xx_pct", "chat_latency_p95_seconds")
THRESHOLDS = {
    "redis_clients_per_addr_many": (100, 1, 10 ** 6, "one pod of an async app needs a handful, pools hold 10-50"),
    "redis_clients_many": (200, 1, 10 ** 6, "far above pools of 10-50 per pod"),
    "clients_pct_of_max": (80.0, 1, 100, "near maxclients new connections are refused"),
    "mongo_connections_many": (200, 1, 10 ** 6, "far above pools of 10-50 per pod"),
    "pool_in_use_pct": (90.0, 1, 100, "a pool that is full is waiting, not serving"),
    "pool_error_lines_many": (10, 1, 10 ** 6, "a pool that keeps failing logs it on every request"),
    "http_5xx_pct_high": (5.0, 0.1, 100, "one request in twenty failing is an outage for its users"),
    "chat_latency_p95_slow": (10.0, 0.1, 600, "answers this slow wait on something, here a connection"),
}
EXPLAINED_BY = {}


def score(facts, t):
    """Connections held now first; logged pool errors and symptoms only back them up.

    The connection figures say what is held now. Pool errors in the logs may be hours old (the trouble may be
    gone) and symptoms (5xx, slow chats, a degraded /ready) have other causes too (a slow LLM, a store down): with
    connections known they add at most a fifth to what the connections show, and connections that look normal
    score 0 whatever the logs say. Without any connection figure, logged pool errors score at most 0.5 and
    symptoms 0.3, so neither names the cause alone."""
    redis_per_addr = ramp(facts["redis_clients_top_addr"], t["redis_clients_per_addr_many"] * 0.5,
                          t["redis_clients_per_addr_many"])
    if redis_per_addr is None:  # no CLIENT LIST: the total is the next best thing
        redis_per_addr = ramp(facts["redis_clients"], t["redis_clients_many"] * 0.5, t["redis_clients_many"])
    held = best(
        redis_per_addr,
        ramp(facts["redis_clients_pct_of_max"], t["clients_pct_of_max"] - 20, t["clients_pct_of_max"]),
        ramp(facts["mongo_connections"], t["mongo_connections_many"] * 0.5, t["mongo_connections_many"]),
        ramp(facts["mongo_connections_pct"], t["clients_pct_of_max"] - 20, t["clients_pct_of_max"]),
        ramp(facts["pool_in_use_pct"], t["pool_in_use_pct"] - 20, t["pool_in_use_pct"]),
    )
    logged = ramp(facts["log_pool_error_lines"], 0, t["pool_error_lines_many"])
    symptoms = best(
        None if facts["ready_degraded"] is None else float(bool(facts["ready_degraded"])),
        ramp(facts["http_5xx_pct"], t["http_5xx_pct_high"] * 0.2, t["http_5xx_pct_high"]),
        ramp(facts["chat_latency_p95_seconds"], t["chat_latency_p95_slow"] * 0.3, t["chat_latency_p95_slow"]),
    )
    if held is None:
        return best(None if logged is None else 0.5 * logged, None if symptoms is None else 0.3 * symptoms)
    return min(1.0, held * (1.0 + 0.2 * (best(logged, symptoms) or 0.0)))


def why(facts, t):
    parts = []
    if facts.get("redis_clients_top_addr") is not None:
        parts.append("%d Redis connections from the busiest pod address (threshold %d)" % (
            facts["redis_clients_top_addr"], t["redis_clients_per_addr_many"]))
    elif facts.get("redis_clients") is not None:
        parts.append("%d Redis connections in all (threshold %d)" % (facts["redis_clients"], t["redis_clients_many"]))
    if facts.get("mongo_connections") is not None:
        parts.append("%d MongoDB connections (threshold %d)" % (
            facts["mongo_connections"], t["mongo_connections_many"]))
    if facts.get("log_pool_error_lines"):
        parts.append("%d pool errors in the logs" % facts["log_pool_error_lines"])
    if facts.get("http_5xx_pct"):
        parts.append("%.1f%% of requests 5xx (threshold %.0f%%)" % (facts["http_5xx_pct"], t["http_5xx_pct_high"]))
    if facts.get("chat_latency_p95_seconds") is not None:
        parts.append("chat p95 %.1f s (threshold %.0f s)" % (facts["chat_latency_p95_seconds"],
                                                             t["chat_latency_p95_slow"]))
    return "; ".join(parts) or "no connection figures"

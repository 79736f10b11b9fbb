# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection-pool exhaustion: far more Redis clients or MongoDB connections than the pools hold, or full pools."""

from __future__ import annotations

from ansible_collections.bruno.ops.plugins.module_utils.decide.causes._scoring import best, ramp

NAME = "connection_pool_exhaustion"
SUMMARY = "Restart the pods to drop stale connections, then cap REDIS_POOL_SIZE / MONGO_POOL_SIZE"
FIX = "connection_pool_exhaustion"
NEEDS = ("redis", "mongodb", "agent")
FACTS = ("redis_clients", "mongo_connections", "pool_in_use_pct")
EVIDENCE = ("redis_clients", "mongo_connections", "pool_in_use_pct")
THRESHOLDS = {
    "redis_clients_many": (200, 1, 10 ** 6, "far above pools of 10-50 per pod"),
    "mongo_connections_many": (200, 1, 10 ** 6, "far above pools of 10-50 per pod"),
    "pool_in_use_pct": (90.0, 1, 100, "a pool that is full is waiting, not serving"),
}
EXPLAINED_BY = {}


def score(facts, t):
    return best(
        ramp(facts["redis_clients"], t["redis_clients_many"] * 0.5, t["redis_clients_many"]),
        ramp(facts["mongo_connections"], t["mongo_connections_many"] * 0.5, t["mongo_connections_many"]),
        ramp(facts["pool_in_use_pct"], t["pool_in_use_pct"] - 20, t["pool_in_use_pct"]),
    )

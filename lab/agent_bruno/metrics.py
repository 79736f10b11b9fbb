"""Prometheus metrics on a registry of the service's own (no pod label: Prometheus adds target labels)."""

from __future__ import annotations

import logging
import threading
import time

import redis
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily

from agent_bruno import __version__, store

LOG = logging.getLogger("agent_bruno")
SCAN_COUNT = 1000
CONTEXT_BUCKETS = (1, 2, 4, 8, 16, 32, 50, 64, 100, 128, 256, 512, 1024, 4096, 16384)


class SessionCounter:
    """Counts session keys, cached for ACTIVE_SESSIONS_CACHE_SECONDS so scrapes stay cheap.

    scan mode: SCAN MATCH <prefix>* COUNT 1000 to the end, on the service's ops connection; at most
    ACTIVE_SESSIONS_SCAN_BUDGET calls (1000 keys each). Keys are not de-duplicated (no memory spent on
    100k+ names): SCAN returns every key that exists for the whole count at least once, and may return
    one twice only while Redis resizes its table. dbsize mode: DBSIZE, O(1), right only when the Redis
    database holds nothing but session keys. None when the count failed or ran out of budget.
    """

    def __init__(self, client, prefix, mode, cache_seconds, budget, *, clock=time.monotonic):
        self.client = client
        self.pattern = prefix + "*"
        self.mode = mode
        self.cache_seconds = cache_seconds
        self.budget = budget
        self.clock = clock
        self._lock = threading.Lock()
        self._value = None
        self._at = None

    def get(self):
        with self._lock:  # one count at a time; concurrent scrapes share it
            now = self.clock()
            if self._at is None or now - self._at >= self.cache_seconds:
                self._value = self._count()
                self._at = self.clock()
            return self._value

    def _count(self):
        try:
            if self.mode == "dbsize":
                return int(self.client.dbsize())
            cursor, total = 0, 0
            for _call in range(self.budget):
                cursor, keys = self.client.scan(cursor, match=self.pattern, count=SCAN_COUNT)
                total += len(keys)
                if int(cursor) == 0:
                    return total
        except redis.RedisError as exc:
            LOG.warning("counting sessions failed: %s: %s", type(exc).__name__, exc)
            return None
        LOG.warning("counting sessions: SCAN budget of %d calls exhausted; bruno_active_sessions not reported",
                    self.budget)
        return None


class _LiveCollector:
    """Gauges read at scrape time: active sessions and the connection pools."""

    def __init__(self, metrics):
        self.m = metrics

    def describe(self):
        return []

    def collect(self):
        value = self.m.sessions.get()
        if value is not None:
            g = GaugeMetricFamily("bruno_active_sessions", "Session keys in Redis (see README: how counted)")
            g.add_metric([], value)
            yield g
        created, in_use = store.redis_pool_stats(self.m.store.pool)
        yield GaugeMetricFamily("bruno_redis_pool_connections", "Connections the Redis pool has open",
                                value=created)
        yield GaugeMetricFamily("bruno_redis_pool_in_use", "Redis pool connections checked out", value=in_use)
        if self.m.archive is not None:
            counter = self.m.archive.pool_counter
            yield GaugeMetricFamily("bruno_mongo_pool_connections", "Connections the MongoDB pool has open",
                                    value=counter.open)
            yield GaugeMetricFamily("bruno_mongo_pool_in_use", "MongoDB pool connections checked out",
                                    value=counter.in_use)


class Metrics:
    def __init__(self, cfg, session_store, archive=None):
        self.store = session_store
        self.archive = archive
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)  # process_resident_memory_bytes and friends
        r = self.registry
        info = Gauge("bruno_agent_info", "Constant 1; labels name this process (join on instance)",
                     ["pod", "version"], registry=r)
        info.labels(pod=cfg.pod_name, version=__version__).set(1)
        self.chat_requests = Counter("bruno_chat_requests_total", "POST /chat requests by HTTP status",
                                     ["status"], registry=r)
        self.chat_seconds = Histogram("bruno_chat_request_duration_seconds", "POST /chat latency", registry=r)
        self.context_messages = Histogram("bruno_context_messages",
                                          "Messages in a session's Redis context after a chat turn",
                                          buckets=CONTEXT_BUCKETS, registry=r)
        self.archived = Counter("bruno_archived_messages_total", "Messages archived to MongoDB and trimmed",
                                registry=r)
        self.archive_errors = Counter("bruno_archive_errors_total",
                                      "Failed archive attempts (context left longer than the window)", registry=r)
        Gauge("bruno_redis_pool_max", "REDIS_POOL_SIZE", registry=r).set(cfg.redis_pool_size)
        Gauge("bruno_mongo_pool_max", "MONGO_POOL_SIZE (0 when MONGO_URL is unset)",
              registry=r).set(cfg.mongo_pool_size if archive is not None else 0)
        Gauge("bruno_session_ttl_seconds", "SESSION_TTL (0 = sessions get no TTL)", registry=r).set(cfg.session_ttl)
        Gauge("bruno_context_window", "CONTEXT_WINDOW (0 = unlimited)", registry=r).set(cfg.context_window)
        self.sessions = SessionCounter(session_store.ops, cfg.session_key_prefix, cfg.active_sessions_mode,
                                       cfg.active_sessions_cache_seconds, cfg.active_sessions_scan_budget)
        r.register(_LiveCollector(self))

    def render(self):
        return generate_latest(self.registry)

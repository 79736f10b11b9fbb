"""Lab-only controls behind /lab/* (LAB_MODE=1): retained memory, held connections, faults, broken persistence.

None of this exists in the real app; no module of the collection reads it. The faults play the runbook's
causes so that diagnosis has something real to find.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading

import pymongo

from agent_bruno import store

LOG = logging.getLogger("agent_bruno.lab")
MAX_LEAK_PER_CALL = 1 << 30
MAX_HELD_REDIS = 1000
MAX_HELD_MONGO = 100
FAULT_KINDS = ("none", "slow", "error")
MAX_SLOW_SECONDS = 600.0


class LabRequestError(ValueError):
    """A bad /lab/* request body (answered 400)."""


def fault_hits(index, rate):
    """Whether request number `index` (0, 1, ...) gets the fault: exactly floor(n * rate) of the first n
    requests do, spread evenly, so a rate is deterministic (rate 1: every request, 0.5: every second one)."""
    return math.floor(round((index + 1) * rate, 9)) > math.floor(round(index * rate, 9))


def parse_fault(body):
    if not isinstance(body, dict):
        raise LabRequestError("body must be a JSON object")
    kind = body.get("kind", "none")
    if kind not in FAULT_KINDS:
        raise LabRequestError("kind must be one of %s, got %r" % (", ".join(FAULT_KINDS), kind))
    seconds = body.get("seconds", 0 if kind != "slow" else 2)
    rate = body.get("rate", 1)
    for name, value in (("seconds", seconds), ("rate", rate)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise LabRequestError("%s must be a number, got %r" % (name, value))
    if not 0 <= seconds <= MAX_SLOW_SECONDS:
        raise LabRequestError("seconds must be 0..%d, got %r" % (MAX_SLOW_SECONDS, seconds))
    if not 0 <= rate <= 1:
        raise LabRequestError("rate must be 0..1, got %r" % rate)
    return {"kind": kind, "seconds": float(seconds), "rate": float(rate)}


def _count(body, name, maximum):
    value = body.get(name, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise LabRequestError("%s must be a non-negative integer, got %r" % (name, value))
    if value > maximum:
        raise LabRequestError("%s must be <= %d, got %d" % (name, maximum, value))
    return value


class Lab:
    def __init__(self, config, mongo_store):
        self.config = config
        self.mongo_store = mongo_store
        self._lock = threading.Lock()
        self._leak = []
        self._redis = []
        self._mongo = []
        self._fault = {"kind": "none", "seconds": 0.0, "rate": 1.0}
        self._fault_index = 0
        self.faults_applied = 0

    # --- memory ------------------------------------------------------------------------------------
    def leak(self, body):
        if not isinstance(body, dict):
            raise LabRequestError("body must be a JSON object")
        size = _count(body, "bytes", MAX_LEAK_PER_CALL)
        chunk = bytearray(b"\xa5") * size  # filled, so it is resident
        with self._lock:
            self._leak.append(chunk)
        return self._memory()

    def _memory(self):
        return {"retained_bytes": sum(len(chunk) for chunk in self._leak), "chunks": len(self._leak)}

    # --- connections -------------------------------------------------------------------------------
    def held(self):
        return {"redis": len(self._redis), "mongo": len(self._mongo)}

    def hold(self, body):
        """Open and hold extra connections outside any pool; (answer, error or None)."""
        if not isinstance(body, dict):
            raise LabRequestError("body must be a JSON object")
        unknown = sorted(set(body) - {"redis", "mongo"})
        if unknown:
            raise LabRequestError("unknown field(s) %s: give {\"redis\": n, \"mongo\": m} (the real app has no "
                                  "bounded pool, so there is no redis_pool to exhaust)" % ", ".join(unknown))
        want_redis = _count(body, "redis", MAX_HELD_REDIS)
        want_mongo = _count(body, "mongo", MAX_HELD_MONGO)
        with self._lock:
            if len(self._redis) + want_redis > MAX_HELD_REDIS or len(self._mongo) + want_mongo > MAX_HELD_MONGO:
                raise LabRequestError("at most %d Redis and %d MongoDB connections are held"
                                      % (MAX_HELD_REDIS, MAX_HELD_MONGO))
            try:
                for _index in range(want_redis):
                    conn = store.redis_connection(self.config.redis_url, self.config.source_addr)
                    conn.connect()
                    conn.send_command("PING")
                    conn.read_response()
                    self._redis.append(conn)
                for _index in range(want_mongo):
                    client = pymongo.MongoClient(self.config.mongodb_url, maxPoolSize=1, connect=True)
                    self._mongo.append(client)
                    client.admin.command("ping")
            except Exception as exc:  # pylint: disable=broad-except
                LOG.warning("lab: holding connections failed part way: %s", exc)
                return self.held(), str(exc)
        LOG.info("lab: holding %(redis)d Redis and %(mongo)d MongoDB connections", self.held())
        return self.held(), None

    def release(self):
        with self._lock:
            before = dict(self.held(), **self._memory())
            for conn in self._redis:
                with contextlib.suppress(Exception):  # closing anyway
                    conn.disconnect()
            for client in self._mongo:
                client.close()
            self._redis, self._mongo, self._leak = [], [], []
        LOG.info("lab: released %s", before)
        return {"released": before}

    # --- faults ------------------------------------------------------------------------------------
    def set_fault(self, body):
        fault = parse_fault(body)
        with self._lock:
            self._fault, self._fault_index = fault, 0
        LOG.info("lab: fault %s", fault)
        return dict(fault)

    def next_fault(self):
        """The fault for this /chat request: None, ("slow", seconds) or ("error", 0)."""
        with self._lock:
            fault = self._fault
            if fault["kind"] == "none":
                return None
            index, self._fault_index = self._fault_index, self._fault_index + 1
            if not fault_hits(index, fault["rate"]):
                return None
            self.faults_applied += 1
            return fault["kind"], fault["seconds"]

    # --- persistence -------------------------------------------------------------------------------
    def set_persistence(self, body):
        if not isinstance(body, dict) or not isinstance(body.get("broken"), bool):
            raise LabRequestError('body must be {"broken": true|false}')
        self.mongo_store.broken = body["broken"]
        LOG.info("lab: persistence %s", "broken" if body["broken"] else "working")
        return {"broken": self.mongo_store.broken}

    def state(self):
        with self._lock:
            return {
                "pod": self.config.pod_name,
                "lab_mode": True,
                "persistence_broken": self.mongo_store.broken,
                "fault": dict(self._fault, applied=self.faults_applied),
                "memory": self._memory(),
                "held": self.held(),
                "session_ttl": self.config.session_ttl,
                "ollama_model": self.config.ollama_model,
                "mongodb_db": self.config.mongodb_db,
                "mongo_timestamp": self.config.mongo_timestamp,
                "source_addr": self.config.source_addr or None,
            }

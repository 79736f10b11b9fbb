"""Lab knobs (only with LAB_MODE=1): retain memory and hold connections, to play the runbook's causes."""

from __future__ import annotations

import threading

import pymongo
import redis

from agent_bruno import store
from agent_bruno.core import BadRequest

MAX_LEAK_BYTES_PER_CALL = 1 << 30
MAX_HELD_REDIS = 1000
MAX_HELD_MONGO = 100

# Retained "leaked" memory. Module-level on purpose: a leak is something nobody owns.
_LEAK = []


def _count(data, name, maximum):
    value = data.get(name, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadRequest("'%s' must be a non-negative integer" % name)
    if value > maximum:
        raise BadRequest("'%s' must be <= %d" % (name, maximum))
    return value


class LabKnobs:
    def __init__(self, cfg, session_store):
        self.cfg = cfg
        self.store = session_store
        self._lock = threading.Lock()
        self.redis_raw = []  # connections outside the pool (a connection leak)
        self.redis_pool = []  # connections checked out of the service's pool (pool exhaustion)
        self.mongo = []  # extra MongoClient instances, each with its own pool and monitor

    def leak(self, data):
        n = _count(data, "bytes", MAX_LEAK_BYTES_PER_CALL)
        with self._lock:
            if n:
                _LEAK.append(b"\xa5" * n)  # written, so the pages are resident (counted in RSS)
            return {"retained_bytes": self.retained_bytes(), "chunks": len(_LEAK)}

    @staticmethod
    def retained_bytes():
        return sum(len(chunk) for chunk in _LEAK)

    def hold(self, data):
        n_raw = _count(data, "redis", MAX_HELD_REDIS)
        n_pool = _count(data, "redis_pool", self.cfg.redis_pool_size)
        n_mongo = _count(data, "mongo", MAX_HELD_MONGO)
        if n_mongo and not self.cfg.mongo_enabled:
            raise BadRequest("'mongo' needs MONGO_URL")
        with self._lock:
            if len(self.redis_raw) + n_raw > MAX_HELD_REDIS:
                raise BadRequest("at most %d held Redis connections in all" % MAX_HELD_REDIS)
            if len(self.mongo) + n_mongo > MAX_HELD_MONGO:
                raise BadRequest("at most %d held MongoDB clients in all" % MAX_HELD_MONGO)
            error = None
            try:
                for _i in range(n_raw):
                    self.redis_raw.append(self._open_redis())
                for _i in range(n_pool):
                    # Blocks up to REDIS_POOL_TIMEOUT when the pool is already exhausted.
                    self.redis_pool.append(self.store.pool.get_connection())
                for _i in range(n_mongo):
                    self.mongo.append(self._open_mongo())
            except (redis.RedisError, pymongo.errors.PyMongoError, OSError) as exc:
                error = "%s: %s" % (type(exc).__name__, str(exc)[:200])
            return self._held(error)

    def _open_redis(self):
        conn = self.store.pool.connection_class(**self.store.pool.connection_kwargs)
        try:
            conn.connect()
            conn.send_command("PING")
            conn.read_response()
        except BaseException:
            conn.disconnect()
            raise
        return conn

    def _open_mongo(self):
        client = store.mongo_client(self.cfg, pool_size=1)
        try:
            client.admin.command("ping")
        except BaseException:
            client.close()
            raise
        return client

    def _held(self, error=None):
        out = {"redis": len(self.redis_raw), "redis_pool": len(self.redis_pool), "mongo": len(self.mongo),
               "retained_bytes": self.retained_bytes()}
        if error:
            out["error"] = error
        return out

    def release(self):
        """Close held connections and clients, drop retained memory; returns what was released."""
        with self._lock:
            released = self._held()
            for conn in self.redis_raw:
                conn.disconnect()
            for conn in self.redis_pool:
                self.store.pool.release(conn)
            for client in self.mongo:
                client.close()
            self.redis_raw, self.redis_pool, self.mongo = [], [], []
            _LEAK.clear()
            return {"released": released}

    def status(self):
        with self._lock:
            return self._held()

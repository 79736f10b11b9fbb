"""Session store (Redis) and conversation store (MongoDB), behaving like the real app's two stores.

Redis: one LIST per client IP; a turn is RPUSH then EXPIRE SESSION_TTL; the prompt reads LRANGE -5 -1.
When a Redis command fails the store marks itself disconnected and skips Redis (no context, nothing saved)
until the next health check (GET /ready or /status) pings it successfully again.

MongoDB: `<MONGODB_DB>.conversations`, three indexes (ip, timestamp, ip+timestamp desc) created at start;
a failed insert/delete raises (the chat then answers the apology text). With `broken` set (the published
app), every call the real code guards with `if not self.db:` raises what pymongo raises there.
"""

from __future__ import annotations

import logging
import socket
import threading

import pymongo
import redis

from agent_bruno import turns

REDIS_LOG = logging.getLogger("src.memory.redis_store")
MONGO_LOG = logging.getLogger("src.memory.mongo_store")
COLLECTION = "conversations"
INDEXES = (["ip"], ["timestamp"], [("ip", 1), ("timestamp", -1)])


def source_bound_connection(source_addr):
    """A redis Connection class whose sockets are bound to `source_addr` (lab-only LAB_SOURCE_ADDR), so each
    agent process shows its own client address in CLIENT LIST like a pod with its own IP."""

    class SourceBoundConnection(redis.Connection):
        def _connect(self):
            sock = socket.create_connection((self.host, self.port), timeout=self.socket_connect_timeout,
                                            source_address=(source_addr, 0))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(self.socket_timeout)
            return sock

    return SourceBoundConnection


def redis_client(url, source_addr=""):
    kwargs = {"encoding": "utf-8", "decode_responses": True}
    if source_addr and url.startswith("redis://"):
        kwargs["connection_class"] = source_bound_connection(source_addr)
    return redis.Redis.from_url(url, **kwargs)


def redis_connection(url, source_addr=""):
    """A single Redis connection outside any pool (lab: held connections)."""
    pool = redis.ConnectionPool.from_url(url)
    cls = pool.connection_class
    if source_addr and cls is redis.Connection:
        cls = source_bound_connection(source_addr)
    return cls(**pool.connection_kwargs)


class RedisStore:
    def __init__(self, url, ttl, source_addr=""):
        self.url = url
        self.ttl = ttl
        self.source_addr = source_addr
        self.client = None
        self.connected = False
        self._lock = threading.Lock()

    def connect(self):
        with self._lock:
            client = redis_client(self.url, self.source_addr)
            try:
                client.ping()
            except Exception as exc:  # pylint: disable=broad-except
                client.close()
                self.client, self.connected = None, False
                REDIS_LOG.warning("⚠️  Redis unavailable: %s - service will continue with degraded functionality",
                                  exc)
                return
            self.client, self.connected = client, True
            REDIS_LOG.info("✅ Connected to Redis")

    def disconnect(self):
        if self.client is not None:
            self.client.close()
            REDIS_LOG.info("🔌 Disconnected from Redis")

    def _usable(self, what, ip=None):
        if self.client is None or not self.connected:
            REDIS_LOG.debug("⚠️  Redis unavailable, %s%s", what, " for IP: %s" % ip if ip is not None else "")
            return False
        return True

    def _failed(self, exc):
        REDIS_LOG.warning("⚠️  Redis operation failed: %s", exc)
        self.connected = False

    def save_turn(self, ip, turn):
        if not self._usable("skipping save", ip):
            return
        key = turns.session_key(ip)
        try:
            self.client.rpush(key, turns.encode_turn(turn))
            self.client.expire(key, self.ttl)
            REDIS_LOG.debug("💾 Saved message for IP: %s", ip)
        except Exception as exc:  # pylint: disable=broad-except
            self._failed(exc)

    def recent(self, ip, limit=turns.CONTEXT_TURNS):
        if not self._usable("returning empty session", ip):
            return []
        try:
            return turns.decode_turns(self.client.lrange(turns.session_key(ip), -limit, -1))
        except Exception as exc:  # pylint: disable=broad-except
            self._failed(exc)
            return []

    def clear(self, ip):
        if not self._usable("cannot clear session", ip):
            return
        try:
            self.client.delete(turns.session_key(ip))
            REDIS_LOG.info("🗑️ Cleared session for IP: %s", ip)
        except Exception as exc:  # pylint: disable=broad-except
            self._failed(exc)

    def active_sessions(self):
        if not self._usable("returning 0 active sessions"):
            return 0
        try:
            return len(self.client.keys(turns.session_pattern()))
        except Exception as exc:  # pylint: disable=broad-except
            self._failed(exc)
            return 0

    def health_check(self):
        if self.client is None:
            self.connect()
            return self.connected
        try:
            self.client.ping()
        except Exception as exc:  # pylint: disable=broad-except
            REDIS_LOG.debug("⚠️  Redis health check failed: %s", exc)
            self.connected = False
            return False
        self.connected = True
        return True


class MongoStore:
    def __init__(self, url, db_name, timestamp_mode="iso", broken=False):
        self.url = url
        self.db_name = db_name
        self.timestamp_mode = timestamp_mode
        self.broken = broken  # lab: the published app's `if not self.db:` (every guarded call raises)
        self.client = None
        self.db = None

    def connect(self):
        """Create the indexes and ping; raises when MongoDB cannot be reached (the real app then fails to
        start)."""
        try:
            self.client = pymongo.MongoClient(self.url)
            self.db = self.client[self.db_name]
            collection = self.db[COLLECTION]
            for keys in INDEXES:
                collection.create_index(keys)
            MONGO_LOG.info("✅ Created MongoDB indexes")
            self.client.admin.command("ping")
            MONGO_LOG.info("✅ Connected to MongoDB: %s", self.db_name)
        except Exception as exc:
            MONGO_LOG.error("❌ Failed to connect to MongoDB: %s", exc)
            raise

    def disconnect(self):
        if self.client is not None:
            self.client.close()
            MONGO_LOG.info("🔌 Disconnected from MongoDB")

    def _collection(self):
        if self.broken or self.db is None:
            raise NotImplementedError(turns.DB_TRUTH_ERROR)
        return self.db[COLLECTION]

    def save(self, ip, turn, created_at):
        collection = self._collection()
        try:
            collection.insert_one(turns.mongo_document(ip, turn, created_at, self.timestamp_mode))
            MONGO_LOG.debug("💾 Saved conversation for IP: %s", ip)
        except Exception as exc:
            MONGO_LOG.error("❌ Failed to save conversation: %s", exc)
            raise

    def history(self, ip, limit=50, skip=0):
        collection = self._collection()
        try:
            cursor = collection.find({"ip": ip}).sort("timestamp", -1).skip(skip)
            if limit:
                cursor = cursor.limit(limit)
            documents = list(cursor)
        except Exception as exc:  # pylint: disable=broad-except
            MONGO_LOG.error("❌ Failed to get conversation history: %s", exc)
            return []
        for document in documents:
            document["_id"] = str(document["_id"])
        return documents

    def delete(self, ip):
        collection = self._collection()
        try:
            result = collection.delete_many({"ip": ip})
            MONGO_LOG.info("🗑️ Deleted %d conversations for IP: %s", result.deleted_count, ip)
        except Exception as exc:
            MONGO_LOG.error("❌ Failed to delete conversation history: %s", exc)
            raise

    def total(self, ip=None):
        collection = self._collection()
        try:
            return collection.count_documents({"ip": ip} if ip else {})
        except Exception as exc:  # pylint: disable=broad-except
            MONGO_LOG.error("❌ Failed to get total conversations: %s", exc)
            return 0

    def unique_ips(self):
        collection = self._collection()
        try:
            return collection.distinct("ip")
        except Exception as exc:  # pylint: disable=broad-except
            MONGO_LOG.error("❌ Failed to get unique IPs: %s", exc)
            return []

    def health_check(self):
        try:
            if self.client is None:
                return False
            self.client.admin.command("ping")
            return True
        except Exception as exc:  # pylint: disable=broad-except
            MONGO_LOG.error("❌ MongoDB health check failed: %s", exc)
            return False

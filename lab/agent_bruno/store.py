"""Session storage in Redis (one LIST per session) and the conversation archive in MongoDB.

Appending a turn is one Lua script: it reads the last element's seq, checks it against the seq the caller
computed the reply for, and RPUSHes the (user, assistant) pair, so concurrent appends to one session never
interleave or lose a message. With MongoDB, messages leave Redis only after an acknowledged upsert, and a
second script pops exactly the archived elements from the head (appends go to the tail, so a concurrent
append is never trimmed).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import dataclass

import pymongo
import redis
from pymongo import monitoring
from pymongo.write_concern import WriteConcern
from redis.backoff import NoBackoff
from redis.retry import Retry

from agent_bruno import core

LOG = logging.getLogger("agent_bruno")
MAX_APPEND_ATTEMPTS = 50
DUPLICATE_KEY = 11000
ARCHIVE_ROUNDS = 3

# KEYS[1] session list; ARGV: expected next seq, user body, assistant body, ttl (0 = none), window (0 = no trim)
APPEND_PAIR_LUA = """
local key = KEYS[1]
local nxt = 0
local last = redis.call('LINDEX', key, -1)
if last then
  local ok, msg = pcall(cjson.decode, last)
  if not ok or type(msg) ~= 'table' or type(msg['seq']) ~= 'number' then
    return redis.error_reply('CORRUPT last element of ' .. key .. ' is not an agent-bruno message')
  end
  nxt = msg['seq'] + 1
end
if nxt ~= tonumber(ARGV[1]) then
  return {0, nxt, 0}
end
local len = redis.call('RPUSH', key,
  '{"seq":' .. string.format('%d', nxt) .. ',' .. string.sub(ARGV[2], 2),
  '{"seq":' .. string.format('%d', nxt + 1) .. ',' .. string.sub(ARGV[3], 2))
local window = tonumber(ARGV[5])
if window > 0 and len > window then
  redis.call('LTRIM', key, -window, -1)
  len = window
end
local ttl = tonumber(ARGV[4])
if ttl > 0 then
  redis.call('EXPIRE', key, ttl)
end
return {1, nxt, len}
"""

# KEYS[1] session list; ARGV: the archived elements, oldest first (a prefix of the list when they were read).
# Pops the head only when it is the next archived element; elements another request popped meanwhile are
# skipped. So only archived elements ever leave, and appends (at the tail) are never touched.
TRIM_ARCHIVED_LUA = """
local n = 0
for i = 1, #ARGV do
  if redis.call('LINDEX', KEYS[1], 0) == ARGV[i] then
    redis.call('LPOP', KEYS[1])
    n = n + 1
  end
end
return {n, redis.call('LLEN', KEYS[1])}
"""


class ArchiveError(RuntimeError):
    """MongoDB did not store every archived message."""


class Contention(RuntimeError):
    """Too many concurrent appends to one session; the client may retry."""


class CorruptSession(RuntimeError):
    """The session key holds something that is not an agent-bruno message list."""


@dataclass
class ChatResult:
    session_id: str
    turn: int
    reply: str
    context_len: int
    archived: int
    archive_error: str | None = None


def redis_pool(url, max_connections, timeout, socket_timeout, client_name):
    """A bounded, blocking pool without client-side retries (a retried append could run twice)."""
    return redis.BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=timeout, socket_timeout=socket_timeout,
        socket_connect_timeout=min(socket_timeout, 2.0), retry=Retry(NoBackoff(), 0), client_name=client_name,
    )


def redis_pool_stats(pool):
    """(connections the pool has open, connections checked out) of a BlockingConnectionPool."""
    created = len(getattr(pool, "_connections", ()))
    queue = getattr(pool, "pool", None)
    in_use = pool.max_connections - queue.qsize() if queue is not None else 0
    return created, max(in_use, 0)


class SessionStore:
    def __init__(self, cfg, archive=None):
        self.cfg = cfg
        self.archive = archive
        self.pool = redis_pool(cfg.redis_url, cfg.redis_pool_size, cfg.redis_pool_timeout,
                               cfg.redis_socket_timeout, "agent-bruno")
        self.redis = redis.Redis(connection_pool=self.pool)
        # Health checks and the session count use their own two connections, so they still answer while the
        # main pool is exhausted (the lab's pool-exhaustion scenario) and never queue behind chats.
        self.ops_pool = redis_pool(cfg.redis_url, 2, 2.0, 2.0, "agent-bruno-ops")
        self.ops = redis.Redis(connection_pool=self.ops_pool)
        self._append = self.redis.register_script(APPEND_PAIR_LUA)
        self._trim = self.redis.register_script(TRIM_ARCHIVED_LUA)

    def key(self, session_id):
        return core.session_key(self.cfg.session_key_prefix, session_id)

    def chat(self, session_id, message):
        """Append one turn (user message + fake reply); trim/archive beyond CONTEXT_WINDOW."""
        key = self.key(session_id)
        window = self.cfg.context_window
        in_script_window = 0 if self.archive is not None else window
        expected = 0  # right for a new session; otherwise the script answers with the real next seq
        for _attempt in range(MAX_APPEND_ATTEMPTS):
            turn = core.turn_for_seq(expected)
            reply = core.fake_reply(message, turn)
            user = core.encode_body("user", message, time.time())
            assistant = core.encode_body("assistant", reply, time.time())
            try:
                args = [expected, user, assistant, self.cfg.session_ttl, in_script_window]
                ok, nxt, length = self._append(keys=[key], args=args)
            except redis.ResponseError as exc:
                if "CORRUPT" in str(exc) or "WRONGTYPE" in str(exc):
                    raise CorruptSession("session %s holds data that is not an agent-bruno message list"
                                         % session_id) from exc
                raise
            if ok:
                break
            expected = nxt
        else:
            raise Contention("session %s: %d concurrent appends won over this one"
                             % (session_id, MAX_APPEND_ATTEMPTS))
        result = ChatResult(session_id, turn, reply, length, 0)
        if self.archive is not None and core.messages_to_archive(length, window):
            self._archive_and_trim(key, session_id, result)
        return result

    def _archive_and_trim(self, key, session_id, result):
        """Archive the oldest messages beyond the window, then pop exactly those. The turn is already stored,
        so a failure here only leaves the context longer than the window (the next turn retries); it is
        counted and logged, never turned into an error answer that would make the client send the turn again.
        """
        count = core.messages_to_archive(result.context_len, self.cfg.context_window)
        step = "read"
        try:
            raw = self.redis.lrange(key, 0, count - 1)
            step = "archive"
            now = time.time()
            self.archive.save([core.archive_doc(session_id, core.decode_message(item), now) for item in raw])
            step = "trim"
            popped, length = self._trim(keys=[key], args=raw)
        except Exception as exc:  # any failure: keep the messages in Redis
            result.archive_error = "%s: %s" % (type(exc).__name__, str(exc)[:200])
            LOG.warning("session %s: %s of %d messages beyond the window failed, context not trimmed: %s",
                        session_id, step, count, result.archive_error)
            return
        result.archived = popped
        result.context_len = length

    def context(self, session_id):
        """The messages of a session as dicts (tests and debugging)."""
        return [core.decode_message(item) for item in self.redis.lrange(self.key(session_id), 0, -1)]

    def ping(self):
        return self.ops.ping()

    def close(self):
        for pool in (self.pool, self.ops_pool):
            with contextlib.suppress(redis.RedisError):  # closing anyway
                pool.disconnect()


class PoolCounter(monitoring.ConnectionPoolListener):
    """Counts the pymongo pool's open and checked-out connections (CMAP events)."""

    def __init__(self):
        self._lock = threading.Lock()
        self.open = 0
        self.in_use = 0

    def _add(self, attr, delta):
        with self._lock:
            setattr(self, attr, getattr(self, attr) + delta)

    def connection_created(self, event):
        self._add("open", 1)

    def connection_closed(self, event):
        self._add("open", -1)

    def connection_checked_out(self, event):
        self._add("in_use", 1)

    def connection_checked_in(self, event):
        self._add("in_use", -1)

    def pool_created(self, event):
        pass

    def pool_ready(self, event):
        pass

    def pool_cleared(self, event):
        pass

    def pool_closed(self, event):
        pass

    def connection_ready(self, event):
        pass

    def connection_check_out_started(self, event):
        pass

    def connection_check_out_failed(self, event):
        pass


def mongo_client(cfg, pool_size=None, listeners=()):
    return pymongo.MongoClient(
        cfg.mongo_url, maxPoolSize=pool_size or cfg.mongo_pool_size, serverSelectionTimeoutMS=cfg.mongo_timeout_ms,
        connectTimeoutMS=cfg.mongo_timeout_ms, socketTimeoutMS=max(cfg.mongo_timeout_ms, 5000),
        appname="agent-bruno", event_listeners=list(listeners),
    )


class MongoArchive:
    """Collection `conversations` of MONGO_DB: one document per archived message, _id "<session>:<seq>"."""

    def __init__(self, cfg):
        self.pool_counter = PoolCounter()
        self.client = mongo_client(cfg, listeners=[self.pool_counter])
        coll = self.client[cfg.mongo_db]["conversations"]
        if not coll.write_concern.acknowledged:  # a w=0 MONGO_URL must not make archiving fire-and-forget
            coll = coll.with_options(write_concern=WriteConcern(w=1))
        self.coll = coll

    def save(self, docs):
        """Upsert (replace) every doc with acknowledged `update` commands; return only when all are stored.

        A duplicate-key error (11000) means a concurrent request archiving the same message inserted it first
        (same _id, same content). FerretDB then also skips the rest of the batch, even unordered, without
        saying so; so whenever the reply does not account for every doc, the stored _ids are read back and
        the missing docs are written again (bounded). The raw command is used because pymongo's bulk_write
        fails on the reply FerretDB gives for that error.
        """
        pending = {d["_id"]: d for d in docs}
        for _round in range(ARCHIVE_ROUNDS):
            if not pending:
                return
            command = {"update": self.coll.name, "ordered": False,
                       "updates": [{"q": {"_id": _id}, "u": d, "upsert": True} for _id, d in pending.items()]}
            if self.coll.write_concern.document:
                command["writeConcern"] = self.coll.write_concern.document
            reply = self.coll.database.command(command)  # OperationFailure when ok is 0
            errors = reply.get("writeErrors") or []
            fatal = [e for e in errors if e.get("code") != DUPLICATE_KEY]
            if fatal:
                raise ArchiveError("%d of %d archive writes failed: %s" % (len(fatal), len(pending),
                                                                           fatal[0].get("errmsg")))
            if reply.get("writeConcernError"):
                raise ArchiveError("write concern error: %s" % reply["writeConcernError"].get("errmsg"))
            if not errors and reply.get("n") == len(pending):
                return
            stored = {d["_id"] for d in self.coll.find({"_id": {"$in": list(pending)}}, {"_id": 1})}
            pending = {_id: d for _id, d in pending.items() if _id not in stored}
        if pending:
            raise ArchiveError("%d messages still not archived after %d rounds" % (len(pending), ARCHIVE_ROUNDS))

    def ping(self):
        return self.client.admin.command("ping")

    def close(self):
        self.client.close()

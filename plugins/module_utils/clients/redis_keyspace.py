# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Redis keyspace boundary: everything the session engines (census, cleanup, archive) ask of Redis.

The engines never touch redis-py: they scan a pattern in batches with an opaque, resumable cursor, run a
registered Lua script on a batch of keys, pipeline per-key reads, and do a few server-level reads. `Keyspace`
is that interface; `StandaloneKeyspace` implements it over one RedisClient (one server, one database), with
redis-py errors translated once, by the client's translate().

A Redis Cluster implementation plugs in as another subclass, without touching the engines:

- **Cursor.** A cluster cursor would carry (node index, that node's SCAN cursor): `scan()` walks the primaries
  one after the other, `encode_cursor()`/`decode_cursor()` turn the pair into text (for example
  ``"2:1835008"``), and `epoch()` would be a digest of every primary's run_id, so a cursor taken before a
  failover or a reshard starts the scan over, as a standalone cursor does after a restart.
- **Scripts.** A Lua script may only touch keys of one hash slot. The engines call `run_script()` with the
  keys of one batch, so a cluster `scan()` yields batches whose keys share a slot (it groups what one
  node's SCAN returned by `CLUSTER KEYSLOT`/CRC16 and yields one batch per slot); `run_script_each()` calls
  a script once per key, so it only needs routing.
- **Pipelines** are per batch: a cluster implementation splits `pipeline()` requests by node, runs one
  pipeline per node and puts the replies back in request order.
- **Server reads.** `info()` and `dbsize()` would sum or list the primaries' figures, `random_keys()` would
  draw from nodes in proportion to their DBSIZE, `time_ms()` would read one node, `no_touch()` would be set
  on every node connection.
"""

from __future__ import annotations

import abc
import contextlib

from ansible_collections.bruno.ops.plugins.module_utils import errors
from ansible_collections.bruno.ops.plugins.module_utils.clients.redis_client import RedisClient, redis_exc

# Per-key commands a pipeline may hold: name -> how many arguments follow the key. Only these, so an
# implementation knows every command it must route. Before Redis 7.2 (no CLIENT NO-TOUCH) LLEN, LRANGE, GET,
# HLEN and STRLEN count as an access and restart the key's idle time; TYPE, PTTL, OBJECT IDLETIME and MEMORY
# USAGE never do (NO_TOUCH_COMMANDS). MEMORY_ALL is MEMORY USAGE ... SAMPLES 0 (every element counted).
READ_COMMANDS = {"TYPE": 0, "PTTL": 0, "IDLETIME": 0, "MEMORY": 0, "MEMORY_ALL": 0, "LLEN": 0, "LRANGE": 2,
                 "GET": 0, "HLEN": 0, "STRLEN": 0}
NO_TOUCH_COMMANDS = frozenset(("TYPE", "PTTL", "IDLETIME", "MEMORY", "MEMORY_ALL"))

# Replies per round trip: bounds the memory of one pipeline on both ends.
PIPELINE_BATCH = 500


class Keyspace(abc.ABC):
    """What the session engines need from Redis. Every method raises BrunoOpsError, never a library error.

    `action` arguments say what was being attempted, for the error message ("cannot <action> at <address>")."""

    START = None  # the cursor that starts a scan (set by each implementation)

    address = ""  # where the keyspace lives, for messages; never credentials

    # -- scanning ---------------------------------------------------------------------------------------

    @abc.abstractmethod
    def scan(self, cursor, pattern, count, action=None):
        """One step of the walk: (next cursor, keys). `count` is a hint; keys may repeat across steps."""

    @abc.abstractmethod
    def done(self, cursor):
        """Whether a cursor returned by scan() means the walk is over."""

    @staticmethod
    @abc.abstractmethod
    def encode_cursor(cursor):
        """The cursor as text, for a result a later run passes back."""

    @staticmethod
    @abc.abstractmethod
    def decode_cursor(text):
        """The cursor from encode_cursor()'s text; raises ValueError on anything else. No I/O."""

    @abc.abstractmethod
    def epoch(self):
        """What a cursor is valid against (a standalone server's run_id): when it changes, a cursor is void."""

    # -- scripts and pipelines --------------------------------------------------------------------------

    @abc.abstractmethod
    def script(self, source):
        """A registered script: the returned object's run by SHA (EVALSHA), loading it again on NOSCRIPT."""

    @abc.abstractmethod
    def run_script(self, script, keys, args, action=None):
        """Run `script` once on `keys` (all of one hash slot in a cluster); its reply."""

    @abc.abstractmethod
    def run_script_each(self, script, calls, action=None):
        """Run `script` once per (key, args) of `calls`, pipelined; replies (or exceptions) in order."""

    @abc.abstractmethod
    def pipeline(self, requests, action=None, raise_on_error=False):
        """Run (COMMAND, key, *args) requests (COMMAND from READ_COMMANDS) pipelined, PIPELINE_BATCH per
        round trip; the replies in request order (a failed command's exception in its place, unless
        raise_on_error). TYPE replies are str."""

    def read_keys(self, keys, commands, action=None):
        """The same argument-less commands for each key, pipelined: one tuple of replies per key."""
        requests = [(command, key) for key in keys for command in commands]
        replies = self.pipeline(requests, action=action or "read %s of %d keys" % ("/".join(commands), len(keys)))
        width = len(commands)
        return [tuple(replies[width * i:width * i + width]) for i in range(len(keys))]

    # -- server-level reads -----------------------------------------------------------------------------

    @abc.abstractmethod
    def info(self, *sections):
        """INFO of each section (one dict per section) and DBSIZE, in one round trip: (infos, dbsize)."""

    @abc.abstractmethod
    def db_index(self):
        """The database number the keyspace is in."""

    @abc.abstractmethod
    def time_ms(self):
        """The server's clock (TIME), in milliseconds."""

    @abc.abstractmethod
    def random_keys(self, n, action=None):
        """n RANDOMKEY samples (None where the database was empty)."""

    @abc.abstractmethod
    def no_touch(self):
        """CLIENT NO-TOUCH ON (Redis 7.2+): True when the server took it, False when it refused."""

    @abc.abstractmethod
    def clients(self):
        """CLIENT LIST as dicts (addr, name, id, ...) without the connection that asked."""

    @abc.abstractmethod
    def slowlog(self, count):
        """SLOWLOG GET count as dicts (start_time, duration, command); raises BrunoOpsError when refused."""

    @abc.abstractmethod
    def get(self, key, action=None):
        """GET of one bookkeeping key (bytes or None)."""

    @abc.abstractmethod
    def set(self, key, value, action=None):
        """SET of one bookkeeping key."""


class StandaloneKeyspace(Keyspace):
    """The keyspace of one standalone Redis server (or a primary), in the database of the RedisClient."""

    START = 0

    def __init__(self, client):
        self.client = client
        self.address = client.address
        self._raw = client.raw

    def scan(self, cursor, pattern, count, action=None):
        with self.client.translate(action or "SCAN %s from cursor %s" % (pattern, cursor)):
            nxt, keys = self._raw.scan(cursor, match=pattern, count=count)
        return int(nxt), keys

    def done(self, cursor):
        return int(cursor) == 0

    @staticmethod
    def encode_cursor(cursor):
        return str(int(cursor))

    @staticmethod
    def decode_cursor(text):
        if not text.isdigit():
            raise ValueError("not a SCAN cursor: %r" % text)
        return int(text)

    def epoch(self):
        with self.client.translate("read the server's run_id (INFO server)"):
            return self._raw.info("server").get("run_id")

    def script(self, source):
        return self._raw.register_script(source)  # redis-py's Script: EVALSHA, and SCRIPT LOAD on NOSCRIPT

    def run_script(self, script, keys, args, action=None):
        with self.client.translate(action or "run a script on %d keys" % len(keys)):
            return script(keys=keys, args=args)

    def run_script_each(self, script, calls, action=None):
        with self.client.translate(action or "run a script on %d keys" % len(calls)):
            pipe = self._raw.pipeline(transaction=False)
            for key, args in calls:
                script(keys=[key], args=args, client=pipe)
            return pipe.execute(raise_on_error=False)

    def pipeline(self, requests, action=None, raise_on_error=False):
        replies = []
        with self.client.translate(action or "read %d keys" % len(requests)):
            for offset in range(0, len(requests), PIPELINE_BATCH):
                pipe = self._raw.pipeline(transaction=False)
                for request in requests[offset:offset + PIPELINE_BATCH]:
                    _queue(pipe, request)
                replies.extend(pipe.execute(raise_on_error=raise_on_error))
        return [_type_name(reply) if request[0] == "TYPE" else reply
                for request, reply in zip(requests, replies, strict=True)]

    def info(self, *sections):
        with self.client.translate("read INFO and DBSIZE"):
            pipe = self._raw.pipeline(transaction=False)
            for section in sections:
                pipe.info(section)
            pipe.dbsize()
            replies = pipe.execute()
        return replies[:-1], int(replies[-1])

    def db_index(self):
        pool = getattr(self._raw, "connection_pool", None)
        return int((getattr(pool, "connection_kwargs", None) or {}).get("db") or 0)

    def time_ms(self):
        with self.client.translate("read the server time (TIME)"):
            seconds, micros = self._raw.time()
        return seconds * 1000 + micros // 1000

    def random_keys(self, n, action=None):
        replies = []
        with self.client.translate(action or "sample keys with RANDOMKEY"):
            for offset in range(0, n, PIPELINE_BATCH):
                pipe = self._raw.pipeline(transaction=False)
                for _i in range(min(PIPELINE_BATCH, n - offset)):
                    pipe.randomkey()
                replies.extend(pipe.execute())
        return replies

    def no_touch(self):
        with self.client.translate("set CLIENT NO-TOUCH"):
            try:
                self._raw.execute_command("CLIENT", "NO-TOUCH", "ON")
            except redis_exc.ResponseError:  # before 7.2, or the ACL user may not: reads count as accesses
                return False
        return True

    def clients(self):
        with self.client.translate("read CLIENT LIST"):
            pipe = self._raw.pipeline(transaction=False)  # one connection: CLIENT ID names the asking one
            pipe.client_id()
            pipe.client_list()
            own, entries = pipe.execute()
        return [entry for entry in entries if str(entry.get("id")) != str(own)]

    def slowlog(self, count):
        with self.client.translate("read SLOWLOG GET %d" % count):
            return self._raw.slowlog_get(count)

    def get(self, key, action=None):
        with self.client.translate(action or "read %s" % key):
            return self._raw.get(key)

    def set(self, key, value, action=None):
        with self.client.translate(action or "write %s" % key):
            self._raw.set(key, value)


@contextlib.contextmanager
def standalone(params):
    """The StandaloneKeyspace of the `redis` option's server, closed at the end of the block."""
    client = RedisClient(params)
    try:
        yield StandaloneKeyspace(client)
    finally:
        client.close()


def _queue(pipe, request):
    command, key, *args = request
    if command not in READ_COMMANDS or len(args) != READ_COMMANDS[command]:
        raise errors.BrunoOpsError("internal: %r is not a keyspace read" % (request,), kind=errors.API)
    if command == "IDLETIME":
        pipe.object("idletime", key)
    elif command == "MEMORY":
        pipe.memory_usage(key)
    elif command == "MEMORY_ALL":
        pipe.memory_usage(key, samples=0)
    else:
        getattr(pipe, command.lower())(key, *args)


def _type_name(reply):
    if isinstance(reply, bytes):
        return reply.decode()
    return reply if isinstance(reply, str) else "none"

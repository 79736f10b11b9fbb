"""The Redis keyspace boundary: what StandaloneKeyspace sends to redis-py, and what the engines get back."""

import contextlib

import pytest
import redis.exceptions as redis_exc

from ansible_collections.bruno.ops.plugins.module_utils import errors
from ansible_collections.bruno.ops.plugins.module_utils.clients import redis_keyspace
from ansible_collections.bruno.ops.plugins.module_utils.clients.redis_keyspace import Keyspace, StandaloneKeyspace


class FakePipe:
    """Records the commands a pipeline gets; replies with what the fake server has for them."""

    def __init__(self, server):
        self.server = server
        self.queued = []

    def __getattr__(self, name):
        def queue(*args, **_kwargs):
            self.queued.append((name,) + args)
        return queue

    def execute(self, raise_on_error=True):
        self.server.round_trips.append(list(self.queued))
        replies = [self.server.reply(command) for command in self.queued]
        if raise_on_error:
            for reply in replies:
                if isinstance(reply, Exception):
                    raise reply
        return replies


class FakeRaw:
    def __init__(self):
        self.round_trips = []
        self.no_touch = "ok"
        self.connection_pool = type("Pool", (), {"connection_kwargs": {"db": 7}})()

    def reply(self, command):
        name = command[0]
        if name == "type":
            return b"list" if command[1].startswith(b"l") else b"none"
        if name == "object":
            return redis_exc.ResponseError("An LFU maxmemory policy is selected")
        if name == "info":
            return {"section": command[1]}
        if name == "dbsize":
            return 42
        return (name, command[1:])

    def pipeline(self, transaction=True):
        assert transaction is False
        return FakePipe(self)

    def scan(self, cursor, match, count):
        return (b"17" if cursor == 0 else 0), [b"%s-%d" % (match.encode(), count)]

    def execute_command(self, *args):
        if self.no_touch == "refused":
            raise redis_exc.ResponseError("unknown subcommand 'NO-TOUCH'")
        if self.no_touch == "down":
            raise redis_exc.ConnectionError("Connection refused")
        return b"OK"

    def time(self):
        return 1700000000, 123456


class FakeClient:
    address = "redis://fake:6379/7"

    def __init__(self, raw):
        self.raw = raw

    @contextlib.contextmanager
    def translate(self, action):
        try:
            yield
        except redis_exc.ConnectionError as exc:
            raise errors.BrunoOpsError("cannot %s: %s" % (action, exc), kind=errors.UNREACHABLE) from None


@pytest.fixture
def raw():
    return FakeRaw()


@pytest.fixture
def space(raw):
    return StandaloneKeyspace(FakeClient(raw))


def test_the_interface_is_abstract():
    with pytest.raises(TypeError):
        Keyspace()  # pylint: disable=abstract-class-instantiated


def test_scan_returns_an_int_cursor_and_knows_the_end(space):
    cursor, keys = space.scan(space.START, "p*", 10)
    assert (cursor, keys) == (17, [b"p*-10"])
    assert not space.done(cursor)
    assert space.done(space.scan(cursor, "p*", 10)[0])


@pytest.mark.parametrize("text", ["0", "17", "1835008"])
def test_cursor_text_round_trips(text):
    assert StandaloneKeyspace.encode_cursor(StandaloneKeyspace.decode_cursor(text)) == text


@pytest.mark.parametrize("text", ["", "-1", "abc", "1.5", "2:17"])
def test_bad_cursor_text(text):
    with pytest.raises(ValueError):
        StandaloneKeyspace.decode_cursor(text)


def test_read_keys_groups_replies_per_key_and_decodes_types(space, raw):
    rows = space.read_keys([b"l1", b"gone"], ("TYPE", "IDLETIME", "MEMORY"))
    assert rows[0][0] == "list" and rows[1][0] == "none"
    assert isinstance(rows[0][1], redis_exc.ResponseError)  # a refused command is in its place, not raised
    assert rows[0][2] == ("memory_usage", (b"l1",))
    assert raw.round_trips == [[("type", b"l1"), ("object", "idletime", b"l1"), ("memory_usage", b"l1"),
                                ("type", b"gone"), ("object", "idletime", b"gone"), ("memory_usage", b"gone")]]


def test_pipelines_go_in_bounded_round_trips(space, raw):
    requests = [("LRANGE", b"l%d" % i, 0, 9) for i in range(redis_keyspace.PIPELINE_BATCH + 1)]
    replies = space.pipeline(requests)
    assert len(replies) == len(requests) and replies[-1] == ("lrange", (b"l500", 0, 9))
    assert [len(trip) for trip in raw.round_trips] == [redis_keyspace.PIPELINE_BATCH, 1]


@pytest.mark.parametrize("request_", [("DEL", b"k"), ("LRANGE", b"k"), ("FLUSHDB", b"")])
def test_only_keyspace_reads_are_accepted(space, request_):
    with pytest.raises(errors.BrunoOpsError, match="not a keyspace read"):
        space.pipeline([request_])


def test_server_reads(space, raw):
    infos, dbsize = space.info("server", "memory")
    assert infos == [{"section": "server"}, {"section": "memory"}] and dbsize == 42
    assert len(raw.round_trips) == 1
    assert space.db_index() == 7
    assert space.time_ms() == 1700000000123
    assert len(space.random_keys(3)) == 3


def test_no_touch_refused_is_false_and_unreachable_is_an_error(space, raw):
    assert space.no_touch() is True
    raw.no_touch = "refused"
    assert space.no_touch() is False
    raw.no_touch = "down"
    with pytest.raises(errors.BrunoOpsError) as raised:
        space.no_touch()
    assert raised.value.kind == errors.UNREACHABLE

"""The resumable walk: cursor tokens and the SCAN loop's bookkeeping, over a StandaloneKeyspace on a fake
redis-py object."""

import contextlib

import pytest

from ansible_collections.bruno.ops.plugins.module_utils import errors
from ansible_collections.bruno.ops.plugins.module_utils.clients.redis_keyspace import StandaloneKeyspace
from ansible_collections.bruno.ops.plugins.module_utils.sessions import cursor as session_cursor
from ansible_collections.bruno.ops.plugins.module_utils.sessions.cursor import ScanLoop, parse_cursor


@pytest.mark.parametrize(("token", "parsed"), [
    ("0", (0, None)), ("", (0, None)), (None, (0, None)), ("123", (123, None)), ("77@abc", (77, "abc")),
])
def test_parse_cursor(token, parsed):
    assert parse_cursor(token) == parsed


@pytest.mark.parametrize("token", ["-1", "abc", "1.5", "x@y"])
def test_bad_cursor(token):
    with pytest.raises(errors.BrunoOpsError, match="cursor must be"):
        parse_cursor(token)


def test_format_cursor_roundtrip():
    assert session_cursor.format_cursor(0, "r1") == "0"
    assert parse_cursor(session_cursor.format_cursor(42, "r1")) == (42, "r1")


class FakeRedis:
    """SCAN over fixed pages; INFO gives a run_id that a test can change (a restarted server)."""

    def __init__(self, pages, run_id="run-a"):
        self.pages = pages  # cursor -> (next cursor, keys)
        self.run_id = run_id
        self.scans = []

    def info(self, _section):
        return {"run_id": self.run_id}

    def scan(self, cursor, match, count):
        self.scans.append((cursor, match, count))
        return self.pages[cursor]


class FakeClient:
    """What StandaloneKeyspace uses of a RedisClient."""

    address = "redis://fake:6379/0"

    def __init__(self, raw):
        self.raw = raw

    @contextlib.contextmanager
    def translate(self, _action):
        yield


def fake_keyspace(raw):
    return StandaloneKeyspace(FakeClient(raw))


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


PAGES = {0: (5, [b"a", b"b"]), 5: (9, [b"c"]), 9: (0, [b"d", b"e"])}


def params(**overrides):
    base = dict(batch_size=1000, ops_per_second=None, max_duration=None, cursor="0")
    base.update(overrides)
    return base


def test_scan_loop_walks_every_page_and_completes():
    raw = FakeRedis(PAGES)
    loop = ScanLoop(fake_keyspace(raw), "p*", params())
    assert list(loop.batches()) == [[b"a", b"b"], [b"c"], [b"d", b"e"]]
    loop.finish()
    assert loop.complete and loop.token() == "0"


def test_scan_loop_stops_at_max_duration_with_a_resume_token():
    clock = FakeClock()
    raw = FakeRedis(PAGES)
    loop = ScanLoop(fake_keyspace(raw), "p*", params(max_duration=10), clock=clock, sleep=clock.sleep)
    seen = []
    for keys in loop.batches():
        seen.append(keys)
        clock.now += 6  # each batch takes 6 s: the second one exhausts the budget
    assert seen == [[b"a", b"b"], [b"c"]]
    assert not loop.complete and loop.stopped_by == "max_duration"
    assert loop.token() == "9@run-a"
    resumed = ScanLoop(fake_keyspace(raw), "p*", params(cursor=loop.token()))
    assert list(resumed.batches()) == [[b"d", b"e"]]


def test_failure_mid_batch_leaves_the_cursor_at_that_batch():
    loop = ScanLoop(fake_keyspace(FakeRedis(PAGES)), "p*", params())
    batches = loop.batches()
    next(batches)
    next(batches)  # the consumer fails while handling [c]: the position stays at the start of [c]
    assert loop.token() == "5@run-a"


def test_cursor_from_a_restarted_server_starts_over():
    raw = FakeRedis(PAGES, run_id="run-b")
    loop = ScanLoop(fake_keyspace(raw), "p*", params(cursor="9@run-a"))
    assert loop.restarted and loop.cursor == 0
    assert len(list(loop.batches())) == 3
    assert "started over" in loop.warnings[0]


def test_restart_during_the_run_makes_it_incomplete():
    raw = FakeRedis(PAGES)
    loop = ScanLoop(fake_keyspace(raw), "p*", params())
    list(loop.batches())
    raw.run_id = "run-b"
    loop.finish()
    assert not loop.complete and loop.token() == "0"
    assert "restarted during the run" in loop.warnings[0]


def test_rate_limit_caps_the_scan_count_and_paces():
    clock = FakeClock()
    raw = FakeRedis(PAGES)
    loop = ScanLoop(fake_keyspace(raw), "p*", params(ops_per_second=2.0), clock=clock, sleep=clock.sleep)
    list(loop.batches())
    assert {count for _c, _m, count in raw.scans} == {2}
    assert clock.now == pytest.approx(100.0 + 6 / 2.0)  # 3 SCAN steps walking 2 keys each, at 2 per second


def test_rate_limit_paces_the_keys_scan_walks_not_the_matching_ones():
    """Issue 18 item 11: a database of other keys (SCAN returns few or none) is walked at ops_per_second too."""
    clock = FakeClock()
    pages = {cursor: (cursor + 1, [b"s"] if cursor == 0 else []) for cursor in range(50)}
    pages[49] = (0, [])
    loop = ScanLoop(fake_keyspace(FakeRedis(pages)), "p*", params(batch_size=100, ops_per_second=1000.0),
                    clock=clock, sleep=clock.sleep)
    assert sum(len(keys) for keys in loop.batches()) == 1
    assert loop.walked == 50 * 100
    assert clock.now == pytest.approx(100.0 + 5000 / 1000.0)
    assert loop.limiter.slept == pytest.approx(5.0)


def test_max_duration_stops_inside_a_batch_and_keeps_its_cursor():
    """Issue 18 item 8: a batch is handed out in parts, and the budget is looked at between them."""
    clock = FakeClock()
    pages = {0: (7, [b"k%d" % i for i in range(1000)]), 7: (0, [b"z"])}
    loop = ScanLoop(fake_keyspace(FakeRedis(pages)), "p*", params(max_duration=5.0), clock=clock, sleep=clock.sleep)
    handled = []
    for keys in loop.batches():
        for part in loop.parts(keys):
            handled.extend(part)
            clock.now += 2.0  # each part of 200 keys takes 2 s
    loop.finish()
    assert len(handled) == 600  # 0-2-4 s: three parts, then the budget is gone
    assert loop.complete is False and loop.stopped_by == "max_duration"
    assert loop.cursor == 0 and loop.token() == "0"  # still at the start of the unfinished batch


def test_failure_carries_cursor_and_counts():
    loop = ScanLoop(fake_keyspace(FakeRedis(PAGES)), "p*", params())
    loop.cursor = 5
    exc = session_cursor.failure_with_cursor(
        errors.BrunoOpsError("cannot x: Redis at redis://h:1/0 is unreachable", kind=errors.UNREACHABLE),
        loop, {"scanned": 2, "deleted": 1}, "session cleanup", "Nothing is half-applied")
    assert exc.kind == errors.UNREACHABLE
    assert exc.details["cursor"] == "5@run-a" and exc.details["deleted"] == 1
    assert "rerun with cursor=5@run-a" in exc.message and "unreachable" in exc.message


@pytest.mark.parametrize(("diff_mode", "kept"), [(True, True), (False, False)])
def test_diff_is_returned_only_under_diff(diff_mode, kept):
    module = type("Module", (), {"_diff": diff_mode})()
    result = session_cursor.diff_when_asked({"diff": {"before": {}, "after": {}}, "changed": False}, module)
    assert ("diff" in result) is kept

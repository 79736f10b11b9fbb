"""The pure parts of the context archive: message documents, the trim digest, grouping."""

import collections
import hashlib
import json

import pytest

from ansible_collections.bruno.ops.plugins.module_utils.sessions import archive as session_archive
from ansible_collections.bruno.ops.plugins.module_utils.sessions.archive import (
    InvalidMessage,
    archive_diff,
    digest,
    message_documents,
    new_archive_counts,
    plan_group,
    session_id,
)
from ansible_collections.bruno.ops.plugins.module_utils.sessions.scope import Samples


def msg(seq, **extra):
    body = {"seq": seq, "role": "user", "content": "hi %d" % seq, "ts": 1700000000.5 + seq}
    body.update(extra)
    return json.dumps(body).encode()


def test_documents_are_keyed_by_session_and_seq():
    docs = message_documents("abc", [msg(1), msg(2)])
    assert [doc["_id"] for doc in docs] == ["abc:1", "abc:2"]
    assert docs[0] == {"_id": "abc:1", "session_id": "abc", "seq": 1, "role": "user", "content": "hi 1",
                       "ts": 1700000000.5 + 1}


@pytest.mark.parametrize(("items", "message"), [
    ([b"not json"], "not JSON"),
    ([b"[1, 2]"], "not a JSON object"),
    ([json.dumps({"role": "user"}).encode()], "no integer seq"),
    ([json.dumps({"seq": True}).encode()], "no integer seq"),
    ([json.dumps({"seq": "3"}).encode()], "no integer seq"),
    ([msg(2), msg(2)], "does not rise"),
    ([msg(3), msg(1)], "does not rise"),
    ([b"\xff\xfe"], "not JSON"),
])
def test_invalid_messages_are_refused(items, message):
    with pytest.raises(InvalidMessage, match=message):
        message_documents("s", items)


def test_digest_matches_the_lua_formula():
    items = [b"a", b"bc", b"", "é".encode()]
    expected = hashlib.sha1(b"1:a2:bc0:2:" + "é".encode()).hexdigest()  # noqa: S324
    assert digest(items) == expected
    # length prefixes: joining differently never gives the same digest
    assert digest([b"ab", b"c"]) != digest([b"a", b"bc"])


def test_trim_script_uses_the_same_formula():
    assert "#items[i] .. ':' .. items[i]" in session_archive.TRIM_LUA
    assert "redis.sha1hex" in session_archive.TRIM_LUA


def test_session_id_strips_the_prefix():
    assert session_id(b"bruno:session:xyz", "bruno:session:") == "xyz"
    assert session_id(b"other", "bruno:session:") == "other"
    assert session_id(b"k", "") == "k"


def test_plan_group_respects_the_message_budget():
    pending = collections.deque([{"key": b"a", "excess": 300}, {"key": b"b", "excess": 300},
                                 {"key": b"c", "excess": 50}])
    group = plan_group(pending, chunk_size=250, budget=400)
    assert [(entry["key"], entry["take"]) for entry in group] == [(b"a", 250), (b"b", 150)]
    assert [entry["key"] for entry in pending] == [b"c"]
    # one session always goes, even when its chunk alone exceeds the budget
    assert len(plan_group(collections.deque([{"key": b"x", "excess": 10**6}]), chunk_size=500, budget=10)) == 1


@pytest.mark.parametrize(("found", "mode", "count"), [
    ([True, True, False, True], "verify", 2),
    ([False, True], "verify", 0),
    ([True, True], "verify", 2),
    ([False, True, False], "copy", 3),
    ([], "verify", 0),
])
def test_plan_trim_takes_the_verified_prefix_or_everything_copied(found, mode, count):
    assert session_archive.plan_trim(found, mode) == count


def test_parse_items_stops_at_the_first_malformed_turn():
    good = json.dumps({"timestamp": "2026-12-02T20:14:03.123456", "message": "hi", "response": "hello",
                       "context": {}}).encode()
    bad = json.dumps({"timestamp": "2026-12-02T20:14:04", "message": "hi \ud83d", "response": "x",
                      "context": {}}).encode()
    parsed, malformed = session_archive.parse_items("turns", "192.0.2.1", "bruno:session:192.0.2.1",
                                                    [good, bad, good])
    assert len(parsed) == 1 and parsed[0]["message"] == "hi"
    assert malformed[0] == 1 and "lone surrogate" in malformed[1]


def test_size_filter_only_skips_lists_that_cannot_exceed_the_limit():
    smallest = session_archive.shapes.MIN_ITEM_BYTES["turns"]
    assert session_archive.can_exceed(None, 5, "turns") is True
    assert session_archive.can_exceed(6 * smallest - 1, 5, "turns") is False
    assert session_archive.can_exceed(6 * smallest, 5, "turns") is True


def test_metadata_prediction_reports_null_turn_figures():
    counts = new_archive_counts()
    for name in session_archive.UNPREDICTED:
        counts[name] = None
    diff = archive_diff(counts, Samples(1), check_mode=True)
    assert diff["after"] == {"sessions_over_limit": None, "messages_over_limit": None}


def test_archive_diff():
    counts = new_archive_counts()
    counts.update(matched=2, messages_over_limit=30, archived=30, moved=30, sessions_trimmed=2)
    samples = Samples(5)
    samples.add("archived", b"bruno:session:1")
    diff = archive_diff(counts, samples, check_mode=False)
    assert diff["before"] == {"sessions_over_limit": 2, "messages_over_limit": 30,
                              "session_keys": ["bruno:session:1"]}
    assert diff["after"] == {"sessions_over_limit": 0, "messages_over_limit": 0}
    assert archive_diff(counts, samples, check_mode=True)["after"]["messages_over_limit"] == 0


PARAMS = {"keep_messages": 20, "prefix": "bruno:session:"}


def test_state_lets_the_next_run_skip_sessions_untouched_since():
    record = session_archive.state_record(1_000_000, PARAMS, "bruno:session:*", "bruno.conversations")
    after = session_archive.unchanged_after(record, 1_000_000 + 3_600_500, PARAMS, "bruno:session:*",
                                            "bruno.conversations")
    assert after == 3600 + session_archive.STATE_MARGIN


@pytest.mark.parametrize("raw", [None, b"", b"not json", b"{}", b'{"started_ms": "x"}'])
def test_no_usable_state_reads_everything(raw):
    assert session_archive.unchanged_after(raw, 10**6, PARAMS, "p*", "db.c") is None


def test_state_of_other_settings_is_ignored():
    record = session_archive.state_record(1000, PARAMS, "bruno:session:*", "bruno.conversations")
    for params, pattern, target in [(dict(PARAMS, keep_messages=5), "bruno:session:*", "bruno.conversations"),
                                    (dict(PARAMS, archive_mode="copy"), "bruno:session:*", "bruno.conversations"),
                                    (PARAMS, "bruno:session:a*", "bruno.conversations"),
                                    (PARAMS, "bruno:session:*", "bruno.other")]:
        assert session_archive.unchanged_after(record, 5000, params, pattern, target) is None
    # a clock that went backwards proves nothing either
    assert session_archive.unchanged_after(record, 10, PARAMS, "bruno:session:*", "bruno.conversations") is None

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
    pending = collections.deque([(b"a", "a", 300), (b"b", "b", 300), (b"c", "c", 50)])
    group = plan_group(pending, chunk_size=250, budget=400)
    assert [(key, take) for key, _sid, _excess, take in group] == [(b"a", 250), (b"b", 250)]
    assert list(pending) == [(b"c", "c", 50)]
    # one session always goes, even when its chunk alone exceeds the budget
    assert len(plan_group(collections.deque([(b"x", "x", 10**6)]), chunk_size=500, budget=10)) == 1


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
                                    (PARAMS, "bruno:session:a*", "bruno.conversations"),
                                    (PARAMS, "bruno:session:*", "bruno.other")]:
        assert session_archive.unchanged_after(record, 5000, params, pattern, target) is None
    # a clock that went backwards proves nothing either
    assert session_archive.unchanged_after(record, 10, PARAMS, "bruno:session:*", "bruno.conversations") is None

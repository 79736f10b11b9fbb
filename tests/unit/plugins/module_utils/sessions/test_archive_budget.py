"""Issue 18 items 2, 4 and 9, the pure parts: the byte budget of a round trip, the trim digests kept instead of
the turns, what copy mode refuses before writing, the scripts that put idle times back, and what a refused
document does to its session (a fake collection)."""

import collections
import json
import math

import pytest
from pymongo.errors import BulkWriteError

from ansible_collections.bruno.ops.plugins.module_utils import errors
from ansible_collections.bruno.ops.plugins.module_utils.sessions import archive
from ansible_collections.bruno.ops.plugins.module_utils.sessions.archive import (
    item_bytes,
    not_finite,
    plan_group,
    stored_key,
    trim_steps,
)


def entries(*sizes, excess=100):
    return collections.deque({"key": b"k%d" % n, "excess": excess, "item_bytes": size}
                             for n, size in enumerate(sizes))


def test_byte_budget_limits_the_group_not_the_item_count():
    pending = entries(48 * 1024, 48 * 1024, 48 * 1024)
    group = plan_group(pending, chunk_size=500, budget=5000, budget_bytes=512 * 1024)
    assert [entry["take"] for entry in group] == [10]
    assert sum(entry["max_bytes"] for entry in group) <= 512 * 1024
    assert len(pending) == 2


def test_small_turns_fill_the_group_up_to_the_item_budget():
    group = plan_group(entries(100, 100, 100), chunk_size=50, budget=5000, budget_bytes=8 * 1024 * 1024)
    assert [entry["take"] for entry in group] == [50, 50, 50]
    assert all(entry["max_bytes"] == 50 * 100 for entry in group)


def test_a_turn_larger_than_the_budget_still_moves_alone():
    pending = entries(10 * 1024 * 1024, 10)
    group = plan_group(pending, chunk_size=500, budget=5000, budget_bytes=1024 * 1024)
    assert [(entry["key"], entry["take"]) for entry in group] == [(b"k0", 1)]
    assert group[0]["max_bytes"] >= 1 and [entry["key"] for entry in pending] == [b"k1"]


def test_without_a_byte_budget_the_script_is_not_limited():
    (entry,) = plan_group(entries(10), chunk_size=5, budget=5000)
    assert entry["take"] == 5 and entry["max_bytes"] == archive.UNLIMITED_BYTES


@pytest.mark.parametrize(("nbytes", "length", "expected"), [
    (10_000, 10, 1000), (None, 10, archive.DEFAULT_ITEM_BYTES), (5, 0, archive.DEFAULT_ITEM_BYTES), (3, 10, 1),
])
def test_item_bytes(nbytes, length, expected):
    assert item_bytes(nbytes, length) == expected


@pytest.mark.parametrize(("sizes", "step", "ranges"), [
    ([10, 10, 10, 10], 25, [(0, 2), (2, 4)]),
    ([100, 1, 1], 10, [(0, 1), (1, 3)]),  # a turn larger than a step is a step of its own
    ([5, 5], 100, [(0, 2)]),
    ([], 10, []),
])
def test_trim_steps_cover_the_items_in_order(sizes, step, ranges):
    assert trim_steps([b"x" * size for size in sizes], step) == ranges


@pytest.mark.parametrize(("value", "bad"), [
    ({"context": {"score": math.nan}}, True),
    ({"context": {"list": [1, {"x": -math.inf}]}}, True),
    ({"context": {"score": 0.5, "n": 2}}, False),
    (json.loads('{"a": NaN}'), True),  # what json.loads makes of the app's json.dumps(float("nan"))
])
def test_not_finite(value, bad):
    assert not_finite(value) is bad


def test_stored_key_ignores_documents_that_cannot_match():
    assert stored_key({"ip": "1.2.3.4", "message": "m", "response": "r"}) == ("1.2.3.4", "m", "r")
    assert stored_key({"ip": "1.2.3.4", "message": ["not", "hashable"], "response": "r"}) is None


def test_scripts_take_the_idle_time_first_and_put_it_back():
    for script in (archive.READ_LUA, archive.TRIM_LUA):
        assert script.index("idle_of(key") < script.index("redis.call('LRANGE'")
        assert "keep_idle(key, idle)" in script
    assert "'REPLACE', 'ABSTTL', 'IDLETIME', idle" in archive.KEEP_IDLE_LUA
    assert "#items[i] .. ':' .. items[i]" in archive.TRIM_LUA


@pytest.mark.parametrize("value", [1023, 512 * 1024 * 1024 + 1, 0])
def test_batch_bytes_is_validated(value):
    params = {"keep_messages": 5, "chunk_size": 10, "prefix": "bruno:session:", "state_key": "",
              "collection": "conversations", "batch_bytes": value}
    with pytest.raises(errors.BrunoOpsError) as raised:
        archive.validate_archive_options(params)
    assert "batch_bytes" in raised.value.message and raised.value.kind == errors.INVALID


class FakeTranslate:
    params = {"database": "agent_bruno"}

    def translate(self, _action):
        return _NullContext()


class _NullContext:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class FakeCollection:
    """insert_many refuses documents whose message starts with 'bad' (code 2, as FerretDB does for a '.')."""

    def __init__(self):
        self.docs = {}
        self.deleted = []

    def insert_many(self, docs, ordered):
        assert ordered is False
        write_errors = []
        for index, doc in enumerate(docs):
            if doc["message"].startswith("bad"):
                write_errors.append({"index": index, "code": 2, "errmsg": "invalid key", "op": doc})
            else:
                self.docs[doc["_id"]] = doc
        if write_errors:
            raise BulkWriteError({"writeErrors": write_errors, "writeConcernErrors": [],
                                  "nInserted": len(docs) - len(write_errors)})
        raise AssertionError("the test always refuses one")

    def delete_many(self, query):
        ids = query["_id"]["$in"]
        self.deleted.extend(ids)
        for doc_id in ids:
            self.docs.pop(doc_id, None)
        return type("Deleted", (), {"deleted_count": len(ids)})()


def test_a_refused_document_stops_its_session_there_and_withdraws_what_followed():
    archiver = archive.Archiver.__new__(archive.Archiver)
    archiver.m = FakeTranslate()
    archiver.check_mode = False
    archiver.collection = FakeCollection()
    archiver.counts = archive.new_archive_counts()
    archiver.shape = "turns"
    archiver.target = "agent_bruno.conversations"
    one, other = {"sid": "a"}, {"sid": "b"}
    inserts = [(one, 0, {"_id": "a0", "message": "ok"}), (one, 1, {"_id": "a1", "message": "bad.key"}),
               (one, 2, {"_id": "a2", "message": "ok"}), (other, 0, {"_id": "b0", "message": "ok"})]
    collided, refused = archiver.write(inserts)
    assert collided == set()
    assert refused == {id(one): (1, "MongoDB refused it (error code 2)")}
    assert sorted(archiver.collection.docs) == ["a0", "b0"] and archiver.collection.deleted == ["a2"]
    assert archiver.counts["inserted"] == 2

"""Turn parsing, the app's document shape, matching turns to the app's documents, and redaction (pure)."""

import datetime
import json

import pytest

from ansible_collections.bruno.ops.plugins.module_utils.sessions import shapes
from ansible_collections.bruno.ops.plugins.module_utils.sessions.shapes import Malformed


def raw_turn(message="hi", response="hello", timestamp="2026-12-02T20:14:03.123456", context=None):
    """Exactly what the app stores: Python's default json.dumps of the turn."""
    return json.dumps({"timestamp": timestamp, "message": message, "response": response,
                       "context": context or {}}).encode()


def test_a_real_turn_parses():
    turn = shapes.parse_turn(raw_turn(context={"page": "/"}))
    assert turn["message"] == "hi" and turn["context"] == {"page": "/"}
    assert turn["moment"] == datetime.datetime(2026, 12, 2, 20, 14, 3, 123456)
    # microseconds are omitted by isoformat() when they are 0
    assert shapes.parse_turn(raw_turn(timestamp="2026-12-02T20:14:03"))["moment"].microsecond == 0


@pytest.mark.parametrize(("raw", "reason"), [
    (b"not json", "not JSON"),
    (b"\xff\xfe", "not JSON"),
    (b"[1]", "not a JSON object"),
    (json.dumps({"timestamp": "2026-12-02T20:14:03", "message": "hi"}).encode(), "no string field 'response'"),
    (raw_turn(timestamp="yesterday"), "not ISO 8601"),
    (raw_turn(message="hi \ud83d"), "lone surrogate"),
    (raw_turn(context={"a\u0000b": 1}), "NUL"),
    (raw_turn(context={"$where": 1}), "'$'"),
    (raw_turn(context={"n": 2 ** 70}), "beyond 64 bits"),
    (json.dumps({"timestamp": "2026-12-02T20:14:03", "message": "m", "response": "r", "context": [1]}).encode(),
     "context is not a JSON object"),
])
def test_malformed_turns_are_named_with_the_reason(raw, reason):
    with pytest.raises(Malformed, match=reason.replace("$", "\\$")):
        shapes.parse_turn(raw)


def test_the_copied_document_has_the_apps_shape_and_a_stable_id():
    turn = shapes.parse_turn(raw_turn())
    doc = shapes.turn_document("bruno:session:192.0.2.1", "192.0.2.1", turn)
    assert set(doc) == {"_id", "ip", "timestamp", "message", "response", "context", "created_at"}
    assert doc["ip"] == "192.0.2.1" and doc["timestamp"] == "2026-12-02T20:14:03.123456"
    assert isinstance(doc["created_at"], datetime.datetime)
    assert doc == shapes.turn_document("bruno:session:192.0.2.1", "192.0.2.1", shapes.parse_turn(raw_turn()))
    other = shapes.turn_document("bruno:session:192.0.2.2", "192.0.2.2", turn)
    assert other["_id"] != doc["_id"]


def test_matching_needs_message_response_and_time_and_counts_each_document_once():
    turns = [shapes.parse_turn(raw_turn()), shapes.parse_turn(raw_turn()),
             shapes.parse_turn(raw_turn(message="other"))]
    stored = [{"timestamp": "2026-12-02T20:14:03.123456", "message": "hi", "response": "hello"}]
    assert shapes.match_turns(turns, stored) == [True, False, False]
    # the published app stores its own datetime, a moment apart
    stored = [{"timestamp": datetime.datetime(2026, 12, 2, 20, 14, 4), "message": "hi", "response": "hello"},
              {"timestamp": datetime.datetime(2026, 12, 2, 20, 14, 3), "message": "hi", "response": "hello"},
              {"timestamp": datetime.datetime(2026, 12, 2, 21, 0, 0), "message": "other", "response": "hello"}]
    assert shapes.match_turns(turns, stored) == [True, True, False]
    assert shapes.match_turns(turns, []) == [False, False, False]


def test_one_query_per_group_of_sessions():
    turns = [shapes.parse_turn(raw_turn())]
    query = shapes.group_filter([("192.0.2.2", turns), ("192.0.2.1", turns), ("192.0.2.2", turns)])
    assert query == {"ip": {"$in": ["192.0.2.1", "192.0.2.2"]}}


@pytest.mark.parametrize(("key", "shown"), [
    ("bruno:session:203.0.113.7", "bruno:session:203.0.113.x"),
    ("bruno:session:2001:db8::1", "bruno:session:h:" + shapes.short_hash("2001:db8::1")),
    ("bruno:session:conv-1", "bruno:session:h:" + shapes.short_hash("conv-1")),
    ("other:key", "h:" + shapes.short_hash("other:key")),
])
def test_redaction_of_session_keys(key, shown):
    assert shapes.redact_key(key, "bruno:session:") == shown
    assert shapes.redact_key(key, "bruno:session:", enabled=False) == key


def test_chat_text_is_replaced_by_its_length():
    assert shapes.redact_text("hello there") == "<11 chars>"
    assert shapes.redact_text("hello", enabled=False) == "hello"

"""Unit tests of agent-bruno's pure parts (lab/agent_bruno): no servers, no network."""

import datetime
import json

import pytest

from agent_bruno import config, lab, llm, ollama_stub, server, turns
from labctl import procs

TS = datetime.datetime(2026, 12, 2, 20, 14, 3, 123456)


# -- turns, keys, client IP ------------------------------------------------------------------------------


def test_turn_is_python_default_json_in_the_real_key_order():
    turn = turns.make_turn("héllo", "answer", None, TS)
    assert list(turn) == ["timestamp", "message", "response", "context"]
    assert turns.encode_turn(turn) == (
        '{"timestamp": "2026-12-02T20:14:03.123456", "message": "h\\u00e9llo", "response": "answer", '
        '"context": {}}'
    )


def test_turn_timestamp_omits_zero_microseconds_and_keeps_the_context():
    turn = turns.make_turn("m", "r", {"page": "home", "n": 1}, TS.replace(microsecond=0))
    assert turn["timestamp"] == "2026-12-02T20:14:03"
    assert turns.encode_turn(turn).endswith('"context": {"page": "home", "n": 1}}')


def test_decode_turns_round_trips():
    elements = [turns.encode_turn(turns.make_turn("m%d" % i, "r", {}, TS)) for i in range(3)]
    assert [turn["message"] for turn in turns.decode_turns(elements)] == ["m0", "m1", "m2"]


def test_session_key_and_pattern():
    assert turns.session_key("203.0.113.7") == "bruno:session:203.0.113.7"
    assert turns.session_key("2001:db8::1") == "bruno:session:2001:db8::1"
    assert turns.session_pattern() == "bruno:session:*"


@pytest.mark.parametrize("header, peer, expected", [
    ("203.0.113.9, 10.0.0.1", "127.0.0.1", "203.0.113.9"),
    ("  198.51.100.2  ", "127.0.0.1", "198.51.100.2"),
    ("", "127.0.0.1", "127.0.0.1"),
    (None, "10.1.2.3", "10.1.2.3"),
    (None, "", "unknown"),
])
def test_client_ip_prefers_the_first_forwarded_entry(header, peer, expected):
    assert turns.client_ip(header, peer) == expected


# -- prompt -------------------------------------------------------------------------------------------------


def test_format_context_lists_user_and_agent_lines():
    assert turns.format_context([]) == turns.NO_CONTEXT
    text = turns.format_context([{"message": "hi", "response": "hello"}, {"message": "q", "response": "a"}])
    assert text == "Previous conversation:\n\nUser: hi\nAgent: hello\n\nUser: q\nAgent: a"


def test_prompt_carries_context_and_current_message_and_the_stub_reads_them():
    context = turns.format_context([{"message": "m%d" % i, "response": "r"} for i in range(4)])
    prompt = turns.build_prompt("what now?", context)
    assert prompt.endswith("\nCurrent User Message: what now?\n\nAgent Bruno:")
    assert ollama_stub.context_turns(prompt) == 4
    assert ollama_stub.current_message(prompt) == "what now?"
    assert ollama_stub.context_turns(turns.build_prompt("x", turns.format_context([]))) == 0


def test_stub_answer_is_deterministic_and_depends_on_the_prompt():
    first = turns.build_prompt("hello", turns.NO_CONTEXT)
    second = turns.build_prompt("hello", turns.format_context([{"message": "a", "response": "b"}]))
    assert ollama_stub.answer(first) == ollama_stub.answer(first)
    assert ollama_stub.answer(first) != ollama_stub.answer(second)
    assert "5 characters" in ollama_stub.answer(first) and "1 earlier turns" in ollama_stub.answer(second)


def test_stub_chat_messages_become_a_prompt():
    prompt = ollama_stub.chat_prompt([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                                      {"role": "user", "content": "c"}])
    assert ollama_stub.context_turns(prompt) == 1 and ollama_stub.current_message(prompt) == "c"


# -- MongoDB documents and JSON output -----------------------------------------------------------------------


def test_mongo_document_fields_and_timestamp_modes():
    turn = turns.make_turn("m", "r", {"k": 1}, TS)
    created = TS + datetime.timedelta(milliseconds=2)
    doc = turns.mongo_document("192.0.2.1", turn, created)
    assert list(doc) == ["ip", "timestamp", "message", "response", "context", "created_at"]
    assert doc["timestamp"] == "2026-12-02T20:14:03.123456" and doc["created_at"] is created
    real = turns.mongo_document("192.0.2.1", turn, created, "datetime")
    assert real["timestamp"] is created


def test_jsonable_encodes_datetimes_and_other_values_like_fastapi():
    class Oid:
        def __str__(self):
            return "6b10"

    value = {"_id": Oid(), "created_at": TS, "n": [1, None, True], "ctx": {"a": TS.date()}}
    assert turns.jsonable(value) == {"_id": "6b10", "created_at": "2026-12-02T20:14:03.123456",
                                     "n": [1, None, True], "ctx": {"a": "2026-12-02"}}


def test_dump_response_is_compact_utf8():
    assert turns.dump_response({"a": "é", "b": [1]}) == '{"a":"é","b":[1]}'.encode()


@pytest.mark.parametrize("url, expected", [
    ("redis://:s3cret@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
    ("mongodb://user:pw@db:27017/?authSource=admin", "mongodb://user:***@db:27017/?authSource=admin"),
    ("redis://127.0.0.1:6379", "redis://127.0.0.1:6379"),
    ("", ""),
])
def test_redact_url_hides_passwords(url, expected):
    assert turns.redact_url(url) == expected


# -- request validation (422 like FastAPI) -------------------------------------------------------------------


def test_validate_chat_accepts_message_and_optional_context():
    assert turns.validate_chat(b'{"message": "hi"}') == ("hi", None, None)
    assert turns.validate_chat(b'{"message": "", "context": {"a": 1}}') == ("", {"a": 1}, None)


@pytest.mark.parametrize("raw, kind, loc", [
    (b"", "missing", ["body"]),
    (b"{", "json_invalid", ["body", 1]),
    (b"[1]", "model_attributes_type", ["body"]),
    (b"{}", "missing", ["body", "message"]),
    (b'{"message": 5}', "string_type", ["body", "message"]),
    (b'{"message": "x", "context": [1]}', "dict_type", ["body", "context"]),
])
def test_validate_chat_rejects_like_pydantic(raw, kind, loc):
    message, context, errors = turns.validate_chat(raw)
    assert message is None and context is None
    assert errors[0]["type"] == kind and errors[0]["loc"] == loc


def test_query_int():
    assert turns.query_int({}, "limit", 50) == (50, None)
    assert turns.query_int({"limit": ["7"]}, "limit", 50) == (7, None)
    value, errors = turns.query_int({"limit": ["x"]}, "limit", 50)
    assert value is None and errors[0]["loc"] == ["query", "limit"]


# -- configuration ---------------------------------------------------------------------------------------------


def test_config_defaults_are_the_real_apps():
    cfg = config.from_env({})
    assert (cfg.port, cfg.redis_url, cfg.mongodb_url, cfg.mongodb_db) == (
        8080, "redis://redis:6379", "mongodb://mongodb:27017", "agent_bruno")
    assert cfg.session_ttl == 86400 and cfg.log_level == "INFO"
    assert (cfg.ollama_url, cfg.ollama_model) == ("http://ollama.homepage.svc.cluster.local:11434", "llama3.2:3b")
    assert cfg.listen_addr == "127.0.0.1" and not cfg.lab_mode and not cfg.persistence_broken


def test_config_reads_every_variable():
    cfg = config.from_env({"PORT": "9001", "REDIS_URL": "redis://h:1/2", "MONGODB_URL": "mongodb://m:2",
                           "MONGODB_DB": "db", "SESSION_TTL": "600", "LOG_LEVEL": "DEBUG", "OLLAMA_URL": "http://o",
                           "OLLAMA_MODEL": "m:1", "LISTEN_ADDR": "::1", "LAB_MODE": "1", "POD_NAME": "p-1",
                           "LAB_SOURCE_ADDR": "127.0.0.3", "LAB_PERSISTENCE_BROKEN": "1",
                           "LAB_MONGO_TIMESTAMP": "datetime"})
    assert (cfg.port, cfg.mongodb_db, cfg.session_ttl, cfg.log_level, cfg.ollama_model) == (
        9001, "db", 600, "DEBUG", "m:1")
    assert (cfg.listen_addr, cfg.lab_mode, cfg.pod_name, cfg.source_addr) == ("::1", True, "p-1", "127.0.0.3")
    assert cfg.persistence_broken and cfg.mongo_timestamp == "datetime"


@pytest.mark.parametrize("env, name", [
    ({"SESSION_TTL": ""}, "SESSION_TTL"),
    ({"SESSION_TTL": "1h"}, "SESSION_TTL"),
    ({"PORT": "x"}, "PORT"),
    ({"PORT": "70000"}, "PORT"),
    ({"LOG_LEVEL": "loud"}, "LOG_LEVEL"),
    ({"LAB_MONGO_TIMESTAMP": "epoch"}, "LAB_MONGO_TIMESTAMP"),
])
def test_config_errors_name_the_variable(env, name):
    with pytest.raises(config.ConfigError, match=name):
        config.from_env(env)


def test_session_ttl_zero_is_passed_through_like_the_real_app():
    assert config.from_env({"SESSION_TTL": "0"}).session_ttl == 0  # EXPIRE key 0 deletes the key


# -- routing -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method, path, lab_mode, expected", [
    ("GET", "/health", False, ("get_health", (), False)),
    ("POST", "/chat", False, ("post_chat", (), False)),
    ("POST", "/mcp/chat", False, ("post_chat", (), False)),
    ("GET", "/chat", False, (None, 405, False)),
    ("GET", "/memory/203.0.113.1", False, ("get_memory", ("203.0.113.1",), False)),
    ("DELETE", "/memory/203.0.113.1", False, ("delete_memory", ("203.0.113.1",), False)),
    ("POST", "/memory/203.0.113.1", False, (None, 405, False)),
    ("GET", "/memory/203.0.113.1/history", False, ("get_history", ("203.0.113.1",), False)),
    ("GET", "/memory/1/other", False, (None, 404, False)),
    ("GET", "/memory/", False, (None, 404, False)),
    ("GET", "/healthz", False, (None, 404, False)),
    ("GET", "/debug/memory", False, (None, 404, False)),
    ("GET", "/lab/state", False, (None, 404, False)),
    ("GET", "/lab/state", True, ("state", (), True)),
    ("POST", "/lab/fault", True, ("fault", (), True)),
    ("GET", "/lab/fault", True, (None, 405, True)),
    ("POST", "/lab/nothing", True, (None, 404, True)),
])
def test_route(method, path, lab_mode, expected):
    assert server.route(method, path, lab_mode) == expected


# -- lab controls ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("rate, hits", [(1.0, 10), (0.5, 5), (0.3, 3), (0.0, 0), (0.25, 2)])
def test_fault_rate_is_deterministic(rate, hits):
    first_ten = [lab.fault_hits(index, rate) for index in range(10)]
    assert sum(first_ten) == hits
    assert first_ten == [lab.fault_hits(index, rate) for index in range(10)]


def test_parse_fault_defaults_and_errors():
    assert lab.parse_fault({"kind": "slow"}) == {"kind": "slow", "seconds": 2.0, "rate": 1.0}
    assert lab.parse_fault({"kind": "error", "rate": 0.5}) == {"kind": "error", "seconds": 0.0, "rate": 0.5}
    assert lab.parse_fault({})["kind"] == "none"
    for body, word in (({"kind": "boom"}, "kind"), ({"kind": "slow", "seconds": -1}, "seconds"),
                       ({"kind": "error", "rate": 2}, "rate"), ({"kind": "slow", "seconds": "1"}, "seconds"),
                       ([], "object")):
        with pytest.raises(lab.LabRequestError, match=word):
            lab.parse_fault(body)


class _Mongo:
    broken = False


def test_lab_leak_persistence_and_state_without_servers():
    controls = lab.Lab(config.from_env({"LAB_MODE": "1", "POD_NAME": "p"}), _Mongo())
    assert controls.leak({"bytes": 1000}) == {"retained_bytes": 1000, "chunks": 1}
    assert controls.leak({"bytes": 24})["retained_bytes"] == 1024
    assert controls.set_persistence({"broken": True}) == {"broken": True}
    controls.set_fault({"kind": "error", "rate": 0.5})
    assert [controls.next_fault() for _index in range(4)] == [None, ("error", 0.0), None, ("error", 0.0)]
    state = controls.state()
    assert state["persistence_broken"] and state["memory"] == {"retained_bytes": 1024, "chunks": 2}
    assert state["fault"]["applied"] == 2 and state["pod"] == "p"
    assert controls.release()["released"]["retained_bytes"] == 1024
    assert controls.state()["memory"]["retained_bytes"] == 0
    for bad in ({"bytes": -1}, {"bytes": "1"}, {"bytes": True}):
        with pytest.raises(lab.LabRequestError):
            controls.leak(bad)
    with pytest.raises(lab.LabRequestError):
        controls.set_persistence({"broken": "yes"})
    with pytest.raises(lab.LabRequestError, match="redis"):
        controls.hold({"redis": 5000})


def test_json_of_a_turn_parses_back_to_the_same_dict():
    turn = turns.make_turn("a\nb \"q\" ✓", "r", {"nested": {"x": [1, 2]}}, TS)
    assert json.loads(turns.encode_turn(turn)) == turn


# -- the Ollama stand-in's API ---------------------------------------------------------------------------------


def test_stub_generate_non_streaming_and_streaming():
    prompt = turns.build_prompt("hi", turns.NO_CONTEXT)
    status, done, ctype = ollama_stub.respond("/api/generate", json.dumps(
        {"model": "llama3.2:3b", "prompt": prompt, "stream": False}).encode())
    assert (status, ctype) == (200, "application/json")
    assert done["done"] is True and done["response"] == ollama_stub.answer(prompt) and done["model"] == "llama3.2:3b"
    status, raw, ctype = ollama_stub.respond("/api/generate", json.dumps(
        {"model": "llama3.2:3b", "prompt": prompt}).encode())
    lines = [json.loads(line) for line in raw.decode().splitlines()]
    assert ctype == "application/x-ndjson" and [line["done"] for line in lines] == [False, True]
    assert lines[0]["response"] == ollama_stub.answer(prompt)


def test_stub_chat_and_errors(monkeypatch):
    status, done, _ctype = ollama_stub.respond("/api/chat", json.dumps(
        {"model": "llama3.2:3b", "messages": [{"role": "user", "content": "x"}], "stream": False}).encode())
    assert status == 200 and done["message"]["role"] == "assistant"
    for raw, status in ((b"{", 400), (b"[]", 400), (b'{"prompt": "x"}', 400), (b'{"model": "other:1"}', 404)):
        with pytest.raises(ollama_stub.StubError) as caught:
            ollama_stub.respond("/api/generate", raw)
        assert caught.value.status == status
    monkeypatch.setenv("OLLAMA_STUB_MODELS", "a:1, b:2")
    assert [model["name"] for model in ollama_stub.tags()["models"]] == ["a:1", "b:2"]


def test_llm_errors_use_the_real_apps_wording():
    with pytest.raises(llm.LLMError, match="^Failed to query LLM: "):
        llm.generate("http://127.0.0.1:%d" % procs.free_port(), "m", "p", timeout=2)
    with pytest.raises(llm.LLMError, match="http"):
        llm.generate("file:///etc", "m", "p")


def test_hold_connections_rejects_the_former_pool_field():
    controls = lab.Lab(config.from_env({"LAB_MODE": "1"}), _Mongo())
    with pytest.raises(lab.LabRequestError, match="redis_pool"):
        controls.hold({"redis": 1, "redis_pool": 20})

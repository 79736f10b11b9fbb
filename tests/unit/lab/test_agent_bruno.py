"""Unit tests of agent-bruno's pure parts: no servers, no network."""

import json

import pytest
import redis

from agent_bruno import config, core, labknobs, metrics, server, store

# -- the fake LLM ------------------------------------------------------------------------------------------


def test_fake_reply_is_deterministic():
    assert core.fake_reply("hello", 1) == core.fake_reply("hello", 1)
    assert core.fake_reply("héllo ✓", 7) == core.fake_reply("héllo ✓", 7)


def test_fake_reply_depends_on_message_and_turn():
    replies = {core.fake_reply(msg, turn) for msg in ("a", "b", "c") for turn in (1, 2, 3)}
    assert len(replies) == 9  # the ref hash differs even when the phrases coincide
    assert "(turn 3, ref " in core.fake_reply("a", 3)


def test_turn_for_seq_counts_pairs_from_one():
    assert [core.turn_for_seq(s) for s in (0, 2, 4, 100)] == [1, 2, 3, 51]


# -- request validation -------------------------------------------------------------------------------------


def test_parse_chat_request_accepts_message_and_optional_session():
    assert core.parse_chat_request(b'{"message": "hi"}') == (None, "hi")
    assert core.parse_chat_request(b'{"session_id": "ab_C-9", "message": "hi"}') == ("ab_C-9", "hi")
    assert core.parse_chat_request(b'{"session_id": null, "message": "hi"}') == (None, "hi")
    assert core.parse_chat_request('{"message": "ünï"}'.encode()) == (None, "ünï")


@pytest.mark.parametrize("body", [
    b"", b"not json", b"[1, 2]", b'"str"', b"\xff\xfe", b"{}", b'{"message": ""}', b'{"message": "   "}',
    b'{"message": 5}', b'{"message": "hi", "session_id": 5}', b'{"message": "hi", "session_id": ""}',
    b'{"message": "hi", "session_id": "a*b"}', b'{"message": "hi", "session_id": "a:b"}',
    ('{"message": "hi", "session_id": "%s"}' % ("x" * 129)).encode(),
    json.dumps({"message": "x" * (core.MAX_MESSAGE_CHARS + 1)}).encode(),
])
def test_parse_chat_request_rejects(body):
    with pytest.raises(core.BadRequest):
        core.parse_chat_request(body)


def test_parse_json_object_for_lab_knobs():
    assert core.parse_json_object(b"") == {}
    assert core.parse_json_object(b' {"bytes": 3} ') == {"bytes": 3}
    with pytest.raises(core.BadRequest):
        core.parse_json_object(b"[]")


# -- message encoding ---------------------------------------------------------------------------------------


def test_encoded_message_has_seq_first_and_round_trips():
    raw = core.encode_message(12, "user", 'say "hi"\n✓', 1700000000.125)
    assert raw.startswith('{"seq":12,"role":"user",')
    assert json.loads(raw) == {"seq": 12, "role": "user", "content": 'say "hi"\n✓', "ts": 1700000000.125}
    assert raw.isascii()  # non-ASCII is escaped: byte-safe for the Lua script's string.sub
    assert core.decode_message(raw.encode()) == json.loads(raw)


def test_with_seq_mirrors_the_lua_concatenation():
    body = core.encode_body("assistant", "x", 1.5)
    # APPEND_PAIR_LUA: '{"seq":' .. string.format('%d', nxt) .. ',' .. string.sub(body, 2)
    assert core.with_seq(3, body) == '{"seq":' + "3" + "," + body[1:]
    assert "string.sub(ARGV[2], 2)" in store.APPEND_PAIR_LUA


def test_encode_body_rejects_unknown_role():
    with pytest.raises(ValueError):
        core.encode_body("system", "x", 1.0)


@pytest.mark.parametrize("raw", ['{"role": "user"}', '{"seq": "1", "role": "user"}', '[1]',
                                 '{"seq": 1, "role": "robot"}'])
def test_decode_message_rejects_foreign_elements(raw):
    with pytest.raises(ValueError):
        core.decode_message(raw)


def test_archive_doc_id_and_fields():
    msg = json.loads(core.encode_message(4, "assistant", "ok", 10.0))
    doc = core.archive_doc("abc", msg, 20.0)
    assert doc == {"_id": "abc:4", "session_id": "abc", "seq": 4, "role": "assistant", "content": "ok", "ts": 10.0,
                   "archived_at": 20.0}


# -- trimming decision --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("length", "window", "expected"), [
    (10, 0, 0),      # window 0: unlimited, nothing leaves
    (4, 4, 0),
    (3, 4, 0),
    (6, 4, 2),
    (51, 50, 1),
    (5000, 2, core.ARCHIVE_BATCH),  # a backlog leaves in bounded batches
])
def test_messages_to_archive(length, window, expected):
    assert core.messages_to_archive(length, window) == expected


# -- configuration ------------------------------------------------------------------------------------------


def test_config_defaults():
    cfg = config.from_env({})
    assert (cfg.listen_addr, cfg.port, cfg.session_ttl, cfg.context_window) == ("127.0.0.1", 8080, 86400, 50)
    assert cfg.session_key_prefix == "bruno:session:" and cfg.mongo_db == "bruno"
    assert cfg.mongo_url is None and not cfg.mongo_enabled and not cfg.lab_mode
    assert cfg.pod_name


@pytest.mark.parametrize(("value", "ttl"), [("0", 0), ("", 0), ("3600", 3600), (" 60 ", 60)])
def test_session_ttl_zero_or_empty_means_none(value, ttl):
    assert config.from_env({"SESSION_TTL": value}).session_ttl == ttl


def test_config_reads_everything():
    cfg = config.from_env({"LISTEN_ADDR": "127.0.0.2", "PORT": "9000", "REDIS_URL": "redis://h:1/2",
                           "MONGO_URL": "mongodb://m/", "MONGO_DB": "x", "CONTEXT_WINDOW": "0",
                           "SESSION_KEY_PREFIX": "t:s:", "REDIS_POOL_SIZE": "3", "MONGO_POOL_SIZE": "4",
                           "POD_NAME": "agent-bruno-abc", "LAB_MODE": "1", "ACTIVE_SESSIONS_MODE": "DBSIZE"})
    assert cfg.mongo_enabled and cfg.lab_mode and cfg.context_window == 0
    assert (cfg.port, cfg.redis_pool_size, cfg.mongo_pool_size, cfg.pod_name) == (9000, 3, 4, "agent-bruno-abc")
    assert (cfg.session_key_prefix, cfg.active_sessions_mode) == ("t:s:", "dbsize")


@pytest.mark.parametrize("env", [{"PORT": "x"}, {"PORT": "70000"}, {"SESSION_TTL": "-1"}, {"CONTEXT_WINDOW": "-2"},
                                 {"REDIS_POOL_SIZE": "0"}, {"SESSION_KEY_PREFIX": "bruno:*"},
                                 {"ACTIVE_SESSIONS_MODE": "keys"}, {"REDIS_POOL_TIMEOUT": "soon"}])
def test_config_rejects(env):
    with pytest.raises(config.ConfigError):
        config.from_env(env)


def test_redact_hides_passwords_only():
    assert server.redact("redis://:s3cret@h:6379/0") == "redis://:***@h:6379/0"
    assert server.redact("mongodb://u:p@h1:1,h2:2/db?x=1") == "mongodb://u:***@h1:1,h2:2/db?x=1"
    assert server.redact("redis://h:6379/0") == "redis://h:6379/0"
    assert server.redact(None) is None


# -- active session count -----------------------------------------------------------------------------------


class FakeRedis:
    def __init__(self, pages, fail=False):
        self.pages = pages  # cursor -> (next cursor, keys)
        self.fail = fail
        self.calls = 0

    def scan(self, cursor, match, count):
        self.calls += 1
        if self.fail:
            raise redis.ConnectionError("down")
        assert match == "bruno:session:*" and count == metrics.SCAN_COUNT
        return self.pages[cursor]

    def dbsize(self):
        self.calls += 1
        return 42


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def counter(client, mode="scan", budget=10, clock=None):
    return metrics.SessionCounter(client, "bruno:session:", mode, 5.0, budget, clock=clock or Clock())


def test_session_counter_scans_to_the_end_and_caches():
    client = FakeRedis({0: (7, [b"a", b"b"]), 7: (3, []), 3: (0, [b"c"])})
    clock = Clock()
    sessions = counter(client, clock=clock)
    assert sessions.get() == 3 and client.calls == 3
    clock.now += 4.9
    assert sessions.get() == 3 and client.calls == 3  # cached
    clock.now += 0.2
    assert sessions.get() == 3 and client.calls == 6


def test_session_counter_reports_nothing_past_its_budget_or_on_error():
    assert counter(FakeRedis({0: (1, [b"a"]), 1: (2, [b"b"]), 2: (0, [])}), budget=2).get() is None
    assert counter(FakeRedis({}, fail=True)).get() is None


def test_session_counter_dbsize_mode():
    assert counter(FakeRedis({}), mode="dbsize").get() == 42


# -- odds and ends ------------------------------------------------------------------------------------------


def test_proc_memory_parses_status(tmp_path):
    status = tmp_path / "status"
    status.write_text("Name:\tpython\nVmPeak:\t  2048 kB\nVmSize:\t  1024 kB\nVmHWM:\t 512 kB\nVmRSS:\t 256 kB\n"
                      "Threads:\t3\n")
    assert server.proc_memory(str(status)) == {"vms_peak_bytes": 2048 * 1024, "vms_bytes": 1024 * 1024,
                                               "rss_peak_bytes": 512 * 1024, "rss_bytes": 256 * 1024, "threads": 3}


@pytest.mark.parametrize("data", [{"bytes": -1}, {"bytes": "1"}, {"bytes": True},
                                  {"bytes": labknobs.MAX_LEAK_BYTES_PER_CALL + 1}])
def test_lab_leak_validates(data):
    with pytest.raises(core.BadRequest):
        labknobs.LabKnobs(config.from_env({}), None).leak(data)


def test_lab_hold_validates_before_connecting():
    knobs = labknobs.LabKnobs(config.from_env({"REDIS_POOL_SIZE": "2"}), None)
    for data in ({"redis": labknobs.MAX_HELD_REDIS + 1}, {"redis_pool": 3}, {"mongo": 1}, {"redis": -1}):
        with pytest.raises(core.BadRequest):
            knobs.hold(data)


# -- archive writes (the FerretDB duplicate-key quirk) ------------------------------------------------------


class FakeWriteConcern:
    document = {}


class FakeCollection:
    """Stores upserts; `refuse` makes a batch fail the way FerretDB does on a concurrent insert."""

    name = "conversations"
    write_concern = FakeWriteConcern()

    def __init__(self, refuse_rounds=0, reply=None):
        self.docs = {}
        self.refuse_rounds = refuse_rounds
        self.reply = reply
        self.commands = []
        self.database = self

    def command(self, cmd):
        self.commands.append(cmd)
        if self.reply is not None:
            return self.reply
        if self.refuse_rounds:
            self.refuse_rounds -= 1
            first = cmd["updates"][0]["u"]
            self.docs[first["_id"]] = first  # "the other request" inserted it; the rest of the batch is skipped
            return {"ok": 1.0, "writeErrors": [{"index": 0, "code": 11000, "errmsg": "E11000 duplicate key"}]}
        for update in cmd["updates"]:
            self.docs[update["u"]["_id"]] = update["u"]
        return {"ok": 1.0, "n": len(cmd["updates"]), "nModified": 0}

    def find(self, query, projection):
        return [{"_id": _id} for _id in query["_id"]["$in"] if _id in self.docs]


def archive_with(coll):
    archive = store.MongoArchive.__new__(store.MongoArchive)
    archive.coll = coll
    return archive


def docs(n):
    return [core.archive_doc("s", json.loads(core.encode_message(i, "user", "m%d" % i, 1.0)), 2.0) for i in range(n)]


def test_archive_save_writes_all_in_one_command():
    coll = FakeCollection()
    archive_with(coll).save(docs(3))
    assert sorted(coll.docs) == ["s:0", "s:1", "s:2"] and len(coll.commands) == 1
    assert all(u["upsert"] and u["q"] == {"_id": u["u"]["_id"]} for u in coll.commands[0]["updates"])


def test_archive_save_rewrites_what_a_refused_batch_skipped():
    coll = FakeCollection(refuse_rounds=1)
    archive_with(coll).save(docs(4))
    assert sorted(coll.docs) == ["s:0", "s:1", "s:2", "s:3"]
    assert [len(c["updates"]) for c in coll.commands] == [4, 3]  # only the missing ones again


def test_archive_save_gives_up_after_bounded_rounds():
    with pytest.raises(store.ArchiveError, match="not archived"):
        archive_with(FakeCollection(refuse_rounds=99)).save(docs(5))


@pytest.mark.parametrize("reply", [
    {"ok": 1.0, "writeErrors": [{"index": 0, "code": 2, "errmsg": "bad"}]},
    {"ok": 1.0, "n": 2, "writeConcernError": {"code": 64, "errmsg": "waiting for replication timed out"}},
])
def test_archive_save_raises_on_real_errors(reply):
    with pytest.raises(store.ArchiveError):
        archive_with(FakeCollection(reply=reply)).save(docs(2))

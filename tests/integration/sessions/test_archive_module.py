"""bruno.ops.session_archive against real Redis (7.0) and FerretDB, on sessions in exactly agent-bruno's format
(lists of json.dumps turns under bruno:session:<ip>, RPUSH then EXPIRE) and MongoDB documents in its shape.

verify (the app persists): check -> apply -> rerun unchanged; every ip's history holds each turn once and Redis
the last N. The app not persisting: nothing trimmed, and the result says why. copy: check == apply, rerun
unchanged, with turns appended during the run. Malformed turns: skipped, counted, named. Check mode on 7.0:
no idle time changes."""

import json
import random
import threading

from sessionlab import (
    PREFIX,
    REDIS_PASSWORD,
    Background,
    app_documents,
    exactly_once,
    expected_turns,
    identity,
    ip,
    ledger,
    run_module,
    run_with_diff,
    seed_app,
    session_key,
    snapshot,
    turn,
)

MODULE = "bruno.ops.session_archive"
SESSIONS, TURNS, KEEP = 40, 25, 10
FIGURES = ("matched", "messages_over_limit", "verified", "missing", "inserted", "archived", "moved",
           "sessions_trimmed", "sessions_not_persisted", "malformed", "app_not_persisting")


def args_for(redis_options, mongo_options, **extra):
    base = {"redis": redis_options, "mongodb": mongo_options, "keep_messages": KEEP, "chunk_size": 8,
            "sample_size": 3}
    base.update(extra)
    return base


def figures(result):
    return {name: result[name] for name in FIGURES}


def idle_times(client):
    keys = sorted(client.scan_iter(match=PREFIX + "*", count=1000))
    pipe = client.pipeline(transaction=False)
    for name in keys:
        pipe.object("idletime", name)
    return dict(zip(keys, pipe.execute(), strict=True))


def age(client, seconds):
    """Make every session look unused for `seconds` (DUMP/RESTORE IDLETIME keeps value and TTL)."""
    for name in client.scan_iter(match=PREFIX + "*", count=1000):
        ttl = client.pttl(name)
        client.restore(name, ttl if ttl > 0 else 0, client.dump(name), replace=True, idletime=seconds)


def test_verify_check_apply_rerun_on_an_app_that_persists(sessions_redis, redis_options, mongo_options, archive_db):
    seed_app(sessions_redis, SESSIONS, TURNS)
    archive_db.conversations.insert_many(app_documents(SESSIONS, TURNS))
    before = snapshot(sessions_redis)
    args = args_for(redis_options, mongo_options)

    # Default check mode on Redis 7.0: no CLIENT NO-TOUCH, so it reads no list and changes no idle time.
    age(sessions_redis, 300)
    idle_before = idle_times(sessions_redis)
    rc, metadata, raw = run_module(MODULE, args, check=True)
    assert rc == 0, raw[-3000:]
    idle_after = idle_times(sessions_redis)
    assert all(idle_after[name] >= idle_before[name] for name in idle_before), "check mode touched sessions"
    assert metadata["prediction"] == "metadata" and metadata["no_touch"] is False
    assert metadata["not_read"] == SESSIONS and metadata["moved"] is None and metadata["app_not_persisting"] is None
    assert any("CLIENT NO-TOUCH" in warning for warning in metadata["warnings"])

    # Reading the turns anyway predicts exactly what the real run does.
    rc, checked, raw = run_module(MODULE, dict(args, check_mode_reads="contents"), check=True)
    assert rc == 0, raw[-3000:]
    assert checked["prediction"] == "exact" and checked["changed"] is True and checked["unit"] == "turns"
    assert snapshot(sessions_redis) == before
    assert archive_db.conversations.count_documents({}) == SESSIONS * TURNS

    applied, raw = run_with_diff(MODULE, args)
    assert applied.get("failed") is not True, raw[-3000:]
    assert figures(applied) == figures(checked)
    assert applied["moved"] == applied["verified"] == SESSIONS * (TURNS - KEEP)
    assert applied["inserted"] == 0 and applied["app_not_persisting"] is False
    assert applied["collection"] == "%s.conversations" % mongo_options["database"]
    assert applied["diff"]["before"]["sessions_over_limit"] == SESSIONS
    assert all(name.endswith(".x") for name in applied["samples"]["archived"])  # redacted
    assert "203.0.113." not in json.dumps(applied).replace(".x", "")
    # Every ip's history holds each turn exactly once (nothing inserted), Redis the last KEEP.
    assert archive_db.conversations.count_documents({}) == SESSIONS * TURNS
    for i, (in_redis, in_mongo) in ledger(sessions_redis, archive_db, SESSIONS).items():
        assert in_mongo == sorted(expected_turns(i, TURNS)), ip(i)
        assert in_redis == expected_turns(i, TURNS)[-KEEP:], ip(i)

    rc, again, raw = run_module(MODULE, args)
    assert rc == 0, raw[-3000:]
    assert again["changed"] is False and again["moved"] == 0 and again["matched"] == 0
    assert REDIS_PASSWORD not in raw


def test_app_not_persisting_trims_nothing_and_says_why(sessions_redis, redis_options, mongo_options, archive_db):
    seed_app(sessions_redis, 5, TURNS)
    before = snapshot(sessions_redis)
    args = args_for(redis_options, mongo_options)
    rc, result, raw = run_module(MODULE, args)  # the published app: its collection is empty
    assert rc == 0, raw[-3000:]
    assert result["app_not_persisting"] is True and result["changed"] is False and result["moved"] == 0
    assert result["sessions_not_persisted"] == 5 and result["missing"] > 0 and result["inserted"] == 0
    assert any("THE APP IS NOT PERSISTING" in warning for warning in result["warnings"])
    assert "NOT PERSISTING" in raw
    after = snapshot(sessions_redis)
    after.pop(b"bruno:ops:session_archive:state")  # the archive's bookkeeping (see its state_key option)
    assert after == before and archive_db.conversations.count_documents({}) == 0

    # The next run does not read them again (not used since the run that read them ended): they age, and the
    # idle cleanup decides. Without waiting: the reads 100 s ago, the end of that run 10 s ago.
    age(sessions_redis, 100)
    state = json.loads(sessions_redis.get("bruno:ops:session_archive:state"))
    seconds, _micros = sessions_redis.time()
    state["started_ms"] = (seconds - 10) * 1000
    sessions_redis.set("bruno:ops:session_archive:state", json.dumps(state))
    rc, result, raw = run_module(MODULE, args)
    assert rc == 0, raw[-3000:]
    assert result["unchanged"] == 5 and result["missing"] == 0

    # The collection got the first 3 turns of session 0 (a backfill): a run without the state reads them all.
    archive_db.conversations.insert_many(app_documents(1, 3))
    rc, result, raw = run_module(MODULE, dict(args, state_key=""))
    assert rc == 0, raw[-3000:]
    assert result["moved"] == 3 and result["app_not_persisting"] is True
    assert archive_db.conversations.count_documents({}) == 3
    assert [sessions_redis.llen(session_key(i)) for i in range(5)] == [TURNS - 3] + [TURNS] * 4


class Appender(threading.Thread):
    """The agent under load: appends turns (RPUSH then EXPIRE) to random sessions until stopped."""

    def __init__(self, client, sessions, start, limit=3000):
        super().__init__(daemon=True)
        self.client, self.sessions, self.limit = client, sessions, limit
        self.next = dict.fromkeys(range(sessions), start)
        self.appended = {}
        self.stop = threading.Event()

    def run(self):
        rng = random.Random(7)  # noqa: S311 - test data, not secrets
        for _count in range(self.limit):
            if self.stop.is_set():
                return
            i = rng.randrange(self.sessions)
            raw = turn(self.next[i], "appended during the run", i=i)
            self.client.rpush(session_key(i), raw)
            self.client.expire(session_key(i), 3600)
            self.appended.setdefault(i, []).append(identity(json.loads(raw)))
            self.next[i] += 1
            self.stop.wait(0.005)


def test_copy_check_apply_rerun_with_concurrent_appends(sessions_redis, redis_options, mongo_options, archive_db):
    seed_app(sessions_redis, SESSIONS, TURNS)
    sessions_redis.hset(PREFIX + "198.51.100.7", "k", "v")
    before = snapshot(sessions_redis)
    args = args_for(redis_options, mongo_options, archive_mode="copy")

    rc, checked, raw = run_module(MODULE, dict(args, check_mode_reads="contents"), check=True)
    assert rc == 0, raw[-3000:]
    assert checked["changed"] is True and checked["inserted"] == checked["moved"] == SESSIONS * (TURNS - KEEP)
    assert checked["skipped"] == 1 and checked["skipped_types"] == {"hash": 1}
    assert snapshot(sessions_redis) == before
    assert archive_db.conversations.count_documents({}) == 0

    rc, applied, raw = run_module(MODULE, args)
    assert rc == 0, raw[-3000:]
    assert figures(applied) == figures(checked)
    doc = archive_db.conversations.find_one({"ip": ip(3), "message": "question 0"})
    assert set(doc) == {"_id", "ip", "timestamp", "message", "response", "context", "created_at"}
    assert doc["timestamp"] == json.loads(turn(0, i=3))["timestamp"] and "seq" not in doc
    assert exactly_once(sessions_redis, archive_db, "conversations", SESSIONS, TURNS) == []

    # More turns arrive; a run with an appender working all through it loses and duplicates nothing.
    seed_app(sessions_redis, SESSIONS, 12, start=TURNS)
    appender = Appender(sessions_redis, SESSIONS, TURNS + 12)
    appender.start()
    try:
        rc, during, raw = run_module(MODULE, dict(args, ops_per_second=20, batch_size=5))
    finally:
        appender.stop.set()
        appender.join(timeout=30)
    assert rc == 0, raw[-3000:]
    assert during["moved"] >= SESSIONS * 12 and during["conflicts"] == 0
    assert sum(len(turns) for turns in appender.appended.values()) > 0
    extra = {i: expected_turns(i, TURNS + 12)[TURNS:] + appender.appended.get(i, []) for i in range(SESSIONS)}
    assert exactly_once(sessions_redis, archive_db, "conversations", SESSIONS, TURNS, extra=extra) == []

    # The turns appended during the run pushed some sessions over again; a full read (no state: on Redis 7.0 a
    # session appended after the run read it waits for its next use otherwise) moves them.
    run_module(MODULE, dict(args, state_key=""))
    rc, again, raw = run_module(MODULE, dict(args, state_key=""))
    assert rc == 0, raw[-3000:]
    assert again["changed"] is False and again["moved"] == 0 and again["inserted"] == 0
    assert all(sessions_redis.llen(session_key(i)) == KEEP for i in range(SESSIONS))


def test_malformed_turns_are_skipped_counted_and_named(sessions_redis, redis_options, mongo_options, archive_db):
    seed_app(sessions_redis, 4, 15)
    bad = {
        0: turn(100, "hi \ud83d", i=0),  # a lone surrogate: the agent accepts and stores it
        1: turn(100, i=1, context={"n": 2 ** 70}),
        2: turn(100, i=2, context={"a\u0000b": 1}),
    }
    for i, raw in bad.items():
        sessions_redis.lpush(session_key(i), raw)  # at the head: the oldest turn
    rc, result, raw_out = run_module(MODULE, args_for(redis_options, mongo_options, archive_mode="copy"))
    assert rc == 0, raw_out[-3000:]
    assert result["malformed"] == 3
    reasons = sorted(entry["reason"] for entry in result["malformed_turns"])
    assert any("lone surrogate" in r for r in reasons) and any("64 bits" in r for r in reasons)
    assert any("NUL" in r for r in reasons)
    assert all(entry["index"] == 0 and entry["key"].endswith(".x") for entry in result["malformed_turns"])
    assert "connection options" not in raw_out
    # The malformed sessions are left whole; the good one is archived.
    assert [sessions_redis.llen(session_key(i)) for i in range(4)] == [16, 16, 16, KEEP]
    assert result["moved"] == result["inserted"] == 15 - KEEP


def test_hash_sessions_cannot_be_archived(redis_options, mongo_options):
    rc, result, raw = run_module(MODULE, args_for(redis_options, mongo_options, session_shape="hash"))
    assert rc != 0 and result["error"]["kind"] == "invalid_input"
    assert "session_shape 'hash' cannot be archived" in result["msg"]


def test_seq_shape_keeps_the_former_archive(sessions_redis, redis_options, mongo_options, archive_db):
    sessions_redis.rpush(PREFIX + "conv-1", *[json.dumps({"seq": n, "role": "user", "content": "m%d" % n,
                                                          "ts": 1.0 * n}) for n in range(1, 16)])
    rc, result, raw = run_module(MODULE, args_for(redis_options, mongo_options, session_shape="seq",
                                                  archive_mode="copy"))
    assert rc == 0, raw[-3000:]
    assert result["unit"] == "messages" and result["moved"] == result["inserted"] == 5
    assert archive_db.conversations.find_one({"_id": "conv-1:1"})["content"] == "m1"


def test_background_helper_finishes(sessions_redis, redis_options, mongo_options, archive_db):
    """The helper the fault tests use returns the module's result."""
    seed_app(sessions_redis, 1, 12)
    run = Background(MODULE, args_for(redis_options, mongo_options, archive_mode="copy"))
    result = run.wait()
    assert result["moved"] == 2, run.output()[-2000:]

"""bruno.ops.session_archive against real Redis and FerretDB: check -> apply (diff) -> rerun unchanged, with a
writer appending during the run, and the reruns after an interrupted run."""

import json
import random
import threading

from sessionlab import (
    PREFIX,
    REDIS_PASSWORD,
    Background,
    exactly_once,
    load_conversations,
    message,
    run_module,
    run_with_diff,
    snapshot,
)

MODULE = "bruno.ops.session_archive"
SESSIONS, MESSAGES, KEEP = 60, 45, 10


def args_for(redis_options, mongo_options, **extra):
    base = {"redis": redis_options, "mongodb": mongo_options, "keep_messages": KEEP, "chunk_size": 16,
            "sample_size": 3}
    base.update(extra)
    return base


class Appender(threading.Thread):
    """Appends messages with the next seq to random sessions, as the agent does (RPUSH + EXPIRE), until stopped
    or until it has appended `limit` messages."""

    def __init__(self, client, sessions, start_seq, limit=20000):
        super().__init__(daemon=True)
        self.client, self.sessions, self.limit = client, sessions, limit
        self.next_seq = {"conv-%04d" % i: start_seq for i in range(sessions)}
        self.appended = {}
        self.stop = threading.Event()

    def run(self):
        rng = random.Random(7)  # noqa: S311 - test data, not secrets
        for _count in range(self.limit):
            if self.stop.is_set():
                return
            sid = "conv-%04d" % rng.randrange(self.sessions)
            seq = self.next_seq[sid]
            self.client.rpush(PREFIX + sid, message(seq, "appended during the run"))
            self.client.expire(PREFIX + sid, 3600)
            self.appended.setdefault(sid, set()).add(seq)
            self.next_seq[sid] = seq + 1
            self.stop.wait(0.002)


def test_check_apply_rerun_with_concurrent_appends(sessions_redis, redis_options, mongo_options, archive_db):
    load_conversations(sessions_redis, SESSIONS, MESSAGES)
    sessions_redis.hset(PREFIX + "a-hash", "k", "v")
    before = snapshot(sessions_redis)
    args = args_for(redis_options, mongo_options)

    rc, checked, raw = run_module(MODULE, args, check=True)
    assert rc == 0, raw[-3000:]
    assert checked["changed"] is True
    assert checked["matched"] == SESSIONS
    assert checked["moved"] == checked["archived"] == SESSIONS * (MESSAGES - KEEP)
    assert checked["skipped"] == 1 and checked["skipped_types"] == {"hash": 1}
    assert snapshot(sessions_redis) == before
    assert archive_db.conversations.count_documents({}) == 0

    appender = Appender(sessions_redis, SESSIONS, MESSAGES + 1)
    appender.start()
    try:
        applied, raw = run_with_diff(MODULE, dict(args, ops_per_second=20, batch_size=5))
    finally:
        appender.stop.set()
        appender.join(timeout=30)
    assert applied.get("failed") is not True, raw[-3000:]
    assert applied["changed"] is True
    assert applied["moved"] == applied["archived"] == applied["inserted"] > 0
    assert applied["conflicts"] == 0 and applied["collisions"] == 0
    assert applied["diff"]["before"]["sessions_over_limit"] == SESSIONS
    change = applied["change"]
    assert change["action"] == "session_archive" and change["changed"] is True
    assert change["before"]["sessions_over_limit"] == SESSIONS and "session_keys" not in change["before"]
    assert "mongodb %s.conversations" % mongo_options["database"] in change["undo"]
    assert sum(len(seqs) for seqs in appender.appended.values()) > 0
    assert exactly_once(sessions_redis, archive_db, "conversations", SESSIONS, MESSAGES, extra=appender.appended) == []
    doc = archive_db.conversations.find_one({"_id": "conv-0003:1"})
    assert doc == {"_id": "conv-0003:1", "session_id": "conv-0003", "seq": 1, "role": "user",
                   "content": "message 1", "ts": 1700000001.0}

    # The messages appended during the run pushed some sessions over the limit again: one more run moves
    # them, and the one after that has nothing left to do.
    rc, overflow, raw = run_module(MODULE, args)
    assert rc == 0, raw[-3000:]
    assert overflow["moved"] == overflow["archived"]
    assert exactly_once(sessions_redis, archive_db, "conversations", SESSIONS, MESSAGES, extra=appender.appended) == []
    rc, again, raw = run_module(MODULE, args)
    assert rc == 0, raw[-3000:]
    assert again["changed"] is False and again["moved"] == 0 and again["inserted"] == 0
    assert again["change"]["changed"] is False
    for i in range(SESSIONS):
        assert sessions_redis.llen("%sconv-%04d" % (PREFIX, i)) == KEEP
    assert REDIS_PASSWORD not in raw


def test_messages_already_archived_are_trimmed_without_duplicates(sessions_redis, redis_options, mongo_options,
                                                                  archive_db):
    """What an interrupted run leaves (archived, not trimmed) is finished by the next run."""
    load_conversations(sessions_redis, 4, 30)
    archive_db.conversations.insert_many([
        {"_id": "conv-0001:%d" % seq, **json.loads(message(seq)), "session_id": "conv-0001"} for seq in range(1, 21)
    ])
    rc, result, raw = run_module(MODULE, args_for(redis_options, mongo_options))
    assert rc == 0, raw[-3000:]
    assert result["already_archived"] == 20
    assert result["inserted"] == 4 * 20 - 20
    assert result["moved"] == result["archived"] == 80
    assert exactly_once(sessions_redis, archive_db, "conversations", 4, 30) == []


def test_a_different_message_under_the_same_id_is_never_overwritten(sessions_redis, redis_options,
                                                                    mongo_options, archive_db):
    load_conversations(sessions_redis, 2, 15)
    archive_db.conversations.insert_one({"_id": "conv-0000:3", "session_id": "conv-0000", "seq": 3,
                                         "content": "an older conversation with the same id"})
    rc, result, raw = run_module(MODULE, args_for(redis_options, mongo_options))
    assert rc == 0, raw[-3000:]
    assert result["collisions"] == 1
    assert sessions_redis.llen(PREFIX + "conv-0000") == 15  # left alone, nothing lost
    assert sessions_redis.llen(PREFIX + "conv-0001") == KEEP
    assert archive_db.conversations.find_one({"_id": "conv-0000:3"})["content"].startswith("an older")
    assert "same session and seq" in raw


def test_invalid_messages_leave_the_session_alone(sessions_redis, redis_options, mongo_options, archive_db):
    sessions_redis.rpush(PREFIX + "broken", *[b"not json"] * 20)
    sessions_redis.rpush(PREFIX + "no-seq", *[json.dumps({"role": "user"})] * 20)
    rc, result, raw = run_module(MODULE, args_for(redis_options, mongo_options))
    assert rc == 0, raw[-3000:]
    assert result["invalid"] == 2 and result["moved"] == 0 and result["changed"] is False
    assert sessions_redis.llen(PREFIX + "broken") == 20
    assert archive_db.conversations.count_documents({}) == 0


def test_background_helper_finishes(sessions_redis, redis_options, mongo_options, archive_db):
    """The helper the fault tests use returns the module's result."""
    load_conversations(sessions_redis, 1, 12)
    run = Background(MODULE, args_for(redis_options, mongo_options))
    result = run.wait()
    assert result["moved"] == 2, run.output()[-2000:]


def test_next_run_reads_only_sessions_used_since_the_last_complete_run(sessions_redis, redis_options,
                                                                       mongo_options, archive_db):
    load_conversations(sessions_redis, 20, 15)
    args = args_for(redis_options, mongo_options)
    rc, first, raw = run_module(MODULE, args)
    assert rc == 0, raw[-3000:]
    assert first["incremental"] is False and first["moved"] == 20 * 5
    state = json.loads(sessions_redis.get("bruno:ops:session_archive:state"))
    assert state["keep_messages"] == KEEP and state["pattern"] == PREFIX + "*"
    # Without waiting: make every session look unused for 100 s, and the last complete run 10 s old.
    for i in range(20):
        key = "%sconv-%04d" % (PREFIX, i)
        sessions_redis.restore(key, 0, sessions_redis.dump(key), replace=True, idletime=100)
    seconds, _micros = sessions_redis.time()
    state["started_ms"] = (seconds - 10) * 1000
    sessions_redis.set("bruno:ops:session_archive:state", json.dumps(state))
    rc, second, raw = run_module(MODULE, args)
    assert rc == 0, raw[-3000:]
    assert second["incremental"] is True and second["unchanged"] == 20 and second["changed"] is False
    sessions_redis.rpush(PREFIX + "conv-0007", *[message(seq) for seq in range(16, 26)])
    rc, third, raw = run_module(MODULE, args)
    assert rc == 0, raw[-3000:]
    assert third["unchanged"] == 19 and third["matched"] == 1 and third["moved"] == 10
    assert exactly_once(sessions_redis, archive_db, "conversations", 20, 15,
                        extra={"conv-0007": set(range(16, 26))}) == []

"""The four fault tests of the session modules, against real servers.

1. a writer creates and touches sessions while a cleanup of 100k sessions runs: no session active during the
   run is deleted;
2. Redis is killed (SIGKILL) and restarted mid-run: the module fails clearly with the resume cursor, a rerun
   completes, nothing outside the policy is deleted;
3. the archive (copy mode, on sessions in the agent's format: lists of JSON turns without a sequence field) is
   killed (SIGKILL) mid-batch, and between the MongoDB write and the Redis trim: after a rerun every turn exists
   exactly once across Redis and MongoDB (the concurrent-append guarantee is in test_archive_module.py);
4. bad inputs: one clear error each (or a counted per-key skip), and nothing changed.
"""

import random
import threading

import pytest
from sessionlab import (
    PREFIX,
    REDIS_PASSWORD,
    Background,
    exactly_once,
    load_idle_and_recent,
    message,
    run_module,
    seed_app,
    session_key,
    snapshot,
    wait_for,
)

from labctl import procs

CLEANUP = "bruno.ops.redis_session_cleanup"
ARCHIVE = "bruno.ops.session_archive"
POLICIES = {"missing_ttl": 600, "max_ttl": 600, "max_idle": 3600}


class Writer(threading.Thread):
    """The agent under load: touches existing sessions (RPUSHX + EXPIRE, so a deleted session is seen as
    deleted instead of being recreated) and creates new ones, until stopped. Bounded by `limit` operations."""

    def __init__(self, client, idle, recent, limit=200000):
        super().__init__(daemon=True)
        self.client, self.limit = client, limit
        self.keys = (["%sidle-%06d" % (PREFIX, i) for i in range(idle)]
                     + ["%srecent-%06d" % (PREFIX, i) for i in range(recent)])
        self.touched = set()  # sessions that existed when the writer touched them
        self.found_deleted = set()  # sessions the cleanup had already deleted when the writer came
        self.created = set()
        self.stop = threading.Event()

    def run(self):
        rng = random.Random(5)  # noqa: S311 - test data, not secrets
        for count in range(self.limit):
            if self.stop.is_set():
                return
            if count % 10 == 0:
                key = "%snew-%06d" % (PREFIX, count)
                self.client.rpush(key, message(1))
                self.client.expire(key, 600)
                self.created.add(key)
                continue
            key = self.keys[rng.randrange(len(self.keys))]
            if self.client.rpushx(key, message(2, "touched during the run")):
                self.client.expire(key, 600)
                self.touched.add(key)
            else:
                self.found_deleted.add(key)


def test_1_writer_during_cleanup_of_100k_sessions_loses_no_active_session(sessions_redis, redis_options):
    idle, recent = 50000, 50000
    load_idle_and_recent(sessions_redis, idle=idle, recent=recent, with_ttl_every=2)
    writer = Writer(sessions_redis.__class__(connection_pool=sessions_redis.connection_pool), idle, recent)
    writer.start()
    try:
        # A rate limit stretches the run over a few seconds, so the writer works all through it.
        rc, result, raw = run_module(CLEANUP, {"redis": redis_options, "policies": POLICIES,
                                               "ops_per_second": 25000}, timeout=600)
    finally:
        writer.stop.set()
        writer.join(timeout=60)
    assert rc == 0, raw[-3000:]
    assert result["complete"] is True and result["scanned"] >= idle + recent
    # The run overlapped the writer: some idle sessions were touched before the cleanup reached them, and
    # some were already gone when the writer came.
    touched_idle = {key for key in writer.touched if "idle-" in key}
    assert touched_idle and writer.found_deleted
    pipe = sessions_redis.pipeline(transaction=False)
    survivors = sorted(writer.touched | writer.created)
    for key in survivors:
        pipe.exists(key)
    lost = [key for key, alive in zip(survivors, pipe.execute(), strict=True) if not alive]
    assert lost == [], "%d sessions touched or created during the run were deleted" % len(lost)
    # Everything the policy deleted was idle and untouched; every recent session is still there.
    assert result["deleted"] == idle - len(touched_idle)
    remaining_idle = sum(1 for _k in sessions_redis.scan_iter(match=PREFIX + "idle-*", count=5000))
    assert remaining_idle == len(touched_idle)
    remaining_recent = sum(1 for _k in sessions_redis.scan_iter(match=PREFIX + "recent-*", count=5000))
    assert remaining_recent == recent


def test_2_redis_killed_mid_run_fails_with_cursor_and_rerun_completes(own_redis):
    client = own_redis.client()
    idle, recent, other = 10000, 10000, 1000
    load_idle_and_recent(client, idle=idle, recent=recent, with_ttl_every=2, other=other)
    total = client.dbsize()
    args = {"redis": own_redis.options(retries=1, connect_timeout=2.0), "policies": POLICIES,
            "ops_per_second": 4000, "batch_size": 500}
    run = Background(CLEANUP, args)
    try:
        wait_for(lambda: client.dbsize() < total - 1000, "the cleanup to delete its first sessions", timeout=120)
        own_redis.kill()
        failed = run.wait(timeout=180)
    finally:
        if run.popen.poll() is None:
            run.kill("AnsiballZ_redis_session_cleanup")
    assert failed is not None and failed.get("failed") is True, run.output()[-3000:]
    assert failed["error"]["kind"] == "unreachable"
    assert "unreachable" in failed["msg"] and "rerun with cursor=" in failed["msg"]
    assert failed["cursor"] != "0" and failed["cursor"] in failed["msg"]
    assert 0 < failed["deleted"] < idle
    assert "Traceback" not in failed["msg"]

    own_redis.start()  # same port, same append-only file: every acknowledged write is back
    client = own_redis.client()
    assert client.dbsize() < total
    rc, resumed, raw = run_module(CLEANUP, dict(args, cursor=failed["cursor"], ops_per_second=None))
    assert rc == 0, raw[-3000:]
    assert resumed["complete"] is True and resumed["restarted_scan"] is True
    assert "started over" in raw
    assert failed["deleted"] + resumed["deleted"] == idle
    # Nothing outside the policy: every recent session is there with a TTL no longer than max_ttl, and the
    # keys outside the prefix are untouched (idle as they are).
    assert sum(1 for _k in client.scan_iter(match=PREFIX + "idle-*", count=5000)) == 0
    recent_keys = list(client.scan_iter(match=PREFIX + "recent-*", count=5000))
    assert len(recent_keys) == recent
    pipe = client.pipeline(transaction=False)
    for key in recent_keys:
        pipe.ttl(key)
    assert all(0 < ttl <= 600 for ttl in pipe.execute())
    assert sum(1 for _k in client.scan_iter(match="other:*", count=5000)) == other
    assert REDIS_PASSWORD not in run.output() + raw


SESSIONS, MESSAGES, KEEP = 120, 40, 10


def archive_args(redis_options, mongo_options, **extra):
    base = {"redis": redis_options, "mongodb": mongo_options, "keep_messages": KEEP, "chunk_size": 10,
            "batch_size": 10, "archive_mode": "copy"}
    base.update(extra)
    return base


def test_3a_archive_killed_mid_batch(sessions_redis, redis_options, mongo_options, archive_db):
    seed_app(sessions_redis, SESSIONS, MESSAGES)
    run = Background(ARCHIVE, archive_args(redis_options, mongo_options, ops_per_second=40))
    try:
        wait_for(lambda: archive_db.conversations.estimated_document_count() > 300, "the first archived messages",
                 timeout=120)
    finally:
        killed = run.kill("AnsiballZ_session_archive")
    assert killed, "the module process was not found (it finished too early?)"
    archived = archive_db.conversations.count_documents({})
    assert 0 < archived < SESSIONS * (MESSAGES - KEEP), "the kill did not land mid-run"
    # Nothing lost at the moment of the kill (some messages may be in both places until the rerun).
    for session, _both, missing in exactly_once(sessions_redis, archive_db, "conversations", SESSIONS, MESSAGES):
        assert missing == [], session

    rc, rerun, raw = run_module(ARCHIVE, archive_args(redis_options, mongo_options))
    assert rc == 0, raw[-3000:]
    assert rerun["conflicts"] == 0 and rerun["collisions"] == 0
    assert exactly_once(sessions_redis, archive_db, "conversations", SESSIONS, MESSAGES) == []
    assert archive_db.conversations.count_documents({}) == SESSIONS * (MESSAGES - KEEP)


def test_3b_archive_killed_between_mongodb_write_and_redis_trim(
        sessions_redis, redis_options, mongo_options, archive_db):
    seed_app(sessions_redis, SESSIONS, MESSAGES)
    # Writes are paused in Redis: the module reads and archives, then blocks on its first trim. Then we kill it.
    sessions_redis.execute_command("CLIENT", "PAUSE", 120000, "WRITE")
    # Redis writes are paused: on Redis 7.0 the archive's idle-time-preserving reads are writes (RESTORE)
    run = Background(ARCHIVE, archive_args(redis_options | {"socket_timeout": 120.0}, mongo_options,
                                           preserve_idle_times=False))
    try:
        wait_for(lambda: archive_db.conversations.estimated_document_count() > 0, "the first archive write",
                 timeout=120)
        killed = run.kill("AnsiballZ_session_archive")
        # The trim the module sent before it died waits in Redis; a crash can lose it, so drop it: close the
        # module's connections (named bruno.ops) before writes resume.
        for entry in sessions_redis.client_list():
            if entry.get("name") == "bruno.ops":
                sessions_redis.client_kill_filter(_id=entry["id"])
    finally:
        if run.popen.poll() is None:
            run.kill("AnsiballZ_session_archive")
        sessions_redis.execute_command("CLIENT", "UNPAUSE")
    assert killed, "the module process was not found"
    pipe = sessions_redis.pipeline(transaction=False)
    for i in range(SESSIONS):
        pipe.llen(session_key(i))
    assert set(pipe.execute()) == {MESSAGES}, "a trim happened: the kill was not between write and trim"
    in_both = archive_db.conversations.count_documents({})
    assert in_both > 0  # archived and still in Redis: the state a crash leaves

    rc, rerun, raw = run_module(ARCHIVE, archive_args(redis_options, mongo_options))
    assert rc == 0, raw[-3000:]
    assert rerun["already_archived"] == in_both and rerun["inserted"] == SESSIONS * (MESSAGES - KEEP) - in_both
    assert rerun["moved"] == rerun["archived"] == SESSIONS * (MESSAGES - KEEP)
    assert exactly_once(sessions_redis, archive_db, "conversations", SESSIONS, MESSAGES) == []


@pytest.mark.parametrize(("extra", "message_part"), [
    ({"policies": {"missing_ttl": -1}}, "policies.missing_ttl must be a positive number"),
    ({"policies": {"max_ttl": 0}}, "policies.max_ttl must be a positive number"),
    ({"policies": {"max_idle": 60}, "pattern": "*"}, "refusing pattern '*'"),
    ({"policies": {"max_idle": 60, "shred": True}}, "policies.shred"),
])
def test_4_bad_inputs_change_nothing(sessions_redis, redis_options, extra, message_part):
    load_idle_and_recent(sessions_redis, idle=20, recent=20, with_ttl_every=2)
    before = snapshot(sessions_redis)
    rc, result, raw = run_module(CLEANUP, dict({"redis": redis_options}, **extra))
    assert rc != 0 and result["failed"] is True
    assert message_part in result["msg"]
    assert "Traceback" not in raw
    assert snapshot(sessions_redis) == before


def test_4_wrong_password_and_unreachable_host(sessions_redis, redis_options):
    load_idle_and_recent(sessions_redis, idle=5, recent=5)
    before = snapshot(sessions_redis)
    wrong = dict(redis_options, password="Wr0ng-pw-3391")
    rc, result, raw = run_module(CLEANUP, {"redis": wrong, "policies": POLICIES})
    assert rc != 0 and result["error"]["kind"] == "authentication"
    assert "authentication failed" in result["msg"] and "redis.password" in result["msg"]
    assert "Wr0ng-pw-3391" not in raw and REDIS_PASSWORD not in raw

    closed = {"host": "127.0.0.1", "port": procs.free_port(), "password": REDIS_PASSWORD, "connect_timeout": 1.0}
    rc, result, raw = run_module(CLEANUP, {"redis": closed, "policies": POLICIES})
    assert rc != 0 and result["error"]["kind"] == "unreachable"
    assert "redis://127.0.0.1:%d/0" % closed["port"] in result["msg"]
    assert REDIS_PASSWORD not in raw
    assert snapshot(sessions_redis) == before


def test_4_keys_of_an_unexpected_type_are_skipped_and_counted(sessions_redis, redis_options, mongo_options,
                                                              archive_db):
    sessions_redis.set(PREFIX + "a-string", "x")
    sessions_redis.hset(PREFIX + "a-hash", "k", "v")
    sessions_redis.zadd(PREFIX + "a-zset", {"m": 1})
    before = snapshot(sessions_redis)
    rc, result, raw = run_module(CLEANUP, {"redis": redis_options, "policies": POLICIES})
    assert rc == 0, raw[-3000:]
    assert result["skipped"] == 3 and result["skipped_types"] == {"string": 1, "hash": 1, "zset": 1}
    assert result["changed"] is False
    rc, archived, raw = run_module(ARCHIVE, {"redis": redis_options, "mongodb": mongo_options})
    assert rc == 0, raw[-3000:]
    assert archived["skipped"] == 3 and archived["changed"] is False
    after = snapshot(sessions_redis)
    after.pop(b"bruno:ops:session_archive:state")  # the archive's bookkeeping (see its state_key option)
    assert after == before

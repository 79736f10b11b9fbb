"""Issue 18, items 2, 4 and 9, against real Redis 7.0 and FerretDB, on sessions in agent-bruno's format (lists of
json.dumps turns under bruno:session:<ip>, documents {ip, timestamp, message, response, context} in
conversations).

- Redis 7.0 has no CLIENT NO-TOUCH: neither check mode nor a real run may restart a session's idle time (the
  idle cleanup decides on OBJECT IDLETIME), whether the session is trimmed, read and left, or only measured.
- A turn MongoDB (here FerretDB) cannot store (a '.' in a field name, NaN, Infinity) is skipped, counted and
  named, and the run goes on; no chat content in the output.
- batch_bytes bounds what one round trip reads, however large the turns."""

import json
import math

from sessionlab import (
    PREFIX,
    app_documents,
    ip,
    run_module,
    seed_app,
    session_key,
    turn,
)

MODULE = "bruno.ops.session_archive"
KEEP = 10


def args_for(redis_options, mongo_options, **extra):
    return dict({"redis": redis_options, "mongodb": mongo_options, "keep_messages": KEEP, "chunk_size": 8,
                 "sample_size": 3}, **extra)


def idle_and_ttl(client):
    """OBJECT IDLETIME and PTTL of every session (neither is an access)."""
    keys = sorted(client.scan_iter(match=PREFIX + "*", count=1000))
    pipe = client.pipeline(transaction=False)
    for name in keys:
        pipe.object("idletime", name)
        pipe.pttl(name)
    replies = pipe.execute()
    return {name: (replies[2 * i], replies[2 * i + 1]) for i, name in enumerate(keys)}


def age(client, seconds):
    for name in client.scan_iter(match=PREFIX + "*", count=1000):
        ttl = client.pttl(name)
        client.restore(name, ttl if ttl > 0 else 0, client.dump(name), replace=True, idletime=seconds)


def assert_idle_kept(before, after):
    assert sorted(after) == sorted(before)
    restarted = [name for name in before if after[name][0] < before[name][0]]
    assert restarted == [], "idle times restarted by the archive: %s" % restarted[:5]
    lost_ttl = [name for name in before if not (0 < after[name][1] <= before[name][1] if before[name][1] > 0
                                                else after[name][1] == before[name][1])]
    assert lost_ttl == [], lost_ttl[:5]


def test_archive_leaves_idle_times_alone_on_redis_7_0(sessions_redis, redis_options, mongo_options, archive_db):
    # 0-5: over the limit, persisted by the app (trimmed); 6-8: over the limit, not persisted (read, left);
    # 9-11: below the limit (measured only). An extra session without a TTL.
    seed_app(sessions_redis, 12, 25)
    for i in range(9, 12):
        sessions_redis.ltrim(session_key(i), 0, KEEP - 2)
    sessions_redis.persist(session_key(11))
    archive_db.conversations.insert_many(app_documents(6, 25))
    assert sessions_redis.info("server")["redis_version"].startswith("7.0.")
    age(sessions_redis, 400)
    args = args_for(redis_options, mongo_options, state_key="")

    before = idle_and_ttl(sessions_redis)
    rc, checked, raw = run_module(MODULE, args, check=True)
    assert rc == 0, raw[-3000:]
    assert checked["no_touch"] is False and checked["changed"] is True
    assert_idle_kept(before, idle_and_ttl(sessions_redis))

    rc, applied, raw = run_module(MODULE, args)
    assert rc == 0, raw[-3000:]
    assert applied["moved"] == 6 * (25 - KEEP) and applied["sessions_not_persisted"] == 3
    assert_idle_kept(before, idle_and_ttl(sessions_redis))
    assert applied["idle_times_kept"] is True and applied["idle_not_kept"] == 0

    # (LLEN is an access on 7.0: only once the idle times are checked.)
    assert [sessions_redis.llen(session_key(i)) for i in range(12)] == [KEEP] * 6 + [25] * 3 + [KEEP - 1] * 3


def test_turns_the_server_refuses_are_skipped_and_the_run_goes_on(sessions_redis, redis_options, mongo_options,
                                                                  archive_db):
    seed_app(sessions_redis, 6, 15)
    bad = {
        0: turn(100, "zq-dotted", i=0, context={"zq-user.name": "zq-secret"}),  # FerretDB: no '.' in names
        1: turn(100, "zq-nan", i=1, context={"score": math.nan}),  # FerretDB drops the connection on NaN
        2: turn(100, "zq-inf", i=2, context={"score": math.inf}),
        3: turn(100, "zq-dollar", i=3, context={"list": [{"$where": 1}]}),
    }
    for i, raw in bad.items():
        # The third oldest turn: the two before it are archived and trimmed, the session stops there.
        head = sessions_redis.lrange(session_key(i), 0, 1)
        sessions_redis.ltrim(session_key(i), 2, -1)
        sessions_redis.lpush(session_key(i), raw)
        sessions_redis.lpush(session_key(i), *reversed(head))
    rc, result, out = run_module(MODULE, args_for(redis_options, mongo_options, archive_mode="copy"))
    assert rc == 0, out[-3000:]
    assert result["malformed"] == 4
    named = sorted((entry["key"], entry["index"]) for entry in result["malformed_turns"])
    assert named == sorted((PREFIX + ip(i)[:-1] + "x", 2) for i in range(4))
    assert "zq-" not in out and "connection options" not in out
    assert [sessions_redis.llen(session_key(i)) for i in range(6)] == [14] * 4 + [KEEP] * 2
    # Nothing of a refused turn in MongoDB; the turns before it and the good sessions are there.
    assert archive_db.conversations.count_documents({"message": {"$regex": "^zq-"}}) == 0
    assert archive_db.conversations.count_documents({}) == 4 * 2 + 2 * (15 - KEEP)

    # The next run skips them again and still does the rest.
    seed_app(sessions_redis, 6, 5, start=15)
    rc, again, out = run_module(MODULE, args_for(redis_options, mongo_options, archive_mode="copy", state_key=""))
    assert rc == 0, out[-3000:]
    assert again["malformed"] == 4 and again["moved"] == 2 * 5
    assert "zq-" not in out


def test_batch_bytes_bounds_each_round_trip(sessions_redis, redis_options, mongo_options, archive_db):
    big = "b" * (48 * 1024)
    pipe = sessions_redis.pipeline(transaction=False)
    for i in range(6):
        for n in range(40):
            pipe.rpush(session_key(i), turn(n, big + str(n), i=i))
        pipe.expire(session_key(i), 3600)
    pipe.execute()
    budget = 512 * 1024
    args = args_for(redis_options, mongo_options, archive_mode="copy", chunk_size=500, batch_bytes=budget)
    rc, result, out = run_module(MODULE, args)
    assert rc == 0, out[-3000:]
    assert result["moved"] == result["inserted"] == 6 * (40 - KEEP)
    assert all(sessions_redis.llen(session_key(i)) == KEEP for i in range(6))
    # One round trip reads at most the budget, plus one turn (a session always gets at least one).
    assert 0 < result["largest_read_bytes"] <= budget + len(turn(0, big + "99"))
    stored = {(doc["ip"], doc["message"]) for doc in archive_db.conversations.find({}, {"ip": 1, "message": 1})}
    assert stored == {(ip(i), big + str(n)) for i in range(6) for n in range(40 - KEEP)}
    assert json.dumps(result).count("b" * 100) == 0

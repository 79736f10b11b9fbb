"""Session archive on real-shaped data: bruno.ops.session_archive (verify and copy, through ansible-playbook)
against a hand-written redis-py + pymongo script doing the same work, on the same servers, in the same run.

    .venv/bin/python bench/sessions/bench_archive.py --sessions 2000 --turns 40 --keep 20 --repeat 1

Data: N sessions in agent-bruno's format (bruno:session:<ip>, T JSON turns each, RPUSH then EXPIRE), and for
verify the app's own documents {ip, timestamp, message, response, context, created_at} in
agent_bruno.conversations (a FerretDB of its own, indexed on ip as the app indexes it).
  verify  baseline: SCAN, LLEN, LRANGE of the oldest T-keep, one find per batch, LTRIM. module: archive_mode verify
  copy    baseline: SCAN, LLEN, LRANGE, insert_many, LTRIM.                            module: archive_mode copy
The baseline has none of the module's guarantees (no head check, no idempotent ids); it is the floor.
Both trim the same number of turns (checked). No assertion: the figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pymongo
import redis

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "lab"))
from labctl import procs, services  # noqa: E402

PREFIX = "bruno:session:"
BASE = datetime.datetime(2026, 12, 2, 18, 0, 0)


def session_ip(i):
    return "10.%d.%d.%d" % (i >> 16 & 255, i >> 8 & 255, i & 255)


def turn(i, n):
    return {"timestamp": (BASE + datetime.timedelta(seconds=n, microseconds=i + 1)).isoformat(),
            "message": "question %d of %s about the rollout" % (n, session_ip(i)),
            "response": "answer %d: check the deployment's events first" % n, "context": {}}


def load(client, db, sessions, turns, with_docs):
    client.flushall()
    db.drop_collection("conversations")
    pipe = client.pipeline(transaction=False)
    docs = []
    for i in range(sessions):
        key = PREFIX + session_ip(i)
        for n in range(turns):
            body = turn(i, n)
            pipe.rpush(key, json.dumps(body))
            pipe.expire(key, 3600)
            if with_docs:
                docs.append(dict(body, ip=session_ip(i), created_at=BASE + datetime.timedelta(seconds=n)))
        if len(pipe) >= 10000:
            pipe.execute()
    pipe.execute()
    db.conversations.create_index("ip")
    for offset in range(0, len(docs), 10000):
        db.conversations.insert_many(docs[offset:offset + 10000])


def leading_run(rows, stored):
    """How many of the rows, from the first, are in `stored`."""
    return len(list(itertools.takewhile(lambda row: (row["timestamp"], row["message"], row["response"]) in stored,
                                        rows)))


def baseline(client, db, keep, mode):
    """The floor: plain reads, one find per session (verify) or one insert (copy), then LTRIM."""
    trimmed, cursor = 0, 0
    while True:
        cursor, keys = client.scan(cursor, match=PREFIX + "*", count=1000)
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.llen(key)
        over = [(key, length - keep) for key, length in zip(keys, pipe.execute(), strict=True) if length > keep]
        pipe = client.pipeline(transaction=False)
        for key, excess in over:
            pipe.lrange(key, 0, excess - 1)
        heads = pipe.execute()
        stored = {}
        if mode == "verify" and over:  # one query per batch, as the module does (not one per session)
            ips = [key.decode()[len(PREFIX):] for key, _excess in over]
            for doc in db.conversations.find({"ip": {"$in": ips}},
                                             {"ip": 1, "timestamp": 1, "message": 1, "response": 1}):
                stored.setdefault(doc["ip"], set()).add((doc["timestamp"], doc["message"], doc["response"]))
        pipe = client.pipeline(transaction=False)
        for (key, _excess), items in zip(over, heads, strict=True):
            ip = key.decode()[len(PREFIX):]
            rows = [json.loads(item) for item in items]
            if mode == "verify":
                count = leading_run(rows, stored.get(ip, set()))
            else:
                db.conversations.insert_many([dict(row, ip=ip) for row in rows])
                count = len(rows)
            if count:
                pipe.ltrim(key, count, -1)
                trimmed += count
        pipe.execute()
        if cursor == 0:
            return trimmed


def run_module(redis_port, mongo_port, keep, mode, work):
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": [{"name": "archive", "bruno.ops.session_archive": {
        "redis": {"host": "127.0.0.1", "port": redis_port},
        "mongodb": {"host": "127.0.0.1", "port": mongo_port},
        "keep_messages": keep, "archive_mode": mode, "state_key": ""}}]}]
    playbook = work / "bench.yml"
    playbook.write_text(json.dumps(play))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_CALLBACK_RESULT_FORMAT="json", ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default")
    cmd = [str(Path(sys.executable).parent / "ansible-playbook"), "-v", "-i", str(ROOT / "inventory" / "lab"),
           str(playbook), "-e", "ansible_python_interpreter=%s" % sys.executable]
    started = time.monotonic()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=3600)
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit("module run failed:\n" + (done.stdout + done.stderr)[-3000:])
    marker = "[localhost] => "
    line = next(line for line in done.stdout.splitlines() if marker in line)
    return elapsed, json.JSONDecoder().raw_decode(line.split(marker, 1)[1])[0]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--turns", type=int, default=40)
    parser.add_argument("--keep", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-archive-") as tmp:
        work = Path(tmp)
        rserver = services.Redis(work, procs.free_port(), name="bench-redis").start()
        mserver = services.FerretDB(work, procs.free_port()).start()
        try:
            client = redis.Redis(port=rserver.port)
            db = pymongo.MongoClient(port=mserver.port)["agent_bruno"]
            rows = []
            for mode in ("verify", "copy"):
                bases, mods, inmods = [], [], []
                for _rep in range(args.repeat):
                    load(client, db, args.sessions, args.turns, with_docs=mode == "verify")
                    started = time.monotonic()
                    expected = baseline(client, db, args.keep, mode)
                    bases.append(time.monotonic() - started)
                    load(client, db, args.sessions, args.turns, with_docs=mode == "verify")
                    elapsed, result = run_module(rserver.port, mserver.port, args.keep, mode, work)
                    assert result["moved"] == expected, (result["moved"], expected)
                    mods.append(elapsed)
                    inmods.append(result["duration"])
                    print("%s: baseline %.2fs module %.2fs (in-module %.2fs), %d turns trimmed" % (
                        mode, bases[-1], elapsed, result["duration"], expected), flush=True)
                base, mod = statistics.median(bases), statistics.median(mods)
                rows.append((mode, base, mod, mod / base, statistics.median(inmods), statistics.median(inmods) / base))
            print("\nmachine: %s, %d cores, Python %s, Redis %s; %d sessions x %d turns, keep %d" % (
                platform.machine(), os.cpu_count(), platform.python_version(),
                client.info("server")["redis_version"], args.sessions, args.turns, args.keep))
            print("| mode | baseline (s) | module via Ansible (s) | ratio | in-module (s) | in-module ratio |")
            print("| --- | ---: | ---: | ---: | ---: | ---: |")
            for mode, base, mod, ratio, inmod, inratio in rows:
                print("| %s | %.2f | %.2f | %.2f | %.2f | %.2f |" % (mode, base, mod, ratio, inmod, inratio))
        finally:
            rserver.stop()
            mserver.stop()


if __name__ == "__main__":
    main()

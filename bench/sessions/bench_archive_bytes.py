"""Session archive with large turns (issue 18, item 9): module memory and the longest Redis command, budgeted by
bytes (batch_bytes) against budgeted by count only, in the same run, on the same data.

    .venv/bin/python bench/sessions/bench_archive_bytes.py --sessions 60 --turns 50 --keep 10 --kib 48

Data: N sessions in agent-bruno's format (bruno:session:<ip>, T JSON turns of about K KiB each, RPUSH then
EXPIRE) in a Redis of its own (SLOWLOG records every command), copied to an empty conversations collection on a
FerretDB of its own (archive_mode copy: every turn beyond keep is read, written and trimmed). Rows:

  baseline     a hand-written redis-py + pymongo script (pipelined LLEN and LRANGE of every session of a SCAN
               batch, one insert_many, pipelined LTRIM): no guarantees, and no bound on what it holds
  count only   the module with batch_bytes at its maximum (512 MiB): only the 5,000-turn budget per round
               trip bounds it, which is what the module did before batch_bytes
  bytes        the module with the default batch_bytes (8 MiB)
  bytes+idle   the same with preserve_idle_times (the default on Redis < 7.2: DUMP/RESTORE per script)

The first module rows run with preserve_idle_times false, so that only the budget differs. Peak RSS is the
module process's (rsswrap.py as ansible_python_interpreter). "longest Redis command" is the slowest SLOWLOG
entry of the run (slowlog-log-slower-than 0). Ratios are against the "count only" row. No assertion.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pymongo
import redis

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "lab"))
import bench_archive  # noqa: E402 - bench/sessions, next to this file

from labctl import procs, services  # noqa: E402

PREFIX = bench_archive.PREFIX
BASE = datetime.datetime(2026, 12, 3, 9, 0, 0)
session_ip = bench_archive.session_ip


def turn(i, n, kib):
    filler = ("the rollout of %s step %d " % (session_ip(i), n)) * (kib * 1024 // 32)
    return {"timestamp": (BASE + datetime.timedelta(seconds=n, microseconds=i + 1)).isoformat(),
            "message": "question %d" % n, "response": filler[:kib * 1024], "context": {}}


def load(client, db, sessions, turns, kib):
    client.flushall()
    db.drop_collection("conversations")
    db.conversations.create_index("ip")
    for i in range(sessions):
        pipe = client.pipeline(transaction=False)
        key = PREFIX + session_ip(i)
        for n in range(turns):
            pipe.rpush(key, json.dumps(turn(i, n, kib)))
            pipe.expire(key, 3600)
        pipe.execute()
    client.slowlog_reset()


def longest_command_ms(client):
    entries = client.slowlog_get(100000)
    useful = [entry for entry in entries if not entry["command"].upper().startswith((b"SLOWLOG", b"CONFIG"))]
    return max((entry["duration"] for entry in useful), default=0) / 1000.0


def peak_rss_mib(rss_file):
    lines = rss_file.read_text().splitlines() if rss_file.exists() else []
    return max((int(line.split()[-1]) for line in lines), default=0) / 1024.0


def run_module(work, redis_port, mongo_port, options):
    rss_file = work / "rss.txt"
    rss_file.unlink(missing_ok=True)
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": [{"name": "archive", "bruno.ops.session_archive":
             dict({"redis": {"host": "127.0.0.1", "port": redis_port},
                   "mongodb": {"host": "127.0.0.1", "port": mongo_port}, "archive_mode": "copy",
                   "state_key": ""}, **options)}]}]
    playbook = work / "bench.yml"
    playbook.write_text(json.dumps(play))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_CALLBACK_RESULT_FORMAT="json", ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default",
               BENCH_RSS_FILE=str(rss_file), BENCH_REAL_PYTHON=sys.executable)
    cmd = [str(Path(sys.executable).parent / "ansible-playbook"), "-v", "-i", str(ROOT / "inventory" / "lab"),
           str(playbook), "-e", "ansible_python_interpreter=%s" % (work / "rsswrap.py")]
    started = time.monotonic()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=3600)
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit("module run failed:\n" + (done.stdout + done.stderr)[-3000:])
    marker = "[localhost] => "
    line = next(line for line in done.stdout.splitlines() if marker in line)
    return elapsed, json.JSONDecoder().raw_decode(line.split(marker, 1)[1])[0], peak_rss_mib(rss_file)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=60)
    parser.add_argument("--turns", type=int, default=50)
    parser.add_argument("--keep", type=int, default=10)
    parser.add_argument("--kib", type=int, default=48)
    args = parser.parse_args()
    rows_spec = [
        ("count only", {"batch_bytes": 512 * 1024 * 1024, "preserve_idle_times": False}),
        ("bytes", {"preserve_idle_times": False}),
        ("bytes+idle", {}),
    ]
    with tempfile.TemporaryDirectory(prefix="bench-archive-bytes-") as tmp:
        work = Path(tmp)
        wrapper = work / "rsswrap.py"
        wrapper.write_text("#!%s\n%s" % (sys.executable, (Path(__file__).parent / "rsswrap.py").read_text()))
        wrapper.chmod(0o755)
        rserver = services.Redis(work, procs.free_port(), name="bench-redis").start()
        mserver = services.FerretDB(work, procs.free_port()).start()
        try:
            client = redis.Redis(port=rserver.port)
            client.config_set("slowlog-log-slower-than", 0)
            client.config_set("slowlog-max-len", 100000)
            db = pymongo.MongoClient(port=mserver.port)["agent_bruno"]
            results = []
            load(client, db, args.sessions, args.turns, args.kib)
            started = time.monotonic()
            expected = bench_archive.baseline(client, db, args.keep, "copy")  # the same floor as bench_archive
            results.append(("baseline", time.monotonic() - started, None, None, longest_command_ms(client), None))
            for name, options in rows_spec:
                load(client, db, args.sessions, args.turns, args.kib)
                elapsed, result, rss = run_module(work, rserver.port, mserver.port,
                                                  dict(options, keep_messages=args.keep))
                assert result["moved"] == expected, (result["moved"], expected)
                results.append((name, elapsed, result["duration"], rss, longest_command_ms(client),
                                result["largest_read_bytes"]))
                print("%s: %.2fs (in-module %.2fs), peak RSS %.0f MiB, longest Redis command %.1f ms" % (
                    name, elapsed, result["duration"], rss, results[-1][4]), flush=True)
            print("\nmachine: %s, %d cores, Python %s, Redis %s; %d sessions x %d turns of %d KiB, keep %d "
                  "(%d turns, %.0f MiB moved)" % (
                      platform.machine(), os.cpu_count(), platform.python_version(),
                      client.info("server")["redis_version"], args.sessions, args.turns, args.kib, args.keep,
                      expected, expected * args.kib / 1024.0))
            ref = next(row for row in results if row[0] == "count only")
            print("| run | wall (s) | in-module (s) | module peak RSS (MiB) | RSS ratio | longest Redis command (ms) "
                  "| ratio | largest read (MiB) |")
            print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
            for name, wall, inmod, rss, longest, largest in results:
                print("| %s | %.2f | %s | %s | %s | %.1f | %.2f | %s |" % (
                    name, wall, "-" if inmod is None else "%.2f" % inmod, "-" if rss is None else "%.0f" % rss,
                    "-" if rss is None else "%.2f" % (rss / ref[3]), longest, longest / ref[4] if ref[4] else 0,
                    "-" if largest is None else "%.1f" % (largest / 1048576.0)))
        finally:
            rserver.stop()
            mserver.stop()


if __name__ == "__main__":
    main()

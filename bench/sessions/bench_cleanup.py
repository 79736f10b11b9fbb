"""Session cleanup at scale: bruno.ops.redis_session_cleanup (through ansible-playbook) against a hand-written
pipelined redis-py SCAN + TTL + EXPIRE script, on the same Redis, in the same run.

    .venv/bin/python bench/sessions/bench_cleanup.py --sizes 100000 1000000 --repeat 1

For each size N it loads N sessions in agent-bruno's format (key bruno:session:<client ip>, a list of 3 JSON
turns {"timestamp", "message", "response", "context"} written with RPUSH; ~70% then get EXPIRE, the others
stand for sessions written before a TTL was set), then alternately:
  audit  baseline: SCAN + pipelined TTL               module: the same policy in check mode
  fix    baseline: SCAN + pipelined TTL + EXPIRE      module: policies.missing_ttl (sets the missing TTLs)
reloading the data before every run so both start from the same state. Prints wall-clock seconds, the ratio
module/baseline (the module's time includes ansible-playbook's start-up) and the module process's peak RSS.
No assertion: the figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "lab"))
from labctl import procs, services  # noqa: E402

PREFIX = "bruno:session:"
TTL = 3600
SESSION_TTL = 86400
PIPE = 10000


def session_ip(i):
    """A distinct client IP per session (10.0.0.0/8 holds 16M)."""
    return "10.%d.%d.%d" % (i >> 16 & 255, i >> 8 & 255, i & 255)


def turns(i):
    """Three turns of session i exactly as the app writes them (json.dumps defaults)."""
    return [json.dumps({"timestamp": "2026-12-02T20:%02d:%02d.%06d" % (n, i % 60, i % 999983),
                        "message": "hello, how do I reset my password? (%d)" % n,
                        "response": "Open Settings, then Security, then Reset password.", "context": {}})
            for n in range(3)]


def load(client, n, with_ttl=0.7):
    """N sessions of 3 turns; every key whose index mod 10 < 7 gets a TTL. Pipelined, no per-key RTT."""
    client.flushall()
    pipe = client.pipeline(transaction=False)
    for i in range(n):
        key = PREFIX + session_ip(i)
        pipe.rpush(key, *turns(i))
        if i % 10 < with_ttl * 10:
            pipe.expire(key, SESSION_TTL)
        if len(pipe) >= PIPE:
            pipe.execute()
    pipe.execute()


def baseline(client, fix):
    """The hand-written reference: SCAN, pipelined TTL, pipelined EXPIRE of the keys without one."""
    cursor, fixed = 0, 0
    while True:
        cursor, keys = client.scan(cursor, match=PREFIX + "*", count=1000)
        if keys:
            pipe = client.pipeline(transaction=False)
            for key in keys:
                pipe.ttl(key)
            ttls = pipe.execute()
            missing = [key for key, ttl in zip(keys, ttls, strict=True) if ttl == -1]
            if fix and missing:
                pipe = client.pipeline(transaction=False)
                for key in missing:
                    pipe.expire(key, TTL)
                pipe.execute()
            fixed += len(missing)
        if cursor == 0:
            return fixed


def run_module(port, check, work):
    """One ansible-playbook run of one task; the result is read from the default callback's -v output (JSON)."""
    rss_file = work / "rss.txt"
    rss_file.unlink(missing_ok=True)
    play = [{
        "hosts": "localhost", "gather_facts": False,
        "tasks": [{"name": "cleanup", "bruno.ops.redis_session_cleanup": {
            "redis": {"host": "127.0.0.1", "port": port}, "policies": {"missing_ttl": TTL}}}],
    }]
    playbook = work / "bench.yml"
    playbook.write_text(json.dumps(play))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), BENCH_RSS_FILE=str(rss_file),
               BENCH_REAL_PYTHON=sys.executable, ANSIBLE_NOCOLOR="1", ANSIBLE_CALLBACK_RESULT_FORMAT="json",
               ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default")
    cmd = [str(Path(sys.executable).parent / "ansible-playbook"), "-v", "-i", str(ROOT / "inventory" / "lab"),
           str(playbook), "-e", "ansible_python_interpreter=%s" % (work / "rsswrap.py")]
    if check:
        cmd.append("--check")
    started = time.monotonic()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=1800)
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit("module run failed:\n" + (done.stdout + done.stderr)[-3000:])
    marker = "[localhost] => "
    line = next(line for line in done.stdout.splitlines() if marker in line)
    result = json.JSONDecoder().raw_decode(line.split(marker, 1)[1])[0]
    peaks = [int(line.split()[1]) for line in rss_file.read_text().splitlines()]
    return elapsed, result, max(peaks) / 1024.0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[100000, 1000000])
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-sessions-") as tmp:
        work = Path(tmp)
        wrapper = work / "rsswrap.py"
        wrapper.write_text("#!%s\n%s" % (sys.executable, (Path(__file__).parent / "rsswrap.py").read_text()))
        wrapper.chmod(0o755)
        server = services.Redis(work, procs.free_port(), name="bench-redis").start()
        try:
            client = redis.Redis(port=server.port)
            rows = []
            for n in args.sizes:
                figures = {"audit": ([], [], []), "fix": ([], [], [])}
                for _rep in range(args.repeat):
                    for phase, fix in (("audit", False), ("fix", True)):
                        load(client, n)
                        started = time.monotonic()
                        fixed = baseline(client, fix)
                        base = time.monotonic() - started
                        load(client, n)
                        elapsed, result, peak = run_module(server.port, check=not fix, work=work)
                        assert result["ttl_set"] == fixed, (result["ttl_set"], fixed)
                        assert result["matched"] == n, result["matched"]
                        figures[phase][0].append(base)
                        figures[phase][1].append(elapsed)
                        figures[phase][2].append(peak)
                        print("n=%d %s baseline %.2fs module %.2fs (in-module %.2fs) ratio %.2f peak RSS %.1f MiB"
                              % (n, phase, base, elapsed, result["duration"], elapsed / base, peak), flush=True)
                for phase, (bases, mods, peaks) in figures.items():
                    base, mod = statistics.median(bases), statistics.median(mods)
                    rows.append((n, phase, base, mod, mod / base, max(peaks)))
            print("\nmachine: %s, %d cores, Python %s, Redis %s" % (
                platform.machine(), os.cpu_count(), platform.python_version(),
                client.info("server")["redis_version"]))
            print("| sessions | phase | baseline (s) | module via Ansible (s) | ratio | module peak RSS (MiB) |")
            print("| ---: | --- | ---: | ---: | ---: | ---: |")
            for n, phase, base, mod, ratio, peak in rows:
                print("| %d | %s | %.2f | %.2f | %.2f | %.1f |" % (n, phase, base, mod, ratio, peak))
        finally:
            server.stop()


if __name__ == "__main__":
    main()

"""Helpers for the session tests: the shared integration helpers, a Redis of a test's own (with AOF, so a
SIGKILL-and-restart keeps the data), session data loaded with pipelines, and modules run in the background."""

from __future__ import annotations

import datetime
import importlib.util
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

import bruno_it
from labctl import procs, services


def _integration_conftest():
    """tests/integration/conftest.py under a name of its own (the name `conftest` is pytest's to juggle)."""
    name = "bruno_integration_conftest"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parents[1] / "conftest.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


IT = _integration_conftest()
REDIS_PASSWORD = IT.REDIS_PASSWORD
ROOT = IT.ROOT
BIN = IT.BIN
run_module = IT.run_module
run_playbook = IT.run_playbook
PREFIX = "bruno:session:"


class OwnRedis:
    """A Redis for one test: password, append-only file fsynced on every write, so killing it with SIGKILL and
    starting it again brings back every acknowledged write (including RESTORE ... IDLETIME)."""

    def __init__(self, run_dir, name="sessions-redis"):
        self.dir = Path(run_dir) / name
        self.proc = procs.Proc(run_dir, name)
        self.port = procs.free_port()

    def start(self, timeout=30):
        binary = services.require_binary("redis-server", "run `make env`")
        self.dir.mkdir(parents=True, exist_ok=True)
        argv = [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "yes",
                "--appendfsync", "always", "--auto-aof-rewrite-percentage", "0", "--dir", str(self.dir),
                "--daemonize", "no", "--requirepass", REDIS_PASSWORD]
        self.proc.start(argv)
        client = self.client()
        procs.wait_until(client.ping, timeout, "Redis on :%d" % self.port, self.proc)
        procs.wait_until(lambda: client.info("persistence")["loading"] == 0, timeout, "Redis loading its AOF",
                         self.proc)
        return self

    def kill(self):
        """SIGKILL, as a crash would; waits (bounded) until the process is gone."""
        pid = self.proc.pid()
        assert pid, "our Redis is not running"
        os.kill(pid, signal.SIGKILL)
        for _attempt in range(100):
            self.proc._reap()
            if self.proc.pid() != pid:
                return
            time.sleep(0.05)
        raise AssertionError("Redis %d did not die" % pid)

    def stop(self):
        return self.proc.stop()

    def client(self, db=0):
        return redis.Redis(port=self.port, password=REDIS_PASSWORD, db=db, socket_timeout=30)

    def options(self, **extra):
        return dict({"host": "127.0.0.1", "port": self.port, "password": REDIS_PASSWORD}, **extra)


BASE = datetime.datetime(2026, 12, 2, 18, 0, 0)


def ip(i):
    """The client IP of test session i (TEST-NET-3)."""
    return "203.0.113.%d" % (i + 1)


def session_key(i):
    """The Redis key of test session i."""
    return PREFIX + ip(i)


def timestamp(n, i=0):
    """datetime.utcnow().isoformat() as the app writes it, for turn n of session i (distinct per session)."""
    return (BASE + datetime.timedelta(seconds=n, microseconds=i + 1)).isoformat()


def turn(n, text=None, i=0, context=None):
    """Turn n exactly as agent-bruno stores it: Python's default json.dumps, keys in the app's order."""
    return json.dumps({"timestamp": timestamp(n, i), "message": text or "question %d" % n,
                       "response": "answer %d" % n, "context": context or {}})


message = turn  # the cleanup tests need an element of a session; it is the app's turn


def seed_app(client, sessions, turns, ttl=3600, start=0):
    """`sessions` sessions of `turns` turns each, written as the app does: RPUSH of one turn, then EXPIRE."""
    pipe = client.pipeline(transaction=False)
    for i in range(sessions):
        for n in range(start, start + turns):
            pipe.rpush(session_key(i), turn(n, i=i))
            pipe.expire(session_key(i), ttl)
        if len(pipe) >= 2000:
            pipe.execute()
    pipe.execute()


def app_documents(sessions, turns, start=0):
    """What an app that persists wrote to agent_bruno.conversations for those turns (its document shape)."""
    docs = []
    for i in range(sessions):
        for n in range(start, start + turns):
            body = json.loads(turn(n, i=i))
            docs.append(dict(body, ip=ip(i), created_at=BASE + datetime.timedelta(seconds=n)))
    return docs


def identity(doc):
    return (doc["timestamp"], doc["message"], doc["response"])


def ledger(rclient, db, sessions, collection="conversations"):
    """Per session i: (the turns in Redis, the turns in MongoDB for its ip), as (timestamp, message, response)."""
    stored = {}
    for doc in db[collection].find({}, {"ip": 1, "timestamp": 1, "message": 1, "response": 1}):
        stored.setdefault(doc["ip"], []).append(identity(doc))
    out = {}
    for i in range(sessions):
        in_redis = [identity(json.loads(raw)) for raw in rclient.lrange(session_key(i), 0, -1)]
        out[i] = (in_redis, sorted(stored.get(ip(i), [])))
    return out


def expected_turns(i, turns, extra=()):
    return [identity(json.loads(turn(n, i=i))) for n in range(turns)] + list(extra)


def exactly_once(rclient, db, collection, sessions, turns, *, extra=None):
    """Copy mode: every turn of every session is in Redis or MongoDB, never both, never twice. `extra` maps
    session index -> identities appended during the run. Returns the sessions that break it."""
    problems = []
    for i, (in_redis, in_mongo) in ledger(rclient, db, sessions, collection).items():
        expected = expected_turns(i, turns, (extra or {}).get(i, ()))
        both = set(in_redis) & set(in_mongo)
        seen = in_redis + in_mongo
        if len(seen) != len(set(seen)) or both or set(seen) != set(expected):
            problems.append((ip(i), sorted(both), sorted(set(expected) - set(seen))))
    return problems


def load_idle_and_recent(client, idle, recent, with_ttl_every=3, other=0):
    """`idle` sessions idle for two hours (RESTORE ... IDLETIME), `recent` ones just written; every
    `with_ttl_every`-th recent one has a one-day TTL (none when 0). Plus `other` idle keys outside the prefix."""
    client.rpush("tmp:template", message(1))
    template = client.dump("tmp:template")
    client.delete("tmp:template")
    pipe = client.pipeline(transaction=False)
    for i in range(idle):
        pipe.restore("%sidle-%06d" % (PREFIX, i), 0, template, idletime=7200)
        if len(pipe) >= 5000:
            pipe.execute()
    for i in range(recent):
        key = "%srecent-%06d" % (PREFIX, i)
        pipe.rpush(key, message(1))
        if with_ttl_every and i % with_ttl_every == 0:
            pipe.expire(key, 86400)
        if len(pipe) >= 5000:
            pipe.execute()
    for i in range(other):
        pipe.restore("other:idle-%06d" % i, 0, template, idletime=7200)
    pipe.execute()


def snapshot(client):
    """Every key with its type, TTL presence and memory size: enough to see that nothing changed. Only
    commands that leave a key's idle time alone (no LLEN/LRANGE), so taking a snapshot changes nothing."""
    state = {}
    for key in client.scan_iter(count=1000):
        state[key] = (client.type(key), client.ttl(key) > 0, client.memory_usage(key))
    return state


class Background:
    """One module run through ansible-playbook in the background, in a process group of its own."""

    def __init__(self, module, args, check=False, diff=False):
        self.work = Path(tempfile.mkdtemp(prefix="bruno-bg-"))
        self.out_file = self.work / "result.json"
        play = [{"name": "run %s" % module, "hosts": "localhost", "gather_facts": False, "tasks": [
            {"name": "module under test", module: args, "register": "under_test", "ignore_errors": True},
            {"name": "save result", "ansible.builtin.copy": {"content": "{{ under_test | to_json }}",
                                                             "dest": str(self.out_file)}, "check_mode": False},
        ]}]
        (self.work / "run.yml").write_text(json.dumps(play))
        cmd = [str(BIN / "ansible-playbook"), "-i", str(ROOT / "inventory" / "lab"), str(self.work / "run.yml")]
        if check:
            cmd.append("--check")
        if diff:
            cmd.append("--diff")
        self.log = open(self.work / "out.log", "w")  # noqa: SIM115 - closed in wait()/kill()
        self.popen = subprocess.Popen(cmd, cwd=ROOT, env=IT.ansible_env(), stdout=self.log,
                                      stderr=subprocess.STDOUT, start_new_session=True)

    def module_pids(self, needle):
        """PIDs of our descendants whose command line mentions `needle` (the AnsiballZ file of the module)."""
        children = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append((int(entry.name), cmd))
        found, todo = [], [self.popen.pid]
        while todo:
            for pid, cmd in children.get(todo.pop(), []):
                todo.append(pid)
                if needle in cmd:
                    found.append(pid)
        return found

    def kill(self, needle):
        """SIGKILL the module process (found by its AnsiballZ file name), then the rest of our process group."""
        pids = self.module_pids(needle)
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=30)
        self.log.close()
        return pids

    def wait(self, timeout=300):
        self.popen.wait(timeout=timeout)
        self.log.close()
        return json.loads(self.out_file.read_text()) if self.out_file.exists() else None

    def output(self):
        return (self.work / "out.log").read_text(errors="replace")


def run_with_diff(module, args, check=False, timeout=300):
    """Like run_module, with --diff: (result, output)."""
    run = Background(module, args, check=check, diff=True)
    result = run.wait(timeout=timeout)
    assert result is not None, run.output()[-3000:]
    return result, run.output()


def wait_for(check, what, timeout=60.0, interval=0.05):
    """Poll until check() is truthy; bounded. Not a timing assertion: the timeout only guards a hang."""
    return bruno_it.wait_for(check, what, timeout, interval)

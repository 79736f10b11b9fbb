"""agent-bruno against a real redis-server (and FerretDB when it is built), as a subprocess on a free port.

The servers run on free 127.0.0.1 ports, each stopped by its own PID; every wait is bounded. A missing
redis-server is a failure, never a skip: installing it is the Makefile's job. (The fixtures live here, not in
a conftest.py, so that no second module named `conftest` shadows tests/integration/conftest.py.)
"""

import contextlib
import glob
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pymongo
import pytest
import redis

from agent_bruno import __version__, core

ROOT = Path(__file__).resolve().parents[3]
LAB = ROOT / "lab"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(check, timeout, what, proc=None, log=None):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError("%s: process exited with %s\n%s" % (what, proc.returncode, _tail(log)))
        try:
            value = check()
            if value:
                return value
        except Exception as exc:  # not up yet
            last = exc
        time.sleep(0.05)
    raise AssertionError("timed out after %ss waiting for %s (%r)\n%s" % (timeout, what, last, _tail(log)))


def _tail(log, lines=30):
    if log is None:
        return ""
    try:
        return "\n".join(Path(log).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _stop(proc, timeout=10.0):
    """SIGTERM our child, wait (bounded), SIGKILL; returns its exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return proc.returncode


def _tcp_open(port):
    with socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True


class RedisServer:
    def __init__(self, workdir, port):
        self.dir = Path(workdir)
        self.port = port
        self.proc = None
        self.log = self.dir / "redis.log"

    @property
    def url(self):
        return "redis://127.0.0.1:%d/0" % self.port

    def start(self):
        binary = shutil.which("redis-server")
        if not binary:
            pytest.fail("redis-server is not installed: the agent-bruno live tests need a real Redis "
                        "(Debian package redis-server; `make env` installs it)")
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no",
                 "--daemonize", "no", "--dir", str(self.dir)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for(lambda: self.client().ping(), 15, "redis-server on :%d" % self.port, self.proc, self.log)
        return self

    def stop(self):
        if self.proc is not None:
            _stop(self.proc)

    def restart(self):
        """Start again on the same port (after stop()); an empty Redis, as after a crash without persistence."""
        self.stop()
        return self.start()

    def client(self):
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5, socket_connect_timeout=2)


def ferretdb_binary():
    cache = os.environ.get("BRUNO_CACHE_DIR") or os.path.expanduser("~/.cache/bruno-ops")
    found = sorted(glob.glob(os.path.join(cache, "bin", "ferretdb-*", "ferretdb")))
    return found[-1] if found else None


class FerretDB:
    def __init__(self, workdir, port, binary):
        self.dir = Path(workdir)
        self.port = port
        self.binary = binary
        self.proc = None
        self.log = self.dir / "ferretdb.log"

    @property
    def url(self):
        return "mongodb://127.0.0.1:%d/" % self.port

    def start(self):
        (self.dir / "data").mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [self.binary, "--handler=sqlite", "--sqlite-url=file:%s/" % (self.dir / "data"),
                 "--listen-addr=127.0.0.1:%d" % self.port, "--debug-addr=-", "--telemetry=disable",
                 "--state-dir=%s" % self.dir, "--log-level=warn"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                env=dict(os.environ, FERRETDB_TELEMETRY="disable"))
        wait_for(lambda: _tcp_open(self.port), 30, "FerretDB on :%d" % self.port, self.proc, self.log)
        return self

    def stop(self):
        if self.proc is not None:
            _stop(self.proc, timeout=20)

    def restart(self):
        """Start again on the same port and data directory (after stop())."""
        self.stop()
        return self.start()


class Agent:
    """agent-bruno as `python -m agent_bruno` on a free port."""

    def __init__(self, workdir, env):
        self.port = free_port()
        self.log = Path(workdir) / ("agent-%d.log" % self.port)
        ours = ("REDIS_", "MONGO_", "SESSION_", "CONTEXT_", "LAB_", "ACTIVE_")  # only what the test sets
        full_env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
        full_env.update(PYTHONPATH=str(LAB), LISTEN_ADDR="127.0.0.1", PORT=str(self.port), POD_NAME="agent-test",
                        ACTIVE_SESSIONS_CACHE_SECONDS="0")
        full_env.update(env)
        self.env = full_env
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "agent_bruno"], cwd=str(ROOT), env=full_env,
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    def wait_ready(self):
        wait_for(lambda: self.request("GET", "/healthz")[0] in (200, 503), 20, "agent-bruno on :%d" % self.port,
                 self.proc, self.log)
        return self

    def request(self, method, path, body=None, timeout=30):
        """(status, parsed JSON or raw text) of one request."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            payload = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
            headers = {"Content-Type": "application/json"} if payload is not None else {}
            conn.request(method, path, body=payload, headers=headers)
            response = conn.getresponse()
            raw = response.read()
            if response.getheader("Content-Type", "").startswith("application/json"):
                return response.status, json.loads(raw)
            return response.status, raw.decode()
        finally:
            conn.close()

    def chat(self, message, session_id=None):
        body = {"message": message}
        if session_id is not None:
            body["session_id"] = session_id
        return self.request("POST", "/chat", body)

    def metrics(self):
        status, text = self.request("GET", "/metrics")
        assert status == 200, text
        samples = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _sep, value = line.rpartition(" ")
                samples[name] = float(value)
        return samples

    def log_text(self):
        return self.log.read_text(errors="replace")

    def stop(self):
        return _stop(self.proc)


@pytest.fixture
def bruno_redis(tmp_path):
    server = RedisServer(tmp_path / "redis", free_port()).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def bruno_ferretdb(tmp_path):
    binary = ferretdb_binary()
    if not binary:
        pytest.skip("FerretDB not built (lab/tools/build-ferretdb.sh, `make tools`); MongoDB archiving untested")
    server = FerretDB(tmp_path / "ferretdb", free_port(), binary).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def start_agent(tmp_path):
    """start_agent(REDIS_URL=..., **env) -> a running Agent; all are stopped (SIGTERM) after the test."""
    agents = []

    def start(**env):
        agent = Agent(tmp_path, {k: str(v) for k, v in env.items()})
        agents.append(agent)  # stopped at teardown even if it never gets ready
        return agent.wait_ready()

    yield start
    for agent in agents:
        with contextlib.suppress(Exception):
            agent.stop()


# ====================================================================================================

PREFIX = "bruno:session:"


def stored(server, session_id):
    return [json.loads(item) for item in server.client().lrange(PREFIX + session_id, 0, -1)]


def assert_pairs_consistent(messages):
    """User at even seq, its reply right after it, the reply what the fake LLM says for that turn."""
    by_seq = {m["seq"]: m for m in messages}
    for seq, msg in by_seq.items():
        if seq % 2 == 0:
            assert msg["role"] == "user", msg
            reply = by_seq.get(seq + 1)
            if reply is not None:
                assert reply["role"] == "assistant"
                assert reply["content"] == core.fake_reply(msg["content"], core.turn_for_seq(seq))
        else:
            assert msg["role"] == "assistant", msg


# -- chat and the storage format ----------------------------------------------------------------------------


def test_chat_appends_pairs_with_increasing_seq_and_refreshes_ttl(bruno_redis, start_agent):
    agent = start_agent(REDIS_URL=bruno_redis.url, SESSION_TTL=3600)
    status, first = agent.chat("hello bruno", session_id="s1")
    assert status == 200, first
    assert first["session_id"] == "s1" and first["turn"] == 1
    assert first["reply"] == core.fake_reply("hello bruno", 1)
    assert len(stored(bruno_redis, "s1")) == 2

    bruno_redis.client().expire(PREFIX + "s1", 100)  # the next turn must refresh it
    status, second = agent.chat("and again", session_id="s1")
    assert status == 200 and second["turn"] == 2 and second["context_messages"] == 4

    messages = stored(bruno_redis, "s1")
    assert [m["seq"] for m in messages] == [0, 1, 2, 3]
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    assert [m["content"] for m in messages[::2]] == ["hello bruno", "and again"]
    assert all(isinstance(m["ts"], float) for m in messages)
    assert messages[0]["ts"] <= messages[2]["ts"]
    assert_pairs_consistent(messages)
    assert 3590 <= bruno_redis.client().ttl(PREFIX + "s1") <= 3600
    assert bruno_redis.client().keys("*") == [(PREFIX + "s1").encode()]  # one key per session, nothing else


def test_default_ttl_and_generated_session_id(bruno_redis, start_agent):
    agent = start_agent(REDIS_URL=bruno_redis.url)
    status, body = agent.chat("no session given")
    assert status == 200
    assert len(body["session_id"]) == 32 and int(body["session_id"], 16) >= 0
    assert 86390 <= bruno_redis.client().ttl(PREFIX + body["session_id"]) <= 86400


@pytest.mark.parametrize("ttl", ["0", ""])
def test_session_ttl_zero_or_empty_sets_no_ttl(bruno_redis, start_agent, ttl):
    agent = start_agent(REDIS_URL=bruno_redis.url, SESSION_TTL=ttl)
    for _turn in range(2):
        assert agent.chat("forever", session_id="keep")[0] == 200
    assert bruno_redis.client().ttl(PREFIX + "keep") == -1


def test_context_window_trims_oldest_without_mongo(bruno_redis, start_agent):
    agent = start_agent(REDIS_URL=bruno_redis.url, CONTEXT_WINDOW=4)
    for turn in range(1, 6):
        status, body = agent.chat("message %d" % turn, session_id="w")
        assert status == 200 and body["turn"] == turn
    messages = stored(bruno_redis, "w")
    assert [m["seq"] for m in messages] == [6, 7, 8, 9]
    assert messages[0]["content"] == "message 4"
    assert body["context_messages"] == 4
    metrics = agent.metrics()
    assert metrics["bruno_archived_messages_total"] == 0  # archiving is off without MONGO_URL
    assert metrics["bruno_context_messages_count"] == 5


def test_bad_requests_get_json_errors(bruno_redis, start_agent):
    agent = start_agent(REDIS_URL=bruno_redis.url, MAX_BODY_BYTES=1024)
    status, answer = agent.request("POST", "/chat", {"message": "x" * 2000})
    assert status == 413 and "error" in answer
    for body in (b"{not json", b'{"message": ""}', b'{"message": "x", "session_id": "a b"}', None):
        status, answer = agent.request("POST", "/chat", body)
        assert status == 400 and "error" in answer, (body, answer)
    assert agent.request("GET", "/chat")[0] == 405
    assert agent.request("GET", "/nope")[0] == 404
    status, answer = agent.request("POST", "/lab/leak", {"bytes": 10})
    assert status == 404 and "LAB_MODE" in answer["error"]  # lab knobs are off by default
    assert bruno_redis.client().dbsize() == 0
    metrics = agent.metrics()
    assert metrics['bruno_chat_requests_total{status="400"}'] == 4
    assert metrics['bruno_chat_requests_total{status="413"}'] == 1


def test_foreign_data_in_a_session_key_is_a_500_not_a_crash(bruno_redis, start_agent):
    agent = start_agent(REDIS_URL=bruno_redis.url)
    bruno_redis.client().set(PREFIX + "str", "not a list")
    bruno_redis.client().rpush(PREFIX + "junk", "not json")
    for session_id in ("str", "junk"):
        status, answer = agent.chat("hi", session_id=session_id)
        assert status == 500 and "not an agent-bruno message list" in answer["error"]
    assert bruno_redis.client().lrange(PREFIX + "junk", 0, -1) == [b"not json"]  # left as it was
    assert agent.chat("hi", session_id="fine")[0] == 200


# -- health and metrics -------------------------------------------------------------------------------------


def test_healthz_without_mongo(bruno_redis, start_agent):
    agent = start_agent(REDIS_URL=bruno_redis.url)
    status, body = agent.request("GET", "/healthz")
    assert status == 200
    assert (body["status"], body["redis"], body["mongo"], body["pod"]) == ("ok", "ok", "disabled", "agent-test")


def test_metrics_count_sessions_and_memory(bruno_redis, start_agent):
    agent = start_agent(REDIS_URL=bruno_redis.url, REDIS_POOL_SIZE=7)
    for i in range(3):
        assert agent.chat("hi", session_id="m%d" % i)[0] == 200
    bruno_redis.client().set("unrelated:key", "x")
    metrics = agent.metrics()
    assert metrics["bruno_active_sessions"] == 3
    assert metrics["process_resident_memory_bytes"] > 10 * 1024 * 1024
    assert metrics['bruno_chat_requests_total{status="200"}'] == 3
    assert metrics["bruno_redis_pool_max"] == 7
    assert 1 <= metrics["bruno_redis_pool_connections"] <= 7
    assert metrics["bruno_redis_pool_in_use"] == 0
    assert metrics["bruno_mongo_pool_max"] == 0
    assert metrics["bruno_session_ttl_seconds"] == 86400
    assert metrics['bruno_agent_info{pod="agent-test",version="%s"}' % __version__] == 1
    assert not any("pod=" in name for name in metrics if not name.startswith("bruno_agent_info"))

    # Many sessions: SCAN pages through them all (COUNT 1000 per call).
    pipe = bruno_redis.client().pipeline(transaction=False)
    for i in range(25000):
        pipe.rpush("%sbulk%d" % (PREFIX, i), '{"seq":0,"role":"user","content":"x","ts":0.0}')
    pipe.execute()
    started = time.monotonic()
    assert agent.metrics()["bruno_active_sessions"] == 25003
    assert time.monotonic() - started < 5


def test_session_count_is_cached_and_bounded(bruno_redis, start_agent):
    cached = start_agent(REDIS_URL=bruno_redis.url, ACTIVE_SESSIONS_CACHE_SECONDS=60)
    assert cached.metrics()["bruno_active_sessions"] == 0
    assert cached.chat("hi", session_id="c")[0] == 200
    assert cached.metrics()["bruno_active_sessions"] == 0  # the cached count, until it is 60 s old

    pipe = bruno_redis.client().pipeline(transaction=False)
    for i in range(5000):
        pipe.set("%sx%d" % (PREFIX, i), "1")
    pipe.execute()
    tight = start_agent(REDIS_URL=bruno_redis.url, ACTIVE_SESSIONS_SCAN_BUDGET=1)
    assert "bruno_active_sessions" not in tight.metrics()  # an unfinished count is not reported as a number
    assert "SCAN budget" in tight.log_text()
    dbsize = start_agent(REDIS_URL=bruno_redis.url, ACTIVE_SESSIONS_MODE="dbsize")
    assert dbsize.metrics()["bruno_active_sessions"] == 5001


def test_debug_memory(bruno_redis, start_agent):
    agent = start_agent(REDIS_URL=bruno_redis.url)
    status, body = agent.request("GET", "/debug/memory")
    assert status == 200
    assert body["rss_bytes"] > 10 * 1024 * 1024 and body["vms_bytes"] >= body["rss_bytes"]
    assert len(body["gc"]["counts"]) == 3 and "lab" not in body


# -- failures, concurrency, shutdown ------------------------------------------------------------------------


def test_redis_down_gives_503_json_and_recovers(bruno_redis, start_agent):
    agent = start_agent(REDIS_URL=bruno_redis.url)
    assert agent.chat("before", session_id="r")[0] == 200
    bruno_redis.stop()

    started = time.monotonic()
    status, body = agent.chat("during", session_id="r")
    assert status == 503, body
    assert body["error"].startswith("redis unavailable") and "Traceback" not in json.dumps(body)
    assert time.monotonic() - started < 5
    status, health = agent.request("GET", "/healthz")
    assert status == 503 and health["status"] == "error" and health["redis"].startswith("error: ")
    metrics = agent.metrics()
    assert "bruno_active_sessions" not in metrics
    assert metrics['bruno_chat_requests_total{status="503"}'] == 1
    assert agent.proc.poll() is None
    assert "Traceback" not in agent.log_text()

    bruno_redis.restart()

    def chat_ok():
        answer = agent.chat("after", session_id="r")
        return answer if answer[0] == 200 else None

    status, body = wait_for(chat_ok, 10, "chat after Redis came back")
    assert body["turn"] == 1  # a fresh Redis (no persistence): the session starts again


def test_redis_pool_exhaustion_answers_503(bruno_redis, start_agent):
    agent = start_agent(REDIS_URL=bruno_redis.url, LAB_MODE=1, REDIS_POOL_SIZE=2, REDIS_POOL_TIMEOUT=0.5)
    status, held = agent.request("POST", "/lab/hold-connections", {"redis_pool": 2})
    assert status == 200 and held["redis_pool"] == 2
    assert agent.metrics()["bruno_redis_pool_in_use"] == 2
    status, body = agent.chat("blocked")
    assert status == 503 and "No connection available" in body["error"]
    assert agent.request("GET", "/healthz")[0] == 200  # health uses its own connections
    assert agent.request("POST", "/lab/release")[0] == 200
    assert agent.chat("free again")[0] == 200


@pytest.mark.parametrize("window", [0, 10])
def test_concurrent_appends_lose_nothing(bruno_redis, start_agent, window):
    agent = start_agent(REDIS_URL=bruno_redis.url, CONTEXT_WINDOW=window)
    turns = 120

    def one(i):
        return agent.chat("parallel %d" % i, session_id="race")

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(one, range(turns)))
    assert all(status == 200 for status, _body in results), [r for r in results if r[0] != 200][:3]
    assert sorted(body["turn"] for _status, body in results) == list(range(1, turns + 1))

    messages = stored(bruno_redis, "race")
    expected_seqs = list(range(2 * turns))[-window:] if window else list(range(2 * turns))
    assert [m["seq"] for m in messages] == expected_seqs
    assert_pairs_consistent(messages)
    if not window:
        assert sorted(m["content"] for m in messages if m["role"] == "user") == \
            sorted("parallel %d" % i for i in range(turns))


def test_sigterm_shuts_down_cleanly(bruno_redis, start_agent):
    agent = start_agent(REDIS_URL=bruno_redis.url)
    assert agent.chat("bye")[0] == 200
    agent.proc.send_signal(signal.SIGTERM)
    assert agent.proc.wait(10) == 0
    assert "shutting down" in agent.log_text() and "stopped" in agent.log_text()
    assert "Traceback" not in agent.log_text()
    lines = [line for line in agent.log_text().splitlines() if "POST /chat 200 " in line]
    assert len(lines) == 1 and lines[0].endswith("ms")


# -- lab knobs ----------------------------------------------------------------------------------------------


def _agent_clients(server):
    return sum(1 for client in server.client().client_list() if client.get("name") == "agent-bruno")


def test_lab_knobs_leak_and_hold_then_release(bruno_redis, start_agent):
    agent = start_agent(REDIS_URL=bruno_redis.url, LAB_MODE=1)
    rss_before = agent.request("GET", "/debug/memory")[1]["rss_bytes"]
    status, body = agent.request("POST", "/lab/leak", {"bytes": 64 * 1024 * 1024})
    assert status == 200 and body["retained_bytes"] == 64 * 1024 * 1024
    memory = agent.request("GET", "/debug/memory")[1]
    assert memory["rss_bytes"] - rss_before >= 60 * 1024 * 1024
    assert memory["lab"]["retained_bytes"] == 64 * 1024 * 1024
    assert agent.metrics()["process_resident_memory_bytes"] - rss_before >= 60 * 1024 * 1024

    clients_before = _agent_clients(bruno_redis)
    status, body = agent.request("POST", "/lab/hold-connections", {"redis": 5})
    assert status == 200 and body["redis"] == 5
    assert _agent_clients(bruno_redis) == clients_before + 5
    assert agent.request("POST", "/lab/hold-connections", {"redis": -1})[0] == 400
    assert agent.request("POST", "/lab/hold-connections", {"mongo": 1})[0] == 400  # no MONGO_URL

    status, body = agent.request("POST", "/lab/release")
    assert status == 200 and body["released"]["redis"] == 5
    wait_for(lambda: _agent_clients(bruno_redis) == clients_before, 5, "held connections closed")
    rss_after = agent.request("GET", "/debug/memory")[1]["rss_bytes"]
    assert memory["rss_bytes"] - rss_after >= 50 * 1024 * 1024


# -- MongoDB archiving (FerretDB) ---------------------------------------------------------------------------


def _archived(ferret, session_id):
    with pymongo.MongoClient(ferret.url, serverSelectionTimeoutMS=5000) as client:
        return list(client.bruno.conversations.find({"session_id": session_id}).sort("seq", 1))


def test_trimmed_messages_are_archived_to_mongo(bruno_redis, bruno_ferretdb, start_agent):
    agent = start_agent(REDIS_URL=bruno_redis.url, MONGO_URL=bruno_ferretdb.url, CONTEXT_WINDOW=4,
                        MONGO_POOL_SIZE=5, LAB_MODE=1)
    status, health = agent.request("GET", "/healthz")
    assert status == 200 and health["mongo"] == "ok"
    for turn in range(1, 6):
        assert agent.chat("msg %d" % turn, session_id="a")[0] == 200
    assert [m["seq"] for m in stored(bruno_redis, "a")] == [6, 7, 8, 9]
    docs = _archived(bruno_ferretdb, "a")
    assert [d["_id"] for d in docs] == ["a:%d" % seq for seq in range(6)]
    assert docs[0]["role"] == "user" and docs[0]["content"] == "msg 1" and isinstance(docs[0]["ts"], float)
    assert docs[1]["content"] == core.fake_reply("msg 1", 1)
    metrics = agent.metrics()
    assert metrics["bruno_archived_messages_total"] == 6
    assert metrics["bruno_mongo_pool_max"] == 5
    assert metrics["bruno_mongo_pool_connections"] >= 1

    status, body = agent.request("POST", "/lab/hold-connections", {"mongo": 2})
    assert status == 200 and body["mongo"] == 2
    assert agent.request("POST", "/lab/release")[1]["released"]["mongo"] == 2


def test_mongo_down_keeps_chatting_then_catches_up(bruno_redis, bruno_ferretdb, start_agent):
    agent = start_agent(REDIS_URL=bruno_redis.url, MONGO_URL=bruno_ferretdb.url, CONTEXT_WINDOW=4,
                        MONGO_TIMEOUT_MS=500)
    for turn in range(1, 3):
        assert agent.chat("t%d" % turn, session_id="d")[0] == 200
    bruno_ferretdb.stop()

    status, body = agent.chat("t3", session_id="d")
    assert status == 200 and body["context_messages"] == 6  # not trimmed: nothing leaves Redis unarchived
    status, health = agent.request("GET", "/healthz")
    assert status == 200 and health["status"] == "degraded" and health["mongo"].startswith("error: ")
    assert agent.metrics()["bruno_archive_errors_total"] >= 1

    bruno_ferretdb.restart()
    status, body = agent.chat("t4", session_id="d")
    assert status == 200 and body["context_messages"] == 4  # the backlog is archived, then trimmed
    assert [d["seq"] for d in _archived(bruno_ferretdb, "d")] == [0, 1, 2, 3]
    assert [m["seq"] for m in stored(bruno_redis, "d")] == [4, 5, 6, 7]


def test_concurrent_appends_with_archiving_lose_nothing(bruno_redis, bruno_ferretdb, start_agent):
    agent = start_agent(REDIS_URL=bruno_redis.url, MONGO_URL=bruno_ferretdb.url, CONTEXT_WINDOW=6)
    turns = 60
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda i: agent.chat("p%d" % i, session_id="rc"), range(turns)))
    assert all(status == 200 for status, _body in results), [r for r in results if r[0] != 200][:3]
    assert sorted(body["turn"] for _status, body in results) == list(range(1, turns + 1))

    in_redis = stored(bruno_redis, "rc")
    archived = _archived(bruno_ferretdb, "rc")
    seqs = sorted({m["seq"] for m in in_redis} | {d["seq"] for d in archived})
    assert seqs == list(range(2 * turns))  # every message is in Redis or in the archive
    assert in_redis[-1]["seq"] == 2 * turns - 1
    merged = {d["seq"]: {k: d[k] for k in ("seq", "role", "content", "ts")} for d in archived}
    merged.update({m["seq"]: m for m in in_redis})
    assert_pairs_consistent(list(merged.values()))

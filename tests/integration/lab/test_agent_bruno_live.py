"""agent-bruno (lab/agent_bruno) live: a real redis-server and FerretDB of its own on free 127.0.0.1 ports,
the Ollama stand-in and the agent as subprocesses, checked through the real app's interface.

The servers are this module's own (not the session fixtures) because one test stops and restarts them
while the agent runs. Every wait is bounded; every process is stopped by its own PID.
"""

import datetime
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pymongo
import pytest
import redis

from labctl import procs, services

ROOT = Path(__file__).resolve().parents[3]
PASSWORD = "agent-it-pw-51c2"  # test-only; must never show up in the agent's log
SOURCE_ADDR = "127.0.0.2"  # lab-only LAB_SOURCE_ADDR: the agent's Redis client address
XFF_IP = "203.0.113.10"


def wait_for(check, timeout, what, log=None):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except Exception as exc:  # not there yet
            last = exc
        time.sleep(0.05)
    tail = Path(log).read_text(errors="replace")[-3000:] if log and Path(log).exists() else ""
    raise AssertionError("timed out after %ss waiting for %s (%r)\n%s" % (timeout, what, last, tail))


class Service:
    """A `python -m <module>` subprocess on a free port, its output in a log file."""

    def __init__(self, module, workdir, env, name):
        self.module, self.env, self.name = module, env, name
        self.port = int(env.get("PORT") or procs.free_port())
        self.env["PORT"] = str(self.port)
        self.log = Path(workdir) / ("%s.log" % name)
        self.proc = None

    def start(self, wait_path="/health"):
        full = dict(os.environ, PYTHONPATH=str(ROOT / "lab"), LISTEN_ADDR="127.0.0.1", **self.env)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", self.module], cwd=str(ROOT), env=full,
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        if wait_path:
            wait_for(lambda: self.proc.poll() is None and self.call("GET", wait_path)[0] == 200, 20,
                     "%s on :%d" % (self.name, self.port), self.log)
        return self

    def call(self, method, path, body=None, headers=None, timeout=30):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            data = json.dumps(body).encode() if body is not None else None
            hdrs = dict(headers or {}, **({"Content-Type": "application/json"} if data is not None else {}))
            conn.request(method, path, body=data, headers=hdrs)
            answer = conn.getresponse()
            raw = answer.read()
            ctype = answer.getheader("Content-Type", "")
            return answer.status, (json.loads(raw) if ctype.startswith("application/json") else raw.decode())
        finally:
            conn.close()

    def stop(self, timeout=15):
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            raise

    def log_text(self):
        return self.log.read_text(errors="replace")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    work = tmp_path_factory.mktemp("agent-live")
    try:
        rds = services.Redis(work, procs.free_port(), password=PASSWORD).start()
        ferret = services.FerretDB(work, procs.free_port()).start()
    except procs.LabError as exc:  # a missing server is a failed test, never a skip
        pytest.fail("cannot start the servers: %s" % exc)
    stub = Service("agent_bruno.ollama_stub", work, {}, "ollama").start(wait_path="/api/tags")
    env = {
        "REDIS_URL": "redis://:%s@127.0.0.1:%d/0" % (PASSWORD, rds.port),
        "MONGODB_URL": "mongodb://127.0.0.1:%d/?serverSelectionTimeoutMS=1500" % ferret.port,
        "MONGODB_DB": "agent_bruno", "SESSION_TTL": "300", "LOG_LEVEL": "INFO",
        "OLLAMA_URL": "http://127.0.0.1:%d" % stub.port, "OLLAMA_MODEL": "llama3.2:3b",
        "LAB_MODE": "1", "POD_NAME": "agent-bruno-it-0", "LAB_SOURCE_ADDR": SOURCE_ADDR,
    }
    agent = Service("agent_bruno", work, dict(env), "agent").start()
    state = {"work": work, "redis": rds, "ferret": ferret, "stub": stub, "agent": agent, "env": env,
             "r": redis.Redis(port=rds.port, password=PASSWORD),
             "m": pymongo.MongoClient("mongodb://127.0.0.1:%d/" % ferret.port, serverSelectionTimeoutMS=5000)}
    try:
        yield state
    finally:
        agent.stop()
        stub.stop()
        state["m"].close()
        ferret.stop()
        rds.stop()


def chat(agent, message, ip=XFF_IP, context=None, extra=None):
    body = {"message": message}
    if context is not None:
        body["context"] = context
    return agent.call("POST", "/chat", body, {"X-Forwarded-For": "%s, 10.0.0.1" % ip, **(extra or {})})


def docs(world, ip):
    return list(world["m"]["agent_bruno"]["conversations"].find({"ip": ip}).sort("timestamp", 1))


def metric_lines(agent):
    status, text = agent.call("GET", "/metrics")
    assert status == 200
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def metric_value(agent, name, labels=None):
    for line in metric_lines(agent):
        series, _space, value = line.rpartition(" ")
        metric, _brace, rest = series.partition("{")
        if metric != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', rest))
        if all(found.get(key) == want for key, want in (labels or {}).items()):
            return float(value)
    return None


def test_turns_are_the_real_format_with_ttl_renewal_and_mongo_documents(world):
    agent, rds = world["agent"], world["r"]
    ip, key = "203.0.113.21", "bruno:session:203.0.113.21"
    status, first = chat(agent, "Olá, agent ✓", ip=ip, context={"page": "home"})
    assert status == 200
    assert set(first) == {"response", "timestamp", "model", "sources"}
    assert first["model"] == "llama3.2:3b" and first["sources"] == ["Agent Bruno"]
    assert first["timestamp"].endswith("Z") and "0 earlier turns" in first["response"]
    assert rds.type(key) == b"list"
    (element,) = rds.lrange(key, 0, -1)
    stamp = json.loads(element)["timestamp"]
    datetime.datetime.fromisoformat(stamp)
    expected = json.dumps({"timestamp": stamp, "message": "Olá, agent ✓", "response": first["response"],
                           "context": {"page": "home"}})
    assert element == expected.encode("ascii")  # byte for byte Python's default json.dumps
    assert 0 < rds.ttl(key) <= 300

    rds.expire(key, 7)  # every turn renews the TTL to SESSION_TTL
    answers = [chat(agent, "turn %d" % n, ip=ip)[1]["response"] for n in range(2, 8)]
    assert rds.ttl(key) > 7
    assert rds.llen(key) == 7  # the app never trims
    assert "4 earlier turns" in answers[3] and "5 earlier turns" in answers[5]  # the prompt reads the last 5
    elements = [json.loads(item) for item in rds.lrange(key, 0, -1)]
    assert [item["message"] for item in elements[1:]] == ["turn %d" % n for n in range(2, 8)]
    assert all(item["context"] == {} for item in elements[1:])

    documents = docs(world, ip)
    assert len(documents) == 7
    assert set(documents[0]) == {"_id", "ip", "timestamp", "message", "response", "context", "created_at"}
    assert [(d["timestamp"], d["message"], d["response"]) for d in documents] == [
        (e["timestamp"], e["message"], e["response"]) for e in elements]
    assert isinstance(documents[0]["created_at"], datetime.datetime)
    indexes = {name: spec["key"] for name, spec in
               world["m"]["agent_bruno"]["conversations"].index_information().items()}
    assert {"ip_1", "timestamp_1", "ip_1_timestamp_-1"} <= set(indexes)


def test_client_ip_falls_back_to_the_peer_address(world):
    agent = world["agent"]
    assert agent.call("POST", "/chat", {"message": "no proxy"})[0] == 200
    assert world["r"].llen("bruno:session:127.0.0.1") >= 1
    assert agent.call("DELETE", "/memory/127.0.0.1")[0] == 200


def test_concurrent_turns_of_one_ip_are_all_kept(world):
    agent, ip = world["agent"], "203.0.113.29"
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda n: chat(agent, "c%d" % n, ip=ip)[0], range(16)))
    assert statuses == [200] * 16
    messages = [json.loads(e)["message"] for e in world["r"].lrange("bruno:session:%s" % ip, 0, -1)]
    assert sorted(messages) == sorted("c%d" % n for n in range(16))
    assert sorted(d["message"] for d in docs(world, ip)) == sorted(messages)
    agent.call("DELETE", "/memory/%s" % ip)


def test_memory_endpoints(world):
    agent, ip = world["agent"], "203.0.113.33"
    for n in range(6):
        chat(agent, "m%d" % n, ip=ip)
    status, stats = agent.call("GET", "/memory/%s" % ip)
    assert status == 200
    assert stats == {"ip": ip, "recent_messages": 5, "total_conversations": 6, "has_history": True}
    status, history = agent.call("GET", "/memory/%s/history?limit=4" % ip)
    assert status == 200 and history["ip"] == ip and history["count"] == 4
    assert [item["message"] for item in history["history"]] == ["m5", "m4", "m3", "m2"]  # newest first
    assert isinstance(history["history"][0]["_id"], str)
    assert agent.call("GET", "/memory/%s/history?limit=x" % ip)[0] == 422
    status, cleared = agent.call("DELETE", "/memory/%s" % ip)
    assert status == 200 and cleared == {"status": "success", "message": "Memory cleared for IP: %s" % ip}
    assert world["r"].exists("bruno:session:%s" % ip) == 0
    assert docs(world, ip) == []  # the real app deletes the MongoDB history too
    assert agent.call("GET", "/memory/%s" % ip)[1]["has_history"] is False


def test_health_ready_status_stats_and_metrics(world):
    agent = world["agent"]
    assert agent.call("GET", "/health") == (200, {"status": "healthy", "service": "agent-bruno"})
    assert agent.call("GET", "/ready") == (200, {"status": "ready", "service": "agent-bruno", "degraded": False,
                                                 "health": {"redis": True, "mongodb": True, "overall": True}})
    assert agent.call("GET", "/status")[1]["status"] == "healthy"
    for gone in ("/healthz", "/debug/memory"):
        assert agent.call("GET", gone)[0] == 404
    chat(agent, "for stats", ip="203.0.113.44")
    assert metric_value(agent, "bruno_active_sessions") == 0  # stale until someone calls /stats
    status, stats = agent.call("GET", "/stats")
    sessions = len(world["r"].keys("bruno:session:*"))
    assert status == 200 and stats["active_sessions"] == sessions and stats["total_conversations"] >= 1
    assert set(stats) == {"active_sessions", "total_conversations", "unique_ips"}
    assert metric_value(agent, "bruno_active_sessions") == sessions
    assert metric_value(agent, "bruno_requests_total", {"method": "POST", "endpoint": "/chat", "status": "200"}) >= 1
    assert metric_value(agent, "bruno_request_duration_seconds_count", {"method": "GET", "endpoint": "/stats"}) >= 1
    assert metric_value(agent, "bruno_memory_operations_total", {"operation": "chat", "status": "success"}) >= 1
    assert metric_value(agent, "process_resident_memory_bytes") > 0
    names = {line.split("{")[0].split(" ")[0] for line in metric_lines(agent)}
    bruno = {name for name in names if name.startswith("bruno_")}
    assert not [name for name in names if "pool" in name or "context" in name or "archive" in name]
    assert {re.sub(r"_(bucket|count|sum|created)$", "", name) for name in bruno} == {
        "bruno_requests_total", "bruno_requests", "bruno_request_duration_seconds",
        "bruno_memory_operations_total", "bruno_memory_operations", "bruno_active_sessions"}
    assert not [line for line in metric_lines(agent) if "/lab/" in line]


def test_persistence_broken_writes_redis_only_like_the_published_app(world):
    agent, ip = world["agent"], "203.0.113.55"
    assert agent.call("POST", "/lab/persistence", {"broken": True}) == (200, {"broken": True})
    try:
        status, answer = chat(agent, "is anyone saving this?", ip=ip)
        assert status == 200
        assert answer["response"].startswith("I'm sorry, I encountered an error") and answer["model"] is None
        (element,) = world["r"].lrange("bruno:session:%s" % ip, 0, -1)
        assert json.loads(element)["message"] == "is anyone saving this?"
        assert docs(world, ip) == []
        assert agent.call("GET", "/ready")[1]["status"] == "ready"  # its health check only pings
        assert agent.call("GET", "/stats")[0] == 500
        assert agent.call("GET", "/memory/%s/history" % ip)[0] == 500
        assert agent.call("GET", "/lab/state")[1]["persistence_broken"] is True
    finally:
        assert agent.call("POST", "/lab/persistence", {"broken": False}) == (200, {"broken": False})
    chat(agent, "saved now", ip=ip)
    assert [d["message"] for d in docs(world, ip)] == ["saved now"]
    agent.call("DELETE", "/memory/%s" % ip)


def test_faults_error_and_slow(world):
    agent, ip = world["agent"], "203.0.113.66"
    errors_before = metric_value(agent, "bruno_requests_total",
                                 {"method": "POST", "endpoint": "/chat", "status": "500"}) or 0
    assert agent.call("POST", "/lab/fault", {"kind": "error", "rate": 0.5})[0] == 200
    statuses = [chat(agent, "f%d" % n, ip=ip)[0] for n in range(4)]
    assert sorted(statuses) == [200, 200, 500, 500]
    assert metric_value(agent, "bruno_requests_total",
                        {"method": "POST", "endpoint": "/chat", "status": "500"}) == errors_before + 2
    assert world["r"].llen("bruno:session:%s" % ip) == 2  # a failed request writes no turn
    sum_before = metric_value(agent, "bruno_request_duration_seconds_sum", {"method": "POST", "endpoint": "/chat"})
    assert agent.call("POST", "/lab/fault", {"kind": "slow", "seconds": 0.4})[0] == 200
    assert chat(agent, "slow one", ip=ip)[0] == 200
    sum_after = metric_value(agent, "bruno_request_duration_seconds_sum", {"method": "POST", "endpoint": "/chat"})
    assert sum_after - sum_before >= 0.4  # the answer waited at least the injected delay
    assert agent.call("POST", "/lab/fault", {"kind": "none"})[0] == 200
    assert agent.call("GET", "/lab/state")[1]["fault"]["kind"] == "none"
    assert agent.call("POST", "/lab/fault", {"kind": "explode"})[0] == 400
    agent.call("DELETE", "/memory/%s" % ip)


def test_held_connections_and_leak(world):
    agent, rds = world["agent"], world["r"]

    def from_agent():
        return sum(1 for client in rds.client_list() if client["addr"].startswith(SOURCE_ADDR + ":"))

    before = from_agent()
    assert before >= 1  # the agent's own pool connection, from its LAB_SOURCE_ADDR
    status, held = agent.call("POST", "/lab/hold-connections", {"redis": 5, "mongo": 2})
    assert status == 200 and held == {"redis": 5, "mongo": 2}
    assert from_agent() == before + 5
    rss_before = metric_value(agent, "process_resident_memory_bytes")
    assert agent.call("POST", "/lab/leak", {"bytes": 64 << 20})[1]["retained_bytes"] == 64 << 20
    assert metric_value(agent, "process_resident_memory_bytes") - rss_before > 48 << 20
    status, released = agent.call("POST", "/lab/release")
    assert status == 200 and released["released"]["redis"] == 5 and released["released"]["retained_bytes"] == 64 << 20
    wait_for(lambda: from_agent() == before, 5, "held connections closed")
    assert agent.call("GET", "/lab/state")[1]["held"] == {"redis": 0, "mongo": 0}


def test_a_store_down_while_the_agent_runs(world):
    agent, ip = world["agent"], "203.0.113.77"
    world["redis"].stop()
    try:
        status, answer = chat(agent, "redis is gone", ip=ip)
        assert status == 200 and answer["model"] == "llama3.2:3b"  # answered without context, saved to MongoDB
        ready = agent.call("GET", "/ready")[1]
        assert ready["status"] == "degraded" and ready["health"]["redis"] is False and ready["degraded"] is True
        assert [d["message"] for d in docs(world, ip)] == ["redis is gone"]
    finally:
        world["redis"].start()
    wait_for(lambda: agent.call("GET", "/ready")[1]["status"] == "ready", 10, "agent ready after Redis is back")
    chat(agent, "redis is back", ip=ip)
    assert [json.loads(e)["message"] for e in world["r"].lrange("bruno:session:%s" % ip, 0, -1)] == ["redis is back"]

    world["ferret"].stop()
    try:
        status, answer = chat(agent, "mongo is gone", ip=ip)
        assert status == 200 and answer["model"] is None and answer["response"].startswith("I'm sorry")
        assert world["r"].llen("bruno:session:%s" % ip) == 2  # Redis got the turn before the insert failed
        ready = agent.call("GET", "/ready")[1]
        assert ready["status"] == "degraded" and ready["health"] == {"redis": True, "mongodb": False,
                                                                     "overall": False}
        assert agent.call("GET", "/health")[0] == 200
    finally:
        world["ferret"].start()
    wait_for(lambda: agent.call("GET", "/ready")[1]["status"] == "ready", 20, "agent ready after MongoDB is back")
    assert chat(agent, "mongo is back", ip=ip)[1]["model"] == "llama3.2:3b"
    assert [d["message"] for d in docs(world, ip)] == ["redis is gone", "redis is back", "mongo is back"]
    assert "Redis operation failed" in agent.log_text() or "Redis health check" in agent.log_text() or \
        "degraded mode" in agent.log_text()
    agent.call("DELETE", "/memory/%s" % ip)


def test_ollama_down_answers_the_apology_and_saves_nothing(world):
    agent, stub, ip = world["agent"], world["stub"], "203.0.113.87"
    assert stub.stop() == 0
    try:
        status, answer = chat(agent, "anyone there?", ip=ip)
        assert status == 200 and answer["model"] is None and answer["response"].startswith("I'm sorry")
        assert world["r"].exists("bruno:session:%s" % ip) == 0 and docs(world, ip) == []
        assert "Failed to query LLM" in agent.log_text()
    finally:
        stub.start(wait_path="/api/tags")
    assert chat(agent, "back", ip=ip)[1]["model"] == "llama3.2:3b"
    agent.call("DELETE", "/memory/%s" % ip)


def test_without_lab_mode_and_with_the_real_apps_mongo_timestamps(world):
    env = dict(world["env"], POD_NAME="plain", LAB_MONGO_TIMESTAMP="datetime", LOG_LEVEL="WARNING")
    env.pop("LAB_MODE")
    env.pop("LAB_SOURCE_ADDR")
    plain = Service("agent_bruno", world["work"], env, "agent-plain").start()
    ip = "203.0.113.88"
    try:
        assert plain.call("GET", "/lab/state")[0] == 404
        assert plain.call("POST", "/lab/leak", {"bytes": 1})[0] == 404
        assert chat(plain, "hello", ip=ip)[0] == 200
        (document,) = docs(world, ip)
        assert isinstance(document["timestamp"], datetime.datetime)
        status, history = plain.call("GET", "/memory/%s/history" % ip)
        assert status == 200 and history["history"][0]["timestamp"] == document["timestamp"].isoformat()
        plain.call("DELETE", "/memory/%s" % ip)
    finally:
        assert plain.stop() == 0
    log = plain.log_text()
    assert "POST /chat" not in log and " - INFO - " not in log  # LOG_LEVEL=WARNING: no info or access lines


def test_startup_fails_like_the_real_app_when_mongodb_is_unreachable(world):
    env = dict(world["env"], MONGODB_URL="mongodb://127.0.0.1:%d/?serverSelectionTimeoutMS=300" % procs.free_port())
    broken = Service("agent_bruno", world["work"], env, "agent-nomongo").start(wait_path=None)
    assert broken.proc.wait(30) == 3
    assert "Application startup failed" in broken.log_text()


def test_sigterm_stops_cleanly_and_logs_no_password(world):
    agent = world["agent"]
    assert agent.stop() == 0
    log = agent.log_text()
    assert PASSWORD not in log
    assert "Shutting down" in log and "Shutdown complete" in log
    assert re.search(r'INFO: +127\.0\.0\.1:\d+ - "POST /chat HTTP/1\.1" 200 OK', log)

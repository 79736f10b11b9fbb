"""remediation_verify's agent checks against the lab agent's real API (lab/agent_bruno, the real app's
interface), started here on free ports with its own Redis and FerretDB and the Ollama stand-in: GET /health and
/ready, POST /chat {message, context} sent as the documentation address 192.0.2.10, then DELETE /memory/192.0.2.10.
No session of that address is left in Redis, a user's session is untouched, and no chat text is in the output.
(The Kubernetes half of the module, and verify.yml as a whole, run against the lab in test_lock_and_verify.py.)"""

import os
import sys

import pytest
import redis

from ansible_collections.bruno.ops.plugins.module_utils.clients.http_client import HttpClient
from ansible_collections.bruno.ops.plugins.modules import remediation_verify
from bruno_it import REDIS_PASSWORD, ROOT
from labctl import procs

KEY = "bruno:session:"
USER = "203.0.113.77"  # stands for a real user: its session must stay as it is


@pytest.fixture(scope="module")
def agent(redis_server, ferretdb_server, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("agent")
    env = dict(os.environ, PYTHONPATH=str(ROOT / "lab"), LISTEN_ADDR="127.0.0.1", LOG_LEVEL="WARNING")
    stub, stub_port = procs.Proc(run_dir, "ollama"), procs.free_port()
    stub.start([sys.executable, "-m", "agent_bruno.ollama_stub"], env=dict(env, PORT=str(stub_port)))
    port = procs.free_port()
    proc = procs.Proc(run_dir, "agent")
    proc.start([sys.executable, "-m", "agent_bruno"], env=dict(
        env, PORT=str(port), OLLAMA_URL="http://127.0.0.1:%d" % stub_port,
        REDIS_URL="redis://:%s@127.0.0.1:%d/0" % (REDIS_PASSWORD, redis_server.port),
        MONGODB_URL="mongodb://127.0.0.1:%d/?serverSelectionTimeoutMS=2000" % ferretdb_server.port,
        MONGODB_DB="agent_bruno_verify_it"))
    try:
        procs.wait_until(lambda: procs.http_ok("http://127.0.0.1:%d/health" % port), 30, "agent-bruno", proc)
        yield "http://127.0.0.1:%d" % port
    finally:
        proc.stop()
        stub.stop()


@pytest.fixture
def store(redis_server):
    client = redis.Redis(host="127.0.0.1", port=redis_server.port, password=REDIS_PASSWORD, decode_responses=True)
    yield client
    client.delete(KEY + remediation_verify.verify_checks.DEFAULT_TEST_ADDRESS, KEY + USER)
    client.close()


def params(url, **extra):
    defaults = {name: spec.get("default") for name, spec in remediation_verify.ARGUMENT_SPEC.items()}
    return dict(defaults, endpoint={"url": url, "timeout": 10.0, "headers": {}}, **extra)


def test_smoke_chat_from_the_test_address_leaves_no_session_and_no_text(agent, store):
    user = HttpClient({"url": agent})
    user.request("/chat", method="POST", body={"message": "hello, I am a real user"},
                 headers={"X-Forwarded-For": USER})
    user_turns = store.lrange(KEY + USER, 0, -1)
    assert len(user_turns) == 1

    args = params(agent)
    check, notes, warnings = remediation_verify.chat(HttpClient(args["endpoint"]), args)
    assert check["passed"] is True, check
    assert (notes, warnings) == ([], [])
    evidence = check["evidence"]
    assert evidence["status"] == 200 and evidence["model"] and evidence["timestamp"]
    assert evidence["cleanup"] == {"address": "192.0.2.10", "seen_before_delete": 1, "deleted": True, "gone": True,
                                   "error": None, "note": None}
    assert evidence["response_chars"] > 0 and "response" not in evidence and "message" not in evidence
    assert not store.exists(KEY + "192.0.2.10")  # the acceptance: no session of the test address is left
    assert store.lrange(KEY + USER, 0, -1) == user_turns  # nor was a user's session touched

    health = remediation_verify.health(HttpClient(args["endpoint"]), args)
    assert health["passed"] is True, health
    assert health["evidence"]["/ready"] == {"status_code": 200, "status": "ready"}


def test_without_cleanup_the_session_stays_and_the_result_says_so(agent, store):
    args = params(agent, chat_cleanup=False, redact=False)
    check, notes, _warnings = remediation_verify.chat(HttpClient(args["endpoint"]), args)
    assert check["passed"] is True and "cleanup" not in check["evidence"]
    assert check["evidence"]["response"]  # redact=false shows the answer
    assert any("chat_cleanup is off" in note for note in notes)
    assert store.llen(KEY + "192.0.2.10") == 1


def test_a_failed_delete_fails_the_check_and_says_what_is_left(agent, store):
    args = params(agent, memory_path="/no-such-memory")  # DELETE answers 404: nothing was deleted
    check, _notes, _warnings = remediation_verify.chat(HttpClient(args["endpoint"]), args)
    assert check["passed"] is False
    assert "DELETE /no-such-memory/192.0.2.10 failed" in check["summary"]
    assert "the smoke chat's session of 192.0.2.10 is left behind" in check["summary"]
    assert store.llen(KEY + "192.0.2.10") == 1

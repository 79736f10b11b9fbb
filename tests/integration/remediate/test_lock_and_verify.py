"""bruno.ops.change_lock and bruno.ops.remediation_verify against the lab's apiserver (remediate-it/it-agent), and
verify.yml against the lab's agent-bruno and its real chat API."""

import datetime
import json

import pytest
import redis
import remediatelab as rl

from bruno_it import kubectl, run_lab, run_module, run_playbook
from labctl import layout

LOCK = "bruno.ops.change_lock"
VERIFY = "bruno.ops.remediation_verify"


@pytest.fixture(scope="module")
def agent(lab):
    rl.create_namespace()
    rl.fresh_deployment()
    yield rl.get()
    rl.delete_namespace()


def lease():
    out = kubectl("-n", rl.NS, "get", "lease", "it-lock", "-o", "json", check=False)
    return json.loads(out.stdout) if out.returncode == 0 else None


def lock(holder, **extra):
    return run_module(LOCK, dict({"kubernetes": rl.ADMIN, "namespace": rl.NS, "name": "it-lock", "holder": holder,
                                  "purpose": "test"}, **extra))


def test_change_lock_acquire_conflict_cooldown_release(agent):
    rc, result, _raw = run_module(LOCK, {"kubernetes": rl.ADMIN, "namespace": rl.NS, "name": "it-lock",
                                         "holder": "run-a"}, check=True)
    assert rc == 0 and result["changed"] is True and result["after"]["holder"] == "run-a"
    assert lease() is None  # check mode: a server-side dry run only

    rc, result, _raw = lock("run-a", ttl=300)
    assert rc == 0 and result["changed"] is True
    assert lease()["spec"]["holderIdentity"] == "run-a"
    change = result["change"]
    assert (change["action"], change["target"]) == ("acquire_lock", "lease %s/it-lock" % rl.NS)
    assert change["before"] == {"holder": None, "phase": "absent"} and change["after"] == {"holder": "run-a",
                                                                                           "phase": "held"}
    rc, result, _raw = lock("run-a", ttl=300)
    assert rc == 0 and result["changed"] is False  # our own lock: renewed, not a change

    rc, result, _raw = lock("run-b")
    assert rc != 0 and result["error"]["kind"] == "conflict"
    assert "is held by run-a since" in result["msg"] and "expires at" in result["msg"]
    assert "purpose: test" in result["msg"]

    rc, result, _raw = lock("run-b", state="released")
    assert rc == 0 and result["changed"] is False and lease()["spec"]["holderIdentity"] == "run-a"  # never stolen

    rc, result, _raw = lock("run-a", state="released", cooldown=120)
    assert rc == 0 and result["after"]["phase"] == "cooldown"
    rc, result, _raw = lock("run-b")
    assert rc != 0 and "in its cooldown after a change by run-a" in result["msg"]

    rc, result, _raw = lock("operator", state="released", force=True)
    assert rc == 0 and result["changed"] is True and lease()["spec"].get("holderIdentity") is None
    rc, result, _raw = lock("run-b")
    assert rc == 0 and lease()["spec"]["holderIdentity"] == "run-b"


def test_change_lock_bad_input(agent):
    rc, result, _raw = lock(" ")
    assert rc != 0 and "holder must not be empty" in result["msg"]
    rc, result, _raw = lock("x", ttl=0)
    assert rc != 0 and "ttl must be at least 1 second" in result["msg"]


def verify(check=False, **extra):
    args = {"kubernetes": rl.ADMIN, "namespace": rl.NS, "name": rl.NAME, "container": "agent", "window": "10s",
            "interval": "5s"}
    return run_module(VERIFY, dict(args, **extra), check=check, timeout=180)


def test_verify_passes_on_a_healthy_workload(agent):
    rl.set_pod_memory("64Mi")
    rl.wait_for_metrics(lambda seen: len(seen) == 2 and all(v == 64 * rl.MIB for v in seen.values()))
    rc, result, _raw = verify(check=True)  # read-only: the same in check mode
    assert rc == 0, result
    assert result["passed"] is True and result["failed_checks"] == []
    assert [c["check"] for c in result["checks"]] == ["rollout", "memory", "no_new_oom_kills"]
    memory = result["checks"][1]["evidence"]["pods"]
    assert len(memory) == 2 and all(p["max_pct_of_limit"] == 6.2 and p["samples"] >= 2 for p in memory.values())
    assert "no agent endpoint" in result["notes"][0]


def test_verify_fails_with_evidence_on_high_memory_and_a_new_oom_kill(agent):
    pods = rl.set_pod_memory("900Mi")
    rl.wait_for_metrics(lambda seen: all(v == 900 * rl.MIB for v in seen.values()))
    since = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=1)).strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    finished = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    status = json.loads(kubectl("-n", rl.NS, "get", "pod", pods[0], "-o", "json").stdout)["status"]
    statuses = status["containerStatuses"]
    statuses[0]["restartCount"] = 1
    statuses[0]["lastState"] = {"terminated": {"reason": "OOMKilled", "exitCode": 137, "startedAt": since,
                                               "finishedAt": finished}}
    kubectl("-n", rl.NS, "patch", "pod", pods[0], "--subresource=status", "--type=merge", "-p",
            json.dumps({"status": {"containerStatuses": statuses}}))
    rc, result, _raw = verify(since=since)
    assert rc != 0 and result["passed"] is False
    assert set(result["failed_checks"]) == {"memory", "no_new_oom_kills"}
    assert "reached 87.9% of its limit" in result["msg"]
    assert "%s was OOMKilled at %s" % (pods[0], finished) in result["msg"]
    rc, result, _raw = verify(since=since, fail_on_failure=False)
    assert rc == 0 and result["passed"] is False  # the evidence without failing the task


def test_verify_playbook_passes_on_the_lab_agents_chat_api_and_leaves_no_session(lab):
    """The acceptance: verify.yml against the lab agent (POST /chat as 192.0.2.10, then DELETE /memory/192.0.2.10);
    afterwards Redis holds no session of the test address."""
    run_lab("scenario", "healthy")
    store = redis.Redis(host=layout.HOST, port=layout.PORTS["redis"], decode_responses=True)
    try:
        out = run_playbook("playbooks/verify.yml", {"verify_window": "10s", "verify_interval": "5s"}, timeout=300)
        assert out.returncode == 0, out.stdout[-4000:]
        printed = " ".join(out.stdout.split())  # the yaml callback folds long lines
        assert "verify passed" in printed
        assert "POST /chat answered 200 with a response; the smoke session of 192.0.2.10 was removed" in printed
        assert "GET /health healthy and GET /ready ready" in printed
        assert not store.exists("bruno:session:192.0.2.10")
    finally:
        store.close()

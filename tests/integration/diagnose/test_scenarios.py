"""diagnose.yml against the lab: each scenario's signals are there, and the verdict names the injected cause."""

import json
import time
import urllib.request

import pytest
import redis

from bruno_it import kubectl, run_lab, run_playbook
from labctl import components, layout, scenario_specs

NS = "bruno"


def agent_metric(name):
    url = "http://127.0.0.1:%d/metrics" % layout.PORTS["agent"]
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - the lab's loopback agent
        for line in response.read().decode().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
    return None


def diagnose(tmp_path, **extra):
    result = run_playbook("playbooks/diagnose.yml", dict({"diagnose_report_dir": str(tmp_path)}, **extra))
    assert result.returncode == 0, result.stdout[-4000:]
    assert "Traceback" not in result.stdout + result.stderr
    return json.loads((tmp_path / "diagnosis.json").read_text()), result


def check_signals(spec):
    """The scenario's numbers are where every source reports them."""
    pods = json.loads(kubectl("-n", NS, "get", "pods", "-l", "app=agent-bruno", "-o", "json").stdout)["items"]
    top = kubectl("-n", NS, "top", "pods", "-l", "app=agent-bruno", "--no-headers").stdout
    assert "%dMi" % spec.usage_end_mib in top
    client = redis.Redis(port=layout.PORTS["redis"])
    try:
        assert client.dbsize() == spec.sessions
        if spec.hold_redis_connections:
            assert client.info("clients")["connected_clients"] >= spec.hold_redis_connections
    finally:
        client.close()
    for _attempt in range(20):  # the agent caches its session count for up to 10 s
        if agent_metric("bruno_active_sessions") == spec.sessions:
            break
        time.sleep(1)
    assert agent_metric("bruno_active_sessions") == spec.sessions
    for pod in pods:
        (status,) = [s for s in pod["status"]["containerStatuses"] if s["name"] == "agent-bruno"]
        assert status["restartCount"] == spec.oom_kills
        assert (status.get("lastState", {}).get("terminated", {}).get("reason") == "OOMKilled") == bool(spec.oom_kills)


@pytest.mark.parametrize("name", sorted(scenario_specs.SCENARIOS))
def test_the_verdict_names_the_injected_cause(lab, name, tmp_path):
    spec = scenario_specs.get(name)
    run_lab("scenario", name)
    check_signals(spec)
    report, run = diagnose(tmp_path)
    verdict = report["verdict"]
    assert verdict["primary"] == spec.cause, (verdict["headline"], report["facts"])
    if spec.cause == "none":
        assert verdict["headline"].startswith("no memory problem found")
    else:
        assert verdict["causes"][0]["cause"] == spec.cause and verdict["causes"][0]["confidence"] >= 0.5
    assert all(state is True for state in report["sources"].values()), report["sources"]
    assert (tmp_path / "diagnosis.md").read_text().startswith("# agent-bruno memory diagnosis")
    page = (tmp_path / "diagnosis.html").read_text()
    assert page.count("<svg") == len(report["pods"]) and "limit 1.0Gi" in page
    assert "verdict: %s" % spec.cause in run.stdout


def test_check_mode_changes_nothing_on_the_cluster(lab, tmp_path):
    run_lab("scenario", "memory-leak")
    before = kubectl("-n", NS, "get", "deploy,pods", "-o", "jsonpath={.items[*].metadata.resourceVersion}").stdout
    result = run_playbook("playbooks/diagnose.yml", {"diagnose_report_dir": str(tmp_path)}, "--check")
    assert result.returncode == 0, result.stdout[-3000:]
    after = kubectl("-n", NS, "get", "deploy,pods", "-o", "jsonpath={.items[*].metadata.resourceVersion}").stdout
    assert before == after
    assert json.loads((tmp_path / "diagnosis.json").read_text())["verdict"]["primary"] == "memory_leak"


@pytest.mark.parametrize(("scenario", "server", "source"), [
    ("memory-leak", "prometheus", "prometheus"),
    ("session-flood", "redis", "redis"),
    ("healthy", "ferretdb", "mongodb"),
])
def test_a_stopped_source_is_reported_and_lowers_confidence(lab, tmp_path, scenario, server, source):
    run_lab("scenario", scenario)
    full, _run = diagnose(tmp_path / "full")
    (stoppable,) = [c for c in components.ordered() if getattr(c, "name", "") == server]
    stoppable.down()
    try:
        degraded, run = diagnose(tmp_path / "degraded")
    finally:
        stoppable.up()
    assert degraded["sources"][source] is not True
    assert source in degraded["verdict"]["unavailable_sources"]
    assert "rescued=1" in run.stdout
    top_before = full["verdict"]["causes"][0]
    after = next(c for c in degraded["verdict"]["causes"] if c["cause"] == top_before["cause"])
    if scenario == "healthy":
        assert degraded["verdict"]["primary"] == "none"  # MongoDB is no evidence for a healthy pod
    else:
        assert after["confidence"] < top_before["confidence"]
        assert source in after["missing_sources"]

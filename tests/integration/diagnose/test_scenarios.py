"""diagnose.yml against the lab: each scenario's signals are where a real deployment shows them, and the verdict
names the injected cause from them (no pool gauges, a stale bruno_active_sessions, FerretDB's missing connection
counts); the reports are redacted. Needs the live lab: run under `flock /tmp/bruno-lab.lock`."""

import json
import re
from collections import Counter

import pytest
import redis

from bruno_it import kubectl, run_lab, run_playbook
from labctl import components, layout, scenario_specs

NS = "bruno"
IPV4 = re.compile(r"(?<![\d.])(\d{1,3}\.){3}\d{1,3}(?![\d.])")


def diagnose(tmp_path, **extra):
    result = run_playbook("playbooks/diagnose.yml", dict({"diagnose_report_dir": str(tmp_path)}, **extra))
    assert result.returncode == 0, result.stdout[-4000:]
    assert "Traceback" not in result.stdout + result.stderr
    return json.loads((tmp_path / "diagnosis.json").read_text()), result


def session_keys(client):
    return sum(1 for _key in client.scan_iter(match="bruno:session:*", count=10000))


def check_signals(spec):
    """The scenario's numbers are where a real deployment reports them."""
    pods = json.loads(kubectl("-n", NS, "get", "pods", "-l", "app=agent-bruno", "-o", "json").stdout)["items"]
    top = kubectl("-n", NS, "top", "pods", "-l", "app=agent-bruno", "--no-headers").stdout
    assert "%dMi" % spec.usage_end_mib in top
    client = redis.Redis(port=layout.PORTS["redis"])
    try:
        assert session_keys(client) == spec.sessions
        if spec.hold_redis_connections:
            by_addr = Counter(entry["addr"].rsplit(":", 1)[0] for entry in client.client_list())
            assert sum(by_addr.values()) >= spec.hold_redis_connections
    finally:
        client.close()
    for pod in pods:
        (status,) = [s for s in pod["status"]["containerStatuses"] if s["name"] == "agent-bruno"]
        assert status["restartCount"] == spec.oom_kills
        assert (status.get("lastState", {}).get("terminated", {}).get("reason") == "OOMKilled") == bool(spec.oom_kills)
    return len(pods)


def check_report(report, tmp_path):
    facts, verdict = report["facts"], report["verdict"]
    # what every real deployment of agent-bruno shows, whatever the scenario
    assert facts["pool_in_use_pct"] is None  # the app exports no pool gauges ...
    for cause in verdict["causes"]:
        if "pool_in_use_pct" in cause["missing_facts"]:
            assert cause["missing_facts"]["pool_in_use_pct"] == "pool gauges not exported"
    assert facts["redis_maxmemory_policy"] is not None and facts["redis_maxmemory_bytes"] is not None
    assert facts["http_requests"] is not None and facts["ready_degraded"] is not None
    ids = [f["id"] for f in verdict["findings"]]
    if facts["sessions"] and facts["active_sessions_gauge"] is not None and (
            facts["active_sessions_gauge"] == 0 or abs(facts["active_sessions_gauge"] - facts["sessions"])
            > 0.2 * facts["sessions"]):
        assert "active_sessions_stale" in ids  # ... and its gauge stays 0 until someone calls GET /stats
    assert "redis_memory_policy" in ids
    markdown = (tmp_path / "diagnosis.md").read_text()
    assert markdown.startswith("# agent-bruno memory diagnosis")
    assert "REDIS_POOL_SIZE" not in markdown and "MONGO_POOL_SIZE" not in markdown
    for name in ("diagnosis.md", "diagnosis.json", "diagnosis.html"):  # client (and pod) IPs are redacted
        assert not IPV4.search((tmp_path / name).read_text()), name
    return ids


@pytest.mark.parametrize("name", sorted(scenario_specs.SCENARIOS))
def test_the_verdict_names_the_injected_cause(lab, name, tmp_path):
    spec = scenario_specs.get(name)
    run_lab("scenario", name)
    pods = check_signals(spec)
    report, run = diagnose(tmp_path)
    verdict = report["verdict"]
    assert verdict["primary"] == spec.cause, (verdict["headline"], report["facts"])
    if spec.cause == "none":
        assert verdict["headline"].startswith("no memory problem found")
    else:
        assert verdict["causes"][0]["cause"] == spec.cause and verdict["causes"][0]["confidence"] >= 0.5
    assert all(state is True for state in report["sources"].values()), report["sources"]
    check_report(report, tmp_path)
    if spec.hold_redis_connections:  # seen per client address (one per pod), not from the app's gauges
        assert report["facts"]["redis_clients_top_addr"] >= spec.hold_redis_connections // max(pods, 1) // 2
    page = (tmp_path / "diagnosis.html").read_text()
    assert page.count("<svg") == len(report["pods"]) and "limit 1.0Gi" in page
    assert "verdict: %s" % spec.cause in run.stdout


def test_redis_holding_the_only_copy_is_a_finding(lab, tmp_path):
    run_lab("scenario", "persistence-broken")
    try:
        report, _run = diagnose(tmp_path)
    finally:
        run_lab("scenario", "healthy")
    verdict = report["verdict"]
    assert verdict["primary"] == "none"
    (finding,) = [f for f in verdict["findings"] if f["id"] == "app_not_persisting"]
    assert finding["severity"] == "critical" and "Do not trim or expire" in finding["detail"]
    assert finding["evidence"]["conversations_documents"] is not None  # the app's collection was counted
    sessions_fix = next(c["fix"] for c in verdict["causes"] if c["cause"] == "too_many_sessions")
    assert sessions_fix["playbooks"] == []  # nothing expires the only copy
    markdown = (tmp_path / "diagnosis.md").read_text()
    assert markdown.index("Redis holds the only copy") < markdown.index("## Causes, ranked")


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
    # the stopped server's source was rescued (a store down may take another source with it: the agent's /ready
    # waits on it), and the diagnosis went on
    assert "rescued=0" not in run.stdout
    top_before = full["verdict"]["causes"][0]
    after = next(c for c in degraded["verdict"]["causes"] if c["cause"] == top_before["cause"])
    if scenario == "healthy":
        assert degraded["verdict"]["primary"] == "none"  # MongoDB is no evidence for a healthy pod
    else:
        assert after["confidence"] < top_before["confidence"]
        assert source in after["missing_sources"]

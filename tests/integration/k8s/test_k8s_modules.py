"""The Kubernetes modules against the lab's real apiserver (scenario oom-loop: restarts, OOMKilled, events,
memory log lines, previous container logs)."""

import pytest

from bruno_it import ADMIN_KUBECONFIG, AUTOMATION_KUBECONFIG, run_lab, run_module
from labctl import layout, scenario_specs

NS = "bruno"
ADMIN = {"kubeconfig": str(ADMIN_KUBECONFIG)}
SPEC = scenario_specs.get("oom-loop")


@pytest.fixture(scope="module")
def oom_loop(lab):
    run_lab("scenario", "oom-loop")


def test_pod_memory_info_reports_usage_limits_and_oom_kills(oom_loop):
    rc, result, _raw = run_module("bruno.ops.pod_memory_info", {
        "kubernetes": ADMIN, "namespace": NS, "label_selector": "app=agent-bruno", "events_window": "2h"})
    assert rc == 0, result
    assert result["changed"] is False
    summary = result["summary"]
    assert summary["metrics_available"] is True
    assert summary["limits_bytes"] == [1024 * 2 ** 20]
    assert summary["max_usage_bytes"] == SPEC.usage_end_mib * 2 ** 20
    assert summary["total_restarts"] == SPEC.oom_kills * summary["pods"]
    assert sorted(summary["oom_killed_pods"]) == sorted(p["name"] for p in result["pods"])
    assert summary["memory_events"]["OOMKilled"] == SPEC.oom_kills * summary["pods"]
    container = result["pods"][0]["containers"][0]
    assert container["last_state"]["reason"] == "OOMKilled" and container["last_state"]["exit_code"] == 137
    assert container["request_bytes"] == 256 * 2 ** 20


def test_pod_memory_info_on_a_missing_namespace_is_empty_not_an_error(lab):
    rc, result, _raw = run_module("bruno.ops.pod_memory_info", {"kubernetes": ADMIN, "namespace": "no-such-ns"})
    assert rc == 0 and result["summary"]["pods"] == 0


def test_pod_log_scan_counts_memory_lines_including_the_crashed_container(oom_loop):
    rc, result, _raw = run_module("bruno.ops.pod_log_scan", {
        "kubernetes": ADMIN, "namespace": NS, "label_selector": "app=agent-bruno", "since": "1h"}, check=True)
    assert rc == 0, result
    previous = [log for log in result["logs"] if log["previous"]]
    current = [log for log in result["logs"] if not log["previous"]]
    assert previous and len(previous) == len(current) == result["summary"]["pods"]
    assert all(log["error"] is None for log in result["logs"])
    assert all(log["matches"]["MemoryError"] >= 1 and log["matches"]["memory"] >= 2 for log in previous)
    assert any("MemoryError" in line for line in previous[0]["samples"])
    assert result["summary"]["matches"]["memory"] >= 2 * len(current)


def test_pod_log_scan_rejects_a_bad_regex(lab):
    rc, result, _raw = run_module("bruno.ops.pod_log_scan", {"kubernetes": ADMIN, "namespace": NS,
                                                             "patterns": ["memory(", "leak"]})
    assert rc != 0
    assert "patterns: 'memory(' is not a valid regular expression" in result["msg"]


def test_pod_memory_probe_measures_the_agent_process(oom_loop):
    # The real app has no memory endpoint: the probe reads its /metrics (prometheus_client's process_* samples).
    rc, result, _raw = run_module("bruno.ops.pod_memory_probe", {
        "kubernetes": ADMIN, "namespace": NS, "label_selector": "app=agent-bruno", "process_match": "agent_bruno",
        "debug_url": "http://127.0.0.1:%d/metrics" % layout.PORTS["agent"]}, check=True)
    assert rc == 0, result
    assert result["summary"]["probed"] == result["summary"]["pods"] >= 1
    probe = result["probes"][0]
    assert probe["rc"] == 0 and probe["error"] is None
    assert "agent_bruno" in probe["cmdline"]
    assert probe["process"]["rss_bytes"] > 1024 * 1024
    assert probe["source"] in ("proc", "psutil")
    assert probe["app"]["metrics"]["process_resident_memory_bytes"] > 0 and probe["errors"] == []


def test_pod_memory_probe_reports_a_failing_exec_per_pod(lab):
    rc, result, _raw = run_module("bruno.ops.pod_memory_probe", {
        "kubernetes": ADMIN, "namespace": NS, "label_selector": "app=agent-bruno", "container": "no-such-container",
        "max_pods": 1})
    assert rc == 0
    assert result["summary"]["failed"] == 1 and result["probes"][0]["error"]


@pytest.mark.parametrize(("kubernetes", "status", "missing"), [
    (ADMIN, "ok", []),
    ({"kubeconfig": str(AUTOMATION_KUBECONFIG)}, "ok", []),
    (dict(ADMIN, impersonate_user="system:serviceaccount:bruno:default"), "limited", ["list pods (diagnose)"]),
])
def test_preflight_checks_the_identity_verb_by_verb(lab, kubernetes, status, missing):
    rc, result, _raw = run_module("bruno.ops.preflight", {"kubernetes": kubernetes, "namespace": NS}, check=True)
    assert rc == 0, result
    (row,) = [r for r in result["backends"] if r["backend"] == "kubernetes"]
    assert row["status"] == status, row["missing_access"]
    assert row["version"] == "v1.34.4" and row["reachable"] and row["authenticated"]
    for verb in missing:
        assert verb in row["missing_access"]
    assert row["identity"]["username"]


def test_preflight_fails_on_missing_remediate_access_when_asked(lab):
    kubernetes = dict(ADMIN, impersonate_user="system:serviceaccount:bruno:default")
    rc, result, _raw = run_module("bruno.ops.preflight", {"kubernetes": kubernetes, "namespace": NS,
                                                          "fail_on": ["remediate_access"]})
    assert rc != 0
    assert "lacks remediate access: patch deployments.apps" in result["msg"]

"""remediate.yml end to end on every lab scenario, as the automation's least-privilege ServiceAccount: the
diagnosis picks the runbook's fix, -e approve=true applies it, and the run ends with verify passing; check mode
changes nothing. The change record tells what was done and how to undo it, and that the image was mutable. To keep
it cheap, the memory-leak run also proves the cooldown (a second run right after it waits)."""

import json

import pytest

from bruno_it import AUTOMATION_KUBECONFIG, kubectl, run_lab, run_playbook
from labctl import scenario_specs

NS = "bruno"
# What the runbook's fix for each cause does, in the change record's words: each module's own `change` entry.
ACTIONS = {
    "none": [],
    "too_many_sessions": ["session_cleanup", "session_archive", "set_env"],
    "connection_pool_exhaustion": ["restart"],
    "memory_leak": ["restart"],
    "large_contexts": ["session_cleanup", "session_archive", "restart"],
    "undersized_limit": ["set_memory_limit"],
}
# The changes that start pods from the pod template: image_policy applies to them.
POD_CHANGES = {"restart", "set_env", "set_memory_limit"}
# cleanup_sessions.yml is one step of two modules; the step changed something when one of them did.
SESSION_STEP = {"session_cleanup", "session_archive"}
# A short verification window, and a time budget for the session cleanup steps: archiving ~100k messages into the
# lab's FerretDB (SQLite) takes many minutes; the budget stops it resumably (docs/sessions.md), as a person
# would bound a 3 a.m. run, and the rest of the plan goes on.
FAST_VERIFY = {"verify_window": "20s", "verify_interval": "5s", "session_cleanup_max_duration": 30}


def remediate(tmp_path, *args, **extra):
    extra_vars = dict({"bruno_kubernetes": {"kubeconfig": str(AUTOMATION_KUBECONFIG)},
                       "diagnose_report_dir": str(tmp_path), "remediate_record_dir": str(tmp_path)}, **FAST_VERIFY)
    extra_vars.update(extra)
    out = run_playbook("playbooks/remediate.yml", extra_vars, *args, timeout=900)
    record = tmp_path / "change-record.json"
    return out, json.loads(record.read_text()) if record.exists() else None


def deployment():
    return json.loads(kubectl("-n", NS, "get", "deployment", "agent-bruno", "-o", "json").stdout)


@pytest.mark.parametrize("scenario", sorted(scenario_specs.SCENARIOS))
def test_remediate_approved_ends_with_verify_passing(lab, tmp_path, scenario):
    spec = scenario_specs.get(scenario)
    run_lab("scenario", scenario)
    out, record = remediate(tmp_path, approve=True)
    assert out.returncode == 0, out.stdout[-4000:]
    assert record["verdict"]["cause"] == spec.cause
    assert record["approved"] is True and record["check_mode"] is False
    if scenario == "session-flood":
        # Most of its sessions' turns are only in Redis (lab/labctl/scenario_specs.py: the first 20k sessions are in
        # MongoDB): the diagnosis says Redis holds the only copy, and the session fix expires nothing.
        # Nothing was changed, so memory is still high and verify says so.
        assert [c["action"] for c in record["changes"]] == [], record["changes"]
        assert "only copy" in out.stdout, out.stdout[-3000:]
        assert record["verify"]["passed"] is False and "memory" in record["verify"]["summary"], record["verify"]
        return
    assert [c["action"] for c in record["changes"]] == ACTIONS[spec.cause]
    assert all(c["changed"] for c in record["changes"] if c["action"] not in SESSION_STEP), record["changes"]
    sessions = [c["changed"] for c in record["changes"] if c["action"] in SESSION_STEP]
    assert not sessions or any(sessions), record["changes"]
    assert record["verify"]["passed"] is True, record["verify"]
    assert all(c["undo"] for c in record["changes"])
    markdown = (tmp_path / "change-record.md").read_text()
    assert "verify passed" in markdown and spec.cause in markdown
    # agent-bruno runs :latest pulled Always: every pod-template change says so (image_policy warn, the default)
    for change in record["changes"]:
        if change["action"] in POD_CHANGES:
            assert change["images"]["action"] == "warned", change
            assert "image warned: container agent-bruno runs" in change["note"]
    if spec.cause == "memory_leak":
        # Still in the cooldown of the change just made: a second run waits instead of stacking a change on it.
        out, _record = remediate(tmp_path, approve=True, restart_not_within="0")
        assert out.returncode != 0
        assert "in its cooldown after a change by" in out.stdout
    if spec.cause == "undersized_limit":
        limit = deployment()["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"]
        assert limit == record["changes"][0]["after"]["memory_limit"] != "1Gi"
        assert "set resources deployment/agent-bruno -c agent-bruno --limits=memory=1Gi" in record["changes"][0]["undo"]


def test_remediate_without_approval_or_in_check_mode_changes_nothing(lab, tmp_path):
    run_lab("scenario", "memory-leak")
    before = deployment()
    out, record = remediate(tmp_path)
    assert out.returncode == 0, out.stdout[-3000:]
    assert "not applied: re-run with -e approve=true to apply it" in out.stdout
    assert record["plan"] and record["changes"] == [] and record["verify"]["passed"] is False
    out, record = remediate(tmp_path, "--check", "--diff", approve=True)
    assert out.returncode == 0, out.stdout[-3000:]
    assert record["check_mode"] is True and [c["action"] for c in record["changes"]] == ["restart"]
    after = deployment()
    assert after["metadata"]["generation"] == before["metadata"]["generation"]
    assert after["spec"]["template"] == before["spec"]["template"]
    leases = kubectl("-n", NS, "get", "lease", "-l", "app.kubernetes.io/managed-by=bruno.ops", "-o", "name").stdout
    assert leases.strip() == ""  # the lock was only dry-run too
    run_lab("scenario", "healthy")  # the lab as the next tests expect it

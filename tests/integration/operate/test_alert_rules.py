"""The Prometheus alert rules in deploy/prometheus: promtool accepts and unit-tests them, the unit tests catch
wrong thresholds and `for:` durations, the PrometheusRule carries exactly the plain file's groups, and every
alert has what Alertmanager, the rulebook and on-call need. docs/alerts.md describes the rules."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
RULES_DIR = ROOT / "deploy" / "prometheus"
RULES = RULES_DIR / "agent-bruno.rules.yml"
PROMETHEUS_RULE = RULES_DIR / "agent-bruno-prometheusrule.yaml"
UNIT_TEST_DIR = RULES_DIR / "tests"
DOCS = ROOT / "docs" / "alerts.md"
TIMEOUT = 120  # seconds for one promtool run; each takes well under one

# Every alert and its severity; the rulebook reacts to AgentBrunoHighMemoryUsage and AgentBrunoOOMKilled.
ALERTS = {
    "AgentBrunoHighMemoryUsage": "warning",
    "AgentBrunoCriticalMemoryUsage": "critical",
    "AgentBrunoMemoryFillingUp": "warning",
    "AgentBrunoOOMKilled": "critical",
    "AgentBrunoTooManySessions": "warning",
}
# Labels every firing alert of the unit tests must carry (Alertmanager webhooks hand them to the rulebook).
# The sessions alert is per namespace: every replica counts the same Redis keys.
TARGET_LABELS = {name: {"namespace", "pod", "container"} for name in ALERTS} | {
    "AgentBrunoTooManySessions": {"namespace"},
}
RUNBOOK_BASE = "https://github.com/bruno-ops/bruno.ops/blob/main/docs/alerts.md#"

WORKING_SET = 'container_memory_working_set_bytes{namespace="bruno", container="agent-bruno"}'

# (what is wrong, text in the rules file, its one-line replacement, the alert whose unit test must then fail);
# every occurrence is replaced, a text of several lines at any indentation. Each mutant is still valid PromQL;
# the unit tests must reject it, or they could not catch that mistake.
MUTANTS = [
    ("warning at 78% instead of 80%", "> 0.80", "> 0.78", "AgentBrunoHighMemoryUsage"),
    ("warning after 5m instead of 10m", "for: 10m", "for: 5m", "AgentBrunoHighMemoryUsage"),
    ("critical at 88% instead of 90%", "> 0.90", "> 0.88", "AgentBrunoCriticalMemoryUsage"),
    ("critical after 3m instead of 5m", "for: 5m", "for: 3m", "AgentBrunoCriticalMemoryUsage"),
    ("limit of any resource, not only memory", ', resource="memory"', "", "AgentBrunoHighMemoryUsage"),
    ("every container, sidecars too", ', container="agent-bruno"', "", "AgentBrunoHighMemoryUsage"),
    ("every namespace", 'namespace="bruno", ', "", "AgentBrunoHighMemoryUsage"),
    (
        "duplicate working-set series not reduced",
        "max by (namespace, pod, container) (\n    %s\n  )" % WORKING_SET,
        WORKING_SET,
        "AgentBrunoHighMemoryUsage",
    ),
    ("growth alert below half the limit", "> 0.50", "> 0", "AgentBrunoMemoryFillingUp"),
    ("growth horizon of 48h instead of 4h", "< 4 * 3600", "< 48 * 3600", "AgentBrunoMemoryFillingUp"),
    ("growth alert after 10m instead of 30m", "for: 30m", "for: 10m", "AgentBrunoMemoryFillingUp"),
    ("OOMKilled without a recent restart", "[15m])", "[15m]) + 1", "AgentBrunoOOMKilled"),
    ("OOMKilled reason at 0 counts", ") == 1", ") >= 0", "AgentBrunoOOMKilled"),
    ("sessions at 40000 instead of 50000", "> 50000", "> 40000", "AgentBrunoTooManySessions"),
    ("sessions after 5m instead of 15m", "for: 15m", "for: 5m", "AgentBrunoTooManySessions"),
    (
        "sessions one alert per replica",
        "max by (namespace) (",
        "max by (namespace, instance) (",
        "AgentBrunoTooManySessions",
    ),
]


def load(path):
    with path.open(encoding="utf-8") as stream:
        return yaml.safe_load(stream)


def alerts(groups):
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def unit_test_files():
    files = sorted(UNIT_TEST_DIR.glob("*.test.yml"))
    assert files, "no promtool unit tests (*.test.yml) in %s" % UNIT_TEST_DIR
    return files


def run(argv, cwd):
    try:
        return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail("%s did not finish within %d s" % (" ".join(argv), TIMEOUT))


@pytest.fixture(scope="module")
def promtool():
    path = shutil.which("promtool")
    if path is None:  # a missing tool is a failed test, never a skip
        pytest.fail("promtool not found on PATH: `make env` installs it (Debian package prometheus)")
    return path


def test_promtool_accepts_the_rules_file(promtool):
    out = run([promtool, "check", "rules", str(RULES)], cwd=ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    rules = sum(len(group["rules"]) for group in load(RULES)["groups"])
    assert "SUCCESS: %d rules found" % rules in out.stdout, out.stdout


def test_promtool_unit_tests_pass(promtool):
    files = unit_test_files()
    out = run([promtool, "test", "rules", *(str(f) for f in files)], cwd=ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "FAILED" not in out.stdout + out.stderr
    assert out.stdout.count("SUCCESS") == len(files), out.stdout


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m[0] for m in MUTANTS])
def test_unit_tests_catch_a_wrong_rule(promtool, tmp_path, mutant):
    """A copy of the rules with one mistake is valid for `check rules` but fails `test rules` on that alert."""
    mistake, old, new, alertname = mutant
    text = RULES.read_text(encoding="utf-8")
    # The mutants are written at the expression's own indentation; match them at any indentation.
    pattern = re.compile(r"\n\s*".join(re.escape(line.strip()) for line in old.split("\n")))
    mutated, count = pattern.subn(lambda _match: new, text)
    assert count, "mutant %r: %r is not in %s any more; update MUTANTS" % (mistake, old, RULES)
    (tmp_path / RULES.name).write_text(mutated, encoding="utf-8")
    shutil.copytree(UNIT_TEST_DIR, tmp_path / "tests")

    check = run([promtool, "check", "rules", RULES.name], cwd=tmp_path)
    assert check.returncode == 0, "mutant %r is not valid PromQL: %s" % (mistake, check.stdout + check.stderr)
    tests = sorted(str(path.relative_to(tmp_path)) for path in (tmp_path / "tests").glob("*.test.yml"))
    out = run([promtool, "test", "rules", *tests], cwd=tmp_path)
    report = out.stdout + out.stderr  # promtool prints the failures on stderr
    assert out.returncode != 0, "the unit tests pass with the mistake %r:\n%s" % (mistake, report)
    # a wrong result names the alert as `alertname: X,`, an evaluation error as `rule: X,`
    assert "FAILED" in report and re.search(r"\b(alertname|rule): %s," % alertname, report), report


def test_every_alert_is_unit_tested_firing_and_silent():
    """Each alert has a case where it fires, with its target labels, and one where it must stay silent."""
    firing, silent, problems = {}, {}, []
    for path in unit_test_files():
        for case in load(path)["tests"]:
            for check in case.get("alert_rule_test") or []:
                name = check["alertname"]
                expected = check.get("exp_alerts") or []
                (firing if expected else silent).setdefault(name, []).append(path.name)
                for alert in expected:
                    missing = TARGET_LABELS.get(name, set()) - set(alert.get("exp_labels") or {})
                    if missing:
                        problems.append("%s: %s fires without labels %s" % (path.name, name, sorted(missing)))
    for name in ALERTS:
        if name not in firing:
            problems.append("%s: no unit test where it fires" % name)
        if name not in silent:
            problems.append("%s: no unit test where it must not fire" % name)
    assert not problems, "\n".join(problems)


def test_prometheusrule_carries_exactly_the_plain_groups():
    plain = load(RULES)
    manifest = load(PROMETHEUS_RULE)
    assert list(plain) == ["groups"], "%s: only `groups` at the top level" % RULES
    assert manifest["apiVersion"] == "monitoring.coreos.com/v1"
    assert manifest["kind"] == "PrometheusRule"
    assert manifest["metadata"]["namespace"] == "bruno"
    assert manifest["metadata"]["labels"]["release"] == "prometheus"  # kube-prometheus-stack's ruleSelector
    assert list(manifest["spec"]) == ["groups"]
    ours, theirs = plain["groups"], manifest["spec"]["groups"]
    assert [g["name"] for g in theirs] == [g["name"] for g in ours]
    for mine, copied in zip(ours, theirs, strict=True):
        assert copied == mine, "group %s of %s differs from %s: copy the groups over again (docs/alerts.md)" % (
            mine["name"],
            PROMETHEUS_RULE.name,
            RULES.name,
        )


def test_every_alert_has_severity_annotations_and_documentation():
    rules = alerts(load(RULES)["groups"])
    docs = DOCS.read_text(encoding="utf-8")
    headings = {line.lstrip("#").strip() for line in docs.splitlines() if line.startswith("#")}
    assert sorted(rule["alert"] for rule in rules) == sorted(ALERTS)
    problems = []
    for rule in rules:
        name = rule["alert"]
        labels, annotations = rule.get("labels") or {}, rule.get("annotations") or {}
        if labels.get("severity") != ALERTS[name]:
            problems.append("%s: severity %r, expected %r" % (name, labels.get("severity"), ALERTS[name]))
        for key in ("summary", "description", "runbook_url"):
            if not str(annotations.get(key) or "").strip():
                problems.append("%s: no %s annotation" % (name, key))
        if annotations.get("runbook_url") != RUNBOOK_BASE + name.lower():
            problems.append(
                "%s: runbook_url %r is not %s" % (name, annotations.get("runbook_url"), RUNBOOK_BASE + name.lower())
            )
        if name not in headings:  # GitHub's anchor of a heading `## Name` is #name
            problems.append("%s: no heading `## %s` in %s for its runbook_url" % (name, name, DOCS.name))
    assert not problems, "\n".join(problems)

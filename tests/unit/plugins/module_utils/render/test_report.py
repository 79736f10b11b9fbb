"""The reports say the findings, what to do, what was missing, and the Redis figures; redacted by default."""

import os

import pytest

from ansible_collections.bruno.ops.plugins.module_utils.decide.verdict import decide
from ansible_collections.bruno.ops.plugins.module_utils.facts import diagnosis_facts
from ansible_collections.bruno.ops.plugins.module_utils.render import report
from ansible_collections.bruno.ops.plugins.modules import diagnosis_report, memory_verdict

GIB = 2 ** 30
ALL = dict.fromkeys(diagnosis_facts.SOURCES, True)
# The published app in a pool-exhaustion state: no pool gauges, FerretDB, nothing persisted, the gauge at 0.
FACTS = dict(
    dict.fromkeys(diagnosis_facts.FACTS), limit_bytes=GIB, usage_max_pct=88.0, p95_pct=86.0, oom_kills=0,
    growth_mib_per_hour=0.5, history_hours=6.0, sessions=2000, session_mean_turns=6.0, sessions_recent_pct=30.0,
    redis_clients=430, redis_maxclients=10000, redis_clients_pct_of_max=4.3, redis_clients_top_addr=420,
    redis_client_addrs=2, redis_maxmemory_bytes=0, redis_maxmemory_policy="noeviction", redis_slowlog_keys=2,
    conversations_documents=0, active_sessions_gauge=0, http_requests=300, http_5xx_pct=0.0,
    chat_latency_p95_seconds=4.0, ready_degraded=0, log_pool_error_lines=12, log_timeout_lines=3,
    log_persistence_error_lines=40, log_memory_lines=0, container_env=["REDIS_URL", "SESSION_TTL"])
SERVER = {"clients_by_addr": [{"addr": "10.42.0.17", "connections": 420, "names": []},
                              {"addr": "10.42.0.18", "connections": 10, "names": ["agent"]}]}


@pytest.fixture(name="document")
def document_fixture():
    decided = memory_verdict.with_fixes(decide(FACTS, ALL), FACTS["container_env"])
    return diagnosis_report.build_document({
        "verdict": {"verdict": decided, "facts": FACTS, "sources": ALL}, "pods": [], "series": [],
        "limit_bytes": GIB, "title": "agent-bruno memory diagnosis", "target": "bruno/app=agent-bruno",
        "generated_at": "2026-12-02T20:15:00Z",
        "extra": {"redis_server": SERVER, "log_samples": ["Saved message for IP: 203.0.113.57"]}})


def test_the_markdown_leads_with_findings_and_what_to_do(document):
    text = report.render_markdown(document)
    assert document["verdict"]["primary"] == "connection_pool_exhaustion"
    findings = text.index("## Findings")
    assert findings < text.index("## What to do") < text.index("## Causes, ranked")
    assert "**Redis holds the only copy of the conversations** (critical)" in text
    assert "**bruno_active_sessions is stale** (warning)" in text and "census counts 2000" in text
    assert "KEYS commands in the Redis SLOWLOG" in text and "no maxmemory" in text
    assert "1. `playbooks/restart.yml`" in text and "bound the pools in code" in text
    assert "REDIS_POOL_SIZE" not in text and "MONGO_POOL_SIZE" not in text
    assert "pool gauges not exported" in text  # the missing facts of the pool cause
    assert "| 10.42.0.17 | 420 | - |" in text and "**KEYS in SLOWLOG:** 2" in text
    assert "maxmemory:** no limit (policy noeviction)" in text


def test_the_html_shows_the_findings(document):
    page = report.render_html(document)
    assert "<h2>Findings</h2>" in page and "Redis holds the only copy" in page


def test_the_session_fixes_delete_nothing_in_the_report(document):
    by_cause = {c["cause"]: c["fix"] for c in document["verdict"]["causes"]}
    assert by_cause["too_many_sessions"]["playbooks"] == []
    assert by_cause["large_contexts"]["playbooks"][0]["extra_vars"]["session_cleanup_archive_mode"] == "copy"


class Mover:
    @staticmethod
    def atomic_move(source, destination):
        os.replace(source, destination)


@pytest.mark.parametrize("redact", [True, False])
def test_the_report_is_redacted_by_default(document, tmp_path, redact):
    params = dict(verdict={"verdict": document["verdict"], "facts": FACTS, "sources": ALL}, pods=[], series=[],
                  limit_bytes=GIB, output_dir=str(tmp_path), formats=["json", "markdown", "html"],
                  title="t", target="", generated_at="", redact=redact,
                  extra={"redis_server": SERVER, "log_samples": ["Saved message for IP: 203.0.113.57"],
                         "turn": {"message": "my secret question", "response": "an answer"}})
    result = diagnosis_report.run(params, False, Mover())
    assert result["updated"] == ["json", "markdown", "html"]
    for name in ("diagnosis.json", "diagnosis.md", "diagnosis.html"):
        text = (tmp_path / name).read_text()
        assert ("10.42.0.17" in text) is not redact, name
    written = (tmp_path / "diagnosis.json").read_text()
    assert ("203.0.113.57" in written) is not redact and ("203.0.113.x" in written) is redact
    assert ("my secret question" in written) is not redact
    assert ("<redacted 18 chars>" in written) is redact
    assert diagnosis_report.run(params, False, Mover())["updated"] == []  # unchanged the second time


def test_the_reports_say_why_in_words_and_what_would_change_it(document):
    text = report.render_markdown(document)
    why = text[text.index("## Why"):text.index("## Findings")]
    assert "- **Memory pressure:** usage 88% of the limit (healthy below 70%)" in why
    assert "420 Redis connections from the busiest pod address (threshold 100)" in why
    assert "1. `playbooks/restart.yml` with restart_not_within=\"10m\" (for connection_pool_exhaustion)" in text
    page = report.render_html(document)
    assert "<ul class='why'><li><b>connection pool exhaustion</b> (confidence" in page


def test_two_causes_share_one_plan_in_the_report():
    facts = dict(FACTS, growth_mib_per_hour=60.0, lifetime_hours=6.0, hours_to_limit=2.0)
    decided = memory_verdict.with_fixes(decide(facts, ALL), facts["container_env"])
    assert {decided["primary"], *decided["also"]} == {"connection_pool_exhaustion", "memory_leak"}
    doc = diagnosis_report.build_document({"verdict": {"verdict": decided, "facts": facts, "sources": ALL},
                                           "pods": [], "series": [], "limit_bytes": GIB, "title": "t",
                                           "target": "bruno/app=agent-bruno", "generated_at": "now", "extra": {}})
    text = report.render_markdown(doc)
    plan = text[text.index("## What to do"):text.index("## Causes, ranked")]
    assert plan.count("`playbooks/restart.yml`") == 1
    assert "(for memory_leak and connection_pool_exhaustion)" in plan or \
        "(for connection_pool_exhaustion and memory_leak)" in plan
    assert "runs once for" in plan

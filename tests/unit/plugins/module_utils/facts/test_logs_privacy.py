"""log_scan's pattern groups on the real app's log lines, privacy's redaction, mongo_facts' newest document."""

import datetime

import pytest

from ansible_collections.bruno.ops.plugins.module_utils.facts import log_scan, mongo_facts, privacy

# Lines as agent-bruno writes them: "%(asctime)s - %(name)s - %(levelname)s - %(message)s", with the messages of
# src/memory/redis_store.py, mongo_store.py, src/agent/core.py and src/main.py around redis-py / pymongo errors.
LOG = "\n".join([
    "2026-12-02 20:14:03,123 - src.main - INFO - ✅ Agent Bruno started successfully",
    "2026-12-02 20:14:05,001 - src.memory.redis_store - WARNING - ⚠️  Redis operation failed: Too many connections",
    "2026-12-02 20:14:05,002 - src.memory.redis_store - WARNING - ⚠️  Redis operation failed: "
    "max number of clients reached",
    "2026-12-02 20:14:06,000 - src.memory.redis_store - WARNING - ⚠️  Redis operation failed: "
    "Timeout reading from socket",
    "2026-12-02 20:14:07,000 - src.memory.mongo_store - ERROR - ❌ Failed to save conversation: "
    "localhost:27017: [Errno 111] Connection refused, Timeout: 30s, Topology Description: <...>",
    "2026-12-02 20:14:08,000 - src.agent.core - ERROR - ❌ Chat error: Database objects do not implement truth "
    "value testing or bool(). Please compare with None instead: database is not None",
    "2026-12-02 20:14:09,000 - src.main - WARNING - ⚠️  Service running in degraded mode: Redis=False, MongoDB=True",
    "2026-12-02 20:14:10,000 - src.memory.redis_store - DEBUG - 💾 Saved message for IP: 203.0.113.57",
    "2026-12-02 20:14:11,000 - src.agent.core - ERROR - ⏱️ Ollama request timed out",
    # a store down, a start-up line: neither is a pool, timeout or persistence error
    "2026-12-02 20:14:12,000 - src.memory.mongo_store - ERROR - ❌ MongoDB health check failed: 127.0.0.1:27018: "
    "[Errno 111] Connection refused (configured timeouts: connectTimeoutMS: 20000.0ms)",
    "2026-12-02 20:14:13,000 - src.main - INFO - 🚀 Starting Agent Bruno... (mongodb "
    "mongodb://127.0.0.1:27018/?serverSelectionTimeoutMS=2000/agent_bruno)",
    "2026-12-02 20:14:14,000 - src.memory.redis_store - WARNING - ⚠️  Redis operation failed: Error 110 connecting "
    "to 10.0.0.5:6379. Connection timed out.",
])


def test_the_default_groups_count_the_real_apps_errors():
    groups = log_scan.compile_groups(log_scan.DEFAULT_GROUPS)
    result = log_scan.scan_text(LOG, {}, samples=20, groups=groups, redact=privacy.redact_text)
    assert result["groups"] == {"memory": 0, "pool": 3, "timeout": 4, "persistence": 2}
    assert result["lines"] == 12 and result["matched_lines"] == 7
    assert not any("203.0.113.57" in line for line in result["samples"])


def test_totals_add_groups_up():
    total = log_scan.totals([{"matches": {"a": 1}, "groups": {"pool": 2}}, {"matches": {"a": 0}, "groups": {"pool": 1}},
                             {"matches": {}, "groups": {}}])
    assert total == {"matches": {"a": 1}, "groups": {"pool": 3}, "streams_with_matches": 2}


@pytest.mark.parametrize(("groups", "message"), [
    ({"pool": "Too many"}, "groups.pool: give a list"),
    ({"pool": ["("]}, r"groups.pool: patterns: '\(' is not a valid regular expression"),
])
def test_bad_groups_are_named(groups, message):
    with pytest.raises(ValueError, match=message):
        log_scan.compile_groups(groups)


@pytest.mark.parametrize(("text", "expected"), [
    ("bruno:session:203.0.113.57", "bruno:session:203.0.113.x"),
    ("Saved message for IP: 10.1.2.3 and 192.0.2.10", "Saved message for IP: 10.1.2.x and 192.0.2.x"),
    ("bruno:session:2001:db8:1::5", "bruno:session:2001:db8:1:x"),
    ("2026-12-02T20:14:03.123456 20:14:03", "2026-12-02T20:14:03.123456 20:14:03"),  # times are no IPs
    ("version 1.2.3.4.5 and 999.1.1.1", "version 1.2.3.4.5 and 999.1.1.1"),
    ('{"message": "my \\"secret\\"", "response": "hi", "context": {}}',
     '{"message": "<redacted 13 chars>", "response": "<redacted 2 chars>", "context": {}}'),
    ("{'message': 'call me at 555', 'x': 1}", "{'message': '<redacted 14 chars>', 'x': 1}"),
    ('chat message="hello there" from 198.51.100.7', 'chat message="<redacted 11 chars>" from 198.51.100.x'),
])
def test_redact_text(text, expected):
    assert privacy.redact_text(text) == expected


def test_redact_documents():
    document = {"largest": [{"key": "bruno:session:192.0.2.10", "bytes": 10}],
                "turn": {"timestamp": "2026-12-02T20:14:03", "message": "hello", "response": "hi there"},
                "samples": ["Saved message for IP: 203.0.113.9"], "count": 3, "ok": True, "none": None}
    assert privacy.redact(document) == {
        "largest": [{"key": "bruno:session:192.0.2.x", "bytes": 10}],
        "turn": {"timestamp": "2026-12-02T20:14:03", "message": "<redacted 5 chars>",
                 "response": "<redacted 8 chars>"},
        "samples": ["Saved message for IP: 203.0.113.x"], "count": 3, "ok": True, "none": None}
    assert document["turn"]["message"] == "hello"  # a copy


NOW = datetime.datetime(2026, 12, 2, 20, 15, 0, tzinfo=datetime.timezone.utc).timestamp()


@pytest.mark.parametrize(("document", "expected"), [
    ({"timestamp": "2026-12-02T20:14:03.123456"}, ("2026-12-02T20:14:03.123456", 56.9)),  # the app's naive UTC
    ({"timestamp": "2026-12-02T20:14:00Z"}, ("2026-12-02T20:14:00Z", 60.0)),
    ({"timestamp": datetime.datetime(2026, 12, 2, 19, 15)}, ("2026-12-02T19:15:00", 3600.0)),  # BSON date
    ({"created_at": datetime.datetime(2026, 12, 2, 20, 0)}, ("2026-12-02T20:00:00", 900.0)),
    ({"timestamp": "yesterday"}, (None, None)),
    (None, (None, None)),
    ({"timestamp": "2026-12-02T20:16:00"}, ("2026-12-02T20:16:00", 0.0)),  # clock skew: never negative
])
def test_newest_document(document, expected):
    assert mongo_facts.latest(document, NOW) == expected

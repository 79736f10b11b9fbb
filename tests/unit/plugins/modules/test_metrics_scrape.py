"""Parsing a Prometheus exposition into families and values, and metrics_scrape's argument handling."""

import json

import pytest
from ansible.module_utils.testing import patch_module_args
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from ansible_collections.bruno.ops.plugins.module_utils import errors
from ansible_collections.bruno.ops.plugins.module_utils.facts import metrics_text
from ansible_collections.bruno.ops.plugins.module_utils.facts.diagnosis_facts import extract, missing_reasons
from ansible_collections.bruno.ops.plugins.modules import metrics_scrape


@pytest.fixture(scope="module")
def exposition():
    registry = CollectorRegistry()
    Gauge("bruno_active_sessions", "Session keys", registry=registry).set(23817)
    Gauge("bruno_redis_pool_in_use", "Checked out", registry=registry).set(7)
    requests = Counter("bruno_chat_requests_total", "Chats", ["status"], registry=registry)
    requests.labels("200").inc(40)
    requests.labels("500").inc(2)
    Histogram("bruno_context_messages", "Messages", buckets=(8, 64), registry=registry).observe(12)
    Gauge("bruno_broken", "Not a number", registry=registry).set(float("nan"))
    return generate_latest(registry).decode()


def test_all_families_by_name_with_unlabeled_values(exposition):
    parsed = metrics_text.parse(exposition)
    assert parsed["unlabeled"]["bruno_active_sessions"] == 23817.0
    assert parsed["families"]["bruno_active_sessions"]["type"] == "gauge"
    counter = parsed["families"]["bruno_chat_requests"]
    assert counter["type"] == "counter"
    assert {s["labels"]["status"]: s["value"] for s in counter["samples"]} == {"200": 40.0, "500": 2.0}
    assert parsed["non_finite"] == 1 and parsed["unlabeled"]["bruno_broken"] is None
    assert parsed["samples_kept"] == parsed["samples_total"]
    json.dumps(parsed, allow_nan=False)  # what Ansible has to carry is valid JSON


def test_selection_by_family_or_sample_name_and_missing_names(exposition):
    parsed = metrics_text.parse(exposition, metrics=[
        "bruno_chat_requests_total", "bruno_context_messages_bucket", "bruno_redis_pool_in_use", "nope_total"])
    assert sorted(parsed["families"]) == ["bruno_chat_requests", "bruno_context_messages", "bruno_redis_pool_in_use"]
    assert parsed["missing"] == ["nope_total"]
    buckets = [s for s in parsed["families"]["bruno_context_messages"]["samples"] if s["name"].endswith("_bucket")]
    assert [s["labels"]["le"] for s in buckets] == ["8.0", "64.0", "+Inf"]


def test_max_samples_caps_what_is_returned(exposition):
    parsed = metrics_text.parse(exposition, max_samples=3)
    assert parsed["samples_kept"] == 3 and parsed["samples_total"] > 3


def test_openmetrics_content_type_uses_the_openmetrics_parser():
    text = "# TYPE jobs counter\njobs_total 3 1764000000.5\n# EOF\n"
    parsed = metrics_text.parse(text, "application/openmetrics-text; version=1.0.0; charset=utf-8")
    assert parsed["families"]["jobs"]["samples"][0] == {"name": "jobs_total", "labels": {}, "value": 3.0,
                                                        "timestamp": 1764000000.5}


def test_not_an_exposition_is_an_api_error():
    with pytest.raises(errors.BrunoOpsError, match="not in the Prometheus text format") as caught:
        metrics_text.parse("<html><body>login</body></html>\n")
    assert caught.value.kind == errors.API


def test_missing_library_is_reported_not_raised_at_import(monkeypatch):
    monkeypatch.setattr(metrics_text, "HAS_PROMETHEUS_CLIENT", False)
    with pytest.raises(errors.BrunoOpsError, match="pip install prometheus-client") as caught:
        metrics_text.parse("x 1\n")
    assert caught.value.kind == errors.MISSING_LIBRARY


def run_main(capsys, args):
    with patch_module_args(args), pytest.raises(SystemExit) as exited:
        metrics_scrape.main()
    return exited.value.code, json.loads(capsys.readouterr().out)


def test_endpoint_is_required(capsys):
    code, result = run_main(capsys, {})
    assert code == 1 and "endpoint" in result["msg"]


def test_unreachable_endpoint_names_the_address_not_the_password(capsys):
    code, result = run_main(capsys, {"endpoint": {"url": "http://127.0.0.1:9", "username": "u",
                                                  "password": "s3cret-metrics", "timeout": 2.0}})
    assert code == 1 and result["error"]["kind"] == "unreachable"
    assert "http://127.0.0.1:9/metrics" in result["msg"]
    assert "s3cret-metrics" not in json.dumps(result)


# ------------------------------------------------------------------ the real app's metrics, into the verdict's facts

def real_app_exposition():
    """What agent-bruno's /metrics serves (src/main.py): requests, durations, memory operations, the sessions gauge."""
    registry = CollectorRegistry()
    requests = Counter("bruno_requests_total", "Total requests", ["method", "endpoint", "status"], registry=registry)
    requests.labels("POST", "/chat", "200").inc(180)
    requests.labels("POST", "/chat", "500").inc(20)
    requests.labels("GET", "/health", "200").inc(5000)
    requests.labels("GET", "/ready", "503").inc(7)
    duration = Histogram("bruno_request_duration_seconds", "Request duration", ["method", "endpoint"],
                         registry=registry)
    for _chat in range(180):
        duration.labels("POST", "/chat").observe(0.8)
    for _chat in range(20):
        duration.labels("POST", "/chat").observe(9.0)
    for _probe in range(1000):
        duration.labels("GET", "/health").observe(0.001)
    operations = Counter("bruno_memory_operations_total", "Memory operations", ["operation", "status"],
                         registry=registry)
    operations.labels("chat", "success").inc(200)
    Gauge("bruno_active_sessions", "Active sessions", registry=registry).set(0)
    return generate_latest(registry).decode()


def test_the_real_apps_metrics_become_facts_without_pool_gauges():
    names = ["bruno_requests_total", "bruno_request_duration_seconds", "bruno_memory_operations_total",
             "bruno_active_sessions", "bruno_redis_pool_in_use", "bruno_redis_pool_max"]
    parsed = metrics_text.parse(real_app_exposition(), metrics=names)
    assert parsed["missing"] == ["bruno_redis_pool_in_use", "bruno_redis_pool_max"]
    facts, sources = extract({"agent": {"families": parsed["families"],
                                        "ready": {"status": "degraded", "degraded": True}}})
    assert sources["agent"] is True
    assert facts["http_requests"] == 200 and facts["chat_requests"] == 200
    assert facts["http_5xx_pct"] == 10.0  # probes left out: the 503 of /ready is no served request
    assert facts["chat_latency_p95_seconds"] == 8.75  # 7.5 + 2.5 × 10/20, in the 9 s observations bucket
    assert facts["memory_op_error_pct"] == 0.0
    assert facts["mongo_save_failures"] is None  # the app counts no MongoDB write: unknown, not zero
    assert facts["active_sessions_gauge"] == 0.0 and facts["ready_degraded"] == 1
    assert facts["pool_in_use_pct"] is None
    assert missing_reasons(facts, sources)["pool_in_use_pct"] == "pool gauges not exported"


class FakeClient:
    def __init__(self, answer):
        self.answer = answer
        self.paths = []

    def request(self, path, **_kwargs):
        self.paths.append(path)
        if isinstance(self.answer, Exception):
            raise self.answer
        return 200, {}, self.answer, 1.0


@pytest.mark.parametrize(("answer", "expected"), [
    (b'{"status": "ready", "degraded": false}', {"status_code": 200, "status": "ready", "degraded": False}),
    (b'{"status": "degraded", "health": {"redis": false, "mongodb": true, "overall": false}, "degraded": true}',
     {"status": "degraded", "degraded": True, "health": {"redis": False, "mongodb": True, "overall": False}}),
    (b'{"status": "degraded"}', {"status": "degraded", "degraded": True}),
    (b"<html>", {"status": None, "error": "the answer is not JSON"}),
    (errors.BrunoOpsError("cannot read /ready: HTTP 503", kind=errors.API, status=503),
     {"status_code": 503, "status": "not ready", "degraded": True, "error": "cannot read /ready: HTTP 503"}),
])
def test_read_ready(answer, expected):
    client = FakeClient(answer)
    ready = metrics_scrape.read_ready(client, "ready")
    assert client.paths == ["/ready"] and ready["path"] == "/ready"
    assert {key: ready[key] for key in expected} == expected

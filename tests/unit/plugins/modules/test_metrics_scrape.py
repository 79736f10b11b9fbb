"""Parsing a Prometheus exposition into families and values, and metrics_scrape's argument handling."""

import json

import pytest
from ansible.module_utils.testing import patch_module_args
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from ansible_collections.bruno.ops.plugins.module_utils import errors
from ansible_collections.bruno.ops.plugins.module_utils.facts import metrics_text
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

"""bruno.ops.metrics_scrape against a /metrics page of ours (a real exposition from prometheus_client) and
against a real Prometheus server's own /metrics."""

from gatherlab import run_module

from ansible_collections.bruno.ops.plugins.module_utils.facts import diagnosis_facts

MODULE = "bruno.ops.metrics_scrape"
# What roles/diagnose asks for: the real app's metrics, and the pool gauges only if the app exports them.
AGENT = ["bruno_requests_total", "bruno_request_duration_seconds", "bruno_memory_operations_total",
         "bruno_active_sessions", "bruno_redis_pool_in_use", "bruno_redis_pool_max"]


def test_selected_metrics_with_labels_and_values(metrics_endpoint):
    rc, result, _raw = run_module(MODULE, {"endpoint": metrics_endpoint, "metrics": AGENT, "ready_path": "/ready"})
    assert rc == 0, result
    assert result["changed"] is False
    assert result["url"] == metrics_endpoint["url"] + "/metrics"
    assert result["content_type"].startswith("text/plain")
    assert result["unlabeled"] == {"bruno_active_sessions": 0.0}
    requests = result["families"]["bruno_requests"]
    assert requests["type"] == "counter"
    counted = {(s["labels"]["endpoint"], s["labels"]["status"]): s["value"] for s in requests["samples"]
               if s["name"] == "bruno_requests_total"}
    assert counted == {("/chat", "200"): 1042.0, ("/chat", "500"): 7.0, ("/health", "200"): 900.0}
    assert result["missing"] == ["bruno_redis_pool_in_use", "bruno_redis_pool_max"]  # asked for, not exposed
    assert "not exposed: bruno_redis_pool_in_use, bruno_redis_pool_max" in result["notes"]
    assert not any(name.startswith("filler") for name in result["families"])
    assert result["ready"] == {"path": "/ready", "status_code": 200, "status": "degraded", "degraded": True,
                               "health": {"redis": True, "mongodb": False, "overall": False}, "error": None}
    # what the verdict reads from it
    facts, sources = diagnosis_facts.extract({"agent": result})
    assert sources["agent"] is True
    assert (facts["http_requests"], facts["chat_requests"], facts["http_5xx_pct"]) == (1049, 1049, 0.67)
    assert facts["chat_latency_p95_seconds"] <= 0.25 and facts["ready_degraded"] == 1
    assert facts["pool_in_use_pct"] is None and facts["active_sessions_gauge"] == 0.0
    assert facts["memory_op_error_pct"] == 0.1


def test_a_missing_ready_path_is_reported_not_failed(metrics_endpoint):
    rc, result, _raw = run_module(MODULE, {"endpoint": metrics_endpoint, "metrics": AGENT, "ready_path": "nope"})
    assert rc == 0, result
    assert result["ready"]["status_code"] == 404 and "/nope" in result["ready"]["error"]


def test_everything_up_to_the_sample_cap(metrics_endpoint):
    rc, result, _raw = run_module(MODULE, {"endpoint": metrics_endpoint, "max_samples": 100})
    assert rc == 0, result
    assert result["truncated"] is True
    assert result["samples_kept"] == 100 and result["samples_total"] > 300
    assert sum(len(f["samples"]) for f in result["families"].values()) == 100


def test_check_mode_and_a_wrong_path(metrics_endpoint):
    rc, result, _raw = run_module(MODULE, {"endpoint": metrics_endpoint, "metrics": AGENT}, check=True)
    assert rc == 0 and result["changed"] is False and result["unlabeled"]["bruno_active_sessions"] == 0.0
    assert result["ready"] is None
    rc, result, _raw = run_module(MODULE, {"endpoint": metrics_endpoint, "path": "/nothing"})
    assert rc != 0 and result["error"]["kind"] == "not_found"
    assert "/nothing" in result["msg"]


def test_prometheus_own_metrics(history_prometheus):
    rc, result, _raw = run_module(MODULE, {"endpoint": history_prometheus["conn"],
                                           "metrics": ["prometheus_build_info", "go_goroutines",
                                                       "prometheus_http_requests_total"]})
    assert rc == 0, result
    assert result["missing"] == []
    assert result["unlabeled"]["go_goroutines"] > 0
    (build,) = result["families"]["prometheus_build_info"]["samples"]
    assert build["labels"]["version"].startswith("2.") and build["value"] == 1.0
    assert result["families"]["prometheus_http_requests"]["type"] == "counter"

"""bruno.ops.metrics_scrape against a /metrics page of ours (a real exposition from prometheus_client) and
against a real Prometheus server's own /metrics."""

from gatherlab import run_module

MODULE = "bruno.ops.metrics_scrape"
POOL = ["bruno_active_sessions", "bruno_redis_pool_connections", "bruno_redis_pool_in_use",
        "bruno_chat_requests_total", "bruno_mongo_pool_in_use"]


def test_selected_metrics_with_labels_and_values(metrics_endpoint):
    rc, result, _raw = run_module(MODULE, {"endpoint": metrics_endpoint, "metrics": POOL})
    assert rc == 0, result
    assert result["changed"] is False
    assert result["url"] == metrics_endpoint["url"] + "/metrics"
    assert result["content_type"].startswith("text/plain")
    assert result["unlabeled"] == {"bruno_active_sessions": 23817.0, "bruno_redis_pool_connections": 20.0,
                                   "bruno_redis_pool_in_use": 19.0}
    chats = result["families"]["bruno_chat_requests"]
    assert chats["type"] == "counter"
    assert {s["labels"]["status"]: s["value"] for s in chats["samples"]} == {"200": 1042.0, "503": 7.0}
    assert result["missing"] == ["bruno_mongo_pool_in_use"]  # asked for, not exposed: said so
    assert "not exposed: bruno_mongo_pool_in_use" in result["notes"]
    assert not any(name.startswith("filler") for name in result["families"])


def test_everything_up_to_the_sample_cap(metrics_endpoint):
    rc, result, _raw = run_module(MODULE, {"endpoint": metrics_endpoint, "max_samples": 100})
    assert rc == 0, result
    assert result["truncated"] is True
    assert result["samples_kept"] == 100 and result["samples_total"] > 300
    assert sum(len(f["samples"]) for f in result["families"].values()) == 100


def test_check_mode_and_a_wrong_path(metrics_endpoint):
    rc, result, _raw = run_module(MODULE, {"endpoint": metrics_endpoint, "metrics": POOL}, check=True)
    assert rc == 0 and result["changed"] is False and result["unlabeled"]["bruno_active_sessions"] == 23817.0
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

"""The real app's Prometheus metrics, on prometheus_client's default registry (so the process, platform
and GC collectors come with them). No other series: no pool gauges, no info metric."""

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest

REQUESTS = Counter("bruno_requests_total", "Total requests", ["method", "endpoint", "status"])
DURATION = Histogram("bruno_request_duration_seconds", "Request duration", ["method", "endpoint"])
MEMORY_OPERATIONS = Counter("bruno_memory_operations_total", "Memory operations", ["operation", "status"])
ACTIVE_SESSIONS = Gauge("bruno_active_sessions", "Active sessions")

# FastAPI's Response(media_type="text/plain") answers this; CONTENT_TYPE_LATEST is kept for reference.
CONTENT_TYPE = "text/plain; charset=utf-8"
__all__ = ["ACTIVE_SESSIONS", "CONTENT_TYPE", "CONTENT_TYPE_LATEST", "DURATION", "MEMORY_OPERATIONS",
           "REQUESTS", "exposition", "observe"]


def observe(method, endpoint, status, seconds):
    REQUESTS.labels(method=method, endpoint=endpoint, status=str(status)).inc()
    DURATION.labels(method=method, endpoint=endpoint).observe(seconds)


def exposition():
    return generate_latest(REGISTRY)

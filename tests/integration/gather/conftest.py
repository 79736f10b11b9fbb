"""Servers with known contents for the gather modules: a Redis filled with sessions, a Prometheus whose
history was backfilled with promtool before it started, a /metrics page of our own, and documents in the
shared FerretDB. Each server is ours, on a free 127.0.0.1 port, stopped by its PID; every wait is bounded.
The data and the truth about it live in gatherlab.py."""

import datetime
import http.server
import json
import shutil
import subprocess
import threading
import time

import pymongo
import pytest
import redis
from gatherlab import CONVERSATIONS, MONGO_DATABASE, POINTS, REDIS_PASSWORD, STEP, fill_sessions, history
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from labctl import procs, services


@pytest.fixture(scope="module")
def session_redis(server_dir):
    server = services.Redis(server_dir, procs.free_port(), password=REDIS_PASSWORD, name="redis-gather")
    try:
        server.start()
    except procs.LabError as exc:
        pytest.fail("cannot start Redis: %s" % exc)
    client = redis.Redis(host="127.0.0.1", port=server.port, password=REDIS_PASSWORD)
    try:
        truth = fill_sessions(client)
        yield {"conn": {"host": "127.0.0.1", "port": server.port, "password": REDIS_PASSWORD},
               "client": client, "truth": truth}
    finally:
        client.close()
        server.stop()


@pytest.fixture(scope="module")
def history_prometheus(server_dir):
    """A Prometheus that scrapes nothing and holds only the backfilled history (blocks written before it
    starts, so no head block overlaps them)."""
    promtool = shutil.which("promtool")
    if not promtool:
        pytest.fail("promtool not found; run `make env` (Debian package prometheus)")
    end_ts = int(time.time()) - STEP
    server = services.Prometheus(server_dir, procs.free_port(), "global:\n  scrape_interval: 1h\nscrape_configs: []\n",
                                 name="prometheus-history")
    data = server.dir / "data"
    data.mkdir(parents=True, exist_ok=True)
    source = server.dir / "history.om"
    text, series = history(end_ts)
    source.write_text(text)
    out = subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics", "--quiet", str(source), str(data)],
                         capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    try:
        server.start()
    except procs.LabError as exc:
        pytest.fail("cannot start Prometheus: %s" % exc)
    try:
        yield {"conn": {"url": server.url}, "end_ts": end_ts, "start_ts": end_ts - (POINTS - 1) * STEP,
               "series": series}
    finally:
        server.stop()


# ---- A /metrics page of our own --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def metrics_endpoint():
    """agent-bruno's /metrics (src/main.py: requests, durations, memory operations, the sessions gauge; no pool
    gauges) and its /ready answering 200 "degraded" as it does when a store is down."""
    registry = CollectorRegistry()
    Gauge("bruno_active_sessions", "Active sessions", registry=registry).set(0)  # 0 until GET /stats
    requests = Counter("bruno_requests_total", "Total requests", ["method", "endpoint", "status"], registry=registry)
    requests.labels("POST", "/chat", "200").inc(1042)
    requests.labels("POST", "/chat", "500").inc(7)
    requests.labels("GET", "/health", "200").inc(900)
    duration = Histogram("bruno_request_duration_seconds", "Request duration", ["method", "endpoint"],
                         registry=registry)
    for _chat in range(1049):
        duration.labels("POST", "/chat").observe(0.2)
    operations = Counter("bruno_memory_operations_total", "Memory operations", ["operation", "status"],
                         registry=registry)
    operations.labels("chat", "success").inc(1042)
    operations.labels("clear", "error").inc(1)
    for i in range(300):  # enough samples to exercise max_samples
        Gauge("filler_%03d" % i, "filler", registry=registry).set(i)
    pages = {
        "/metrics": ("text/plain; version=0.0.4; charset=utf-8", generate_latest(registry)),
        "/ready": ("application/json", json.dumps({
            "status": "degraded", "service": "agent-bruno", "degraded": True,
            "health": {"redis": True, "mongodb": False, "overall": False}}).encode()),
    }

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path not in pages:
                self.send_response(404)
                self.end_headers()
                return
            content_type, body = pages[self.path]
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield {"url": "http://127.0.0.1:%d" % server.server_address[1]}
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


# ---- FerretDB: documents in a database of our own -----------------------------------------------------------

@pytest.fixture(scope="module")
def archive_mongodb(ferretdb_server):
    client = pymongo.MongoClient(host="127.0.0.1", port=ferretdb_server.port, serverSelectionTimeoutMS=10000)
    try:
        client.drop_database(MONGO_DATABASE)
        # agent-bruno's documents: one per turn, timestamp the turn's naive-UTC ISO string, created_at a date
        now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        turns = [now - datetime.timedelta(minutes=CONVERSATIONS - i) for i in range(CONVERSATIONS)]
        client[MONGO_DATABASE].conversations.insert_many(
            [{"ip": "192.0.2.%d" % (i % 5 + 1), "timestamp": at.isoformat(), "message": "hi %d" % i,
              "response": "hello", "context": {}, "created_at": at} for i, at in enumerate(turns)])
        yield {"conn": {"host": "127.0.0.1", "port": ferretdb_server.port, "database": MONGO_DATABASE},
               "newest": turns[-1]}
        client.drop_database(MONGO_DATABASE)
    finally:
        client.close()

"""Servers with known contents for the gather modules: a Redis filled with sessions, a Prometheus whose
history was backfilled with promtool before it started, a /metrics page of our own, and documents in the
shared FerretDB. Each server is ours, on a free 127.0.0.1 port, stopped by its PID; every wait is bounded.
The data and the truth about it live in gatherlab.py."""

import http.server
import shutil
import subprocess
import threading
import time

import pymongo
import pytest
import redis
from gatherlab import CONVERSATIONS, MONGO_DATABASE, POINTS, REDIS_PASSWORD, STEP, fill_sessions, history
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

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
    registry = CollectorRegistry()
    Gauge("bruno_active_sessions", "Session keys in Redis", registry=registry).set(23817)
    Gauge("bruno_redis_pool_connections", "Connections the Redis pool has open", registry=registry).set(20)
    Gauge("bruno_redis_pool_in_use", "Redis pool connections checked out", registry=registry).set(19)
    chats = Counter("bruno_chat_requests_total", "POST /chat requests by HTTP status", ["status"], registry=registry)
    chats.labels("200").inc(1042)
    chats.labels("503").inc(7)
    for i in range(300):  # enough samples to exercise max_samples
        Gauge("filler_%03d" % i, "filler", registry=registry).set(i)
    body = generate_latest(registry)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path != "/metrics":
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
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
        client[MONGO_DATABASE].conversations.insert_many(
            [{"session": "s%02d" % i, "messages": [{"role": "user", "content": "hi"}] * (i + 1)}
             for i in range(CONVERSATIONS)])
        yield {"conn": {"host": "127.0.0.1", "port": ferretdb_server.port, "database": MONGO_DATABASE}}
        client.drop_database(MONGO_DATABASE)
    finally:
        client.close()

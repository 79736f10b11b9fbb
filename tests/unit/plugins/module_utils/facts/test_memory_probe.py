"""The in-pod probe script, run here against this machine's /proc and a local /metrics page of ours."""

import http.server
import subprocess
import sys
import threading

import pytest

from ansible_collections.bruno.ops.plugins.module_utils.facts import memory_probe

METRICS = (b"# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
           b"# TYPE process_resident_memory_bytes gauge\n"
           b"process_resident_memory_bytes 1.5e+08\n"
           b'python_gc_objects_collected_total{generation="0"} 12.0\n'
           b"bruno_active_sessions 0.0\n")


@pytest.fixture(name="app_url")
def app_url_fixture():
    pages = {"/metrics": METRICS, "/memory": b'{"rss_bytes": 7}', "/html": b"<html></html>"}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = pages.get(self.path)
            self.send_response(200 if body else 404)
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield "http://127.0.0.1:%d" % server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def probe(match, url):
    command = memory_probe.python_command(match, url, 5)
    out = subprocess.run([sys.executable, *command[1:]], capture_output=True, text=True, timeout=30, check=False)
    return memory_probe.parse_python_output(out.stdout)


def test_the_default_matches_the_real_apps_process():
    assert memory_probe.DEFAULT_PROCESS_MATCH == "uvicorn"  # its Dockerfile: python -m uvicorn src.main:app


def test_a_metrics_page_gives_the_process_samples(app_url):
    result = probe(None, app_url + "/metrics")
    assert result["app"] == {"metrics": {"process_resident_memory_bytes": 1.5e8,
                                         'python_gc_objects_collected_total{generation="0"}': 12.0}}
    assert result["errors"] == [] and result["pid"] == 1


def test_json_still_works_and_other_pages_are_an_error(app_url):
    assert probe(None, app_url + "/memory")["app"] == {"rss_bytes": 7}
    html = probe(None, app_url + "/html")
    assert html["app"] is None and "neither JSON nor Prometheus text" in html["errors"][0]


def test_no_matching_process_measures_pid_1():
    result = probe("no-such-process-anywhere-x9", None)
    assert result["pid"] == 1 and "no process matches" in result["errors"][0]

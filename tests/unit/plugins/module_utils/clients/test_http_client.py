"""Error translation of the HTTP layer, against a small local HTTP server (a fake: the real Prometheus
is exercised in tests/integration)."""

import http.server
import json
import threading

import pytest

from ansible_collections.bruno.ops.plugins.module_utils import errors
from ansible_collections.bruno.ops.plugins.module_utils.clients.http_client import HttpClient, PrometheusClient


class Handler(http.server.BaseHTTPRequestHandler):
    routes = {
        "/api/v1/status/buildinfo": (200, {"status": "success", "data": {"version": "9.9.9"}}),
        "/api/v1/bad": (200, {"status": "error", "errorType": "bad_data", "error": "parse error"}),
        "/unauthorized": (401, {"error": "missing token"}),
        "/forbidden": (403, "<html>" + "x" * 5000 + "</html>"),
        "/missing": (404, "not here"),
        "/broken": (500, {"message": "boom"}),
        "/text": (200, "not json"),
    }

    def do_GET(self):
        path = self.path.split("?")[0]
        if path == "/echo-auth":
            status, body = 200, {"authorization": self.headers.get("Authorization")}
        else:
            status, body = self.routes.get(path, (404, "nope"))
        payload = (json.dumps(body) if not isinstance(body, str) else body).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def base_url():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d" % server.server_address[1]
    server.shutdown()
    server.server_close()


def client(url, cls=HttpClient, **extra):
    params = {"url": url, "timeout": 5.0, "validate_certs": True, "headers": {}}
    params.update(extra)
    return cls(params)


@pytest.mark.parametrize(("path", "kind", "status"), [
    ("/unauthorized", errors.AUTH, 401),
    ("/forbidden", errors.FORBIDDEN, 403),
    ("/missing", errors.NOT_FOUND, 404),
    ("/broken", errors.API, 500),
])
def test_http_errors_become_one_exception(base_url, path, kind, status):
    with pytest.raises(errors.BrunoOpsError) as caught:
        client(base_url).request(path)
    assert caught.value.kind == kind
    assert caught.value.details["status"] == status
    assert len(caught.value.message) < 400  # a body excerpt, never a page of HTML


def test_prometheus_envelope(base_url):
    prom = client(base_url, PrometheusClient)
    version, elapsed = prom.build_info()
    assert version == "9.9.9"
    assert elapsed >= 0
    with pytest.raises(errors.BrunoOpsError, match="bad_data: parse error"):
        prom.api("bad")


def test_bearer_token_is_sent(base_url):
    document, _elapsed = client(base_url, bearer_token="tok").get_json("/echo-auth")
    assert document["authorization"] == "Bearer tok"


def test_non_json_is_a_clear_error(base_url):
    with pytest.raises(errors.BrunoOpsError, match="did not return JSON"):
        client(base_url).get_json("/text")


def test_unreachable_names_the_address():
    with pytest.raises(errors.BrunoOpsError) as caught:
        client("http://127.0.0.1:9", timeout=2.0).request("/x")
    assert caught.value.kind == errors.UNREACHABLE
    assert "127.0.0.1:9" in caught.value.message


@pytest.mark.parametrize(("params", "fragment"), [
    ({"url": "localhost:9090"}, "absolute http"),
    ({"url": "http://x", "timeout": -1}, "timeout"),
    ({"url": "http://x", "bearer_token": "t", "password": "p"}, "not both"),
])
def test_bad_options(params, fragment):
    with pytest.raises(errors.BrunoOpsError, match=fragment) as caught:
        HttpClient(dict({"timeout": 5.0}, **params))
    assert caught.value.kind == errors.INVALID

# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""HTTP layer for Prometheus and the agent's own endpoints: one option set, auth, TLS, timeouts, errors."""

from __future__ import annotations

import json
import time
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode

from ansible.module_utils.urls import open_url

from ansible_collections.bruno.ops.plugins.module_utils import errors

# Sub-options of every HTTP endpoint option (`prometheus`, `agent`); documented by the bruno.ops.http fragment.
HTTP_ENDPOINT_SPEC = dict(
    # May carry user:password@: never logged (module_run shows it again when it carries none).
    url=dict(type="str", required=True, no_log=True),
    bearer_token=dict(type="str", no_log=True),
    username=dict(type="str"),
    password=dict(type="str", no_log=True),
    ca_cert=dict(type="path"),
    validate_certs=dict(type="bool", default=True),
    timeout=dict(type="float", default=10.0),
    headers=dict(type="dict", default={}),
)


def http_option(required=False):
    """An HTTP endpoint module option, ready to drop into an argument spec."""
    return errors.connection_option(HTTP_ENDPOINT_SPEC, required)


def describe_address(url):
    """The URL without user info or query string, for messages (never raises, never shows a password)."""
    return errors.display_url(url)


class HttpClient:
    """GET/POST against one base URL; use the methods, they translate errors themselves."""

    service = "HTTP endpoint"
    option = "endpoint"  # the module option these params come from, for messages

    def __init__(self, params):
        url = params.get("url") or ""
        where = "%s.url" % self.option
        parts = errors.split_url(url, where) if "://" in url else {}
        if parts.get("scheme") not in ("http", "https") or not parts.get("host"):
            raise errors.BrunoOpsError(
                "%s url must be an absolute http:// or https:// URL (got %r); fix %s"
                % (self.service, describe_address(url), where), kind=errors.INVALID,
            )
        if params.get("timeout") is not None and params["timeout"] <= 0:
            raise errors.BrunoOpsError("%s.timeout must be a positive number of seconds" % self.option,
                                       kind=errors.INVALID)
        # Credentials in the URL are taken out of it (so no request, redirect or message carries them) and sent
        # as basic auth, like username/password.
        self.username = params.get("username") or parts["username"] or None
        self.password = params.get("password") if params.get("username") else parts["password"]
        if params.get("bearer_token") and (params.get("password") or parts["password"]):
            raise errors.BrunoOpsError(
                "%s: set either bearer_token or username/password (or user info in the url), not both" % self.option,
                kind=errors.INVALID,
            )
        self.params = params
        self.base_url = parts["rest"].split("#", 1)[0].rstrip("/")
        self.address = describe_address(self.base_url)

    def _headers(self, extra=None):
        headers = {"Accept": "application/json, text/plain;q=0.9, */*;q=0.5", "User-Agent": "bruno.ops"}
        headers.update(self.params.get("headers") or {})
        if self.params.get("bearer_token"):
            headers["Authorization"] = "Bearer %s" % self.params["bearer_token"]
        headers.update(extra or {})
        return headers

    def request(self, path, method="GET", *, query=None, body=None, headers=None, action=None):
        """Return (status, headers, bytes, elapsed_ms); raise BrunoOpsError for anything but 2xx."""
        url = self.base_url + "/" + path.lstrip("/")
        if query:
            url += "?" + urlencode(query, doseq=True)
        data = None
        extra = dict(headers or {})
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            extra.setdefault("Content-Type", "application/json")
        action = action or "%s %s" % (method, path)
        where = describe_address(url)
        started = time.monotonic()
        try:
            response = open_url(
                url, data=data, method=method, headers=self._headers(extra),
                timeout=self.params.get("timeout", 10.0),
                validate_certs=self.params.get("validate_certs", True),
                ca_path=self.params.get("ca_cert"),
                url_username=self.username,
                url_password=self.password,
                force_basic_auth=bool(self.username),
                follow_redirects="safe",
            )
            payload = response.read()
            return response.status, dict(response.headers), payload, round((time.monotonic() - started) * 1000.0, 3)
        except HTTPError as exc:
            detail = _error_detail(exc)
            if exc.code == 401:
                kind, hint = errors.AUTH, "; check the bearer_token or username/password"
            elif exc.code == 403:
                kind, hint = errors.FORBIDDEN, "; the credentials are valid but not allowed here"
            elif exc.code == 404:
                kind, hint = errors.NOT_FOUND, "; check the url"
            else:
                kind, hint = errors.API, ""
            raise errors.BrunoOpsError(
                "cannot %s: %s answered HTTP %s%s%s" % (action, where, exc.code, detail, hint),
                kind=kind, address=where, status=exc.code,
            ) from None
        except (URLError, TimeoutError, ConnectionError, OSError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise errors.BrunoOpsError(
                "cannot %s: %s %s is unreachable (%s)" % (action, self.service, where, reason),
                kind=errors.UNREACHABLE, address=where,
            ) from None

    def get_json(self, path, query=None, action=None):
        status, _headers, payload, elapsed = self.request(path, query=query, action=action)
        try:
            return json.loads(payload.decode("utf-8")), elapsed
        except ValueError:
            raise errors.BrunoOpsError(
                "cannot %s: %s %s did not return JSON" % (action or "GET " + path, self.service, self.address),
                kind=errors.API, address=self.address,
            ) from None


class PrometheusClient(HttpClient):
    """The Prometheus HTTP API (v1): unwraps its {"status", "data"} envelope."""

    service = "Prometheus"
    option = "prometheus"

    def api(self, path, query=None, action=None):
        document, elapsed = self.get_json("/api/v1/" + path.lstrip("/"), query=query, action=action)
        if document.get("status") != "success":
            raise errors.BrunoOpsError(
                "cannot %s: Prometheus at %s said %s: %s"
                % (action or path, self.address, document.get("errorType"), document.get("error")),
                kind=errors.API, address=self.address,
            )
        return document.get("data"), elapsed

    def build_info(self):
        """(version, latency_ms) from /api/v1/status/buildinfo."""
        data, elapsed = self.api("status/buildinfo", action="read the Prometheus build info")
        return (data or {}).get("version"), elapsed

    def query(self, promql, at=None):
        """Instant query (/api/v1/query): (data, warnings); data is {"resultType", "result"}.

        `at` is the evaluation time in unix seconds; the server's "now" when None.
        """
        params = {"query": promql}
        if at is not None:
            params["time"] = "%.3f" % at
        return self._api_with_warnings("query", params, "run the instant query %r" % promql)

    def query_range(self, promql, start, end, step):
        """Range query (/api/v1/query_range): (data, warnings); data is {"resultType": "matrix", "result"}.

        `start` and `end` are unix seconds, `step` the resolution in seconds.
        """
        params = {"query": promql, "start": "%.3f" % start, "end": "%.3f" % end, "step": "%g" % step}
        return self._api_with_warnings("query_range", params, "run the range query %r" % promql)

    def _api_with_warnings(self, path, query, action):
        """Like api(), but also returns the envelope's `warnings` (a list of strings, often empty)."""
        document, _elapsed = self.get_json("/api/v1/" + path, query=query, action=action)
        if document.get("status") != "success":
            raise errors.BrunoOpsError(
                "cannot %s: Prometheus at %s said %s: %s"
                % (action, self.address, document.get("errorType"), document.get("error")),
                kind=errors.API, address=self.address,
            )
        return document.get("data") or {}, list(document.get("warnings") or [])


def _error_detail(exc):
    """A short, single-line excerpt of an error body: enough to act on, never a page of HTML."""
    try:
        body = exc.read(2048).decode("utf-8", "replace")
    except Exception:
        return ""
    try:
        doc = json.loads(body)
        text = doc.get("error") or doc.get("message") or ""
    except ValueError:
        text = body
    text = " ".join(text.split())[:200]
    return (" (%s)" % text) if text else ""

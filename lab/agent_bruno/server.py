"""The HTTP side: routes, JSON responses, one log line per request, clean shutdown on SIGTERM/SIGINT."""

from __future__ import annotations

import gc
import json
import logging
import signal
import socket
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit, urlunsplit

import pymongo
import redis
from prometheus_client import CONTENT_TYPE_LATEST

from agent_bruno import __version__, config, core, labknobs, metrics, store

LOG = logging.getLogger("agent_bruno")


def redact(url):
    """A URL with its password replaced by ***, for logs."""
    if not url:
        return url
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = "%s:***@%s" % (parts.username or "", parts.netloc.rsplit("@", 1)[1])
    return urlunsplit(parts._replace(netloc=netloc))


def short_error(exc):
    return "%s: %s" % (type(exc).__name__, str(exc)[:200])


def proc_memory(path="/proc/self/status"):
    """VmRSS, VmHWM, VmSize, VmPeak and VmSwap in bytes, and Threads, from /proc/self/status."""
    out = {}
    wanted = {"VmRSS": "rss_bytes", "VmHWM": "rss_peak_bytes", "VmSize": "vms_bytes", "VmPeak": "vms_peak_bytes",
              "VmSwap": "swap_bytes", "Threads": "threads"}
    with open(path) as status:
        for line in status:
            name, _sep, rest = line.partition(":")
            if name in wanted:
                fields = rest.split()
                value = int(fields[0])
                out[wanted[name]] = value * 1024 if len(fields) > 1 and fields[1] == "kB" else value
    return out


class App:
    """The service's parts, built from a Config."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.archive = store.MongoArchive(cfg) if cfg.mongo_enabled else None
        self.store = store.SessionStore(cfg, self.archive)
        self.metrics = metrics.Metrics(cfg, self.store, self.archive)
        self.lab = labknobs.LabKnobs(cfg, self.store) if cfg.lab_mode else None

    def chat(self, body):
        """(status, response object) for POST /chat."""
        try:
            session_id, message = core.parse_chat_request(body)
            result = self.store.chat(session_id or uuid.uuid4().hex, message)
        except core.BadRequest as exc:
            return 400, {"error": str(exc)}
        except store.Contention as exc:
            return 503, {"error": str(exc)}
        except store.CorruptSession as exc:
            return 500, {"error": str(exc)}
        except redis.RedisError as exc:
            LOG.warning("chat: redis: %s", short_error(exc))
            return 503, {"error": "redis unavailable: %s" % short_error(exc)}
        m = self.metrics
        m.context_messages.observe(result.context_len)
        m.archived.inc(result.archived)
        if result.archive_error:
            m.archive_errors.inc()
        return 200, {"session_id": result.session_id, "reply": result.reply, "turn": result.turn,
                     "context_messages": result.context_len}

    def health(self):
        try:
            self.store.ping()
            redis_state = "ok"
        except redis.RedisError as exc:
            redis_state = "error: " + short_error(exc)
        if self.archive is None:
            mongo_state = "disabled"
        else:
            try:
                with pymongo.timeout(1.5):
                    self.archive.ping()
                mongo_state = "ok"
            except pymongo.errors.PyMongoError as exc:
                mongo_state = "error: " + short_error(exc)
        if redis_state != "ok":
            status, code = "error", 503
        elif mongo_state.startswith("error"):
            status, code = "degraded", 200  # chats still work; archiving waits (contexts grow past the window)
        else:
            status, code = "ok", 200
        return code, {"status": status, "redis": redis_state, "mongo": mongo_state, "pod": self.cfg.pod_name,
                      "version": __version__}

    def memory(self):
        out = proc_memory()
        out["gc"] = {"enabled": gc.isenabled(), "counts": list(gc.get_count()), "thresholds": list(gc.get_threshold()),
                     "generations": gc.get_stats()}
        if self.lab is not None:
            out["lab"] = self.lab.status()
        return out

    def close(self):
        if self.lab is not None:
            self.lab.release()
        self.store.close()
        if self.archive is not None:
            self.archive.close()


class Handler(BaseHTTPRequestHandler):
    server_version = "agent-bruno/" + __version__
    sys_version = ""
    timeout = 30  # an idle or slow client cannot hold a thread (and so shutdown) for longer

    GET_ROUTES = {"/healthz": "get_healthz", "/metrics": "get_metrics", "/debug/memory": "get_memory"}
    POST_ROUTES = {"/chat": "post_chat", "/lab/leak": "post_leak", "/lab/hold-connections": "post_hold",
                   "/lab/release": "post_release"}

    @property
    def app(self):
        return self.server.app

    # -- plumbing ----------------------------------------------------------------------------------------
    def do_GET(self):
        self._dispatch(self.GET_ROUTES, self.POST_ROUTES)

    def do_POST(self):
        self._dispatch(self.POST_ROUTES, self.GET_ROUTES)

    def _dispatch(self, routes, other_routes):
        started = time.monotonic()
        self._status = 0
        path = urlsplit(self.path).path
        lab_path = path.startswith("/lab/")
        try:
            if lab_path and self.app.lab is None:
                self._json(404, {"error": "lab knobs are off (set LAB_MODE=1)"})
            elif path in routes:
                getattr(self, routes[path])()
            elif path in other_routes:
                self._json(405, {"error": "method %s not allowed on %s" % (self.command, path)})
            else:
                self._json(404, {"error": "no route %s" % path})
        except Exception:  # never a traceback to the client
            LOG.exception("%s %s failed", self.command, path)
            if not self._status:
                self._json(500, {"error": "internal error"})
        finally:
            LOG.info("%s %s %d %.1fms", self.command, path, self._status,
                     (time.monotonic() - started) * 1000.0)

    def _send(self, status, body, content_type):
        self._status = status
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status, obj):
        self._send(status, (json.dumps(obj) + "\n").encode(), "application/json")

    def _body(self):
        """The request body, or None after answering 400/413 for a bad or too large Content-Length."""
        raw = self.headers.get("Content-Length")
        if raw is None:
            return b""
        try:
            length = int(raw)
            if length < 0:
                raise ValueError(raw)
        except ValueError:
            self._json(400, {"error": "bad Content-Length"})
            return None
        if length > self.app.cfg.max_body_bytes:
            self.close_connection = True
            self._json(413, {"error": "body larger than %d bytes" % self.app.cfg.max_body_bytes})
            return None
        return self.rfile.read(length)

    def log_message(self, format, *args):  # noqa: A002 - BaseHTTPRequestHandler's signature
        pass  # one line per request comes from _dispatch; protocol errors from log_error

    def log_error(self, format, *args):  # noqa: A002
        LOG.warning("%s - %s", self.address_string(), format % args)

    # -- routes ------------------------------------------------------------------------------------------
    def post_chat(self):
        started = time.monotonic()
        body = self._body()
        if body is None:
            status = self._status
        else:
            status, obj = self.app.chat(body)
            self._json(status, obj)
        m = self.app.metrics
        m.chat_requests.labels(status=str(status)).inc()
        m.chat_seconds.observe(time.monotonic() - started)

    def get_healthz(self):
        self._json(*self.app.health())

    def get_metrics(self):
        self._send(200, self.app.metrics.render(), CONTENT_TYPE_LATEST)

    def get_memory(self):
        self._json(200, self.app.memory())

    def _lab(self, action):
        body = self._body()
        if body is None:
            return
        try:
            data = core.parse_json_object(body)
            self._json(200, action(data))
        except core.BadRequest as exc:
            self._json(400, {"error": str(exc)})

    def post_leak(self):
        self._lab(self.app.lab.leak)

    def post_hold(self):
        body = self._body()
        if body is None:
            return
        try:
            result = self.app.lab.hold(core.parse_json_object(body))
        except core.BadRequest as exc:
            self._json(400, {"error": str(exc)})
            return
        self._json(503 if "error" in result else 200, result)

    def post_release(self):
        self._lab(lambda _data: self.app.lab.release())


class Server(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True  # server_close() waits for requests in flight

    def __init__(self, address, handler, app):
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.app = app
        super().__init__(address, handler)


def main():
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s agent-bruno %(levelname)s %(message)s")
    try:
        cfg = config.from_env()
    except config.ConfigError as exc:
        LOG.error("bad configuration: %s", exc)
        return 2
    app = App(cfg)
    try:
        server = Server((cfg.listen_addr, cfg.port), Handler, app)
    except OSError as exc:
        LOG.error("cannot listen on %s:%d: %s", cfg.listen_addr, cfg.port, exc)
        app.close()
        return 1
    stopping = threading.Event()

    def on_signal(signum, _frame):
        if not stopping.is_set():
            stopping.set()
            LOG.info("signal %d: shutting down", signum)
            # shutdown() waits for serve_forever() to return, which runs in this (the main) thread.
            threading.Thread(target=server.shutdown, name="shutdown", daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    host, port = server.server_address[:2]
    LOG.info("listening on http://%s:%d pod=%s redis=%s mongo=%s session_ttl=%d context_window=%d lab_mode=%s",
             host, port, cfg.pod_name, redact(cfg.redis_url), redact(cfg.mongo_url) or "disabled",
             cfg.session_ttl, cfg.context_window, cfg.lab_mode)
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()
        app.close()
        LOG.info("stopped")
    return 0

"""agent-bruno's HTTP service: the real app's endpoints and JSON on the standard library's HTTP server.

Every request is counted in bruno_requests_total / bruno_request_duration_seconds with its raw path as
`endpoint` (like the real app's middleware), except the lab-only /lab/* controls.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from agent_bruno import __version__, llm, metrics, store, turns
from agent_bruno import config as config_mod
from agent_bruno import lab as lab_mod

LOG = logging.getLogger("src.main")
CORE_LOG = logging.getLogger("src.agent.core")
ACCESS_LOG = logging.getLogger("uvicorn.access")
MAX_BODY = 8 << 20
JSON_TYPE = "application/json"


class Reply:
    __slots__ = ("status", "body", "content_type")

    def __init__(self, status, payload=None, content_type=JSON_TYPE, raw=None):
        self.status = status
        self.content_type = content_type
        self.body = raw if raw is not None else turns.dump_response(payload)


def detail(status, text):
    return Reply(status, {"detail": text})


class Agent:
    """The application: stores, LLM and the handlers of each endpoint (no HTTP parsing here)."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.redis = store.RedisStore(cfg.redis_url, cfg.session_ttl, cfg.source_addr)
        self.mongo = store.MongoStore(cfg.mongodb_url, cfg.mongodb_db, cfg.mongo_timestamp, cfg.persistence_broken)
        self.lab = lab_mod.Lab(cfg, self.mongo)

    def connect(self):
        self.redis.connect()
        self.mongo.connect()
        LOG.info("✅ Memory manager connected")

    def disconnect(self):
        self.lab.release()
        self.redis.disconnect()
        self.mongo.disconnect()

    def health(self):
        redis_ok = self.redis.health_check()
        mongo_ok = self.mongo.health_check()
        return {"redis": redis_ok, "mongodb": mongo_ok, "overall": redis_ok and mongo_ok}

    # --- the agent (core) --------------------------------------------------------------------------
    def converse(self, message, ip, context):
        try:
            recent = self.redis.recent(ip, turns.CONTEXT_TURNS)
            prompt = turns.build_prompt(message, turns.format_context(recent))
            text = llm.generate(self.cfg.ollama_url, self.cfg.ollama_model, prompt)
            now = turns.utcnow()
            turn = turns.make_turn(message, text, context, now)
            self.redis.save_turn(ip, turn)
            self.mongo.save(ip, turn, turns.utcnow() if self.cfg.mongo_timestamp == "datetime" else now)
            return {"success": True, "response": text, "model": self.cfg.ollama_model}
        except Exception as exc:  # pylint: disable=broad-except
            CORE_LOG.error("❌ Chat error: %s", exc)
            return {"success": False, "error": str(exc), "response": turns.APOLOGY}

    # --- endpoints ---------------------------------------------------------------------------------
    def get_root(self, _request):
        return Reply(200, {
            "service": "agent-bruno", "version": __version__, "status": "running",
            "endpoints": {"chat": "/chat", "mcp_chat": "/mcp/chat", "health": "/health", "ready": "/ready",
                          "status": "/status", "metrics": "/metrics", "memory": "/memory/{ip}",
                          "knowledge": "/knowledge/summary"},
        })

    def get_health(self, _request):
        return Reply(200, {"status": "healthy", "service": "agent-bruno"})

    def get_ready(self, _request):
        health = self.health()
        if not health["overall"]:
            LOG.warning("⚠️  Service running in degraded mode: Redis=%s, MongoDB=%s",
                        health["redis"], health["mongodb"])
        return Reply(200, {"status": "ready" if health["overall"] else "degraded", "service": "agent-bruno",
                           "health": health, "degraded": not health["overall"]})

    def get_status(self, _request):
        health = self.health()
        return Reply(200, {"status": "healthy" if health["overall"] else "degraded", "service": "agent-bruno",
                           "ready": True, "health": {"redis": health["redis"], "mongodb": health["mongodb"]},
                           "degraded": not health["overall"]})

    def get_metrics(self, _request):
        return Reply(200, content_type=metrics.CONTENT_TYPE, raw=metrics.exposition())

    def post_chat(self, request):
        message, context, errors = turns.validate_chat(request.body)
        if errors:
            return Reply(422, {"detail": errors})
        if self.cfg.lab_mode:
            fault = self.lab.next_fault()
            if fault and fault[0] == "slow":
                time.sleep(fault[1])
            elif fault and fault[0] == "error":
                LOG.error("❌ Chat error: lab fault (injected 500)")
                return detail(500, "Internal Server Error (lab fault)")
        result = self.converse(message, request.client_ip, context)
        metrics.MEMORY_OPERATIONS.labels(operation="chat", status="success").inc()
        return Reply(200, {"response": result.get("response", turns.HANDLER_APOLOGY),
                           "timestamp": turns.utcnow().isoformat() + "Z",
                           "model": result.get("model"), "sources": ["Agent Bruno"]})

    def get_memory(self, _request, ip):
        try:
            recent = self.redis.recent(ip, turns.CONTEXT_TURNS)
            total = self.mongo.total(ip)
        except Exception as exc:  # pylint: disable=broad-except
            LOG.error("❌ Get memory error: %s", exc)
            return detail(500, str(exc))
        return Reply(200, {"ip": ip, "recent_messages": len(recent), "total_conversations": total,
                           "has_history": total > 0})

    def get_history(self, request, ip):
        limit, errors = turns.query_int(request.query, "limit", 50)
        skip, more = turns.query_int(request.query, "skip", 0)
        if errors or more:
            return Reply(422, {"detail": (errors or []) + (more or [])})
        try:
            history = self.mongo.history(ip, limit, skip)
        except Exception as exc:  # pylint: disable=broad-except
            LOG.error("❌ Get history error: %s", exc)
            return detail(500, str(exc))
        return Reply(200, {"ip": ip, "history": turns.jsonable(history), "count": len(history)})

    def delete_memory(self, _request, ip):
        try:
            self.redis.clear(ip)
            self.mongo.delete(ip)
            LOG.info("🗑️ Cleared all memory for IP: %s", ip)
        except Exception as exc:  # pylint: disable=broad-except
            LOG.error("❌ Clear memory error: %s", exc)
            metrics.MEMORY_OPERATIONS.labels(operation="clear", status="error").inc()
            return detail(500, str(exc))
        metrics.MEMORY_OPERATIONS.labels(operation="clear", status="success").inc()
        return Reply(200, {"status": "success", "message": "Memory cleared for IP: %s" % ip})

    def get_stats(self, _request):
        try:
            active = self.redis.active_sessions()
            total = self.mongo.total()
            unique = self.mongo.unique_ips()
        except Exception as exc:  # pylint: disable=broad-except
            LOG.error("❌ Stats error: %s", exc)
            return detail(500, str(exc))
        metrics.ACTIVE_SESSIONS.set(active)
        return Reply(200, {"active_sessions": active, "total_conversations": total, "unique_ips": len(unique)})

    def get_knowledge_summary(self, _request):
        return Reply(200, {"summary": "Lab stand-in: no homepage knowledge base."})

    def get_knowledge_search(self, request):
        query = request.query.get("q")
        if not query:
            return Reply(422, {"detail": [{"type": "missing", "loc": ["query", "q"], "msg": "Field required",
                                           "input": None}]})
        return Reply(200, {"query": query[-1], "results": []})

    # --- lab-only ----------------------------------------------------------------------------------
    def lab_call(self, request, action):
        body = None
        if request.method == "POST":
            try:
                body = json.loads(request.body.decode("utf-8")) if request.body else {}
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                return detail(400, "body is not JSON: %s" % exc)
        try:
            if action == "hold-connections":
                held, error = self.lab.hold(body)
                return Reply(200, held) if error is None else Reply(503, dict(held, error=error))
            calls = {"leak": lambda: self.lab.leak(body), "release": self.lab.release,
                     "fault": lambda: self.lab.set_fault(body), "persistence": lambda: self.lab.set_persistence(body),
                     "state": self.lab.state}
            return Reply(200, calls[action]())
        except lab_mod.LabRequestError as exc:
            return detail(400, str(exc))


ROUTES = {
    ("GET", "/"): "get_root",
    ("GET", "/health"): "get_health",
    ("GET", "/ready"): "get_ready",
    ("GET", "/status"): "get_status",
    ("GET", "/metrics"): "get_metrics",
    ("POST", "/chat"): "post_chat",
    ("POST", "/mcp/chat"): "post_chat",
    ("GET", "/stats"): "get_stats",
    ("GET", "/knowledge/summary"): "get_knowledge_summary",
    ("GET", "/knowledge/search"): "get_knowledge_search",
}
LAB_ROUTES = {
    ("POST", "/lab/leak"): "leak", ("POST", "/lab/hold-connections"): "hold-connections",
    ("POST", "/lab/release"): "release", ("POST", "/lab/fault"): "fault",
    ("POST", "/lab/persistence"): "persistence", ("GET", "/lab/state"): "state",
}


def _memory_route(method, parts):
    if len(parts) == 4:
        if parts[3] != "history":
            return None, 404, False
        return ("get_history", (parts[2],), False) if method == "GET" else (None, 405, False)
    handlers = {"GET": "get_memory", "DELETE": "delete_memory"}
    return (handlers[method], (parts[2],), False) if method in handlers else (None, 405, False)


def route(method, path, lab_mode):
    """(handler name, args, is_lab) or (None, status, is_lab) for 404/405."""
    parts = path.split("/")
    if len(parts) in (3, 4) and parts[1] == "memory" and parts[2]:
        return _memory_route(method, parts)
    is_lab = lab_mode and path.startswith("/lab/")
    table = LAB_ROUTES if is_lab else ROUTES
    if (method, path) in table:
        return table[(method, path)], (), is_lab
    known = any(known_path == path for _method, known_path in table)
    return None, 405 if known else 404, is_lab


class Request:
    __slots__ = ("method", "path", "query", "body", "client_ip")

    def __init__(self, method, path, query, body, client_ip):
        self.method, self.path, self.query, self.body, self.client_ip = method, path, query, body, client_ip


class Handler(BaseHTTPRequestHandler):
    server_version = "uvicorn"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    timeout = 5  # idle keep-alive connections end after this, so a graceful stop never waits long on them
    agent = None  # set on the subclass made by serve()

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        """The standard library's own lines (errors) go to the app log at debug level."""
        LOG.debug("http: " + format, *args)

    def _handle(self):
        started = time.perf_counter()
        split = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(split.path) or "/"
        query = urllib.parse.parse_qs(split.query, keep_blank_values=True)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._send(detail(413, "Request body too large"))
            self.close_connection = True
            return
        body = self.rfile.read(length) if length > 0 else b""
        ip = turns.client_ip(self.headers.get("X-Forwarded-For"), self.client_address[0])
        request = Request(self.command, path, query, body, ip)
        name, extra, is_lab = route(self.command, path, self.agent.cfg.lab_mode)
        try:
            if name is None:
                reply = detail(extra, "Not Found" if extra == 404 else "Method Not Allowed")
            elif is_lab:
                reply = self.agent.lab_call(request, name)
            else:
                reply = getattr(self.agent, name)(request, *extra)
        except Exception:  # pylint: disable=broad-except
            LOG.exception("unhandled error on %s %s", self.command, path)
            reply = Reply(500, content_type="text/plain; charset=utf-8", raw=b"Internal Server Error")
        self._send(reply)
        if not is_lab:
            metrics.observe(self.command, path, reply.status, time.perf_counter() - started)
        ACCESS_LOG.info('%s:%d - "%s %s HTTP/1.1" %d %s', self.client_address[0], self.client_address[1],
                        self.command, split.path + ("?" + split.query if split.query else ""), reply.status,
                        self.responses.get(reply.status, ("",))[0])

    def _send(self, reply):
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _handle


class Server(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True


def setup_logging(level):
    logging.basicConfig(level=level, format="%(asctime)s - %(name)s - %(levelname)s - %(message)s",
                        stream=sys.stderr, force=True)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s:     %(message)s"))
    ACCESS_LOG.handlers[:] = [handler]
    ACCESS_LOG.propagate = False
    ACCESS_LOG.setLevel(level)
    logging.getLogger("pymongo").setLevel(max(logging.WARNING, logging.getLogger().level))


def main(env=None):
    try:
        cfg = config_mod.from_env(env)
    except config_mod.ConfigError as exc:
        print("agent-bruno: %s" % exc, file=sys.stderr)
        return 2
    setup_logging(cfg.log_level)
    LOG.info("🚀 Starting Agent Bruno... (pod %s, redis %s, mongodb %s/%s, session_ttl %d, ollama %s model %s%s)",
             cfg.pod_name, turns.redact_url(cfg.redis_url), turns.redact_url(cfg.mongodb_url), cfg.mongodb_db,
             cfg.session_ttl, turns.redact_url(cfg.ollama_url), cfg.ollama_model, ", LAB_MODE" if cfg.lab_mode else "")
    agent = Agent(cfg)
    try:
        agent.connect()
    except Exception:  # pylint: disable=broad-except  # the real app: startup fails, the process exits
        LOG.error("Application startup failed. Exiting.")
        agent.redis.disconnect()
        return 3
    handler = type("AgentHandler", (Handler,), {"agent": agent})
    try:
        httpd = Server((cfg.listen_addr, cfg.port), handler)
    except OSError as exc:
        LOG.error("cannot listen on %s:%d: %s", cfg.listen_addr, cfg.port, exc)
        agent.disconnect()
        return 1
    stop = threading.Event()

    def on_signal(signum, _frame):
        LOG.info("received %s", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()
    LOG.info("✅ Agent Bruno started successfully, listening on %s:%d", cfg.listen_addr, httpd.server_address[1])
    while not stop.wait(1.0):
        pass
    LOG.info("👋 Shutting down Agent Bruno...")
    httpd.shutdown()
    httpd.server_close()  # waits for requests in flight
    agent.disconnect()
    LOG.info("✅ Shutdown complete")
    return 0

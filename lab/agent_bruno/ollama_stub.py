"""A small local stand-in for the Ollama API, with deterministic answers (no model, no GPU).

Run: `PYTHONPATH=lab PORT=11434 python -m agent_bruno.ollama_stub` (LISTEN_ADDR default 127.0.0.1).
Implements what agent-bruno calls, POST /api/generate (stream false or true), plus POST /api/chat,
GET /api/tags, GET /api/version and GET / ("Ollama is running"). A model not in OLLAMA_STUB_MODELS
(comma-separated, default llama3.2:3b) answers 404 like Ollama does for a model that is not pulled.
OLLAMA_STUB_DELAY (seconds, default 0) delays every generate/chat answer.

The answer depends only on the prompt: it names how many earlier turns the prompt carries (the
"User:" lines after "Previous conversation:") and the length of the current message, and ends with a
short hash of the whole prompt, so the same conversation always gets the same answers.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = "0.0.0-lab"
DIGEST = hashlib.sha256(b"agent-bruno lab stub model").hexdigest()


def context_turns(prompt):
    """Earlier turns in an agent-bruno prompt: "User:" lines between "Previous conversation:" and the
    current message."""
    start = prompt.find("Previous conversation:")
    end = prompt.rfind("Current User Message:")
    if start < 0:
        return 0
    section = prompt[start:end if end > start else len(prompt)]
    return sum(1 for line in section.splitlines() if line.startswith("User: "))


def current_message(prompt):
    marker = "Current User Message: "
    pos = prompt.rfind(marker)
    if pos < 0:
        return prompt
    text = prompt[pos + len(marker):]
    tail = text.rfind("\n\nAgent Bruno:")
    return text[:tail] if tail >= 0 else text


def answer(prompt):
    message = current_message(prompt)
    ref = hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:8]
    return ("Hello! I am the lab's stand-in LLM. Your message had %d characters and I see %d earlier turns "
            "of our conversation. (ref %s)" % (len(message), context_turns(prompt), ref))


def chat_prompt(messages):
    """A /api/chat message list as one prompt text (the last user message is the current one)."""
    lines = []
    for item in messages[:-1]:
        lines.append("%s: %s" % ("User" if item.get("role") == "user" else "Agent", item.get("content", "")))
    last = messages[-1].get("content", "") if messages else ""
    prefix = "Previous conversation:\n" + "\n".join(lines) + "\n" if lines else ""
    return prefix + "Current User Message: " + str(last)


def created_at():
    return datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")


def models():
    names = [name.strip() for name in os.environ.get("OLLAMA_STUB_MODELS", "llama3.2:3b").split(",")]
    return [name for name in names if name]


def tags():
    return {"models": [{
        "name": name, "model": name, "modified_at": "2026-01-01T00:00:00Z", "size": 2019393189,
        "digest": DIGEST,
        "details": {"parent_model": "", "format": "gguf", "family": "llama", "families": ["llama"],
                    "parameter_size": "3.2B", "quantization_level": "Q4_K_M"},
    } for name in models()]}


def stats(prompt, text):
    return {"total_duration": 1000000, "load_duration": 0, "prompt_eval_count": len(prompt.split()),
            "prompt_eval_duration": 0, "eval_count": len(text.split()), "eval_duration": 1000000}


class Handler(BaseHTTPRequestHandler):
    server_version = "ollama-stub/" + VERSION
    sys_version = ""
    protocol_version = "HTTP/1.1"
    timeout = 5

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        sys.stderr.write("ollama-stub: %s\n" % (format % args))

    def _send(self, status, payload, content_type="application/json"):
        body = payload if isinstance(payload, bytes) else (json.dumps(payload) + "\n").encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # pylint: disable=invalid-name
        if self.path in ("/", ""):
            self._send(200, b"Ollama is running", "text/plain; charset=utf-8")
        elif self.path == "/api/tags":
            self._send(200, tags())
        elif self.path == "/api/version":
            self._send(200, {"version": VERSION})
        else:
            self._send(404, b"404 page not found", "text/plain; charset=utf-8")

    def do_HEAD(self):  # pylint: disable=invalid-name
        self.send_response(200 if self.path in ("/", "") else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self):  # pylint: disable=invalid-name
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        if self.path not in ("/api/generate", "/api/chat"):
            self._send(404, b"404 page not found", "text/plain; charset=utf-8")
            return
        try:
            status, payload, content_type = respond(self.path, raw)
        except StubError as exc:
            status, payload, content_type = exc.status, {"error": str(exc)}, "application/json"
        self._send(status, payload, content_type)


class StubError(Exception):
    def __init__(self, status, text):
        super().__init__(text)
        self.status = status


def request_body(raw):
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise StubError(400, "invalid request body") from None
    if not isinstance(body, dict):
        raise StubError(400, "invalid request body")
    model = body.get("model", "")
    if not model:
        raise StubError(400, "model is required")
    if model not in models():
        raise StubError(404, "model '%s' not found, try pulling it first" % model)
    return body, model


def respond(path, raw):
    """(status, payload, content type) of POST /api/generate or /api/chat; StubError for 4xx."""
    body, model = request_body(raw)
    delay = float(os.environ.get("OLLAMA_STUB_DELAY", "0") or 0)
    if delay > 0:
        time.sleep(delay)
    if path == "/api/generate":
        prompt = str(body.get("prompt", ""))
        text = answer(prompt)
        done = dict({"model": model, "created_at": created_at(), "response": text, "done": True,
                     "done_reason": "stop", "context": [1, 2, 3]}, **stats(prompt, text))
        chunk = {"model": model, "created_at": created_at(), "response": text, "done": False}
        final = dict(done, response="")
    else:
        messages = body.get("messages") or []
        if not isinstance(messages, list) or not all(isinstance(item, dict) for item in messages):
            raise StubError(400, "messages must be a list of objects")
        prompt = chat_prompt(messages)
        text = answer(prompt)
        reply = {"role": "assistant", "content": text}
        done = dict({"model": model, "created_at": created_at(), "message": reply, "done": True,
                     "done_reason": "stop"}, **stats(prompt, text))
        chunk = {"model": model, "created_at": created_at(), "message": reply, "done": False}
        final = dict(done, message={"role": "assistant", "content": ""})
    if body.get("stream", True) is False:
        return 200, done, "application/json"
    # streaming: one chunk with the whole text, then the final object (NDJSON)
    return 200, (json.dumps(chunk) + "\n" + json.dumps(final) + "\n").encode("utf-8"), "application/x-ndjson"


def main():
    addr = os.environ.get("LISTEN_ADDR", "").strip() or "127.0.0.1"
    port = int(os.environ.get("PORT", "11434") or 11434)
    httpd = ThreadingHTTPServer((addr, port), Handler)
    httpd.daemon_threads = True
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_args: stop.set())
    signal.signal(signal.SIGINT, lambda *_args: stop.set())
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
    sys.stderr.write("ollama-stub: listening on %s:%d, models %s\n"
                     % (addr, httpd.server_address[1], ",".join(models())))
    sys.stderr.flush()
    while not stop.wait(1.0):
        pass
    httpd.shutdown()
    httpd.server_close()
    sys.stderr.write("ollama-stub: stopped\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

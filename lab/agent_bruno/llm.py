"""The Ollama client: POST {OLLAMA_URL}/api/generate, non-streaming, like the real app's core.

Errors become LLMError with the real app's wording ("LLM request timed out", "LLM service error: <status>",
"Failed to query LLM: ..."); the chat then answers the apology text and saves nothing.
"""

from __future__ import annotations

import json
import logging
import socket
import urllib.error
import urllib.request

LOG = logging.getLogger("src.agent.core")
TIMEOUT = 60.0
OPTIONS = {"temperature": 0.7, "top_p": 0.9, "top_k": 40}


class LLMError(Exception):
    pass


def generate(base_url, model, prompt, timeout=TIMEOUT):
    url = base_url.rstrip("/") + "/api/generate"
    if not url.startswith(("http://", "https://")):
        raise LLMError("Failed to query LLM: OLLAMA_URL must be an http(s) URL, got %r" % base_url)
    payload = json.dumps({"model": model, "prompt": prompt, "stream": False, "options": OPTIONS}).encode()
    request = urllib.request.Request(  # noqa: S310 - http(s) only, checked above
        url, data=payload, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
            data = json.loads(answer.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        LOG.error("❌ Ollama HTTP error: %s", exc)
        raise LLMError("LLM service error: %d" % exc.code) from None
    except TimeoutError:
        LOG.error("⏱️ Ollama request timed out")
        raise LLMError("LLM request timed out") from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, (socket.timeout, TimeoutError)):
            LOG.error("⏱️ Ollama request timed out")
            raise LLMError("LLM request timed out") from None
        LOG.error("❌ Ollama error: %s", exc.reason)
        raise LLMError("Failed to query LLM: %s" % exc.reason) from None
    except (OSError, ValueError) as exc:
        LOG.error("❌ Ollama error: %s", exc)
        raise LLMError("Failed to query LLM: %s" % exc) from None
    if not isinstance(data, dict):
        raise LLMError("Failed to query LLM: answer is not a JSON object")
    return str(data.get("response", "")).strip()

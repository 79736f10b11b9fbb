"""Pure parts of agent-bruno's data format: session keys, turns, prompts, MongoDB documents, JSON output.

No I/O here; every function is what the real app (brunovlucena/homelab, agent-bruno) does to its data,
written for the lab (README.md beside this file lists where the lab differs).
"""

from __future__ import annotations

import datetime
import json
import re
import urllib.parse

KEY_PREFIX = "bruno:session"  # the real app joins prefix and client IP with ":"
CONTEXT_TURNS = 5  # the real app puts the last 5 turns into the prompt
APOLOGY = "I'm sorry, I encountered an error processing your message. Please try again."
HANDLER_APOLOGY = "Sorry, I encountered an error processing your message. Please try again."
NO_CONTEXT = "No previous conversation context."
# What pymongo raises for `if not db:` (a Database has no truth value): the published app's Mongo calls.
DB_TRUTH_ERROR = ("Database objects do not implement truth value testing or bool(). "
                  "Please compare with None instead: database is not None")

SYSTEM_PROMPT = (
    "You are Agent Bruno, an AI assistant for Bruno's homepage application (lab stand-in).\n"
    "Answer questions about the homepage, remember previous conversations per user (IP-based memory),\n"
    "and keep answers short and friendly."
)


def utcnow():
    """Naive UTC now, like datetime.utcnow() (without its deprecation warning)."""
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def session_key(ip):
    return "%s:%s" % (KEY_PREFIX, ip)


def session_pattern():
    return "%s:*" % KEY_PREFIX


def client_ip(forwarded_for, peer):
    """First X-Forwarded-For entry (stripped) when the header is non-empty, else the peer address."""
    if forwarded_for:
        return forwarded_for.split(",")[0].strip()
    return peer or "unknown"


def make_turn(message, response, context, timestamp):
    """One turn, keys in the real app's order; `context` {} when absent or empty."""
    return {
        "timestamp": timestamp.isoformat(),
        "message": message,
        "response": response,
        "context": context or {},
    }


def encode_turn(turn):
    """The Redis list element: Python's default json.dumps (", " and ": ", ASCII-only)."""
    return json.dumps(turn)


def decode_turns(elements):
    return [json.loads(element) for element in elements]


def format_context(turns):
    """The conversation part of the prompt, from the recent turns (oldest first)."""
    if not turns:
        return NO_CONTEXT
    lines = ["Previous conversation:"]
    for turn in turns:
        lines.append("\nUser: %s" % turn.get("message", ""))
        lines.append("Agent: %s" % turn.get("response", ""))
    return "\n".join(lines)


def build_prompt(message, conversation_context, knowledge_context=None, system_prompt=SYSTEM_PROMPT):
    parts = [system_prompt]
    if conversation_context:
        parts.append("\n" + conversation_context)
    if knowledge_context:
        parts.append("\nRelevant Knowledge:\n" + knowledge_context)
    parts.append("\nCurrent User Message: " + message)
    parts.append("\nAgent Bruno:")
    return "\n".join(parts)


def mongo_document(ip, turn, created_at, timestamp_mode="iso"):
    """The `conversations` document of one turn.

    timestamp_mode "iso": the turn's ISO string (the lab's shared convention, so a turn in Redis and its
    document match by ip+timestamp+message+response); "datetime": a BSON datetime taken at insert time,
    as the real mongo_store writes it (`created_at` is a datetime in both).
    """
    timestamp = turn["timestamp"] if timestamp_mode == "iso" else created_at
    return {
        "ip": ip,
        "timestamp": timestamp,
        "message": turn["message"],
        "response": turn["response"],
        "context": turn["context"],
        "created_at": created_at,
    }


def jsonable(value):
    """What FastAPI's encoder makes of a MongoDB document: datetimes as isoformat(), ObjectIds as str."""
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def dump_response(payload):
    """FastAPI's JSONResponse rendering: compact, UTF-8 (not ASCII-escaped)."""
    return json.dumps(payload, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")


def redact_url(url):
    """A URL with its password replaced by ***, for logs."""
    if not url:
        return url
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return re.sub(r"//[^@/]*@", "//***@", url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urllib.parse.urlunsplit(parts._replace(netloc="%s:***@%s" % (user, netloc)))


# --- request validation, shaped like FastAPI/pydantic v2 422 answers --------------------------------------

def _error(kind, loc, msg, value):
    return {"type": kind, "loc": loc, "msg": msg, "input": value}


def validate_chat(raw):
    """(message, context, None) or (None, None, 422-detail list) for a POST /chat body (bytes)."""
    try:
        body = json.loads(raw.decode("utf-8")) if raw else None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        detail = _error("json_invalid", ["body", getattr(exc, "pos", 0)], "JSON decode error", {})
        detail["ctx"] = {"error": getattr(exc, "msg", str(exc))}
        return None, None, [detail]
    if body is None:
        return None, None, [_error("missing", ["body"], "Field required", None)]
    if not isinstance(body, dict):
        return None, None, [_error("model_attributes_type", ["body"],
                                   "Input should be a valid dictionary or object to extract fields from", body)]
    errors = []
    message = body.get("message")
    if "message" not in body:
        errors.append(_error("missing", ["body", "message"], "Field required", body))
    elif not isinstance(message, str):
        errors.append(_error("string_type", ["body", "message"], "Input should be a valid string", message))
    context = body.get("context")
    if context is not None and not isinstance(context, dict):
        errors.append(_error("dict_type", ["body", "context"], "Input should be a valid dictionary", context))
    if errors:
        return None, None, errors
    return message, context, None


def query_int(query, name, default):
    """(value, None) or (None, 422-detail list) for an integer query parameter."""
    values = query.get(name)
    if not values:
        return default, None
    raw = values[-1]
    try:
        return int(raw.strip()), None
    except ValueError:
        return None, [_error("int_parsing", ["query", name],
                             "Input should be a valid integer, unable to parse string as an integer", raw)]

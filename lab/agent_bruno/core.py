"""The pure parts of agent-bruno: request validation, message encoding, the fake LLM and trimming maths.

Nothing here talks to a server, so all of it is unit-tested directly.
"""

from __future__ import annotations

import hashlib
import json
import re

SESSION_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
MAX_MESSAGE_CHARS = 65536
ROLES = ("user", "assistant")
ARCHIVE_BATCH = 1000  # at most this many messages archived and trimmed by one request

_OPENERS = (
    "Good question.",
    "Let me think about that.",
    "Here is what I found.",
    "Short answer first.",
    "I checked my notes.",
    "From what you describe,",
    "Looking at this step by step,",
    "In the lab this usually means",
)
_BODIES = (
    "the simplest fix is to bound the resource that keeps growing.",
    "a shorter session TTL and a smaller context window usually help.",
    "connection pools should have a hard maximum and be closed on shutdown.",
    "memory that only goes up is worth a look with tracemalloc.",
    "it is often cheaper to archive old messages than to keep them hot.",
    "check the metrics before changing limits.",
    "horizontal scaling spreads the load but not a leak.",
    "restarting clears the symptom, not the cause.",
)


class BadRequest(ValueError):
    """A client error; the message is safe to return in the response body."""


def parse_chat_request(body):
    """Validate a /chat body (bytes); return (session_id or None, message)."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("body must be a JSON object") from None
    if not isinstance(data, dict):
        raise BadRequest("body must be a JSON object")
    message = data.get("message")
    if not isinstance(message, str) or not message.strip():
        raise BadRequest("'message' must be a non-empty string")
    if len(message) > MAX_MESSAGE_CHARS:
        raise BadRequest("'message' is longer than %d characters" % MAX_MESSAGE_CHARS)
    session_id = data.get("session_id")
    if session_id is not None and (not isinstance(session_id, str) or not SESSION_ID_RE.match(session_id)):
        raise BadRequest("'session_id' must match %s" % SESSION_ID_RE.pattern)
    return session_id, message


def parse_json_object(body):
    """A lab knob's body: an empty body is {}, anything else must be a JSON object."""
    if not body.strip():
        return {}
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("body must be a JSON object") from None
    if not isinstance(data, dict):
        raise BadRequest("body must be a JSON object")
    return data


def session_key(prefix, session_id):
    return prefix + session_id


def encode_body(role, content, ts):
    """A message without its seq: '{"role":..,"content":..,"ts":..}' (the Lua script prepends the seq)."""
    if role not in ROLES:
        raise ValueError("role must be one of %s" % (ROLES,))
    return json.dumps({"role": role, "content": content, "ts": float(ts)}, separators=(",", ":"))


def with_seq(seq, body):
    """What the append script stores: the body with '"seq":N,' inserted first (mirrors APPEND_PAIR_LUA)."""
    return '{"seq":%d,%s' % (seq, body[1:])


def encode_message(seq, role, content, ts):
    return with_seq(seq, encode_body(role, content, ts))


def decode_message(raw):
    """One stored list element -> dict with seq, role, content, ts; ValueError if it is not one."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    msg = json.loads(raw)
    if not isinstance(msg, dict) or not isinstance(msg.get("seq"), int) or msg.get("role") not in ROLES:
        raise ValueError("not an agent-bruno message: %r" % raw[:80])
    return msg


def turn_for_seq(user_seq):
    """Turns count from 1; each turn appends a (user, assistant) pair atomically, so user seqs are even."""
    return user_seq // 2 + 1


def fake_reply(message, turn):
    """The stand-in LLM: a deterministic reply from a hash of the turn number and the message."""
    digest = hashlib.sha256(("%d\0%s" % (turn, message)).encode("utf-8")).digest()
    opener = _OPENERS[digest[0] % len(_OPENERS)]
    body = _BODIES[digest[1] % len(_BODIES)]
    return "%s %s (turn %d, ref %s)" % (opener, body[0].upper() + body[1:] if opener.endswith(".") else body,
                                        turn, digest[2:6].hex())


def messages_to_archive(length, window):
    """How many messages at the head of a context of `length` must leave Redis (window 0 = unlimited)."""
    if window <= 0 or length <= window:
        return 0
    return min(length - window, ARCHIVE_BATCH)


def archive_doc(session_id, msg, archived_at):
    """The `conversations` document for one message; _id "<session_id>:<seq>" makes archiving idempotent."""
    return {
        "_id": "%s:%d" % (session_id, msg["seq"]),
        "session_id": session_id,
        "seq": msg["seq"],
        "role": msg["role"],
        "content": msg["content"],
        "ts": msg["ts"],
        "archived_at": archived_at,
    }

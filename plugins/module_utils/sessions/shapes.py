# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Session shapes, turn parsing and output redaction. Pure: no I/O.

`session_shape` says how one session is stored in Redis:

- ``turns`` (the real agent-bruno): a LIST, one element per turn, each the JSON object
  ``{"timestamp", "message", "response", "context"}`` (no sequence field); counted in turns.
- ``seq`` (the former lab agent): a LIST of ``{"seq", "role", "content", "ts"}`` messages; counted in messages.
- ``hash``: a HASH per session (counted in fields); ``string``: one STRING per session (counted in bytes).

A turn that cannot be stored in MongoDB as it is (not JSON, a lone surrogate, a NUL or ``$`` in a field name,
an integer beyond 64 bits, nesting deeper than BSON allows) is *malformed*: `parse_turn()` raises Malformed
with the reason, and the archive leaves it (and every turn after it) in Redis, counted and named.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import json

from ansible_collections.bruno.ops.plugins.module_utils import errors

SHAPES = ("turns", "seq", "hash", "string")
SHAPE_TYPES = {"turns": "list", "seq": "list", "hash": "hash", "string": "string"}
SHAPE_UNITS = {"turns": "turns", "seq": "messages", "hash": "fields", "string": "bytes"}
LIST_SHAPES = ("turns", "seq")

# The smallest element a well-formed session of each list shape can hold, in bytes: a list holding more than
# `keep` elements uses at least (keep + 1) x this much (MEMORY USAGE counts every element's bytes).
MIN_ITEM_BYTES = {
    "turns": len('{"timestamp": "2026-01-01T00:00:00", "message": "", "response": "", "context": {}}'),
    "seq": len('{"seq": 1}'),
}

INT64 = (-(2 ** 63), 2 ** 63 - 1)
MAX_DEPTH = 90  # BSON documents nest at most 100 levels; a turn document adds two

# The Redis turn's timestamp (a naive UTC ISO string) and the app's MongoDB timestamp may be a BSON datetime
# taken a moment apart (the published app stores datetime.utcnow() at its own write): same turn within this.
TIMESTAMP_TOLERANCE = datetime.timedelta(seconds=5)


class Malformed(ValueError):
    pass


def type_of_shape(shape):
    return SHAPE_TYPES[shape]


def check_storable(value, where, depth=0):
    """Raise Malformed unless MongoDB can store `value` exactly (strings UTF-8, keys without NUL/$, ints in 64 bits)."""
    if depth > MAX_DEPTH:
        raise Malformed("%s nests deeper than MongoDB allows" % where)
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise Malformed("%s holds a lone surrogate (invalid Unicode)" % where) from None
    elif isinstance(value, bool) or value is None or isinstance(value, float):
        return
    elif isinstance(value, int):
        if not INT64[0] <= value <= INT64[1]:
            raise Malformed("%s holds an integer beyond 64 bits" % where)
    elif isinstance(value, dict):
        for position, (key, item) in enumerate(value.items()):
            if "\x00" in key:
                raise Malformed("%s has a field name with a NUL character" % where)
            if key.startswith("$"):
                raise Malformed("%s has a field name starting with '$'" % where)
            check_storable(key, "%s (a field name)" % where, depth + 1)
            # the path names the field's position, never its name: names are the app's (or a user's) data
            check_storable(item, "%s.<field %d>" % (where, position), depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_storable(item, "%s[%d]" % (where, index), depth + 1)


def load_object(raw):
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise Malformed("not JSON (%s)" % str(exc)[:80]) from None
    if not isinstance(value, dict):
        raise Malformed("not a JSON object")
    return value


def parse_timestamp(text):
    """The turn's naive UTC datetime from datetime.isoformat() text; Malformed otherwise."""
    try:
        moment = datetime.datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise Malformed("timestamp is not ISO 8601 (%s)" % type(text).__name__) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return moment


def parse_turn(raw):
    """One element of a `turns` session -> {timestamp, moment, message, response, context}; Malformed otherwise."""
    value = load_object(raw)
    for field in ("timestamp", "message", "response"):
        if not isinstance(value.get(field), str):
            raise Malformed("no string field %r" % field)
    context = value.get("context")
    if context is None:
        context = {}
    if not isinstance(context, dict):
        raise Malformed("context is not a JSON object")
    check_storable(value, "turn")
    return {"timestamp": value["timestamp"], "moment": parse_timestamp(value["timestamp"]),
            "message": value["message"], "response": value["response"], "context": context}


def parse_message(raw, after_seq=None):
    """One element of a `seq` session -> the message dict; Malformed without a rising integer seq."""
    value = load_object(raw)
    seq = value.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int):
        raise Malformed("no integer seq")
    if after_seq is not None and seq <= after_seq:
        raise Malformed("seq %d does not rise after %d" % (seq, after_seq))
    check_storable(value, "message")
    return value


def turn_id(key_text, turn):
    """The archive's own _id for a copied turn: a digest of the key and the turn's content, so a rerun finds
    the same document (no sequence number involved)."""
    sha = hashlib.sha256()
    for part in (key_text, turn["timestamp"], turn["message"], turn["response"]):
        data = part.encode("utf-8")
        sha.update(b"%d:" % len(data))
        sha.update(data)
    return "bruno.ops:" + sha.hexdigest()[:40]


def turn_document(key_text, ip, turn):
    """The app's document shape for one turn (copy mode): {ip, timestamp, message, response, context,
    created_at}, with a deterministic _id. created_at is the turn's own moment (so a rerun builds the same)."""
    return {"_id": turn_id(key_text, turn), "ip": ip, "timestamp": turn["timestamp"], "message": turn["message"],
            "response": turn["response"], "context": turn["context"], "created_at": turn["moment"]}


def same_moment(stored, turn):
    """Whether a stored document's timestamp is this turn's: the same ISO string, or a datetime within
    TIMESTAMP_TOLERANCE of it (the app's own write)."""
    if isinstance(stored, str):
        return stored == turn["timestamp"]
    if isinstance(stored, datetime.datetime):
        if stored.tzinfo is not None:
            stored = stored.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        return abs(stored - turn["moment"]) <= TIMESTAMP_TOLERANCE
    return False


def match_turns(turns, stored_docs):
    """For each turn (in list order), whether an unused stored document holds it (message, response and
    timestamp): each document vouches for one turn only, so two identical turns need two documents."""
    pool = {}
    for doc in stored_docs:
        pool.setdefault((doc.get("message"), doc.get("response")), []).append(doc)
    found = []
    for turn in turns:
        candidates = pool.get((turn["message"], turn["response"]), [])
        hit = None
        for exact in (True, False):
            for index, doc in enumerate(candidates):
                stamp = doc.get("timestamp")
                if (stamp == turn["timestamp"]) if exact else same_moment(stamp, turn):
                    hit = index
                    break
            if hit is not None:
                break
        if hit is None:
            found.append(False)
        else:
            candidates.pop(hit)
            found.append(True)
    return found


def group_filter(sessions):
    """One MongoDB filter for the turns of several sessions [(ip, turns)]: every stored turn of their ips (the
    app indexes ip). Matching on timestamp, message and response is done per session afterwards (match_turns):
    a filter on the timestamp as well would need an $or over its two types (ISO string or datetime), which
    made the lookup 2-3 times slower on FerretDB (docs/benchmarks.md)."""
    return {"ip": {"$in": sorted({ip for ip, _group in sessions})}}


# ---- redaction ----------------------------------------------------------------------------------------------

def short_hash(text):
    return hashlib.sha256(text.encode("utf-8", errors="backslashreplace")).hexdigest()[:10]


def redact_id(text):
    """A client IP as shown when redacted: IPv4 with its last octet as x (203.0.113.x), anything else (IPv6,
    host names) as 'h:' and 10 hex digits of its SHA-256."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return "h:" + short_hash(text)
    if address.version == 4:
        return ".".join(text.split(".")[:3] + ["x"])
    return "h:" + short_hash(text)


def redact_key(key, prefix, enabled=True):
    """A session key for output: its prefix kept, the client id after it redacted (when `enabled`)."""
    if not enabled:
        return key
    if prefix and key.startswith(prefix):
        return prefix + redact_id(key[len(prefix):])
    return "h:" + short_hash(key)


def redact_text(text, enabled=True):
    """Chat text for output: replaced by its length when redacted."""
    if not enabled or text is None:
        return text
    return "<%d chars>" % len(text)


def validate_shape(name, shape, allowed):
    if shape not in allowed:
        raise errors.BrunoOpsError(
            "session_shape %r cannot be used by %s: it works on %s sessions; choose one of %s"
            % (shape, name, "/".join(allowed), ", ".join(allowed)), kind=errors.INVALID)

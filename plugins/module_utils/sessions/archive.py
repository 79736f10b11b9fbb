# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Context archive: trim the older turns of long sessions from a Redis list once MongoDB holds them, losing none.

Two modes (`archive_mode`):

- ``verify`` (default; the app persists every turn itself, as agent-bruno does into
  ``agent_bruno.conversations``): read the oldest turns beyond `keep_messages`, look each one up in the app's
  collection (ip from the key, timestamp, message, response) and trim from the head only the leading run of
  turns found there. Nothing is ever inserted. A turn that is not there stops the trim of its session, and the
  result says ``app_not_persisting: true`` with the counts.
- ``copy`` (the app does not persist): insert the turns that the collection lacks, in the app's document shape
  and with a deterministic ``_id`` (a digest of key and content, no sequence number), acknowledged, and only
  then trim them. A crash between write and trim leaves turns in both places; the rerun finds them and trims.

The trim is a Lua script that first checks (by digest) that the head still holds exactly what was verified or
archived. Appends go to the tail (RPUSH), so they never conflict with it; anything else that changed the head
makes the trim a no-op (`conflicts`), and the next run tries again.

Idle times: before Redis 7.2 (no CLIENT NO-TOUCH) every command that reads a list's contents (LLEN, LRANGE,
DUMP, scripts) restarts its idle time, and the idle cleanup decides on it. So check mode there reads only TYPE,
OBJECT IDLETIME and MEMORY USAGE (`check_mode_reads: auto`) and reports the turn figures it cannot know as null,
with the reason; and a real run reads and trims through scripts that take OBJECT IDLETIME first and put it back
(DUMP, then RESTORE ... REPLACE IDLETIME, with the same expiry) in the same atomic step, so no access of the app
can fall in between (`preserve_idle_times`).

Bytes, not items, bound the work: one round trip reads at most `batch_bytes` of turns over all the sessions of a
group (at least one turn per session), so the module's memory, the Lua memory and how long one script keeps
Redis busy do not grow with the size of the turns.

The parsing, document, digest and planning helpers are pure (here and in shapes.py); `run_archive()` does the
I/O through the Redis keyspace (plugins/module_utils/clients/redis_keyspace.py) and the MongoDB client layer.
"""

from __future__ import annotations

import collections
import hashlib
import json
import math
import time

from ansible_collections.bruno.ops.plugins.module_utils import errors
from ansible_collections.bruno.ops.plugins.module_utils.sessions import scope, shapes
from ansible_collections.bruno.ops.plugins.module_utils.sessions.cursor import (
    ScanLoop,
    failure_with_cursor,
    validate_run_options,
)
from ansible_collections.bruno.ops.plugins.module_utils.sessions.lock import run_with_lock
from ansible_collections.bruno.ops.plugins.module_utils.sessions.scope import Samples, key_text
from ansible_collections.bruno.ops.plugins.module_utils.sessions.shapes import Malformed

try:
    from bson import encode as bson_encode
    from bson.errors import BSONError
    from pymongo.errors import BulkWriteError
    from pymongo.write_concern import WriteConcern
except ImportError:  # reported by the MongoDB client layer (require_pymongo), never at import time
    BSONError = ValueError
    bson_encode = None
    BulkWriteError = None
    WriteConcern = None

DUPLICATE_KEY = 11000
MODES = ("verify", "copy")
CHECK_READS = ("auto", "metadata", "contents")

# OBJECT IDLETIME is in whole seconds and the LRU clock ticks about once a second: read a little more.
STATE_MARGIN = 2

# Items read, looked up, written and trimmed per round trip, over all sessions of a group: bounds memory.
MESSAGE_BUDGET = 5000

# Bytes of turns read per round trip, over all sessions of a group (batch_bytes): bounds the module's memory
# (a few times this), the scripts' Lua memory and how long one of them keeps Redis busy.
BATCH_BYTES = 8 * 1024 * 1024
MIN_BATCH_BYTES = 1024
MAX_BATCH_BYTES = 512 * 1024 * 1024

# Most bytes one TRIM_LUA removes: it reads them again, digests them and trims, so this bounds how long one trim
# keeps Redis busy (20 to 30 ms per MiB of 48 KiB turns on this loaded 2-core machine, docs/benchmarks.md).
TRIM_STEP_BYTES = 1024 * 1024

UNLIMITED_BYTES = 2 ** 50  # a byte limit READ_LUA never reaches (Lua numbers are doubles)

# Estimated bytes of one turn when MEMORY USAGE said nothing usable.
DEFAULT_ITEM_BYTES = 1024

# MongoDB error codes of a write error that concern the one document (not the server): the document is
# refused, its session is left from that turn on, and the run goes on. BadValue (FerretDB's code for a '.'
# or '$' in a field name, Infinity), DollarPrefixedFieldName, DottedFieldName, ..., DocumentValidationFailure,
# BSONObjectTooLarge, KeyTooLong.
DOCUMENT_REFUSED = frozenset((2, 52, 55, 56, 57, 121, 10334, 17280, 17419))

# Shared by the scripts below. Before Redis 7.2 any read of a key's contents restarts its idle time (LRU clock),
# even inside a script, and RESTORE ... IDLETIME is the only way to set it: idle_of() takes it (OBJECT IDLETIME
# is no access) before the first read, keep_idle() puts it back, with the same absolute expiry, before the
# script ends. A script is atomic, so no access of the app falls in between and the idle time put back is the
# true one. 1 when kept (or nothing to do), 0 when Redis refused the RESTORE (out of memory: the idle time then
# restarted). Under an LFU maxmemory-policy there is no idle time (OBJECT IDLETIME fails) and nothing is put back.
KEEP_IDLE_LUA = """
local function idle_of(key, wanted)
  if wanted ~= '1' then return nil end
  local idle = redis.pcall('OBJECT', 'IDLETIME', key)
  if type(idle) == 'number' then return idle end
  return nil
end
local function keep_idle(key, idle)
  if idle == nil or idle == 0 then return 1 end
  local at = redis.pcall('PEXPIRETIME', key)
  local ttl, absolute = 0, false
  if type(at) == 'number' then
    if at == -2 then return 1 end
    if at > 0 then ttl, absolute = at, true end
  else
    ttl = redis.call('PTTL', key)
    if ttl == -2 then return 1 end
    if ttl == -1 then ttl = 0 elseif ttl == 0 then ttl = 1 end
  end
  local payload = redis.call('DUMP', key)
  local reply
  if absolute then
    reply = redis.pcall('RESTORE', key, ttl, payload, 'REPLACE', 'ABSTTL', 'IDLETIME', idle)
  else
    reply = redis.pcall('RESTORE', key, ttl, payload, 'REPLACE', 'IDLETIME', idle)
  end
  if type(reply) == 'table' and reply.err then return 0 end
  return 1
end
"""

# LLEN and up to ARGV[2] items from ARGV[1] on, never into the newest ARGV[3] (keep_messages), and no more than
# ARGV[4] bytes (the first item always: a session is never stuck behind one large turn); ARGV[5] = '1' puts the
# idle time back. Reads in steps of 16 items, so the Lua memory stays near the byte budget.
# Reply: {idle kept (1/0), LLEN, item, ...}.
READ_LUA = KEEP_IDLE_LUA + """
local key = KEYS[1]
local offset, take, keep, budget = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local idle = idle_of(key, ARGV[5])
local length = redis.call('LLEN', key)
local reply = {0, length}
if length - keep - offset < take then take = length - keep - offset end
local bytes, position = 0, offset
while take > 0 do
  local last = position + math.min(take, 16) - 1
  local items = redis.call('LRANGE', key, position, last)
  if #items == 0 then break end
  for i = 1, #items do
    if #reply > 2 and bytes + #items[i] > budget then
      take = 0
      break
    end
    reply[#reply + 1] = items[i]
    bytes = bytes + #items[i]
    take = take - 1
  end
  position = last + 1
end
reply[1] = keep_idle(key, idle)
return reply
"""

# Trim the ARGV[1] oldest items only if they are still exactly the ones verified/archived (ARGV[2] = digest);
# ARGV[3] = '1' puts the idle time back. RPUSH appends at the tail, so concurrent appends never change the head
# and never make this fail; an item appended during the run stays in the list. ARGV[1] items were read under
# the byte budget, so one trim is a bounded step. Reply: {n, or -1 (shorter) / -2 (head changed), idle kept}.
TRIM_LUA = KEEP_IDLE_LUA + """
local key = KEYS[1]
local n = tonumber(ARGV[1])
local idle = idle_of(key, ARGV[3])
local items = redis.call('LRANGE', key, 0, n - 1)
local result = n
if #items ~= n then
  result = -1
else
  local parts = {}
  for i = 1, n do parts[i] = #items[i] .. ':' .. items[i] end
  if redis.sha1hex(table.concat(parts)) ~= ARGV[2] then
    result = -2
  else
    redis.call('LTRIM', key, n, -1)
  end
end
return {result, keep_idle(key, idle)}
"""

# Kept for the callers of the former seq-only helpers.
InvalidMessage = Malformed


# ---- pure ---------------------------------------------------------------------------------------------------

def digest(items):
    """What TRIM_LUA computes over the same elements (length-prefixed, so no two lists collide by joining)."""
    sha = hashlib.sha1()  # noqa: S324 - an equality check against Redis' redis.sha1hex, not security
    for item in items:
        sha.update(b"%d:" % len(item))
        sha.update(item)
    return sha.hexdigest()


def trim_steps(items, step_bytes):
    """[(first, last)] ranges of `items` in order, each of at most step_bytes (one item at least): the trims of
    one session, so no single script holds Redis for the whole chunk; pure."""
    ranges, first, size = [], 0, 0
    for index, item in enumerate(items):
        if index > first and size + len(item) > step_bytes:
            ranges.append((first, index))
            first, size = index, 0
        size += len(item)
    if first < len(items):
        ranges.append((first, len(items)))
    return ranges


def not_finite(value):
    """Whether a parsed turn holds NaN or Infinity anywhere (json.loads takes them; FerretDB refuses Infinity
    and drops the connection on NaN, which would fail every later write of the run)."""
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(not_finite(item) for item in value.values())
    if isinstance(value, list):
        return any(not_finite(item) for item in value)
    return False


def session_id(key, prefix):
    text = key_text(key)
    return text[len(prefix):] if prefix and text.startswith(prefix) else text


def message_documents(sid, items, after_seq=None):
    """`seq` shape: MongoDB documents for one session's messages (_id session:seq); Malformed on the first bad one."""
    docs = []
    last = after_seq
    for position, raw in enumerate(items):
        try:
            message = shapes.parse_message(raw, last)
        except Malformed as exc:
            raise Malformed("message %d: %s" % (position, exc)) from None
        last = message["seq"]
        doc = dict(message)
        doc["_id"] = "%s:%d" % (sid, message["seq"])
        doc["session_id"] = sid
        docs.append(doc)
    return docs


def parse_items(shape, sid, ktext, items):
    """(parsed, malformed) for the items of one chunk: the parsed items before the first malformed one, and
    (index, reason) of that one (None when all parse). Parsed: documents for `seq`, turns for `turns`."""
    parsed = []
    last = None
    for position, raw in enumerate(items):
        try:
            if shape == "seq":
                message = shapes.parse_message(raw, last)
                last = message["seq"]
                doc = dict(message, _id="%s:%d" % (sid, message["seq"]), session_id=sid)
                parsed.append(doc)
            else:
                parsed.append(shapes.parse_turn(raw))
        except Malformed as exc:
            return parsed, (position, str(exc))
    return parsed, None


def same_document(stored, wanted):
    """True when MongoDB already holds exactly this message (a rerun after a crash), not another one."""
    return dict(stored) == wanted


def same_turn(stored, wanted):
    """A stored turn document is this turn (copy mode's own _id): the fields that identify a turn agree."""
    return all(stored.get(name) == wanted[name] for name in ("ip", "timestamp", "message", "response"))


def plan_trim(found, mode):
    """How many items from the head to trim, given whether each parsed item is in the collection (in order):
    verify -> the leading run of found ones; copy -> all of them (the missing ones are inserted first)."""
    if mode == "copy":
        return len(found)
    count = 0
    for present in found:
        if not present:
            break
        count += 1
    return count


def plan_group(pending, chunk_size, budget=MESSAGE_BUDGET, budget_bytes=None):
    """Take sessions off `pending` (deque of entries with 'excess' and 'item_bytes', the estimated bytes of one
    turn) until the item or the byte budget is used; pure. Each entry gets 'take' (items) and 'max_bytes' (what
    READ_LUA may read of it); the first session always gets at least one item."""
    group = []
    items_left = budget
    bytes_left = budget_bytes
    while pending:
        if group and (items_left <= 0 or (bytes_left is not None and bytes_left < pending[0].get("item_bytes", 1))):
            break
        entry = pending.popleft()
        take = min(entry["excess"], chunk_size, max(1, items_left))
        if bytes_left is None:
            entry["max_bytes"] = UNLIMITED_BYTES
        else:
            size = max(1, entry.get("item_bytes", 1))
            take = min(take, max(1, bytes_left // size))
            entry["max_bytes"] = max(1, min(bytes_left, take * size))
            bytes_left -= entry["max_bytes"]
        entry["take"] = take
        group.append(entry)
        items_left -= take
    return group


def item_bytes(nbytes, length):
    """Estimated bytes of one item of a list: MEMORY USAGE over LLEN (overheads included, so rather more)."""
    if not isinstance(nbytes, int) or length <= 0:
        return DEFAULT_ITEM_BYTES
    return max(1, nbytes // length)


def can_exceed(nbytes, keep, shape):
    """Whether a list of `nbytes` (MEMORY USAGE, every element counted) can hold more than `keep` items of
    `shape`: each well-formed item takes at least MIN_ITEM_BYTES. Unknown sizes can."""
    if not isinstance(nbytes, int):
        return True
    return nbytes >= (keep + 1) * shapes.MIN_ITEM_BYTES[shape]


def state_record(started_ms, params, pattern, target):
    """What a complete full pass leaves in state_key: when it started, and what it was run with."""
    return json.dumps({"started_ms": started_ms, "keep_messages": params["keep_messages"], "pattern": pattern,
                       "collection": target, "mode": params.get("archive_mode", "verify")}, sort_keys=True)


def unchanged_after(raw_state, now_ms, params, pattern, target):
    """Idle seconds beyond which a session was not touched since the last complete full pass started, so it
    cannot have grown past keep_messages since; None (read every session) without a usable matching state."""
    if not raw_state:
        return None
    try:
        state = json.loads(raw_state)
        started_ms = int(state["started_ms"])
    except (ValueError, TypeError, KeyError):
        return None
    if state != json.loads(state_record(started_ms, params, pattern, target)) or now_ms < started_ms:
        return None  # another keep_messages, pattern, collection or mode: what it skipped proves nothing now
    return (now_ms - started_ms) // 1000 + STATE_MARGIN


def new_archive_counts():
    return dict(scanned=0, matched=0, archived=0, verified=0, inserted=0, already_archived=0, missing=0,
                moved=0, sessions_trimmed=0, sessions_not_persisted=0, conflicts=0, collisions=0, malformed=0,
                invalid=0, skipped=0, vanished=0, messages_over_limit=0, unchanged=0, idle_skipped=0,
                below_limit_by_size=0, not_read=0, idle_not_kept=0)


UNPREDICTED = ("matched", "messages_over_limit", "archived", "verified", "inserted", "already_archived", "missing",
               "moved", "sessions_trimmed", "sessions_not_persisted", "malformed", "invalid")


def archive_diff(counts, samples, check_mode):
    before = {"sessions_over_limit": counts["matched"], "messages_over_limit": counts["messages_over_limit"],
              "session_keys": samples.get("archived")}
    left = None
    if counts["messages_over_limit"] is not None and counts["moved"] is not None:
        left = max(0, counts["messages_over_limit"] - counts["moved"])
    trimmed = counts["sessions_trimmed"]
    after = {"sessions_over_limit": None if trimmed is None else counts["matched"] - trimmed,
             "messages_over_limit": left}
    return {"before": before, "after": after}


# ---- I/O ------------------------------------------------------------------------------------------------------

class Archiver:
    def __init__(self, keyspace, mclient, params, check_mode, *, reads_contents=True, keep_idle=False):
        self.r = keyspace
        self.m = mclient
        self.keep = params["keep_messages"]
        self.chunk = params["chunk_size"]
        self.batch_bytes = params.get("batch_bytes") or BATCH_BYTES
        self.shape = params.get("session_shape") or "turns"
        self.mode = params.get("archive_mode") or "verify"
        self.prefix = params["prefix"] or ""
        self.redact = params.get("redact", True)
        self.skip_idle = params.get("skip_idle_longer_than")
        self.unchanged_after = None  # seconds: sessions idle longer were not touched since the last full run
        self.check_mode = check_mode
        self.reads_contents = reads_contents
        self.keep_idle = "1" if keep_idle and not check_mode else "0"  # check mode writes nothing, not even RESTORE
        self.counts = new_archive_counts()
        self.samples = Samples(params["sample_size"])
        self.malformed_turns = []  # [{key, index, reason}] named, at most sample_size (10 at least)
        self.skipped_types = {}
        self.warnings = []
        self.largest_read = 0  # bytes of turns read in one round trip, at most
        self.trim = keyspace.script(TRIM_LUA)
        self.read = keyspace.script(READ_LUA)
        with mclient.translate("open collection %s" % params["collection"]):
            database = mclient.database
            concern = database.write_concern
            if not concern.acknowledged:  # the writes must be acknowledged before anything is trimmed
                concern = WriteConcern(w=1)
            self.collection = database.get_collection(params["collection"], write_concern=concern)
        self.target = "%s.%s" % (mclient.params["database"], params["collection"])

    def show(self, key):
        return shapes.redact_key(key_text(key), self.prefix, self.redact)

    def batch(self, keys):
        # Round one uses only commands that leave access times alone (TYPE, OBJECT IDLETIME, MEMORY USAGE);
        # only the sessions that can have grown past the limit are read further (READ_LUA: LLEN, LRANGE, which
        # before Redis 7.2 are accesses, so the script puts the idle time back; check mode there stops here
        # unless check_mode_reads=contents).
        replies = self.r.read_keys(keys, ("TYPE", "IDLETIME", "MEMORY_ALL"),
                                   action="read the type, idle time and size of %d sessions" % len(keys))
        self.counts["scanned"] += len(keys)
        candidates = self.worth_reading(keys, replies)
        if not candidates:
            return
        if not self.reads_contents:
            self.counts["not_read"] += len(candidates)
            return
        pending = self.over_limit(candidates)
        # Each round handles one chunk per session; a session whose whole chunk went goes back in the queue.
        # Every round shrinks a session's excess or drops the session, so the loop ends; the cap is a backstop.
        for _round in range(1 + sum(entry["excess"] for entry in pending)):
            if not pending:
                break
            for entry, done in self.move(plan_group(pending, self.chunk, budget_bytes=self.batch_bytes)):
                entry["excess"] -= done
                entry["offset"] += done if self.check_mode else 0
                if done and done == entry["take"] and entry["excess"] > 0:
                    pending.append(entry)

    def worth_reading(self, keys, replies):
        """The list keys that may hold more than keep_messages, from TYPE, OBJECT IDLETIME and MEMORY USAGE:
        [(key, MEMORY USAGE)]."""
        candidates = []
        for key, (name, idle, nbytes) in zip(keys, replies, strict=True):
            if name == "none":
                self.counts["vanished"] += 1
            elif name != "list":
                self.skip(key, name)
            elif isinstance(idle, int) and self.skip_idle is not None and idle > self.skip_idle:
                self.counts["idle_skipped"] += 1
            elif isinstance(idle, int) and self.unchanged_after is not None and idle > self.unchanged_after:
                self.counts["unchanged"] += 1
            elif not can_exceed(nbytes, self.keep, self.shape):
                self.counts["below_limit_by_size"] += 1
            else:
                candidates.append((key, nbytes))
        return candidates

    def read_script(self, calls, action):
        """READ_LUA for each (key, offset, take, max_bytes): [(LLEN, items) or the exception]. Without idle
        times to put back (Redis 7.2+, check mode, preserve_idle_times=false) plain LLEN and LRANGE instead: no
        script, so reads go on while Redis pauses writes (CLIENT PAUSE WRITE pauses every script that may write)."""
        if self.keep_idle != "1":
            return self.read_plain(calls, action)
        replies = self.r.run_script_each(
            self.read, [(key, [offset, take, self.keep, max_bytes, self.keep_idle])
                        for key, offset, take, max_bytes in calls], action=action)
        out = []
        for reply in replies:
            if isinstance(reply, Exception):
                out.append(reply)
                continue
            self.idle_kept(reply[0])
            out.append((reply[1], reply[2:]))
        return out

    def read_plain(self, calls, action):
        """What READ_LUA returns, from pipelined LLEN and LRANGE (`take` was sized by the estimated bytes of a
        turn; the byte limit is applied to what came back)."""
        lengths = self.r.pipeline([("LLEN", key) for key, _offset, _take, _max in calls], action=action)
        ranges, wanted = [], []
        for (key, offset, take, _max), length in zip(calls, lengths, strict=True):
            count = 0 if isinstance(length, Exception) else max(0, min(take, length - self.keep - offset))
            wanted.append(count)
            if count:
                ranges.append(("LRANGE", key, offset, offset + count - 1))
        replies = iter(self.r.pipeline(ranges, action=action) if ranges else [])
        out = []
        for (_key, _offset, _take, max_bytes), length, count in zip(calls, lengths, wanted, strict=True):
            items = next(replies) if count else []
            if isinstance(length, Exception) or isinstance(items, Exception):
                out.append(length if isinstance(length, Exception) else items)
                continue
            kept, size = [], 0
            for item in items:
                if kept and size + len(item) > max_bytes:
                    break
                kept.append(item)
                size += len(item)
            out.append((length, kept))
        return out

    def idle_kept(self, flag):
        if self.keep_idle == "1" and not flag:
            self.counts["idle_not_kept"] += 1

    def over_limit(self, candidates):
        """LLEN of each candidate (READ_LUA without items); returns a deque of the sessions over the limit."""
        replies = self.read_script([(key, 0, 0, 0) for key, _nbytes in candidates],
                                   action="read the length of %d sessions" % len(candidates))
        pending = collections.deque()
        for (key, nbytes), reply in zip(candidates, replies, strict=True):
            if isinstance(reply, Exception):
                self.skip(key, "changed type")
                continue
            length = reply[0]
            if length > self.keep:
                self.counts["matched"] += 1
                self.counts["messages_over_limit"] += length - self.keep
                self.samples.add("archived", self.show(key))
                pending.append({"key": key, "sid": session_id(key, self.prefix), "excess": length - self.keep,
                                "offset": 0, "item_bytes": item_bytes(nbytes, length)})
        return pending

    def move(self, group):
        """Verify (and, in copy mode, archive), then trim, one chunk of each session of the group; returns
        [(entry, items trimmed)] (would be trimmed, in check mode)."""
        outcomes, work = self.read_chunks(group)
        if not work:
            return outcomes
        plans, inserts = self.decide(work)
        collided, refused = self.write(inserts) if inserts else (set(), {})
        trims = []
        for entry, items, planned in plans:
            count = planned
            if id(entry) in refused:
                self.malformed(entry, refused[id(entry)])
                count = min(count, refused[id(entry)][0])
            if entry["sid"] in collided or not count:
                outcomes.append((entry, 0))
            else:
                trims.append((entry, items, count))
        return outcomes + self.trim_heads(trims)

    def read_chunks(self, group):
        """READ_LUA of each session's chunk: ([(entry, 0)] for those left alone, [(entry, items, parsed)])."""
        replies = self.read_script([(e["key"], e["offset"], e["take"], e["max_bytes"]) for e in group],
                                   action="read the oldest turns of %d sessions" % len(group))
        outcomes, work = [], []
        read_bytes = 0
        for entry, reply in zip(group, replies, strict=True):
            if isinstance(reply, Exception) or not reply[1]:
                self.conflict(entry["key"])  # shrank or changed type since the probe: left for the next run
                outcomes.append((entry, 0))
                continue
            items = reply[1]
            read_bytes += sum(len(item) for item in items)
            entry["take"] = len(items)  # the byte budget may have stopped it short: the rest comes next round
            parsed, bad = parse_items(self.shape, entry["sid"], key_text(entry["key"]), items)
            if self.mode == "copy":
                bad = self.unstorable(entry, parsed, bad)
                parsed = parsed[:bad[0]] if bad is not None else parsed
            if bad is not None:
                self.malformed(entry, bad)
            if parsed:
                work.append((entry, items[:len(parsed)], parsed))
            else:
                outcomes.append((entry, 0))
        self.largest_read = max(self.largest_read, read_bytes)
        return outcomes, work

    def unstorable(self, entry, parsed, bad):
        """Copy mode: the first parsed turn whose document MongoDB cannot take, as (index, reason), if before
        `bad` (the first malformed one); else `bad`."""
        for index, item in enumerate(parsed):
            if not_finite(self.document(entry, item)):
                return index, "holds NaN or Infinity, which MongoDB (FerretDB) cannot store"
        return bad

    def decide(self, work):
        """Look the chunks up; ([(entry, items, how many to trim)], documents to insert in copy mode as
        (entry, index in the chunk, document))."""
        plans, inserts = [], []
        for (entry, items, parsed), present in zip(work, self.lookup(work), strict=True):
            hits = sum(present)
            self.counts["verified"] += hits
            self.counts["already_archived"] += hits
            self.counts["archived"] += hits
            if self.mode == "verify" and hits < len(parsed):
                self.counts["missing"] += len(parsed) - hits
                self.counts["sessions_not_persisted"] += 1
                self.samples.add("not_persisted", self.show(entry["key"]))
            if self.mode == "copy":
                inserts.extend((entry, index, self.document(entry, item))
                               for index, (item, there) in enumerate(zip(parsed, present, strict=True))
                               if not there)
            plans.append((entry, items, plan_trim(present, self.mode)))
        return plans, inserts

    def trim_heads(self, trims):
        """TRIM_LUA for each (entry, items, count) (nothing in check mode), in steps of at most TRIM_STEP_BYTES
        each (a step checks and trims the head it expects: the items after the previous step's); [(entry,
        trimmed)]."""
        if not trims:
            return []
        if self.check_mode:
            done = {id(entry): count for entry, _items, count in trims}
            failed = set()
        else:
            steps = [(entry, items, first, last) for entry, items, count in trims
                     for first, last in trim_steps(items[:count], min(TRIM_STEP_BYTES, self.batch_bytes))]
            replies = self.r.run_script_each(
                self.trim, [(e["key"], [last - first, digest(items[first:last]), self.keep_idle])
                            for e, items, first, last in steps],
                action="trim archived turns from %d sessions" % len(trims))
            done, failed = {}, set()
            for (entry, _items, first, last), reply in zip(steps, replies, strict=True):
                if not isinstance(reply, Exception):
                    self.idle_kept(reply[1])
                if isinstance(reply, Exception) or reply[0] != last - first or id(entry) in failed:
                    failed.add(id(entry))  # the head changed since it was read: the rest is for the next run
                    continue
                done[id(entry)] = done.get(id(entry), 0) + last - first
        outcomes = []
        for entry, _items, count in trims:
            trimmed = done.get(id(entry), 0)
            if id(entry) in failed:
                self.conflict(entry["key"])
            self.counts["moved"] += trimmed
            if trimmed == count == entry["excess"]:
                self.counts["sessions_trimmed"] += 1
            outcomes.append((entry, trimmed))
        return outcomes

    def document(self, entry, item):
        if self.shape == "seq":
            return item
        return shapes.turn_document(key_text(entry["key"]), entry["sid"], item)

    def lookup(self, work):
        """For each (entry, items, parsed) of `work`, whether each parsed item is in the collection."""
        if self.shape == "seq":
            wanted = {doc["_id"]: doc for _entry, _items, parsed in work for doc in parsed}
            with self.m.translate("look up %d messages in %s" % (len(wanted), self.target)):
                stored = {doc["_id"]: doc for doc in self.collection.find({"_id": {"$in": list(wanted)}})}
            found = []
            for entry, _items, parsed in work:
                present = []
                for doc in parsed:
                    there = doc["_id"] in stored
                    if there and not same_document(stored[doc["_id"]], doc):
                        self.collision(entry["sid"])
                        present.append(False)
                        break
                    present.append(there)
                found.append(present + [False] * (len(parsed) - len(present)))
            return found
        # One query per group (not per session): the ips of the group, and the timestamps of their turns.
        # The query returns the whole stored history of those ips: keep only the documents that can match a turn
        # of the chunk (same ip, message and response), so memory follows the chunk, not the history.
        query = shapes.group_filter([(entry["sid"], parsed) for entry, _items, parsed in work])
        wanted = {(entry["sid"], turn["message"], turn["response"]) for entry, _items, parsed in work
                  for turn in parsed}
        stored = {}
        with self.m.translate("look up the turns of %d sessions in %s" % (len(work), self.target)):
            for doc in self.collection.find(query, {"ip": 1, "timestamp": 1, "message": 1, "response": 1}):
                if stored_key(doc) in wanted:
                    stored.setdefault(doc.get("ip"), []).append(doc)
        return [shapes.match_turns(parsed, stored.get(entry["sid"], [])) for entry, _items, parsed in work]

    def malformed(self, entry, bad):
        index, reason = bad
        self.counts["malformed"] += 1
        self.counts["invalid"] += 1
        named = {"key": self.show(entry["key"]), "index": entry["offset"] + index, "reason": reason}
        if len(self.malformed_turns) < max(10, self.samples.size):
            self.malformed_turns.append(named)
        self.samples.add("invalid", named["key"])

    def skip(self, key, type_name):
        self.counts["skipped"] += 1
        self.samples.add("skipped", self.show(key))
        self.skipped_types[type_name] = self.skipped_types.get(type_name, 0) + 1

    def conflict(self, key):
        self.counts["conflicts"] += 1
        self.samples.add("conflicts", self.show(key))

    def collision(self, sid):
        self.counts["collisions"] += 1
        if self.counts["collisions"] <= 3:
            self.warnings.append(
                "session %s left in Redis: %s already holds a different document with the same _id (was the "
                "session id reused?)" % (self.show(self.prefix + sid), self.target))

    def write(self, inserts):
        """Insert the documents the collection lacks (unordered, acknowledged; `_id` makes it idempotent), from
        (entry, index, document). Returns (sessions whose _id collides with a different document, {id(entry):
        (index, reason)} of the sessions with a document MongoDB refused: neither is trimmed past that). A
        refused document is the data's fault and the run goes on; any other write error raises before anything
        is trimmed. In check mode: counts what it would insert."""
        if self.check_mode:
            self.counts["inserted"] += len(inserts)
            self.counts["archived"] += len(inserts)
            return set(), {}
        refused = {}
        docs = [doc for _entry, _index, doc in inserts]
        with self.m.translate("archive %d turns to %s" % (len(docs), self.target)):
            sent = list(range(len(docs)))
            try:
                inserted, duplicates, rejected = self.insert(docs)
            except (BSONError, OverflowError, ValueError, TypeError):
                # Encoded client-side while sending: find the documents that cannot be encoded (pure), refuse
                # them and send the rest (what already went counts as a duplicate of itself).
                bad = {position for position, doc in enumerate(docs) if encoding_error(doc)}
                if not bad:
                    raise
                for position in bad:
                    self.refuse(refused, inserts[position], "cannot be encoded for MongoDB")
                sent = [position for position in range(len(docs)) if position not in bad]
                inserted, duplicates, rejected = self.insert([docs[position] for position in sent])
                duplicates = [sent[position] for position in duplicates]
                rejected = [(sent[position], code) for position, code in rejected]
        for position, code in rejected:
            self.refuse(refused, inserts[position], "MongoDB refused it (error code %s)" % code)
        if refused:
            inserted -= self.withdraw(inserts, refused, sent, set(duplicates) | {position for position, _c in rejected})
        self.counts["inserted"] += inserted
        self.counts["archived"] += inserted
        collided = set()
        if duplicates:
            wanted = {docs[position]["_id"]: docs[position] for position in duplicates}
            with self.m.translate("compare %d already archived turns in %s" % (len(wanted), self.target)):
                stored = {doc["_id"]: doc for doc in self.collection.find({"_id": {"$in": list(wanted)}})}
            for doc_id, doc in wanted.items():
                same = same_document if self.shape == "seq" else same_turn
                if doc_id in stored and same(stored[doc_id], doc):
                    self.counts["already_archived"] += 1
                    self.counts["archived"] += 1
                else:
                    sid = doc.get("session_id") or doc.get("ip")
                    collided.add(sid)
                    self.collision(sid)
        return collided, refused

    def withdraw(self, inserts, refused, sent, not_inserted):
        """Delete what this call inserted after a refused turn of the same session: that session is trimmed only
        up to the refused turn, and its later turns stay in Redis, so they must not be in MongoDB too (copy mode
        keeps each turn in one place). A crash before this delete leaves them in both places, which the next
        run handles as always. Returns how many were deleted."""
        ids = [inserts[position][2]["_id"] for position in sent if position not in not_inserted and
               id(inserts[position][0]) in refused and inserts[position][1] > refused[id(inserts[position][0])][0]]
        if not ids:
            return 0
        with self.m.translate("withdraw %d turns after a refused one from %s" % (len(ids), self.target)):
            return self.collection.delete_many({"_id": {"$in": ids}}).deleted_count

    def insert(self, docs):
        """insert_many: (inserted, positions of duplicate _ids, [(position, code)] of documents refused)."""
        if not docs:
            return 0, [], []
        try:
            result = self.collection.insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            details = exc.details or {}
            write_errors = details.get("writeErrors", [])
            others = [e for e in write_errors if e.get("code") not in DOCUMENT_REFUSED | {DUPLICATE_KEY}]
            if others or details.get("writeConcernErrors"):
                raise
            duplicates = [e["index"] for e in write_errors if e.get("code") == DUPLICATE_KEY]
            rejected = [(e["index"], e.get("code")) for e in write_errors if e.get("code") != DUPLICATE_KEY]
            return details.get("nInserted", 0), duplicates, rejected
        if not result.acknowledged:
            raise errors.BrunoOpsError("MongoDB did not acknowledge the archive write to %s; nothing was trimmed"
                                       % self.target, kind=errors.API)
        return len(result.inserted_ids), [], []

    @staticmethod
    def refuse(refused, insert, reason):
        entry, index, _doc = insert
        known = refused.get(id(entry))
        if known is None or index < known[0]:
            refused[id(entry)] = (index, reason)


def stored_key(doc):
    """(ip, message, response) of a stored document, or None when one is not a plain value (never matches)."""
    key = (doc.get("ip"), doc.get("message"), doc.get("response"))
    return key if all(isinstance(part, str) for part in key) else None


def encoding_error(doc):
    """Whether BSON cannot encode the document (a value the checks before did not foresee); pure."""
    try:
        bson_encode(doc)
    except (BSONError, OverflowError, ValueError, TypeError):
        return True
    return False


def try_no_touch(keyspace):
    """Redis 7.2+: CLIENT NO-TOUCH keeps our reads from restarting the sessions' idle clocks."""
    try:
        return keyspace.no_touch()
    except errors.BrunoOpsError:  # not allowed: reads count as accesses there (docs/sessions.md)
        return False


def validate_archive_options(params):
    if params["keep_messages"] < 1:
        raise errors.BrunoOpsError("keep_messages must be 1 or more (got %s)" % params["keep_messages"],
                                   kind=errors.INVALID)
    if not 1 <= params["chunk_size"] <= MESSAGE_BUDGET:
        raise errors.BrunoOpsError("chunk_size must be between 1 and %d (got %s)"
                                   % (MESSAGE_BUDGET, params["chunk_size"]), kind=errors.INVALID)
    if params.get("skip_idle_longer_than") is not None and params["skip_idle_longer_than"] <= 0:
        raise errors.BrunoOpsError("skip_idle_longer_than must be a positive number of seconds (omit it to read "
                                   "idle sessions too)", kind=errors.INVALID)
    scope.outside_prefix("state_key", params.get("state_key"), params["prefix"])
    if not params["collection"] or "$" in params["collection"]:
        raise errors.BrunoOpsError("collection must be a MongoDB collection name (got %r)" % params["collection"],
                                   kind=errors.INVALID)
    shape = params.get("session_shape") or "turns"
    if shape not in shapes.LIST_SHAPES:
        raise errors.BrunoOpsError(
            "session_shape %r cannot be archived: the archive trims the oldest items of a list, and %s sessions "
            "have no order to trim; use session_shape turns (the agent's lists of turns) or seq" % (shape, shape),
            kind=errors.INVALID)
    batch_bytes = params.get("batch_bytes")
    if batch_bytes is not None and not MIN_BATCH_BYTES <= batch_bytes <= MAX_BATCH_BYTES:
        raise errors.BrunoOpsError("batch_bytes must be between %d and %d bytes (got %s); the default, %d (8 MiB), "
                                   "suits most sessions" % (MIN_BATCH_BYTES, MAX_BATCH_BYTES, batch_bytes,
                                                            BATCH_BYTES), kind=errors.INVALID)
    if (params.get("archive_mode") or "verify") not in MODES:
        raise errors.BrunoOpsError("archive_mode must be one of %s" % ", ".join(MODES), kind=errors.INVALID)


def persistence_warning(result, target):
    figures = (result["missing"], result["sessions_not_persisted"], target)
    return ("THE APP IS NOT PERSISTING: %d of the turns beyond keep_messages in %d sessions are not in %s, so "
            "Redis holds the only copy; nothing past the first missing turn was trimmed. Fix the app's MongoDB "
            "writes, or run with archive_mode=copy to copy them first" % figures)


def run_archive(keyspace, mclient, params, check_mode, *, clock=time.monotonic, sleep=time.sleep):
    pattern = scope.resolve_scope(params["prefix"], params["pattern"], params["allow_broad_pattern"])
    validate_run_options(params)
    validate_archive_options(params)
    started = clock()
    with mclient.translate("reach MongoDB"):
        mclient.raw.admin.command("ping")  # fail before anything is read when MongoDB is down

    def body(lock):
        loop = ScanLoop(keyspace, pattern, params, clock=clock, sleep=sleep)
        no_touch = try_no_touch(keyspace)
        reads = params.get("check_mode_reads") or "auto"
        reads_contents = (not check_mode) or reads == "contents" or (reads == "auto" and no_touch)
        keep_idle = not no_touch and not check_mode and params.get("preserve_idle_times", True)
        archiver = Archiver(keyspace, mclient, params, check_mode, reads_contents=reads_contents,
                            keep_idle=keep_idle)
        state_key = params.get("state_key")
        now_ms = keyspace.time_ms()
        if state_key:
            archiver.unchanged_after = unchanged_after(
                keyspace.get(state_key, action="read the archive state %s" % state_key), now_ms, params, pattern,
                archiver.target)
        try:
            for keys in loop.batches():
                archiver.batch(keys)
                if lock is not None:
                    lock.refresh()
            loop.finish()
            if state_key and loop.complete and loop.full_pass and not check_mode:
                # When our reads are no accesses (CLIENT NO-TOUCH, or idle times put back), the run's start: a
                # session idle since then was not used since. Otherwise (preserve_idle_times false, or a RESTORE
                # refused) our own reads are accesses, so the run's end: a session this run read (and did not
                # trim: turns missing, malformed) then looks unchanged to the next run and ages, instead of being
                # read, and so refreshed, on every run (the idle cleanup would never delete it). A session used
                # during the run after it was read waits for its next use to be looked at again; none is lost.
                untouched = no_touch or (keep_idle and not archiver.counts["idle_not_kept"])
                since_ms = now_ms if untouched else keyspace.time_ms()
                keyspace.set(state_key, state_record(since_ms, params, pattern, archiver.target),
                             action="record the archive state %s" % state_key)
        except errors.BrunoOpsError as exc:
            counts = dict(archiver.counts)
            raise failure_with_cursor(exc, loop, counts, "session archive",
                                      "Turns are trimmed only once MongoDB holds them, so none is lost") from None
        return finish(archiver, loop, dict(pattern=pattern, duration=round(clock() - started, 3),
                                           no_touch=no_touch, reads_contents=reads_contents,
                                           check_mode=check_mode, keep_idle=keep_idle))

    result = run_with_lock(keyspace, params.get("lock"), check_mode, body)
    result["changed"] = bool(result["moved"] or result["inserted"] or
                             (result["prediction"] == "metadata" and result["not_read"]))
    undo = ("the trimmed turns are in mongodb %s (documents {ip, timestamp, message, response, context}); to restore "
            "a session, RPUSH them back in timestamp order before its remaining turns" % result["collection"])
    result["change"] = scope.session_change("session_archive", keyspace.address, pattern, result["diff"],
                                            changed=result["changed"], undo=undo, check_mode=check_mode)
    return result


def finish(archiver, loop, extra):
    counts = dict(archiver.counts)
    prediction = "exact" if extra["reads_contents"] else "metadata"
    if not extra["check_mode"]:
        prediction = "applied"
    if prediction == "metadata":
        for name in UNPREDICTED:
            counts[name] = None
    result = dict(counts)
    result.update(loop.report())
    result.update(
        skipped_types=archiver.skipped_types,
        pattern=extra["pattern"],
        collection=archiver.target,
        keep_messages=archiver.keep,
        unit=shapes.SHAPE_UNITS[archiver.shape],
        session_shape=archiver.shape,
        archive_mode=archiver.mode,
        duration=extra["duration"],
        no_touch=extra["no_touch"],
        idle_times_kept=bool(extra["no_touch"] or not extra["reads_contents"] or
                             (extra["keep_idle"] and not archiver.counts["idle_not_kept"])),
        batch_bytes=archiver.batch_bytes,
        largest_read_bytes=archiver.largest_read,
        prediction=prediction,
        incremental=archiver.unchanged_after is not None,
        app_not_persisting=None if prediction == "metadata" else (
            archiver.mode == "verify" and archiver.counts["missing"] > 0),
        malformed_turns=archiver.malformed_turns,
        samples=archiver.samples.report(("archived", "conflicts", "invalid", "skipped", "not_persisted")),
        warnings=loop.warnings + archiver.warnings,
    )
    result["diff"] = archive_diff(counts, archiver.samples, extra["check_mode"])
    if prediction == "metadata":
        result["warnings"].append(
            "check mode did not read the %d sessions that may be over keep_messages: this Redis has no CLIENT "
            "NO-TOUCH (it needs 7.2+), and reading a list there refreshes its idle time, which would change what "
            "the idle cleanup deletes. Turn figures are null; set check_mode_reads=contents to read them anyway "
            "(resets those sessions' idle times)" % archiver.counts["not_read"])
    if archiver.counts["idle_not_kept"]:
        result["warnings"].append(
            "Redis refused to put back the idle time of %d sessions after reading them (RESTORE failed, most likely "
            "maxmemory): their idle time restarted, which delays their deletion by the idle cleanup"
            % archiver.counts["idle_not_kept"])
    elif not extra["check_mode"] and not extra["no_touch"] and not extra["keep_idle"]:
        result["warnings"].append(
            "preserve_idle_times is off and this Redis has no CLIENT NO-TOUCH (it needs 7.2+): every session this "
            "run read had its idle time restarted")
    if result["app_not_persisting"]:
        result["warnings"].append(persistence_warning(result, archiver.target))
    if archiver.counts["malformed"]:
        first = archiver.malformed_turns[0]
        result["warnings"].append(
            "%d sessions hold a malformed turn, left in Redis with every turn after it (first: %s turn %d: %s); "
            "see malformed_turns" % (archiver.counts["malformed"], first["key"], first["index"], first["reason"]))
    if archiver.counts["skipped"]:
        result["warnings"].append("%d keys matching %s are not lists and were skipped (types: %s)" % (
            archiver.counts["skipped"], extra["pattern"], ", ".join(sorted(archiver.skipped_types))))
    return result

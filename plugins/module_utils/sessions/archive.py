# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Context archive: move the older messages of long sessions from a Redis list to MongoDB, losing none.

Order of a move, per session: read the oldest messages (LRANGE), upsert them into MongoDB with an
acknowledged write, and only then trim exactly those messages from the head of the list with a Lua script
that first checks (by digest) that the head still holds what was archived. Appends go to the tail (RPUSH),
so they never conflict with the trim; anything else that changed the head makes the trim a no-op
(`conflicts`), and the next run archives again, idempotently. A crash between the write and the trim leaves
messages in both places; the rerun finds them already archived (same `_id`) and trims them.

The parsing, document and digest helpers are pure; `run_archive()` does the I/O through the Redis keyspace
(plugins/module_utils/clients/redis_keyspace.py) and the MongoDB client layer.
"""

from __future__ import annotations

import collections
import hashlib
import json
import time

from ansible_collections.bruno.ops.plugins.module_utils import errors
from ansible_collections.bruno.ops.plugins.module_utils.sessions import scope
from ansible_collections.bruno.ops.plugins.module_utils.sessions.cursor import (
    ScanLoop,
    failure_with_cursor,
    validate_run_options,
)
from ansible_collections.bruno.ops.plugins.module_utils.sessions.lock import run_with_lock
from ansible_collections.bruno.ops.plugins.module_utils.sessions.scope import Samples, key_text

try:
    from pymongo.errors import BulkWriteError
    from pymongo.write_concern import WriteConcern
except ImportError:  # reported by the MongoDB client layer (require_pymongo), never at import time
    BulkWriteError = None
    WriteConcern = None

DUPLICATE_KEY = 11000

# OBJECT IDLETIME is in whole seconds and the LRU clock ticks about once a second: read a little more.
STATE_MARGIN = 2

# Messages read, written and trimmed per round trip, over all sessions of a group: bounds memory.
MESSAGE_BUDGET = 5000

# Trim the ARGV[1] oldest messages only if they are still exactly the ones archived (ARGV[2] = digest).
# RPUSH appends at the tail, so concurrent appends never change the head and never make this fail; a
# message appended during the run stays in the list.
TRIM_LUA = """
local n = tonumber(ARGV[1])
local items = redis.call('LRANGE', KEYS[1], 0, n - 1)
if #items ~= n then return -1 end
local parts = {}
for i = 1, n do parts[i] = #items[i] .. ':' .. items[i] end
if redis.sha1hex(table.concat(parts)) ~= ARGV[2] then return -2 end
redis.call('LTRIM', KEYS[1], n, -1)
return n
"""


class InvalidMessage(ValueError):
    pass


# ---- pure ---------------------------------------------------------------------------------------------------

def digest(items):
    """What TRIM_LUA computes over the same elements (length-prefixed, so no two lists collide by joining)."""
    sha = hashlib.sha1()  # noqa: S324 - an equality check against Redis' redis.sha1hex, not security
    for item in items:
        sha.update(b"%d:" % len(item))
        sha.update(item)
    return sha.hexdigest()


def session_id(key, prefix):
    text = key_text(key)
    return text[len(prefix):] if prefix and text.startswith(prefix) else text


def message_documents(sid, items, after_seq=None):
    """MongoDB documents for one session's messages; InvalidMessage unless every one has a rising integer seq."""
    docs = []
    last = after_seq
    for position, raw in enumerate(items):
        try:
            message = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidMessage("message %d is not JSON (%s)" % (position, exc)) from None
        if not isinstance(message, dict):
            raise InvalidMessage("message %d is not a JSON object" % position)
        seq = message.get("seq")
        if isinstance(seq, bool) or not isinstance(seq, int):
            raise InvalidMessage("message %d has no integer seq" % position)
        if last is not None and seq <= last:
            raise InvalidMessage("seq %d does not rise after %d" % (seq, last))
        last = seq
        doc = dict(message)
        doc["_id"] = "%s:%d" % (sid, seq)
        doc["session_id"] = sid
        docs.append(doc)
    return docs


def same_document(stored, wanted):
    """True when MongoDB already holds exactly this message (a rerun after a crash), not another one."""
    return dict(stored) == wanted


def plan_group(pending, chunk_size, budget=MESSAGE_BUDGET):
    """Take sessions off `pending` (deque of [key, sid, excess]) until the message budget is used; pure."""
    group = []
    while pending and (not group or budget > 0):
        key, sid, excess = pending.popleft()
        take = min(excess, chunk_size)
        group.append((key, sid, excess, take))
        budget -= take
    return group


def state_record(started_ms, params, pattern, target):
    """What a complete full pass leaves in state_key: when it started, and what it was run with."""
    return json.dumps({"started_ms": started_ms, "keep_messages": params["keep_messages"], "pattern": pattern,
                       "collection": target}, sort_keys=True)


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
        return None  # another keep_messages, pattern or collection: what it skipped proves nothing now
    return (now_ms - started_ms) // 1000 + STATE_MARGIN


def new_archive_counts():
    return dict(scanned=0, matched=0, archived=0, inserted=0, already_archived=0, moved=0, sessions_trimmed=0,
                conflicts=0, collisions=0, invalid=0, skipped=0, vanished=0, messages_over_limit=0, unchanged=0,
                idle_skipped=0)


def archive_diff(counts, samples, check_mode):
    before = {"sessions_over_limit": counts["matched"], "messages_over_limit": counts["messages_over_limit"],
              "session_keys": samples.get("archived")}
    left = counts["messages_over_limit"] - (counts["archived"] if check_mode else counts["moved"])
    after = {"sessions_over_limit": counts["matched"] - (counts["matched"] if check_mode else
                                                         counts["sessions_trimmed"]),
             "messages_over_limit": max(0, left)}
    return {"before": before, "after": after}


# ---- I/O ------------------------------------------------------------------------------------------------------

class Archiver:
    def __init__(self, keyspace, mclient, params, check_mode):
        self.r = keyspace
        self.m = mclient
        self.keep = params["keep_messages"]
        self.chunk = params["chunk_size"]
        self.prefix = params["prefix"] or ""
        self.skip_idle = params.get("skip_idle_longer_than")
        self.unchanged_after = None  # seconds: sessions idle longer were not touched since the last full run
        self.check_mode = check_mode
        self.counts = new_archive_counts()
        self.samples = Samples(params["sample_size"])
        self.skipped_types = {}
        self.warnings = []
        self.trim = keyspace.script(TRIM_LUA)
        with mclient.translate("open collection %s" % params["collection"]):
            database = mclient.database
            concern = database.write_concern
            if not concern.acknowledged:  # the writes must be acknowledged before anything is trimmed
                concern = WriteConcern(w=1)
            self.collection = database.get_collection(params["collection"], write_concern=concern)
        self.target = "%s.%s" % (mclient.params["database"], params["collection"])

    def batch(self, keys):
        # Plain reads, not a script: they go on under CLIENT PAUSE WRITE and on any Redis version. Round one
        # uses only commands that leave access times alone (TYPE, OBJECT IDLETIME); only the sessions that can
        # have grown get LLEN (which, before Redis 7.2, counts as an access).
        replies = self.r.read_keys(keys, ("TYPE", "IDLETIME"),
                                   action="read the type and idle time of %d sessions" % len(keys))
        self.counts["scanned"] += len(keys)
        candidates = self.worth_reading(keys, replies)
        if not candidates:
            return
        pending = self.over_limit(candidates)
        if self.check_mode:
            predicted = sum(item[2] for item in pending)
            self.counts["archived"] += predicted
            self.counts["moved"] += predicted
            self.counts["sessions_trimmed"] += len(pending)
            return
        # Each round moves one chunk per session; a session with more goes back in the queue. Every round
        # either shrinks a session's excess or drops the session, so the loop ends; the cap is a backstop.
        for _round in range(1 + sum(item[2] for item in pending)):
            if not pending:
                break
            for key, sid, excess, moved in self.move(plan_group(pending, self.chunk)):
                if moved and excess - moved > 0:
                    pending.append((key, sid, excess - moved))

    def worth_reading(self, keys, replies):
        """The list keys that may hold more than keep_messages, from their TYPE and OBJECT IDLETIME."""
        candidates = []
        for key, (name, idle) in zip(keys, replies, strict=True):
            if name == "none":
                self.counts["vanished"] += 1
            elif name != "list":
                self.skip(key, name)
            elif not isinstance(idle, int):  # no idle time (LFU policy): read it
                candidates.append(key)
            elif self.skip_idle is not None and idle > self.skip_idle:
                self.counts["idle_skipped"] += 1
            elif self.unchanged_after is not None and idle > self.unchanged_after:
                self.counts["unchanged"] += 1
            else:
                candidates.append(key)
        return candidates

    def over_limit(self, candidates):
        """LLEN of each candidate; returns a deque of [key, session id, messages over the limit]."""
        lengths = self.r.pipeline([("LLEN", key) for key in candidates],
                                  action="read the length of %d sessions" % len(candidates))
        pending = collections.deque()
        for key, length in zip(candidates, lengths, strict=True):
            if isinstance(length, Exception):
                self.skip(key, "changed type")
            elif length > self.keep:
                self.counts["matched"] += 1
                self.counts["messages_over_limit"] += length - self.keep
                self.samples.add("archived", key)
                pending.append((key, session_id(key, self.prefix), length - self.keep))
        return pending

    def move(self, group):
        """Archive, then trim, one chunk of each session of the group; returns [(key, sid, excess, moved)]."""
        replies = self.r.pipeline([("LRANGE", key, 0, take - 1) for key, _sid, _excess, take in group],
                                  action="read the oldest messages of %d sessions" % len(group))
        outcomes = []
        ready = []
        docs = []
        for (key, sid, excess, take), items in zip(group, replies, strict=True):
            if isinstance(items, Exception) or len(items) != take:
                self.conflict(key)  # shrank or changed type since the probe: left for the next run
                outcomes.append((key, sid, excess, 0))
                continue
            try:
                session_docs = message_documents(sid, items)
            except InvalidMessage as exc:
                self.counts["invalid"] += 1
                self.samples.add("invalid", key)
                if self.counts["invalid"] <= 3:
                    self.warnings.append("session %s left in Redis: %s" % (key_text(key), exc))
                outcomes.append((key, sid, excess, 0))
                continue
            ready.append((key, sid, excess, take, digest(items)))
            docs.extend(session_docs)
        if not ready:
            return outcomes
        collided = self.write(docs)  # raises before any trim when MongoDB did not take the messages
        trimmed = [entry for entry in ready if entry[1] not in collided]
        outcomes.extend((key, sid, excess, 0) for key, sid, excess, _take, _digest in ready if sid in collided)
        if not trimmed:
            return outcomes
        results = self.r.run_script_each(
            self.trim, [(key, [take, items_digest]) for key, _sid, _excess, take, items_digest in trimmed],
            action="trim archived messages from %d sessions" % len(trimmed))
        for (key, sid, excess, take, _digest), result in zip(trimmed, results, strict=True):
            if isinstance(result, Exception) or result != take:
                self.conflict(key)  # the head changed since it was read: archived, not trimmed; next run trims
                outcomes.append((key, sid, excess, 0))
                continue
            self.counts["moved"] += take
            if take == excess:
                self.counts["sessions_trimmed"] += 1
            outcomes.append((key, sid, excess, take))
        return outcomes

    def skip(self, key, type_name):
        self.counts["skipped"] += 1
        self.samples.add("skipped", key)
        self.skipped_types[type_name] = self.skipped_types.get(type_name, 0) + 1

    def conflict(self, key):
        self.counts["conflicts"] += 1
        self.samples.add("conflicts", key)

    def write(self, docs):
        """Insert every document that is not archived yet (unordered, acknowledged): an idempotent upsert keyed by
        `_id` = session:seq. Returns the sessions whose seq collides with a different archived message (those are
        not trimmed). Raises, before anything is trimmed, on any other write error."""
        with self.m.translate("archive %d messages to %s" % (len(docs), self.target)):
            try:
                result = self.collection.insert_many(docs, ordered=False)
                if not result.acknowledged:
                    raise errors.BrunoOpsError("MongoDB did not acknowledge the archive write to %s; nothing was "
                                               "trimmed" % self.target, kind=errors.API)
                inserted, duplicates = len(result.inserted_ids), []
            except BulkWriteError as exc:
                details = exc.details or {}
                others = [e for e in details.get("writeErrors", []) if e.get("code") != DUPLICATE_KEY]
                if others or details.get("writeConcernErrors"):
                    raise
                inserted = details.get("nInserted", 0)
                duplicates = [docs[e["index"]] for e in details.get("writeErrors", [])]
        self.counts["inserted"] += inserted
        self.counts["archived"] += inserted
        collided = set()
        if duplicates:
            wanted = {doc["_id"]: doc for doc in duplicates}
            with self.m.translate("compare %d already archived messages in %s" % (len(wanted), self.target)):
                stored = {doc["_id"]: doc for doc in self.collection.find({"_id": {"$in": list(wanted)}})}
            for doc_id, doc in wanted.items():
                if doc_id in stored and same_document(stored[doc_id], doc):
                    self.counts["already_archived"] += 1
                    self.counts["archived"] += 1
                else:
                    collided.add(doc["session_id"])
        if collided:
            self.counts["collisions"] += len(collided)
            for sid in sorted(collided)[:3]:
                self.warnings.append(
                    "session %s left in Redis: %s already holds a different message with the same session and "
                    "seq (was the session id reused?)" % (sid, self.target))
        return collided


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
        archiver = Archiver(keyspace, mclient, params, check_mode)
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
                keyspace.set(state_key, state_record(now_ms, params, pattern, archiver.target),
                             action="record the archive state %s" % state_key)
        except errors.BrunoOpsError as exc:
            counts = dict(archiver.counts)
            raise failure_with_cursor(exc, loop, counts, "session archive",
                                      "Messages are trimmed only after MongoDB acknowledged them, so none is "
                                      "lost") from None
        result = dict(archiver.counts)
        result.update(loop.report())
        result.update(
            skipped_types=archiver.skipped_types,
            pattern=pattern,
            collection=archiver.target,
            keep_messages=params["keep_messages"],
            duration=round(clock() - started, 3),
            no_touch=no_touch,
            incremental=archiver.unchanged_after is not None,
            samples=archiver.samples.report(("archived", "conflicts", "invalid", "skipped")),
            diff=archive_diff(archiver.counts, archiver.samples, check_mode),
            warnings=loop.warnings + archiver.warnings,
        )
        if archiver.counts["skipped"]:
            result["warnings"].append("%d keys matching %s are not lists and were skipped (types: %s)" % (
                archiver.counts["skipped"], pattern, ", ".join(sorted(archiver.skipped_types))))
        return result

    result = run_with_lock(keyspace, params.get("lock"), check_mode, body)
    result["changed"] = bool(result["moved"] or result["inserted"])
    undo = ("the archived messages are in mongodb %s (documents with session_id and seq); to restore a session, LPUSH "
            "its archived messages back onto the list, newest first" % result["collection"])
    result["change"] = scope.session_change("session_archive", keyspace.address, pattern, result["diff"],
                                            changed=result["changed"], undo=undo, check_mode=check_mode)
    return result

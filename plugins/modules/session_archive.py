#!/usr/bin/python
# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: session_archive
short_description: Trim the older turns of long conversations from Redis once MongoDB holds them, losing none
version_added: 0.1.0
description:
  - For every session (a Redis list under O(prefix)) that holds more than O(keep_messages) items, looks at the
    older ones and trims from the head of the list those that MongoDB holds, keeping the newest
    O(keep_messages) in Redis. Counts are in turns for O(session_shape=turns), in messages for C(seq) (RV(unit)).
  - B(verify) (O(archive_mode), the default) is for an app that persists every turn itself, as agent-bruno does
    into C(agent_bruno.conversations). Each older turn is looked up in the app's collection by ip (the key after
    O(prefix)), timestamp, message and response. Only the leading run of turns found there is trimmed; nothing
    is ever inserted. When turns are missing, nothing past the first missing one is trimmed, and the result says
    RV(app_not_persisting=true) with a warning and the counts.
  - B(copy) is for an app that does not persist. The turns the collection lacks are inserted in the app's
    document shape C({ip, timestamp, message, response, context, created_at}), with a deterministic C(_id)
    (a digest of key and content, no sequence number), acknowledged. They are trimmed only after that. A
    rerun after a crash between write and trim finds them and trims without duplicating.
  - The trim is a Lua script that first checks the head of the list still holds exactly what was verified or
    copied. Turns appended during the run go to the tail and are never lost.
  - A malformed turn (not JSON, missing fields, a lone surrogate, a NUL or C($) in a field name, an integer
    beyond 64 bits; in copy mode also NaN or Infinity, or a document MongoDB refuses, such as a C(.) in a field
    name on FerretDB) is left in Redis with every turn after it. It is counted in RV(malformed) and named in
    RV(malformed_turns) (key and index, never its content), and the run goes on with the other sessions.
  - Resumable like M(bruno.ops.redis_session_cleanup), with O(cursor), O(max_duration) and O(ops_per_second).
  - See C(docs/sessions.md) in the collection for the argument why no turn is lost or duplicated.
author:
  - bruno.ops contributors (@bruno-ops)
extends_documentation_fragment:
  - bruno.ops.attributes
  - bruno.ops.attributes.change_module
  - bruno.ops.redis
  - bruno.ops.session_scope
  - bruno.ops.session_lock
  - bruno.ops.mongodb
options:
  keep_messages:
    description: How many of the newest turns (messages) stay in Redis. Sessions with more get the rest archived.
    type: int
    default: 20
    aliases: [keep_turns]
  collection:
    description: The app's MongoDB collection of turns, in the database of O(mongodb.database).
    type: str
    default: conversations
  archive_mode:
    description:
      - C(verify) trims only turns found in O(collection) (the app persists them); it never inserts.
      - C(copy) inserts the missing turns first (the app does not persist), then trims.
    type: str
    choices: [verify, copy]
    default: verify
  session_shape:
    description:
      - How sessions are stored. C(turns) (the real agent-bruno) is a list of JSON turns
        C({"timestamp", "message", "response", "context"}) without a sequence field. C(seq) (the former lab
        agent) is a list of C({"seq", "role", "content", "ts"}) messages, archived with C(_id) C(<session>:<seq>).
      - C(hash) and C(string) sessions have no oldest items to trim; the module refuses them with an error.
    type: str
    choices: [turns, seq, hash, string]
    default: turns
  check_mode_reads:
    description:
      - What check mode may read. C(auto) reads the sessions' turns only where Redis takes C(CLIENT NO-TOUCH)
        (7.2+), so check mode never changes an idle time. Before 7.2 it reads only C(TYPE), C(OBJECT IDLETIME)
        and C(MEMORY USAGE) and reports the turn figures as null (RV(prediction=metadata)).
      - C(contents) reads them anyway, for an exact prediction, at the price of restarting the idle time of the
        sessions it reads before Redis 7.2. C(metadata) never reads them.
    type: str
    choices: [auto, metadata, contents]
    default: auto
  redact:
    description:
      - Redact client IPs in the session keys of the output (IPv4 keeps three octets, C(203.0.113.x); anything
        else becomes C(h:) and 10 hex digits of its SHA-256). Chat text is never in the output.
      - C(false) shows the keys as they are.
    type: bool
    default: true
  chunk_size:
    description: Most messages moved from one session in one step; longer backlogs take several steps.
    type: int
    default: 500
  batch_bytes:
    description:
      - Most bytes of turns read from Redis in one round trip, over all the sessions of a step (each session
        gets at least one turn). This, not the number of turns, bounds the module's memory (a few times this),
        the memory of the Lua scripts and how long one of them keeps Redis busy, however large the turns.
      - Between 1024 and 536870912. Keep one step's scripts well under O(redis.socket_timeout).
    type: int
    default: 8388608
  preserve_idle_times:
    description:
      - Before Redis 7.2 (no C(CLIENT NO-TOUCH)) reading or trimming a list restarts its idle time, which the idle
        cleanup (M(bruno.ops.redis_session_cleanup)) decides on. With C(true) a real run reads and trims through
        scripts that take C(OBJECT IDLETIME) first and put it back (C(DUMP), then C(RESTORE ... REPLACE IDLETIME)
        with the same expiry) in the same atomic step, so no session looks used because the archive read it.
      - The price, per session read, is a C(DUMP) and C(RESTORE) of the whole list inside the script (Redis is
        busy for about 12 ms per MiB of session here), its bytes in the AOF and to replicas, and a C(WATCH) on
        that key by the app fails once. When Redis refuses the C(RESTORE) (maxmemory), the session's idle time
        restarts and RV(idle_not_kept) counts it.
      - C(false) reads without putting idle times back (cheaper; the archive then keeps read sessions alive).
        Ignored on Redis 7.2+ (C(CLIENT NO-TOUCH)) and in check mode, which never writes.
    type: bool
    default: true
  skip_idle_longer_than:
    description:
      - Sessions not used for longer than this many seconds (C(OBJECT IDLETIME)) are not read. Set it to the
        O(bruno.ops.redis_session_cleanup#module:policies.max_idle) of the cleanup, which deletes them, so the
        archive does not read sessions that are about to go.
    type: int
  state_key:
    description:
      - Redis key where a complete run records when it started (when it ended if its own reads restarted idle
        times, O(preserve_idle_times=false) before Redis 7.2). The next run then reads only the sessions used
        since (the others cannot have grown), which is faster.
      - After backfilling the collection by other means, run once with an empty O(state_key).
      - An empty string turns this off; every session is then read on every run.
      - Not written in check mode, nor by a run that was resumed from a cursor or did not complete.
    type: str
    default: "bruno:ops:session_archive:state"
notes:
  - In check mode nothing is written to Redis or MongoDB, and RV(moved), RV(inserted) and the other figures are
    what the run would do (RV(prediction=exact)). RV(diff) holds before/after counts and example session keys.
  - Sessions whose C(MEMORY USAGE) is too small to hold more than O(keep_messages) well-formed items are not
    read (RV(below_limit_by_size)).
  - Reading a session's turns counts as an access in Redis before 7.2, which restarts its idle time. On Redis
    7.2 and later the module turns that off (C(CLIENT NO-TOUCH)). Before, check mode does not read them (see
    O(check_mode_reads)), and a real run puts every idle time it disturbed back (O(preserve_idle_times)). It
    reads only sessions that can be over the limit, used since its last complete run (O(state_key)), and not
    idle longer than O(skip_idle_longer_than).
  - Redis Cluster is not supported; use a standalone Redis (or a primary).
  - Passwords never appear in the output.
"""

EXAMPLES = r"""
- name: Keep the last 20 messages of each conversation in Redis, archive the rest
  bruno.ops.session_archive:
    redis:
      host: redis-master.redis.svc
      password: "{{ vault_redis_password }}"
    mongodb:
      uri: "{{ vault_mongodb_uri }}"
      database: agent_bruno
    keep_messages: 20
    max_duration: 900

- name: The app does not persist (its MongoDB writes fail), so copy the older turns, then trim
  bruno.ops.session_archive:
    redis: "{{ bruno_redis }}"
    mongodb: "{{ bruno_mongodb }}"
    archive_mode: copy
  register: archive

- name: See what would move
  bruno.ops.session_archive:
    redis: "{{ bruno_redis }}"
    mongodb: "{{ bruno_mongodb }}"
    keep_messages: 50
  check_mode: true
  diff: true
"""

RETURN = r"""
scanned:
  description: Keys C(SCAN) returned.
  returned: always
  type: int
  sample: 120000
matched:
  description: Sessions holding more than O(keep_messages) messages.
  returned: always
  type: int
  sample: 812
messages_over_limit:
  description: Messages beyond O(keep_messages), summed over the matched sessions, when they were looked at.
  returned: always
  type: int
  sample: 40210
archived:
  description:
    - Older turns that the collection holds after this run (found there, plus inserted in copy mode), among
      those looked at. In check mode, what it would hold. Null when RV(prediction=metadata), like every turn
      figure.
  returned: always
  type: int
  sample: 40210
verified:
  description: Older turns found in the collection (by ip, timestamp, message and response; by C(_id) for C(seq)).
  returned: always
  type: int
  sample: 40210
missing:
  description: Older turns looked at that the collection lacks (verify mode; they stay in Redis).
  returned: always
  type: int
  sample: 0
sessions_not_persisted:
  description: Sessions with at least one missing turn (verify mode).
  returned: always
  type: int
  sample: 0
app_not_persisting:
  description:
    - True when O(archive_mode=verify) found older turns missing from the collection, so the app is not
      persisting and Redis holds the only copy. Null when RV(prediction=metadata).
  returned: always
  type: bool
  sample: false
unit:
  description: What the counts count, C(turns) (O(session_shape=turns)) or C(messages) (C(seq)).
  returned: always
  type: str
  sample: turns
session_shape:
  description: The O(session_shape) used.
  returned: always
  type: str
  sample: turns
archive_mode:
  description: The O(archive_mode) used.
  returned: always
  type: str
  sample: verify
prediction:
  description:
    - C(applied) for a real run; in check mode C(exact) when the turns were read, C(metadata) when they could
      not be read without changing idle times (see O(check_mode_reads)).
  returned: always
  type: str
  sample: applied
malformed:
  description: Sessions left (from their first malformed turn on) in Redis because a turn is malformed.
  returned: always
  type: int
  sample: 0
malformed_turns:
  description: The first malformed turns found, each with its (redacted) session key, its index from the head of
    the list, and why.
  returned: always
  type: list
  elements: dict
  sample: [{"key": "bruno:session:203.0.113.x", "index": 0, "reason": "turn holds a lone surrogate (invalid Unicode)"}]
below_limit_by_size:
  description: Sessions not read because their C(MEMORY USAGE) is too small to hold more than O(keep_messages) items.
  returned: always
  type: int
  sample: 1180
not_read:
  description: Sessions check mode did not read (RV(prediction=metadata)) that may be over the limit.
  returned: always
  type: int
  sample: 0
moved:
  description: Messages trimmed from Redis after they were archived (would be, in check mode).
  returned: always
  type: int
  sample: 40210
inserted:
  description: Documents this run created in MongoDB (copy mode; would create, in check mode).
  returned: always
  type: int
  sample: 40000
already_archived:
  description: Older turns that MongoDB already held (the same as RV(verified), kept for older playbooks).
  returned: always
  type: int
  sample: 210
sessions_trimmed:
  description: Sessions brought down to O(keep_messages) messages.
  returned: always
  type: int
  sample: 812
conflicts:
  description:
    - Sessions whose oldest messages changed between read and trim (for example deleted by another client).
      Their archived copies are kept; nothing is trimmed; the next run tries again.
  returned: always
  type: int
  sample: 0
collisions:
  description: Sessions left in Redis because MongoDB holds a different message with the same id.
  returned: always
  type: int
  sample: 0
invalid:
  description: The same as RV(malformed) (kept for older playbooks).
  returned: always
  type: int
  sample: 0
skipped:
  description: Keys that are not lists, left alone.
  returned: always
  type: int
  sample: 1
skipped_types:
  description: How many skipped keys had each type.
  returned: always
  type: dict
  sample: {"hash": 1}
unchanged:
  description: Sessions not read because nobody used them since the last complete run (see O(state_key)).
  returned: always
  type: int
  sample: 118000
idle_skipped:
  description: Sessions not read because idle longer than O(skip_idle_longer_than).
  returned: always
  type: int
  sample: 40
incremental:
  description: Whether a usable state from an earlier complete run let this one skip unchanged sessions.
  returned: always
  type: bool
  sample: true
vanished:
  description: Keys that expired or were deleted between C(SCAN) and the read.
  returned: always
  type: int
  sample: 0
collection:
  description: Where the messages went, as C(database.collection).
  returned: always
  type: str
  sample: agent_bruno.conversations
keep_messages:
  description: The O(keep_messages) that was used.
  returned: always
  type: int
  sample: 20
pattern:
  description: The C(SCAN MATCH) pattern that was used.
  returned: always
  type: str
  sample: "bruno:session:*"
duration:
  description: Seconds the run took.
  returned: always
  type: float
  sample: 12.5
cursor:
  description:
    - C(0) when the whole keyspace was scanned, else the value to pass as O(cursor) to resume.
    - Also returned when the task fails in the middle of the run.
  returned: always
  type: str
  sample: "0"
complete:
  description: Whether the scan reached its end.
  returned: always
  type: bool
  sample: true
stopped_by:
  description: Why an incomplete run stopped early (C(max_duration)), or null.
  returned: always
  type: str
  sample: null
restarted_scan:
  description: The given cursor belonged to a Redis process that has restarted since, so the scan started over.
  returned: always
  type: bool
  sample: false
no_touch:
  description: Whether reads left the sessions' idle times alone (C(CLIENT NO-TOUCH), Redis 7.2+).
  returned: always
  type: bool
  sample: false
idle_times_kept:
  description:
    - Whether every session's idle time is what it was before the run (C(CLIENT NO-TOUCH), no turn read, or
      every idle time put back, see O(preserve_idle_times)).
  returned: always
  type: bool
  sample: true
idle_not_kept:
  description: Sessions whose idle time could not be put back after a read (Redis refused the C(RESTORE)).
  returned: always
  type: int
  sample: 0
batch_bytes:
  description: The O(batch_bytes) used.
  returned: always
  type: int
  sample: 8388608
largest_read_bytes:
  description: The most bytes of turns one round trip read (at most O(batch_bytes) plus one turn).
  returned: always
  type: int
  sample: 4194304
samples:
  description:
    - Up to O(sample_size) example keys (redacted unless O(redact=false)) of sessions over the limit, conflicting,
      malformed (C(invalid)), skipped and not persisted.
  returned: always
  type: dict
  sample: {"archived": ["bruno:session:203.0.113.x"], "conflicts": [], "invalid": [], "skipped": [],
           "not_persisted": []}
diff:
  description: Before/after counts of sessions and messages over the limit, with example keys.
  returned: in diff mode
  type: dict
  sample: {"before": {"sessions_over_limit": 2, "messages_over_limit": 30, "session_keys": ["bruno:session:1"]},
           "after": {"sessions_over_limit": 0, "messages_over_limit": 0}}
lock:
  description: The run lock, when O(lock) is set.
  returned: when O(lock) is set
  type: dict
  sample: {"key": "bruno:ops:lock:cleanup", "owner": "run-42", "held": false, "released": true}
change:
  description:
    - This run's entry for the change record, built by the module (roles append it as it is). C(before) and
      C(after) are the counts of RV(diff) without the example keys; C(undo) says in words how to reverse it.
    - In check mode, the predicted change (C(note) says so).
  returned: success
  type: dict
  sample:
    action: "session_archive"
    target: "redis://redis-master:6379/0 bruno:session:*"
    changed: true
    before: {"sessions_over_limit": 2, "messages_over_limit": 30}
    after: {"sessions_over_limit": 0, "messages_over_limit": 0}
    undo: "the trimmed turns are in mongodb agent_bruno.conversations ..."
    note: ""
"""

from ansible_collections.bruno.ops.plugins.module_utils import errors, module_run
from ansible_collections.bruno.ops.plugins.module_utils.clients.mongo_client import MONGODB_CONNECTION_SPEC, MongoClient
from ansible_collections.bruno.ops.plugins.module_utils.clients.redis_client import REDIS_CONNECTION_SPEC, redis_option
from ansible_collections.bruno.ops.plugins.module_utils.clients.redis_keyspace import standalone
from ansible_collections.bruno.ops.plugins.module_utils.sessions import archive as session_archive
from ansible_collections.bruno.ops.plugins.module_utils.sessions import cursor, lock, scope, shapes

ARGUMENT_SPEC = dict(
    redis=redis_option(),
    mongodb=dict(type="dict", options=MONGODB_CONNECTION_SPEC),
    keep_messages=dict(type="int", default=20, aliases=["keep_turns"]),
    collection=dict(type="str", default="conversations"),
    archive_mode=dict(type="str", choices=list(session_archive.MODES), default="verify"),
    session_shape=dict(type="str", choices=list(shapes.SHAPES), default="turns"),
    check_mode_reads=dict(type="str", choices=list(session_archive.CHECK_READS), default="auto"),
    redact=dict(type="bool", default=True),
    chunk_size=dict(type="int", default=500),
    batch_bytes=dict(type="int", default=session_archive.BATCH_BYTES),
    preserve_idle_times=dict(type="bool", default=True),
    skip_idle_longer_than=dict(type="int"),
    state_key=dict(type="str", default="bruno:ops:session_archive:state", no_log=False),
    lock=lock.lock_option(),
    **scope.scope_options(),
)


def run(params, check_mode, module=None):
    """Validate, connect, archive; the result dict (a failed one, with the cursor, when stopped mid-run)."""
    scope.resolve_scope(params["prefix"], params["pattern"], params["allow_broad_pattern"])
    cursor.validate_run_options(params)
    session_archive.validate_archive_options(params)
    with standalone(scope.connection_params(params["redis"], REDIS_CONNECTION_SPEC)) as keyspace:
        mclient = MongoClient(scope.connection_params(params["mongodb"], MONGODB_CONNECTION_SPEC))
        try:
            result = session_archive.run_archive(keyspace, mclient, params, check_mode)
        except errors.BrunoOpsError as exc:
            return cursor.resumable_failure(exc)
        finally:
            mclient.close()
    return cursor.diff_when_asked(result, module)


def main():
    module_run.main(ARGUMENT_SPEC, run, with_module=True)


if __name__ == "__main__":
    main()

#!/usr/bin/python
# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: session_archive
short_description: Move the older messages of long conversations from Redis to MongoDB without losing any
version_added: 0.1.0
description:
  - For every session (a Redis list of JSON messages under O(prefix)) that holds more than O(keep_messages)
    messages, copies the older ones to a MongoDB collection and then removes them from Redis, keeping the
    newest O(keep_messages) in Redis.
  - Each message becomes one document with C(_id) set to C(<session id>:<seq>) plus C(session_id) and the
    message's own fields. The write is an acknowledged insert-if-absent upsert, so reruns never duplicate.
  - A message is trimmed from Redis only after MongoDB acknowledged it, by a Lua script that first checks the
    head of the list still holds exactly what was archived. Messages appended during the run go to the tail
    and are never lost.
  - Resumable like M(bruno.ops.redis_session_cleanup), with O(cursor), O(max_duration) and O(ops_per_second).
  - Sessions whose messages are not JSON objects with a rising integer C(seq), and keys that are not lists,
    are left alone and counted.
  - See C(docs/sessions.md) in the collection for the argument why no message is lost or duplicated.
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
    description: How many of the newest messages stay in Redis. Sessions with more get the rest archived.
    type: int
    default: 20
  collection:
    description: MongoDB collection of the archived messages, in the database of O(mongodb.database).
    type: str
    default: conversations
  chunk_size:
    description: Most messages moved from one session in one step; longer backlogs take several steps.
    type: int
    default: 500
  skip_idle_longer_than:
    description:
      - Sessions not used for longer than this many seconds (C(OBJECT IDLETIME)) are not read. Set it to the
        O(bruno.ops.redis_session_cleanup#module:policies.max_idle) of the cleanup, which deletes them, so the
        archive does not read (and, before Redis 7.2, refresh) sessions that are about to go.
    type: int
  state_key:
    description:
      - Redis key where a complete run records when it started. The next run then reads only the sessions used
        since (the others cannot have grown), which is faster and, before Redis 7.2, lets unused sessions age.
      - An empty string turns this off; every session is then read on every run.
      - Not written in check mode, nor by a run that was resumed from a cursor or did not complete.
    type: str
    default: "bruno:ops:session_archive:state"
notes:
  - In check mode only the list lengths are read; nothing is written to Redis or MongoDB. RV(diff) holds
    before/after counts and example session keys.
  - Reading a session's length counts as an access in Redis before 7.2, which restarts its idle time. On
    Redis 7.2 and later the module turns that off (C(CLIENT NO-TOUCH)). Before, it reads only the sessions
    used since its last complete run (O(state_key)) and none idle longer than O(skip_idle_longer_than), so
    unused sessions still age. Run M(bruno.ops.redis_session_cleanup) first, as C(playbooks/cleanup_sessions.yml)
    does.
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
      database: bruno
    keep_messages: 20
    max_duration: 900
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
    - Messages MongoDB holds after this run's acknowledged writes (new and already archived). Equals RV(moved)
      unless RV(conflicts) or RV(collisions) is not zero. In check mode, the messages that would be archived.
  returned: always
  type: int
  sample: 40210
moved:
  description: Messages trimmed from Redis after they were archived (would be, in check mode).
  returned: always
  type: int
  sample: 40210
inserted:
  description: Documents this run created in MongoDB.
  returned: always
  type: int
  sample: 40000
already_archived:
  description: Messages that MongoDB already held, identical (a rerun after an interrupted run).
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
  description: Sessions left in Redis because a message is not a JSON object with a rising integer seq.
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
  sample: bruno.conversations
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
samples:
  description: Up to O(sample_size) example keys of archived, conflicting, invalid and skipped sessions.
  returned: always
  type: dict
  sample: {"archived": ["bruno:session:4f1c"], "conflicts": [], "invalid": [], "skipped": []}
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
    undo: "the archived messages are in mongodb bruno.conversations ..."
    note: ""
"""

from ansible_collections.bruno.ops.plugins.module_utils import errors, module_run
from ansible_collections.bruno.ops.plugins.module_utils.clients.mongo_client import (
    MONGODB_CONNECTION_SPEC,
    MongoClient,
    mongodb_option,
)
from ansible_collections.bruno.ops.plugins.module_utils.clients.redis_client import REDIS_CONNECTION_SPEC, redis_option
from ansible_collections.bruno.ops.plugins.module_utils.clients.redis_keyspace import standalone
from ansible_collections.bruno.ops.plugins.module_utils.sessions import archive as session_archive
from ansible_collections.bruno.ops.plugins.module_utils.sessions import cursor, lock, scope

ARGUMENT_SPEC = dict(
    redis=redis_option(),
    mongodb=mongodb_option(),
    keep_messages=dict(type="int", default=20),
    collection=dict(type="str", default="conversations"),
    chunk_size=dict(type="int", default=500),
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

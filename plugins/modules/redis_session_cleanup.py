#!/usr/bin/python
# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: redis_session_cleanup
short_description: Expire, cap and delete idle session keys in Redis, in batches, without losing live sessions
version_added: 0.1.0
description:
  - Walks the keys of one prefix with C(SCAN) in batches and applies up to three policies to each session key.
    O(policies.missing_ttl) gives a TTL to sessions that have none, O(policies.max_ttl) lowers TTLs that are
    longer than a maximum (after C(SESSION_TTL) was lowered), and O(policies.max_idle) deletes sessions nobody
    has used for longer than a threshold.
  - Each batch is decided and applied by one Lua script, so the idle check and the C(UNLINK) are atomic; a
    session touched during the run is never deleted. Keys are removed with C(UNLINK), never C(DEL).
  - Walks at most O(ops_per_second) keys per second (the keys C(SCAN) walks, matching or not) and for at most
    O(max_duration) seconds, then returns RV(cursor) to resume from. A batch is applied in parts of 200 keys and
    the time budget is looked at between them, so one large batch cannot overstay it. A failure in the middle
    also reports the cursor.
  - Keys of another type than O(session_type) are skipped and counted, never changed.
  - Refuses a pattern without a literal prefix (such as C(*)) unless O(allow_broad_pattern=true).
  - See C(docs/sessions.md) in the collection for the atomicity argument and the resume semantics.
author:
  - bruno.ops contributors (@bruno-ops)
extends_documentation_fragment:
  - bruno.ops.attributes
  - bruno.ops.attributes.change_module
  - bruno.ops.redis
  - bruno.ops.session_scope
  - bruno.ops.session_lock
options:
  policies:
    description:
      - What to do to each session. Set at least one; each is a number of seconds greater than zero.
    type: dict
    required: true
    suboptions:
      missing_ttl:
        description: TTL given to sessions that have none. Must not be longer than O(policies.max_ttl).
        type: int
      max_ttl:
        description: Sessions whose remaining TTL is longer than this get exactly this TTL.
        type: int
      max_idle:
        description:
          - Sessions not read or written for longer than this (Redis C(OBJECT IDLETIME)) are deleted.
          - Needs a Redis C(maxmemory-policy) that is not LFU, since Redis then does not track idle time.
          - Redis records no access while it forks (C(BGSAVE), AOF rewrite, a replica's full sync), so idle
            deletion waits until the last fork ended more than this many seconds ago (RV(deferred)). Redis 7.0
            reports when a fork ended only for RDB saves to disk; after an AOF rewrite or a diskless replica sync
            idle deletion stays deferred until Redis restarts. The TTL policies are not affected.
        type: int
  session_shape:
    description:
      - How sessions are stored; its Redis type is what a session key must have (C(turns) and C(seq) are lists,
        C(hash) a hash, C(string) a string). Keys of another type are skipped and counted. C(turns) is the real
        agent-bruno (lists of turn objects without a sequence field), C(seq) the former lab agent.
    type: str
    choices: [turns, seq, hash, string]
    default: turns
  session_type:
    description:
      - The Redis type of a session key, when it is none of O(session_shape)'s (C(set), C(zset), C(stream)).
        Overrides the type of O(session_shape).
    type: str
    choices: [list, hash, string, set, zset, stream]
  redact:
    description:
      - Redact client IPs in the example keys of the output (IPv4 keeps three octets, C(203.0.113.x); anything
        else becomes C(h:) and 10 hex digits of its SHA-256). C(false) shows the keys as they are.
    type: bool
    default: true
notes:
  - In check mode the same Lua script runs with changes switched off, using only commands that leave idle
    times alone. RV(diff) holds before/after counts and example keys.
  - Redis Cluster is not supported; use a standalone Redis (or a primary).
  - Setting or lowering a TTL counts as an access in Redis, so it restarts the key's idle time. Keys that
    are idle longer than O(policies.max_idle) are deleted before the TTL policies are looked at.
  - Passwords never appear in the output.
"""

EXAMPLES = r"""
- name: Match a lowered SESSION_TTL of 1 h, and delete sessions idle for a day
  bruno.ops.redis_session_cleanup:
    redis:
      host: redis-master.redis.svc
      password: "{{ vault_redis_password }}"
    prefix: "bruno:session:"
    policies:
      missing_ttl: 3600
      max_ttl: 3600
      max_idle: 86400
    ops_per_second: 20000
    max_duration: 600
  register: cleanup

- name: Resume where the last run stopped
  bruno.ops.redis_session_cleanup:
    redis: "{{ bruno_redis }}"
    policies:
      max_ttl: 3600
    cursor: "{{ cleanup.cursor }}"
  when: not cleanup.complete

- name: Audit only
  bruno.ops.redis_session_cleanup:
    redis: "{{ bruno_redis }}"
    policies:
      missing_ttl: 3600
  check_mode: true
  diff: true
"""

RETURN = r"""
scanned:
  description: Keys C(SCAN) returned (C(SCAN) may return a key twice; changes are counted once).
  returned: always
  type: int
  sample: 120000
matched:
  description: Keys that were sessions (of O(session_type)) when the script looked at them.
  returned: always
  type: int
  sample: 119990
ttl_set:
  description: Sessions that had no TTL and got O(policies.missing_ttl) (would get, in check mode).
  returned: always
  type: int
  sample: 36000
ttl_capped:
  description: Sessions whose TTL was lowered to O(policies.max_ttl) (would be, in check mode).
  returned: always
  type: int
  sample: 80000
deleted:
  description: Sessions deleted because idle longer than O(policies.max_idle) (would be, in check mode).
  returned: always
  type: int
  sample: 4100
bytes_freed:
  description: Estimated memory of the deleted sessions (C(MEMORY USAGE)), in bytes.
  returned: always
  type: int
  sample: 5242880
deferred:
  description:
    - Idle sessions not deleted because Redis was forking (C(BGSAVE), AOF rewrite) when their batch ran, or
      its last fork ended less than O(policies.max_idle) ago (RV(deferred_after_fork)); Redis does not record
      accesses during a fork, so their idle time cannot be trusted. A later run deletes them.
  returned: always
  type: int
  sample: 0
deferred_after_fork:
  description: The part of RV(deferred) kept because the last fork ended too recently, or at an unknown time.
  returned: always
  type: int
  sample: 0
last_fork_ended_seconds_ago:
  description:
    - Seconds since the last fork of Redis ended, as the cleanup script saw it; C(-1) when Redis does not report
      it (AOF rewrite, diskless replica sync, failed save); null when there was none or O(policies.max_idle) is off.
  returned: always
  type: int
  sample: null
idle_clocks_started_over:
  description:
    - Redis started less than O(policies.max_idle) ago, so the idle times of sessions unused since before the
      restart count from the restart on; they are not deleted as idle by this run (a warning says so).
  returned: always
  type: bool
  sample: false
walked:
  description: Keys C(SCAN) walked (its C(COUNT) per step), matching or not; O(ops_per_second) paces these.
  returned: always
  type: int
  sample: 1000000
rate_limited_seconds:
  description: Seconds the run waited to keep to O(ops_per_second).
  returned: always
  type: float
  sample: 0.0
without_ttl:
  description: Sessions left without a TTL because O(policies.missing_ttl) is not set.
  returned: always
  type: int
  sample: 0
skipped:
  description: Keys of another type than O(session_type), left alone.
  returned: always
  type: int
  sample: 1
skipped_types:
  description: How many skipped keys had each type.
  returned: always
  type: dict
  sample: {"string": 1}
vanished:
  description: Keys that expired or were deleted between C(SCAN) and the script.
  returned: always
  type: int
  sample: 3
duration:
  description: Seconds the run took.
  returned: always
  type: float
  sample: 4.21
cursor:
  description:
    - C(0) when the whole keyspace was scanned, else the value to pass as O(cursor) to resume.
    - Also returned when the task fails in the middle of the run.
  returned: always
  type: str
  sample: "1835008@d7c5a3f35c5e0b7ab2a4e3ff1ab4d4a6c8e9f012"
complete:
  description:
    - Whether the scan reached its end (false after O(max_duration), also when it stopped inside a batch, or when
      Redis restarted mid-run).
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
pattern:
  description: The C(SCAN MATCH) pattern that was used.
  returned: always
  type: str
  sample: "bruno:session:*"
policies:
  description: The policies that were applied.
  returned: always
  type: dict
  sample: {"max_ttl": 3600, "max_idle": 86400}
samples:
  description: Up to O(sample_size) example keys for each kind of change and for skipped keys.
  returned: always
  type: dict
  sample: {"deleted": ["bruno:session:203.0.113.x"], "ttl_set": [], "ttl_capped": ["bruno:session:h:9a0e51c2d4"],
           "skipped": []}
diff:
  description: Before/after counts of what the policies look at, with example keys of each change.
  returned: in diff mode
  type: dict
  sample: {"before": {"sessions": 10, "without_ttl": 3, "ttl_set_keys": ["bruno:session:1"]},
           "after": {"sessions": 10, "without_ttl": 0}}
lock:
  description: The run lock, when O(lock) is set.
  returned: when O(lock) is set
  type: dict
  sample: {"key": "bruno:ops:lock:cleanup", "owner": "run-42", "held": false, "released": true, "ttl": 90}
change:
  description:
    - This run's entry for the change record, built by the module (roles append it as it is). C(before) and
      C(after) are the counts of RV(diff) without the example keys; C(undo) says in words how to reverse it.
    - In check mode, the predicted change (C(note) says so).
  returned: success
  type: dict
  sample:
    action: "session_cleanup"
    target: "redis://redis-master:6379/0 bruno:session:*"
    changed: true
    before: {"sessions": 10, "without_ttl": 3}
    after: {"sessions": 10, "without_ttl": 0}
    undo: "deleted sessions cannot be brought back (UNLINK); ..."
    note: ""
"""

from ansible_collections.bruno.ops.plugins.module_utils import errors, module_run
from ansible_collections.bruno.ops.plugins.module_utils.clients.redis_client import REDIS_CONNECTION_SPEC, redis_option
from ansible_collections.bruno.ops.plugins.module_utils.clients.redis_keyspace import standalone
from ansible_collections.bruno.ops.plugins.module_utils.sessions import cleanup as session_cleanup
from ansible_collections.bruno.ops.plugins.module_utils.sessions import cursor, lock, scope, shapes

ARGUMENT_SPEC = dict(
    redis=redis_option(),
    policies=dict(type="dict", required=True, options=session_cleanup.POLICY_SPEC),
    session_shape=dict(type="str", choices=list(shapes.SHAPES), default="turns"),
    session_type=dict(type="str", choices=list(scope.SESSION_TYPES)),
    redact=dict(type="bool", default=True),
    lock=lock.lock_option(),
    **scope.scope_options(),
)


def run(params, check_mode, module=None):
    """Validate, connect, clean up; the result dict (a failed one, with the cursor, when stopped mid-run)."""
    scope.resolve_scope(params["prefix"], params["pattern"], params["allow_broad_pattern"])
    session_cleanup.validate_policies(params["policies"])
    cursor.validate_run_options(params)
    with standalone(scope.connection_params(params["redis"], REDIS_CONNECTION_SPEC)) as keyspace:
        try:
            result = session_cleanup.run_cleanup(keyspace, params, check_mode)
        except errors.BrunoOpsError as exc:
            return cursor.resumable_failure(exc)
    return cursor.diff_when_asked(result, module)


def main():
    module_run.main(ARGUMENT_SPEC, run, with_module=True)


if __name__ == "__main__":
    main()

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
  - Runs at most O(ops_per_second) keys per second and for at most O(max_duration) seconds, then returns
    RV(cursor) to resume from. A failure in the middle also reports the cursor.
  - Keys of another type than O(session_type) are skipped and counted, never changed.
  - Refuses a pattern without a literal prefix (such as C(*)) unless O(allow_broad_pattern=true).
  - See C(docs/sessions.md) in the collection for the atomicity argument and the resume semantics.
author:
  - bruno.ops contributors (@bruno-ops)
extends_documentation_fragment:
  - bruno.ops.redis
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
        type: int
  session_type:
    description: The Redis type of a session key; keys of another type are skipped and counted.
    type: str
    choices: [list, hash, string, set, zset, stream]
    default: list
  prefix:
    description: Key prefix of the sessions. Every key the run looks at starts with it.
    type: str
    default: "bruno:session:"
  pattern:
    description:
      - C(SCAN MATCH) glob. Defaults to O(prefix) followed by C(*). Its literal start must begin with O(prefix).
    type: str
  allow_broad_pattern:
    description: Allow a pattern without a literal prefix (or an empty O(prefix)), which may match every key.
    type: bool
    default: false
  batch_size:
    description: C(SCAN COUNT) hint, and so roughly the keys one Lua call handles (1 to 10000).
    type: int
    default: 1000
  ops_per_second:
    description: At most this many keys per second. Unlimited when not set.
    type: float
  max_duration:
    description: Stop after this many seconds and return RV(cursor). Unlimited when not set.
    type: float
  cursor:
    description:
      - Where to resume, as RV(cursor) returned by an earlier run. C(0) starts from the beginning.
      - A cursor from a Redis process that has restarted since is not valid there; the scan then starts over.
    type: str
    default: "0"
  sample_size:
    description: How many example keys to return for each kind of change.
    type: int
    default: 10
  lock:
    description:
      - Take a lock with an expiry in Redis (C(SET NX PX)) for the run, so two runs never overlap. A run
        whose lock is held by another owner fails without changing anything.
      - Not taken in check mode.
    type: dict
    suboptions:
      key:
        description: Key of the lock. Keep it outside O(prefix).
        type: str
        required: true
      owner:
        description:
          - Identifies the run. Tasks of one playbook run that share an owner share the lock. Random when not set.
        type: str
      ttl:
        description: Seconds after which a lock left behind by a killed run expires. Refreshed during the run.
        type: int
        default: 3600
      release:
        description: Release the lock when the task ends. It is always released when the task fails.
        type: bool
        default: true
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: The same Lua script runs with changes switched off and only commands that leave idle times alone.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: RV(diff) holds before/after counts and example keys.
notes:
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
    - Idle sessions not deleted because Redis was saving (C(BGSAVE), AOF rewrite) when their batch ran; Redis
      does not record accesses then, so their idle time cannot be trusted. A later run deletes them.
  returned: always
  type: int
  sample: 0
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
  description: Whether the scan reached its end (false after O(max_duration), or when Redis restarted mid-run).
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
  sample: {"deleted": ["bruno:session:4f1c"], "ttl_set": [], "ttl_capped": ["bruno:session:9a0e"], "skipped": []}
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
  sample: {"key": "bruno:ops:lock:cleanup", "owner": "run-42", "held": false, "released": true}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.bruno.ops.plugins.module_utils import errors
from ansible_collections.bruno.ops.plugins.module_utils.clients.redis_client import (
    REDIS_CONNECTION_SPEC,
    RedisClient,
    redis_option,
)
from ansible_collections.bruno.ops.plugins.module_utils.sessions import cleanup as session_cleanup


def argument_spec():
    spec = dict(
        redis=redis_option(),
        policies=dict(type="dict", required=True, options=session_cleanup.POLICY_SPEC),
        session_type=dict(type="str", choices=list(session_cleanup.SESSION_TYPES), default="list"),
        lock=dict(type="dict", options=session_cleanup.LOCK_SPEC),
    )
    spec.update(session_cleanup.SCOPE_SPEC)
    return spec


def run(params, check_mode):
    """Validate, connect, clean up; returns the result dict or raises BrunoOpsError."""
    session_cleanup.resolve_scope(params["prefix"], params["pattern"], params["allow_broad_pattern"])
    session_cleanup.validate_policies(params["policies"])
    session_cleanup.validate_run_options(params)
    client = RedisClient(session_cleanup.connection_params(params["redis"], REDIS_CONNECTION_SPEC))
    try:
        return session_cleanup.run_cleanup(client, params, check_mode)
    finally:
        client.close()


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    try:
        result = run(module.params, module.check_mode)
    except errors.BrunoOpsError as exc:
        module.fail_json(msg=exc.message, error_kind=exc.kind, **_without_address(exc.details))
    for warning in result.pop("warnings"):
        module.warn(warning)
    if not module._diff:
        result.pop("diff")
    module.exit_json(**result)


def _without_address(details):
    return {key: value for key, value in details.items() if key not in ("address", "exception")}


if __name__ == "__main__":
    main()

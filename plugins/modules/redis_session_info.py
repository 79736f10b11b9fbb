#!/usr/bin/python
# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: redis_session_info
short_description: Count and profile session keys in Redis (TTL, idle time, memory, context length)
version_added: 0.1.0
description:
  - Takes a census of the keys matching O(pattern) in one Redis database, reading only and within a time
    budget. It never uses C(KEYS); per-key reads are pipelined.
  - B(Count.) When C(DBSIZE) is at most O(exact_count_limit), C(SCAN MATCH) walks the whole keyspace and
    the count is exact. When the database is larger, or the walk does not finish within O(max_scan_seconds),
    the count is estimated as C(DBSIZE) times the share of O(estimate_samples) C(RANDOMKEY) samples that match,
    with its binomial standard error and a 95% (Wilson) interval. The estimate is never below the number of
    keys the scan did see.
  - B(Profile.) From a uniform random sample of up to O(sample_size) of the keys found, it reports the
    types, a TTL histogram (none, under 1 h, under 24 h, 24 h or more), an idle-time histogram
    (C(OBJECT IDLETIME)), the C(MEMORY USAGE) distribution and estimated total, the distribution of list
    lengths (turns per session, where they can be read without touching; sizes in bytes everywhere), and the
    O(largest) keys.
  - B(Server.) Connected and blocked clients, C(maxclients), used memory, C(maxmemory) and its policy,
    evicted and expired keys, connections per client address (C(CLIENT LIST)) and C(KEYS) in the slow log.
  - Figures that could not be read are null and named in RV(not_reported), with the reason in RV(notes).
  - Only reads, so it runs the same in check mode and never reports a change.
author:
  - bruno.ops contributors (@bruno-ops)
extends_documentation_fragment:
  - bruno.ops.attributes
  - bruno.ops.attributes.info_module
  - bruno.ops.redis
options:
  redis:
    required: true
  pattern:
    description:
      - Redis glob of the session keys (C(*), C(?), C([abc]), backslash escapes).
      - Defaults to C(bruno:session:*) when neither O(pattern) nor O(prefix) is set.
    type: str
  prefix:
    description: Literal key prefix of the sessions; the same as O(pattern) with the prefix escaped and C(*) added.
    type: str
  session_shape:
    description:
      - How a session is stored. C(turns) (the real agent-bruno) is a list of turn objects
        C({"timestamp", "message", "response", "context"}) and lengths count turns; C(seq) (the former lab
        agent) is a list of C({"seq", "role", "content", "ts"}) messages and lengths count messages; C(hash)
        counts fields, C(string) bytes.
    type: str
    choices: [turns, seq, hash, string]
    default: turns
  session_type:
    description:
      - Redis type sessions are stored as; keys of other types are counted in RV(other_types). Defaults to the
        type of O(session_shape) (C(list) for C(turns) and C(seq)).
    type: str
    choices: [list, hash, string, set, zset, stream]
  redact:
    description:
      - Redact the client IPs in session keys in the output (RV(largest)). IPv4 addresses keep their first three
        octets (C(bruno:session:203.0.113.x)); anything else becomes C(h:) and 10 hex digits of its SHA-256.
      - Set to C(false) to show the keys as they are.
    type: bool
    default: true
  scan_count:
    description: C(COUNT) hint of each C(SCAN) call, keys examined per round trip.
    type: int
    default: 1000
  max_scan_seconds:
    description:
      - Time budget for walking the keyspace (and for measuring every key to find the largest). When it runs
        out, the count is estimated and the largest keys come from the sample.
    type: float
    default: 10.0
  exact_count_limit:
    description:
      - Largest C(DBSIZE) for which the whole keyspace is scanned for an exact count. Above it, the count is
        estimated and the scan stops once O(sample_size) keys are found.
    type: int
    default: 200000
  estimate_samples:
    description: C(RANDOMKEY) samples for an estimated count. The standard error shrinks with its square root.
    type: int
    default: 2000
  sample_size:
    description: Keys read one by one for the histograms and distributions.
    type: int
    default: 1000
  largest:
    description: How many of the largest keys by C(MEMORY USAGE) to return; 0 for none.
    type: int
    default: 10
  context_lengths:
    description:
      - Read the length of sampled sessions (C(LLEN), C(HLEN) or C(STRLEN)) for RV(context_length).
      - Only where Redis (7.2+) takes C(CLIENT NO-TOUCH). Before 7.2 a length read counts as an access and
        restarts the session's idle time, so lengths are never read there; RV(context_length) is null, the
        reason is in RV(context_length_unavailable), and RV(context_bytes) gives sizes in bytes instead.
    type: bool
    default: true
notes:
  - Read-only on every Redis version. Only C(SCAN), C(RANDOMKEY), C(TYPE), C(PTTL), C(OBJECT IDLETIME), C(MEMORY
    USAGE), C(INFO), C(CLIENT LIST) and C(SLOWLOG GET) are used, none of which changes a key's idle time; the
    length reads are added only under C(CLIENT NO-TOUCH).
  - The largest keys are found over every matching key when the scan was complete and time allows
    (RV(largest_scope) is C(all)), else over the sample (C(sample)).
  - Redis Cluster is not supported; point it at one node's database.
"""

EXAMPLES = r"""
- name: How many sessions, how long they live, how big they are
  bruno.ops.redis_session_info:
    redis:
      host: redis-master.redis.svc
      password: "{{ vault_redis_password }}"
    prefix: "bruno:session:"
  register: sessions

- name: Report the share of sessions that never expire
  ansible.builtin.debug:
    msg: >-
      {{ sessions.count }} sessions ({{ 'exact' if sessions.count_exact else '+/- %d' % sessions.count_stderr }}),
      {{ sessions.ttl.without_ttl_pct }} % without TTL, p95 context {{ sessions.context_bytes.p95 }} bytes

- name: A quick look at a huge keyspace
  bruno.ops.redis_session_info:
    redis:
      url: "{{ vault_redis_url }}"
    pattern: "bruno:session:*"
    max_scan_seconds: 2
    sample_size: 300
    largest: 5
"""

RETURN = r"""
pattern:
  description: The glob that was matched.
  returned: always
  type: str
  sample: "bruno:session:*"
dbsize:
  description: Keys in the database (C(DBSIZE)), sessions or not.
  returned: always
  type: int
  sample: 25000
count:
  description: Keys matching the pattern, exact or estimated (see RV(count_exact)).
  returned: always
  type: int
  sample: 20000
count_exact:
  description: Whether RV(count) comes from a complete scan.
  returned: always
  type: bool
  sample: true
count_method:
  description: C(scan) or C(randomkey_sample).
  returned: always
  type: str
  sample: scan
count_stderr:
  description: Standard error of RV(count), 0 when exact.
  returned: always
  type: float
  sample: 0.0
count_ci95:
  description: 95% interval of RV(count) as C([low, high]), never below the keys the scan saw.
  returned: always
  type: list
  elements: int
  sample: [20000, 20000]
scan:
  description:
    - How the keyspace walk went. C(stopped_by) is null when it finished, else C(max_scan_seconds) or
      C(enough_for_sample).
  returned: always
  type: dict
  sample: {"calls": 26, "keys_seen": 20000, "complete": true, "stopped_by": null, "seconds": 0.21}
estimate:
  description: The C(RANDOMKEY) sample behind an estimated count, null when the count is exact.
  returned: always
  type: dict
  sample: {"samples": 2000, "matched": 1603, "fraction": 0.8015, "count": 200375, "stderr": 2230.4,
           "ci95": [196000, 204600]}
sample:
  description: Keys profiled (C(size)), sampled keys that expired meanwhile (C(vanished)), out of RV(count) (C(of)).
  returned: always
  type: dict
  sample: {"size": 1000, "vanished": 0, "of": 20000}
types:
  description: Sampled keys by Redis type.
  returned: always
  type: dict
  sample: {"list": 980, "string": 20}
other_types:
  description: Sampled keys whose type is not O(session_type).
  returned: always
  type: int
  sample: 20
ttl:
  description:
    - TTL histogram of the sample. C(none) is keys without a TTL. The other keys are in C(lt_1h), C(lt_24h)
      or C(ge_24h). C(without_ttl_pct) is the share without a TTL. Null when nothing was sampled.
  returned: always
  type: dict
  sample: {"none": 300, "lt_1h": 300, "lt_24h": 200, "ge_24h": 200, "without_ttl_pct": 30.0,
           "p50_seconds": 7200.0, "max_seconds": 172800.0}
idle:
  description:
    - Idle-time histogram (time since last access) of the sample, with C(lt_1m), C(lt_10m), C(lt_1h),
      C(lt_24h), C(ge_24h), p50, p95 and max in seconds. Null when Redis does not track idle time (an LFU
      C(maxmemory-policy)).
  returned: always
  type: dict
  sample: {"lt_1m": 10, "lt_10m": 90, "lt_1h": 400, "lt_24h": 400, "ge_24h": 100, "p50_seconds": 3500,
           "p95_seconds": 90000, "max_seconds": 200000}
memory:
  description:
    - C(MEMORY USAGE) of the sampled keys in bytes, as mean, p50, p95 and max. C(estimated_total_bytes) is
      the mean times RV(count).
  returned: always
  type: dict
  sample: {"mean_bytes": 9216.0, "p50_bytes": 8192.0, "p95_bytes": 20480.0, "max_bytes": 65536,
           "estimated_total_bytes": 184320000}
context_length:
  description:
    - Length of the sampled sessions in C(unit) (C(turns) for O(session_shape=turns), C(messages) for C(seq),
      C(fields) for C(hash), C(bytes) for C(string)), as mean, p50, p95 and max, and C(sessions) measured.
    - Null when lengths cannot be read without changing idle times (Redis before 7.2), when
      O(context_lengths=false), or when no session was sampled; RV(context_length_unavailable) says why.
  returned: always
  type: dict
  sample: {"mean": 18.4, "p50": 16.0, "p95": 42.0, "max": 300, "sessions": 980, "unit": "turns"}
context_length_unavailable:
  description: Why RV(context_length) was not read (null when it was).
  returned: always
  type: str
  sample: "Redis 7.0.15 has no CLIENT NO-TOUCH (it needs 7.2+): ..."
context_bytes:
  description:
    - C(MEMORY USAGE) of the sampled sessions of the session type, in bytes, as mean, p50, p95, max and
      C(sessions) measured; read on every Redis version (it never touches a key). Null when none was sampled.
  returned: always
  type: dict
  sample: {"mean": 9216.0, "p50": 8192.0, "p95": 20480.0, "max": 65536, "sessions": 980}
largest:
  description: The largest keys by C(MEMORY USAGE), largest first.
  returned: always
  type: list
  elements: dict
  sample: [{"key": "bruno:session:203.0.113.x", "bytes": 65536, "type": "list", "length": 300,
            "ttl_seconds": null, "idle_seconds": 12}]
largest_scope:
  description: C(all) when RV(largest) was chosen among every matching key, C(sample) among the sample, C(none).
  returned: always
  type: str
  sample: all
server:
  description:
    - Figures of the Redis server from C(INFO). C(maxmemory_bytes) 0 means no limit, and
      C(used_memory_pct_of_maxmemory) is then null. C(db_keys_with_expiry) counts the database's keys with
      a TTL (all keys, not only sessions).
    - C(clients_by_addr) groups C(CLIENT LIST) by client IP (port dropped), without this module's own
      connection, most connections first, at most 50 rows, with the distinct C(CLIENT SETNAME) names; null when
      C(CLIENT LIST) is refused.
    - C(slowlog_keys) summarizes the C(SLOWLOG GET 128) entries whose command is C(KEYS), as C(entries),
      C(max_duration_us) and C(last_unix); null when C(SLOWLOG) is refused.
  returned: always
  type: dict
  sample:
    version: 7.0.15
    connected_clients: 12
    blocked_clients: 0
    maxclients: 10000
    used_memory_bytes: 212000000
    used_memory_peak_bytes: 230000000
    used_memory_rss_bytes: 240000000
    maxmemory_bytes: 0
    maxmemory_policy: noeviction
    used_memory_pct_of_maxmemory: null
    evicted_keys: 0
    expired_keys: 1520
    db_keys_with_expiry: 14000
    clients_by_addr: [{"addr": "10.42.0.17", "connections": 40, "names": []}]
    slowlog_keys: {"entries": 3, "max_duration_us": 52000, "last_unix": 1764706443}
seconds:
  description: How long the census took.
  returned: always
  type: float
  sample: 0.84
notes:
  description: How figures were obtained when not exactly (estimates, fallbacks) and what could not be read.
  returned: always
  type: list
  elements: str
  sample: ["count estimated from 2000 random keys (DBSIZE 5000000 is above exact_count_limit 200000)"]
not_reported:
  description: Figures that are null because Redis did not report or allow them, such as C(idle).
  returned: always
  type: list
  elements: str
  sample: []
"""

from ansible_collections.bruno.ops.plugins.module_utils import module_run
from ansible_collections.bruno.ops.plugins.module_utils.clients.redis_client import redis_option
from ansible_collections.bruno.ops.plugins.module_utils.clients.redis_keyspace import standalone
from ansible_collections.bruno.ops.plugins.module_utils.sessions import census as session_census
from ansible_collections.bruno.ops.plugins.module_utils.sessions import scope, shapes

DEFAULT_PATTERN = "bruno:session:*"

ARGUMENT_SPEC = dict(
    redis=redis_option(required=True),
    pattern=dict(type="str"),
    prefix=dict(type="str"),
    session_shape=dict(type="str", choices=list(shapes.SHAPES), default="turns"),
    session_type=dict(type="str", choices=list(scope.SESSION_TYPES)),
    redact=dict(type="bool", default=True),
    scan_count=dict(type="int", default=1000),
    max_scan_seconds=dict(type="float", default=10.0),
    exact_count_limit=dict(type="int", default=200000),
    estimate_samples=dict(type="int", default=2000),
    sample_size=dict(type="int", default=1000),
    largest=dict(type="int", default=10),
    context_lengths=dict(type="bool", default=True),
)


def run(params, check_mode=False):
    options = dict(params)
    if params["prefix"] is not None:
        options["pattern"] = scope.escape_glob(params["prefix"]) + "*"
    elif not params["pattern"]:
        options["pattern"] = DEFAULT_PATTERN
    options["session_type"] = params["session_type"] or shapes.type_of_shape(params["session_shape"])
    session_census.validate(options)
    with standalone(params["redis"]) as keyspace:
        result = session_census.Census(keyspace, options).run()
    result["changed"] = False
    return result


def main():
    module_run.main(ARGUMENT_SPEC, run, mutually_exclusive=[("pattern", "prefix")])


if __name__ == "__main__":
    main()

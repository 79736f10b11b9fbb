"""What each lab scenario puts into the lab, as plain numbers (no I/O).

Every part of the lab is set from the same spec so the signals agree: the pods' current memory (what
metrics.k8s.io and the live scrape show) is the last point of the Prometheus history, the session count in
Redis is what bruno_active_sessions reports, and so on. docs/lab.md describes the scenarios in prose.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

MIB = 2 ** 20
LIMIT = 1024 * MIB
HISTORY_HOURS = 6
STEP_SECONDS = 60


@dataclass(frozen=True)
class Scenario:
    name: str
    cause: str  # what the verdict must rank first ("none" for healthy)
    summary: str
    usage_start_mib: float  # working set at the start of the history, per pod
    usage_end_mib: float  # ... and now (what kubectl top shows)
    noise_mib: float = 8.0
    sessions: int = 800  # session keys in Redis now
    sessions_start: int | None = None  # sessions at the start of the history (default: same as now)
    sessions_without_ttl_pct: float = 0.0
    context_messages: tuple = (4, 24)  # messages per session, min/max
    message_bytes: int = 160
    hold_redis_connections: int = 0  # extra Redis clients the agent holds open
    oom_kills: int = 0  # OOMKilled terminations per pod (restarts, lastState, events)
    log_lines: tuple = field(default_factory=tuple)  # extra application log lines (memory warnings etc.)


SCENARIOS = {
    spec.name: spec
    for spec in (
        Scenario("healthy", "none", "normal load, memory well under the limit",
                 usage_start_mib=430, usage_end_mib=440),
        Scenario("session-flood", "too_many_sessions",
                 "hundreds of thousands of sessions, 40% without TTL; memory follows the session count",
                 usage_start_mib=520, usage_end_mib=905, sessions=300_000, sessions_start=40_000,
                 sessions_without_ttl_pct=40.0, context_messages=(2, 6), message_bytes=60),
        Scenario("pool-exhaustion", "connection_pool_exhaustion",
                 "the agent holds hundreds of Redis connections open; memory high but flat",
                 usage_start_mib=860, usage_end_mib=880, hold_redis_connections=420,
                 log_lines=("WARNING redis connection pool exhausted, waiting for a free connection",)),
        Scenario("memory-leak", "memory_leak",
                 "memory climbs ~95 MiB/h for hours while sessions stay flat",
                 usage_start_mib=300, usage_end_mib=870, sessions=1200,
                 log_lines=("WARNING memory usage keeps growing: possible leak in response cache",)),
        Scenario("large-contexts", "large_contexts",
                 "few sessions, each with hundreds of long messages",
                 usage_start_mib=870, usage_end_mib=890, sessions=300, context_messages=(280, 400),
                 message_bytes=420),
        Scenario("undersized-limit", "undersized_limit",
                 "steady usage near the limit at normal load",
                 usage_start_mib=945, usage_end_mib=952, sessions=2000),
        Scenario("oom-loop", "undersized_limit",
                 "containers OOMKilled again and again at a flat, near-limit usage",
                 usage_start_mib=990, usage_end_mib=1000, sessions=2000, oom_kills=3,
                 log_lines=("ERROR MemoryError while building the LLM context", "WARNING memory limit reached")),
    )
}


def get(name):
    try:
        return SCENARIOS[name]
    except KeyError:
        raise ValueError("unknown scenario %r; choose one of: %s" % (name, ", ".join(sorted(SCENARIOS)))) from None


def usage_series(spec, end_ts, pod_index, hours=HISTORY_HOURS, step=STEP_SECONDS):
    """[(ts, bytes)] of one pod's working set: a straight line start → end with deterministic noise.

    Pods differ a little (pod_index) so they are distinct series, and the noise is a fixed pseudo-random
    sequence so every run of a scenario produces the same history.
    """
    points = []
    count = int(hours * 3600 / step)
    for i in range(count + 1):
        ts = end_ts - (count - i) * step
        progress = i / float(count)
        value = spec.usage_start_mib + (spec.usage_end_mib - spec.usage_start_mib) * progress
        value += spec.noise_mib * _noise(i, pod_index) - 4 * pod_index
        if i == count:
            value = spec.usage_end_mib - 4 * pod_index  # "now" is exactly what the pod reports
        points.append((ts, int(max(value, 1) * MIB)))
    return points


def sessions_series(spec, end_ts, hours=HISTORY_HOURS, step=STEP_SECONDS):
    start = spec.sessions if spec.sessions_start is None else spec.sessions_start
    count = int(hours * 3600 / step)
    return [(end_ts - (count - i) * step,
             int(start + (spec.sessions - start) * (i / float(count)) + 0.01 * spec.sessions * _noise(i, 7)))
            for i in range(count + 1)]


def _noise(i, salt):
    """A deterministic value in [-1, 1], independent between salts (so noise does not fake a correlation)."""
    digest = hashlib.blake2b(b"%d:%d" % (salt, i), digest_size=4).digest()
    return int.from_bytes(digest, "big") / float(2 ** 31) - 1.0

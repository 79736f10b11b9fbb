"""What each lab scenario puts into the lab, as plain numbers (no I/O).

Every part of the lab is set from the same spec so the signals agree: the pods' current memory (what
metrics.k8s.io and the live scrape show) is the last point of the Prometheus history, the session count in
Redis is what bruno_active_sessions reports, and so on. docs/lab.md describes the scenarios in prose.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace

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
    sessions: int = 800  # session keys (one per client IP) in Redis now
    sessions_start: int | None = None  # sessions at the start of the history (default: same as now)
    sessions_without_ttl_pct: float = 0.0  # the real app EXPIREs after every RPUSH: 0 unless a scenario says why
    turns: tuple = (2, 12)  # turns ({timestamp, message, response, context}) per session, min/max
    message_bytes: int = 160  # size of a turn's message; its response is about twice that
    mongo_sessions: int | None = None  # sessions whose turns are also in MongoDB (default: all; see seed.py)
    hold_redis_connections: int = 0  # extra Redis connections the agents hold open, in total (split over pods)
    oom_kills: int = 0  # OOMKilled terminations per pod (restarts, lastState, events)
    log_lines: tuple = field(default_factory=tuple)  # extra application log lines, the real app's format
    chat_per_min: tuple = (2.0, 2.0)  # POST /chat per pod and minute, start/end of the history
    chat_5xx_pct: float = 0.0  # share of /chat answered 5xx in the history
    chat_latency_s: float = 0.4  # typical /chat duration in the history
    live_fault: dict | None = None  # POST /lab/fault body every pod's agent gets now (None: no fault)
    persistence_broken: bool = False  # the published app: nothing reaches MongoDB (variants only)


SCENARIOS = {
    spec.name: spec
    for spec in (
        Scenario("healthy", "none", "normal load, memory well under the limit",
                 usage_start_mib=430, usage_end_mib=440),
        Scenario("session-flood", "too_many_sessions",
                 "hundreds of thousands of client IPs, each a session kept for SESSION_TTL=86400; memory and the "
                 "chat rate follow the session count",
                 usage_start_mib=520, usage_end_mib=905, sessions=300_000, sessions_start=40_000,
                 turns=(1, 3), message_bytes=60, mongo_sessions=20_000, chat_per_min=(40.0, 260.0)),
        Scenario("pool-exhaustion", "connection_pool_exhaustion",
                 "the agents hold hundreds of Redis connections open; slow answers, some 5xx; memory high but flat",
                 usage_start_mib=860, usage_end_mib=880, hold_redis_connections=420,
                 chat_5xx_pct=8.0, chat_latency_s=3.5, live_fault={"kind": "slow", "seconds": 1.0, "rate": 0.5},
                 log_lines=("src.memory.redis_store - WARNING - \u26a0\ufe0f  Redis operation failed: Timeout reading "
                            "from socket",
                            "src.memory.redis_store - WARNING - \u26a0\ufe0f  Redis operation failed: Error 110 "
                            "connecting to 127.0.0.1:16379. Connection timed out.",
                            "src.main - ERROR - \u274c Chat error: Timeout connecting to server")),
        Scenario("memory-leak", "memory_leak",
                 "memory climbs ~95 MiB/h for hours while sessions and traffic stay flat",
                 usage_start_mib=300, usage_end_mib=870, sessions=1200),
        Scenario("large-contexts", "large_contexts",
                 "few sessions, each with a hundred or more long turns; memory grows with them (the process holds "
                 "their contexts: ~1.4 MiB each)",
                 usage_start_mib=600, usage_end_mib=890, sessions=300, sessions_start=90, turns=(140, 200),
                 message_bytes=420),
        Scenario("undersized-limit", "undersized_limit",
                 "steady usage near the limit at normal load",
                 usage_start_mib=945, usage_end_mib=952, sessions=2000),
        Scenario("oom-loop", "undersized_limit",
                 "containers OOMKilled again and again at a flat, near-limit usage",
                 usage_start_mib=990, usage_end_mib=1000, sessions=2000, oom_kills=3,
                 log_lines=("src.main - ERROR - \u274c Chat error: MemoryError",)),
    )
}

# States that are not a cause of their own (tests that iterate SCENARIOS leave them out): `lab scenario NAME`
# accepts them too. persistence-broken is healthy with the published app's MongoDB bug: no turn reaches
# MongoDB (the agents' /lab/persistence {"broken": true}, also for pods started later).
VARIANTS = {
    "persistence-broken": replace(SCENARIOS["healthy"], name="persistence-broken", persistence_broken=True,
                                  summary="healthy, but the agents write nothing to MongoDB (the published app)"),
}


def get(name):
    try:
        return SCENARIOS.get(name) or VARIANTS[name]
    except KeyError:
        names = sorted(SCENARIOS) + sorted(VARIANTS)
        raise ValueError("unknown scenario %r; choose one of: %s" % (name, ", ".join(names))) from None


def chat_rate(spec, progress):
    """POST /chat per pod and minute at `progress` (0 = start of the history, 1 = now)."""
    start, end = spec.chat_per_min
    return start + (end - start) * progress


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

"""Random but realistic agent-bruno states, each with the answer derived from what was injected. Pure: no I/O.

A state is what a diagnosis could see of one workload: every pod's working-set history (with restarts, OOM kills,
deploys, warm-ups, steps, spikes and noise), the session count and chat rate over time, what Redis, MongoDB, the
agent and its logs report now, and which sources are stopped. The world model is the real agent-bruno's: a
process that keeps no per-session state (memory does not move with the sessions, a little with the traffic),
except in the classes whose cause is exactly that the process does keep it (a per-session cost).

`generate(seed, cls)` builds one state of a class; `corpus(seed, per_class)` a list over every class;
`module_results(state)` turns a state into the gather modules' results (the memory history through the same
series code the prometheus_query module runs), ready for diagnosis_facts.extract and the verdict. The lab applies
states with `lab/lab generated SEED CLASS`; bench/verdict_accuracy.py measures the verdict on a corpus.

Expected answers (State.expected): a tuple of causes (one, or two for a pair) or ("none",) or ("unknown",).
A cause whose evidence cannot be seen (its source stopped, a history too short to tell a climb from a warm-up)
expects "unknown"; a state without memory pressure expects "none" whatever else it shows.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

MIB = 2 ** 20
KIB = 1024
LIMITS_MIB = (512, 768, 1024, 1536, 2048, 3072, 4096)
CAUSES = ("memory_leak", "too_many_sessions", "large_contexts", "connection_pool_exhaustion", "undersized_limit")
PAIRS = (("memory_leak", "connection_pool_exhaustion"), ("memory_leak", "too_many_sessions"),
         ("memory_leak", "large_contexts"), ("connection_pool_exhaustion", "too_many_sessions"),
         ("connection_pool_exhaustion", "large_contexts"))
# class -> what it injects; pairs are named "a+b".
CLASSES = (CAUSES + ("healthy", "busy_healthy", "warm_up", "step", "leak_ramp", "sessions_no_mechanism",
                     "missing_source", "short_history") + tuple("+".join(p) for p in PAIRS))
# Which sources carry the evidence each cause is told by; one stopped makes the cause unknowable.
ESSENTIAL = {
    "memory_leak": ("prometheus",),
    "too_many_sessions": ("prometheus", "redis"),
    "large_contexts": ("prometheus", "redis"),
    "connection_pool_exhaustion": ("redis",),
    "undersized_limit": ("prometheus",),
}
STOPPABLE = ("prometheus", "redis", "mongodb", "agent", "logs")
MAX_POINTS = 720


@dataclass
class Pod:
    name: str
    points: list  # [(seconds relative to now (<= 0), working-set bytes)]
    restarts: list = field(default_factory=list)  # [(relative seconds, reason)]: OOMKilled or Error
    current: bool = True  # still running now (False: replaced by a deploy)


@dataclass
class State:
    seed: int
    cls: str
    expected: tuple
    injected: dict  # what was put in, in words and numbers (for the reader of a mismatch)
    replicas: int
    limit_bytes: int
    request_bytes: int
    history_seconds: int
    step_seconds: int
    pods: list
    sessions_series: list  # [(relative seconds, session keys in Redis)]
    chat_series: list  # [(relative seconds, POST /chat per pod and minute)]
    redis: dict
    agent: dict
    logs: dict
    mongo: dict
    stopped: dict  # {source: why}

    @property
    def sessions_now(self):
        return self.sessions_series[-1][1]


class _World:
    """The knobs of one state, drawn once; the histories are computed from them."""

    def __init__(self, rng, cls):
        self.rng, self.cls = rng, cls
        self.limit = rng.choice(LIMITS_MIB) * MIB
        self.replicas = rng.randint(1, 8)
        hours = math.exp(rng.uniform(math.log(2), math.log(72)))
        if cls == "short_history":
            hours = rng.uniform(20, 60) / 60.0
        self.history = int(hours * 3600)
        self.step = max(60, int(math.ceil(self.history / float(MAX_POINTS) / 60.0)) * 60)
        self.end_hour = rng.uniform(0, 24)  # local time of day now
        self.shape = rng.choice(("flat", "diurnal", "business", "diurnal"))
        self.peak_hour = rng.uniform(10, 20)
        self.noise = self.limit * rng.uniform(0.002, 0.015)
        self.base = self.limit * rng.uniform(0.2, 0.45)
        self.load_cost = self.limit * rng.uniform(0.0, 0.05)  # memory that follows the traffic (buffers)
        self.per_session = 0.0  # bytes the process keeps per session (the real app: none)
        self.sessions_peak = rng.randint(300, 6000)
        self.sessions_growth = 1.0  # sessions at the start of the history = now / this
        self.leak = 0.0  # bytes per hour of a container's age
        self.steps = []  # [(relative seconds, bytes)] one-off jumps that stay until a restart
        self.warmup = (self.base * rng.uniform(0.05, 0.25), rng.uniform(5, 25) * 60)  # (depth, time constant)
        self.deploy_at = None
        self.random_restarts = rng.random() < 0.3
        self.spikes = rng.random() < 0.4
        self.pool = None  # the jam: {connections per pod, ...}
        self.contexts = None  # long contexts in Redis: (p95 turns, mean bytes)
        self.without_ttl_pct = 0.0
        self.oom_at_limit = True

    def load(self, t):
        """The traffic at relative time t, 0.1 .. 1."""
        hour = (self.end_hour + t / 3600.0) % 24
        if self.shape == "flat":
            return 0.8
        if self.shape == "business":
            morning = math.exp(-((hour - 10.5) / 2.0) ** 2)
            afternoon = math.exp(-((hour - 15.5) / 2.5) ** 2)
            return 0.1 + 0.9 * max(morning, afternoon)
        return 0.55 + 0.45 * math.cos(2 * math.pi * (hour - self.peak_hour) / 24.0)

    def sessions(self, t):
        """Session keys at relative t: they follow the traffic (TTL smooths it) and grow by sessions_growth."""
        progress = 1.0 + t / float(self.history)  # 0 at the start, 1 now
        growth = 1.0 / self.sessions_growth + (1 - 1.0 / self.sessions_growth) * progress
        return self.sessions_peak * (0.5 + 0.5 * self.load(t)) * growth


def _times(world):
    count = world.history // world.step
    return [-(count - i) * world.step for i in range(count + 1)]


def _pod_history(world, rng, times, name, span, *, started_by_deploy=False):
    """One pod's points over `span` ((start, end) relative seconds), restarting on OOM and at random."""
    start, end = span
    restarts, points = [], []
    life_start = start if started_by_deploy else times[0] - rng.uniform(0, 3 * 3600)
    planned = sorted(rng.uniform(start, end) for _restart in range(rng.randint(1, 2))) if world.random_restarts else []
    depth, tau = world.warmup
    for t in times:
        if t < start or t > end:
            continue
        if planned and t >= planned[0]:
            planned.pop(0)
            restarts.append((t, "Error"))
            life_start = t
        age = t - life_start
        value = world.base + world.load_cost * world.load(t) - depth * math.exp(-age / tau)
        value += world.per_session * world.sessions(t) / world.replicas * (1 - math.exp(-age / 600.0))
        value += world.leak * age / 3600.0
        # a cache's step is lost at a restart; a jammed pool's stays (it jams again as soon as traffic comes)
        value += sum(size for at, size in world.steps
                     if life_start <= at <= t or (world.pool is not None and at < life_start and t >= at))
        value += rng.gauss(0, world.noise)
        if world.spikes and rng.random() < 0.01:
            value += world.limit * rng.uniform(0.05, 0.15)
        if value >= world.limit and world.oom_at_limit:
            points.append((t, float(world.limit)))
            restarts.append((t, "OOMKilled"))
            life_start = t + 1
            continue
        points.append((t, float(max(value, 16 * MIB))))
    return Pod(name=name, points=points, restarts=restarts, current=True)


def _histories(world, rng):
    times = _times(world)
    pods = []
    suffix = "".join(rng.choice("bcdfghjklmnpqrstvwxz2456789") for _letter in range(5))
    if world.deploy_at is not None:
        for i in range(world.replicas):
            old = _pod_history(world, rng, times, "agent-bruno-6d4f8b7c9-%s%d" % (suffix, i),
                               (times[0], world.deploy_at))
            old.current = False
            pods.append(old)
        start = world.deploy_at + world.step
        names = ["agent-bruno-7f9c5d6b8-%s%d" % (suffix, i) for i in range(world.replicas)]
        pods.extend(_pod_history(world, rng, times, n, (start, 0), started_by_deploy=True) for n in names)
    else:
        names = ["agent-bruno-6d4f8b7c9-%s%d" % (suffix, i) for i in range(world.replicas)]
        pods.extend(_pod_history(world, rng, times, n, (times[0], 0)) for n in names)
    sessions = [(t, int(world.sessions(t) * (1 + rng.gauss(0, 0.01)))) for t in times]
    chats = [(t, round(30.0 * world.load(t) * world.sessions_peak / 3000.0 / world.replicas, 3)) for t in times]
    return pods, sessions, chats


def _inject(world, rng, cause, paired=False):
    """Set the world's knobs for one cause."""
    limit = world.limit
    if cause == "memory_leak":
        world.base = limit * rng.uniform(0.2, 0.4)
        world.leak = limit * rng.uniform(0.04, 0.3) / (2 if paired else 1)
        world.warmup = (world.base * rng.uniform(0.05, 0.15), rng.uniform(5, 15) * 60)
        if world.history < 3 * 3600 and world.cls != "short_history":
            world.history = int(rng.uniform(3, 12) * 3600)
    elif cause in ("too_many_sessions", "large_contexts"):
        world.base = limit * rng.uniform(0.18, 0.25)
        world.sessions_growth = rng.uniform(1.6, 6.0)
        world.shape = rng.choice(("diurnal", "flat", "business"))
        share = rng.uniform(0.5, 0.65) / (1.6 if paired else 1)
        if cause == "too_many_sessions":
            world.sessions_peak = rng.randint(20000, 400000)
            world.without_ttl_pct = rng.choice((0.0, 0.0, rng.uniform(10, 70)))
        else:
            world.sessions_peak = rng.randint(100, 3000)
            world.contexts = (rng.randint(150, 900), rng.randint(200, 2048) * KIB)
        # the sessions fill `share` of the limit at their peak in the history (a pod OOM-killed every few minutes for
        # hours is another state)
        peak = max(world.sessions(t) for t in _times(world))
        world.per_session = limit * share * world.replicas / max(1.0, peak)
        if world.history < 3 * 3600 and world.cls != "short_history":
            world.history = int(rng.uniform(3, 24) * 3600)
    elif cause == "connection_pool_exhaustion":
        world.base = limit * rng.uniform(0.5, 0.6) / (1.4 if paired else 1)
        at = -rng.uniform(0.1, 1.2) * world.history  # before the history starts: already jammed
        world.steps.append((at, limit * rng.uniform(0.22, 0.35)))
        world.pool = {"per_pod": rng.randint(120, 700), "pct_5xx": rng.uniform(2, 15), "latency": rng.uniform(4, 30),
                      "log_lines": rng.randint(12, 600), "ready_degraded": rng.random() < 0.5}
    elif cause == "undersized_limit":
        world.base = limit * rng.uniform(0.86, 0.95)
        world.load_cost = limit * rng.uniform(0.0, 0.03)
        world.warmup = (world.base * rng.uniform(0.02, 0.08), rng.uniform(3, 10) * 60)
        world.spikes = rng.random() < 0.5


def _healthy(world, rng):
    world.base = world.limit * rng.uniform(0.15, 0.5)
    return ("none",)


def _busy_healthy(world, rng):
    world.base = world.limit * rng.uniform(0.2, 0.5)
    world.sessions_peak = rng.randint(20000, 300000)
    world.shape = rng.choice(("diurnal", "business", "flat"))
    world.load_cost = world.limit * rng.uniform(0.02, 0.1)
    return ("none",)


def _warm_up(world, rng):
    world.base = world.limit * rng.uniform(0.3, 0.6)
    tau = rng.uniform(15, 45) * 60
    world.warmup = (world.base * rng.uniform(0.35, 0.6), tau)
    world.history = max(world.history, int(8 * tau + 3600))
    world.deploy_at = -rng.uniform(5 * tau, min(world.history * 0.8, 12 * tau))
    return ("none",)


def _step(world, rng):
    world.base = world.limit * rng.uniform(0.3, 0.5)
    world.history = max(world.history, 3 * 3600)
    at = -rng.uniform(0.2, 0.8) * world.history
    high = rng.random() < 0.5  # a cache fills: near the limit (undersized) or not (healthy)
    final = world.limit * (rng.uniform(0.88, 0.95) if high else rng.uniform(0.45, 0.6))
    world.steps.append((at, max(0.0, final - world.base - world.load_cost)))
    world.random_restarts = False  # a restart would drop the cache: then it is not one step
    world.spikes = False
    return ("undersized_limit",) if high else ("none",)


def _leak_ramp(world, rng):
    _inject(world, rng, "memory_leak")
    world.shape = "diurnal"
    world.sessions_peak = rng.randint(2000, 60000)
    world.load_cost = world.limit * rng.uniform(0.02, 0.06)
    world.history = int(rng.uniform(4, 10) * 3600)
    world.end_hour = world.peak_hour - rng.uniform(0, 2)  # the history is the morning's climb
    return ("memory_leak",)


def _sessions_no_mechanism(world, rng):
    _inject(world, rng, "undersized_limit")
    world.sessions_peak = rng.randint(60000, 500000)
    world.sessions_growth = rng.uniform(1.0, 3.0)
    world.without_ttl_pct = rng.choice((0.0, rng.uniform(20, 60)))
    return ("undersized_limit",)


def _short_history(world, rng):
    cause = rng.choice(CAUSES)
    _inject(world, rng, cause)
    return (cause,) if cause in ("connection_pool_exhaustion", "undersized_limit") else ("unknown",)


def _missing_source(world, rng):
    cause = rng.choice(CAUSES)
    _inject(world, rng, cause)
    world.stop = rng.choice(STOPPABLE)
    return ("unknown",) if world.stop in ESSENTIAL[cause] else (cause,)


SETUPS = {"healthy": _healthy, "busy_healthy": _busy_healthy, "warm_up": _warm_up, "step": _step,
          "leak_ramp": _leak_ramp, "sessions_no_mechanism": _sessions_no_mechanism, "short_history": _short_history,
          "missing_source": _missing_source}


def _class_setup(world, rng, cls):
    """Inject the class's causes; returns the expected answer."""
    if cls in CAUSES:
        _inject(world, rng, cls)
        return (cls,)
    if "+" in cls and tuple(cls.split("+")) in PAIRS:
        first, second = cls.split("+")
        _inject(world, rng, first, paired=True)
        _inject(world, rng, second, paired=True)
        if first == "memory_leak":
            world.leak = world.limit * rng.uniform(0.05, 0.12)
        return (first, second)
    if cls in SETUPS:
        return SETUPS[cls](world, rng)
    raise ValueError("unknown class %r; choose one of: %s" % (cls, ", ".join(CLASSES)))


def _sawtooth(pods):
    """Two OOM kills or more in the history: lifetimes that climbed to the limit, seen twice."""
    return sum(1 for p in pods for _t, reason in p.restarts if reason == "OOMKilled") >= 2


def _pressure(world, pods):
    """Whether the injected state ever made memory high: the verdict's own lines (70 % now, 80 % p95, an OOM kill)."""
    current = [p.points[-1][1] for p in pods if p.current and p.points]
    if any(reason == "OOMKilled" for p in pods for _t, reason in p.restarts):
        return True
    p95 = max(sorted(v for _t, v in p.points)[int(0.95 * (len(p.points) - 1))] for p in pods if p.points)
    return max(current) >= 0.7 * world.limit or p95 >= 0.8 * world.limit


def _backends(world, rng, pods, sessions_now):
    pool = world.pool
    per_pod = pool["per_pod"] if pool else rng.randint(2, 12)
    current = [p for p in pods if p.current]
    clients = per_pod * len(current) + rng.randint(1, 5)
    p95_turns, mean_bytes = world.contexts or (rng.randint(4, 40), rng.randint(1, 12) * KIB)
    redis = {
        "count": sessions_now,
        "ttl": {"without_ttl_pct": round(world.without_ttl_pct, 1)},
        "context_length": {"p95": p95_turns, "mean": round(p95_turns * rng.uniform(0.3, 0.6), 1)},
        "memory": {"mean_bytes": mean_bytes},
        "server": {"connected_clients": clients, "maxclients": 10000,
                   "clients_by_addr": [{"addr": "10.244.0.%d" % (i + 10), "connections": per_pod}
                                       for i in range(len(current))],
                   "maxmemory_bytes": 0, "maxmemory_policy": "noeviction",
                   "used_memory_bytes": int(sessions_now * mean_bytes * 1.2)},
    }
    agent = {"pct_5xx": pool["pct_5xx"] if pool else rng.uniform(0, 0.5),
             "latency_p95": pool["latency"] if pool else rng.uniform(0.5, 3.0),
             "ready_degraded": bool(pool and pool["ready_degraded"])}
    logs = {"pool": pool["log_lines"] if pool else rng.choice((0, 0, 0, rng.randint(1, 3))),
            "timeout": rng.randint(0, 3) + (pool["log_lines"] // 2 if pool else 0),
            "memory": sum(1 for p in pods for _t, r in p.restarts if r == "OOMKilled"), "persistence": 0}
    mongo = {"documents": sessions_now * rng.randint(2, 10), "latest_age_seconds": rng.randint(1, 120)}
    return redis, agent, logs, mongo


def generate(seed, cls):
    """One State of class `cls`, the same for the same (seed, cls)."""
    rng = random.Random("%s:%s" % (seed, cls))
    world = _World(rng, cls)
    world.stop = None
    expected = _class_setup(world, rng, cls)
    if cls not in ("missing_source",) and rng.random() < 0.15 and cls not in ("short_history",):
        world.stop = rng.choice(("mongodb", "agent", "logs"))  # sources that decide no cause alone
    if cls not in ("warm_up", "step") and world.deploy_at is None and rng.random() < 0.25:
        world.deploy_at = -rng.uniform(0.05, 0.3) * world.history if cls != "short_history" else None
    pods, sessions, chats = _histories(world, rng)
    if len(expected) == 1 and expected[0] not in ("none", "unknown", "memory_leak") and not _pressure(world, pods):
        expected = ("none",)  # what was injected never made memory high: not a memory problem (yet)
    if cls == "short_history" and world.leak and _sawtooth(pods):
        expected = ("memory_leak",)  # short, but lifetime after lifetime climbed to the limit: that is seen
    redis, agent, logs, mongo = _backends(world, rng, pods, sessions[-1][1])
    request = int(world.limit * rng.uniform(0.25, 1.0))
    stopped = {world.stop: "Error connecting to %s: Connection refused" % world.stop} if world.stop else {}
    injected = {"leak_mib_per_hour": round(world.leak / MIB, 1), "per_session_bytes": round(world.per_session),
                "steps_mib": [round(size / MIB) for _at, size in world.steps], "deploy_at": world.deploy_at,
                "warmup_mib": round(world.warmup[0] / MIB), "warmup_minutes": round(world.warmup[1] / 60),
                "shape": world.shape, "base_mib": round(world.base / MIB), "pool": world.pool,
                "contexts": world.contexts, "history_hours": round(world.history / 3600.0, 2)}
    return State(seed=seed, cls=cls, expected=expected, injected=injected, replicas=world.replicas,
                 limit_bytes=world.limit, request_bytes=request, history_seconds=world.history,
                 step_seconds=world.step, pods=pods, sessions_series=sessions, chat_series=chats, redis=redis,
                 agent=agent, logs=logs, mongo=mongo, stopped=stopped)


def corpus(seed, per_class, classes=CLASSES):
    """per_class states of every class, seeded from `seed` (case i of class c is generate(seed * 100003 + i, c))."""
    return [generate(seed * 100003 + i, cls) for cls in classes for i in range(per_class)]


def module_results(state, end_ts=1_790_000_000.0):
    """The gather modules' results for `state`, as the diagnose role registers them (stopped sources failed)."""
    from ansible_collections.bruno.ops.plugins.module_utils.facts import prometheus_series  # noqa: PLC0415

    current = [p for p in state.pods if p.current]
    usage = [p.points[-1][1] for p in current if p.points]
    oom = sum(1 for p in state.pods for t, reason in p.restarts if reason == "OOMKilled" and t >= -6 * 3600)
    containers = [{"name": "agent-bruno", "limit_bytes": state.limit_bytes, "request_bytes": state.request_bytes,
                   "env_names": ["MONGODB_URL", "REDIS_URL", "SESSION_TTL"]}]
    kubernetes = {"summary": {"pods": len(current), "limits_bytes": [state.limit_bytes],
                              "max_usage_pct_of_limit": round(100.0 * max(usage) / state.limit_bytes, 1),
                              "oom_kills": oom, "total_restarts": sum(len(p.restarts) for p in current)},
                  "pods": [{"name": p.name, "containers": containers} for p in current]}
    parsed = [({"pod": p.name}, [(end_ts + t, v) for t, v in p.points]) for p in state.pods if p.points]
    chats = [({}, [(end_ts + t, v * len(current) / 60.0) for t, v in state.chat_series])]
    sessions = [({}, [(end_ts + t, float(v)) for t, v in state.sessions_series])]
    summaries, _dropped = prometheus_series.summarize_series(
        parsed, state.limit_bytes, chats, False, 200, regress_on=sessions)
    chat_total = sum(v for _t, v in state.chat_series) * state.step_seconds / 60.0 * len(current)
    prometheus = {"series": summaries, "aggregate": prometheus_series.aggregate(summaries),
                  "requests": {"requests": chat_total * 1.05, "errors_5xx": chat_total * state.agent["pct_5xx"] / 100,
                               "chats": chat_total, "chat_p95_seconds": state.agent["latency_p95"]}}
    agent = {"families": {}, "ready": {"status": "degraded" if state.agent["ready_degraded"] else "ready"}}
    logs = {"summary": {"groups": dict(state.logs)}, "logs": []}
    mongodb = {"connections": {}, "collection": dict(state.mongo)}
    results = {"kubernetes": kubernetes, "prometheus": prometheus, "redis": state.redis, "mongodb": mongodb,
               "agent": agent, "logs": logs}
    for source, why in state.stopped.items():
        results[source] = {"failed": True, "msg": why}
    return results

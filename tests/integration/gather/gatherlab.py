"""Known data for the gather modules' integration tests: the Redis sessions and the Prometheus history the
tests inject, and the truth the modules should find."""

import json
import random

from bruno_it import REDIS_PASSWORD, run_module

__all__ = ["REDIS_PASSWORD", "run_module"]  # re-exported for the gather tests, with the data below

MIB = 2 ** 20
HOUR = 3600

# ---- Redis: sessions with a known mix --------------------------------------------------------------------

SESSIONS = 20000  # Redis lists bruno:session:<client ip> of the agent's JSON turns
META_KEYS = 1000  # strings under the same prefix: counted, but not lists
OTHER_KEYS = 4000  # keys outside the pattern
LARGE_EVERY = 100  # every 100th session holds a long context
LARGE_LENGTH = 300
# TTL classes, chosen well inside their buckets so the minutes a test run takes cannot move a key across.
TTL_CLASSES = [None, None, None, (1800, 3000), (1800, 3000), (1800, 3000), (4000, 80000), (4000, 80000),
               (90000, 200000), (90000, 200000)]


def session_ip(i):
    """The client IP of session i: 198.18.<i // 100>.<i % 100 + 1> (the benchmarking range, RFC 2544)."""
    return "198.18.%d.%d" % (i // 100, i % 100 + 1)


def turn(n, i):
    """One turn exactly as agent-bruno stores it: Python's default json.dumps of the four fields."""
    seconds = n % 60
    stamp = "2026-12-02T20:%02d:%02d.%06d" % (n // 60 % 60, seconds, 1000 + i % 1000)
    return json.dumps({"timestamp": stamp, "message": "question %d of session %d" % (n, i),
                       "response": "answer %d of session %d" % (n, i), "context": {}})


def fill_sessions(client, seed=7):
    """Write the sessions (RPUSH of the turns, then EXPIRE, as the app leaves them); return the truth the census
    should find."""
    rng = random.Random(seed)  # noqa: S311 - deterministic test data
    lengths, ttl_buckets = [], {"none": 0, "lt_1h": 0, "lt_24h": 0, "ge_24h": 0}
    pipe = client.pipeline(transaction=False)
    for i in range(SESSIONS):
        key = "bruno:session:%s" % session_ip(i)
        length = LARGE_LENGTH if i % LARGE_EVERY == 0 else rng.randint(1, 40)
        lengths.append(length)
        pipe.rpush(key, *[turn(n, i) for n in range(length)])
        ttl = TTL_CLASSES[i % len(TTL_CLASSES)]
        if ttl is None:
            ttl_buckets["none"] += 1
        else:
            seconds = rng.randint(*ttl)
            pipe.expire(key, seconds)
            ttl_buckets["lt_1h" if seconds < 3600 else "lt_24h" if seconds < 86400 else "ge_24h"] += 1
        if i % 1000 == 999:
            pipe.execute()
    for i in range(META_KEYS):
        pipe.set("bruno:session:meta:%04d" % i, "{}")
    ttl_buckets["none"] += META_KEYS
    for i in range(OTHER_KEYS):
        pipe.set("cache:%04d" % i, "x" * 32)
    pipe.execute()
    return {"count": SESSIONS + META_KEYS, "dbsize": SESSIONS + META_KEYS + OTHER_KEYS, "lengths": lengths,
            "ttl": ttl_buckets, "large": SESSIONS // LARGE_EVERY}


# ---- Prometheus: 6 hours of history with known slopes ------------------------------------------------------

STEP = 60
POINTS = 6 * 60  # one sample a minute for 6 hours
POD_A_START, POD_A_SLOPE = 400 * MIB, 20 * MIB  # grows 20 MiB/h, with spikes
POD_B_LEVEL = 600 * MIB  # flat
SESSIONS_START, SESSIONS_SLOPE = 1000, 500  # grows with pod A


def history(end_ts, seed=11):
    """(OpenMetrics text, the values it holds by series): working set and RSS of two pods, active sessions."""
    rng = random.Random(seed)  # noqa: S311 - deterministic test data
    start = end_ts - (POINTS - 1) * STEP
    series = {"ws_a": [], "ws_b": [], "rss_a": [], "rss_b": [], "sessions": []}
    for i in range(POINTS):
        ts = start + i * STEP
        hours = i * STEP / HOUR
        spike = 300 * MIB if i % 20 == 7 else 0  # 5% of the points: what a GC pause or a burst looks like
        ws_a = int(POD_A_START + POD_A_SLOPE * hours + rng.uniform(-5, 5) * MIB + spike)
        ws_b = int(POD_B_LEVEL + rng.uniform(-5, 5) * MIB)
        series["ws_a"].append((ts, ws_a))
        series["ws_b"].append((ts, ws_b))
        series["rss_a"].append((ts, int(ws_a * 1.1 + rng.uniform(-0.5, 0.5) * MIB)))
        series["rss_b"].append((ts, int(ws_b * 1.1 + rng.uniform(-0.5, 0.5) * MIB)))
        series["sessions"].append((ts, int(SESSIONS_START + SESSIONS_SLOPE * hours + rng.uniform(-20, 20))))
    lines = []
    for metric, prefix in (("container_memory_working_set_bytes", "ws"), ("container_memory_rss", "rss")):
        lines.append("# TYPE %s gauge" % metric)
        for pod in ("a", "b"):
            labels = 'namespace="bruno",pod="agent-bruno-%s",container="agent-bruno"' % pod
            lines += ["%s{%s} %d %d" % (metric, labels, v, t) for t, v in series["%s_%s" % (prefix, pod)]]
    lines.append("# TYPE bruno_active_sessions gauge")
    lines += ['bruno_active_sessions{job="agent-bruno"} %d %d' % (v, t) for t, v in series["sessions"]]
    lines.append("# EOF")
    return "\n".join(lines) + "\n", series


# ---- FerretDB ----------------------------------------------------------------------------------------------------

MONGO_DATABASE = "gather_it"
CONVERSATIONS = 25

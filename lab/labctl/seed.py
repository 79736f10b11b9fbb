"""Put a scenario's data into Redis, MongoDB and Prometheus exactly as the real agent-bruno would have left it.

Sessions: key `bruno:session:<client-ip>`, a LIST with one element per turn, each element Python's default
json.dumps of {"timestamp", "message", "response", "context"} (timestamp: naive UTC isoformat), written with
RPUSH then EXPIRE SESSION_TTL per turn, so a key's TTL is SESSION_TTL minus the age of its last turn. MongoDB
(when the app persists): database agent_bruno, collection conversations, one document per turn {ip, timestamp,
message, response, context, created_at}, with the app's indexes. Prometheus: six hours of the metrics the app
really exports (bruno_requests_total, bruno_request_duration_seconds, bruno_memory_operations_total,
bruno_active_sessions) per pod, and the kubelet's working set.
"""

from __future__ import annotations

import datetime
import json
import math
import random
import shutil
import subprocess
import tempfile
from pathlib import Path

from labctl import procs, scenario_specs

SESSION_PREFIX = "bruno:session:"
SESSION_TTL = 86400  # the manifest's SESSION_TTL
MONGO_DB = "agent_bruno"
MONGO_COLLECTION = "conversations"
BATCH = 2000
# prometheus_client's default histogram buckets (the real app's bruno_request_duration_seconds)
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
LATENCY_SHAPE = (0.3, 0.5, 0.6, 0.8, 0.9, 1.0, 1.1, 1.3, 1.6, 2.4)  # multiples of the typical latency
CONTEXTS = ({}, {}, {}, {"page": "/projects"}, {"page": "/about", "lang": "en"})


def session_ip(index):
    """A distinct private client IP per session index (10.0.0.0/8; never the verify test address 192.0.2.10)."""
    index += 1
    return "10.%d.%d.%d" % ((index >> 16) & 255, (index >> 8) & 255, index & 255)


def iso(moment):
    """What datetime.utcnow().isoformat() gives: naive UTC, microseconds left out when 0."""
    return moment.replace(tzinfo=None).isoformat()


def turn(timestamp, message, response, context):
    """One Redis list element, byte for byte what the app's json.dumps writes (default separators, ASCII)."""
    return json.dumps({"timestamp": timestamp, "message": message, "response": response, "context": context})


def sessions(spec, now):
    """Yield (ip, [(timestamp ISO, message, response, context)], ttl_seconds) of the scenario, deterministic."""
    rng = random.Random(spec.name)
    low, high = spec.turns
    filler = "x" * max(spec.message_bytes - 40, 1)
    for index in range(spec.sessions):
        count = rng.randint(low, high)
        last_age = rng.uniform(5, SESSION_TTL * 0.95)  # seconds since the session's last turn
        gap = rng.uniform(20, 240)
        turns = []
        for n in range(count):
            moment = now - datetime.timedelta(seconds=last_age + gap * (count - 1 - n))
            moment = moment.replace(microsecond=rng.choice((0, rng.randint(1, 999999))))
            message = "%s question %d from session %d: %s" % (spec.name, n, index, filler)
            response = "Bruno: answer %d to session %d. %s %s" % (n, index, filler, filler)
            turns.append((iso(moment), message, response, dict(rng.choice(CONTEXTS))))
        yield session_ip(index), turns, max(int(SESSION_TTL - last_age), 1)


def seed_redis(spec, port, db=0, now=None):
    """Replace the lab Redis's data with the scenario's sessions (RPUSH + EXPIRE, as the app writes them)."""
    import redis  # noqa: PLC0415 - the venv's client; the lab CLI loads this module only for scenarios

    now = now or datetime.datetime.now(datetime.timezone.utc)
    client = redis.Redis(host="127.0.0.1", port=port, db=db)
    try:
        client.flushdb()  # the lab's own Redis: a scenario replaces everything
        pipe = client.pipeline(transaction=False)
        untimed = random.Random(spec.name + ":ttl")
        created = 0
        for ip, turns, ttl in sessions(spec, now):
            key = SESSION_PREFIX + ip
            pipe.rpush(key, *[turn(*t) for t in turns])
            if untimed.random() * 100 >= spec.sessions_without_ttl_pct:
                pipe.expire(key, ttl)
            created += 1
            if created % BATCH == 0:
                pipe.execute()
        pipe.execute()
    finally:
        client.close()
    return created


def seed_mongo(spec, port, now=None, persisting=True):
    """The app's collection as it would be: indexes always (connect() makes them), and one document per turn of
    the first `spec.mongo_sessions` sessions when the app persists (none when persistence is broken)."""
    import pymongo  # noqa: PLC0415 - the venv's client, only for scenarios

    now = now or datetime.datetime.now(datetime.timezone.utc)
    client = pymongo.MongoClient("127.0.0.1", port, serverSelectionTimeoutMS=10000, socketTimeoutMS=300000)
    try:
        client["bruno"].drop_collection(MONGO_COLLECTION)  # an older lab's archive database
        collection = client[MONGO_DB][MONGO_COLLECTION]
        collection.drop()
        collection.create_index("ip")
        collection.create_index("timestamp")
        collection.create_index([("ip", 1), ("timestamp", -1)])
        if not persisting:
            return 0
        limit = spec.sessions if spec.mongo_sessions is None else min(spec.mongo_sessions, spec.sessions)
        docs, written = [], 0
        for index, (ip, turns, _ttl) in enumerate(sessions(spec, now)):
            if index >= limit:
                break
            for timestamp, message, response, context in turns:
                created = datetime.datetime.fromisoformat(timestamp)
                docs.append({"ip": ip, "timestamp": timestamp, "message": message, "response": response,
                             "context": context, "created_at": created})
            if len(docs) >= BATCH:
                collection.insert_many(docs, ordered=False)
                written += len(docs)
                docs = []
        if docs:
            collection.insert_many(docs, ordered=False)
            written += len(docs)
        return written
    finally:
        client.close()


def _sample(value):
    return "NaN" if math.isnan(value) else "%d" % value


def _labels(**labels):
    return ",".join('%s="%s"' % item for item in sorted(labels.items()))


def agent_history(spec, pod, port, index, end_ts, *, host, chat=None, step=scenario_specs.STEP_SECONDS):
    """OpenMetrics lines of one pod's own metrics over the history (counters from 0 at the start).

    chat: [(ts, POST /chat per minute)] every `step` seconds (a generated state's, `lab generated`); default: the
    scenario's rate (scenario_specs.chat_rate) over HISTORY_HOURS up to end_ts."""
    base = {"job": "agent-bruno", "instance": "%s:%d" % (host, port), "namespace": "bruno", "pod": pod,
            "container": "agent-bruno", "service": "agent-bruno-service"}
    count = int(scenario_specs.HISTORY_HOURS * 3600 / scenario_specs.STEP_SECONDS)
    if chat is None:
        chat = [(end_ts - (count - i) * scenario_specs.STEP_SECONDS,
                 scenario_specs.chat_rate(spec, i / float(count)) * (1 + 0.1 * scenario_specs._noise(i, 11 + index)))
                for i in range(count + 1)]
    minutes = step / 60.0
    fractions = [sum(1 for m in LATENCY_SHAPE if spec.chat_latency_s * m <= le) / len(LATENCY_SHAPE)
                 for le in BUCKETS]
    mean = spec.chat_latency_s * sum(LATENCY_SHAPE) / len(LATENCY_SHAPE)
    probes = {"/health": 6.0, "/ready": 12.0, "/metrics": 4.0}  # per minute: liveness 10 s, readiness 5 s, scrape
    totals = {"ok": 0.0, "err": 0.0, "probe": 0.0}
    requests, durations, operations, active = [], [], [], []
    for ts, rate in chat:
        chats = max(rate, 0.0) * minutes
        totals["ok"] += chats * (1 - spec.chat_5xx_pct / 100.0)
        totals["err"] += chats * spec.chat_5xx_pct / 100.0
        totals["probe"] += minutes
        chat_total = totals["ok"] + totals["err"]
        requests.append((_labels(method="POST", endpoint="/chat", status="200", **base), totals["ok"], ts))
        if spec.chat_5xx_pct:
            requests.append((_labels(method="POST", endpoint="/chat", status="500", **base), totals["err"], ts))
        for path, per_min in probes.items():
            requests.append((_labels(method="GET", endpoint=path, status="200", **base), totals["probe"] * per_min,
                             ts))
        for le, fraction in zip(BUCKETS, fractions, strict=True):
            durations.append(("_bucket", _labels(method="POST", endpoint="/chat", le=repr(le), **base),
                              chat_total * fraction, ts))
        durations.append(("_bucket", _labels(method="POST", endpoint="/chat", le="+Inf", **base), chat_total, ts))
        durations.append(("_count", _labels(method="POST", endpoint="/chat", **base), chat_total, ts))
        durations.append(("_sum", _labels(method="POST", endpoint="/chat", **base), chat_total * mean, ts))
        operations.append((_labels(operation="chat", status="success", **base), chat_total, ts))
        active.append((_labels(**base), 0, ts))  # 0 until someone calls GET /stats on that pod; nobody does
    return requests, durations, operations, active


def openmetrics(spec, pods, end_ts, *, host, kubelet_instance, redis_instance=None, series=None):
    """The scenario's history as OpenMetrics text. pods: [(name, node, agent port)]. With redis_instance, also
    the session count as the lab's redis_exporter reports it (redis_db_keys{db="db0"}, job="redis").

    series: a generated state's own histories instead of the scenario's (`lab generated`): {"usage": {pod:
    [(ts, bytes)]}, "chat": {pod: [(ts, per minute)]}, "chat_step": seconds, "sessions": [(ts, keys)]}."""
    series = series or {}
    lines = ["# TYPE container_memory_working_set_bytes gauge"]
    for index, (pod, node, _port) in enumerate(pods):
        # Exactly the labels the live scrape gives the series, so history and live data are one series.
        labels = ('container="agent-bruno",instance="%s",job="kubelet-resource",namespace="bruno",node="%s",'
                  'pod="%s"' % (kubelet_instance, node, pod))
        usage = series["usage"][pod] if "usage" in series else scenario_specs.usage_series(spec, end_ts, index)
        # a NaN (a generated state's pod a deploy replaced) ends the series as a staleness marker would: no sample
        # then for 5 minutes of lookback, instead of its last value
        lines.extend("container_memory_working_set_bytes{%s} %s %d" % (labels, _sample(value), ts)
                     for ts, value in usage)
    histories = [agent_history(spec, pod, port, index, end_ts, host=host, chat=series.get("chat", {}).get(pod),
                               step=series.get("chat_step", scenario_specs.STEP_SECONDS))
                 for index, (pod, _node, port) in enumerate(pods)]
    lines.append("# TYPE bruno_requests counter")
    lines.extend("bruno_requests_total{%s} %.3f %d" % row for h in histories for row in h[0])
    lines.append("# TYPE bruno_request_duration_seconds histogram")
    lines.extend("bruno_request_duration_seconds%s{%s} %.3f %d" % row for h in histories for row in h[1])
    lines.append("# TYPE bruno_memory_operations counter")
    lines.extend("bruno_memory_operations_total{%s} %.3f %d" % row for h in histories for row in h[2])
    lines.append("# TYPE bruno_active_sessions gauge")
    lines.extend("bruno_active_sessions{%s} %d %d" % row for h in histories for row in h[3])
    if redis_instance:
        # One series, the labels the live scrape of labctl.redis_exporter gives it: db0 holds only the sessions.
        labels = _labels(db="db0", instance=redis_instance, job="redis")
        lines.append("# TYPE redis_db_keys gauge")
        lines.extend("redis_db_keys{%s} %d %d" % (labels, max(value, 0), ts)
                     for ts, value in series.get("sessions") or scenario_specs.sessions_series(spec, end_ts))
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def backfill_prometheus(spec, pods, data_dir, end_ts, *, host, kubelet_instance, redis_instance=None, series=None):
    """Write the history into `data_dir` as TSDB blocks (Prometheus must be stopped, the dir wiped)."""
    promtool = shutil.which("promtool")
    if not promtool:
        raise procs.LabError("promtool not found; run `make env` (Debian package prometheus)")
    with tempfile.TemporaryDirectory(prefix="bruno-backfill-") as work:
        source = Path(work) / "history.om"
        source.write_text(openmetrics(spec, pods, end_ts, host=host, kubelet_instance=kubelet_instance,
                                      redis_instance=redis_instance, series=series))
        out = subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics", str(source), str(data_dir)],
                             capture_output=True, text=True, timeout=300, check=False)
    if out.returncode != 0:
        raise procs.LabError("promtool backfill failed: %s" % (out.stderr or out.stdout)[-2000:])
    return out.stdout

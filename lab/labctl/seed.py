"""Put a scenario's data into Redis and Prometheus (uses the venv's redis client and Debian's promtool)."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import tempfile
from pathlib import Path

from labctl import procs, scenario_specs

SESSION_PREFIX = "bruno:session:"
BATCH = 2000


def reset_archive(port, database="bruno", collection="conversations"):
    """Drop the archived conversations an earlier remediation wrote, so a scenario's archive starts empty."""
    import pymongo  # noqa: PLC0415 - the venv's client, only for scenarios

    client = pymongo.MongoClient("127.0.0.1", port, serverSelectionTimeoutMS=10000, socketTimeoutMS=120000)
    try:
        client[database].drop_collection(collection)
    finally:
        client.close()


def seed_redis(spec, port, db=0, now=None):
    """Replace the lab Redis's sessions with the scenario's: count, TTL mix and context lengths.

    Deterministic (seeded by the scenario name) so reruns produce the same keyspace.
    """
    import redis  # noqa: PLC0415 - the venv's client; the lab CLI loads this module only for scenarios

    client = redis.Redis(host="127.0.0.1", port=port, db=db)
    client.flushdb()  # the lab's own Redis: a scenario replaces everything
    rng = random.Random(spec.name)
    low, high = spec.context_messages
    filler = "x" * max(spec.message_bytes - 60, 1)
    ts = now or 1_764_000_000.0
    created = 0
    while created < spec.sessions:
        pipe = client.pipeline(transaction=False)
        for i in range(created, min(created + BATCH, spec.sessions)):
            key = "%s%s-%08d" % (SESSION_PREFIX, spec.name, i)
            messages = [json.dumps({"seq": n, "role": "user" if n % 2 == 0 else "assistant",
                                    "content": "%s %d %s" % (spec.name, n, filler), "ts": ts - 60 * (high - n)})
                        for n in range(rng.randint(low, high))]
            pipe.rpush(key, *messages)
            if rng.random() * 100 >= spec.sessions_without_ttl_pct:
                pipe.expire(key, rng.randint(600, 86400))
        pipe.execute()
        created = min(created + BATCH, spec.sessions)
    return created


def openmetrics(spec, pods, end_ts, *, agent_instance, kubelet_instance):
    """The scenario's history as OpenMetrics text: working set per (pod, node), active sessions of the agent."""
    lines = ["# TYPE container_memory_working_set_bytes gauge"]
    for index, (pod, node) in enumerate(pods):
        # Exactly the labels the live scrape gives the series, so history and live data are one series.
        labels = ('container="agent-bruno",instance="%s",job="kubelet-resource",namespace="bruno",node="%s",'
                  'pod="%s"' % (kubelet_instance, node, pod))
        lines.extend("container_memory_working_set_bytes{%s} %d %d" % (labels, value, ts)
                     for ts, value in scenario_specs.usage_series(spec, end_ts, index))
    lines.append("# TYPE bruno_active_sessions gauge")
    labels = 'job="agent-bruno",instance="%s",namespace="bruno",service="agent-bruno-service"' % agent_instance
    lines.extend("bruno_active_sessions{%s} %d %d" % (labels, value, ts)
                 for ts, value in scenario_specs.sessions_series(spec, end_ts))
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def backfill_prometheus(spec, pods, data_dir, end_ts, *, agent_instance, kubelet_instance):
    """Write the history into `data_dir` as TSDB blocks (Prometheus must be stopped, the dir wiped)."""
    promtool = shutil.which("promtool")
    if not promtool:
        raise procs.LabError("promtool not found; run `make env` (Debian package prometheus)")
    with tempfile.TemporaryDirectory(prefix="bruno-backfill-") as work:
        source = Path(work) / "history.om"
        text = openmetrics(spec, pods, end_ts, agent_instance=agent_instance, kubelet_instance=kubelet_instance)
        source.write_text(text)
        out = subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics", str(source), str(data_dir)],
                             capture_output=True, text=True, timeout=300, check=False)
    if out.returncode != 0:
        raise procs.LabError("promtool backfill failed: %s" % (out.stderr or out.stdout)[-2000:])
    return out.stdout

"""The verdict on states it was not tuned on: generated ones (lab/labctl/generator.py) and hand-written ones, for
every class of docs/diagnosis.md "Accuracy on generated states"; and each lab scenario's own history, end to end
through the pure path (prometheus_series, diagnosis_facts, verdict) a diagnosis takes.

The accuracy table is a measurement (bench/verdict/accuracy.py); here only deterministic cases are asserted: a
fixed sample per class, and hand-written fact sets.
"""

from __future__ import annotations

import collections

import pytest

from ansible_collections.bruno.ops.plugins.module_utils.decide.verdict import decide
from ansible_collections.bruno.ops.plugins.module_utils.facts import diagnosis_facts, prometheus_series
from labctl import generator, scenario_specs

SAMPLE_SEED = 7000
SAMPLE = 6


def judge(state):
    facts, sources = diagnosis_facts.extract(generator.module_results(state))
    verdict = decide(facts, sources)
    named = [verdict["primary"], *verdict["also"]]
    if state.expected == ("unknown",):
        right = verdict["primary"] in ("unknown", "none")
    elif len(state.expected) == 2:  # both in the top two, as bench/verdict/accuracy.py counts them
        right = set(state.expected) <= set(named) or set(state.expected) == {c["cause"] for c in verdict["causes"][:2]}
    else:
        right = verdict["primary"] == state.expected[0]
    wrong = (verdict["primary"] not in ("none", "unknown", *state.expected)
             and verdict["causes"][0]["confidence"] >= 0.7)
    return right, wrong, verdict


@pytest.fixture(scope="module")
def sample():
    return {cls: [judge(generator.generate(SAMPLE_SEED + i, cls)) for i in range(SAMPLE)] for cls in generator.CLASSES}


@pytest.mark.parametrize("cls", generator.CLASSES)
def test_the_first_generated_state_of_each_class(sample, cls):
    """Seed 7000 of every class (pairs: both causes in the top two)."""
    right, _wrong, verdict = sample[cls][0]
    top = [(c["cause"], c["confidence"]) for c in verdict["causes"][:3]]
    assert right, (cls, verdict["primary"], verdict["also"], top)


GROUPS = {"single causes": generator.CAUSES, "healthy": ("healthy", "busy_healthy", "warm_up")}


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_the_sample_is_mostly_right(sample, group):
    cases = [case for cls in GROUPS[group] for case in sample[cls]]
    assert sum(1 for right, _w, _v in cases if right) >= 0.9 * len(cases)


def test_few_are_confidently_wrong(sample):
    wrong = collections.Counter(cls for cls, cases in sample.items() for _r, w, _v in cases if w)
    assert sum(wrong.values()) <= 0.03 * SAMPLE * len(generator.CLASSES), wrong


def test_the_generator_is_deterministic_and_derives_its_answer():
    one, two = generator.generate(5, "warm_up"), generator.generate(5, "warm_up")
    assert one.pods[0].points == two.pods[0].points and one.expected == ("none",)
    stopped = [generator.generate(i, "missing_source") for i in range(12)]
    assert all(state.stopped for state in stopped)
    for state in stopped:
        cause_sources = {s for c in generator.CAUSES for s in generator.ESSENTIAL[c]}
        if state.expected == ("unknown",):
            assert set(state.stopped) <= cause_sources
    assert generator.generate(1, "memory_leak+too_many_sessions").expected == ("memory_leak", "too_many_sessions")
    with pytest.raises(ValueError, match="unknown class 'nope'"):
        generator.generate(1, "nope")


# --------------------------------------------------------------------------- each lab scenario, end to end (pure)

def scenario_results(spec, pods=3, end=1_790_000_000.0):
    """What the gather modules would register on the lab with `spec` applied (its history as the lab backfills)."""
    mib = 2 ** 20
    limit = scenario_specs.LIMIT
    usage = [(spec.usage_end_mib - 4 * i) * mib for i in range(pods)]
    parsed = [({"pod": "agent-%d" % i}, scenario_specs.usage_series(spec, end, i)) for i in range(pods)]
    sessions = [({}, [(t, float(v)) for t, v in scenario_specs.sessions_series(spec, end)])]
    chats = [({}, [(t, scenario_specs.chat_rate(spec, k / 360.0)) for k, (t, _v) in enumerate(sessions[0][1])])]
    summaries, _dropped = prometheus_series.summarize_series(parsed, limit, chats, False, 200, regress_on=sessions)
    turns = sum(spec.turns) / 2.0
    held = spec.hold_redis_connections // pods
    return {
        "kubernetes": {"summary": {"limits_bytes": [limit], "max_usage_pct_of_limit": 100.0 * max(usage) / limit,
                                   "oom_kills": spec.oom_kills * pods, "total_restarts": spec.oom_kills * pods}},
        "prometheus": {"series": summaries, "aggregate": prometheus_series.aggregate(summaries)},
        "redis": {"count": spec.sessions, "ttl": {"without_ttl_pct": spec.sessions_without_ttl_pct},
                  "context_length": {"p95": spec.turns[1], "mean": turns},
                  "memory": {"mean_bytes": int(turns * spec.message_bytes * 3.2)},
                  "server": {"connected_clients": held * pods + 6, "maxclients": 10000,
                             "clients_by_addr": [{"addr": "127.0.0.%d" % (10 + i), "connections": held + 2}
                                                 for i in range(pods)]}},
        "mongodb": {"connections": {}, "collection": {"documents": spec.sessions * 4, "latest_age_seconds": 30}},
        "agent": {"families": {}, "ready": {"status": "degraded" if spec.live_fault else "ready"}},
        "logs": {"summary": {"groups": {"memory": 0, "pool": 3 * len(spec.log_lines), "timeout": 0,
                                        "persistence": 0}}, "logs": []},
    }


@pytest.mark.parametrize("name", sorted(scenario_specs.SCENARIOS))
def test_each_lab_scenario_history_gets_its_cause(name):
    spec = scenario_specs.SCENARIOS[name]
    facts, sources = diagnosis_facts.extract(scenario_results(spec))
    verdict = decide(facts, sources)
    assert verdict["primary"] == spec.cause, (name, [(c["cause"], c["confidence"]) for c in verdict["causes"][:3]])


# --------------------------------------------------------------------------- hand-written cases of each class

ALL = dict.fromkeys(diagnosis_facts.SOURCES, True)
GIB = 2 ** 30
# A workload with Prometheus, Redis and a session-count history: 6 h, one lifetime per pod, sessions that moved.
BASE = dict.fromkeys(diagnosis_facts.FACTS)
BASE.update({
    "limit_bytes": GIB, "request_bytes": GIB // 2, "usage_max_pct": 45.0, "p95_pct": 44.0, "oom_kills": 0,
    "restarts": 0, "history_hours": 6.0, "growth_mib_per_hour": 0.5, "growth_early_mib_per_hour": 1.0,
    "growth_window_mib_per_hour": 0.5, "lifetime_hours": 6.0, "lifetimes_ended_at_limit": 0, "restarts_seen": 0,
    "sessions": 2000, "sessions_without_ttl_pct": 0.0, "context_p95_messages": 12, "session_mean_bytes": 4000,
    "session_memory_share_pct": 2.0, "session_bytes_per_session": 10.0, "session_fit_r2": 0.1, "age_fit_r2": 0.1,
    "session_change_r": 0.05, "growth_unexplained_mib_per_hour": 0.5, "sessions_moved_pct": 60.0,
    "redis_clients": 12, "redis_clients_top_addr": 4, "redis_clients_pct_of_max": 0.1, "redis_maxclients": 10000,
    "mongo_connections": None, "log_pool_error_lines": 0, "http_5xx_pct": 0.0, "chat_latency_p95_seconds": 1.0,
    "ready_degraded": 0,
})

HAND_WRITTEN = {
    # tens of thousands of sessions with TTLs, memory steady at half the limit: no memory problem
    "busy_healthy": (dict(BASE, sessions=180000, usage_max_pct=52.0, p95_pct=55.0, session_memory_share_pct=6.0,
                          session_change_r=0.35), "none"),
    # a deploy 5 h ago: a steep first third, then flat; 60 % of the limit
    "warm_up": (dict(BASE, usage_max_pct=60.0, p95_pct=61.0, growth_mib_per_hour=1.5, growth_early_mib_per_hour=300.0,
                     growth_window_mib_per_hour=80.0, lifetime_hours=5.0), "none"),
    # a cache filled once, memory flat since at 92 %: steady, not growing
    "step": (dict(BASE, usage_max_pct=92.0, p95_pct=92.0, growth_mib_per_hour=0.3, growth_window_mib_per_hour=60.0),
             "undersized_limit"),
    # a leak during the morning's traffic ramp: the sessions rose too, but the working set's changes do not follow
    # theirs, and what they leave is the leak's growth
    "leak_ramp": (dict(BASE, usage_max_pct=84.0, p95_pct=78.0, growth_mib_per_hour=60.0, hours_to_limit=2.7,
                       session_memory_share_pct=40.0, session_fit_r2=0.8, age_fit_r2=0.95, session_change_r=0.1,
                       growth_unexplained_mib_per_hour=58.0), "memory_leak"),
    # 400k sessions in Redis, memory high and flat, not moving with them: the real app (no per-session state)
    "sessions_no_mechanism": (dict(BASE, sessions=400000, sessions_without_ttl_pct=40.0, usage_max_pct=93.0,
                                   p95_pct=92.0, session_memory_share_pct=3.0, session_change_r=0.02),
                              "undersized_limit"),
    # 30 minutes of history: a climb that may be a warm-up, no lifetime long enough to call it a leak
    "short_history": (dict(BASE, history_hours=0.5, lifetime_hours=0.5, usage_max_pct=82.0, p95_pct=75.0,
                           growth_mib_per_hour=200.0, hours_to_limit=0.9), "unknown"),
    # Prometheus stopped: usage near the limit, nothing to tell steady from growing
    "missing_source": (dict({k: v for k, v in BASE.items() if diagnosis_facts.FACTS[k] != "prometheus"},
                            usage_max_pct=93.0), "unknown"),
    # the session count drives the working set (changes follow changes), half the working set now
    "too_many_sessions": (dict(BASE, sessions=300000, usage_max_pct=88.0, p95_pct=84.0, growth_mib_per_hour=30.0,
                               session_memory_share_pct=55.0, session_fit_r2=0.9, age_fit_r2=0.4,
                               session_change_r=0.8, growth_unexplained_mib_per_hour=1.0), "too_many_sessions"),
}


@pytest.mark.parametrize("cls", sorted(HAND_WRITTEN))
def test_hand_written_case(cls):
    facts, expected = HAND_WRITTEN[cls]
    sources = dict(ALL, prometheus="connection refused") if cls == "missing_source" else ALL
    verdict = decide(dict(BASE, **{k: facts.get(k) for k in BASE}), sources)
    assert verdict["primary"] == expected, [(c["cause"], c["confidence"]) for c in verdict["causes"][:3]]


def test_busy_but_healthy_says_what_it_saw_beside_none():
    facts = dict(BASE, redis_clients_top_addr=400, redis_clients=1200, usage_max_pct=50.0, p95_pct=50.0)
    verdict = decide(facts, ALL)
    assert verdict["primary"] == "none" and not verdict["under_pressure"]
    assert [w["cause"] for w in verdict["warnings"]] == ["connection_pool_exhaustion"]
    assert verdict["warnings"][0]["text"].startswith("signs of connection_pool_exhaustion without memory pressure")


def test_growth_is_judged_against_the_limit():
    """20 MiB/h is 3.9 % of 512Mi per hour (a leak) and 0.5 % of 4Gi (steady)."""
    facts = dict(BASE, growth_mib_per_hour=20.0, usage_max_pct=88.0, p95_pct=86.0)
    small = decide(dict(facts, limit_bytes=GIB // 2), ALL)
    large = decide(dict(facts, limit_bytes=4 * GIB), ALL)
    assert small["primary"] == "memory_leak"
    assert large["primary"] == "undersized_limit"


def test_growth_reaching_the_limit_soon_is_pressure():
    facts = dict(BASE, usage_max_pct=55.0, p95_pct=50.0, growth_mib_per_hour=80.0, hours_to_limit=5.8)
    verdict = decide(facts, ALL)
    assert verdict["under_pressure"] and verdict["primary"] == "memory_leak"
    assert any("limit reached in ~5.8 h" in reason for reason in verdict["pressure"])


def test_two_causes_are_both_named_with_their_evidence_in_words():
    facts = dict(HAND_WRITTEN["leak_ramp"][0], redis_clients_top_addr=420, redis_clients=450,
                 log_pool_error_lines=40)
    verdict = decide(facts, ALL)
    assert {verdict["primary"], *verdict["also"]} == {"memory_leak", "connection_pool_exhaustion"}
    leak = next(c for c in verdict["causes"] if c["cause"] == "memory_leak")
    assert "60 MiB/h within each container's life" in leak["why"] and "threshold 2.0%" in leak["why"]
    assert "limit reached in ~2.7 h" in leak["why"]


def test_what_would_change_the_verdict():
    verdict = decide(HAND_WRITTEN["missing_source"][0], dict(ALL, prometheus="connection refused"))
    assert any("prometheus answering" in note for note in verdict["would_change"])
    healthy = decide(BASE, ALL)
    assert healthy["would_change"][0].startswith("usage at or above 70%")

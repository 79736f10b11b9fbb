"""The registry of causes (decide/causes/): each cause is one unit, and the engine knows none by name."""

import types
from pathlib import Path

import pytest

from ansible_collections.bruno.ops.plugins.module_utils import errors
from ansible_collections.bruno.ops.plugins.module_utils.change.fixes import FIXES, fix
from ansible_collections.bruno.ops.plugins.module_utils.decide import causes, verdict
from ansible_collections.bruno.ops.plugins.module_utils.decide.causes._scoring import ramp, signal
from ansible_collections.bruno.ops.plugins.module_utils.facts.diagnosis_facts import FACTS, SOURCES

REGISTRY = causes.REGISTRY
ALL = dict.fromkeys(SOURCES, True)
QUIET = dict.fromkeys(FACTS)  # no evidence at all


def by_cause(test):
    return pytest.mark.parametrize("cause", REGISTRY, ids=[c.name for c in REGISTRY])(test)


def test_names_are_unique_and_in_registry_order():
    assert len(set(causes.NAMES)) == len(causes.NAMES) == len(REGISTRY)
    assert verdict.CAUSES == causes.NAMES
    assert list(causes.BY_NAME) == list(causes.NAMES)


@by_cause
def test_needs_are_the_sources_of_its_facts(cause):
    assert cause.needs and set(cause.needs) <= set(SOURCES)
    assert len(set(cause.needs)) == len(cause.needs)
    assert set(cause.facts) <= set(FACTS) and set(cause.evidence) <= set(FACTS)
    assert set(cause.needs) == {FACTS[name] for name in cause.facts + cause.evidence}


@by_cause
def test_summary_is_one_sentence(cause):
    assert cause.summary and "\n" not in cause.summary and not cause.summary.endswith(".")


@by_cause
def test_thresholds_have_a_default_inside_their_bounds_and_a_why(cause):
    for name, spec in cause.thresholds.items():
        default, low, high, why = spec
        assert low <= default <= high, name
        assert why and "\n" not in why, name
    assert set(cause.shared_thresholds) <= set(verdict.threshold_specs()) - set(cause.thresholds)


def test_threshold_names_are_owned_once():
    owners = [list(verdict.THRESHOLDS)] + [list(c.thresholds) for c in REGISTRY]
    names = [name for owned in owners for name in owned]
    assert len(names) == len(set(names))
    assert {name: spec[0] for name, spec in verdict.threshold_specs().items()} == verdict.DEFAULT_THRESHOLDS


@by_cause
def test_fix_is_in_the_catalogue(cause):
    assert cause.fix in FIXES
    expected = dict(summary=cause.summary, playbooks=FIXES[cause.fix]["playbooks"])
    if FIXES[cause.fix].get("advice"):
        expected["advice"] = FIXES[cause.fix]["advice"]
    assert fix(cause.fix, cause.summary) == expected


def test_every_fix_belongs_to_a_cause():
    assert set(FIXES) == {c.fix for c in REGISTRY}


def test_an_unknown_fix_id_is_a_clear_error():
    with pytest.raises(errors.BrunoOpsError, match="no fix 'nope' in change/fixes.py"):
        fix("nope", "summary")


@by_cause
def test_explained_by_names_earlier_causes(cause):
    earlier = causes.NAMES[:causes.NAMES.index(cause.name)]
    assert set(cause.explained_by) <= set(earlier)
    assert all(callable(strength) for strength in cause.explained_by.values())


@by_cause
def test_no_facts_no_score(cause):
    assert cause.signals(cause.own_facts(QUIET), cause.own_thresholds(verdict.DEFAULT_THRESHOLDS))["score"] is None


def test_the_engine_knows_no_cause_by_name():
    source = Path(verdict.__file__).read_text()
    assert [name for name in causes.NAMES if name in source] == []


# A sixth cause, declared the way a cause file declares it, registered in a copy of the registry.
FAKE = types.SimpleNamespace(
    NAME="log_flood", SUMMARY="Quieten the logs", FIX="log_flood", NEEDS=("logs",),
    FACTS=("log_memory_lines",), EVIDENCE=("log_memory_lines",),
    THRESHOLDS={"log_memory_lines_many": (10, 1, 1000, "a handful of memory errors is a pattern")},
    EXPLAINED_BY={"too_many_sessions": signal("mechanism")},
    score=lambda facts, t: ramp(facts["log_memory_lines"], 0, t["log_memory_lines_many"]),
)
WITH_FAKE = REGISTRY + (causes.Cause(FAKE),)
HIGH = dict(QUIET, usage_max_pct=92.0, log_memory_lines=40)


def test_a_sixth_cause_is_ranked_without_engine_changes():
    decided = verdict.decide(HIGH, ALL, causes=WITH_FAKE)
    assert decided["primary"] == "log_flood"
    assert decided["headline"] == "Quieten the logs"
    top = decided["causes"][0]
    assert top == {"cause": "log_flood", "confidence": 1.0, "score": 1.0, "coverage": 1.0,
                   "evidence": {"log_memory_lines": 40}, "missing_sources": [], "missing_facts": {},
                   "fix_id": "log_flood", "why": None}
    assert decided["thresholds"]["log_memory_lines_many"] == 10
    assert sorted(c["cause"] for c in decided["causes"][1:]) == sorted(causes.NAMES)


def test_a_sixth_cause_has_its_thresholds_and_explanations():
    lowered = verdict.decide(dict(HIGH, log_memory_lines=5), ALL, {"log_memory_lines_many": 5}, causes=WITH_FAKE)
    assert lowered["primary"] == "log_flood"
    # the working set moves with the sessions over six hours: they explain all of it
    moving = dict(HIGH, sessions=10 ** 6, session_memory_share_pct=60.0, session_fit_r2=0.9, age_fit_r2=0.2,
                  history_hours=6.0)
    explained = verdict.decide(moving, ALL, causes=WITH_FAKE)
    fake = next(c for c in explained["causes"] if c["cause"] == "log_flood")
    assert fake["score"] == 0.0
    # many sessions alone, memory not shown to move with them, explain nothing
    alone = verdict.decide(dict(HIGH, sessions=10 ** 6), ALL, causes=WITH_FAKE)
    assert next(c for c in alone["causes"] if c["cause"] == "log_flood")["score"] == 1.0
    with pytest.raises(errors.BrunoOpsError, match="unknown name"):
        verdict.decide(HIGH, ALL, {"log_memory_lines_many": 5})  # not in the real registry


def test_registry_order_breaks_ties():
    twin = types.SimpleNamespace(**dict(vars(FAKE), NAME="log_flood_twin", THRESHOLDS={}, EXPLAINED_BY={},
                                        score=lambda facts, t: 1.0 if facts["log_memory_lines"] else None))
    first = (causes.Cause(types.SimpleNamespace(**dict(vars(twin), NAME="a"))),
             causes.Cause(types.SimpleNamespace(**dict(vars(twin), NAME="b"))))
    assert [c["cause"] for c in verdict.rank(HIGH, ALL, {}, first)] == ["a", "b"]
    assert [c["cause"] for c in verdict.rank(HIGH, ALL, {}, first[::-1])] == ["b", "a"]


def test_coverage_lowers_confidence():
    ranked = verdict.rank(HIGH, dict(ALL, logs="down"), verdict.resolve_thresholds(causes=WITH_FAKE), WITH_FAKE)
    fake = next(c for c in ranked if c["cause"] == "log_flood")
    assert fake["confidence"] == 0.5 and fake["missing_sources"] == ["logs"]


@pytest.mark.parametrize(("overrides", "message"), [
    ({"sessions_mny": 1},
     r"thresholds: unknown name\(s\) sessions_mny; known: chat_latency_p95_slow, clients_pct_of_max, "),
    ({"sessions_many": 0},
     r"thresholds.sessions_many: 0 is outside the allowed range 1 to 1000000000 \(default 50000\)"),
    ({"healthy_usage_pct": 101}, "thresholds.healthy_usage_pct: 101 is outside the allowed range 1 to 100"),
    ({"session_memory_share_pct": 0}, "thresholds.session_memory_share_pct: 0 is outside the allowed range 1 to 100"),
    ({"sessions_many": "many"}, "thresholds.sessions_many: 'many' is not a number"),
    ({"sessions_many": True}, "thresholds.sessions_many: True is not a number"),
    ({"sessions_many": None}, "thresholds.sessions_many: None is not a number"),
])
def test_thresholds_are_checked(overrides, message):
    with pytest.raises(errors.BrunoOpsError, match=message) as caught:
        verdict.resolve_thresholds(overrides)
    assert caught.value.kind == errors.INVALID


def test_thresholds_in_bounds_are_taken():
    t = verdict.resolve_thresholds({"sessions_many": 1000, "leak_growth_pct_per_hour": "0.5", "high_usage_pct": 100})
    assert t["sessions_many"] == 1000 and t["leak_growth_pct_per_hour"] == 0.5 and t["high_usage_pct"] == 100
    assert verdict.resolve_thresholds() == verdict.DEFAULT_THRESHOLDS
    assert verdict.resolve_thresholds(None) is not verdict.DEFAULT_THRESHOLDS


@pytest.mark.parametrize(("value", "low", "high", "expected"), [
    (None, 0, 1, None), (5, 10, 20, 0.0), (15, 10, 20, 0.5), (25, 10, 20, 1.0), (0, 0, 0, 1.0), (-1, 0, 0, 0.0),
])
def test_ramp(value, low, high, expected):
    assert ramp(value, low, high) == expected


def test_signal_is_unknown_while_its_value_is():
    strength = signal("many", 0.5)
    assert strength({}, {}, {"many": None}) is None and strength({}, {}, {}) is None
    assert strength({}, {}, {"many": 0.8}) == 0.4

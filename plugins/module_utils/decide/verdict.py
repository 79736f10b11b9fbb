# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rank the runbook's causes of high memory from gathered facts. Pure: no I/O, no clock.

Input is a flat dict of numbers (diagnosis_facts.FACTS); any may be None when its source was unavailable or did
not report it. The causes are the registry's (decide/causes/): each scores its evidence in [0, 1], less what the
causes that explain it account for; confidence is that score times the cause's coverage: the share of its
sources that answered and of its facts that are known, so a missing source or an unreported fact lowers
confidence instead of being guessed at. This engine knows no cause by name. The rules and thresholds are written
down in docs/diagnosis.md (a unit test keeps the two in step). The findings (decide/findings.py) are said
alongside the causes.
"""

from __future__ import annotations

from ansible_collections.bruno.ops.plugins.module_utils import errors
from ansible_collections.bruno.ops.plugins.module_utils.decide import causes as registry
from ansible_collections.bruno.ops.plugins.module_utils.decide import findings as findings_rules
from ansible_collections.bruno.ops.plugins.module_utils.decide.causes._scoring import best
from ansible_collections.bruno.ops.plugins.module_utils.facts.diagnosis_facts import FACTS as FACT_SOURCES
from ansible_collections.bruno.ops.plugins.module_utils.facts.diagnosis_facts import missing_reasons

# The engine's own thresholds (the headline's): {name: (default, minimum, maximum, why)}.
THRESHOLDS = {
    "high_usage_pct": (80.0, 1, 100, "the alert's own line"),
    "healthy_usage_pct": (70.0, 1, 100, "the runbook's \"leave headroom for spikes (e.g., 70% utilization)\""),
    "pressure_hours_to_limit": (24.0, 0.1, 24 * 30, "growth that reaches the limit within a day is pressure now"),
}

# The headline's rules: a top cause below this is not enough evidence; a second cause at or above it is reported
# beside the first (`also`): two real causes at once are both said, ranked, each with its fix.
CONFIDENT = 0.5


def threshold_specs(causes=registry.REGISTRY):
    """{name: (default, minimum, maximum, why)}: the engine's thresholds, then each cause's, in registry order."""
    specs = dict(THRESHOLDS)
    for cause in causes:
        specs.update(cause.thresholds)
    return specs


DEFAULT_THRESHOLDS = {name: spec[0] for name, spec in threshold_specs().items()}
CAUSES = registry.NAMES


def _number(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise errors.BrunoOpsError("thresholds.%s: %r is not a number" % (name, value), errors.INVALID)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            raise errors.BrunoOpsError("thresholds.%s: %r is not a number" % (name, value), errors.INVALID) from None
    return value


def resolve_thresholds(overrides=None, causes=registry.REGISTRY):
    """The defaults with `overrides` on top, each checked against its declared bounds.

    An unknown name, a value that is not a number or one outside its bounds raises BrunoOpsError (invalid_input)
    naming the threshold and what is allowed."""
    specs = threshold_specs(causes)
    overrides = overrides or {}
    unknown = sorted(set(overrides) - set(specs))
    if unknown:
        raise errors.BrunoOpsError("thresholds: unknown name(s) %s; known: %s" % (
            ", ".join(unknown), ", ".join(sorted(specs))), errors.INVALID, unknown=unknown)
    t = {name: spec[0] for name, spec in specs.items()}
    for name, given in overrides.items():
        default, low, high, _why = specs[name]
        value = _number(name, given)
        if not low <= value <= high:
            message = "thresholds.%s: %s is outside the allowed range %s to %s (default %s)" % (
                name, value, low, high, default)
            raise errors.BrunoOpsError(message, errors.INVALID, threshold=name, minimum=low, maximum=high)
        t[name] = value
    return t


def score_causes(facts, t, causes=registry.REGISTRY):
    """{cause: (score or None, evidence)}; score None means no usable evidence at all.

    Causes are scored in registry order; a cause's EXPLAINED_BY reads the signals of causes scored before it."""
    signals, scores = {}, {}
    for cause in causes:
        own_facts, own_t = cause.own_facts(facts), cause.own_thresholds(t)
        own = cause.signals(own_facts, own_t)
        if own["score"] is not None:
            strengths = [explains(own_facts, own_t, signals[other])
                         for other, explains in cause.explained_by.items() if other in signals]
            own["score"] = own["score"] * (1.0 - best(0.0, *strengths))
        signals[cause.name] = own
        scores[cause.name] = (own["score"], {name: facts.get(name) for name in cause.evidence})
    return scores


def coverage(cause, facts, sources):
    """The share of the cause's sources that answered and of its facts that are known (from a source that did).

    A fact that is null, or whose source did not answer, counts exactly like a source that did not answer."""
    available = {name: state is True for name, state in sources.items()}
    known_sources = sum(1 for s in cause.needs if available.get(s))
    known_facts = sum(1 for name in cause.facts
                      if facts.get(name) is not None and available.get(FACT_SOURCES.get(name), True))
    return (known_sources + known_facts) / float(len(cause.needs) + len(cause.facts))


def rank(facts, sources, t, causes=registry.REGISTRY, reasons=None):
    """The causes, best first: confidence, score, evidence, the sources and facts missing and the id of the fix."""
    available = {name: state is True for name, state in sources.items()}
    reasons = missing_reasons(facts, sources) if reasons is None else reasons
    order = {cause.name: i for i, cause in enumerate(causes)}
    ranked = []
    scores = score_causes(facts, t, causes)
    by_name = {cause.name: cause for cause in causes}
    for cause in causes:
        score, evidence = scores[cause.name]
        share = coverage(cause, facts, sources)
        confidence = round((score or 0.0) * (0.5 + 0.5 * share), 2)
        missing_facts = {}
        for name in cause.facts:
            source = FACT_SOURCES.get(name)
            if source is not None and not available.get(source, True):
                missing_facts[name] = "%s unavailable" % source
            elif facts.get(name) is None:
                missing_facts[name] = reasons.get(name, "not reported")
        ranked.append({"cause": cause.name, "confidence": confidence,
                       "score": None if score is None else round(score, 2), "coverage": round(share, 2),
                       "evidence": evidence,
                       "missing_sources": [s for s in cause.needs if not available.get(s)],
                       "missing_facts": missing_facts, "fix_id": cause.fix,
                       "why": by_name[cause.name].why(facts, t) if score is not None else None})
    ranked.sort(key=lambda c: (-c["confidence"], order[c["cause"]]))
    return ranked


def decide(facts, sources, thresholds=None, causes=registry.REGISTRY):
    """The verdict: ranked causes with confidence, evidence and fix id; the headline; what was missing; the
    findings (states worth saying whatever the cause, such as "Redis holds the only copy of the conversations").

    `sources` maps a source name to True (answered) or a string (why it did not). `thresholds` overrides the
    defaults (checked: see resolve_thresholds). The fix itself (playbooks, variables) is the remediation side's:
    change/fixes.py, joined by the memory_verdict module."""
    t = resolve_thresholds(thresholds, causes)
    unavailable = sorted(name for name, state in sources.items() if state is not True)
    reasons = missing_reasons(facts, sources)
    ranked = rank(facts, sources, t, causes, reasons)
    summaries = {cause.name: cause.summary for cause in causes}

    usage = best(facts.get("usage_max_pct"), facts.get("p95_pct"))
    pressure = pressure_reasons(facts, t)
    under_pressure = bool(pressure)
    top = ranked[0]
    strong = [c for c in ranked if c["confidence"] >= CONFIDENT]
    also, warnings = [], []
    if usage is None:
        primary, reason = "unknown", "no memory figures: neither metrics.k8s.io nor Prometheus gave a usage"
    elif not under_pressure:
        primary, reason = "none", "no memory problem found: usage %s%% of the limit, no OOM kills, no growth " \
            "reaching the limit within %.0f h" % (_fmt(usage), t["pressure_hours_to_limit"])
        warnings = [{"cause": c["cause"], "confidence": c["confidence"], "why": c["why"],
                     "text": "signs of %s without memory pressure: %s" % (c["cause"], c["why"])} for c in strong]
    elif top["confidence"] < CONFIDENT:
        primary, reason = "unknown", "memory is high (%s) but no cause has enough evidence%s" % (
            "; ".join(pressure), " (unavailable: %s)" % ", ".join(unavailable) if unavailable else "")
    else:
        primary = top["cause"]
        also = [c["cause"] for c in strong[1:2]]
        reason = summaries[primary] if not also else "two causes: %s; and %s" % (
            summaries[primary], summaries[also[0]][0].lower() + summaries[also[0]][1:])
    return {
        "primary": primary,
        "also": also,
        "headline": reason,
        "under_pressure": under_pressure,
        "pressure": pressure,
        "warnings": warnings,
        "would_change": would_change(primary, ranked, facts, t, pressure),
        "usage_pct_of_limit": usage,
        "causes": ranked,
        "unavailable_sources": {name: sources[name] for name in unavailable},
        "missing_facts": reasons,
        "findings": findings_rules.findings(facts),
        "thresholds": t,
    }


def pressure_reasons(facts, t):
    """Why memory is under pressure, in words; empty when it is not (then no cause is a cause of high memory)."""
    reasons = []
    usage, p95 = facts.get("usage_max_pct"), facts.get("p95_pct")
    if usage is not None and usage >= t["healthy_usage_pct"]:
        reasons.append("usage %s%% of the limit (healthy below %.0f%%)" % (_fmt(usage), t["healthy_usage_pct"]))
    if p95 is not None and p95 >= t["high_usage_pct"]:
        reasons.append("p95 %s%% of the limit over the history (alert at %.0f%%)" % (_fmt(p95), t["high_usage_pct"]))
    if facts.get("oom_kills"):
        reasons.append("%d OOM kills" % facts["oom_kills"])
    hours = facts.get("hours_to_limit")
    if hours is not None and hours <= t["pressure_hours_to_limit"]:
        reasons.append("limit reached in ~%.1f h at the growth within container lifetimes" % hours)
    return reasons


def would_change(primary, ranked, facts, t, pressure):
    """What would change the verdict, in words: the evidence that is missing or what the rules wait for."""
    notes = []
    if primary == "none":
        notes.append("usage at or above %.0f%% of the limit, an OOM kill, or growth reaching the limit within %.0f h"
                     % (t["healthy_usage_pct"], t["pressure_hours_to_limit"]))
    for cause in ranked[:2]:
        for source in cause["missing_sources"]:
            notes.append("%s: %s answering (it is unavailable)" % (cause["cause"], source))
        for name, why in sorted(cause["missing_facts"].items()):
            if not name.startswith(("redis_", "mongo_", "log_", "http_", "chat_", "pool_", "ready_")):
                notes.append("%s: %s (%s)" % (cause["cause"], name, why))
    return notes[:8]


def _fmt(value):
    return "n/a" if value is None else "%.0f" % value

# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""From Prometheus query results to numbers: time options, result parsing, per-series summaries and the
correlation with a second query. Pure, no I/O: the module passes the clock's "now" in."""

from __future__ import annotations

import math

from ansible_collections.bruno.ops.plugins.module_utils.durations import parse_duration, parse_time
from ansible_collections.bruno.ops.plugins.module_utils.facts import lifetimes, series_stats

MAX_POINTS_PER_SERIES = 11000  # Prometheus refuses range queries that would return more per series
AUTO_STEP_POINTS = 720  # the default step aims at this many points (one per 30 s over 6 h)
MIN_AUTO_STEP = 15.0


def parse_time_spec(value, now, what):
    """Unix seconds from `now`, `-6h` / `now-6h` (relative to now), RFC 3339, or unix seconds."""
    if value is None:
        return float(now)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    compact = text.replace(" ", "")
    if compact == "now":
        return float(now)
    if compact.startswith(("now-", "-")):
        tail = compact.split("-", 1)[1]
        try:
            return float(now) - (float(tail) if tail.replace(".", "", 1).isdigit() else parse_duration(tail, what))
        except ValueError:
            pass
    else:
        try:
            return float(text)
        except ValueError:
            pass
        moment = parse_time(text)
        if moment is not None:
            return moment.timestamp()
    raise ValueError("%s %r is not a time: use now, a relative time such as -6h or now-30m, an RFC 3339 "
                     "timestamp or unix seconds" % (what, text))


def range_window(start, end, step, now):
    """(start, end, step) in seconds for a range query, checked against Prometheus' limits.

    Without a step, one is chosen for about AUTO_STEP_POINTS points (at least 15 s).
    """
    start_s = parse_time_spec(start, now, "start")
    end_s = parse_time_spec(end, now, "end")
    if end_s <= start_s:
        raise ValueError("end must be after start (got start=%r, end=%r)" % (start, end))
    span = end_s - start_s
    if step in (None, ""):
        step_s = max(MIN_AUTO_STEP, float(math.ceil(span / AUTO_STEP_POINTS)))
    else:
        step_s = parse_duration(step, "step")
    if span / step_s > MAX_POINTS_PER_SERIES:
        raise ValueError("a step of %gs over %gs would return more than %d points per series, which Prometheus "
                         "refuses; use a step of at least %ds" % (step_s, span, MAX_POINTS_PER_SERIES,
                                                                  math.ceil(span / MAX_POINTS_PER_SERIES)))
    return start_s, end_s, step_s


def _number(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def parse_result(data):
    """[(labels, [(t, v), ...])] from a query's data, whatever its resultType; values as floats."""
    kind = data.get("resultType")
    result = data.get("result")
    if kind == "matrix":
        return [(dict(item.get("metric") or {}), [(float(t), _number(v)) for t, v in item.get("values") or []])
                for item in result or []]
    if kind == "vector":
        return [(dict(item.get("metric") or {}), [(float(item["value"][0]), _number(item["value"][1]))])
                for item in result or [] if item.get("value")]
    if kind == "scalar" and result:
        return [({}, [(float(result[0]), _number(result[1]))])]
    if kind == "string":
        raise ValueError("the query returned a string, not numbers")
    return []


def label_key(labels):
    """What identifies a series across two queries: its labels without the metric name."""
    return tuple(sorted((k, v) for k, v in labels.items() if k != "__name__"))


def pair_series(labels, others):
    """(points, description) of what a series is correlated with: the series with the same labels in
    `others`, else the sum of all of them."""
    key = label_key(labels)
    for other_labels, other_points in others:
        if label_key(other_labels) == key:
            return other_points, "matching labels"
    if len(others) == 1:
        return others[0][1], "the only series"
    return series_stats.sum_series([points for _labels, points in others]), "sum of %d series" % len(others)


def summarize_series(parsed, limit=None, correlate_with=None, return_points=False, max_points=200, *,
                     regress_on=None):
    """One summary dict per series, sorted by labels, and how many non-finite values were dropped.

    Each summary has `lifetimes` (growth judged per container lifetime, see lifetimes.py) and, with `regress_on`
    (series of a load such as the session count), `regression` of the series on it."""
    summaries, dropped = [], 0
    for labels, raw_points in sorted(parsed, key=lambda item: sorted(item[0].items())):
        points, bad = series_stats.finite(raw_points)
        dropped += bad
        summary = {"labels": labels}
        summary.update(series_stats.summarize(points, limit))
        summary["correlation"] = None
        if correlate_with:
            other, how = pair_series(labels, correlate_with)
            r, rho, pairs = series_stats.correlate(points, other)
            summary["correlation"] = {"r": r, "spearman": rho, "pairs": pairs, "paired_with": how}
        load = None
        if regress_on:
            load, _how = pair_series(labels, regress_on)
            load, _bad = series_stats.finite(load)
        judged = lifetimes.analyse(points, limit, load)
        summary["lifetimes"] = {
            "restarts_seen": judged["restarts"], "judged": len(judged["lifetimes"]),
            "persistent_growth_per_hour": judged["persistent_per_hour"],
            "early_growth_per_hour": judged["early_per_hour"],
            "longest_seconds": judged["lifetime_seconds"],
            "ended_at_limit": judged["at_limit"],
            "each": [{"seconds": j["seconds"], "persistent_per_hour": j["persistent_per_hour"],
                      "first_third_per_hour": j["thirds_per_hour"][0], "max": j["max"]} for j in judged["lifetimes"]],
        }
        summary["regression"] = judged["regression"]
        if return_points:
            summary["points"] = [[t, v] for t, v in series_stats.downsample(points, max_points)]
        summaries.append(summary)
    return summaries, dropped


def aggregate(summaries):
    """Figures over all series, the ones a verdict reads (None where no series has the number)."""
    def known(key):
        return [s[key] for s in summaries if s.get(key) is not None]

    firsts, lasts = known("first_timestamp"), known("last_timestamp")
    rs = [s["correlation"]["r"] for s in summaries if s.get("correlation") and s["correlation"]["r"] is not None]
    result = {
        "series": len(summaries),
        "samples": sum(s["samples"] for s in summaries),
        "max": max(known("max"), default=None),
        "p95_max": max(known("p95"), default=None),
        "last_sum": sum(known("last")) if known("last") else None,
        "growth_per_hour_max": max(known("growth_per_hour"), default=None),
        "projected_seconds_to_limit_min": min(known("projected_seconds_to_limit"), default=None),
        "history_seconds": (max(lasts) - min(firsts)) if firsts and lasts else None,
        "correlation_r": max(rs, key=abs) if rs else None,
    }
    result.update(_lifetime_aggregate(summaries))
    return result


def _median_of(values):
    values = [v for v in values if v is not None]
    return series_stats.median(values) if values else None


def _lifetime_aggregate(summaries):
    """Figures over the pods' lifetimes and regressions: medians, since a leak or a per-session cost is the code's
    and shows in every replica, and one odd pod (a fresh one warming up) must not decide."""
    lives = [s.get("lifetimes") or {} for s in summaries]
    fits = [s.get("regression") for s in summaries if s.get("regression")]
    # every pod's lifetimes together, each weighing by its length (lifetimes.combine)
    each = [{"seconds": j["seconds"], "persistent_per_hour": j["persistent_per_hour"], "max": j["max"],
             "thirds_per_hour": [j["first_third_per_hour"], None, None]} for x in lives for j in x.get("each") or []]
    combined = lifetimes.combine(each)
    combined["lifetime_seconds"] = combined["lifetime_seconds"]
    return {
        "persistent_growth_per_hour": combined["persistent_per_hour"],
        "early_growth_per_hour": combined["early_per_hour"],
        "lifetime_seconds_max": combined["lifetime_seconds"],
        "lifetimes_ended_at_limit": sum(x.get("ended_at_limit") or 0 for x in lives),
        "restarts_seen": sum(x.get("restarts_seen") or 0 for x in lives),
        "regression_share": _median_of(f.get("share") for f in fits),
        "regression_slope": _median_of(f.get("slope") for f in fits),
        "regression_r2": _median_of(f.get("r2") for f in fits),
        "regression_r2_age": _median_of(f.get("r2_age") for f in fits),
        "regression_change_r": _median_of(f.get("change_r") for f in fits),
        "regression_unexplained_per_hour": _median_of(f.get("unexplained_per_hour") for f in fits),
        "regression_gain_load": _median_of(f.get("gain_load") for f in fits),
        "regression_gain_age": _median_of(f.get("gain_age") for f in fits),
        "regression_collinear": None if not fits else sum(1 for f in fits if f.get("collinear")) * 2 > len(fits),
        "regression_load_range": None if not fits else [min(f["x_min"] for f in fits), max(f["x_max"] for f in fits)],
        "regression_load_last": None if not fits else max(f["x_last"] for f in fits),
        "regression_load_moved": _median_of(f.get("x_range") for f in fits),
    }

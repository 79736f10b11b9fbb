# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Growth judged per container lifetime, and whether memory moves with a load series. Pure, no I/O.

A pod's working-set series (max by pod) runs across its container's restarts: each restart drops the working set
to what a fresh process holds. A leak is growth that resumes in every lifetime and persists to its end; a warm-up
climbs after a start and flattens; a step jumps once and stays. So each lifetime is cut in thirds: a warm-up (steep
first third) and a single step (one steep third) leave one of the last two thirds flat, a leak keeps both; the
persistent growth is the lower slope (Theil-Sen) of the last two thirds, scaled down when the last grows much
slower than the second (a tail that flattens).

Whether memory is the sessions' doing is `regress`: the working set against the session count, told apart from the
container's age (time since its lifetime began) by the changes within lifetimes when the sessions went both ways,
by a fit on both when they only rose, and not at all when the two moved together. Memory that grows with age and
resets at a restart is the process's, not the sessions' (which live in Redis and survive restarts).
"""

from __future__ import annotations

from ansible_collections.bruno.ops.plugins.module_utils.facts import series_stats

# A lifetime shorter than this, or with fewer points, says nothing about its growth.
MIN_LIFETIME_SECONDS = 15 * 60
MIN_LIFETIME_POINTS = 9
# A restart: the working set falls by this share of the limit (or of its level when the limit is unknown) at once.
DROP_OF_LIMIT = 0.12
DROP_OF_LEVEL = 0.25
# The last third growing at less than DECELERATING times the second's is flattening; above STEADY it is not.
DECELERATING, STEADY = 0.2, 0.6
# Lifetimes shorter than this count only when there is no longer one (a restart a few minutes ago is all warm-up).
SHORT_LIFETIME_SECONDS = 45 * 60
# A lifetime that ends this close to the limit ended in an OOM kill: its growth persisted to the end.
AT_LIMIT = 0.95
# Age and load this correlated cannot be told apart.
COLLINEAR = 0.9
# Windows per lifetime whose means' changes are compared (regress), and the spread of the load's changes above
# which it went both ways.
WINDOWS = 24
STEP_MADS, STEP_OF_LEVEL = 8.0, 0.04
MIN_WINDOW_SECONDS = 15 * 60
WARM_UP_SECONDS = 20 * 60
TWO_WAYS = 1.0
# A gap of this many steps without samples ends a lifetime too (the pod or its scrape was gone).
GAP_STEPS = 5


def _step(points):
    gaps = [b[0] - a[0] for a, b in zip(points, points[1:], strict=False) if b[0] > a[0]]
    return series_stats.median(gaps) if gaps else None


def split_lifetimes(points, limit=None):
    """[[(t, v), ...], ...]: the series cut where it drops as a restart does, or has a gap."""
    if not points:
        return []
    step = _step(points) or 0
    parts, current = [], [points[0]]
    for previous, point in zip(points, points[1:], strict=False):
        drop = previous[1] - point[1]
        threshold = DROP_OF_LIMIT * limit if limit else DROP_OF_LEVEL * previous[1]
        if (drop > 0 and drop >= threshold) or (step and point[0] - previous[0] > GAP_STEPS * step):
            parts.append(current)
            current = []
        current.append(point)
    parts.append(current)
    return parts


def _slope(points):
    fit = series_stats.theil_sen(points, 150) if len(points) >= 3 else None
    return None if fit is None else fit[0] * 3600.0


def judge_lifetime(points):
    """{seconds, growth_per_hour (whole), thirds [per hour], persistent_per_hour, start_level, end_level}."""
    n = len(points)
    third = n // 3
    parts = [points[:third + 1], points[third:2 * third + 1], points[2 * third:]]
    thirds = [_slope(part) for part in parts]
    persistent = None
    if thirds[1] is not None and thirds[2] is not None:
        persistent = min(thirds[1], thirds[2])
        if 0 < thirds[2] < thirds[1]:
            # slowing down third after third is a warm-up's tail: it flattens, whatever is left of it
            persistent *= max(0.0, min(1.0, (thirds[2] / thirds[1] - DECELERATING) / (STEADY - DECELERATING)))
    return {
        "seconds": points[-1][0] - points[0][0],
        "points": n,
        "growth_per_hour": _slope(points),
        "thirds_per_hour": thirds,
        "persistent_per_hour": None if persistent is None else max(0.0, persistent),
        "end_level": series_stats.median([v for _t, v in points[-max(3, n // 10):]]),
        "max": max(v for _t, v in points),
    }


def weighted_median(pairs):
    """The median of (value, weight) pairs by weight; None when empty."""
    pairs = sorted((v, w) for v, w in pairs if v is not None and w > 0)
    if not pairs:
        return None
    half, running = sum(w for _v, w in pairs) / 2.0, 0.0
    for value, weight in pairs:
        running += weight
        if running >= half:
            return value
    return pairs[-1][0]


def combine(judged, limit=None):
    """{persistent_per_hour, lifetime_seconds, early_per_hour, at_limit} over judged lifetimes (of one or all pods).

    Each lifetime weighs by its length; short ones count only when no longer one exists. at_limit: lifetimes that
    ended near the limit (an OOM kill ends them there)."""
    long_ones = [j for j in judged if j["seconds"] >= SHORT_LIFETIME_SECONDS]
    used = long_ones or judged
    at_limit = sum(1 for j in judged if limit and j["max"] >= AT_LIMIT * limit)
    return {
        "persistent_per_hour": weighted_median((j["persistent_per_hour"], j["seconds"]) for j in used),
        "early_per_hour": weighted_median((j["thirds_per_hour"][0], j["seconds"]) for j in used),
        "lifetime_seconds": max((j["seconds"] for j in used), default=None),
        "at_limit": at_limit,
    }


def analyse(points, limit=None, load=None):
    """The lifetimes of one series and, with `load` ([(t, value)], e.g. the session count), the regressions.

    Returns {lifetimes: [judged, long enough only], restarts: drops found, persistent_per_hour: of the longest
    judged lifetime that is the latest or as long as it, warmup: share of the first third's growth not kept
    later, regression: {...} or None}."""
    parts = split_lifetimes(points, limit)
    judged = [judge_lifetime(p) for p in parts
              if len(p) >= MIN_LIFETIME_POINTS and p[-1][0] - p[0][0] >= MIN_LIFETIME_SECONDS]
    result = {"restarts": max(0, len(parts) - 1), "lifetimes": judged, "regression": None}
    result.update(combine(judged, limit))
    if load:
        result["regression"] = regress(parts, load)
    return result


def _changes(parts, by_time):
    """[(Δload, Δmemory)] between consecutive windows of each lifetime, and the window's length in hours.

    Window means (WINDOWS per lifetime, 3 samples at least) smooth the noise; changes within a lifetime leave out
    its level, its steps (one change among many) and its restarts (never across two lifetimes)."""
    changes, widths = [], []
    for part in parts:
        span = part[-1][0] - part[0][0]
        if span < SHORT_LIFETIME_SECONDS:
            continue  # a few minutes between OOM kills: its changes are the restart's, not the load's
        step = _step(part) or 0
        width = max(3 * step, MIN_WINDOW_SECONDS, span / float(WINDOWS))
        buckets = {}
        for t, v in part:
            x = by_time.get(t)
            if x is not None:
                buckets.setdefault(int((t - part[0][0]) // width), []).append((x, v))
        means = [(sum(x for x, _v in b) / len(b), sum(v for _x, v in b) / len(b))
                 for _k, b in sorted(buckets.items()) if len(b) >= 2]
        changes.extend((x2 - x1, v2 - v1) for (x1, v1), (x2, v2) in zip(means, means[1:], strict=False))
        widths.append(width)
    return changes, (series_stats.median(widths) / 3600.0 if widths else None)


def without_steps(points):
    """The points with their one-off jumps taken out: a change between two samples far outside the usual ones
    (STEP_MADS robust deviations, and STEP_OF_LEVEL of the level at least) is a step (a pool that jammed, a cache
    that filled) or a spike, not load; each is subtracted from the samples after it. A spike (up, then down) so
    leaves nothing behind."""
    if len(points) < 5:
        return list(points)
    diffs = [b[1] - a[1] for a, b in zip(points, points[1:], strict=False)]
    centre = series_stats.median(diffs)
    spread = 1.4826 * series_stats.median([abs(d - centre) for d in diffs])
    level = series_stats.median([v for _t, v in points])
    threshold = max(STEP_MADS * spread, STEP_OF_LEVEL * level)
    result, offset = [points[0]], 0.0
    for (t, v), diff in zip(points[1:], diffs, strict=True):
        if abs(diff - centre) > threshold:
            offset += diff - centre
        result.append((t, v - offset))
    return result


def _residual_growth(parts, by_time, slope):
    """Growth per hour of the working set less what the load accounts for (slope × load), within lifetimes: the
    median slope over lifetimes of 45 minutes at least, each weighing by its length."""
    slopes = []
    for part in parts:
        rest = [(t, v - slope * by_time[t]) for t, v in part if t in by_time]
        if len(rest) >= MIN_LIFETIME_POINTS and rest[-1][0] - rest[0][0] >= SHORT_LIFETIME_SECONDS:
            fit = series_stats.theil_sen(rest, 150)
            if fit is not None:
                slopes.append((fit[0] * 3600.0, rest[-1][0] - rest[0][0]))
    return weighted_median(slopes)


def _partial(r2_both, r2_one):
    return 0.0 if r2_one >= 1.0 else max(0.0, (r2_both - r2_one) / (1.0 - r2_one))


def _spread(values):
    """Standard deviation over |mean|: below 1 the values mostly share a sign (the load only rose, or only fell)."""
    if len(values) < 3:
        return None
    m = series_stats.mean(values)
    sd = (sum((v - m) ** 2 for v in values) / (len(values) - 1)) ** 0.5
    return float("inf") if not m else sd / abs(m)


def regress(parts, load):
    """The working set against the load series (the session count): does it move with it?

    {slope (memory per unit of load), r2 (load alone), r2_age (the container's age alone), collinear, method,
    change_r, unexplained_per_hour, gain_load, gain_age, pairs, x_last, x_min, x_max, share}. Restarts reset the age
    and not the load (sessions live in Redis). When age and load did not move together and the load went both ways
    (method "changes"), the changes tell them apart: window to window within each lifetime, the working set's change
    is fitted on the load's change; its slope is the memory per unit of load (free of steps, warm-ups and restarts),
    `change_r` how closely the changes follow, and the fit's intercept the growth per hour the load does not
    explain. When the load only rose (method "levels"), the fit on load and age together does: gain_load and gain_age
    are partial R² (what each explains of what the other leaves), and unexplained_per_hour is the growth within
    lifetimes of the working set less slope × load. When age and load moved together (|r| >= COLLINEAR:
    one lifetime and a steady ramp) nothing can tell them apart: slope is the level fit's, and change_r and
    unexplained_per_hour are None. share is slope × last load / last working set: the part of the working set the
    load accounts for now."""
    by_time = {t: x for t, x in load if x is not None}
    # a fresh process warms up (and rebuilds what it holds per session): its first minutes say nothing of either
    parts = [without_steps([(t, v) for t, v in part if t - part[0][0] >= WARM_UP_SECONDS]) for part in parts]
    parts = [part for part in parts if part]
    xs, ys, ages = [], [], []
    for part in parts:
        start = part[0][0]
        for t, v in part:
            if t in by_time:
                xs.append(by_time[t])
                ys.append(v)
                ages.append(t - start)
    fit = series_stats.least_squares(xs, ys)
    if fit is None:
        return None
    slope, _intercept, r2 = fit
    age_fit = series_stats.least_squares(ages, ys)
    together = series_stats.pearson(xs, ages)
    collinear = together is None or abs(together) >= COLLINEAR
    change_r = unexplained = gain_load = gain_age = None
    method = "collinear"
    if not collinear:
        changes, hours = _changes(parts, by_time)
        dxs, dvs = [dx for dx, _dv in changes], [dv for _dx, dv in changes]
        # robust: one change can still be a step the windows did not smooth
        change_fit = series_stats.theil_sen(sorted(changes)) if len(changes) >= 3 else None
        spread = _spread(dxs)
        if change_fit is not None and hours and spread is not None and spread >= TWO_WAYS:
            method, slope = "changes", change_fit[0]
            change_r = series_stats.spearman(dxs, dvs)
            unexplained = series_stats.median([dv - slope * dx for dx, dv in changes]) / hours
        else:
            # the sessions only rose (a flood): their changes say nothing, but restarts reset the age and not them
            both = series_stats.least_squares_two(xs, ages, ys)
            if both is not None and age_fit is not None:
                method, slope = "levels", both[0]
                gain_load, gain_age = _partial(both[3], age_fit[2]), _partial(both[3], r2)
                unexplained = _residual_growth(parts, by_time, slope)
    last = ys[-1]
    return {
        "slope": slope, "r2": round(r2, 3),
        "r2_age": None if age_fit is None else round(age_fit[2], 3),
        "collinear": collinear, "method": method,
        "change_r": None if change_r is None else round(change_r, 3),
        "unexplained_per_hour": unexplained,
        "gain_load": None if gain_load is None else round(gain_load, 3),
        "gain_age": None if gain_age is None else round(gain_age, 3),
        "pairs": len(xs), "x_last": xs[-1], "x_min": min(xs), "x_max": max(xs),
        "share": None if not last else max(0.0, slope * xs[-1] / last),
        # how much the load moved: a load that barely did cannot show what memory does with it
        "x_range": None if not xs[-1] else (max(xs) - min(xs)) / float(abs(xs[-1])),
    }

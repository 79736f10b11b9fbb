# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Summaries of time series: percentiles, a robust slope, correlation, downsampling. Pure, no I/O.

A series is a list of (timestamp_seconds, value) pairs sorted by time. Every function returns None rather
than a made-up number when the data cannot support an answer (too few points, no variance).
"""

from __future__ import annotations

import math

# Theil-Sen looks at every pair of points: O(n^2). Above this many points it works on an evenly spaced
# subsample, which keeps the estimate robust and the work under ~80k pairs per series.
MAX_SLOPE_POINTS = 400


def finite(points):
    """(points with finite values, how many were dropped): NaN and +/-Inf carry no level."""
    kept = [(t, v) for t, v in points if v is not None and math.isfinite(v)]
    return kept, len(points) - len(kept)


def percentile(values, q):
    """The q-th percentile (0-100) with linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return None
    if not 0 <= q <= 100:
        raise ValueError("percentile must be between 0 and 100 (got %r)" % q)
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values):
    return percentile(values, 50)


def mean(values):
    return sum(values) / float(len(values)) if values else None


def even_subsample(items, limit):
    """At most `limit` items, evenly spaced, always keeping the first and the last."""
    n = len(items)
    if n <= limit:
        return list(items)
    if limit < 2:
        return list(items[:limit])
    step = (n - 1) / float(limit - 1)
    return [items[round(i * step)] for i in range(limit)]


def theil_sen(points, max_points=MAX_SLOPE_POINTS):
    """(slope per second, fitted level at the last timestamp) of the Theil-Sen line, or None.

    The slope is the median of all pairwise slopes, so up to ~29% of the points can be arbitrarily wrong
    (a memory spike, a scrape glitch) without moving it much, which least squares cannot promise. The level
    is the median of the points moved along that slope to the last timestamp. None without two distinct times.
    """
    sample = even_subsample(points, max_points)
    slopes = []
    for i, (t1, v1) in enumerate(sample):
        for t2, v2 in sample[i + 1:]:
            if t2 != t1:
                slopes.append((v2 - v1) / (t2 - t1))
    if not slopes:
        return None
    slope = median(slopes)
    end = points[-1][0]
    level = median([v + slope * (end - t) for t, v in sample])
    return slope, level


def moments(xs, ys):
    """(mean x, mean y, Sxx, Syy, Sxy) of two equally long sequences; None with fewer than 3 pairs."""
    if len(xs) != len(ys) or len(xs) < 3:
        return None
    mx, my = mean(xs), mean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    return mx, my, sxx, syy, sxy


def pearson(xs, ys):
    """Pearson correlation coefficient of two equally long sequences; None if < 3 pairs or no variance."""
    m = moments(xs, ys)
    if m is None or m[2] <= 0 or m[3] <= 0:
        return None
    return max(-1.0, min(1.0, m[4] / math.sqrt(m[2] * m[3])))


def ranks(values):
    """1-based ranks, ties sharing the mean of their ranks."""
    order = sorted(range(len(values)), key=values.__getitem__)
    result = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            result[order[k]] = (i + j) / 2.0 + 1
        i = j + 1
    return result


def spearman(xs, ys):
    """Spearman's rank correlation: Pearson on ranks, so a few spikes cannot hide a shared trend."""
    if len(xs) != len(ys) or len(xs) < 3:
        return None
    return pearson(ranks(xs), ranks(ys))


def correlate(points_a, points_b):
    """(pearson r, spearman rho, pairs) over the timestamps both series have."""
    b_by_time = dict(points_b)
    pairs = [(v, b_by_time[t]) for t, v in points_a if t in b_by_time]
    if not pairs:
        return None, None, 0
    xs, ys = [a for a, _b in pairs], [b for _a, b in pairs]
    return pearson(xs, ys), spearman(xs, ys), len(pairs)


def sum_series(many):
    """Point-wise sum of several series over the timestamps they all have."""
    if not many:
        return []
    common = set(t for t, _v in many[0])
    for points in many[1:]:
        common &= set(t for t, _v in points)
    totals = dict.fromkeys(common, 0.0)
    for points in many:
        for t, v in points:
            if t in totals:
                totals[t] += v
    return sorted(totals.items())


def downsample(points, limit):
    """At most `limit` points for a chart, by largest-triangle-three-buckets (keeps peaks and shape).

    The first and last points are kept; each bucket in between contributes the point that makes the
    largest triangle with the point kept before it and the mean of the next bucket.
    """
    n = len(points)
    if limit <= 0 or limit >= n:
        return list(points)
    if limit < 3:
        return even_subsample(points, limit)
    width = (n - 2) / float(limit - 2)
    kept, previous = [points[0]], 0
    for bucket in range(limit - 2):
        start = int(math.floor(bucket * width)) + 1
        end = int(math.floor((bucket + 1) * width)) + 1
        following = points[end:min(int(math.floor((bucket + 2) * width)) + 1, n)] or points[-1:]
        avg_t = sum(t for t, _v in following) / float(len(following))
        avg_v = sum(v for _t, v in following) / float(len(following))
        pt, pv = points[previous]
        best, best_area = start, -1.0
        for i in range(start, max(end, start + 1)):
            t, v = points[i]
            area = abs((pt - avg_t) * (v - pv) - (pt - t) * (avg_v - pv))
            if area > best_area:
                best, best_area = i, area
        kept.append(points[best])
        previous = best
    kept.append(points[-1])
    return kept


def summarize(points, limit=None, max_slope_points=MAX_SLOPE_POINTS):
    """Numbers a diagnosis can use, for one series of finite (t, v) points sorted by time.

    `growth_per_hour` is the Theil-Sen slope in the series' unit per hour. `projected_seconds_to_limit` is
    how long the fitted line takes from its level at the last timestamp to `limit`: 0 when the level (or
    the last value) is already there, None when there is no limit or the series is not growing.
    """
    values = [v for _t, v in points]
    result = {
        "samples": len(points),
        "first_timestamp": points[0][0] if points else None,
        "last_timestamp": points[-1][0] if points else None,
        "last": values[-1] if values else None,
        "min": min(values) if values else None,
        "max": max(values) if values else None,
        "mean": mean(values),
        "p95": percentile(values, 95),
        "growth_per_hour": None,
        "projected_seconds_to_limit": None,
    }
    fit = theil_sen(points, max_slope_points) if len(points) >= 2 else None
    if fit is not None:
        slope, level = fit
        result["growth_per_hour"] = slope * 3600.0
        if limit is not None:
            if level >= limit or values[-1] >= limit:
                result["projected_seconds_to_limit"] = 0.0
            elif slope > 0:
                result["projected_seconds_to_limit"] = (limit - level) / slope
    return result


def least_squares(xs, ys):
    """(slope, intercept, r2) of the least-squares line of ys on xs; None with < 3 pairs or no variance in xs."""
    m = moments(xs, ys)
    if m is None or m[2] <= 0:
        return None
    mx, my, sxx, syy, sxy = m
    slope = sxy / sxx
    r2 = 1.0 if syy <= 0 else max(0.0, min(1.0, sxy * sxy / (sxx * syy)))
    return slope, my - slope * mx, r2


def least_squares_two(x1s, x2s, ys):
    """(b1, b2, intercept, r2) of ys on two regressors; None with < 4 points or regressors without variance or
    collinear (no unique fit)."""
    n = len(ys)
    if n < 4 or len(x1s) != n or len(x2s) != n:
        return None
    m1, m2, my = mean(x1s), mean(x2s), mean(ys)
    s11 = sum((a - m1) ** 2 for a in x1s)
    s22 = sum((b - m2) ** 2 for b in x2s)
    s12 = sum((a - m1) * (b - m2) for a, b in zip(x1s, x2s, strict=True))
    s1y = sum((a - m1) * (y - my) for a, y in zip(x1s, ys, strict=True))
    s2y = sum((b - m2) * (y - my) for b, y in zip(x2s, ys, strict=True))
    syy = sum((y - my) ** 2 for y in ys)
    det = s11 * s22 - s12 * s12
    if s11 <= 0 or s22 <= 0 or det <= 1e-12 * s11 * s22:
        return None
    b1 = (s22 * s1y - s12 * s2y) / det
    b2 = (s11 * s2y - s12 * s1y) / det
    r2 = 1.0 if syy <= 0 else max(0.0, min(1.0, (b1 * s1y + b2 * s2y) / syy))
    return b1, b2, my - b1 * m1 - b2 * m2, r2

"""Percentiles, the Theil-Sen slope, correlation and downsampling on series with known answers."""

import math
import random

import pytest

from ansible_collections.bruno.ops.plugins.module_utils.facts import series_stats as st

HOUR = 3600.0
T0 = 1_764_000_000.0


def line(slope_per_hour, level, *, n=360, every=60.0, noise=0.0, seed=1):
    rng = random.Random(seed)  # noqa: S311 - deterministic test data
    return [(T0 + i * every, level + slope_per_hour * i * every / HOUR + rng.uniform(-noise, noise))
            for i in range(n)]


@pytest.mark.parametrize(("values", "q", "expected"), [
    ([1, 2, 3, 4, 5], 50, 3),
    ([1, 2, 3, 4], 50, 2.5),
    (list(range(1, 101)), 95, 95.05),  # numpy.percentile(range(1, 101), 95)
    ([7], 95, 7),
    ([3, 1, 2], 0, 1),
    ([3, 1, 2], 100, 3),
])
def test_percentile_interpolates_between_ranks(values, q, expected):
    assert st.percentile(values, q) == pytest.approx(expected)


def test_percentile_of_nothing_is_none_and_bad_q_is_an_error():
    assert st.percentile([], 95) is None
    with pytest.raises(ValueError):
        st.percentile([1], 101)


def test_theil_sen_recovers_an_exact_line():
    slope, level = st.theil_sen(line(20.0, 500.0, n=50))
    assert slope * HOUR == pytest.approx(20.0)
    assert level == pytest.approx(500.0 + 20.0 * 49 / 60)


def test_theil_sen_ignores_outliers_that_wreck_least_squares():
    points = line(20.0 * 2 ** 20, 400.0 * 2 ** 20, noise=5 * 2 ** 20)
    # Spikes of +300 MiB on 15% of the points, bunched at the end where they tilt a least-squares line most.
    spiked = [(t, v + (300 * 2 ** 20 if i > 300 and i % 3 == 0 else 0)) for i, (t, v) in enumerate(points)]
    slope, _level = st.theil_sen(spiked)
    assert slope * HOUR / 2 ** 20 == pytest.approx(20.0, abs=1.5)
    ts, vs = [t for t, _v in spiked], [v for _t, v in spiked]
    mt, mv = sum(ts) / len(ts), sum(vs) / len(vs)
    ols = sum((t - mt) * (v - mv) for t, v in spiked) / sum((t - mt) ** 2 for t in ts)
    assert abs(ols * HOUR / 2 ** 20 - 20.0) > 5  # what least squares would have said


def test_theil_sen_subsamples_long_series_and_stays_right():
    points = line(-3.0, 1000.0, n=5000, every=5.0, noise=0.5)
    slope, _level = st.theil_sen(points, max_points=400)
    assert slope * HOUR == pytest.approx(-3.0, abs=0.2)


def test_theil_sen_needs_two_distinct_times():
    assert st.theil_sen([(T0, 1.0)]) is None
    assert st.theil_sen([(T0, 1.0), (T0, 2.0)]) is None


def test_even_subsample_keeps_both_ends():
    items = list(range(1001))
    picked = st.even_subsample(items, 11)
    assert picked == [0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]
    assert st.even_subsample(items[:5], 11) == items[:5]


def test_pearson_known_values():
    xs = [1, 2, 3, 4, 5]
    assert st.pearson(xs, [2, 4, 6, 8, 10]) == pytest.approx(1.0)
    assert st.pearson(xs, [10, 8, 6, 4, 2]) == pytest.approx(-1.0)
    assert st.pearson(xs, [1, 3, 2, 5, 4]) == pytest.approx(0.8)
    assert st.pearson(xs, [3, 3, 3, 3, 3]) is None  # no variance: undefined, not 0
    assert st.pearson([1, 2], [1, 2]) is None


def test_correlate_pairs_by_timestamp_only():
    a = [(1, 1.0), (2, 2.0), (3, 3.0), (4, 4.0)]
    b = [(2, 20.0), (3, 30.0), (4, 40.0), (5, 99.0)]
    r, rho, pairs = st.correlate(a, b)
    assert pairs == 3 and r == pytest.approx(1.0) and rho == pytest.approx(1.0)
    assert st.correlate(a, [(9, 1.0)]) == (None, None, 0)


def test_ranks_share_ties():
    assert st.ranks([10, 30, 20, 30]) == [1.0, 3.5, 2.0, 3.5]


def test_spearman_sees_a_shared_trend_through_spikes():
    trend = [float(i) for i in range(100)]
    spiky = [v + (1000.0 if i % 20 == 7 else 0.0) for i, v in enumerate(trend)]
    assert st.pearson(trend, spiky) < 0.5
    assert st.spearman(trend, spiky) > 0.85
    assert st.spearman([1, 2, 3, 4], [1, 4, 9, 16]) == pytest.approx(1.0)  # monotonic, not linear
    assert st.spearman([1, 2], [1, 2]) is None


def test_sum_series_over_common_timestamps():
    assert st.sum_series([[(1, 1.0), (2, 2.0)], [(1, 10.0), (2, 20.0), (3, 30.0)]]) == [(1, 11.0), (2, 22.0)]
    assert st.sum_series([]) == []


def test_finite_drops_nan_and_inf():
    kept, dropped = st.finite([(1, 1.0), (2, math.nan), (3, math.inf), (4, None), (5, 2.0)])
    assert kept == [(1, 1.0), (5, 2.0)] and dropped == 3


def test_downsample_keeps_ends_count_and_the_peak():
    points = [(float(i), 0.0) for i in range(1000)]
    points[537] = (537.0, 100.0)
    chart = st.downsample(points, 50)
    assert len(chart) == 50
    assert chart[0] == points[0] and chart[-1] == points[-1]
    assert (537.0, 100.0) in chart
    assert [t for t, _v in chart] == sorted(t for t, _v in chart)
    assert st.downsample(points[:10], 50) == points[:10]


def test_summarize_projects_time_to_limit_from_the_fitted_level():
    mib = 2 ** 20
    points = line(20.0 * mib, 500.0 * mib, n=361)  # 6 h at 1/min: ends at 620 MiB
    summary = st.summarize(points, limit=1024 * mib)
    assert summary["samples"] == 361
    assert summary["growth_per_hour"] / mib == pytest.approx(20.0)
    assert summary["projected_seconds_to_limit"] / HOUR == pytest.approx((1024 - 620) / 20.0)
    assert summary["max"] == pytest.approx(620.0 * mib)
    assert summary["first_timestamp"] == T0 and summary["last_timestamp"] == T0 + 360 * 60


@pytest.mark.parametrize(("slope", "limit", "expected"), [
    (-5.0, 1000.0, None),  # shrinking: never
    (0.0, 1000.0, None),  # flat: never
    (5.0, None, None),  # no limit: nothing to project
    (5.0, 100.0, 0.0),  # already above the limit
])
def test_summarize_projection_edge_cases(slope, limit, expected):
    assert st.summarize(line(slope, 500.0, n=60), limit=limit)["projected_seconds_to_limit"] == expected


def test_summarize_single_point_has_no_growth():
    summary = st.summarize([(T0, 5.0)], limit=10.0)
    assert summary["growth_per_hour"] is None and summary["projected_seconds_to_limit"] is None
    assert summary["p95"] == 5.0 and summary["last"] == 5.0

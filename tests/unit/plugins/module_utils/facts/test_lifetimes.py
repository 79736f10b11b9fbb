"""Growth per container lifetime and whether memory moves with the sessions, on series written by hand."""

import math

import pytest

from ansible_collections.bruno.ops.plugins.module_utils.facts import lifetimes

MIB = 2 ** 20
LIMIT = 1024 * MIB
STEP = 60


def series(minutes, value):
    return [(i * STEP, float(value(i * STEP))) for i in range(int(minutes) + 1)]


def persistent_mib(points, limit=LIMIT):
    return lifetimes.analyse(points, limit)["persistent_per_hour"] / MIB


def test_a_leak_keeps_its_slope():
    points = series(360, lambda t: 300 * MIB + 90 * MIB * t / 3600.0)
    assert persistent_mib(points) == pytest.approx(90, rel=0.01)


def test_a_warm_up_that_flattens_is_not_growth():
    points = series(360, lambda t: 600 * MIB - 300 * MIB * math.exp(-t / 1200.0))
    result = lifetimes.analyse(points, LIMIT)
    assert result["persistent_per_hour"] / MIB < 2
    assert result["early_per_hour"] / MIB > 30  # the climb is there, in the first third


@pytest.mark.parametrize("at_minute", [40, 180, 330])
def test_a_single_step_is_not_growth(at_minute):
    points = series(360, lambda t: 400 * MIB + (300 * MIB if t >= at_minute * 60 else 0))
    assert persistent_mib(points) < 1


def test_restarts_cut_lifetimes_and_a_sawtooth_is_one_leak_seen_many_times():
    def sawtooth(t):
        age = t % 5400  # OOM-killed every 90 minutes, climbing from 300Mi to the limit
        return min(LIMIT, 300 * MIB + (LIMIT - 300 * MIB) * age / 5400.0)

    points = series(24 * 60, sawtooth)
    result = lifetimes.analyse(points, LIMIT)
    assert result["restarts"] == 16
    assert result["at_limit"] >= 10
    assert persistent_mib(points) == pytest.approx((1024 - 300) / 1.5, rel=0.05)


def test_a_gap_ends_a_lifetime():
    points = series(100, lambda t: 100 * MIB) + [(200 * 60 + i * STEP, 100.0 * MIB) for i in range(50)]
    assert len(lifetimes.split_lifetimes(points, LIMIT)) == 2


def test_without_steps_removes_a_jump_and_a_spike():
    points = series(100, lambda t: 100 * MIB + (50 * MIB if t >= 3000 else 0) + (80 * MIB if t == 1200 else 0))
    flat = lifetimes.without_steps(points)
    assert max(v for _t, v in flat) - min(v for _t, v in flat) < MIB


def diurnal(t, peak=20000):
    return peak * (0.55 + 0.45 * math.cos(2 * math.pi * t / 86400.0))


def test_memory_that_follows_the_sessions_both_ways():
    load = series(2 * 24 * 60, diurnal)
    points = series(2 * 24 * 60, lambda t: 200 * MIB + 20 * 1024 * diurnal(t))
    fit = lifetimes.regress([points], load)
    assert fit["method"] == "changes"
    assert fit["slope"] == pytest.approx(20 * 1024, rel=0.05)
    assert fit["change_r"] > 0.9 and abs(fit["unexplained_per_hour"]) < MIB
    assert 0.5 < fit["share"] < 0.8


def test_a_leak_during_a_daily_curve_is_not_the_sessions():
    load = series(2 * 24 * 60, diurnal)
    points = series(2 * 24 * 60, lambda t: 200 * MIB + 10 * MIB * t / 3600.0)
    fit = lifetimes.regress([points], load)
    assert fit["method"] == "changes"
    assert fit["change_r"] < 0.2
    assert fit["unexplained_per_hour"] / MIB == pytest.approx(10, rel=0.1)


def test_a_steady_ramp_of_both_cannot_be_told_apart():
    load = series(360, lambda t: 40000 + 260000 * t / 21600.0)
    points = series(360, lambda t: 500 * MIB + 400 * MIB * t / 21600.0)
    fit = lifetimes.regress([points], load)
    assert fit["collinear"] and fit["method"] == "collinear"
    assert fit["change_r"] is None and fit["r2"] > 0.99


def test_restarts_tell_a_leak_from_a_flood():
    """Sessions only rose; the working set fell at each restart while the sessions did not: age, not sessions."""
    load = series(12 * 60, lambda t: 10000 + 20000 * t / 43200.0)
    points = series(12 * 60, lambda t: 200 * MIB + 60 * MIB * (t % 10800) / 3600.0)
    parts = lifetimes.split_lifetimes(points, LIMIT)
    fit = lifetimes.regress(parts, load)
    assert fit["method"] == "levels"
    assert fit["gain_age"] > 0.5 > fit["gain_load"]

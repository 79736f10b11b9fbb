# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The small scoring helpers the causes share. Pure: no I/O, no clock."""

from __future__ import annotations

MIB = 2 ** 20


def ramp(value, low, high):
    """0 at or below `low`, 1 at or above `high`, linear between; None stays None."""
    if value is None:
        return None
    if high == low:
        return 1.0 if value >= high else 0.0
    return max(0.0, min(1.0, (value - low) / float(high - low)))


def best(*scores):
    """The strongest of the scores that are known; None when none is."""
    known = [s for s in scores if s is not None]
    return max(known) if known else None


def signal(name, weight=1.0):
    """An EXPLAINED_BY entry: the explaining cause's signal `name` (its "score", or a part it returned), times
    `weight`; None while that signal is unknown."""

    def strength(_facts, _t, signals):
        value = signals.get(name)
        return None if value is None else weight * value

    return strength


def pct_of_limit(mib_per_hour, limit_bytes):
    """Growth in MiB/h as % of the limit per hour (what makes 20 MiB/h urgent on 512Mi and not on 4Gi)."""
    if mib_per_hour is None or not limit_bytes:
        return None
    return 100.0 * mib_per_hour * MIB / limit_bytes


def session_mechanism(facts, t):
    """How surely the pod's working set moves with the session count, in [0, 1]; None without the regression.

    The sessions must account for a real share of the working set now (memory per session × sessions / working
    set) over a history long enough. When restarts or a daily curve let the container's age and the sessions be told
    apart (session_change_r known), the working set's changes must follow the sessions' changes (window to window,
    within lifetimes: a step, a warm-up or a leak do not go down when the sessions do); when the sessions only rose,
    they must explain what the age leaves (partial R², session_gain_r2). When the two moved together
    (one lifetime, a steady ramp), the level fit on the sessions must be good and no worse than the fit on age."""
    share, r2, r2_age, change_r = (facts["session_memory_share_pct"], facts["session_fit_r2"], facts["age_fit_r2"],
                                   facts["session_change_r"])
    if share is None or r2 is None:
        return None
    if change_r is not None:
        follows = ramp(change_r, 0.2, 0.4)
    elif facts["session_gain_r2"] is not None:
        # the sessions only rose: they must explain what the age leaves, and something alone
        follows = ramp(facts["session_gain_r2"], 0.01, 0.04) * ramp(r2, 0.05, 0.15)
    else:
        worse_than_age = 0.0 if r2_age is None else ramp(r2_age - r2, 0.0, 0.15)
        follows = ramp(r2, 0.3, 0.6) * (1.0 - worse_than_age)
    # a few hours of two rising curves is no evidence that one drives the other
    enough = ramp(facts["history_hours"] or 0.0, t["session_min_history_hours"] * 0.5, t["session_min_history_hours"])
    # and sessions that barely moved cannot show what memory does with them
    moved = 1.0 if facts["sessions_moved_pct"] is None else ramp(facts["sessions_moved_pct"], 10.0, 25.0)
    return ramp(share, t["session_memory_share_pct"] * 0.5, t["session_memory_share_pct"]) * follows * enough * moved


def growth_is_sessions(facts, t, mechanism):
    """How surely the growth is the sessions' alone, in [0, 1]: when age and sessions can be told apart, what the
    sessions' changes leave unexplained must not be a leak's growth; when they cannot, the mechanism decides."""
    if mechanism is None:
        return None
    unexplained = pct_of_limit(facts["growth_unexplained_mib_per_hour"], facts["limit_bytes"])
    if unexplained is not None:
        return mechanism * (1.0 - ramp(unexplained, t["leak_growth_pct_per_hour"] * 0.5,
                                       t["leak_growth_pct_per_hour"]))
    if facts["age_gain_r2"] is not None:
        return mechanism * (1.0 - ramp(facts["age_gain_r2"], 0.2, 0.5))
    return mechanism


def long_contexts(facts, t):
    """How long the sessions' contexts are in Redis, in [0, 1]; None when neither figure is known."""
    return best(
        ramp(facts["context_p95_messages"], t["context_p95_messages"] * 0.5, t["context_p95_messages"]),
        ramp(facts["session_mean_bytes"], t["session_mean_bytes"] * 0.5, t["session_mean_bytes"]),
    )

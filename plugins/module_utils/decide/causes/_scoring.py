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

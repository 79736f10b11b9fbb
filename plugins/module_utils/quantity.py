# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes resource quantities for memory: parse to bytes, format back. Pure, no I/O."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

BINARY = {"Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40, "Pi": 2 ** 50, "Ei": 2 ** 60}
DECIMAL = {"n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": 1, "k": 10 ** 3,
           "M": 10 ** 6, "G": 10 ** 9, "T": 10 ** 12, "P": 10 ** 15, "E": 10 ** 18}
_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$")


class QuantityError(ValueError):
    pass


def parse_bytes(value, what="quantity"):
    """Bytes (int) from a Kubernetes quantity such as 1Gi, 512Mi, 1e9, 750M or an int.

    Rejects what kubectl would reject and what makes no sense for memory: negative values and
    unknown suffixes such as "1Gb" (the error says which suffixes exist).
    """
    if isinstance(value, bool):
        raise QuantityError("%s must be a memory quantity such as 1Gi or 512Mi, not a boolean" % what)
    if isinstance(value, (int, float)):
        number = Decimal(str(value))
        suffix = ""
    else:
        text = str(value).strip()
        match = _QUANTITY.match(text)
        if not match:
            raise QuantityError(
                "%s %r is not a Kubernetes quantity: use a number with an optional suffix Ki, Mi, Gi, Ti "
                "(powers of 1024) or k, M, G, T (powers of 1000), e.g. 1Gi or 512Mi" % (what, text))
        try:
            number = Decimal(match.group(1))
        except InvalidOperation:
            raise QuantityError("%s %r has an invalid number" % (what, text)) from None
        suffix = match.group(2) or ""
    if number < 0:
        raise QuantityError("%s %r must not be negative" % (what, value))
    multiplier = BINARY.get(suffix) or DECIMAL[suffix]
    return int((number * multiplier).to_integral_value(rounding="ROUND_CEILING"))


def format_bytes(value):
    """The shortest exact binary quantity (1Gi, 1536Mi), else Ki rounded up, for manifests and messages."""
    if value is None:
        return None
    value = int(value)
    for suffix in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki"):
        if value and value % BINARY[suffix] == 0:
            return "%d%s" % (value // BINARY[suffix], suffix)
    if value < 1024:
        return str(value)
    return "%dKi" % -(-value // 1024)


def human(value):
    """Approximate, for people: 734.0Mi, 1.5Gi."""
    if value is None:
        return "n/a"
    for suffix in ("Ti", "Gi", "Mi", "Ki"):
        if abs(value) >= BINARY[suffix]:
            return "%.1f%s" % (value / BINARY[suffix], suffix)
    return "%dB" % value

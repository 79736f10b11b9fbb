# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prometheus text exposition (and OpenMetrics) into plain dicts, with prometheus_client's own parser.

Pure: takes the text a scrape returned. The library import is guarded; require_prometheus_client() turns its
absence into the collection's missing_library error.
"""

from __future__ import annotations

import math
import traceback

from ansible_collections.bruno.ops.plugins.module_utils import errors

PROMETHEUS_CLIENT_IMPORT_ERROR = None
try:
    from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
    from prometheus_client.parser import text_string_to_metric_families as parse_text
    HAS_PROMETHEUS_CLIENT = True
except ImportError:  # reported by require_prometheus_client(), never at import time
    parse_text = parse_openmetrics = None
    HAS_PROMETHEUS_CLIENT = False
    PROMETHEUS_CLIENT_IMPORT_ERROR = traceback.format_exc()

# What to ask a /metrics endpoint for: the text format every Prometheus client serves.
ACCEPT = "text/plain;version=0.0.4;q=1.0, application/openmetrics-text;version=1.0.0;q=0.5, */*;q=0.1"


def require_prometheus_client():
    if not HAS_PROMETHEUS_CLIENT:
        raise errors.BrunoOpsError(
            "the 'prometheus-client' Python library is required on the host running this module: "
            "pip install prometheus-client",
            kind=errors.MISSING_LIBRARY, exception=PROMETHEUS_CLIENT_IMPORT_ERROR,
        )


def _wanted(family, wanted):
    """The requested names this family answers to: its own name or any of its sample names."""
    names = {family.name} | {sample.name for sample in family.samples}
    if family.type == "counter":
        names.add(family.name + "_total")  # the text parser names counter families without _total
    return names & wanted


def parse(text, content_type="", metrics=None, max_samples=10000):
    """Families (dict by name), label-less values by sample name, the requested names not found, and what was cut.

    `metrics` is a list of family or sample names to keep (all when empty). Non-finite values (NaN, +Inf)
    become None and are counted, because JSON has no such numbers.
    """
    require_prometheus_client()
    openmetrics = (content_type or "").lower().startswith("application/openmetrics-text")
    parser = parse_openmetrics if openmetrics else parse_text
    wanted = set(metrics or [])
    found = set()
    families, unlabeled = {}, {}
    kept = non_finite = total = 0
    try:
        for family in parser(text):
            if wanted:
                hits = _wanted(family, wanted)
                if not hits:
                    continue
                found |= hits
            entry = families.setdefault(family.name, {"type": family.type, "help": family.documentation,
                                                      "unit": family.unit or None, "samples": []})
            for sample in family.samples:
                total += 1
                if kept >= max_samples:
                    continue
                value = float(sample.value)
                if not math.isfinite(value):
                    value = None
                    non_finite += 1
                entry["samples"].append({"name": sample.name, "labels": dict(sample.labels), "value": value,
                                         "timestamp": _timestamp(sample.timestamp)})
                kept += 1
                if not sample.labels:
                    unlabeled[sample.name] = value
    except (ValueError, IndexError, TypeError) as exc:
        raise errors.BrunoOpsError(
            "the response is not in the Prometheus %s format: %s" % ("OpenMetrics" if openmetrics else "text", exc),
            kind=errors.API,
        ) from None
    return {
        "families": families,
        "unlabeled": unlabeled,
        "missing": sorted(wanted - found),
        "samples_total": total,
        "samples_kept": kept,
        "non_finite": non_finite,
    }


def _timestamp(value):
    """Sample timestamps as unix seconds (the parsers give float seconds or a Timestamp object)."""
    if value is None:
        return None
    if hasattr(value, "sec"):
        return value.sec + value.nsec / 1e9
    return float(value)

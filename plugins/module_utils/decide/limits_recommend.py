# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How big a memory limit should be, and whether a proposed one is safe. Pure: bytes in, decisions out.

The algorithm and how it compares with KRR and the VPA recommender are in docs/remediation.md.
"""

from __future__ import annotations

import math

from ansible_collections.bruno.ops.plugins.module_utils import errors
from ansible_collections.bruno.ops.plugins.module_utils.quantity import format_bytes, human

MIB = 2 ** 20
STEP = 64 * MIB  # limits are rounded up to a multiple of this: readable values, and a little extra room
OOM_BUMP_MIN = 100 * MIB  # the VPA recommender's OOM bump: max(used + 100Mi, used x 1.2)
OOM_BUMP_RATIO = 1.2
KRR_BUFFER = 1.15  # KRR's simple strategy: max working set + 15%
VPA_MARGIN = 1.15  # VPA recommender: p90 x 1.15 safety margin


def round_up(value, step=STEP):
    return int(-(-int(value) // step) * step)


def oom_bump(limit):
    """What the VPA adds after an OOM kill: the usage at the kill is the limit itself."""
    return int(max(limit + OOM_BUMP_MIN, limit * OOM_BUMP_RATIO))


def recommend(peak, current_limit, oom_kills, *, headroom, allow_decrease=False, p90=None):
    """The recommended limit with its reasoning: the largest of peak x headroom and (after OOM kills) the OOM bump
    of the current limit, rounded up to 64Mi; never below the current limit unless allow_decrease."""
    candidates = []
    if peak:
        candidates.append(("observed peak %s x headroom %g" % (human(peak), headroom), peak * headroom))
    if oom_kills and current_limit:
        candidates.append(("%d OOM kill(s) at the %s limit: max(limit + 100Mi, limit x 1.2)"
                           % (oom_kills, human(current_limit)), oom_bump(current_limit)))
    if not candidates:
        raise errors.BrunoOpsError("no memory usage history and no OOM kill to recommend from; check the prometheus "
                                   "option and the history window, or set limit", kind=errors.CONFIG)
    basis, raw = max(candidates, key=lambda c: c[1])
    recommended = round_up(raw)
    kept = False
    if current_limit and recommended < current_limit and not allow_decrease:
        basis = "%s gives %s, below the current %s; kept (allow_decrease is off)" % (
            basis, format_bytes(recommended), format_bytes(current_limit))
        recommended, kept = current_limit, True
    return {
        "limit_bytes": recommended,
        "limit": format_bytes(recommended),
        "basis": basis,
        "kept_current": kept,
        "krr_simple": format_bytes(round_up(peak * KRR_BUFFER)) if peak else None,
        "vpa_target": format_bytes(round_up(p90 * VPA_MARGIN)) if p90 else None,
        "vpa_oom_bump": format_bytes(round_up(oom_bump(current_limit))) if oom_kills and current_limit else None,
    }


def surge_pods(strategy, replicas):
    """Extra pods a rolling update may start (maxSurge, default 25%, rounded up as the controller does)."""
    strategy = strategy or {}
    value = (strategy.get("rollingUpdate") or strategy.get("rollingParams") or {}).get("maxSurge", "25%")
    if strategy.get("type") == "Recreate":
        return 0
    if isinstance(value, str) and value.endswith("%"):
        return int(math.ceil(replicas * float(value[:-1]) / 100.0))
    return int(value)


def check(new_limit, *, request, peak, headroom, max_limit, limit_ranges, quotas, node_max, replicas, surge,
          current_limit, other_limits=0, parse=None):
    """[(guardrail, passed, detail)] for a proposed limit; a caller refuses the change if any failed."""
    results = []

    def rule(name, passed, detail):
        results.append({"guardrail": name, "passed": bool(passed), "detail": detail})

    if peak:
        floor = int(peak * headroom)
        rule("above_peak", new_limit >= floor, "limit %s %s observed peak %s x headroom %g = %s" % (
            format_bytes(new_limit), ">=" if new_limit >= floor else "<", human(peak), headroom, human(floor)))
    else:  # without usage figures only a raise is known to be safe
        raising = current_limit is not None and new_limit >= current_limit
        rule("above_peak", raising, "no usage figures to check against: limit %s %s the current %s%s" % (
            format_bytes(new_limit), ">=" if raising else "<", format_bytes(current_limit),
            "" if raising else "; only raising is allowed until usage is known"))
    rule("max_limit", new_limit <= max_limit, "limit %s %s max_limit %s" % (
        format_bytes(new_limit), "<=" if new_limit <= max_limit else ">", format_bytes(max_limit)))
    if request is not None:
        rule("request_within_limit", request <= new_limit, "request %s %s limit %s" % (
            format_bytes(request), "<=" if request <= new_limit else ">", format_bytes(new_limit)))
    if node_max is not None:
        rule("fits_a_node", new_limit <= node_max, "limit %s %s the largest node's allocatable memory %s" % (
            format_bytes(new_limit), "<=" if new_limit <= node_max else ">", human(node_max)))
    for item in _limit_range_items(limit_ranges, parse):
        results.extend(_limit_range_rules(item, new_limit, request, other_limits))
    for quota in quotas or []:
        rule_result = _quota_rule(quota, new_limit, current_limit=current_limit, replicas=replicas, surge=surge,
                                  parse=parse)
        if rule_result:
            results.append(rule_result)
    return results


def _limit_range_items(limit_ranges, parse):
    for lr in limit_ranges or []:
        for item in (lr.get("spec") or {}).get("limits") or []:
            if item.get("type") in ("Container", "Pod"):
                yield dict(item, _name=lr["metadata"]["name"], _parse=parse)


def _limit_range_rules(item, new_limit, request, other_limits):
    parse, name, kind = item["_parse"], item["_name"], item["type"]
    total = new_limit + (other_limits if kind == "Pod" else 0)
    what = "limit %s" % format_bytes(new_limit) if kind == "Container" else "pod total %s" % format_bytes(total)
    out = []
    if "memory" in (item.get("max") or {}):
        top = parse(item["max"]["memory"])
        sign = "<=" if total <= top else ">"
        detail = "%s %s LimitRange %s %s max %s" % (what, sign, name, kind, format_bytes(top))
        out.append({"guardrail": "limitrange_max", "passed": total <= top, "detail": detail})
    if "memory" in (item.get("min") or {}):
        bottom = parse(item["min"]["memory"])
        sign = ">=" if total >= bottom else "<"
        detail = "%s %s LimitRange %s %s min %s" % (what, sign, name, kind, format_bytes(bottom))
        out.append({"guardrail": "limitrange_min", "passed": total >= bottom, "detail": detail})
    ratio = (item.get("maxLimitRequestRatio") or {}).get("memory")
    if ratio and request and kind == "Container":
        allowed = float(ratio)
        actual = new_limit / float(request)
        out.append({"guardrail": "limitrange_ratio", "passed": actual <= allowed,
                    "detail": "limit/request %.2f %s LimitRange %s maxLimitRequestRatio %s" % (
                        actual, "<=" if actual <= allowed else ">", name, ratio)})
    return out


def _quota_rule(quota, new_limit, *, current_limit, replicas, surge, parse):
    """limits.memory of a ResourceQuota: the namespace's usage after the change, counting the rollout's surge."""
    hard = (quota.get("status") or {}).get("hard") or (quota.get("spec") or {}).get("hard") or {}
    if "limits.memory" not in hard:
        return None
    top = parse(hard["limits.memory"])
    # A quota the controller has not counted yet has no status.used: this workload's own pods are a floor.
    used = max(parse(((quota.get("status") or {}).get("used") or {}).get("limits.memory", "0")),
               (current_limit or 0) * replicas)
    delta = max(0, new_limit - (current_limit or 0)) * replicas
    projected = used + delta + new_limit * surge
    name = quota["metadata"]["name"]
    return {"guardrail": "resourcequota", "passed": projected <= top,
            "detail": "namespace limits.memory during the rollout %s (used %s + %d x %s more + %d surge pod(s) x %s) "
                      "%s ResourceQuota %s hard %s" % (
                          human(projected), human(used), replicas, human(max(0, new_limit - (current_limit or 0))),
                          surge, format_bytes(new_limit), "<=" if projected <= top else ">", name,
                          format_bytes(top))}


def refusal(results, ref):
    """The one error for every failed guardrail, or None when all passed."""
    failed = [r for r in results if not r["passed"]]
    if not failed:
        return None
    return errors.BrunoOpsError(
        "refusing to change the memory limit of %s: %s; nothing was changed" % (
            ref, "; ".join("%s (%s)" % (r["guardrail"], r["detail"]) for r in failed)),
        kind=errors.GUARDRAIL, guardrails=results)


def memory_hpa_notes(hpas):
    """Warnings for HPAs that scale on memory: a higher limit (and usage per pod) changes their arithmetic."""
    notes = []
    for hpa in hpas:
        for metric in (hpa.get("spec") or {}).get("metrics") or []:
            resource = metric.get("resource") or (metric.get("containerResource") or {})
            if resource.get("name") == "memory":
                notes.append("hpa %s scales on memory utilization (against the request): changing memory sizing "
                             "changes when it scales; check its target" % hpa["metadata"]["name"])
    return notes

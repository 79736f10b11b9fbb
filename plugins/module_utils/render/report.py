# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render a diagnosis (verdict + facts + sources + memory series) as Markdown and as self-contained HTML
with an inline SVG chart per pod. Pure: strings in, strings out; no clock, no I/O."""

from __future__ import annotations

import html
import json

from ansible_collections.bruno.ops.plugins.module_utils.quantity import human

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")


def _cause_label(cause):
    return {"none": "no memory problem found", "unknown": "unknown"}.get(cause, cause.replace("_", " "))


def _fmt_value(value):
    if isinstance(value, float):
        return "%.2f" % value
    return "n/a" if value is None else str(value)


def _missing(cause):
    parts = list(cause.get("missing_sources") or [])
    source_gone = ["%s unavailable" % name for name in parts]
    for reason in (cause.get("missing_facts") or {}).values():
        if reason not in parts and reason not in source_gone:
            parts.append(reason)
    return parts


def _cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def _findings(verdict):
    found = verdict.get("findings") or []
    if not found:
        return []
    lines = ["", "## Findings", ""]
    for finding in found:
        lines.append("- **%s** (%s): %s" % (finding["title"], finding["severity"], finding["detail"]))
    return lines


def _named(verdict):
    """The causes the headline names (primary, then also), as ranked entries."""
    by_name = {cause["cause"]: cause for cause in verdict.get("causes") or []}
    return [by_name[name] for name in [verdict["primary"], *(verdict.get("also") or [])] if name in by_name]


def _why(verdict):
    """Why, in words: the pressure, each named cause's evidence, the warnings, and what would change the verdict."""
    lines = ["", "## Why", ""]
    pressure = verdict.get("pressure") or []
    lines.append("- **Memory pressure:** %s" % ("; ".join(pressure) if pressure else "none"))
    for cause in _named(verdict):
        lines.append("- **%s** (confidence %.2f): %s" % (
            _cause_label(cause["cause"]), cause["confidence"], cause.get("why") or "no evidence in words"))
    for warning in verdict.get("warnings") or []:
        lines.append("- **Warning:** %s" % warning["text"])
    changes = verdict.get("would_change") or []
    if changes:
        lines.append("- **What would change the verdict:** %s" % "; ".join(changes))
    return lines


def _step_line(step):
    extra = " ".join("%s=%s" % (k, json.dumps(v, sort_keys=True)) for k, v in sorted(
        (step.get("extra_vars") or {}).items()))
    serves = " (for %s)" % " and ".join(step["causes"]) if step.get("causes") else ""
    return "1. `%s`%s%s" % (step["playbook"], " with %s" % extra if extra else "", serves)


def _what_to_do(verdict):
    named = _named(verdict)
    if verdict["primary"] in ("none", "unknown") or not named:
        return []
    lines = ["", "## What to do", ""]
    lines += [cause["fix"]["summary"] for cause in named] + [""]
    plan = verdict.get("plan") or {}
    steps = plan.get("steps") if plan.get("steps") is not None else named[0]["fix"]["playbooks"]
    lines += [_step_line(step) for step in steps]
    lines += ["- %s" % note for note in plan.get("merged") or []]
    for cause in named:
        lines += ["- %s" % advice for advice in cause["fix"].get("advice") or []]
    return lines


def _ownership(doc):
    """Who applies the workload from Git, and what that means for the fixes (workload_owner_info's result)."""
    found = (doc.get("extra") or {}).get("ownership") or {}
    summary = found.get("summary")
    if not isinstance(summary, dict):
        reason = found.get("msg") if found.get("failed") else None
        return ["", "## Deployed by", "", "- unknown: %s" % (_cell(reason) if reason else "not read")] if found else []
    lines = ["", "## Deployed by", ""] + ["- %s" % _cell(line) for line in summary.get("lines") or []]
    if not summary.get("lines"):
        lines.append("- no workload found for the pods (%s)" % _cell("; ".join(found.get("notes") or []) or "none"))
    if summary.get("managed"):
        lines += ["", "A patch to a workload applied from Git is reverted at the source's next reconcile. The fixes "
                  "refuse by default (`bruno_gitops_policy=refuse`); `-e bruno_gitops_policy=suspend` suspends the "
                  "Flux Kustomization with an expiry first (the change record's undo resumes it), or commit the "
                  "change to Git (the change record carries the patch)."]
    return lines


def _redis(doc):
    facts = doc.get("facts") or {}
    server = (doc.get("extra") or {}).get("redis_server") or {}
    if facts.get("sessions") is None and not server:
        return []
    lines = ["", "## Redis", "",
             "- **Sessions (census):** %s; the app's `bruno_active_sessions` says %s" % (
                 _fmt_value(facts.get("sessions")), _fmt_value(facts.get("active_sessions_gauge"))),
             "- **Clients:** %s connected of maxclients %s, from %s address(es); the busiest holds %s" % (
                 _fmt_value(facts.get("redis_clients")), _fmt_value(facts.get("redis_maxclients")),
                 _fmt_value(facts.get("redis_client_addrs")), _fmt_value(facts.get("redis_clients_top_addr"))),
             "- **maxmemory:** %s (policy %s)" % (
                 "no limit" if facts.get("redis_maxmemory_bytes") == 0 else human(facts.get("redis_maxmemory_bytes")),
                 _fmt_value(facts.get("redis_maxmemory_policy"))),
             "- **KEYS in SLOWLOG:** %s" % _fmt_value(facts.get("redis_slowlog_keys"))]
    rows = server.get("clients_by_addr") or []
    if rows:
        lines += ["", "| client address | connections | names |", "| --- | --- | --- |"]
        for row in rows[:10]:
            lines.append("| %s | %s | %s |" % (_cell(row.get("addr")), row.get("connections"),
                                               _cell(", ".join(row.get("names") or []) or "-")))
    return lines


def render_markdown(doc):
    verdict = doc["verdict"]
    lines = [
        "# %s" % doc.get("title", "agent-bruno memory diagnosis"),
        "",
        "- **Generated:** %s" % doc.get("generated_at", "n/a"),
        "- **Target:** %s" % doc.get("target", "n/a"),
        "- **Verdict:** **%s**: %s" % (_cause_label(verdict["primary"]), verdict["headline"]),
        "- **Memory:** %s%% of the limit at most" % _fmt_value(verdict.get("usage_pct_of_limit")),
    ]
    owners = (((doc.get("extra") or {}).get("ownership") or {}).get("summary") or {})
    if isinstance(owners, dict) and owners.get("sources"):
        lines.append("- **Deployed by:** %s" % ", ".join(owners["sources"]))
    lines += _why(verdict)
    lines += _findings(verdict)
    lines += _what_to_do(verdict)
    lines += [
        "",
        "## Causes, ranked",
        "",
        "| # | cause | confidence | evidence | fix |",
        "| --- | --- | --- | --- | --- |",
    ]
    for rank, cause in enumerate(verdict["causes"], 1):
        evidence = ", ".join("%s=%s" % (k, _fmt_value(v)) for k, v in cause["evidence"].items())
        missing = _missing(cause)
        if missing:
            evidence += " (missing: %s)" % ", ".join(missing)
        fix = "; ".join("`%s`" % p["playbook"] for p in cause["fix"]["playbooks"])
        row = (rank, _cause_label(cause["cause"]), cause["confidence"], _cell(evidence), _cell(cause["fix"]["summary"]),
               fix)
        lines.append("| %d | %s | %.2f | %s | %s %s |" % row)
    lines += ["", "## Sources", "", "| source | state |", "| --- | --- |"]
    for name, state in sorted(doc.get("sources", {}).items()):
        lines.append("| %s | %s |" % (name, "ok" if state is True else "unavailable: %s" % _cell(state)))
    lines += _ownership(doc)
    lines += _redis(doc)
    pods = doc.get("pods") or []
    if pods:
        lines += ["", "## Pods", "", "| pod | usage | limit | % of limit | restarts | OOMKilled |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for pod in pods:
            for container in pod.get("containers", []):
                lines.append("| %s/%s | %s | %s | %s | %s | %s |" % (
                    pod["name"], container["name"], human(container.get("usage_bytes")),
                    human(container.get("limit_bytes")), _fmt_value(container.get("usage_pct_of_limit")),
                    container.get("restarts"), "yes" if container.get("oom_killed") else "no"))
    lines += ["", "## Facts", "", "```json", json.dumps(doc.get("facts", {}), indent=2, sort_keys=True), "```", ""]
    return "\n".join(lines)


def svg_chart(series, limit_bytes, width=720, height=260):
    """An SVG line chart of memory over time, one line per pod, with a dashed limit line."""
    points = [(t, v) for s in series for t, v in s.get("points", [])]
    if not points:
        return '<p class="empty">No memory history (Prometheus unavailable or empty).</p>'
    t0, t1 = min(t for t, _v in points), max(t for t, _v in points)
    top = max([v for _t, v in points] + [limit_bytes or 0]) * 1.05 or 1.0
    pad_left, pad_bottom = 70, 30

    def x(t):
        return pad_left + (width - pad_left - 10) * ((t - t0) / float(t1 - t0 or 1))

    def y(v):
        return 10 + (height - pad_bottom - 10) * (1 - v / top)

    parts = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" role="img" '
             'aria-label="memory over time">' % (width, height),
             '<rect width="100%" height="100%" fill="white"/>']
    for fraction in (0.25, 0.5, 0.75, 1.0):
        value = top * fraction
        grid = (pad_left, width - 10, y(value), y(value))
        parts.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#eee"/>' % grid)
        parts.append('<text x="%d" y="%.1f" font-size="11" text-anchor="end">%s</text>'
                     % (pad_left - 6, y(value) + 4, html.escape(human(value))))
    if limit_bytes:
        parts.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#d62728" stroke-dasharray="6,4"/>'
                     % (pad_left, width - 10, y(limit_bytes), y(limit_bytes)))
        parts.append('<text x="%d" y="%.1f" font-size="11" fill="#d62728">limit %s</text>'
                     % (pad_left + 4, y(limit_bytes) - 4, html.escape(human(limit_bytes))))
    for index, one in enumerate(series):
        color = PALETTE[index % len(PALETTE)]
        path = " ".join("%.1f,%.1f" % (x(t), y(v)) for t, v in one.get("points", []))
        parts.append('<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>' % (color, path))
        parts.append('<text x="%d" y="%d" font-size="11" fill="%s">%s</text>'
                     % (pad_left + 4 + 180 * (index % 3), height - 8 - 0 * index, color,
                        html.escape(str(one.get("pod", "?")))))
    parts.append("</svg>")
    return "".join(parts)


def render_html(doc):
    verdict = doc["verdict"]
    markdown = render_markdown(doc)
    rows = "".join(
        "<tr><td>%d</td><td>%s</td><td>%.2f</td><td>%s</td></tr>" % (
            rank, html.escape(_cause_label(c["cause"])), c["confidence"], html.escape(c["fix"]["summary"]))
        for rank, c in enumerate(verdict["causes"], 1))
    found = "".join("<li class='%s'><b>%s</b>: %s</li>" % (
        html.escape(f["severity"]), html.escape(f["title"]), html.escape(f["detail"]))
        for f in verdict.get("findings") or [])
    why = "".join("<li><b>%s</b> (confidence %.2f): %s</li>" % (
        html.escape(_cause_label(c["cause"])), c["confidence"], html.escape(c.get("why") or "no evidence in words"))
        for c in _named(verdict))
    why += "".join("<li>%s</li>" % html.escape(w["text"]) for w in verdict.get("warnings") or [])
    if verdict.get("would_change"):
        why += "<li>What would change the verdict: %s</li>" % html.escape("; ".join(verdict["would_change"]))
    charts = "".join(
        "<h3>%s</h3>%s" % (html.escape(str(one.get("pod"))), svg_chart([one], doc.get("limit_bytes")))
        for one in doc.get("series") or []) or svg_chart([], None)
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>%(title)s</title>"
        "<style>body{font-family:sans-serif;max-width:960px;margin:2em auto}td,th{border:1px solid #ccc;"
        "padding:4px 8px}table{border-collapse:collapse}.verdict{font-size:1.3em}pre{background:#f6f6f6;"
        "padding:1em;overflow:auto}.critical{color:#b00}</style></head><body>"
        "<h1>%(title)s</h1><p class='verdict'><b>%(primary)s</b>: %(headline)s</p><ul class='why'>%(why)s</ul>"
        "%(findings)s"
        "<h2>Memory over time</h2>%(charts)s"
        "<h2>Causes</h2><table><tr><th>#</th><th>cause</th><th>confidence</th><th>fix</th></tr>%(rows)s</table>"
        "<h2>Full report</h2><pre>%(markdown)s</pre></body></html>"
    ) % {"title": html.escape(doc.get("title", "agent-bruno memory diagnosis")),
         "primary": html.escape(_cause_label(verdict["primary"])), "headline": html.escape(verdict["headline"]),
         "findings": "<h2>Findings</h2><ul>%s</ul>" % found if found else "",
         "charts": charts, "rows": rows, "markdown": html.escape(markdown), "why": why}

# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet summary of one run over many targets: one row per target, worst first, as JSON, Markdown and HTML.
Pure, no I/O.

A target is one inventory host: its verdict (memory_verdict's result), where its reports are, and, for a target
that failed before it had a verdict, why. The order puts what needs a person first: targets that failed, then
those with a cause (the fullest first), then unknown verdicts, then those with nothing wrong.
"""

from __future__ import annotations

import html
import os

from ansible_collections.bruno.ops.plugins.module_utils.quantity import human

NO_CAUSE = ("none", "unknown")


def _changes(entries):
    return "; ".join("%s %s: %s" % (e.get("action"), e.get("target"), "changed" if e.get("changed") else "unchanged")
                     for e in entries or []) or None


def row(target):
    """One target's row from {target, namespace, verdict (memory_verdict's result, or None), files (its report
    files), finished (it ran to the end), error (why not), plan (remediate's steps), changes (its change record's
    entries)}. A target with no verdict that finished ran a change playbook: its row says what it changed."""
    result = target.get("verdict") or {}
    verdict = result.get("verdict") or {}
    facts = result.get("facts") or {}
    named = [verdict["primary"]] + list(verdict.get("also") or []) if verdict.get("primary") else []
    top = next((c for c in verdict.get("causes") or [] if c.get("cause") == verdict.get("primary")), {})
    changes = _changes(target.get("changes"))
    if verdict:
        state = "cause" if verdict["primary"] not in NO_CAUSE else verdict["primary"]
        headline = verdict.get("headline")
    elif target.get("finished"):
        state, headline = "done", changes or "finished, nothing changed"
    else:
        state, headline = "failed", target.get("error") or "the target failed before the end of its play"
    return {
        "target": target["target"],
        "namespace": target.get("namespace"),
        "state": state,
        "verdict": " + ".join(named) if named else None,
        "headline": headline,
        "confidence": top.get("confidence"),
        "usage_pct_of_limit": verdict.get("usage_pct_of_limit"),
        "limit_bytes": facts.get("limit_bytes"),
        "sessions": facts.get("sessions"),
        "oom_kills": facts.get("oom_kills"),
        "unavailable": sorted((verdict.get("unavailable_sources") or {}).keys()),
        "report": (target.get("files") or {}).get("html") or (target.get("files") or {}).get("markdown"),
        "plan": [step.get("playbook") for step in target.get("plan") or []],
        "changes": changes,
    }


ORDER = {"failed": 0, "cause": 1, "unknown": 2, "done": 3, "none": 4}


def rows(targets):
    """Every target's row, worst first (then by memory against the limit, then by name)."""
    return sorted((row(t) for t in targets), key=lambda r: (
        ORDER[r["state"]], -(r["usage_pct_of_limit"] or 0), -(r["confidence"] or 0), r["target"]))


def summary(table):
    counts = {}
    for one in table:
        counts[one["state"]] = counts.get(one["state"], 0) + 1
    return {"targets": len(table), "failed": counts.get("failed", 0), "with_cause": counts.get("cause", 0),
            "unknown": counts.get("unknown", 0), "healthy": counts.get("none", 0), "done": counts.get("done", 0)}


def line(one):
    """One line for the play's output."""
    if one["state"] in ("failed", "done"):
        return "%s: %s%s" % (one["target"], "FAILED: " if one["state"] == "failed" else "", one["headline"])
    return "%s: %s (confidence %s), memory %s of %s, sessions %s, OOM kills %s%s%s" % (
        one["target"], one["verdict"], _value(one["confidence"]), _value(one["usage_pct_of_limit"], "%"),
        human(one["limit_bytes"]), _value(one["sessions"]), _value(one["oom_kills"]),
        ", unavailable: %s" % ", ".join(one["unavailable"]) if one["unavailable"] else "",
        ", plan: %s" % " → ".join(one["plan"]) if one["plan"] else "")


def _value(value, suffix=""):
    return "n/a" if value is None else "%s%s" % (value, suffix)


def _verdict_cell(one):
    if one["verdict"]:
        return one["verdict"]
    return ("**failed**: %s" if one["state"] == "failed" else "%s") % one["headline"]


def _link(path, base):
    if not path:
        return None
    return os.path.relpath(path, base) if base and os.path.isabs(path) else path


def render_markdown(document):
    table, base = document["rows"], document.get("output_dir")
    counts = document["summary"]
    lines = ["# %s" % document.get("title", "agent-bruno fleet diagnosis"), "",
             "- **Run:** %s, %s" % (document.get("run") or "n/a", document.get("generated_at") or "n/a"),
             "- **Targets:** %(targets)d: %(failed)d failed, %(with_cause)d with a cause, %(unknown)d unknown, "
             "%(healthy)d with nothing wrong, %(done)d changes made or checked" % counts, "",
             "| target | verdict | confidence | memory of limit | limit | sessions | OOM kills | unavailable | "
             "report |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for one in table:
        link = _link(one["report"], base)
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            one["target"], _verdict_cell(one).replace("|", "/"),
            _value(one["confidence"]), _value(one["usage_pct_of_limit"], "%"), human(one["limit_bytes"]),
            _value(one["sessions"]), _value(one["oom_kills"]), ", ".join(one["unavailable"]) or "-",
            "[report](%s)" % link if link else "-"))
    plans = [one for one in table if one["plan"]]
    if plans:
        lines += ["", "## Plans", ""] + ["- **%s**: %s" % (one["target"], " → ".join(one["plan"])) for one in plans]
    return "\n".join(lines) + "\n"


def render_html(document):
    table, base = document["rows"], document.get("output_dir")
    cells = []
    for one in table:
        link = _link(one["report"], base)
        cells.append("<tr class='%s'><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td>"
                     "<td>%s</td><td>%s</td></tr>" % (
                         one["state"], html.escape(one["target"]),
                         html.escape(_verdict_cell(one).replace("**", "")),
                         _value(one["confidence"]), _value(one["usage_pct_of_limit"], "%"),
                         html.escape(human(one["limit_bytes"])), _value(one["sessions"]), _value(one["oom_kills"]),
                         html.escape(", ".join(one["unavailable"]) or "-"),
                         "<a href='%s'>report</a>" % html.escape(link) if link else "-"))
    counts = document["summary"]
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><meta name='viewport' content='width=device-width'>"
        "<title>%(title)s</title><style>body{font-family:sans-serif;margin:1em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px}.failed td{background:#fdd}.cause td:nth-child(2){color:#b00;"
        "font-weight:bold}.wrap{overflow-x:auto}</style></head><body><h1>%(title)s</h1>"
        "<p>Run %(run)s, %(at)s: %(targets)d targets, %(failed)d failed, %(with_cause)d with a cause, %(unknown)d "
        "unknown, %(healthy)d with nothing wrong.</p><div class='wrap'><table><tr><th>target</th><th>verdict</th>"
        "<th>confidence</th><th>memory of limit</th><th>limit</th><th>sessions</th><th>OOM kills</th>"
        "<th>unavailable</th><th>report</th></tr>%(rows)s</table></div></body></html>\n"
    ) % dict(counts, title=html.escape(document.get("title", "agent-bruno fleet diagnosis")),
             run=html.escape(str(document.get("run") or "n/a")),
             at=html.escape(str(document.get("generated_at") or "")), rows="".join(cells))

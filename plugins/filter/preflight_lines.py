# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn the preflight module's rows into one line each, for people reading a job log."""

from __future__ import annotations


def _line(row):
    name = row.get("backend")
    status = row.get("status")
    if status == "skipped":
        return "%s: skipped (not configured)" % name
    if status == "failed":
        error = row.get("error") or {}
        return "%s: FAILED (%s) %s" % (name, error.get("kind"), error.get("message"))
    parts = [row.get("address") or "?"]
    if row.get("version"):
        parts.append("version %s" % row["version"])
    if row.get("latency_ms") is not None:
        parts.append("%.1f ms" % row["latency_ms"])
    identity = row.get("identity") or {}
    if identity.get("username"):
        parts.append("as %s" % identity["username"])
    line = "%s: %s, %s" % (name, "ok" if status == "ok" else "LIMITED", ", ".join(parts))
    if row.get("missing_access"):
        line += "; not allowed: " + ", ".join(row["missing_access"])
    return line


def preflight_lines(rows):
    return [_line(row) for row in rows or []]


class FilterModule:
    def filters(self):
        return {"preflight_lines": preflight_lines}

# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Numbers from MongoDB's buildInfo, serverStatus and dbStats documents. Pure, no I/O.

MongoDB-wire servers (FerretDB) answer these commands with fewer fields. Every figure that a document
lacks is None and its dotted path goes into `not_reported`, so a verdict can tell "0" from "unknown".
"""

from __future__ import annotations

CONNECTION_FIELDS = (("current", "current"), ("available", "available"), ("total_created", "totalCreated"),
                     ("active", "active"))
DBSTATS_FIELDS = (("collections", "collections"), ("objects", "objects"), ("data_size_bytes", "dataSize"),
                  ("storage_size_bytes", "storageSize"), ("indexes", "indexes"), ("index_size_bytes", "indexSize"),
                  ("avg_obj_size_bytes", "avgObjSize"))


def _number(value):
    """Numbers as int when whole (BSON Int64 and doubles alike), else float; None for anything else."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if number.is_integer() else number


def server_facts(build_info, server_status, not_reported):
    """version / ferretdb_version / process / uptime_seconds from buildInfo and serverStatus."""
    build_info = build_info or {}
    status = server_status or {}
    facts = {
        "version": build_info.get("version") or status.get("version"),
        "ferretdb_version": build_info.get("ferretdbVersion") or status.get("ferretdbVersion"),
        "process": status.get("process"),
        "uptime_seconds": _number(status.get("uptime")),
    }
    if facts["version"] is None:
        not_reported.append("buildInfo.version")
    if server_status is not None and facts["uptime_seconds"] is None:
        not_reported.append("serverStatus.uptime")
    return facts


def connections(server_status, not_reported):
    """serverStatus.connections as numbers, or None when the server does not report the section."""
    if server_status is None:
        return None
    section = server_status.get("connections")
    if not isinstance(section, dict):
        not_reported.append("serverStatus.connections")
        return None
    result = {}
    for name, field in CONNECTION_FIELDS:
        result[name] = _number(section.get(field))
        if result[name] is None:
            not_reported.append("serverStatus.connections.%s" % field)
    return result


def db_stats(database, stats, not_reported):
    """dbStats figures of `database`, or None when dbStats could not be run."""
    if stats is None:
        return None
    result = {"database": database}
    for name, field in DBSTATS_FIELDS:
        result[name] = _number(stats.get(field))
        if result[name] is None:
            not_reported.append("dbStats.%s" % field)
    return result


def timestamp_seconds(value):
    """Unix seconds of a document's timestamp: a BSON datetime (naive UTC, as pymongo returns it) or an ISO 8601
    string (agent-bruno's datetime.utcnow().isoformat(), naive UTC; a trailing Z or offset is honoured). None when
    it is neither."""
    import datetime  # noqa: PLC0415 - only this helper needs it

    if isinstance(value, datetime.datetime):
        moment = value
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            moment = datetime.datetime.fromisoformat(text)
        except ValueError:
            return None
    else:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()


def latest(document, now):
    """(latest_timestamp as ISO text, its age in seconds at `now`) of the newest document; (None, None) without."""
    if not document:
        return None, None
    value = document.get("timestamp", document.get("created_at"))
    seconds = timestamp_seconds(value)
    if seconds is None:
        return None, None
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return text, round(max(0.0, now - seconds), 1)

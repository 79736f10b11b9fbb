# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Findings: states of the target worth saying whatever the top cause is. Pure: no I/O, no clock.

A finding is {"id", "severity" (critical, warning, info), "title", "detail", "evidence"}. Some change what the
fixes may do: `conditions(findings)` gives the ids the fix catalogue (change/fixes.py) adapts to, for example
`app_not_persisting`: Redis holds the only copy of the conversations, so nothing may trim or expire sessions
without copying them first. docs/diagnosis.md ("Findings") lists the rules.
"""

from __future__ import annotations

# Redis turns per MongoDB document below which the app is taken not to persist: an app that persists has every
# turn Redis holds in its collection too (and more: the sessions that expired).
PERSISTED_SHARE_MIN = 0.5
# A collection whose newest document is older than this while Redis sessions were used in the last 10 minutes.
STALE_ARCHIVE_SECONDS = 3600
# The gauge and the census disagreeing by more than this share (the census samples and may estimate).
GAUGE_TOLERANCE = 0.2
HTTP_5XX_PCT = 5.0

SEVERITIES = ("critical", "warning", "info")


def _finding(fid, severity, title, detail, **evidence):
    return {"id": fid, "severity": severity, "title": title, "detail": detail, "evidence": evidence}


def redis_turns(facts):
    """The turns (or messages) Redis holds: sessions × mean turns per session; the sessions alone without it."""
    sessions, mean = facts.get("sessions"), facts.get("session_mean_turns")
    if sessions is None:
        return None
    return int(round(sessions * mean)) if mean is not None else int(sessions)


def not_persisting(facts):
    """The reasons to think the app does not write its conversations to MongoDB (empty: no such sign)."""
    reasons = []
    failures = facts.get("mongo_save_failures")
    if failures:
        reasons.append("bruno_memory_operations_total counts %d failed MongoDB write(s)" % failures)
    lines = facts.get("log_persistence_error_lines")
    if lines:
        reasons.append("%d log line(s) of failed MongoDB writes" % lines)
    sessions, documents = facts.get("sessions"), facts.get("conversations_documents")
    turns = redis_turns(facts)
    if sessions and documents is not None and turns and documents < PERSISTED_SHARE_MIN * turns:
        reasons.append("the app's collection holds %d document(s) for about %d turn(s) in %d Redis session(s)"
                       % (documents, turns, sessions))
    age, recent = facts.get("conversations_latest_age_seconds"), facts.get("sessions_recent_pct")
    if sessions and recent and age is not None and age > STALE_ARCHIVE_SECONDS:
        reasons.append("sessions were used in the last 10 minutes but the newest document is %d s old" % age)
    return reasons


def findings(facts):
    """The findings the facts support, most severe first."""
    found = []
    reasons = not_persisting(facts)
    if reasons:
        found.append(_finding(
            "app_not_persisting", "critical", "Redis holds the only copy of the conversations",
            "The app is not writing its conversations to MongoDB (%s). Do not trim or expire sessions without a "
            "copy: the fixes below copy before they trim and delete no session, and the session expiry waits; "
            "fix the app's MongoDB writes."
            % "; ".join(reasons),
            sessions=facts.get("sessions"), redis_turns=redis_turns(facts),
            conversations_documents=facts.get("conversations_documents"),
            conversations_latest_age_seconds=facts.get("conversations_latest_age_seconds"),
            mongo_save_failures=facts.get("mongo_save_failures"),
            log_persistence_error_lines=facts.get("log_persistence_error_lines")))
    sessions, gauge = facts.get("sessions"), facts.get("active_sessions_gauge")
    if sessions and gauge is not None and (gauge == 0 or abs(gauge - sessions) > GAUGE_TOLERANCE * sessions):
        found.append(_finding(
            "active_sessions_stale", "warning", "bruno_active_sessions is stale",
            "The app's gauge says %d sessions, the Redis census counts %d: the gauge is only updated when someone "
            "calls GET /stats, so the census is used (and memory-vs-sessions correlation over the gauge is "
            "unreliable)." % (gauge, sessions), active_sessions_gauge=gauge, sessions=sessions))
    keys = facts.get("redis_slowlog_keys")
    if keys:
        found.append(_finding(
            "redis_keys_in_slowlog", "warning", "KEYS commands in the Redis SLOWLOG",
            "Redis logged %d slow KEYS command(s): GET /stats runs KEYS bruno:session:*, which blocks Redis for "
            "the whole keyspace while it runs; call it rarely (or count with SCAN)." % keys, redis_slowlog_keys=keys))
    found.extend(_redis_memory(facts))
    if facts.get("ready_degraded"):
        found.append(_finding(
            "ready_degraded", "warning", "GET /ready says degraded",
            "The app answers but a store is down or refusing it (the readiness probe still passes).",
            ready_degraded=facts.get("ready_degraded")))
    pct = facts.get("http_5xx_pct")
    if pct is not None and pct >= HTTP_5XX_PCT:
        found.append(_finding(
            "http_errors", "warning", "Requests failing with 5xx",
            "%.1f%% of the requests (probes left out) answered 5xx since the pods started." % pct,
            http_5xx_pct=pct, http_requests=facts.get("http_requests")))
    return sorted(found, key=lambda f: SEVERITIES.index(f["severity"]))


def _redis_memory(facts):
    maxmemory, policy = facts.get("redis_maxmemory_bytes"), facts.get("redis_maxmemory_policy")
    if maxmemory is None and policy is None:
        return []
    if maxmemory == 0:
        detail = "Redis has no maxmemory: sessions grow until the node runs out of memory."
    elif policy == "noeviction":
        detail = "Redis refuses writes (new turns) once it reaches maxmemory (policy noeviction)."
    elif policy and policy.startswith("allkeys"):
        detail = "Redis evicts any key, sessions included, once it reaches maxmemory (policy %s)." % policy
    else:
        detail = "Redis evicts keys with a TTL once it reaches maxmemory (policy %s)." % policy
    return [_finding("redis_memory_policy", "info", "Redis maxmemory and policy", detail,
                     redis_maxmemory_bytes=maxmemory, redis_maxmemory_policy=policy)]


def conditions(found):
    """The finding ids the fix catalogue adapts to."""
    return sorted({f["id"] for f in found if f["id"] in ("app_not_persisting",)})

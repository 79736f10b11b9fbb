# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Large conversation contexts: sessions holding hundreds of long turns, and a working set that moves with them.

Long contexts in Redis cost the pod memory only if the process holds them (the real agent-bruno reads the last 5
turns): like too_many_sessions, the cause needs the working set to move with the sessions (the regression on the
session count); without that history, long contexts are a hint only (at most 0.4).
"""

from __future__ import annotations

from ansible_collections.bruno.ops.plugins.module_utils.decide.causes._scoring import long_contexts, session_mechanism

NAME = "large_contexts"
SUMMARY = "Archive old messages of long conversations to MongoDB, trim them in Redis, restart to free memory"
FIX = "large_contexts"
NEEDS = ("redis", "prometheus")
FACTS = ("context_p95_messages", "session_mean_bytes", "session_memory_share_pct", "session_fit_r2", "age_fit_r2",
         "session_change_r", "session_gain_r2", "sessions_moved_pct", "history_hours")
EVIDENCE = ("context_p95_messages", "session_mean_bytes", "sessions", "session_memory_share_pct",
            "session_bytes_per_session")
THRESHOLDS = {
    "context_p95_messages": (200, 1, 10 ** 6, "contexts this long dominate per-session memory"),
    "session_mean_bytes": (256 * 1024, 1, 512 * 2 ** 20, "the same, measured in Redis"),
}
SHARED_THRESHOLDS = ("session_memory_share_pct", "session_min_history_hours")
EXPLAINED_BY = {}


def score(facts, t):
    long = long_contexts(facts, t)
    if long is None:
        return None
    mechanism = session_mechanism(facts, t)
    return 0.4 * long if mechanism is None else long * mechanism


def why(facts, t):
    turns, size = facts.get("context_p95_messages"), facts.get("session_mean_bytes")
    text = "p95 context %s turns (threshold %d), mean session %s KiB in Redis (threshold %d KiB)" % (
        turns, t["context_p95_messages"], "n/a" if size is None else "%.0f" % (size / 1024.0),
        t["session_mean_bytes"] // 1024)
    share = facts.get("session_memory_share_pct")
    if share is None:
        return text + "; no session-count history shows the working set moving with them"
    return text + "; the sessions account for %.0f%% of the working set" % share

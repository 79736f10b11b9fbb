# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Large conversation contexts: few sessions, each holding hundreds of long messages."""

from __future__ import annotations

from ansible_collections.bruno.ops.plugins.module_utils.decide.causes._scoring import best, ramp, signal

NAME = "large_contexts"
SUMMARY = "Archive old messages of long conversations to MongoDB, trim them in Redis, restart to free memory"
FIX = "large_contexts"
NEEDS = ("redis",)
FACTS = ("context_p95_messages", "session_mean_bytes")
EVIDENCE = ("context_p95_messages", "session_mean_bytes", "sessions")
THRESHOLDS = {
    "context_p95_messages": (200, 1, 10 ** 6, "contexts this long dominate per-session memory"),
    "session_mean_bytes": (256 * 1024, 1, 512 * 2 ** 20, "the same, measured in Redis"),
}
# Many sessions explain memory better than long ones: half the sessions' `many` ramp comes off.
EXPLAINED_BY = {"too_many_sessions": signal("many", 0.5)}


def score(facts, t):
    return best(
        ramp(facts["context_p95_messages"], t["context_p95_messages"] * 0.5, t["context_p95_messages"]),
        ramp(facts["session_mean_bytes"], t["session_mean_bytes"] * 0.5, t["session_mean_bytes"]),
    )

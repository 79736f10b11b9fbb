# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fix catalogue: the runbook's fix per fix id (a cause's FIX, decide/causes/), as the playbooks
remediate.yml runs in this order with these extra vars (the roles' documented variables; AWX surveys use the
same names). The verdict names the fix id only; memory_verdict joins the entry into its result. Pure data, and
the pure rules that adapt an entry to the target:

- a step may name the container setting it changes (`setting`, an env var such as SESSION_TTL); when the
  container's env is known and lacks it, the step is left out and the advice says why (a fix names only
  settings the target really has);
- a condition found by the verdict (decide/findings.py) replaces steps: with `app_not_persisting` Redis holds the
  only copy of the conversations, so nothing may delete or expire sessions: the large-contexts cleanup copies
  before it trims and deletes nothing, and the too-many-sessions fix runs nothing automatically and says why.
"""

from __future__ import annotations

import copy

from ansible_collections.bruno.ops.plugins.module_utils import errors

_RESTART = {"playbook": "playbooks/restart.yml", "extra_vars": {"restart_not_within": "10m"}}
_EXPIRE = {"missing_ttl": 3600, "max_ttl": 3600, "max_idle": 86400}
_COPY_FIRST = ("Redis holds the only copy of the conversations (the app is not writing them to MongoDB): the "
               "cleanup copies the older turns to MongoDB before it trims them (session_cleanup_archive_mode: "
               "copy) and deletes no session (only the missing-TTL policy runs, a no-op for an app that sets a TTL "
               "on every turn); do not trim or expire sessions any other way until the app persists again")
_NO_EXPIRY = ("Not run automatically: Redis holds the only copy of the conversations (the app is not writing them "
              "to MongoDB), and expiring sessions or lowering SESSION_TTL deletes conversations that exist nowhere "
              "else. Make the app persist again (or copy the sessions to MongoDB with bruno.ops.session_archive "
              "archive_mode=copy), then run playbooks/cleanup_sessions.yml and playbooks/reduce_session_ttl.yml")

FIXES = {
    "too_many_sessions": {
        "playbooks": [
            {"playbook": "playbooks/cleanup_sessions.yml", "extra_vars": {"session_cleanup_policies": _EXPIRE}},
            {"playbook": "playbooks/reduce_session_ttl.yml", "extra_vars": {"session_ttl_seconds": 3600},
             "setting": "SESSION_TTL"},
        ],
        "when": {
            "app_not_persisting": {"playbooks": [], "advice": [_NO_EXPIRY]},
        },
    },
    "connection_pool_exhaustion": {
        "playbooks": [_RESTART],
        "advice": [
            "A restart drops the connections the pods hold; it does not stop them piling up again",
            "The app has no pool-size setting (agent-bruno creates redis.asyncio and motor clients with their "
            "defaults, which do not bound the pool): ask its developers to bound the pools in code "
            "(max_connections for redis-py, maxPoolSize for pymongo/motor) and to time out waits for a connection",
            "When every pod's connections are busy serving rather than leaked, scale out instead "
            "(playbooks/scale.yml)",
        ],
    },
    "memory_leak": {"playbooks": [_RESTART]},
    "large_contexts": {
        "playbooks": [
            {"playbook": "playbooks/cleanup_sessions.yml",
             "extra_vars": {"session_cleanup_archive": True, "session_cleanup_keep_messages": 20}},
            _RESTART,
        ],
        "when": {
            "app_not_persisting": {
                "replace": {"playbooks/cleanup_sessions.yml": {
                    "playbook": "playbooks/cleanup_sessions.yml",
                    "extra_vars": {"session_cleanup_archive": True, "session_cleanup_archive_mode": "copy",
                                   "session_cleanup_keep_messages": 20,
                                   "session_cleanup_policies": {"missing_ttl": 86400}}}},
                "advice": [_COPY_FIRST],
            },
        },
    },
    "undersized_limit": {
        "playbooks": [{"playbook": "playbooks/tune_limits.yml", "extra_vars": {"tune_limits_mode": "apply"}}],
    },
}


def fix(fix_id, summary, conditions=(), container_env=None):
    """The fix as the verdict's result shows it: {"summary", "playbooks"} and "advice" (a list of sentences) when
    there is any; a copy the caller may change.

    `summary` is the cause's own sentence (its SUMMARY, also the headline). `conditions` are the finding ids
    (decide/findings.conditions) the entry adapts to; `container_env` the names of the container's env vars, or
    None when unknown (then no step is left out)."""
    if fix_id not in FIXES:
        raise errors.BrunoOpsError("no fix %r in change/fixes.py (known: %s)" % (fix_id, ", ".join(sorted(FIXES))),
                                   errors.CONFIG)
    entry = copy.deepcopy(FIXES[fix_id])
    playbooks, advice = entry["playbooks"], list(entry.get("advice", []))
    for condition in conditions:
        variant = entry.get("when", {}).get(condition)
        if variant:
            if "playbooks" in variant:
                playbooks = copy.deepcopy(variant["playbooks"])
            playbooks = [copy.deepcopy(variant.get("replace", {}).get(step["playbook"], step)) for step in playbooks]
            advice.extend(variant.get("advice", []))
    kept = []
    for step in playbooks:
        setting = step.get("setting")
        if setting and container_env is not None and setting not in container_env:
            advice.append("%s left out: the container sets no %s (its env: %s); change the setting the app "
                          "really reads, or add it only if the app reads it" % (
                              step["playbook"], setting, ", ".join(container_env) or "none"))
            continue
        kept.append(step)
    result = {"summary": summary, "playbooks": kept}
    if advice:
        result["advice"] = advice
    return result


# The order steps of several fixes run in: data first (nothing is restarted while sessions are cleaned or archived),
# then settings that roll the pods, then the capacity change, a plain restart last (a rollout already restarted).
STEP_ORDER = {
    "playbooks/cleanup_sessions.yml": 0,
    "playbooks/reduce_session_ttl.yml": 1,
    "playbooks/tune_limits.yml": 1,
    "playbooks/scale.yml": 2,
    "playbooks/restart.yml": 3,
}
ROLLS_PODS = ("playbooks/reduce_session_ttl.yml", "playbooks/tune_limits.yml")


def plan(fixes_by_cause):
    """One plan of the steps of several causes' fixes ([(cause, fix)], best cause first), in a safe order.

    Each step keeps its `causes`. A step that two fixes share (same playbook and extra vars) runs once; a plain
    restart is left out when a step of the plan already rolls the pods (it is noted in `merged`). Steps of the same
    rank keep the order of the causes, then of their fix. Returns {"steps": [...], "merged": [sentences]}."""
    steps, merged = [], []
    for rank_of_cause, (cause, entry) in enumerate(fixes_by_cause):
        for index, step in enumerate(entry.get("playbooks") or []):
            same = next((s for s in steps if s["playbook"] == step["playbook"]
                         and s.get("extra_vars") == step.get("extra_vars")), None)
            if same is not None:
                same["causes"].append(cause)
                merged.append("%s runs once for %s" % (step["playbook"], " and ".join(same["causes"])))
                continue
            item = copy.deepcopy(step)
            item["causes"] = [cause]
            item["_key"] = (STEP_ORDER.get(step["playbook"], 2), rank_of_cause, index)
            steps.append(item)
    steps.sort(key=lambda s: s["_key"])
    if any(s["playbook"] in ROLLS_PODS for s in steps):
        restarts = [s for s in steps if s["playbook"] == "playbooks/restart.yml"]
        for step in restarts:
            steps.remove(step)
            merged.append("playbooks/restart.yml (for %s) left out: %s already rolls the pods" % (
                " and ".join(step["causes"]),
                next(s["playbook"] for s in steps if s["playbook"] in ROLLS_PODS)))
    for step in steps:
        del step["_key"]
    return {"steps": steps, "merged": merged}

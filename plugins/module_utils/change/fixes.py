# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fix catalogue: the runbook's fix per fix id (a cause's FIX, decide/causes/), as the playbooks
remediate.yml runs in this order with these extra vars (the roles' documented variables; AWX surveys use the
same names). The verdict names the fix id only; memory_verdict joins the entry into its result. Pure data."""

from __future__ import annotations

import copy

from ansible_collections.bruno.ops.plugins.module_utils import errors

_RESTART = {"playbook": "playbooks/restart.yml", "extra_vars": {"restart_not_within": "10m"}}

FIXES = {
    "too_many_sessions": {
        "playbooks": [
            {"playbook": "playbooks/cleanup_sessions.yml",
             "extra_vars": {"session_cleanup_policies": {"missing_ttl": 3600, "max_ttl": 3600, "max_idle": 86400}}},
            {"playbook": "playbooks/reduce_session_ttl.yml", "extra_vars": {"session_ttl_seconds": 3600}},
        ],
    },
    "connection_pool_exhaustion": {"playbooks": [_RESTART]},
    "memory_leak": {"playbooks": [_RESTART]},
    "large_contexts": {
        "playbooks": [
            {"playbook": "playbooks/cleanup_sessions.yml",
             "extra_vars": {"session_cleanup_archive": True, "session_cleanup_keep_messages": 20}},
            _RESTART,
        ],
    },
    "undersized_limit": {
        "playbooks": [{"playbook": "playbooks/tune_limits.yml", "extra_vars": {"tune_limits_mode": "apply"}}],
    },
}


def fix(fix_id, summary):
    """The fix as the verdict's result shows it: {"summary", "playbooks"}; a copy the caller may change.

    `summary` is the cause's own sentence (its SUMMARY, also the headline)."""
    if fix_id not in FIXES:
        raise errors.BrunoOpsError("no fix %r in change/fixes.py (known: %s)" % (fix_id, ", ".join(sorted(FIXES))),
                                   errors.CONFIG)
    return dict(summary=summary, **copy.deepcopy(FIXES[fix_id]))

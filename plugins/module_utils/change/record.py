# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One entry of a change record, built by the module that made (or predicted) the change. Pure.

Every change-making module returns it as `change`, so the roles append the module's own account to the run's
change record instead of rebuilding it in Jinja."""

from __future__ import annotations


def change_entry(action, target, *, changed, before, after, undo, note=""):
    """action: what was done (restart, scale, set_env, ...); target: namespace/name or the Redis/MongoDB scope;
    before/after: the part of the target the change is about; undo: the command (or words) that reverses it."""
    return {
        "action": action,
        "target": target,
        "changed": bool(changed),
        "before": before,
        "after": after,
        "undo": undo,
        "note": note or "",
    }

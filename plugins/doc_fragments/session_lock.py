# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The run lock of redis_session_cleanup and session_archive. Mirrors LOCK_SPEC (lock_option()) in
    # plugins/module_utils/sessions/lock.py.
    DOCUMENTATION = r"""
options:
  lock:
    description:
      - Take a lock with an expiry in Redis (C(SET NX PX)) for the run, so two runs never overlap. A run
        whose lock is held by another owner fails without changing anything.
      - Not taken in check mode.
    type: dict
    suboptions:
      key:
        description: Key of the lock. Keep it outside O(prefix).
        type: str
        required: true
      owner:
        description:
          - Identifies the run. Tasks of one playbook run that share an owner share the lock. Random when not set.
        type: str
      ttl:
        description:
          - Seconds after which the lock of a killed run expires (at least 3); a heartbeat renews it every third of
            that while the run lives; released on failure and on SIGTERM.
        type: int
        default: 90
      release:
        description: Release the lock when the task ends. It is always released when the task fails (and on SIGTERM).
        type: bool
        default: true
"""

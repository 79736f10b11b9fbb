# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The attribute descriptions every module shares (community.general's _attributes model). A module takes
    # bruno.ops.attributes plus one variant, and may add its own `details` on top.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
"""

    # A module that only reads (or only computes).
    INFO_MODULE = r"""
options: {}
attributes:
  check_mode:
    support: full
    details: Only reads, so it runs the same in check mode.
  diff_mode:
    support: none
    details: Nothing is ever changed.
"""

    # A module that changes its target: check mode predicts the change without making it, --diff shows it.
    CHANGE_MODULE = r"""
options: {}
attributes:
  check_mode:
    support: full
    details:
      - Everything is read and checked; the change is predicted (a server-side dry run where the API has one)
        and not made.
  diff_mode:
    support: full
    details: The diff is the before and after of the part of the target the change is about.
"""

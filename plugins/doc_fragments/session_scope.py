# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Which session keys a session-changing module walks, and how (pace, budget, resume). Mirrors SCOPE_SPEC
    # (scope_options()) in plugins/module_utils/sessions/scope.py; taken by redis_session_cleanup and
    # session_archive. redis_session_info's pattern/prefix differ (a read-only census: no default prefix, no
    # allow_broad_pattern, no cursor) and stay documented there.
    DOCUMENTATION = r"""
options:
  prefix:
    description:
      - Key prefix of the sessions. Every key the run looks at starts with it.
      - The session id is the key without it.
    type: str
    default: "bruno:session:"
  pattern:
    description:
      - C(SCAN MATCH) glob. Defaults to O(prefix) followed by C(*). Its literal start must begin with O(prefix).
    type: str
  allow_broad_pattern:
    description: Allow a pattern without a literal prefix (or an empty O(prefix)), which may match every key.
    type: bool
    default: false
  batch_size:
    description: C(SCAN COUNT) hint, and so roughly the keys handled per step (1 to 10000).
    type: int
    default: 1000
  ops_per_second:
    description: At most this many keys looked at per second. Unlimited when not set.
    type: float
  max_duration:
    description: Stop after this many seconds and return RV(cursor). Unlimited when not set.
    type: float
  cursor:
    description:
      - Where to resume, as RV(cursor) returned by an earlier run. C(0) starts from the beginning.
      - A cursor from a Redis process that has restarted since is not valid there; the scan then starts over.
    type: str
    default: "0"
  sample_size:
    description: How many example keys to return for each category of RV(samples).
    type: int
    default: 10
"""

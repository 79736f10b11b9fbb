# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The end of every change-making module: run it, turn BrunoOpsError into one fail_json, add --diff."""

from __future__ import annotations

from ansible_collections.bruno.ops.plugins.module_utils import errors


def execute(module, run):
    """exit_json(**run(params, check_mode)), or fail_json with the error's message and its details.

    A result with `before` and `after` also gets `diff` when the play runs with --diff; its `notes` are also
    shown as warnings, where people running the play see them."""
    try:
        result = run(module.params, module.check_mode)
    except errors.BrunoOpsError as exc:
        module.fail_json(msg=exc.message, error=exc.to_dict())
    for note in result.get("notes") or []:
        module.warn(note)
    if module._diff and "before" in result and "after" in result:
        result["diff"] = {"before": result["before"], "after": result["after"]}
    if result.get("failed"):
        module.fail_json(**result)  # a check that ran and said no (verify): the evidence stays in the result
    module.exit_json(**result)

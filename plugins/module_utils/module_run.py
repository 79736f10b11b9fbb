# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one module contract: `run(params, check_mode)` returns a dict or raises BrunoOpsError; this turns that
into exit_json / fail_json, the same way for every module of the collection.

Every module of plugins/modules:
- defines its argument spec at module level as `ARGUMENT_SPEC` (a dict; tests/unit/test_collection_contract.py
  reads it to check the action groups of meta/runtime.yml);
- ends in `module_run.main(ARGUMENT_SPEC, run, ...)` (or builds its AnsibleModule and calls `execute(module, run)`);
- never calls fail_json / exit_json itself. A missing third-party library is a BrunoOpsError of kind
  `missing_library`, raised by the client layer (require_kubernetes(), ...) when the module first needs it, so it
  fails with the same shape as every other error: `msg` and `error: {kind, message, ...}`."""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.bruno.ops.plugins.module_utils import errors

# Details a failure never carries: `exception` is Ansible's traceback key, `address` may name a host a module
# was told to keep out of its output; messages already say what was attempted on which object.
_WITHHELD_DETAILS = ("exception", "address")


def main(argument_spec, run, **module_kwargs):
    """The whole main() of a module: the AnsibleModule (check mode always supported), then execute()."""
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True, **module_kwargs)
    execute(module, run)


def error_result(exc):
    """The one failure shape: msg, and error = {kind, message, ...details}."""
    error = {key: value for key, value in exc.to_dict().items() if key not in _WITHHELD_DETAILS}
    return {"msg": exc.message, "error": error}


def execute(module, run):
    """exit_json(**run(params, check_mode)), or fail_json(**error_result(exc)).

    Keys of the result that mean something here:
    - `warnings`: popped; each is shown with module.warn, where people running the play see it;
    - `before` and `after`: also returned as `diff` when the play runs with --diff;
    - `failed`: a check that ran and said no (verify) fails the task with its evidence kept in the result."""
    try:
        result = run(module.params, module.check_mode)
    except errors.BrunoOpsError as exc:
        module.fail_json(**error_result(exc))
    for warning in result.pop("warnings", None) or []:
        module.warn(warning)
    if module._diff and "before" in result and "after" in result:
        result.setdefault("diff", {"before": result["before"], "after": result["after"]})
    if result.get("failed"):
        module.fail_json(**result)
    module.exit_json(**result)

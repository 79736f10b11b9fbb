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


# The `error.kind` of a result that fails because a check ran and said no (preflight's fail_on, a verify): nothing
# went wrong while running, the answer is the evidence in the result.
CHECK_FAILED = "check_failed"


def main(argument_spec, run, *, with_module=False, **module_kwargs):
    """The whole main() of a module: the AnsibleModule (check mode always supported), then execute()."""
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True, **module_kwargs)
    execute(module, run, with_module=with_module)


def error_result(exc):
    """The one failure shape: msg, and error = {kind, message, ...details}."""
    error = {key: value for key, value in exc.to_dict().items() if key not in _WITHHELD_DETAILS}
    return {"msg": exc.message, "error": error}


def execute(module, run, *, with_module=False):
    """exit_json(**run(params, check_mode)), or fail_json(**error_result(exc)).

    with_module=True calls run(params, check_mode, module), for the few runs that need the AnsibleModule itself
    (atomic_move, tmpdir, _diff); everything else only sees its params.

    Keys of the result that mean something here:
    - `warnings`: popped; each is shown with module.warn, where people running the play see it;
    - `before` and `after`: also returned as `diff` when the play runs with --diff;
    - `failed`: a check that ran and said no (verify, preflight's fail_on) fails the task with its evidence kept in
      the result and `msg`; `error` is {kind: check_failed, message: msg} unless the result brings its own."""
    try:
        result = run(module.params, module.check_mode, module) if with_module else run(module.params, module.check_mode)
    except errors.BrunoOpsError as exc:
        module.fail_json(**error_result(exc))
    for warning in result.pop("warnings", None) or []:
        module.warn(warning)
    if module._diff and "before" in result and "after" in result:
        result.setdefault("diff", {"before": result["before"], "after": result["after"]})
    if result.get("failed"):
        result.setdefault("msg", "%s failed" % module._name)
        result.setdefault("error", {"kind": CHECK_FAILED, "message": result["msg"]})
        module.fail_json(**result)
    module.exit_json(**result)

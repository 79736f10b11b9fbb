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

from urllib.parse import unquote

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


# Connection options that are URLs: no_log in their specs, because they may carry user:password@.
URL_OPTIONS = ("url", "uri")


def _url_values(spec, params):
    """The values of no_log URL sub-options anywhere in params, following the argument spec."""
    for name, option in (spec or {}).items():
        value = (params or {}).get(name)
        if option.get("options"):
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, dict):
                    yield from _url_values(option["options"], item)
        elif name in URL_OPTIONS and option.get("no_log") and isinstance(value, str):
            yield value


def mask_url_credentials(module):
    """Mask only the secret part of URL options in everything the module returns (the invocation at -vvv, the
    log file, messages): the password is masked wherever it shows up, even a raw '#', '/' or '?' in it, and a URL
    with no user info is shown as it is, instead of as ******** inside every message naming the address."""
    for value in _url_values(module.argument_spec, module.params):
        userinfo, at, _rest = value.partition("://")[2].rpartition("@")
        if not at:
            module.no_log_values.discard(value)
            continue
        username, _colon, password = userinfo.partition(":")
        password = password or username  # a bare token@host: the "user" is the secret
        for secret in (password, unquote(password)):
            if secret:
                module.no_log_values.add(secret)


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
    mask_url_credentials(module)
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

"""What the session modules share: pattern validation, the specs their doc fragments mirror, the change entry,
a mid-run failure as a module result."""

import pytest
import yaml

from ansible_collections.bruno.ops.plugins.doc_fragments import session_lock as lock_fragment
from ansible_collections.bruno.ops.plugins.doc_fragments import session_scope as scope_fragment
from ansible_collections.bruno.ops.plugins.module_utils import errors
from ansible_collections.bruno.ops.plugins.module_utils.sessions import cursor, lock, scope
from ansible_collections.bruno.ops.plugins.module_utils.sessions.scope import literal_prefix, resolve_scope


@pytest.mark.parametrize(("fragment", "spec"), [
    (scope_fragment.ModuleDocFragment.DOCUMENTATION, scope.SCOPE_SPEC),
    (lock_fragment.ModuleDocFragment.DOCUMENTATION, {"lock": lock.lock_option()}),
])
def test_doc_fragments_mirror_their_spec(fragment, spec):
    def shape(options):
        return {name: (option["type"], option.get("default"), option.get("required", False),
                       shape(option.get("options") or option.get("suboptions") or {}))
                for name, option in options.items()}

    assert shape(yaml.safe_load(fragment)["options"]) == shape(spec)


def test_scope_options_are_copies():
    options = scope.scope_options()
    options["prefix"]["default"] = "x"
    assert scope.SCOPE_SPEC["prefix"]["default"] == scope.DEFAULT_PREFIX


def test_change_entry_of_a_run_keeps_counts_not_example_keys():
    diff = {"before": {"sessions": 3, "deleted_keys": ["s:1"]}, "after": {"sessions": 2}}
    entry = scope.session_change("session_cleanup", "redis://h:6379/0", "s:*", diff, changed=True,
                                 undo="words", check_mode=True)
    assert entry["target"] == "redis://h:6379/0 s:*"
    assert entry["before"] == {"sessions": 3} and entry["after"] == {"sessions": 2}
    assert entry["changed"] is True and "check mode" in entry["note"]


def test_a_mid_run_failure_keeps_its_cursor_at_the_top_and_in_error():
    exc = errors.BrunoOpsError("cleanup stopped", kind=errors.UNREACHABLE, cursor="5@r", complete=False,
                               deleted=3, address="redis://h:1/0")
    result = cursor.resumable_failure(exc)
    assert result["failed"] is True and result["msg"] == "cleanup stopped"
    assert result["error"] == {"kind": "unreachable", "message": "cleanup stopped", "cursor": "5@r"}
    assert result["cursor"] == "5@r" and result["deleted"] == 3 and "address" not in result
    assert "error_kind" not in result


def test_a_failure_before_the_walk_is_raised_again():
    exc = errors.BrunoOpsError("bad", kind=errors.INVALID)
    with pytest.raises(errors.BrunoOpsError):
        cursor.resumable_failure(exc)


@pytest.mark.parametrize(("pattern", "literal"), [
    ("bruno:session:*", "bruno:session:"),
    ("*", ""),
    ("?abc*", ""),
    ("[ab]*", ""),
    ("a\\*b*", "a*b"),
    ("plain", "plain"),
])
def test_literal_prefix(pattern, literal):
    assert literal_prefix(pattern) == literal


def test_default_pattern_is_the_escaped_prefix():
    assert resolve_scope("bruno:session:", None, False) == "bruno:session:*"
    assert resolve_scope("odd*name:", None, False) == "odd\\*name:*"


@pytest.mark.parametrize(("prefix", "pattern"), [
    ("bruno:session:", "*"),
    ("bruno:session:", "?*"),
    ("bruno:session:", "[b]runo:session:*"),
    ("", "anything*"),
    ("", None),
])
def test_broad_patterns_are_refused(prefix, pattern):
    with pytest.raises(errors.BrunoOpsError) as raised:
        resolve_scope(prefix, pattern, False)
    assert raised.value.kind == errors.INVALID
    assert "allow_broad_pattern" in raised.value.message


def test_broad_pattern_allowed_when_asked():
    assert resolve_scope("", "*", True) == "*"


def test_pattern_must_carry_the_prefix():
    with pytest.raises(errors.BrunoOpsError, match="does not start with prefix"):
        resolve_scope("bruno:session:", "other:*", False)
    assert resolve_scope("bruno:session:", "bruno:session:abc*", False) == "bruno:session:abc*"

"""redis_session_info's argument handling (the census itself runs against a real Redis in integration)."""

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.bruno.ops.plugins.modules import redis_session_info


def run_main(capsys, args):
    with patch_module_args(args), pytest.raises(SystemExit) as exited:
        redis_session_info.main()
    return exited.value.code, json.loads(capsys.readouterr().out)


def test_pattern_and_prefix_are_exclusive(capsys):
    code, result = run_main(capsys, {"redis": {"port": 9}, "pattern": "a*", "prefix": "a"})
    assert code == 1 and "mutually exclusive" in result["msg"]


def test_bad_budget_fails_before_connecting(capsys):
    code, result = run_main(capsys, {"redis": {"port": 9}, "max_scan_seconds": 0})
    assert code == 1 and result["error"]["kind"] == "invalid_input"


def test_unreachable_redis_is_one_error_without_the_password(capsys):
    code, result = run_main(capsys, {"redis": {"host": "127.0.0.1", "port": 9, "password": "r3dis-secret",
                                               "connect_timeout": 1.0, "retries": 0}})
    assert code == 1 and result["error"]["kind"] == "unreachable"
    assert "redis://127.0.0.1:9/0" in result["msg"]
    assert "r3dis-secret" not in json.dumps(result)

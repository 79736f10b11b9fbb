"""The preflight module's main(): argument handling and result shape, with no servers needed."""

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.bruno.ops.plugins.modules import preflight


def run_main(capsys, args):
    with patch_module_args(args), pytest.raises(SystemExit) as exited:
        preflight.main()
    return exited.value.code, json.loads(capsys.readouterr().out)


def test_nothing_configured_skips_everything(capsys):
    code, result = run_main(capsys, {})
    assert code == 0
    assert result["changed"] is False
    assert [row["status"] for row in result["backends"]] == ["skipped"] * 4
    assert result["summary"] == {"ok": 0, "limited": 0, "failed": 0, "skipped": 4}


def test_bad_option_is_one_clear_error(capsys):
    code, result = run_main(capsys, {"redis": {"port": 70000}, "prometheus": {"url": "localhost:9090"}})
    assert code == 1
    assert "redis.port must be between 1 and 65535" in result["msg"]
    assert "Prometheus url must be an absolute http:// or https:// URL" in result["msg"]


def test_unknown_fail_on_value_is_rejected(capsys):
    code, result = run_main(capsys, {"fail_on": ["sometimes"]})
    assert code == 1
    assert "fail_on" in result["msg"]


def test_secrets_are_masked_in_invocation(capsys):
    code, result = run_main(capsys, {"redis": {"port": 9, "password": "hunter2-secret", "connect_timeout": 0.5,
                                               "retries": 0}})
    assert code == 0
    assert "hunter2-secret" not in json.dumps(result)
    assert result["backends"][1]["reachable"] is False

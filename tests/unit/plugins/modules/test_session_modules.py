"""main() of the two session modules: bad inputs fail once, clearly, before anything is contacted."""

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.bruno.ops.plugins.modules import redis_session_cleanup, session_archive

CLOSED = {"host": "127.0.0.1", "port": 9, "password": "s3cret-unit-pw", "connect_timeout": 0.5, "retries": 0}


def run_main(capsys, module, args):
    with patch_module_args(args), pytest.raises(SystemExit) as exited:
        module.main()
    out = capsys.readouterr().out
    return exited.value.code, json.loads(out), out


@pytest.mark.parametrize(("args", "message"), [
    ({"policies": {"missing_ttl": 0}}, "policies.missing_ttl must be a positive number"),
    ({"policies": {"max_ttl": -1}}, "policies.max_ttl must be a positive number"),
    ({"policies": {"max_idle": 60}, "pattern": "*"}, "has no literal prefix"),
    ({"policies": {"max_idle": 60}, "prefix": ""}, "allow_broad_pattern=true"),
    ({"policies": {"forever": 1}}, "policies.forever"),
    ({"policies": {}}, "no policy given"),
    ({"policies": {"max_idle": 60}, "batch_size": 0}, "batch_size must be between"),
    ({"policies": {"max_idle": 60}, "cursor": "nope"}, "cursor must be"),
])
def test_cleanup_bad_inputs(capsys, args, message):
    code, result, _out = run_main(capsys, redis_session_cleanup, dict(args, redis=CLOSED))
    assert code == 1
    assert message in result["msg"]


def test_cleanup_unreachable_is_one_clear_error_without_the_password(capsys):
    code, result, out = run_main(capsys, redis_session_cleanup, {"redis": CLOSED, "policies": {"max_idle": 60}})
    assert code == 1
    assert result["error"]["kind"] == "unreachable" and "error_kind" not in result
    assert "redis://127.0.0.1:9/0" in result["msg"]
    assert "s3cret-unit-pw" not in out


@pytest.mark.parametrize(("args", "message"), [
    ({"keep_messages": 0}, "keep_messages must be 1 or more"),
    ({"chunk_size": 0}, "chunk_size must be between"),
    ({"pattern": "*"}, "has no literal prefix"),
    ({"collection": "a$b"}, "collection must be"),
])
def test_archive_bad_inputs(capsys, args, message):
    code, result, _out = run_main(capsys, session_archive, dict(args, redis=CLOSED))
    assert code == 1
    assert message in result["msg"]


def test_archive_unreachable_mongodb(capsys):
    args = {"redis": CLOSED, "mongodb": {"host": "127.0.0.1", "port": 9, "password": "m0ngo-unit-pw",
                                         "username": "u", "server_selection_timeout": 0.5}}
    code, result, out = run_main(capsys, session_archive, args)
    assert code == 1
    assert result["error"]["kind"] == "unreachable" and "error_kind" not in result
    assert "m0ngo-unit-pw" not in out

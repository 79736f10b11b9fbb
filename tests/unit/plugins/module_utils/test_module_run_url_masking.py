"""module_run masks the password of a URL option (not the whole URL) in everything a module returns (issue 18 #5)."""

import json

import pytest
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.bruno.ops.plugins.module_utils import module_run
from ansible_collections.bruno.ops.plugins.module_utils.clients.http_client import http_option
from ansible_collections.bruno.ops.plugins.module_utils.clients.redis_client import redis_option

SPEC = dict(prometheus=http_option(), endpoints=dict(type="list", elements="dict", options=http_option()["options"]),
            redis=redis_option())


def run(capsys, args, run_func):
    with patch_module_args(args), pytest.raises(SystemExit):
        module = AnsibleModule(argument_spec=SPEC, supports_check_mode=True)
        module_run.execute(module, run_func)
    return json.loads(capsys.readouterr().out)


def test_credentials_in_urls_are_masked_and_plain_urls_shown(capsys):
    args = {"prometheus": {"url": "http://admin:Pr0m#Secret/x?y@prom:9090"},
            "endpoints": [{"url": "http://tok3n-Secret@agent:8080"}, {"url": "http://plain:8080"}],
            "redis": {"url": "redis://:R3dis%23Secret@cache:6379/0"}}
    result = run(capsys, args, lambda params, check_mode: {
        "changed": False, "echo": dict(params),
        # a library quoting only the password (as redis-py's "Port could not be cast ... 'pa'" did a part of it)
        "quoted": "bad password %s, %s" % ("Pr0m#Secret/x?y", "R3dis#Secret")})
    text = json.dumps(result)
    for secret in ("Pr0m#Secret/x?y", "Secret/x", "tok3n-Secret", "R3dis%23Secret", "R3dis#Secret"):
        assert secret not in text
    invocation = result["invocation"]["module_args"]
    assert invocation["prometheus"]["url"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    assert invocation["endpoints"][1]["url"] == "http://plain:8080"  # no user info: no secret to hide


def test_failure_messages_show_a_plain_url(capsys):
    def fail(params, check_mode):
        raise module_run.errors.BrunoOpsError("cannot GET: %s is unreachable" % params["prometheus"]["url"])

    result = run(capsys, {"prometheus": {"url": "http://prom:9090"}}, fail)
    assert result["msg"] == "cannot GET: http://prom:9090 is unreachable"

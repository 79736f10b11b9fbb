"""Addresses shown in messages must never carry credentials."""

import pytest

from ansible_collections.bruno.ops.plugins.module_utils.clients import http_client, mongo_client, redis_client


@pytest.mark.parametrize(("params", "expected"), [
    ({"url": "redis://user:s3cret@cache.example:6380/2"}, "redis://cache.example:6380/2"),
    ({"url": "rediss://:s3cret@cache.example"}, "rediss://cache.example:6379/0"),
    ({"host": "127.0.0.1", "port": 6379, "db": 0, "tls": False}, "redis://127.0.0.1:6379/0"),
    ({"host": "r", "port": 1, "db": 3, "tls": True}, "rediss://r:1/3"),
])
def test_redis_address(params, expected):
    assert redis_client.describe_address(params) == expected


def test_mongo_address_drops_credentials():
    address = mongo_client.describe_address({"uri": "mongodb://app:s3cret@m1:27017,m2:27018/bruno?replicaSet=rs"})
    assert address == "mongodb://m1:27017,m2:27018"
    assert "s3cret" not in mongo_client.describe_address({"uri": "mongodb://app:s3cret@"})


def test_http_address_drops_userinfo_and_query():
    assert http_client.describe_address("https://u:s3cret@prom.example:9090/api?token=x") == \
        "https://prom.example:9090/api"


@pytest.mark.parametrize(("params", "fragment"), [
    ({"port": 70000}, "redis.port"),
    ({"url": "ftp://x"}, "redis.url"),
    ({"connect_timeout": 0}, "redis.connect_timeout"),
    ({"retries": -1}, "redis.retries"),
])
def test_redis_bad_options_name_the_option(params, fragment):
    with pytest.raises(redis_client.errors.BrunoOpsError) as caught:
        redis_client.validate_params(params)
    assert fragment in str(caught.value)
    assert caught.value.kind == "invalid_input"

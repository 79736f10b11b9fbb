"""URL, port and kubeconfig options of the client layers (issue 18, items 5, 6, 7, 11): one clear error naming the
option, never a traceback, never a piece of a password."""

import pytest

from ansible_collections.bruno.ops.plugins.module_utils import errors
from ansible_collections.bruno.ops.plugins.module_utils.clients import (
    http_client,
    k8s_client,
    mongo_client,
    redis_client,
)

SECRET_URLS = [
    "redis://:pa#ss-word@cache:6380/2",
    "redis://app:pa/ss?word@cache:6380/2",
    "rediss://app:p?a#s/s@cache:6380/2",
]


@pytest.mark.parametrize("url", SECRET_URLS)
def test_redis_password_with_reserved_characters_is_never_shown(url):
    address = redis_client.describe_address({"url": url})
    assert address.endswith("cache:6380/2")
    assert "pa" not in address.replace("cache", "") and "word" not in address
    redis_client.validate_params({"url": url})  # and it is a valid URL, not a port error


def test_redis_password_with_reserved_characters_reaches_redis_py_intact():
    from redis.connection import parse_url  # noqa: PLC0415 - what RedisClient hands the URL to

    parsed = parse_url(redis_client.connection_url({"url": "redis://app:p#a/s?s%@cache:6380/2"}))
    assert (parsed["username"], parsed["password"], parsed["host"], parsed["port"], parsed["db"]) == \
        ("app", "p#a/s?s%", "cache", 6380, 2)


@pytest.mark.parametrize("url", ["redis://h:6379/db7", "redis://h:6379/-1", "redis://h/1x", "redis://h/0/1"])
def test_redis_url_with_a_database_that_is_no_number_is_rejected(url):
    with pytest.raises(errors.BrunoOpsError) as caught:
        redis_client.validate_params({"url": url})
    assert caught.value.kind == errors.INVALID
    assert "redis.url" in caught.value.message


@pytest.mark.parametrize(("url", "db"), [("redis://h:6379/7", "7"), ("redis://h", "0"), ("redis://h:1/", "0")])
def test_redis_url_database(url, db):
    redis_client.validate_params({"url": url})
    assert redis_client.describe_address({"url": url}).endswith("/" + db)


@pytest.mark.parametrize(("params", "fragment"), [
    ({"url": "redis://h:99999/0"}, "redis.url"),
    ({"url": "redis://h:abc/0"}, "redis.url"),
    ({"url": "redis://[::1/0"}, "redis.url"),
    ({"url": "redis://:pw@/0"}, "redis.url"),
    ({"db": -1}, "redis.db"),
    ({"host": " "}, "redis.host"),
])
def test_redis_malformed_options_name_the_option(params, fragment):
    with pytest.raises(errors.BrunoOpsError) as caught:
        redis_client.validate_params(params)
    assert caught.value.kind == errors.INVALID and fragment in caught.value.message


def test_redis_ipv6_hosts_are_bracketed():
    assert redis_client.describe_address({"url": "redis://[::1]:6390/3"}) == "redis://[::1]:6390/3"
    assert redis_client.describe_address({"host": "::1", "port": 6390, "db": 0}) == "redis://[::1]:6390/0"
    redis_client.validate_params({"url": "redis://[::1]:6390/3"})


@pytest.mark.parametrize("url", ["http://u:pa#ss@prom:9090", "http://u:pa/ss@prom:9090/", "https://u:p?w@prom:9090"])
def test_http_credentials_in_the_url_are_taken_out_and_sent_as_basic_auth(url):
    client = http_client.PrometheusClient({"url": url, "timeout": 5.0})
    assert client.base_url.split("://")[1] == "prom:9090"
    assert client.username == "u" and client.password in ("pa#ss", "pa/ss", "p?w")
    assert "pa" not in client.address and "p?w" not in client.address


@pytest.mark.parametrize(("url", "fragment"), [("http://h:abc", "prometheus.url"), ("http://h:99999", "prometheus.url"),
                                               ("h:9090", "prometheus.url"), ("ftp://h", "prometheus.url")])
def test_http_malformed_urls_name_the_option(url, fragment):
    with pytest.raises(errors.BrunoOpsError) as caught:
        http_client.PrometheusClient({"url": url, "timeout": 5.0})
    assert caught.value.kind == errors.INVALID and fragment in caught.value.message


def test_http_endpoint_errors_name_the_endpoint_option():
    with pytest.raises(errors.BrunoOpsError, match=r"endpoint\.url"):
        http_client.HttpClient({"url": "http://h:abc"})


def test_http_ipv6_url():
    client = http_client.HttpClient({"url": "http://[::1]:9090/", "timeout": 5.0})
    assert client.address == "http://[::1]:9090"


def test_http_url_option_is_no_log():
    assert http_client.HTTP_ENDPOINT_SPEC["url"]["no_log"] is True


@pytest.mark.parametrize("params", [{"port": 70000}, {"port": 0}, {"port": -1}, {"host": ""}])
def test_mongodb_port_and_host_are_checked_before_connecting(params):
    with pytest.raises(errors.BrunoOpsError) as caught:
        mongo_client.validate_params(dict({"host": "localhost", "port": 27017}, **params))
    assert caught.value.kind == errors.INVALID
    assert "mongodb.%s" % next(iter(params)) in caught.value.message


KUBECONFIGS = {
    "bad_yaml": "apiVersion: v1\nclusters: [\n  - a: {\n",
    "a_list": "- apiVersion: v1\n- kind: Config\n",
    "a_string": "just text\n",
    "bad_base64": ("apiVersion: v1\nkind: Config\ncurrent-context: x\nclusters:\n- name: c\n  cluster:\n"
                   "    server: https://127.0.0.1:6443\n    certificate-authority-data: '!!!not-base64!!!'\n"
                   "contexts:\n- name: x\n  context: {cluster: c, user: u}\n"
                   "users:\n- name: u\n  user: {token: secret-token-1}\n"),
    "no_contexts": ("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'https://h:6443'}\n"
                    "users:\n- name: u\n  user: {token: secret-token-1}\n"),
    "contexts_not_a_list": ("apiVersion: v1\nkind: Config\ncurrent-context: x\ncontexts: 3\n"
                            "clusters: []\nusers: []\n"),
}


@pytest.mark.parametrize("name", sorted(KUBECONFIGS))
def test_malformed_kubeconfig_is_one_configuration_error(tmp_path, name):
    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIGS[name])
    with pytest.raises(errors.BrunoOpsError) as caught:
        k8s_client.build_configuration({"kubeconfig": str(path), "request_timeout": 5.0})
    assert caught.value.kind == errors.CONFIG
    assert "kubernetes.kubeconfig" in caught.value.message
    assert "secret-token-1" not in caught.value.message


@pytest.mark.parametrize("host", ["https://h:abc", "https://h:99999", "ftp://h"])
def test_malformed_kubernetes_host_names_the_option(host):
    with pytest.raises(errors.BrunoOpsError) as caught:
        k8s_client.build_configuration({"host": host, "request_timeout": 5.0})
    assert caught.value.kind == errors.INVALID and "kubernetes.host" in caught.value.message


@pytest.mark.parametrize(("url", "shown"), [
    ("http://u:p#w/x?y@h:1/a?q=1#f", "http://h:1/a"),
    ("redis://[::1]:6379/0", "redis://[::1]:6379/0"),
    ("localhost:9090", "localhost:9090"),
    ("u:pw@localhost", "<not a URL>"),
    (None, ""),
])
def test_display_url_never_shows_user_info(url, shown):
    assert errors.display_url(url) == shown

"""K8S_AUTH_* (AWX's Kubernetes credential) fills in the kubernetes option only when nothing explicit is set."""

import pytest

from ansible_collections.bruno.ops.plugins.module_utils.clients.k8s_client import with_env_auth

ENV = {"K8S_AUTH_HOST": "https://api.example:6443", "K8S_AUTH_API_KEY": "tok", "K8S_AUTH_SSL_CA_CERT": "/ca.pem",
       "K8S_AUTH_VERIFY_SSL": "False"}


def test_environment_fills_in_an_empty_option():
    assert with_env_auth({"request_timeout": 30}, ENV) == {
        "request_timeout": 30, "host": "https://api.example:6443", "api_key": "tok", "ca_cert": "/ca.pem",
        "validate_certs": False}


@pytest.mark.parametrize("explicit", [{"host": "https://other:6443"}, {"kubeconfig": "/k"}, {"context": "c"}])
def test_explicit_options_win(explicit):
    assert with_env_auth(explicit, ENV) == explicit


def test_no_host_in_the_environment_changes_nothing():
    assert with_env_auth({}, {"K8S_AUTH_API_KEY": "tok"}) == {}

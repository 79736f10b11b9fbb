"""ApiException → BrunoOpsError keeps the apiserver's message and maps the status to a kind."""

import json

import pytest
from kubernetes.client.exceptions import ApiException

from ansible_collections.bruno.ops.plugins.module_utils import errors
from ansible_collections.bruno.ops.plugins.module_utils.clients.k8s_client import api_error, build_configuration


def exception(status, message):
    exc = ApiException(status=status, reason="Reason")
    exc.body = json.dumps({"kind": "Status", "message": message})
    return exc


@pytest.mark.parametrize(("status", "kind"), [
    (401, errors.AUTH), (403, errors.FORBIDDEN), (404, errors.NOT_FOUND), (422, errors.INVALID), (500, errors.API),
])
def test_status_maps_to_kind(status, kind):
    error = api_error("patch deployment bruno/agent-bruno", exception(status, "nope"), "https://127.0.0.1:6443")
    assert error.kind == kind
    assert error.message.startswith("cannot patch deployment bruno/agent-bruno: %d nope" % status)


def test_forbidden_keeps_verb_and_resource_and_says_what_to_do():
    message = ('deployments.apps "agent-bruno" is forbidden: User "system:serviceaccount:bruno:ops" '
               'cannot patch resource "deployments" in API group "apps" in the namespace "bruno"')
    error = api_error("patch deployment bruno/agent-bruno", exception(403, message), "https://x")
    assert 'cannot patch resource "deployments"' in error.message
    assert "grant the automation's Role" in error.message


def test_missing_kubeconfig_is_a_configuration_error(tmp_path, monkeypatch):
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(errors.BrunoOpsError) as caught:
        build_configuration({"kubeconfig": str(tmp_path / "nope.yaml")})
    assert caught.value.kind == errors.CONFIG and "kubernetes.kubeconfig" in caught.value.message
    with pytest.raises(errors.BrunoOpsError, match="no Kubernetes credentials found"):
        build_configuration({})


def test_explicit_host_and_token(tmp_path):
    cfg, method = build_configuration({"host": "https://api.example:6443/", "api_key": "tok",
                                       "validate_certs": False, "request_timeout": 5.0})
    assert method == "host"
    assert cfg.host == "https://api.example:6443"
    assert cfg.api_key == {"authorization": "tok"} and cfg.verify_ssl is False

# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""OpenShift DeploymentConfigs (apps.openshift.io/v1) through the dynamic client of the `openshift` package.

It runs over the K8sClient's own ApiClient, so connection, auth and TLS are the same as for a Deployment. Every
request (discovery included) is counted in `client.requests` and bounded by its request timeout, and every
failure goes through `client.translate()`, so errors have the same kinds as the typed clients'.
"""

from __future__ import annotations

import json
import os
import tempfile
import traceback

from ansible_collections.bruno.ops.plugins.module_utils import errors

OPENSHIFT_IMPORT_ERROR = None
try:
    from openshift.dynamic import DynamicClient
    from openshift.dynamic.exceptions import ResourceNotFoundError
except ImportError:  # reported by require_openshift(), never at import time
    DynamicClient = object
    ResourceNotFoundError = None
    OPENSHIFT_IMPORT_ERROR = traceback.format_exc()

API_VERSION = "apps.openshift.io/v1"
KIND = "DeploymentConfig"
# A DeploymentConfig served by a CRD takes no strategic merge patch (the dynamic client's default content type);
# a JSON patch works on OpenShift's own apiserver and on a CRD alike.
JSON_PATCH = "application/json-patch+json"


def require_openshift():
    if OPENSHIFT_IMPORT_ERROR is not None:
        raise errors.missing_library("openshift", "openshift", OPENSHIFT_IMPORT_ERROR,
                                     needed_for="for kind DeploymentConfig")


class CountingDynamicClient(DynamicClient):
    """The dynamic client over a K8sClient's ApiClient, counting each request in the K8sClient's `requests`."""

    def __init__(self, k8s_client, cache_file=None):
        self.k8s_client = k8s_client
        super().__init__(k8s_client.api_client, cache_file=cache_file)  # discovery starts here, through request()

    def request(self, method, path, body=None, **params):
        self.k8s_client.requests += 1
        params.setdefault("_request_timeout", self.k8s_client.timeout)
        return super().request(method, path, body=body, **params)


def deployment_config_access(client, namespace, name, ref):
    """(read, patch) for one DeploymentConfig, as Workload uses them: read() returns the object as a plain dict;
    patch(ops, dry_run) applies the JSON patch `ops` (a server-side dry run when dry_run) and returns the result.

    The API is discovered on the first call, so building a Workload makes no request."""
    require_openshift()
    found = {}

    def call(action, verb, **kwargs):
        with client.translate(action):
            if not found:
                found.update(_discover(client, action))
            response = getattr(found["dynamic"], verb)(found["resource"], name=name, namespace=namespace,
                                                       serialize=False, **kwargs)
        try:
            return json.loads(response.data)
        except ValueError:
            raise errors.BrunoOpsError("cannot %s: the apiserver at %s returned something that is not JSON"
                                       % (action, client.address), kind=errors.API, address=client.address) from None

    def read():
        return call("get %s" % ref, "get")

    def patch(ops, dry_run=False):
        return call("patch %s" % ref, "patch", body=ops, content_type=JSON_PATCH,
                    **({"dry_run": "All"} if dry_run else {}))

    return read, patch


def _discover(client, action):
    """The dynamic client and its DeploymentConfig resource, discovered afresh.

    The package's default discovery cache is a file in the temporary directory shared by every run for the same
    apiserver and user: it goes stale when the API goes away (a DeploymentConfig capability or CRD removed), and a
    later run then gets a bare 404 instead of "not served". Discovery here writes to a private file deleted at
    once (a few small requests per run; later writes to it fail silently, as the package intends)."""
    with tempfile.TemporaryDirectory(prefix="bruno-ops-discovery-") as private:
        dynamic = CountingDynamicClient(client, cache_file=os.path.join(private, "discovery.json"))
        try:
            resource = dynamic.resources.get(api_version=API_VERSION, kind=KIND)
        except ResourceNotFoundError:
            raise errors.BrunoOpsError(
                "cannot %s: %s %s is not served by this cluster (not OpenShift?); use kind Deployment, or point the "
                "kubernetes options at an OpenShift cluster" % (action, API_VERSION, KIND),
                kind=errors.NOT_FOUND, address=client.address) from None
    return {"dynamic": dynamic, "resource": resource}

# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes connection layer: the `kubernetes` option set, one way to connect, one error translation.

Auth is picked in a fixed order so a run is predictable: explicit `host` (token / client certificate),
else an explicit `kubeconfig` / `context`, else the K8S_AUTH_* environment (what AWX's "OpenShift or
Kubernetes API Bearer Token" credential injects, the variables kubernetes.core reads too), else a kubeconfig
($KUBECONFIG or ~/.kube/config), else the in-cluster ServiceAccount.
"""

from __future__ import annotations

import binascii
import contextlib
import json
import os
import re
import time
import traceback

from ansible_collections.bruno.ops.plugins.module_utils import errors

K8S_IMPORT_ERROR = None
try:
    import urllib3
    from kubernetes import client as k8s
    from kubernetes import config as k8s_config
    from kubernetes.client.exceptions import ApiException
    from kubernetes.config.config_exception import ConfigException
except ImportError:  # reported by require_kubernetes(), never at import time
    k8s = None
    K8S_IMPORT_ERROR = traceback.format_exc()

# Sub-options of every module's `kubernetes` option; documented by the bruno.ops.kubernetes doc fragment.
KUBERNETES_CONNECTION_SPEC = dict(
    kubeconfig=dict(type="path"),
    context=dict(type="str"),
    host=dict(type="str"),
    api_key=dict(type="str", no_log=True),
    ca_cert=dict(type="path"),
    client_cert=dict(type="path"),
    client_key=dict(type="path", no_log=False),
    validate_certs=dict(type="bool"),
    impersonate_user=dict(type="str"),
    impersonate_group=dict(type="str"),
    request_timeout=dict(type="float", default=30.0),
)

IN_CLUSTER_ENV = "KUBERNETES_SERVICE_HOST"
# Option <- environment variable, as AWX's Kubernetes credential type injects them.
AUTH_ENV = (("host", "K8S_AUTH_HOST"), ("api_key", "K8S_AUTH_API_KEY"), ("ca_cert", "K8S_AUTH_SSL_CA_CERT"),
            ("validate_certs", "K8S_AUTH_VERIFY_SSL"))


def with_env_auth(params, environ=None):
    """The options, completed from K8S_AUTH_* when none of host, kubeconfig or context was given."""
    environ = os.environ if environ is None else environ
    if params.get("host") or params.get("kubeconfig") or params.get("context") or not environ.get("K8S_AUTH_HOST"):
        return params
    merged = dict(params)
    for option, variable in AUTH_ENV:
        value = environ.get(variable)
        if value and merged.get(option) is None:
            merged[option] = value.strip().lower() in ("1", "true", "yes", "on") if option == "validate_certs" \
                else value
    return merged


def kubernetes_option(required=False):
    """The `kubernetes` module option, ready to drop into an argument spec."""
    return errors.connection_option(KUBERNETES_CONNECTION_SPEC, required)


def require_kubernetes():
    if k8s is None:
        raise errors.missing_library("kubernetes", "kubernetes", K8S_IMPORT_ERROR)


def _default_kubeconfig():
    path = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or os.path.expanduser("~/.kube/config")
    return path if os.path.exists(path) else None


def build_configuration(params):
    """A kubernetes.client.Configuration from the options; raises BrunoOpsError on unusable ones."""
    require_kubernetes()
    params = with_env_auth(params)
    if params.get("request_timeout") is not None and params["request_timeout"] <= 0:
        raise errors.BrunoOpsError("kubernetes.request_timeout must be a positive number of seconds",
                                   kind=errors.INVALID)
    cfg = k8s.Configuration()
    if params.get("host"):
        _configure_host(cfg, params)
        auth_method = "host"
    else:
        auth_method = _load_kubeconfig_or_in_cluster(cfg, params)
    if params.get("ca_cert"):
        cfg.ssl_ca_cert = params["ca_cert"]
    if params.get("validate_certs") is not None:
        cfg.verify_ssl = params["validate_certs"]
    # The client's default is three urllib3 retries per request: one is enough to ride out a blip.
    cfg.retries = 1
    return cfg, auth_method


def _configure_host(cfg, params):
    parts = errors.split_url(params["host"], "kubernetes.host")
    if parts["scheme"] not in ("http", "https") or not parts["host"]:
        raise errors.BrunoOpsError("kubernetes.host must be the apiserver's https:// URL (got %r)"
                                   % errors.display_url(params["host"]), kind=errors.INVALID)
    cfg.host = params["host"].rstrip("/")
    if params.get("api_key"):
        cfg.api_key = {"authorization": params["api_key"]}
        cfg.api_key_prefix = {"authorization": "Bearer"}
    if params.get("client_cert"):
        cfg.cert_file = params["client_cert"]
        cfg.key_file = params.get("client_key")


def _load_kubeconfig_or_in_cluster(cfg, params):
    kubeconfig = params.get("kubeconfig") or _default_kubeconfig()
    if kubeconfig:
        if not os.path.isfile(kubeconfig):
            raise errors.BrunoOpsError(
                "kubernetes.kubeconfig %s does not exist; point it at a kubeconfig file" % kubeconfig,
                kind=errors.CONFIG,
            )
        try:
            k8s_config.load_kube_config(config_file=kubeconfig, context=params.get("context"),
                                        client_configuration=cfg, persist_config=False)
        except ConfigException as exc:
            raise errors.BrunoOpsError(
                "cannot load kubeconfig %s: %s; check kubernetes.kubeconfig and kubernetes.context"
                % (kubeconfig, exc), kind=errors.CONFIG,
            ) from None
        except Exception as exc:  # the library parses the file unchecked: bad YAML, a list, bad base64, ...
            raise errors.BrunoOpsError(
                "cannot load kubeconfig %s: %s; check kubernetes.kubeconfig (it must be a kubeconfig mapping with "
                "clusters, contexts and users)" % (kubeconfig, _kubeconfig_problem(exc)), kind=errors.CONFIG,
            ) from None
        return "kubeconfig"
    if os.environ.get(IN_CLUSTER_ENV):
        try:
            k8s_config.load_incluster_config(client_configuration=cfg)
        except ConfigException as exc:
            raise errors.BrunoOpsError("cannot use the in-cluster ServiceAccount: %s" % exc,
                                       kind=errors.CONFIG) from None
        return "in_cluster"
    raise errors.BrunoOpsError(
        "no Kubernetes credentials found: set kubernetes.kubeconfig (or $KUBECONFIG), or kubernetes.host "
        "with kubernetes.api_key, or run inside a cluster",
        kind=errors.CONFIG,
    )


class K8sClient:
    """Typed API groups over one ApiClient; every call goes through `call()` for timeouts and errors."""

    def __init__(self, params):
        self.params = params
        self.configuration, self.auth_method = build_configuration(params)
        self.address = self.configuration.host
        self.api_client = k8s.ApiClient(self.configuration)
        if params.get("impersonate_user"):
            self.api_client.set_default_header("Impersonate-User", params["impersonate_user"])
            if params.get("impersonate_group"):
                # One group only: the client sends one value per header, and the apiserver reads one group
                # per Impersonate-Group header (it does not split a comma-joined value).
                self.api_client.set_default_header("Impersonate-Group", params["impersonate_group"])
        if not self.configuration.verify_ssl:
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        self.timeout = params.get("request_timeout") or 30.0
        self.requests = 0  # API calls made through call(): lets callers prove they don't scale with pods
        self.core = k8s.CoreV1Api(self.api_client)
        self.apps = k8s.AppsV1Api(self.api_client)
        self.autoscaling = k8s.AutoscalingV2Api(self.api_client)
        self.coordination = k8s.CoordinationV1Api(self.api_client)
        self.custom = k8s.CustomObjectsApi(self.api_client)
        self.authorization = k8s.AuthorizationV1Api(self.api_client)
        self.authentication = k8s.AuthenticationV1Api(self.api_client)

    def call(self, action, func, *args, **kwargs):
        """Run one API call with the request timeout; any failure becomes BrunoOpsError naming `action`."""
        kwargs.setdefault("_request_timeout", self.timeout)
        self.requests += 1
        with self.translate(action):
            return func(*args, **kwargs)

    def call_json(self, action, func, *args, **kwargs):
        """Like call(), but returns the decoded JSON body: plain dicts, as the apiserver sent them."""
        response = self.call(action, func, *args, _preload_content=False, **kwargs)
        try:
            return json.loads(response.data)
        except ValueError:
            raise errors.BrunoOpsError("cannot %s: the apiserver at %s returned something that is not JSON"
                                       % (action, self.address), kind=errors.API, address=self.address) from None

    def list_all(self, action, func, *args, page_size=500, **kwargs):
        """Every item of a list call, following `continue` tokens page by page (bounded by the server)."""
        items = []
        token = None
        while True:
            page = self.call_json(action, func, *args, limit=page_size, _continue=token, **kwargs)
            items.extend(page.get("items") or [])
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return items

    @contextlib.contextmanager
    def translate(self, action):
        try:
            yield
        except ApiException as exc:
            raise api_error(action, exc, self.address) from None
        except urllib3.exceptions.SSLError as exc:
            raise errors.BrunoOpsError(
                "cannot %s: TLS with the apiserver at %s failed (%s); check kubernetes.ca_cert or "
                "kubernetes.validate_certs" % (action, self.address, _reason(exc)),
                kind=errors.UNREACHABLE, address=self.address,
            ) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise errors.BrunoOpsError(
                "cannot %s: the apiserver at %s is unreachable (%s)" % (action, self.address, _reason(exc)),
                kind=errors.UNREACHABLE, address=self.address,
            ) from None

    def version(self):
        """(gitVersion, latency_ms) from /version."""
        version_api = k8s.VersionApi(self.api_client)
        started = time.monotonic()
        info = self.call("read the apiserver version", version_api.get_code)
        return info.git_version, round((time.monotonic() - started) * 1000.0, 3)

    def whoami(self):
        """The authenticated identity (SelfSubjectReview), or None where the API is not served."""
        body = k8s.V1SelfSubjectReview(api_version="authentication.k8s.io/v1", kind="SelfSubjectReview")
        try:
            review = self.call("review the current identity", self.authentication.create_self_subject_review, body)
        except errors.BrunoOpsError as exc:
            if exc.kind == errors.NOT_FOUND:
                return None
            raise
        user = review.status.user_info if review.status else None
        return {"username": user.username, "groups": list(user.groups or [])} if user else None

    def can_i(self, verb, resource, group="", namespace=None, subresource=None):
        """(allowed, reason) from a SelfSubjectAccessReview: asks, changes nothing."""
        attributes = k8s.V1ResourceAttributes(verb=verb, resource=resource, group=group or "",
                                              namespace=namespace, subresource=subresource)
        body = k8s.V1SelfSubjectAccessReview(spec=k8s.V1SelfSubjectAccessReviewSpec(resource_attributes=attributes))
        review = self.call("check access to %s %s" % (verb, resource),
                           self.authorization.create_self_subject_access_review, body)
        return bool(review.status.allowed), review.status.reason or review.status.evaluation_error or ""

    def exec_in_pod(self, namespace, pod, container, command, timeout):
        """Run `command` in a container; (rc, stdout, stderr). rc is None when the command did not finish."""
        from kubernetes.stream import stream  # noqa: PLC0415 - websocket client, only loaded when needed

        action = "exec in %s/%s" % (namespace, pod)
        self.requests += 1
        with self.translate(action):
            try:
                response = stream(self.core.connect_get_namespaced_pod_exec, pod, namespace, command=command,
                                  container=container, stdin=False, stdout=True, stderr=True, tty=False,
                                  _preload_content=False, _request_timeout=timeout)
            except ApiException:
                raise
            except Exception as exc:  # the websocket handshake reports HTTP errors as plain exceptions
                status = getattr(exc, "status", None) or _status_from_text(str(exc))
                if status:
                    raise ApiException(status=status, reason=str(exc)) from None
                raise errors.BrunoOpsError("cannot %s: %s" % (action, _reason(exc)), kind=errors.API) from None
            try:
                response.run_forever(timeout=timeout)
                stdout, stderr = response.read_stdout() or "", response.read_stderr() or ""
                rc = _exit_code(response)
            finally:
                response.close()
        return rc, stdout, stderr

    def close(self):
        with contextlib.suppress(Exception):
            self.api_client.close()


def api_error(action, exc, address):
    """BrunoOpsError from an ApiException, keeping the apiserver's own message (it names verb and resource)."""
    message = exc.reason or ""
    try:
        body = json.loads(exc.body or "{}")
        message = body.get("message") or message
    except (TypeError, ValueError):
        pass
    kinds = {401: errors.AUTH, 403: errors.FORBIDDEN, 404: errors.NOT_FOUND, 409: errors.CONFLICT, 422: errors.INVALID}
    kind = kinds.get(exc.status, errors.API)
    if exc.status == 422 and _failed_patch_test(exc.body, message):
        kind = errors.CONFLICT
    hints = {
        errors.AUTH: "; the credentials were rejected: check the kubeconfig user or kubernetes.api_key",
        errors.FORBIDDEN: "; grant the automation's Role this verb on this resource",
        errors.CONFLICT: "; the object changed while this ran (or the lock is held): read the message and rerun",
    }
    return errors.BrunoOpsError(
        "cannot %s: %s %s%s" % (action, exc.status, message, hints.get(kind, "")),
        kind=kind, address=address, status=exc.status,
    )


def _failed_patch_test(body, message):
    """A JSON patch whose `test` op failed: kube-apiserver answers a bare 422 Invalid with no details (older ones
    say "testing value"). The collection's patches are computed from the object they test, so that is a stale read."""
    if "testing value" in message:
        return True
    try:
        document = json.loads(body or "{}")
    except (TypeError, ValueError):
        return False
    return document.get("reason") == "Invalid" and not document.get("details")


def _exit_code(response):
    """The command's exit code from the exec error channel; None while it still runs.

    A kubelet reports a non-zero exit as reason NonZeroExitCode with the code in causes[0]; some
    implementations (kwok) send only "... exit status N" in the message, which the client's own
    `returncode` cannot parse, so the channel is read and parsed here.
    """
    if response.is_open():
        return None
    raw = response.read_channel(3)  # ERROR_CHANNEL
    try:
        status = json.loads(raw) if raw else {}
    except ValueError:
        status = {}
    if not raw or status.get("status") == "Success":
        return 0
    for cause in (status.get("details") or {}).get("causes") or []:
        if cause.get("reason") == "ExitCode" and str(cause.get("message", "")).isdigit():
            return int(cause["message"])
    match = re.search(r"exit status (\d+)", status.get("message") or raw)
    return int(match.group(1)) if match else 1


def _status_from_text(text):
    """The HTTP status in a websocket handshake error ("Handshake status 403 Forbidden"), if any."""
    for word in text.replace("(", " ").split():
        if word.isdigit() and len(word) == 3 and word[0] in "45":
            return int(word)
    return None


def _kubeconfig_problem(exc):
    """What is wrong with a kubeconfig the library could not read, without quoting it (it holds tokens and keys)."""
    mark = getattr(exc, "problem_mark", None)
    if mark is not None or type(exc).__module__.startswith("yaml"):
        where = " at line %d, column %d" % (mark.line + 1, mark.column + 1) if mark is not None else ""
        return "it is not valid YAML%s" % where
    if isinstance(exc, binascii.Error):
        return "a *-data field (certificate-authority-data, client-certificate-data, client-key-data) is not base64"
    if isinstance(exc, OSError):
        return "it cannot be read (%s)" % (exc.strerror or type(exc).__name__)
    return "its structure is not a kubeconfig's (%s)" % type(exc).__name__


def _reason(exc):
    reason = getattr(exc, "reason", None) or exc
    return " ".join(str(reason).split())[:300]

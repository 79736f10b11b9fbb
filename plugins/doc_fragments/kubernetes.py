# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Mirrors KUBERNETES_CONNECTION_SPEC in plugins/module_utils/clients/k8s_client.py.
    DOCUMENTATION = r"""
options:
  kubernetes:
    description:
      - How to reach the Kubernetes API. Credentials are picked in this order. O(kubernetes.host) with
        O(kubernetes.api_key) or a client certificate; else O(kubernetes.kubeconfig) / O(kubernetes.context); else
        E(K8S_AUTH_HOST) with E(K8S_AUTH_API_KEY), E(K8S_AUTH_SSL_CA_CERT) and E(K8S_AUTH_VERIFY_SSL) (what AWX's
        Kubernetes credential injects); else E(KUBECONFIG), then C(~/.kube/config); else the in-cluster
        ServiceAccount.
      - Pass an empty dict to use the default kubeconfig or the in-cluster ServiceAccount.
      - Share it between tasks with C(module_defaults) and the C(group/bruno.ops.kubernetes) action group.
    type: dict
    suboptions:
      kubeconfig:
        description: Path to a kubeconfig file.
        type: path
      context:
        description: Context of the kubeconfig to use; its current context when unset.
        type: str
      host:
        description: URL of the apiserver, for example C(https://api.example.com:6443). Skips the kubeconfig.
        type: str
      api_key:
        description: Bearer token for O(kubernetes.host). Never logged.
        type: str
      ca_cert:
        description: CA bundle to verify the apiserver with; overrides the kubeconfig's.
        type: path
      client_cert:
        description: Client certificate for O(kubernetes.host).
        type: path
      client_key:
        description: Key of O(kubernetes.client_cert).
        type: path
      validate_certs:
        description: Verify the apiserver certificate. Unset keeps the kubeconfig's setting.
        type: bool
      impersonate_user:
        description: Act as this user (needs the C(impersonate) verb).
        type: str
      impersonate_group:
        description: A group to impersonate together with O(kubernetes.impersonate_user).
        type: str
      request_timeout:
        description: Seconds to wait for one API response.
        type: float
        default: 30.0
requirements:
  - kubernetes (Python library)
"""

# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible_collections.bruno.ops.plugins.doc_fragments.connection import http_suboptions


class ModuleDocFragment:
    # Mirrors HTTP_ENDPOINT_SPEC in plugins/module_utils/clients/http_client.py.
    DOCUMENTATION = r"""
options:
  prometheus:
    description:
      - How to reach the Prometheus HTTP API.
      - Share it between tasks with C(module_defaults) and the C(group/bruno.ops.prometheus) action group.
    type: dict
""" + http_suboptions("Base URL of Prometheus, for example C(http://prometheus.monitoring:9090).",
                      "a tenant header of a multi-tenant Prometheus")

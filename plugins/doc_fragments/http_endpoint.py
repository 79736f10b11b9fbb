# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible_collections.bruno.ops.plugins.doc_fragments.connection import http_suboptions


class ModuleDocFragment:
    # The `endpoint` option: mirrors HTTP_ENDPOINT_SPEC in plugins/module_utils/clients/http_client.py.
    DOCUMENTATION = r"""
options:
  endpoint:
    description:
      - How to reach an HTTP endpoint of a service, such as the C(/metrics) of agent-bruno.
    type: dict
""" + http_suboptions("Base URL of the service, for example C(http://agent-bruno-service.bruno:8080).",
                      "a tenant or routing header")

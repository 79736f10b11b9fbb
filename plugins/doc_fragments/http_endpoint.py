# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The `endpoint` option: mirrors HTTP_ENDPOINT_SPEC in plugins/module_utils/clients/http_client.py.
    DOCUMENTATION = r"""
options:
  endpoint:
    description:
      - How to reach an HTTP endpoint of a service, such as the C(/metrics) of agent-bruno.
    type: dict
    suboptions:
      url:
        description:
          - Base URL of the service, for example C(http://agent-bruno-service.bruno:8080).
          - May hold C(user:password@), so it is never logged; the password is masked in every message.
        type: str
        required: true
      bearer_token:
        description: Token sent as C(Authorization Bearer). Never logged.
        type: str
      username:
        description: User for HTTP basic authentication.
        type: str
      password:
        description: Password for HTTP basic authentication. Never logged.
        type: str
      ca_cert:
        description: CA bundle to verify an HTTPS server with.
        type: path
      validate_certs:
        description: Verify the HTTPS server certificate.
        type: bool
        default: true
      timeout:
        description: Seconds to wait for one HTTP response.
        type: float
        default: 10.0
      headers:
        description: Extra HTTP headers to send, for example a tenant or routing header.
        type: dict
        default: {}
"""

# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Mirrors MONGODB_CONNECTION_SPEC in plugins/module_utils/clients/mongo_client.py.
    DOCUMENTATION = r"""
options:
  mongodb:
    description:
      - How to reach MongoDB (or a MongoDB-wire server such as FerretDB). Give either O(mongodb.uri) or
        O(mongodb.host)/O(mongodb.port) with optional credentials.
      - Share it between tasks with C(module_defaults) and the C(group/bruno.ops.mongodb) action group.
    type: dict
    suboptions:
      uri:
        description:
          - Connection string, C(mongodb://[user:password@]host:port/?options) or C(mongodb+srv://...).
          - May hold a password, so it is never logged.
        type: str
      host:
        description: Server host name or address.
        type: str
        default: localhost
      port:
        description: Server TCP port, 1 to 65535.
        type: int
        default: 27017
      username:
        description: User to authenticate as.
        type: str
      password:
        description: Password of O(mongodb.username). Never logged.
        type: str
      auth_source:
        description: Database that holds the user's credentials.
        type: str
        default: admin
      database:
        description: Database the application's data lives in (agent-bruno's C(MONGODB_DB) default).
        type: str
        default: agent_bruno
      tls:
        description: Connect with TLS.
        type: bool
        default: false
      ca_cert:
        description: CA bundle to verify the server certificate with.
        type: path
      validate_certs:
        description: Verify the server certificate when O(mongodb.tls=true).
        type: bool
        default: true
      connect_timeout:
        description: Seconds to wait for the TCP (and TLS) connection.
        type: float
        default: 5.0

      server_selection_timeout:
        description: Seconds to wait for a usable server before giving up.
        type: float
        default: 5.0
      socket_timeout:
        description: Seconds to wait for a reply to one operation.
        type: float
        default: 30.0
requirements:
  - pymongo (Python library)
"""

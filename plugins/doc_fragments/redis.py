# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Mirrors REDIS_CONNECTION_SPEC in plugins/module_utils/clients/redis_client.py.
    DOCUMENTATION = r"""
options:
  redis:
    description:
      - How to reach Redis. Give either O(redis.url) or O(redis.host)/O(redis.port)/O(redis.db).
      - Share it between tasks with C(module_defaults) and the C(group/bruno.ops.redis) action group.
    type: dict
    suboptions:
      url:
        description:
          - Connection URL, C(redis://[[user]:password@]host:port/db), C(rediss://...) for TLS, or C(unix://path).
          - The path is the database number, C(/0) when left out; anything else (C(/db7)) is an error, not db 0.
          - May hold a password, so it is never logged; a password with C(#), C(/) or C(?) works as it is.
        type: str
      host:
        description: Redis host name or address.
        type: str
        default: localhost
      port:
        description: Redis TCP port, 1 to 65535.
        type: int
        default: 6379
      db:
        description: Database number, 0 or more.
        type: int
        default: 0
      username:
        description: ACL user name (Redis 6+). Leave unset for the default user.
        type: str
      password:
        description: Password of O(redis.username), or the C(requirepass) password. Never logged.
        type: str
      tls:
        description: Connect with TLS.
        type: bool
        default: false
      ca_cert:
        description: CA bundle to verify the server certificate with.
        type: path
      validate_certs:
        description: Verify the server certificate when O(redis.tls=true).
        type: bool
        default: true
      connect_timeout:
        description: Seconds to wait for the TCP (and TLS) connection.
        type: float
        default: 5.0

      socket_timeout:
        description: Seconds to wait for a reply to one command.
        type: float
        default: 10.0
      retries:
        description: How many times a command is retried after a connection error or timeout.
        type: int
        default: 1
requirements:
  - redis (Python library, with hiredis recommended)
"""

# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation text the connection fragments share, written once: the sub-options of an HTTP option
(bruno.ops.http_endpoint, bruno.ops.prometheus) and the TLS sub-options of a server option (bruno.ops.redis,
bruno.ops.mongodb). Not a fragment itself: nothing extends bruno.ops.connection."""

from __future__ import annotations


class ModuleDocFragment:
    # Present so the file is a well-formed doc fragment; the text lives in the functions below.
    DOCUMENTATION = r"""
options: {}
"""


def http_suboptions(url_description, headers_example):
    """The `suboptions:` of an option built on HTTP_ENDPOINT_SPEC (plugins/module_utils/clients/http_client.py),
    indented for an option at the top level of `options:`."""
    return r"""    suboptions:
      url:
        description: %s
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
        description: Extra HTTP headers to send, for example %s.
        type: dict
        default: {}
""" % (url_description, headers_example)


def tls_suboptions(option):
    """tls, ca_cert, validate_certs and connect_timeout of a server option (`redis`, `mongodb`), indented as
    its sub-options."""
    return r"""      tls:
        description: Connect with TLS.
        type: bool
        default: false
      ca_cert:
        description: CA bundle to verify the server certificate with.
        type: path
      validate_certs:
        description: Verify the server certificate when O(%s.tls=true).
        type: bool
        default: true
      connect_timeout:
        description: Seconds to wait for the TCP (and TLS) connection.
        type: float
        default: 5.0
""" % option

# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one exception type of the collection.

Client layers translate every library error into BrunoOpsError with a ``kind`` a caller can act on,
so modules never show a traceback and never need to know which library raised what.
"""

from __future__ import annotations

# What went wrong, in the words a caller branches on.
UNREACHABLE = "unreachable"  # nothing answered at the address (refused, DNS, timeout)
AUTH = "authentication"  # the server answered but rejected the credentials
FORBIDDEN = "forbidden"  # authenticated, but not allowed to do this
NOT_FOUND = "not_found"
INVALID = "invalid_input"  # the caller's options are wrong; nothing was attempted
CONFIG = "configuration"  # the options are well-formed but what they point at is unusable (no kubeconfig file)
MISSING_LIBRARY = "missing_library"
API = "api_error"  # anything else the server said no to
GUARDRAIL = "guardrail"  # a change was refused before it was made: it would break a safety rule
CONFLICT = "conflict"  # someone else holds the change lock, or changed the object since it was read
ROLLOUT = "rollout_failed"  # a change was made but its rollout did not complete (and was rolled back)

KINDS = (UNREACHABLE, AUTH, FORBIDDEN, NOT_FOUND, INVALID, CONFIG, MISSING_LIBRARY, API, GUARDRAIL, CONFLICT,
         ROLLOUT)


class BrunoOpsError(Exception):
    """An error with a message fit for a person at 3 a.m. and a machine-readable kind."""

    def __init__(self, message, kind=API, **details):
        super().__init__(message)
        self.message = message
        self.kind = kind if kind in KINDS else API
        self.details = details

    def to_dict(self):
        result = {"kind": self.kind, "message": self.message}
        result.update(self.details)
        return result

    def __str__(self):
        return self.message


def missing_library(library, install, import_error, needed_for=""):
    """The error a client layer raises when its guarded import failed; never raised at import time."""
    return BrunoOpsError(
        "the '%s' Python library is required on the host running this module%s: pip install %s"
        % (library, " (%s)" % needed_for if needed_for else "", install),
        kind=MISSING_LIBRARY, exception=import_error)


def connection_option(spec, required=False):
    """A backend's nested connection option (`kubernetes`, `redis`, ...), ready to drop into an argument spec."""
    return dict(type="dict", required=required, options=spec)


# URLs in options and messages. User info is taken to end at the LAST '@' after "scheme://", so a password with a
# raw '#', '/', '?' or '@' (not percent-encoded) is still recognised as a password: it is never shown, and never
# misread as a path or a port. (A URL with '@' in its path and no user info must percent-encode that '@'.)
def split_url(url, option):
    """{scheme, username, password, host, port, rest}: `rest` is the URL without user info; `port` is None when
    not given. Raises an INVALID BrunoOpsError naming `option` for an unparsable URL, never quoting user info."""
    from urllib.parse import unquote, urlsplit  # noqa: PLC0415 - only the clients that take URLs need it

    text = url if isinstance(url, str) else ""
    scheme, sep, after = text.partition("://")
    if not sep or not scheme:
        raise BrunoOpsError("%s must be a URL of the form scheme://host:port/... (got %r)"
                            % (option, display_url(text)), kind=INVALID)
    userinfo, at, hostpart = after.rpartition("@")
    username, colon, password = userinfo.partition(":")
    rest = "%s://%s" % (scheme, hostpart)
    try:
        parts = urlsplit(rest)
        host = parts.hostname
    except ValueError as exc:  # an unbalanced '[' of an IPv6 address
        raise BrunoOpsError("%s has an invalid host (%s): write IPv6 addresses as [::1]" % (option, exc),
                            kind=INVALID) from None
    after_host = parts.netloc.rpartition("]")[2]  # what follows an IPv6 address's brackets, or the whole netloc
    port_text = after_host.rpartition(":")[2] if ":" in after_host else ""
    port = None
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise BrunoOpsError("%s has an invalid port %r: it must be a number between 1 and 65535 (%s)"
                                % (option, port_text[:20], display_url(text)), kind=INVALID)
        port = int(port_text)
    return {
        "scheme": scheme.lower(), "host": host, "port": port, "rest": rest,
        "username": unquote(username) if at else None,
        "password": unquote(password) if at and colon else None,
        "path": parts.path, "query": parts.query,
    }


def display_url(url, default_port=None, keep_path=True):
    """A URL fit for a message: no user info, no query or fragment, IPv6 hosts in brackets. Never raises."""
    text = url if isinstance(url, str) else ""
    scheme, sep, after = text.partition("://")
    if not sep:  # not a URL at all: shown as given, unless it may hold user info
        return "<not a URL>" if "@" in text else text[:80]
    hostpart = after.rpartition("@")[2]
    hostport, slash, path = hostpart.partition("/")
    hostport = hostport.split("?", 1)[0].split("#", 1)[0]
    path = ("/" + path).split("?", 1)[0].split("#", 1)[0] if slash and keep_path else ""
    if default_port and hostport and not hostport.rpartition("]")[2].count(":"):
        hostport = "%s:%s" % (hostport, default_port)
    return "%s://%s%s" % (scheme, hostport, path)


def host_port(host, port):
    """host:port, with an IPv6 address in brackets."""
    host = str(host)
    return "[%s]:%s" % (host, port) if ":" in host and not host.startswith("[") else "%s:%s" % (host, port)

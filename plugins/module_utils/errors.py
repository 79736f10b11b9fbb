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

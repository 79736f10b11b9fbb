# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which keys a session run may touch, and the options every session-changing module takes. Pure.

SCOPE_SPEC is documented once, by the bruno.ops.session_scope doc fragment; redis_session_cleanup and
session_archive both take it. Glob escaping, key names for output and bounded example keys live here too, so
the census, the cleanup and the archive use one of each.
"""

from __future__ import annotations

import re

from ansible_collections.bruno.ops.plugins.module_utils import errors
from ansible_collections.bruno.ops.plugins.module_utils.change.record import change_entry

DEFAULT_PREFIX = "bruno:session:"
SESSION_TYPES = ("list", "hash", "string", "set", "zset", "stream")

# Mirrored by plugins/doc_fragments/session_scope.py: keep the two in step.
SCOPE_SPEC = dict(
    prefix=dict(type="str", default=DEFAULT_PREFIX),
    pattern=dict(type="str"),
    allow_broad_pattern=dict(type="bool", default=False),
    batch_size=dict(type="int", default=1000),
    ops_per_second=dict(type="float"),
    max_duration=dict(type="float"),
    cursor=dict(type="str", default="0"),
    sample_size=dict(type="int", default=10),
)


def scope_options():
    """The session-scope options, ready to merge into an argument spec (a copy: specs get mutated)."""
    return {name: dict(option) for name, option in SCOPE_SPEC.items()}


def escape_glob(text):
    """A literal prefix as a Redis glob (its * ? [ ] \\ escaped)."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


def literal_prefix(pattern):
    """The part of a SCAN MATCH glob before its first special character (backslash escapes honoured)."""
    out = []
    escaped = False
    for char in pattern:
        if escaped:
            out.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in "*?[":
            break
        else:
            out.append(char)
    return "".join(out)


def resolve_scope(prefix, pattern, allow_broad_pattern):
    """The SCAN MATCH pattern a run uses, or BrunoOpsError(invalid_input) when it is too broad or inconsistent."""
    prefix = prefix or ""
    if pattern is None:
        pattern = escape_glob(prefix) + "*"
    if not pattern:
        raise errors.BrunoOpsError("pattern must not be empty", kind=errors.INVALID)
    literal = literal_prefix(pattern)
    if not allow_broad_pattern:
        if not literal:
            raise errors.BrunoOpsError(
                "refusing pattern %r: it has no literal prefix, so it could match every key in the database "
                "(for example the agent's sessions are 'bruno:session:*'); set allow_broad_pattern=true if you "
                "really mean it" % pattern,
                kind=errors.INVALID,
            )
        if not prefix:
            raise errors.BrunoOpsError(
                "refusing an empty prefix: it makes every key a session; set allow_broad_pattern=true if you "
                "really mean it",
                kind=errors.INVALID,
            )
    if not literal.startswith(prefix):
        raise errors.BrunoOpsError(
            "pattern %r does not start with prefix %r: every key the pattern matches must carry the prefix"
            % (pattern, prefix),
            kind=errors.INVALID,
        )
    return pattern


def outside_prefix(name, key, prefix):
    """Bookkeeping keys (lock, state) must not be sessions: a run would treat them as one."""
    if key and prefix and key.startswith(prefix):
        raise errors.BrunoOpsError("%s %r must not start with the sessions' prefix %r" % (name, key, prefix),
                                   kind=errors.INVALID)


def connection_params(given, spec):
    """A connection option as the module got it, or the spec's defaults when the option was left out."""
    if given is not None:
        return given
    return {name: option.get("default") for name, option in spec.items()}


def key_text(key):
    """A key (bytes) as text for output; bytes that are not UTF-8 shown as escapes."""
    return key.decode("utf-8", errors="backslashreplace") if isinstance(key, bytes) else str(key)


def redis_target(address, pattern):
    """The Redis scope of a run for a change record: the address (never credentials) and the pattern."""
    return "%s %s" % (address, pattern)


def session_change(action, address, pattern, diff, *, changed, undo, check_mode):
    """The run's change record entry: the counts of its diff (without the example keys) before and after."""
    def counts(side):
        return {name: value for name, value in side.items() if not name.endswith("_keys")}

    return change_entry(action, redis_target(address, pattern), changed=changed, before=counts(diff["before"]),
                        after=counts(diff["after"]), undo=undo,
                        note="check mode: predicted, nothing was changed" if check_mode else "")


class Samples:
    """At most `size` example keys per category, in the order they were seen."""

    def __init__(self, size):
        self.size = size
        self.data = {}

    def add(self, category, key):
        bucket = self.data.setdefault(category, [])
        if len(bucket) < self.size:
            bucket.append(key_text(key))

    def get(self, category):
        return list(self.data.get(category, []))

    def report(self, categories):
        return {name: self.get(name) for name in categories}

# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Redaction of what identifies agent-bruno's users: client IPs (its session keys are bruno:session:<ip>) and
chat text (turns' `message` / `response`, in logs and in documents). Pure, no I/O.

IPv4 addresses keep their first three octets (203.0.113.57 -> 203.0.113.x), IPv6 its first three groups
(2001:db8:1::5 -> 2001:db8:1:x); chat text is replaced by its length (<redacted 42 chars>).
"""

from __future__ import annotations

import ipaddress
import re

IPV4 = re.compile(r"(?<![\d.])(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?![\d.])")
IPV6 = re.compile(r"(?<![0-9A-Za-z])(?<![0-9A-Fa-f]:)(?=[0-9A-Fa-f:]*:[0-9A-Fa-f]*:)[0-9A-Fa-f:]{2,39}(?![0-9A-Za-z:])")
# "message": "..." / 'response': '...' / message="..." as JSON, Python reprs and key=value logs write them.
CHAT_FIELD = re.compile(
    r"""(?P<key>["']?(?:message|response|content|prompt)["']?\s*[:=]\s*)(?P<q>["'])(?P<text>(?:\\.|(?!(?P=q)).)*)(?P=q)""",
    re.IGNORECASE)
CHAT_KEYS = ("message", "response", "content", "prompt")


def _ipv4(match):
    if all(0 <= int(part) <= 255 for part in match.groups()):
        return "%s.%s.%s.x" % match.groups()[:3]
    return match.group(0)


def _ipv6(match):
    text = match.group(0)
    try:
        address = ipaddress.IPv6Address(text)
    except ValueError:
        return text
    groups = address.exploded.split(":")[:3]
    return ":".join(group.lstrip("0") or "0" for group in groups) + ":x"


def redact_ips(text):
    return IPV6.sub(_ipv6, IPV4.sub(_ipv4, text))


def chat_placeholder(text):
    return "<redacted %d chars>" % len(text)


def _chat_field(match):
    quote = match.group("q")
    return "%s%s%s%s" % (match.group("key"), quote, chat_placeholder(match.group("text")), quote)


def redact_text(text):
    """A log line or any string with client IPs masked and quoted chat fields replaced by their length."""
    if not isinstance(text, str):
        return text
    text = CHAT_FIELD.sub(_chat_field, text)
    return redact_ips(text)


def redact(value):
    """A copy of a JSON-like value with every string redacted and chat fields (message, response...) replaced."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            new_key = redact_text(key) if isinstance(key, str) else key
            if isinstance(key, str) and key.lower() in CHAT_KEYS and isinstance(item, str):
                out[new_key] = chat_placeholder(item)
            else:
                out[new_key] = redact(item)
        return out
    if isinstance(value, (list, tuple)):
        return [redact(item) for item in value]
    return redact_text(value)

"""remediation_verify's cleanup of the smoke chat, over a fake agent: what it says when the DELETE or the GET after
it fails (the published app answers /memory 500 while it cannot reach MongoDB). The real agent API is exercised in
tests/integration/remediate/test_verify_agent_api.py."""

import json

import pytest

from ansible_collections.bruno.ops.plugins.module_utils import errors
from ansible_collections.bruno.ops.plugins.modules import remediation_verify

PARAMS = {name: spec.get("default") for name, spec in remediation_verify.ARGUMENT_SPEC.items()}


class FakeAgent:
    """Answers (method, path) from a table: a dict is 200 JSON, an int is that HTTP error."""

    def __init__(self, answers):
        self.answers, self.calls = answers, []

    def request(self, path, method="GET", body=None, headers=None, action=None):
        self.calls.append((method, path, headers))
        answer = self.answers[(method, path)]
        if isinstance(answer, list):
            answer = answer.pop(0)
        if isinstance(answer, int):
            raise errors.BrunoOpsError("cannot %s: answered HTTP %d" % (action, answer), status=answer)
        return 200, {}, json.dumps(answer).encode(), 1.0


MEMORY = "/memory/192.0.2.10"
CHAT = {"response": "hi", "timestamp": "2026-12-02T20:00:00Z", "model": "llama3.2:3b", "sources": ["Agent Bruno"]}


@pytest.mark.parametrize(("delete", "after", "passed", "words"), [
    ({"status": "success"}, {"recent_messages": 0}, True, None),
    ({"status": "success"}, {"recent_messages": 1}, False, "still shows 1 turn(s) after the DELETE"),
    (500, {"recent_messages": 0}, False, "the Redis session is gone, but the app's MongoDB history"),
    (500, 500, False, "is left behind; delete it with DEL bruno:session:192.0.2.10"),
    ({"status": "success"}, 500, True, None),  # the app's word; noted, not failed
])
def test_cleanup_outcomes(delete, after, passed, words):
    agent = FakeAgent({("POST", "/chat"): CHAT, ("GET", MEMORY): [{"recent_messages": 1}, after],
                       ("DELETE", MEMORY): delete})
    check, notes, warnings = remediation_verify.chat(agent, dict(PARAMS))
    assert check["passed"] is passed, check
    if words:
        assert words in check["summary"]
    assert agent.calls[0] == ("POST", "/chat", {"X-Forwarded-For": "192.0.2.10"})
    assert warnings == []
    if after == 500 and passed:
        assert any("could not tell whether the session is gone" in note for note in notes)


def test_another_address_is_warned_about_and_masked():
    address = "10.20.30.40"
    agent = FakeAgent({("POST", "/chat"): CHAT, ("GET", "/memory/" + address): {"recent_messages": 0},
                       ("DELETE", "/memory/" + address): {"status": "success"}})
    check, notes, warnings = remediation_verify.chat(agent, dict(PARAMS, chat_client_ip=address))
    assert "not a documentation address" in warnings[0] and "10.20.30.x" in warnings[0]
    assert address not in json.dumps([check, notes, warnings])
    assert any("no session for 10.20.30.x right after the chat" in note for note in notes)


def test_a_bad_address_is_refused_before_anything_is_sent():
    with pytest.raises(errors.BrunoOpsError, match="chat_client_ip 'nope' is not an IP address"):
        remediation_verify.validate(dict(PARAMS, chat_client_ip="nope", name="agent-bruno"))


@pytest.mark.parametrize("check_mode", [True, False])
def test_check_mode_sends_no_smoke_chat(monkeypatch, check_mode):
    agent = FakeAgent({("GET", "/health"): {"status": "healthy"}, ("GET", "/ready"): {"status": "ready"},
                       ("POST", "/chat"): CHAT, ("GET", MEMORY): [{"recent_messages": 1}, {"recent_messages": 0}],
                       ("DELETE", MEMORY): {"status": "success"}})
    monkeypatch.setattr(remediation_verify, "HttpClient", lambda endpoint: agent)
    checks, notes = [], []
    remediation_verify.agent_checks(dict(PARAMS, endpoint="http://agent.test"), checks, notes, check_mode)
    writes = [call for call in agent.calls if call[0] in ("POST", "DELETE")]
    if check_mode:
        assert writes == [] and any("smoke chat was skipped" in note for note in notes)
        assert len(checks) == 1  # health only
    else:
        assert [call[0] for call in writes] == ["POST", "DELETE"] and len(checks) == 2

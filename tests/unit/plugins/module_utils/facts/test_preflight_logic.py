"""The pure parts of preflight: which failures are fatal, and how rows are counted."""

import contextlib

import pytest

from ansible_collections.bruno.ops.plugins.module_utils import errors
from ansible_collections.bruno.ops.plugins.module_utils.facts import preflight


def row(backend, status, **fields):
    result = preflight.new_row(backend, status=status)
    result.update(fields)
    return result


def unreachable(backend):
    return preflight.record_error(preflight.new_row(backend),
                                  errors.BrunoOpsError("down", kind=errors.UNREACHABLE, address="x:1"))


def test_record_error_sets_reachability_from_kind():
    auth = preflight.record_error(preflight.new_row("redis"), errors.BrunoOpsError("no", kind=errors.AUTH))
    assert (auth["reachable"], auth["authenticated"], auth["status"]) == (True, False, "failed")
    down = unreachable("redis")
    assert (down["reachable"], down["authenticated"], down["address"]) == (False, None, "x:1")
    forbidden = preflight.record_error(preflight.new_row("kubernetes"),
                                       errors.BrunoOpsError("no", kind=errors.FORBIDDEN))
    assert (forbidden["reachable"], forbidden["authenticated"]) == (True, True)


@pytest.mark.parametrize(("fail_on", "expected"), [
    ([], 0),
    (["authentication"], 0),
    (["unreachable"], 1),
    (["any"], 1),
])
def test_unreachable_is_fatal_only_when_asked(fail_on, expected):
    rows = [unreachable("redis"), row("mongodb", "ok", reachable=True, authenticated=True),
            preflight.new_row("prometheus")]
    assert len(preflight.fatal_reasons(rows, fail_on)) == expected


def test_missing_access_is_fatal_per_purpose():
    access = [
        {"purpose": "diagnose", "verb": "list", "resource": "pods", "allowed": True},
        {"purpose": "remediate", "verb": "patch", "resource": "deployments.apps", "allowed": False},
    ]
    rows = [row("kubernetes", "limited", reachable=True, authenticated=True, access=access)]
    assert preflight.fatal_reasons(rows, ["diagnose_access"]) == []
    reasons = preflight.fatal_reasons(rows, ["remediate_access"])
    assert reasons == ["kubernetes identity lacks remediate access: patch deployments.apps"]


def test_access_asked_by_name_but_kubernetes_not_configured_is_fatal():
    rows = [preflight.new_row("kubernetes")]
    assert preflight.fatal_reasons(rows, ["any"]) == []  # "any" means "every configured backend"
    assert "not set" in preflight.fatal_reasons(rows, ["diagnose_access"])[0]


def test_failed_kubernetes_is_reported_once_under_any():
    rows = [unreachable("kubernetes")]
    assert len(preflight.fatal_reasons(rows, ["any"])) == 1


def test_summarize_counts_each_status():
    rows = [row("kubernetes", "limited"), row("redis", "ok"), unreachable("mongodb"), preflight.new_row("prometheus")]
    assert preflight.summarize(rows) == {"ok": 1, "limited": 1, "failed": 1, "skipped": 1}


class FakeRedis:
    """A RedisClient stand-in: raw commands that answer or raise, and the client's translate()."""

    def __init__(self, refuse=(), down=False):
        self.refuse, self.down = refuse, down
        self.raw = self

    @contextlib.contextmanager
    def translate(self, action):
        try:
            yield
        except PermissionError:
            raise errors.BrunoOpsError("cannot %s: NOPERM" % action, kind=errors.FORBIDDEN) from None
        except ConnectionError:
            raise errors.BrunoOpsError("cannot %s: down" % action, kind=errors.UNREACHABLE) from None

    def client_list(self):
        return self._answer("client_list", [])

    def slowlog_len(self):
        return self._answer("slowlog", 0)

    def _answer(self, name, value):
        if self.down:
            raise ConnectionError
        if name in self.refuse:
            raise PermissionError
        return value


def test_the_diagnosis_reads_redis_needs():
    assert preflight.diagnosis_reads(FakeRedis()) == {"client_list": True, "slowlog": True}
    refused = preflight.diagnosis_reads(FakeRedis(refuse=("client_list",)))
    assert refused == {"client_list": "cannot run CLIENT LIST: NOPERM", "slowlog": True}
    with pytest.raises(errors.BrunoOpsError):
        preflight.diagnosis_reads(FakeRedis(down=True))

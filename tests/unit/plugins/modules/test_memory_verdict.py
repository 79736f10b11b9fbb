"""memory_verdict through its main(): the fix joined in from the catalogue, thresholds checked."""

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.bruno.ops.plugins.module_utils.change.fixes import FIXES
from ansible_collections.bruno.ops.plugins.module_utils.decide import causes
from ansible_collections.bruno.ops.plugins.modules import memory_verdict

GIB = 2 ** 30
# A session flood, as the gather modules register it.
RESULTS = {
    "kubernetes": {"summary": {"limits_bytes": [GIB], "max_usage_pct_of_limit": 88.0, "oom_kills": 0,
                               "total_restarts": 0}},
    "prometheus": {"aggregate": {"history_seconds": 6 * 3600, "growth_per_hour_max": 40 * 2 ** 20,
                                 "p95_max": 0.8 * GIB, "correlation_r": 0.93,
                                 # the working set moves with the session count (regress_on), as much as with age
                                 "persistent_growth_per_hour": 40 * 2 ** 20, "lifetime_seconds_max": 6 * 3600,
                                 "regression_share": 0.49, "regression_slope": 1500.0, "regression_r2": 0.97,
                                 "regression_r2_age": 0.96, "regression_collinear": True}},
    "redis": {"count": 300000, "ttl": {"without_ttl_pct": 40.0}, "context_length": {"p95": 12},
              "memory": {"mean_bytes": 4000}, "server": {"connected_clients": 12}},
    "mongodb": {"connections": {"current": None}},
    "agent": {"families": {}},
    "logs": {"logs": []},
}


def run_main(capsys, args):
    with patch_module_args(args), pytest.raises(SystemExit) as exited:
        memory_verdict.main()
    return exited.value.code, json.loads(capsys.readouterr().out)


def test_the_verdict_carries_each_cause_fix(capsys):
    code, result = run_main(capsys, {"results": RESULTS})
    assert code == 0 and result["changed"] is False
    verdict = result["verdict"]
    assert verdict["primary"] == "too_many_sessions"
    assert verdict["headline"] == causes.BY_NAME["too_many_sessions"].summary
    for cause in verdict["causes"]:
        assert cause["fix_id"] == causes.BY_NAME[cause["cause"]].fix
        expected = {"summary": causes.BY_NAME[cause["cause"]].summary, "playbooks": FIXES[cause["fix_id"]]["playbooks"]}
        if FIXES[cause["fix_id"]].get("advice"):
            expected["advice"] = FIXES[cause["fix_id"]]["advice"]
        assert cause["fix"] == expected
    assert verdict["causes"][0]["fix"]["summary"] == verdict["headline"]
    assert verdict["plan"]["steps"] == [dict(step, causes=["too_many_sessions"])
                                        for step in verdict["causes"][0]["fix"]["playbooks"]]
    assert result["sources"]["kubernetes"] is True and result["facts"]["sessions"] == 300000


def test_the_join_leaves_the_catalogue_alone(capsys):
    _rc, result = run_main(capsys, {"results": RESULTS})
    result["verdict"]["causes"][0]["fix"]["playbooks"].clear()
    assert all(entry["playbooks"] for entry in FIXES.values())


@pytest.mark.parametrize(("thresholds", "message", "details"), [
    ({"sessions_mny": 1}, "thresholds: unknown name(s) sessions_mny; known: ", {"unknown": ["sessions_mny"]}),
    ({"sessions_many": 0}, "thresholds.sessions_many: 0 is outside the allowed range 1 to 1000000000 (default 50000)",
     {"threshold": "sessions_many", "minimum": 1, "maximum": 10 ** 9}),
])
def test_a_wrong_threshold_fails_with_one_clear_error(capsys, thresholds, message, details):
    code, result = run_main(capsys, {"results": RESULTS, "thresholds": thresholds})
    assert code == 1
    assert result["msg"].startswith(message)
    assert result["error"] == dict(kind="invalid_input", message=result["msg"], **details)


def test_thresholds_in_bounds_change_the_verdict(capsys):
    _rc, result = run_main(capsys, {"results": RESULTS, "thresholds": {"session_memory_share_pct": "100"}})
    assert result["verdict"]["thresholds"]["session_memory_share_pct"] == 100.0
    # sessions that account for 49 % of the working set are no longer enough: the growth is no longer theirs
    assert result["verdict"]["primary"] == "memory_leak"

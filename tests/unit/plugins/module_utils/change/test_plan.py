"""fixes.plan: the fixes of two causes in one safe order, shared steps once."""

from ansible_collections.bruno.ops.plugins.module_utils.change import fixes
from ansible_collections.bruno.ops.plugins.module_utils.decide import causes


def fix_of(name):
    return fixes.fix(causes.BY_NAME[name].fix, causes.BY_NAME[name].summary)


def playbooks(plan):
    return [(s["playbook"].split("/")[-1], s["causes"]) for s in plan["steps"]]


def test_one_cause_is_its_fix():
    plan = fixes.plan([("memory_leak", fix_of("memory_leak"))])
    assert playbooks(plan) == [("restart.yml", ["memory_leak"])] and plan["merged"] == []


def test_a_shared_restart_runs_once():
    plan = fixes.plan([("memory_leak", fix_of("memory_leak")),
                       ("connection_pool_exhaustion", fix_of("connection_pool_exhaustion"))])
    assert playbooks(plan) == [("restart.yml", ["memory_leak", "connection_pool_exhaustion"])]
    assert plan["merged"] == ["playbooks/restart.yml runs once for memory_leak and connection_pool_exhaustion"]


def test_data_first_then_settings_and_no_restart_after_a_rollout():
    plan = fixes.plan([("connection_pool_exhaustion", fix_of("connection_pool_exhaustion")),
                       ("too_many_sessions", fix_of("too_many_sessions"))])
    assert playbooks(plan) == [("cleanup_sessions.yml", ["too_many_sessions"]),
                               ("reduce_session_ttl.yml", ["too_many_sessions"])]
    assert plan["merged"] == ["playbooks/restart.yml (for connection_pool_exhaustion) left out: "
                              "playbooks/reduce_session_ttl.yml already rolls the pods"]


def test_the_plan_leaves_the_fixes_alone():
    leak = fix_of("memory_leak")
    fixes.plan([("memory_leak", leak)])
    assert "causes" not in leak["playbooks"][0]

"""The kind scenario's expected verdicts follow from the verdict's rules on what a kind cluster can show.

The kind scenario cannot run on the project's machines, so its expectations (extensions/molecule/kind/molecule.yml)
are checked here against verdict.decide on facts shaped like a fresh kind cluster: a few tens of MiB of the 1Gi
limit (metrics.k8s.io), no Prometheus at all, and the connections the case's knobs hold.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ansible_collections.bruno.ops.plugins.module_utils.decide.verdict import DEFAULT_THRESHOLDS, decide

ROOT = Path(__file__).resolve().parents[3]
KIND = ROOT / "extensions" / "molecule" / "kind"
KIND_VARS = yaml.safe_load((KIND / "molecule.yml").read_text())["provisioner"]["inventory"]["host_vars"]["localhost"]
KIND_CASES = {case["name"]: case for case in KIND_VARS["bruno_molecule_cases"]}

# A fresh kind cluster: two agent pods at ~50Mi of 1Gi, no sessions, a handful of connections.
FRESH = {
    "limit_bytes": 2**30,
    "usage_max_pct": 5.0,
    "oom_kills": 0,
    "restarts": 0,
    "history_hours": None,
    "growth_mib_per_hour": None,
    "p95_pct": None,
    "session_correlation": None,
    "sessions": 0,
    "sessions_without_ttl_pct": None,
    "context_p95_messages": None,
    "session_mean_bytes": None,
    "redis_clients": 8,
    "mongo_connections": 15,
    "pool_in_use_pct": 0.0,
    "log_memory_lines": 0,
}
BASELINE_REDIS_CLIENTS = FRESH["redis_clients"]
NO_PROMETHEUS = {
    "kubernetes": True,
    "prometheus": "not gathered",
    "redis": True,
    "mongodb": True,
    "agent": True,
    "logs": True,
}


def held(case):
    return case.get("knobs", {}).get("hold-connections", {})


def test_kind_cases():
    assert set(KIND_CASES) == {"healthy", "pool-exhaustion"}


def test_healthy():
    assert decide(FRESH, NO_PROMETHEUS)["primary"] == KIND_CASES["healthy"]["expect"] == "none"


@pytest.mark.parametrize("pool_in_use_pct", [0.0, 100.0])  # /metrics answers from either pod
@pytest.mark.parametrize("missing", [None, "mongodb", "agent"])
def test_pool_exhaustion(pool_in_use_pct, missing):
    case = KIND_CASES["pool-exhaustion"]
    hold = held(case)
    leaked = case["knobs"]["leak"]["bytes"]
    facts = dict(
        FRESH,
        usage_max_pct=FRESH["usage_max_pct"] + 100.0 * leaked / FRESH["limit_bytes"],
        redis_clients=BASELINE_REDIS_CLIENTS + hold["redis"],
        pool_in_use_pct=pool_in_use_pct,
    )
    sources = dict(NO_PROMETHEUS)
    if missing:
        sources[missing] = "unreachable"
        facts["mongo_connections" if missing == "mongodb" else "pool_in_use_pct"] = None
    assert decide(facts, sources)["primary"] == case["expect"] == "connection_pool_exhaustion"


def test_pool_exhaustion_holds_what_the_lab_scenario_holds():
    from labctl import scenario_specs  # noqa: PLC0415 (lab/ is put on sys.path by tests/conftest.py)

    hold = held(KIND_CASES["pool-exhaustion"])
    assert hold["redis"] == scenario_specs.get("pool-exhaustion").hold_redis_connections
    assert hold["redis"] >= DEFAULT_THRESHOLDS["redis_clients_many"]
    assert "redis_pool" not in hold  # the real app has no pool setting to exhaust (no REDIS_POOL_SIZE)
    assert "REDIS_POOL_SIZE" not in agent_env()


def agent_env():
    items = yaml.safe_load((KIND / "manifests" / "agent-bruno.yaml").read_text())["items"]
    (deployment,) = [item for item in items if item["kind"] == "Deployment"]
    (container,) = [c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "agent-bruno"]
    return {item["name"]: int(item["value"]) for item in container["env"] if str(item.get("value", "")).isdigit()}


def test_pool_exhaustion_without_memory_pressure_is_a_warning_beside_none():
    """The held connections alone, at 5 % of the limit: no memory problem, the pool said as a warning."""
    facts = dict(FRESH, redis_clients=BASELINE_REDIS_CLIENTS + held(KIND_CASES["pool-exhaustion"])["redis"])
    verdict = decide(facts, NO_PROMETHEUS)
    assert verdict["primary"] == "none"
    assert [w["cause"] for w in verdict["warnings"]] == ["connection_pool_exhaustion"]

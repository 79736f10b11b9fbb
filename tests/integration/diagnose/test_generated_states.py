"""diagnose.yml against generated lab states (labctl.generator, applied with `lab/lab generated SEED CLASS`): the
verdict a full run gives from the live lab is the answer the state was generated with (State.expected). A small
sample at a fixed seed, one per kind: a single cause, busy but healthy, a pair, a step; bench/verdict/accuracy.py
measures the pure verdict on hundreds. Needs the live lab: run under `flock /tmp/bruno-lab.lock`."""

import json

import pytest

from bruno_it import LAB_DIR, run_lab, run_playbook
from labctl import generator

# Chosen so each state is quick to apply (few replicas, hours of history, a Redis within the lab's caps) and
# covers one kind each; `lab/lab generated 69 CLASS` reproduces any of them.
SEED = 69
CLASSES = ("memory_leak", "busy_healthy", "memory_leak+connection_pool_exhaustion", "step")


@pytest.fixture(scope="module", autouse=True)
def healthy_afterwards(lab):
    yield
    run_lab("scenario", "healthy")  # the lab as other tests expect it (the manifest's replicas and limit)


def diagnose(tmp_path, state):
    extra = {"diagnose_report_dir": str(tmp_path), "diagnose_history": "%ds" % state.history_seconds,
             "diagnose_step": "%ds" % state.step_seconds}
    result = run_playbook("playbooks/diagnose.yml", extra)
    assert result.returncode == 0, result.stdout[-4000:]
    assert "Traceback" not in result.stdout + result.stderr
    return json.loads((tmp_path / "diagnosis.json").read_text())


@pytest.mark.parametrize("cls", CLASSES)
def test_a_generated_state_gets_its_expected_verdict(lab, cls, tmp_path):
    state = generator.generate(SEED, cls)
    assert not state.stopped, "pick a seed whose states stop no source (the lab stops only some)"
    run_lab("generated", str(SEED), cls)
    applied = json.loads((LAB_DIR / "scenario.json").read_text())
    assert applied["seed"] == SEED and applied["class"] == cls and len(applied["pods"]) == state.replicas
    report = diagnose(tmp_path, state)
    verdict = report["verdict"]
    assert all(ok is True for ok in report["sources"].values()), report["sources"]
    ranked = [(c["cause"], c["confidence"]) for c in verdict["causes"]]
    why = "seed %s %s, injected %s: %s; %s" % (SEED, cls, state.injected, verdict["headline"], ranked)
    if len(state.expected) == 2:  # a pair: both named, the stronger first, in either order
        assert {verdict["primary"], *verdict["also"]} == set(state.expected), why
    else:
        assert verdict["primary"] == state.expected[0], why
        assert not verdict["also"], why

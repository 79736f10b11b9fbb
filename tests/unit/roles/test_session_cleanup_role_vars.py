"""The session_cleanup role's list of known variables (issue 18 item 10: any other session_cleanup_* variable is a
misspelling and fails the run) stays in step with meta/argument_specs.yml and the facts its tasks set."""

from pathlib import Path

import yaml

ROLE = Path(__file__).resolve().parents[3] / "roles" / "session_cleanup"


def test_the_known_names_are_the_argument_spec_and_the_tasks_facts():
    known = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())["session_cleanup_known_variables"]
    spec = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    assert set(spec) <= set(known)
    assert set(defaults) == set(spec)
    tasks = (ROLE / "tasks" / "main.yml").read_text()
    for name in set(known) - set(spec):
        assert name in tasks, "%s is known but no task sets it" % name


def test_the_limits_take_null_for_no_limit():
    spec = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    for name in ("session_cleanup_ops_per_second", "session_cleanup_max_duration"):
        assert spec[name]["type"] == "raw", "%s: a float type refuses null" % name

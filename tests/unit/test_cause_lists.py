"""The lists of causes outside Python (roles, AWX survey, molecule, docs) agree with the registry of
plugins/module_utils/decide/causes/. docs/diagnosis.md ("Adding a cause") says which to edit for a new cause."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

from ansible_collections.bruno.ops.plugins.module_utils.change.fixes import FIXES
from ansible_collections.bruno.ops.plugins.module_utils.decide import causes, verdict
from labctl import scenario_specs

ROOT = Path(__file__).resolve().parents[2]
NAMES = list(causes.NAMES)
VERDICTS = {"none", "unknown"}  # what the verdict says when no cause is named


def load(relative):
    return yaml.safe_load((ROOT / relative).read_text())


def survey_choices(template_name, variable):
    templates = load("awx/job_templates.yml")["bruno_awx_job_templates"]
    template = next(t for t in templates if t["name"] == template_name)
    questions = [q for q in template["survey_spec"]["spec"] if q["variable"] == variable]
    assert len(questions) == 1, "one survey question %s in awx/job_templates.yml" % variable
    return questions[0]["choices"]


# Every list of all causes, where it is: (file, how to read it).
LISTS = {
    "roles/remediate/defaults/main.yml": lambda: load("roles/remediate/defaults/main.yml")["remediate_allowed_causes"],
    "roles/remediate/meta/argument_specs.yml": lambda: load("roles/remediate/meta/argument_specs.yml")[
        "argument_specs"]["main"]["options"]["remediate_allowed_causes"]["choices"],
    "awx/job_templates.yml": lambda: survey_choices("bruno.ops remediate", "remediate_allowed_causes"),
}


@pytest.mark.parametrize("where", sorted(LISTS))
def test_every_list_of_all_causes_is_the_registry(where):
    assert LISTS[where]() == NAMES, "%s: the causes, in the registry's order (plugins/module_utils/decide/causes/)" % (
        where)


def yaml_files():
    for top in ("awx", "roles", "playbooks", "extensions", "inventory", "meta", "deploy"):
        for path in sorted((ROOT / top).rglob("*.y*ml")):
            if path.suffix in (".yml", ".yaml") and not any(part.startswith(".") for part in path.parts):
                yield path


def string_lists(node):
    if isinstance(node, dict):
        for value in node.values():
            yield from string_lists(value)
    elif isinstance(node, list):
        if node and all(isinstance(item, str) for item in node):
            yield node
        for item in node:
            yield from string_lists(item)


def test_no_other_yaml_list_names_some_causes_only():
    # Any YAML list that names two causes or more is a list of causes: it must hold them all.
    wrong = {}
    for path in yaml_files():
        try:
            documents = list(yaml.safe_load_all(path.read_text()))
        except yaml.YAMLError:
            continue
        for document in documents:
            for items in string_lists(document):
                if len(set(items) & set(NAMES)) >= 2 and sorted(items) != sorted(NAMES):
                    wrong.setdefault(str(path.relative_to(ROOT)), []).append(items)
    assert not wrong


def test_molecule_cases_name_registered_causes_and_the_lab_scenarios():
    lab = load("extensions/molecule/lab/molecule.yml")["provisioner"]["inventory"]["host_vars"]["localhost"]
    cases = {case["name"]: case["expect"] for case in lab["bruno_molecule_cases"]}
    assert set(cases.values()) <= set(NAMES) | VERDICTS
    assert cases == {name: spec.cause for name, spec in scenario_specs.SCENARIOS.items()}
    kind = load("extensions/molecule/kind/molecule.yml")["provisioner"]["inventory"]["host_vars"]["localhost"]
    assert {case["expect"] for case in kind["bruno_molecule_cases"]} <= set(NAMES) | VERDICTS


def test_the_e2e_test_knows_each_cause_actions():
    source = (ROOT / "tests" / "integration" / "remediate" / "test_remediate_e2e.py").read_text()
    actions = next(ast.literal_eval(node.value) for node in ast.walk(ast.parse(source))
                   if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "ACTIONS")
    assert list(actions) == ["none"] + NAMES


def test_every_playbook_of_a_fix_exists_and_has_its_role():
    roles = load("roles/remediate/vars/main.yml")["remediate_roles"]
    for fix_id, entry in FIXES.items():
        for step in entry["playbooks"]:
            assert (ROOT / step["playbook"]).is_file(), (fix_id, step["playbook"])
            assert step["playbook"] in roles, "roles/remediate/vars/main.yml has no role for %s" % step["playbook"]


def table(markdown, header):
    """The rows (lists of cells) of the table whose header row starts with `header`."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]])
    return rows


DIAGNOSIS = (ROOT / "docs" / "diagnosis.md").read_text()


def test_the_docs_causes_table_is_the_registry():
    rows = table(DIAGNOSIS, "| cause | score | explained by | needs | fix |")
    assert [row[0].strip("`") for row in rows] == NAMES
    for row in rows:
        cause = causes.BY_NAME[row[0].strip("`")]
        assert row[3].split(", ") == list(cause.needs), cause.name
        assert set(re.findall(r"`([a-z]+_[a-z_]+)`", row[2])) == set(cause.explained_by), cause.name
        playbooks = [Path(step["playbook"]).name for step in FIXES[cause.fix]["playbooks"]]
        assert re.findall(r"`([a-z_]+\.yml)`", row[4]) == playbooks, cause.name


def test_the_docs_thresholds_table_is_the_registry():
    rows = table(DIAGNOSIS, "| name | owner | default | allowed | why |")
    specs = verdict.threshold_specs()
    assert [row[0].strip("`") for row in rows] == list(specs)
    for cell, owner, default, allowed, why in rows:
        name = cell.strip("`")
        expected_owner = "engine" if name in verdict.THRESHOLDS else next(
            "`%s`" % c.name for c in causes.REGISTRY if name in c.thresholds)
        low, high = allowed.split(" to ")
        assert (owner, float(default), float(low), float(high), why) == (
            expected_owner, specs[name][0], specs[name][1], specs[name][2], specs[name][3]), name


def test_the_docs_name_every_file_a_new_cause_touches():
    section = DIAGNOSIS[DIAGNOSIS.index("## Adding a cause"):]
    for path in ["plugins/module_utils/decide/causes/__init__.py", "plugins/module_utils/change/fixes.py",
                 "docs/diagnosis.md", "tests/integration/remediate/test_remediate_e2e.py", *LISTS]:
        assert "`%s`" % path in section, path

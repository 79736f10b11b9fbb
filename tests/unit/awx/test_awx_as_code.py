"""AWX / AAP as code (awx/), checked without a controller.

- Every job template's playbook exists, and its survey asks only for variables of the role(s) that playbook
  runs, with agreeing types, choices and defaults.
- The surveys pass the controller's own checks (its survey_spec API validation and the launch-time checks
  that silently drop an invalid default, ported below).
- Every awx.awx task in configure.yml, and every key of the data files it loops over, is an option of the
  module: fixtures/awx_module_specs.json, extracted by extract_awx_specs.py from the awx.awx that the
  `ansible` package on PyPI ships.
- The credential types inject only declared inputs, secret inputs are `secret: true`, and what they inject
  (rendered as the controller renders it) validates against the modules' own redis / mongodb option specs.
- The schedule's rrule is hourly and passes the controller's rules.
- configure.yml runs end to end against stand-in awx.awx modules generated from those option specs.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from dateutil import rrule as dateutil_rrule
from jinja2 import meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ansible_collections.bruno.ops.plugins.module_utils.clients import mongo_client, redis_client

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
AWX = ROOT / "awx"
PLAYBOOKS_DIR = ROOT / "playbooks"
ROLES = ROOT / "roles"
RULEBOOKS = ROOT / "extensions" / "eda" / "rulebooks"
SPECS = json.loads((HERE / "fixtures" / "awx_module_specs.json").read_text())


class AnsibleYamlLoader(yaml.SafeLoader):
    """Safe YAML that also reads Ansible's !unsafe and !vault tags (as plain strings)."""


for _tag in ("!unsafe", "!vault"):
    AnsibleYamlLoader.add_constructor(_tag, lambda loader, node: loader.construct_scalar(node))


def load_yaml(path):
    return yaml.load(Path(path).read_text(), Loader=AnsibleYamlLoader)  # noqa: S506 - a SafeLoader subclass


CONFIGURE = load_yaml(AWX / "configure.yml")
PLAY = CONFIGURE[0]
DATA = {}
for _name in PLAY["vars_files"]:
    DATA.update(load_yaml(AWX / _name))
TEMPLATES = DATA["bruno_awx_job_templates"]
TEMPLATE_BY_NAME = {template["name"]: template for template in TEMPLATES}
CREDENTIAL_TYPES = DATA["bruno_awx_credential_types"]
CREDENTIALS = DATA["bruno_awx_credentials"]
SCHEDULES = DATA["bruno_awx_schedules"]

# The templates an EDA rulebook launches with variables of its own (bruno_alert, bruno_namespace, ...).
EDA_LAUNCHED = ("playbooks/diagnose.yml", "playbooks/remediate.yml")
# The controller attaches only credentials of these kinds to a job template.
ATTACHABLE_KINDS = {"ssh", "vault", "cloud", "net", "kubernetes"}
# Which client spec each injected backend variable must satisfy.
INJECTED_SPECS = {
    "bruno_redis": redis_client.REDIS_CONNECTION_SPEC,
    "bruno_mongodb": mongo_client.MONGODB_CONNECTION_SPEC,
}
SECRET_NAME = re.compile(r"password|passphrase|token|secret|(^|_)key($|_)|^uri$|^url$")
INCLUDE_ROLE = {"include_role", "import_role", "ansible.builtin.include_role", "ansible.builtin.import_role"}
IMPORT_PLAYBOOK = {"import_playbook", "ansible.builtin.import_playbook"}


# ---------------------------------------------------------------------------------------------------------------
# Helpers: tasks, module options, playbooks and roles


def imported_playbook(path, name):
    """The file of an import_playbook: a path next to `path`, or a playbook of this collection (bruno.ops.run.start)."""
    if name.startswith("bruno.ops."):
        return PLAYBOOKS_DIR.joinpath(*name[len("bruno.ops."):].split(".")).with_suffix(".yml")
    return path.parent / name


def tasks_of(play):
    """Every task of a play or task list, blocks flattened."""
    items = (
        play
        if isinstance(play, list)
        else [task for key in ("pre_tasks", "tasks", "post_tasks", "handlers") for task in play.get(key) or []]
    )
    for task in items:
        if "block" in task:
            for key in ("block", "rescue", "always"):
                yield from tasks_of(task.get(key) or [])
        else:
            yield task


def action_of(task):
    actions = [key for key in task if key.count(".") >= 2]
    assert len(actions) == 1, "task %r: expected one FQCN action, found %s" % (task.get("name"), actions)
    return actions[0], task[actions[0]] or {}


AWX_TASKS = [task for task in tasks_of(PLAY) if action_of(task)[0].startswith("awx.awx.")]


def options_of(module):
    return SPECS["modules"][module]["options"]


def option_names(module):
    names = set()
    for name, spec in options_of(module).items():
        names.add(name)
        names.update(spec.get("aliases") or [])
    return names


def role_dir(name):
    """roles/<x> for bruno.ops.<x> or a bare <x>; None for another collection's role or a templated name."""
    if "{{" in name:
        return None
    if name.startswith("bruno.ops."):
        name = name[len("bruno.ops.") :]
    elif "." in name:
        return None
    return name


def roles_of_playbook(path):
    """[(role directory, entry point)] of every role a playbook runs (roles:, include_role, import_role)."""
    found = []
    for play in load_yaml(path) or []:
        for key in IMPORT_PLAYBOOK & set(play):
            found.extend(roles_of_playbook(imported_playbook(path, play[key])))
        for role in play.get("roles") or []:
            name = role if isinstance(role, str) else role.get("role") or role.get("name")
            if role_dir(name):
                found.append((role_dir(name), "main"))
            # The guarded_change role runs the change roles it is given under its lock (roles/guarded_change).
            steps = (role.get("vars") or {}).get("guarded_change_steps") if isinstance(role, dict) else None
            for step in steps or []:
                if role_dir(step["role"]):
                    found.append((role_dir(step["role"]), "main"))
        for task in tasks_of(play):
            for key in INCLUDE_ROLE & set(task):
                args = task[key]
                if role_dir(args["name"]):
                    found.append((role_dir(args["name"]), args.get("tasks_from", "main")))
    return found


def playbook_vars(path):
    """Variables a playbook sets in its plays' vars: {name: {'type': ...}} (types of literal values)."""
    types = {bool: "bool", int: "int", float: "float", list: "list", dict: "dict"}
    found = {}
    for play in load_yaml(path) or []:
        for name, value in (play.get("vars") or {}).items():
            found[name] = {"type": types.get(type(value), "str"), "default": value}
    return found


def roles_for(template):
    """The roles a template's playbook runs and the variables it sets."""
    path = ROOT / template["playbook"]
    assert path.is_file(), "%s does not exist" % path
    return roles_of_playbook(path), playbook_vars(path)


def role_options(role, entry):
    """The options of a role's entry point; {} for an entry point without an argument spec."""
    specs = load_yaml(ROLES / role / "meta" / "argument_specs.yml")["argument_specs"]
    return (specs.get(entry) or {}).get("options") or {}


READ_AS_BOOL = re.compile(r"\b([a-z_][a-z0-9_]*)\s*\|\s*default\(([^)]*)\)\s*\|\s*bool\b")


def variables_read_as_bool(path):
    """Variables a file reads as `x | default(...) | bool` (a role's defaults: approve; a playbook: bruno_verify)."""
    return {
        name: {"type": "bool", "default": bool(yaml.safe_load(default or "false"))}
        for name, default in READ_AS_BOOL.findall(path.read_text())
    }


def survey_targets(template):
    """{variable: its spec} that the template's survey may ask: the roles' options, then other variables."""
    roles, from_playbook = roles_for(template)
    assert roles, "%s runs no bruno.ops role: nothing to check its survey against" % template["playbook"]
    known = {}
    sources = [ROLES / role / "defaults" / "main.yml" for role, _entry in roles] + [ROOT / template["playbook"]]
    for path in sources:
        for name, spec in variables_read_as_bool(path).items():
            known.setdefault(name, spec)
    known.update(from_playbook)
    for role, entry in roles:
        known.update(role_options(role, entry))
    return known


def questions(template):
    return (template.get("survey_spec") or {}).get("spec") or []


def all_questions():
    return [(template["name"], question) for template in TEMPLATES for question in questions(template)]


# ---------------------------------------------------------------------------------------------------------------
# The controller's survey rules (awx/api/views JobTemplateSurveySpec._validate_spec_data and
# awx/main/models/mixins SurveyJobTemplateMixin._survey_element_validation), ported.

SURVEY_TYPES = {
    "text": str,
    "textarea": str,
    "password": str,
    "multiplechoice": str,
    "multiselect": str,
    "integer": int,
    "float": float,
}


def choice_list(question):
    choices = question.get("choices") or []
    return [c for c in choices.splitlines() if c.strip()] if isinstance(choices, str) else list(choices)


def _text_errors(question, value):
    if not isinstance(value, str):
        return ["expected a string"]
    errors = []
    if question.get("min") not in ("", None) and len(value) < int(question["min"]):
        errors.append("shorter than min %s" % question["min"])
    if question.get("max") not in ("", None) and len(value) > int(question["max"]):
        errors.append("longer than max %s" % question["max"])
    return errors


def _number_errors(question, value, kinds):
    if type(value) not in kinds:
        return ["expected %s" % "/".join(kind.__name__ for kind in kinds)]
    errors = []
    if question.get("min") not in ("", None) and value < question["min"]:
        errors.append("below min %s" % question["min"])
    if question.get("max") not in ("", None) and value > question["max"]:
        errors.append("above max %s" % question["max"])
    return errors


def answer_errors(question, value):
    """What the controller says about an answer (or a default) at launch."""
    qtype = question["type"]
    if qtype in ("text", "textarea", "password"):
        return _text_errors(question, value)
    if qtype == "integer":
        return _number_errors(question, value, (int,))
    if qtype == "float":
        return _number_errors(question, value, (float, int))
    if qtype == "multiselect":
        if not isinstance(value, list):
            return ["expected a list"]
        return ["%r is not a choice" % item for item in value if item not in choice_list(question)]
    return [] if value in choice_list(question) else ["%r is not a choice" % (value,)]


def question_spec_errors(question):
    """The survey_spec API's checks of one question."""
    errors = [
        "%s missing" % field for field in ("type", "question_name", "variable", "required") if field not in question
    ]
    if errors:
        return errors
    if not all(isinstance(question[field], str) for field in ("type", "question_name", "variable")):
        errors.append("type, question_name and variable must be strings")
    if not isinstance(question["required"], bool):
        errors.append("required must be a boolean")
    qtype = question["type"]
    if qtype not in SURVEY_TYPES:
        return errors + ["type %r is not one of %s" % (qtype, sorted(SURVEY_TYPES))]
    default = question.get("default", "")
    if default != "" and (not isinstance(default, SURVEY_TYPES[qtype]) or isinstance(default, bool)):
        errors.append("default %r is not a %s" % (default, SURVEY_TYPES[qtype].__name__))
    for key in ("min", "max"):
        if question.get(key) is not None and (not isinstance(question[key], int) or isinstance(question[key], bool)):
            errors.append("%s must be an integer (the controller rejects %r)" % (key, question[key]))
    if qtype in ("multiplechoice", "multiselect"):
        if "choices" not in question:
            errors.append("a %s question needs choices" % qtype)
        elif "default" in question:
            defaults = default.splitlines() if isinstance(default, str) else default
            if qtype == "multiplechoice" and len(defaults) > 1:
                errors.append("multiple choice takes one default")
            errors.extend("default %r is not a choice" % item for item in defaults if item not in question["choices"])
    return errors


# ---------------------------------------------------------------------------------------------------------------
# The fixture and configure.yml against the awx.awx option specs


def test_fixture_records_where_it_comes_from():
    source = SPECS["source"]
    assert source["collection"] == "awx.awx"
    assert source["package"] == "ansible" and source["version"] and re.fullmatch(r"[0-9a-f]{64}", source["sha256"])
    used = {action_of(task)[0].split(".")[-1] for task in AWX_TASKS}
    assert used <= set(SPECS["modules"]), "regenerate the fixture with these modules: %s" % (
        used - set(SPECS["modules"])
    )
    assert used <= set(SPECS["action_groups"]["controller"])


@pytest.mark.parametrize("task", AWX_TASKS, ids=lambda task: task["name"])
def test_configure_task_uses_only_options_of_its_module(task):
    action, args = action_of(task)
    module = action.split(".")[-1]
    unknown = set(args) - option_names(module)
    assert not unknown, "%s has no option(s) %s" % (action, sorted(unknown))
    given = set(args) | set(PLAY["module_defaults"].get(action) or {})
    missing = [
        name
        for name, spec in options_of(module).items()
        if spec.get("required") and "default" not in spec and name not in given
    ]
    assert not missing, "%s requires %s" % (action, missing)


def test_module_defaults_cover_every_awx_task_with_known_options():
    defaults = PLAY["module_defaults"]
    for task in AWX_TASKS:
        action = action_of(task)[0]
        assert action in defaults, "%s gets no controller connection from module_defaults" % action
    for action, options in defaults.items():
        assert action.startswith("awx.awx."), action
        unknown = set(options) - option_names(action.split(".")[-1])
        assert not unknown, "module_defaults for %s: no option(s) %s" % (action, sorted(unknown))


LOOPED_DATA = {
    # data variable: (module, keys that are for configure.yml itself rather than module options)
    "bruno_awx_credential_types": ("credential_type", set()),
    "bruno_awx_credentials": ("credential", {"inputs_from"}),
    "bruno_awx_job_templates": ("job_template", set()),
    "bruno_awx_schedules": ("schedule", set()),
    "bruno_awx_inventory_hosts": ("host", set()),
}


@pytest.mark.parametrize("variable", sorted(LOOPED_DATA))
def test_data_keys_are_module_options_and_all_reach_the_module(variable):
    module, own_keys = LOOPED_DATA[variable]
    tasks = [task for task in AWX_TASKS if task.get("loop") == "{{ %s }}" % variable]
    assert len(tasks) == 1, "one task should loop over %s" % variable
    task_text = json.dumps(tasks[0])
    used = set(re.findall(r"\bitem\.(\w+)", task_text))
    for entry in DATA[variable]:
        keys = set(entry)
        unknown = keys - option_names(module) - own_keys
        assert not unknown, "%s %r: %s are not options of awx.awx.%s" % (
            variable,
            entry.get("name"),
            sorted(unknown),
            module,
        )
        ignored = keys - used
        assert not ignored, "%s %r: configure.yml never passes %s" % (variable, entry.get("name"), sorted(ignored))


URL_WITH_PASSWORD = re.compile(r"://[^/@\s:]*:[^/@\s]+@")


def test_no_secret_is_written_in_awx_files():
    def secret(key, value):
        if not isinstance(value, str) or not value or value.lstrip().startswith("{{"):
            return False
        return bool(URL_WITH_PASSWORD.search(value)) or (
            isinstance(key, str) and bool(SECRET_NAME.search(key)) and key not in ("url", "uri")
        )

    def walk(node, where):
        if isinstance(node, dict):
            for key, value in node.items():
                if secret(key, value):
                    yield "%s.%s" % (where, key)
                yield from walk(value, "%s.%s" % (where, key))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                yield from walk(value, "%s[%d]" % (where, index))

    found = [hit for path in sorted(AWX.glob("*.yml")) for hit in walk(load_yaml(path), path.name)]
    assert not found, "secret values written in awx/: %s" % found


# ---------------------------------------------------------------------------------------------------------------
# Job templates, playbooks and surveys


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda template: template["name"])
def test_playbook_exists(template):
    path = ROOT / template["playbook"]
    assert template["playbook"].startswith("playbooks/") and path.is_file(), "%s does not exist" % path


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda template: template["name"])
def test_survey_passes_the_controllers_checks(template):
    survey = template.get("survey_spec")
    assert survey is not None, "every template asks its questions through a survey"
    assert isinstance(survey.get("name"), str) and isinstance(survey.get("description"), str)
    assert isinstance(survey.get("spec"), list) and survey["spec"], "a survey needs at least one question"
    variables = [question.get("variable") for question in survey["spec"]]
    assert len(variables) == len(set(variables)), "a variable is asked twice: %s" % variables
    for question in survey["spec"]:
        errors = question_spec_errors(question)
        if "default" in question:
            # The controller drops a default that fails its own checks, silently: the role's default would win.
            errors += ["default: %s" % error for error in answer_errors(question, question["default"])]
        if question["required"] and "default" not in question:
            errors.append("required without a default: the schedule and EDA launches would be refused")
        assert not errors, "%s / %s: %s" % (template["name"], question.get("variable"), errors)


def _type_errors(question, kind, spec):
    qtype = question["type"]
    allowed = {
        "int": {"integer"},
        "float": {"float"},
        "bool": {"multiplechoice"},
        "list": {"multiselect"},
        "str": {"text", "textarea", "password", "multiplechoice"},
        "path": {"text"},
        # a raw option (a number, or null for no limit) is asked as the number; a survey cannot send null
        "raw": {"integer", "float", "text"},
    }.get(kind)
    if allowed is None:
        return ["a %s cannot be asked in a survey" % kind]
    if spec.get("choices"):
        allowed = allowed & {"multiplechoice", "multiselect"}
    if qtype not in allowed:
        return ["the role's %s is asked as %s (expected %s)" % (kind, qtype, sorted(allowed))]
    if kind == "bool" and set(choice_list(question)) != {"true", "false"}:
        return ['a bool is asked as multiple choice "true"/"false", not %s' % choice_list(question)]
    if spec.get("choices") and set(choice_list(question)) != {str(choice) for choice in spec["choices"]}:
        return ["choices %s differ from the role's %s" % (choice_list(question), spec["choices"])]
    return []


def _as_role_value(question, kind):
    default = question["default"]
    if kind == "bool":
        return default == "true"
    if kind == "list":
        return default.splitlines() if isinstance(default, str) else list(default)
    return default


def _default_errors(question, kind, spec):
    if "default" not in question:
        return []
    if "default" not in spec or spec["default"] is None:
        return ["a survey default would override the inventory's value: the role has no default of its own"]
    ours, theirs = _as_role_value(question, kind), spec["default"]
    same = math.isclose(float(ours), float(theirs)) if kind in ("int", "float") else ours == theirs
    return [] if same else ["default %r differs from the role's %r" % (question["default"], theirs)]


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda template: template["name"])
def test_survey_variables_match_the_roles_argument_specs(template):
    targets = survey_targets(template)
    problems = []
    for question in questions(template):
        name = question["variable"]
        if name not in targets:
            problems.append("%s: not a variable of %s" % (name, roles_for(template)[0]))
            continue
        spec = targets[name]
        kind = spec.get("type", "str")
        errors = _type_errors(question, kind, spec) or _default_errors(question, kind, spec)
        problems.extend("%s: %s" % (name, error) for error in errors)
    assert not problems, "%s: %s" % (template["name"], problems)


def _uses_not_cast(text, name):
    """Lines where a boolean variable is used other than through `| bool` or as a whole module argument."""
    whole_argument = re.compile(r'^\s*[\w.-]+:\s*"\{\{\s*%s\s*\}\}"\s*$' % re.escape(name))
    definition = re.compile(r"^\s*%s\s*:" % re.escape(name))
    cast = re.compile(r"\s*(\|\s*default\([^)]*\)\s*)?\|\s*bool\b")
    as_text = re.compile(r"=(?!=)")  # "-e name=true" in a message
    bad = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("#") or whole_argument.match(line) or definition.match(line):
            continue
        for match in re.finditer(r"(?<![\w.])%s\b" % re.escape(name), line):
            if not (cast.match(line, match.end()) or as_text.match(line, match.end())):
                bad.append("%d: %s" % (number, line.strip()))
    return bad


BOOL_QUESTIONS = [
    (name, question)
    for name, question in all_questions()
    if choice_list(question) and set(choice_list(question)) == {"true", "false"}
]


@pytest.mark.parametrize(
    ("template_name", "question"),
    BOOL_QUESTIONS,
    ids=["%s:%s" % (name, question["variable"]) for name, question in BOOL_QUESTIONS],
)
def test_boolean_answers_are_read_through_bool_in_the_roles(template_name, question):
    """A survey (like `-e x=false`) sends the string "false", which Jinja takes as true unless cast."""
    template = TEMPLATE_BY_NAME[template_name]
    roles = roles_for(template)[0]
    files = [path for role, _entry in roles for path in sorted((ROLES / role).glob("tasks/*.yml"))]
    files += [ROLES / role / "defaults" / "main.yml" for role, _entry in roles] + [ROOT / template["playbook"]]
    bad = {
        str(path.relative_to(ROOT)): lines
        for path in files
        if (lines := _uses_not_cast(path.read_text(), question["variable"]))
    }
    assert not bad, '%s is used without `| bool` (a survey answers the string "false"): %s' % (
        question["variable"],
        bad,
    )


@pytest.mark.parametrize("playbook", EDA_LAUNCHED)
def test_templates_that_eda_launches_prompt_for_variables(playbook):
    template = next(template for template in TEMPLATES if template["playbook"] == playbook)
    assert template.get("ask_variables_on_launch") is True, (
        "%s: an EDA rulebook passes extra vars no survey asks (bruno_alert, bruno_namespace...)" % template["name"]
    )


def test_change_making_templates_never_run_twice_at_once():
    for template in TEMPLATES:
        if template.get("diff_mode"):  # the templates that change something show their diff
            assert template.get("allow_simultaneous") is False, template["name"]


def _run_job_template_actions():
    found = []
    for path in sorted(RULEBOOKS.glob("*.yml")) if RULEBOOKS.is_dir() else []:
        for ruleset in load_yaml(path) or []:
            for rule in ruleset.get("rules") or []:
                actions = rule.get("actions") or [rule.get("action") or {}]
                for action in actions:
                    for key in ("run_job_template", "ansible.eda.run_job_template"):
                        if key in action:
                            found.append(("%s:%s" % (path.name, rule.get("name")), action[key]))
    return found


def _literal(value):
    """A rulebook string's literal value: itself, or the default('...') of a templated one; None if neither."""
    if not isinstance(value, str) or "{{" not in value:
        return value
    match = re.search(r"default\(\s*['\"]([^'\"]+)['\"]\s*\)", value)
    return match.group(1) if match else None


RULEBOOK_LAUNCHES = _run_job_template_actions()


def test_the_controller_rulebook_launches_job_templates():
    assert RULEBOOK_LAUNCHES, "extensions/eda/rulebooks/agent_bruno_alerts_controller.yml launches no job template"


@pytest.mark.parametrize(("rule", "action"), RULEBOOK_LAUNCHES, ids=[launch[0] for launch in RULEBOOK_LAUNCHES])
def test_rulebook_launches_match_the_templates(rule, action):
    name = _literal(action.get("name"))
    assert name in TEMPLATE_BY_NAME, "%s launches %r, which configure.yml does not create" % (rule, name)
    template = TEMPLATE_BY_NAME[name]
    extra_vars = (action.get("job_args") or {}).get("extra_vars") or {}
    asked = {question["variable"]: question for question in questions(template)}
    if set(extra_vars) - set(asked):
        assert template.get("ask_variables_on_launch"), "%s passes %s to %s, which does not prompt for them" % (
            rule,
            sorted(set(extra_vars) - set(asked)),
            name,
        )
    for variable, value in extra_vars.items():
        if variable in asked and not (isinstance(value, str) and "{{" in value):
            errors = answer_errors(asked[variable], value)
            assert not errors, "%s: %s=%r is refused by the survey: %s" % (rule, variable, value, errors)


# ---------------------------------------------------------------------------------------------------------------
# Credential types and credentials

SANDBOX = ImmutableSandboxedEnvironment()


def injector_templates(node, where="injectors"):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from injector_templates(value, "%s.%s" % (where, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from injector_templates(value, "%s[%d]" % (where, index))
    elif isinstance(node, str):
        yield where, node


def file_names(credential_type):
    """What tower.filename offers: {'': path} for one `template`, else the names of `template.<name>`."""
    files = credential_type["injectors"].get("file") or {}
    return {key.partition(".")[2] for key in files if key.startswith("template")}


@pytest.mark.parametrize("credential_type", CREDENTIAL_TYPES, ids=lambda ctype: ctype["name"])
def test_credential_type_inputs_are_well_formed(credential_type):
    assert credential_type["kind"] in ATTACHABLE_KINDS
    assert credential_type["kind"] in options_of("credential_type")["kind"]["choices"]
    fields = credential_type["inputs"]["fields"]
    ids = [field["id"] for field in fields]
    assert len(ids) == len(set(ids)), ids
    assert set(credential_type["inputs"].get("required") or []) <= set(ids)
    for field in fields:
        assert field["type"] in ("string", "boolean"), field
        assert field.get("label"), field
        if SECRET_NAME.search(field["id"]):
            assert field.get("secret") is True, "%s.%s must be secret: true" % (credential_type["name"], field["id"])


@pytest.mark.parametrize("credential_type", CREDENTIAL_TYPES, ids=lambda ctype: ctype["name"])
def test_credential_type_injectors_reference_only_declared_inputs(credential_type):
    inputs = {field["id"] for field in credential_type["inputs"]["fields"]}
    files = file_names(credential_type)
    assert set(credential_type["injectors"]) <= {"env", "extra_vars", "file"}
    for where, template in injector_templates(credential_type["injectors"]):
        names = meta.find_undeclared_variables(SANDBOX.parse(template))
        unknown = names - inputs - {"tower"}
        assert not unknown, "%s %s uses undeclared %s" % (credential_type["name"], where, sorted(unknown))
        for name in re.findall(r"tower\.filename\.(\w+)", template):
            assert name in files, "%s %s: no file injector template.%s" % (credential_type["name"], where, name)


def render_injected(credential_type, inputs):
    """The extra vars the controller injects for these inputs (CredentialType.inject_credential, ported)."""
    namespace = {key: value for key, value in inputs.items() if isinstance(value, bool) or len(value)}
    for field in credential_type["inputs"]["fields"]:
        if field["type"] == "boolean" and field["id"] not in inputs:
            namespace[field["id"]] = False  # the controller's rule: an unset boolean is false
    filename = SimpleNamespace(**{name: "/runner/env/tmp_%s" % name for name in file_names(credential_type)})
    namespace["tower"] = SimpleNamespace(filename=filename)

    def render(node):
        if isinstance(node, dict):
            return {key: render(value) for key, value in node.items()}
        return SANDBOX.from_string(node).render(**namespace)

    return render(credential_type["injectors"].get("extra_vars") or {})


SAMPLE_INPUTS = {
    "host": "backend.example.internal",
    "port": "16380",
    "db": "2",
    "username": "bruno-ops",
    "password": "p4ss{{ not a template }}",
    "url": "rediss://:p4ss@redis.example.internal:6380/0",
    "uri": "mongodb://bruno-ops:p4ss@mongo.example.internal:27017/?authSource=admin",
    "auth_source": "admin",
    "database": "bruno",
    "tls": True,
    "tls_insecure": False,
    "ca_cert_data": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
}


def _validated(credential_type, inputs):
    injected = render_injected(credential_type, inputs)
    assert set(injected) <= set(INJECTED_SPECS), "%s injects %s" % (credential_type["name"], sorted(injected))
    results = {}
    for variable, value in injected.items():
        spec = INJECTED_SPECS[variable]
        unknown = set(value) - set(spec)
        assert not unknown, "%s: %s are not options of the modules' %s" % (variable, sorted(unknown), variable)
        result = ArgumentSpecValidator(spec).validate(value)
        assert not result.error_messages, "%s with %s: %s" % (variable, sorted(inputs), result.error_messages)
        results[variable] = result.validated_parameters
    return results


@pytest.mark.parametrize("credential_type", CREDENTIAL_TYPES, ids=lambda ctype: ctype["name"])
def test_injected_variables_validate_against_the_modules_option_specs(credential_type):
    fields = [field["id"] for field in credential_type["inputs"]["fields"]]
    empty = _validated(credential_type, {})
    full_inputs = {name: SAMPLE_INPUTS[name] for name in fields}
    full = _validated(credential_type, full_inputs)
    insecure = _validated(credential_type, dict(full_inputs, tls_insecure=True))
    for variable in empty:
        assert empty[variable]["validate_certs"] is True, "certificates must be verified unless asked not to"
        assert insecure[variable]["validate_certs"] is False
        assert full[variable]["password"] == SAMPLE_INPUTS["password"]
        assert full[variable]["port"] == int(SAMPLE_INPUTS["port"])
        assert full[variable]["tls"] is True
        assert full[variable]["ca_cert"] == "/runner/env/tmp_ca_cert"
        assert not empty[variable]["ca_cert"] and not empty[variable]["password"]


def test_credentials_refer_to_known_types_and_carry_no_inputs():
    custom = {ctype["name"] for ctype in CREDENTIAL_TYPES}
    managed = set(SPECS["managed_credential_types"])
    assert "OpenShift or Kubernetes API Bearer Token" in managed
    for credential in CREDENTIALS:
        assert credential["credential_type"] in custom | managed, credential
        assert "inputs" not in credential, "%s: inputs come from %s at run time" % (
            credential["name"],
            credential.get("inputs_from"),
        )
        assert credential["inputs_from"] not in DATA, (
            "%s is defined in awx/: secrets never live in vars files" % (credential["inputs_from"])
        )


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda template: template["name"])
def test_template_credentials_exist_one_per_type(template):
    by_name = {credential["name"]: credential for credential in CREDENTIALS}
    missing = set(template.get("credentials") or []) - set(by_name)
    assert not missing, "%s uses undefined credentials %s" % (template["name"], sorted(missing))
    types = [by_name[name]["credential_type"] for name in template.get("credentials") or []]
    assert len(types) == len(set(types)), "the controller attaches one credential per type: %s" % types


# ---------------------------------------------------------------------------------------------------------------
# Schedules


def rrule_errors(value):
    """The controller's rrule checks (SchedulePreviewSerializer.validate_rrule), ported."""
    errors = []
    dtstarts = re.findall(r"DTSTART(?:;[^:]+)?:[0-9]+T[0-9]+Z?", value)
    if len(dtstarts) != 1:
        errors.append("exactly one DTSTART required")
    if re.findall(r"DTSTART:[0-9]+T[0-9]+ ", value):
        errors.append("DTSTART cannot be naive: end it with Z or give ;TZID=")
    rules = re.findall(r"RRULE:[^\s]*", value)
    if len(rules) != 1:
        errors.append("one RRULE required")
    for rule in rules:
        if "INTERVAL" not in rule.upper():
            errors.append("INTERVAL required")
        if "SECONDLY" in rule.upper() or ("COUNT" in rule and "UNTIL" in rule):
            errors.append("SECONDLY, or COUNT with UNTIL, not supported")
    if "EXDATE:" in value.upper() or "RDATE:" in value.upper():
        errors.append("EXDATE/RDATE not allowed")
    return errors


@pytest.mark.parametrize("schedule", SCHEDULES, ids=lambda schedule: schedule["name"])
def test_schedule_rrule_is_valid_and_its_template_exists(schedule):
    assert schedule["unified_job_template"] in TEMPLATE_BY_NAME
    assert not rrule_errors(schedule["rrule"]), rrule_errors(schedule["rrule"])
    rule = dateutil_rrule.rrulestr(schedule["rrule"].replace(" RRULE:", "\nRRULE:"))
    first, second, third = rule[0], rule[1], rule[2]
    assert first.tzinfo is not None
    assert second - first == third - second


def test_cleanup_sessions_runs_hourly():
    schedules = [schedule for schedule in SCHEDULES if schedule["unified_job_template"] == "bruno.ops cleanup_sessions"]
    assert len(schedules) == 1 and schedules[0].get("enabled", True)
    rule = dateutil_rrule.rrulestr(schedules[0]["rrule"].replace(" RRULE:", "\nRRULE:"))
    assert rule._freq == dateutil_rrule.HOURLY and rule._interval == 1  # noqa: SLF001 - dateutil has no accessor
    assert (rule[1] - rule[0]).total_seconds() == 3600
    assert TEMPLATE_BY_NAME["bruno.ops cleanup_sessions"]["playbook"] == "playbooks/cleanup_sessions.yml"


# ---------------------------------------------------------------------------------------------------------------
# configure.yml end to end, against stand-in awx.awx modules built from the real modules' option specs

STUB_MODULE = """#!/usr/bin/python
# Stand-in for awx.awx.{name}, generated by tests/unit/awx/test_awx_as_code.py: checks its arguments against
# the real module's options (types, choices, required) and records them. It talks to no controller.
import json
import os

from ansible.module_utils.basic import AnsibleModule

SPEC = json.loads({spec!r})


def main():
    module = AnsibleModule(argument_spec=SPEC, supports_check_mode=True)
    with open(os.environ["BRUNO_AWX_STUB_LOG"], "a") as log:
        log.write(json.dumps({{"module": {name!r}, "params": module.params}}) + "\\n")
    module.exit_json(changed=False)


if __name__ == "__main__":
    main()
"""
NO_LOG = {"controller_password", "controller_oauthtoken", "inputs"}


def stub_spec(module):
    spec = {}
    for name, option in options_of(module).items():
        entry = {key: option[key] for key in ("type", "elements", "choices", "required", "aliases") if key in option}
        if "default" in option and not option.get("required"):
            entry["default"] = option["default"]
        if name in NO_LOG:
            entry["no_log"] = True
        elif SECRET_NAME.search(name) or name == "update_secrets":
            entry["no_log"] = False
        spec[name] = entry
    return spec


@pytest.fixture(scope="module")
def stub_collections(tmp_path_factory):
    root = tmp_path_factory.mktemp("awx-stubs")
    collection = root / "ansible_collections" / "awx" / "awx"
    (collection / "plugins" / "modules").mkdir(parents=True)
    (collection / "meta").mkdir()
    (collection / "meta" / "runtime.yml").write_text(
        yaml.safe_dump({"requires_ansible": ">=2.15", "action_groups": SPECS["action_groups"]})
    )
    for module in SPECS["modules"]:
        text = STUB_MODULE.format(name=module, spec=json.dumps(stub_spec(module)))
        (collection / "plugins" / "modules" / ("%s.py" % module)).write_text(text)
    return root


def ansible_playbook(stub_collections, log, *args):
    env = dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH="%s:%s" % (stub_collections, ROOT / ".collections"),
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        BRUNO_AWX_STUB_LOG=str(log),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_PIPELINING="1",
    )
    command = [
        str(Path(sys.executable).parent / "ansible-playbook"),
        "-i",
        "localhost,",
        "-e",
        "ansible_python_interpreter=%s" % sys.executable,
        str(AWX / "configure.yml"),
        *args,
    ]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)


def calls(log):
    records = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    by_module = {}
    for record in records:
        by_module.setdefault(record["module"], []).append(record["params"])
    return by_module


def test_configure_passes_syntax_check_with_awx_modules(stub_collections, tmp_path):
    result = ansible_playbook(stub_collections, tmp_path / "calls.jsonl", "--syntax-check")
    assert result.returncode == 0, result.stdout + result.stderr


SECRETS = {
    "bruno_awx_kubernetes_inputs": {
        "host": "https://api.example.internal:6443",
        "bearer_token": "t0ken",
        "verify_ssl": True,
        "ssl_ca_cert": "-----BEGIN CERTIFICATE-----",
    },
    "bruno_awx_redis_inputs": {"host": "redis.example.internal", "password": "p4ss"},
    "bruno_awx_mongodb_inputs": {"host": "mongo.example.internal", "username": "bruno", "password": "p4ss"},
}


def test_configure_runs_with_credentials_and_an_execution_environment(stub_collections, tmp_path):
    secrets = tmp_path / "secrets.yml"
    secrets.write_text(yaml.safe_dump(SECRETS))
    log = tmp_path / "calls.jsonl"
    result = ansible_playbook(
        stub_collections,
        log,
        "-e",
        "@%s" % secrets,
        "-e",
        "controller_host=https://awx.test",
        "-e",
        "bruno_awx_ee_image=quay.io/example/bruno-ops-ee:0.1.0",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    made = calls(log)
    assert all(params["controller_host"] == "https://awx.test" for group in made.values() for params in group)
    assert {params["credential_type"]: params["inputs"] for params in made["credential"]} == {
        credential["credential_type"]: SECRETS[credential["inputs_from"]] for credential in CREDENTIALS
    }
    assert "t0ken" not in result.stdout  # the credential task is no_log
    assert [params["injectors"] for params in made["credential_type"]] == [
        ctype["injectors"] for ctype in CREDENTIAL_TYPES
    ], "injector templates must reach the controller unrendered"
    assert made["host"][0]["variables"]["ansible_python_interpreter"] == "{{ ansible_playbook_python }}"
    assert made["inventory"][0]["variables"] == DATA["bruno_awx_inventory_variables"]
    assert made["project"][0]["default_environment"] == DATA["bruno_awx_ee_name"]
    templates = {params["name"]: params for params in made["job_template"]}
    assert set(templates) == set(TEMPLATE_BY_NAME)
    for name, params in templates.items():
        assert params["survey_spec"] == TEMPLATE_BY_NAME[name]["survey_spec"]
        assert params["survey_enabled"] is True
        assert params["execution_environment"] == DATA["bruno_awx_ee_name"]
        assert params["credentials"] == TEMPLATE_BY_NAME[name]["credentials"]
    assert [params["rrule"] for params in made["schedule"]] == [schedule["rrule"] for schedule in SCHEDULES]


def test_configure_without_secrets_leaves_credentials_alone(stub_collections, tmp_path):
    log = tmp_path / "calls.jsonl"
    result = ansible_playbook(stub_collections, log)
    assert result.returncode == 0, result.stdout + result.stderr
    made = calls(log)
    assert "credential" not in made and "execution_environment" not in made
    assert all(params["execution_environment"] is None for params in made["job_template"])
    assert made["project"][0]["default_environment"] is None
    for credential in CREDENTIALS:
        assert "no %s given" % credential["inputs_from"] in result.stdout

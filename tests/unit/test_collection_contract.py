"""The contract every module of the collection keeps (module_run's docstring), checked on all of plugins/modules:

- the argument spec is the module-level dict ARGUMENT_SPEC;
- main() is module_run-based, and no module calls fail_json / exit_json itself;
- DOCUMENTATION extends bruno.ops.attributes and one of its variants, and documents every option of
  ARGUMENT_SPEC exactly once (in the module or in one fragment; a module may only override a fragment's text);
- meta/runtime.yml's action group of a backend lists exactly the modules that take that backend's option.
"""

import importlib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MODULES = sorted(p.stem for p in (ROOT / "plugins" / "modules").glob("*.py") if p.stem != "__init__")
PACKAGE = "ansible_collections.bruno.ops.plugins"
# Option -> action group of meta/runtime.yml (the group is named like the option).
BACKENDS = ("kubernetes", "redis", "mongodb", "prometheus")
ATTRIBUTE_VARIANTS = ("bruno.ops.attributes.info_module", "bruno.ops.attributes.change_module")


def load(name):
    return importlib.import_module("%s.modules.%s" % (PACKAGE, name))


def source(name):
    return (ROOT / "plugins" / "modules" / ("%s.py" % name)).read_text()


def documentation(name):
    return yaml.safe_load(load(name).DOCUMENTATION)


def fragment(full_name):
    """The YAML of a doc fragment named like bruno.ops.kubernetes or bruno.ops.attributes.info_module."""
    parts = full_name.split(".")
    assert parts[:2] == ["bruno", "ops"], "only the collection's own fragments are expected: %s" % full_name
    fragments = importlib.import_module("%s.doc_fragments.%s" % (PACKAGE, parts[2])).ModuleDocFragment
    return yaml.safe_load(getattr(fragments, parts[3].upper() if len(parts) > 3 else "DOCUMENTATION"))


def action_groups():
    return yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text())["action_groups"]


def test_there_are_modules():
    assert len(MODULES) >= 18


@pytest.mark.parametrize("name", MODULES)
def test_argument_spec_is_the_module_level_dict(name):
    spec = getattr(load(name), "ARGUMENT_SPEC", None)
    assert isinstance(spec, dict) and spec, "%s has no module-level ARGUMENT_SPEC dict" % name


@pytest.mark.parametrize("name", MODULES)
def test_main_is_module_run(name):
    text = source(name)
    assert "module_run.main(" in text or "module_run.execute(" in text, "%s does not end in module_run" % name
    for call in (".fail_json(", ".exit_json("):
        assert call not in text, "%s calls %s itself; raise BrunoOpsError or return the result" % (name, call)


@pytest.mark.parametrize("name", MODULES)
def test_documentation_extends_the_attributes_fragment(name):
    fragments = documentation(name).get("extends_documentation_fragment") or []
    assert "bruno.ops.attributes" in fragments, name
    assert len([f for f in fragments if f in ATTRIBUTE_VARIANTS]) == 1, \
        "%s takes exactly one of %s" % (name, ", ".join(ATTRIBUTE_VARIANTS))
    for attribute in (documentation(name).get("attributes") or {}).values():
        assert "description" not in attribute, "%s pastes an attribute description the fragment has" % name


@pytest.mark.parametrize("name", MODULES)
def test_every_option_is_documented_once(name):
    doc = documentation(name)
    sources = [doc.get("options") or {}]
    sources += [fragment(f).get("options") or {} for f in doc.get("extends_documentation_fragment") or []]
    full = {}  # option -> how many places document it in full (with its type)
    for options in sources:
        for option, text in options.items():
            full[option] = full.get(option, 0) + (1 if "type" in (text or {}) else 0)
    spec = load(name).ARGUMENT_SPEC
    assert set(full) == set(spec), "%s: documented %s, argument spec %s" % (name, sorted(full), sorted(spec))
    twice = sorted(option for option, count in full.items() if count != 1)
    assert not twice, "%s: documented in full more than once (or only overridden): %s" % (name, twice)


@pytest.mark.parametrize("backend", BACKENDS)
def test_action_group_lists_exactly_the_modules_taking_the_option(backend):
    taking = {name for name in MODULES if backend in load(name).ARGUMENT_SPEC}
    group = set(action_groups().get(backend) or [])
    assert taking - group == set(), "take option %s but are not in group %s" % (backend, backend)
    assert group - taking == set(), "in group %s but do not take option %s" % (backend, backend)


def test_action_groups_are_only_the_backends():
    assert set(action_groups()) == set(BACKENDS)

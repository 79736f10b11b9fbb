"""The one direction of flow of docs/architecture.md, checked on the imports of plugins/module_utils."""

import ast
from pathlib import Path

import pytest

MODULE_UTILS = Path(__file__).resolve().parents[2] / "plugins" / "module_utils"
PREFIX = "ansible_collections.bruno.ops.plugins.module_utils"

# A package may import the top level (errors, module_run, quantity, durations), itself, and what it lists here.
MAY_IMPORT = {
    "clients": set(),
    "facts": {"clients"},
    "decide": {"facts"},  # pure helpers only (series_stats); decide never reaches a client
    "change": {"clients"},
    "sessions": {"clients", "facts", "change"},
    "render": set(),
}


def imported_packages(path):
    """The module_utils subpackages (or top-level modules, as '') a file imports."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(PREFIX):
            rest = node.module[len(PREFIX):].lstrip(".")
            names = [rest + "." + alias.name if rest else alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name[len(PREFIX):].lstrip(".") for alias in node.names if alias.name.startswith(PREFIX)]
        for name in names:
            head = name.split(".")[0]
            found.add(head if (MODULE_UTILS / head).is_dir() else "")
    return found


def test_every_subpackage_has_a_rule():
    packages = {p.name for p in MODULE_UTILS.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert packages == set(MAY_IMPORT)


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_imports_flow_one_way(package):
    allowed = MAY_IMPORT[package] | {package, ""}
    wrong = {}
    for path in sorted((MODULE_UTILS / package).rglob("*.py")):
        bad = imported_packages(path) - allowed
        if bad:
            wrong[str(path.relative_to(MODULE_UTILS))] = sorted(bad)
    assert not wrong, "imports against the flow of docs/architecture.md: %s" % wrong


def test_top_level_imports_no_subpackage():
    for path in MODULE_UTILS.glob("*.py"):
        assert imported_packages(path) <= {""}, path.name


def test_the_check_sees_a_wrong_import(tmp_path):
    # The check itself can fail: a decide file importing change is caught.
    bad = tmp_path / "bad.py"
    bad.write_text("from %s.change import fixes\nfrom %s import errors\n" % (PREFIX, PREFIX))
    assert imported_packages(bad) == {"change", ""}

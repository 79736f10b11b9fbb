"""Regenerate fixtures/awx_module_specs.json: the options of the awx.awx modules that awx/configure.yml uses.

awx.awx is not installed here and there is no Galaxy, but the `ansible` community package on PyPI ships it
(ansible_collections/awx/awx/). This reads the modules' DOCUMENTATION (with the awx.awx.auth doc fragment
merged in) straight out of that wheel and keeps only what the tests need: option names, aliases, types,
element types, choices, required and defaults, plus the `controller` action group (for module_defaults) and
the names of the controller's managed credential types (from awx.awx.credential's documentation).

    .venv/bin/python tests/unit/awx/extract_awx_specs.py                       # downloads ansible==12.3.0
    .venv/bin/python tests/unit/awx/extract_awx_specs.py --ansible-version 12.4.0
    .venv/bin/python tests/unit/awx/extract_awx_specs.py --wheel /tmp/x/ansible-12.3.0-py3-none-any.whl

Nothing is installed: the wheel is downloaded with `pip download --no-deps` into a temporary directory
(its ansible-core requirement does not matter, only files are read) and removed afterwards.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "fixtures" / "awx_module_specs.json"
DEFAULT_ANSIBLE_VERSION = "12.3.0"
PREFIX = "ansible_collections/awx/awx/"
# The modules awx/configure.yml uses (and a few it may grow into).
MODULES = (
    "organization",
    "label",
    "execution_environment",
    "credential_type",
    "credential",
    "project",
    "inventory",
    "host",
    "job_template",
    "schedule",
)
KEPT_KEYS = ("type", "elements", "choices", "required", "default", "aliases")


def download_wheel(version: str, dest: Path) -> Path:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "-q",
            "-d",
            str(dest),
            "ansible==%s" % version,
        ],
        check=True,
    )
    wheels = sorted(dest.glob("ansible-%s-*.whl" % version))
    if not wheels:
        raise SystemExit("pip downloaded no wheel of ansible==%s into %s" % (version, dest))
    return wheels[0]


def module_string(source: str, name: str) -> str:
    """The value of the string constant `name` at module or class level of a Python source."""
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            return node.value.value
    raise ValueError("no string constant %s" % name)


def code_option_names(source: str) -> set[str]:
    """Names of the `argument_spec = dict(...)` in main(), to cross-check the documentation against."""
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "argument_spec" for t in node.targets)
            and isinstance(node.value, ast.Call)
        ):
            return {kw.arg for kw in node.value.keywords if kw.arg}
    return set()


def slim(options: dict) -> dict:
    out = {}
    for name, given in sorted(options.items()):
        spec = given or {}
        kept = {key: spec[key] for key in KEPT_KEYS if key in spec}
        kept.setdefault("type", "str")
        out[name] = kept
    return out


def managed_credential_types(credential_doc: dict) -> list[str]:
    """The built-in credential type names listed in awx.awx.credential's credential_type description."""
    lines = credential_doc["options"]["credential_type"]["description"]
    text = " ".join(line for line in lines if line.startswith("Choices include"))
    text = re.sub(r"^Choices include\s+", "", text)
    text = re.sub(r",?\s+or a custom credential type\s*$", "", text)
    return sorted(part.strip() for part in text.split(",") if part.strip())


def extract(wheel: Path) -> dict:
    with zipfile.ZipFile(wheel) as archive:

        def read(path: str) -> str:
            return archive.read(PREFIX + path).decode("utf-8")

        manifest = json.loads(read("MANIFEST.json"))["collection_info"]
        runtime = yaml.safe_load(read("meta/runtime.yml"))
        fragment = yaml.safe_load(module_string(read("plugins/doc_fragments/auth.py"), "DOCUMENTATION"))
        modules = {}
        warnings = []
        for name in MODULES:
            source = read("plugins/modules/%s.py" % name)
            doc = yaml.safe_load(module_string(source, "DOCUMENTATION"))
            options = dict(doc.get("options") or {})
            fragments = doc.get("extends_documentation_fragment") or []
            if isinstance(fragments, str):
                fragments = [fragments]
            if "awx.awx.auth" in fragments:
                options.update(fragment["options"])
            documented = set(doc.get("options") or {})
            in_code = code_option_names(source)
            if in_code and in_code != documented:
                warnings.append(
                    "%s: documented %s, in code %s" % (name, sorted(documented - in_code), sorted(in_code - documented))
                )
            modules[name] = {"options": slim(options)}
            if name == "credential":
                credential_doc = doc
    for warning in warnings:
        print("warning: DOCUMENTATION and argument_spec differ:", warning, file=sys.stderr)
    return {
        "source": {
            "package": "ansible",
            "version": wheel.name.split("-")[1],
            "file": wheel.name,
            "sha256": hashlib.sha256(wheel.read_bytes()).hexdigest(),
            "collection": "%s.%s" % (manifest["namespace"], manifest["name"]),
            "collection_version": manifest["version"],
            "regenerate": "python tests/unit/awx/extract_awx_specs.py --ansible-version %s" % wheel.name.split("-")[1],
        },
        "action_groups": {"controller": sorted(runtime["action_groups"]["controller"])},
        "managed_credential_types": managed_credential_types(credential_doc),
        "modules": modules,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--ansible-version",
        default=DEFAULT_ANSIBLE_VERSION,
        help="the ansible package version to download from PyPI (default %(default)s)",
    )
    source.add_argument("--wheel", type=Path, help="an ansible-*.whl already downloaded")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    if args.wheel:
        specs = extract(args.wheel)
    else:
        with tempfile.TemporaryDirectory(prefix="awx-specs-") as tmp:
            specs = extract(download_wheel(args.ansible_version, Path(tmp)))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(specs, indent=1, sort_keys=True) + "\n")
    print(
        "wrote %s: awx.awx %s from %s" % (args.output, specs["source"]["collection_version"], specs["source"]["file"])
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

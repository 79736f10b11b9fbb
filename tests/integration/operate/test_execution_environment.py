"""The execution environment: `ansible-builder create` turns execution-environment.yml into a build context
with the collection tarball and a Containerfile, and the steps that image build would run without a
container engine (the galaxy install from the context, then ansible-builder's own introspection script)
find the collection's Python and system requirements. docs/execution-environment.md describes it.
"""

import json
import os
import re
import subprocess
import tarfile

import pytest
import yaml
from bindep.depends import Depends
from packaging.requirements import Requirement

from bruno_it import BIN, ROOT

EE_FILE = ROOT / "execution-environment.yml"
GALAXY = yaml.safe_load((ROOT / "galaxy.yml").read_text())
TARBALL = "%s-%s-%s.tar.gz" % (GALAXY["namespace"], GALAXY["name"], GALAXY["version"])
COLLECTIONS_PATH = "/usr/share/ansible/collections"  # where the image's galaxy stage installs
TIMEOUT = 300  # seconds for one tool run; each takes a few


def tool(name):
    path = BIN / name
    if not path.exists():  # a missing tool is a failed test, never a skip
        pytest.fail("%s is not installed in %s (make env)" % (name, BIN))
    return str(path)


def run(cmd, cwd, env=None):
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert done.returncode == 0, "%s failed:\n%s" % (" ".join(cmd), (done.stdout + done.stderr)[-4000:])
    return done.stdout


def clean_env(tmp_path):
    """Ansible settings of a fresh machine: none of this checkout's, nothing installed in ~/.ansible."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_")}
    return dict(env, ANSIBLE_HOME=str(tmp_path / "ansible-home"), PATH="%s:%s" % (BIN, env.get("PATH", "")))


def requirements(lines):
    """{normalized name: Requirement} of requirement lines; comments, blank lines and options (-r) left out."""
    found = {}
    for line in lines:
        text = line.split("#", 1)[0].strip()
        if text and not text.startswith("-"):
            requirement = Requirement(text)
            found[requirement.name.lower().replace("_", "-")] = requirement
    return found


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The collection tarball and the build context, made in a temporary directory."""
    work = tmp_path_factory.mktemp("ee")
    # The definition refers to build/<tarball> next to itself: give it a directory of its own.
    (work / "build").mkdir()
    run([tool("ansible-galaxy"), "collection", "build", "--output-path", str(work / "build"), str(ROOT)], ROOT)
    (work / "execution-environment.yml").write_text(EE_FILE.read_text())
    context = work / "context"
    run(
        [
            tool("ansible-builder"),
            "create",
            "-f",
            str(work / "execution-environment.yml"),
            "-c",
            str(context),
            "--output-filename",
            "Containerfile",
        ],
        work,
        env=clean_env(work),
    )
    return work, context


@pytest.fixture(scope="module")
def introspected(built, tmp_path_factory):
    """What the image build's galaxy and builder stages would do, without a container engine: install the
    collection from the context's requirements.yml, then run the context's introspect.py on it."""
    context = built[1]
    root = tmp_path_factory.mktemp("image")
    collections = root / COLLECTIONS_PATH.lstrip("/")
    env = dict(clean_env(root), ANSIBLE_COLLECTIONS_PATH=str(collections), ANSIBLE_GALAXY_DISABLE_GPG_VERIFY="1")
    # As the Containerfile does it: WORKDIR /build (the context's _build), -r requirements.yml.
    run(
        [
            tool("ansible-galaxy"),
            "collection",
            "install",
            "-r",
            "requirements.yml",
            "--collections-path",
            str(collections),
        ],
        context / "_build",
        env=env,
    )
    pip, bindep = root / "requirements.txt", root / "bindep.txt"
    run(
        [
            str(BIN / "python"),
            str(context / "_build" / "scripts" / "introspect.py"),
            "introspect",
            str(collections),
            "--write-pip=%s" % pip,
            "--write-bindep=%s" % bindep,
        ],
        root,
        env=env,
    )
    return collections, pip.read_text().splitlines(), bindep.read_text().splitlines()


def test_definition_matches_the_collection():
    definition = yaml.safe_load(EE_FILE.read_text())
    assert definition["version"] == 3
    # The tarball the definition installs is the one galaxy.yml's version builds.
    (build_file,) = definition["additional_build_files"]
    assert build_file == {"src": "build/" + TARBALL, "dest": "collections"}
    assert definition["dependencies"]["galaxy"] == {"collections": [{"name": "collections/" + TARBALL, "type": "file"}]}
    assert definition["options"]["tags"] == ["bruno-ops-ee:%s" % GALAXY["version"]]
    # The collection installs offline from its tarball: it depends on no other collection.
    assert not GALAXY["dependencies"]
    # ansible-core as the project pins it, on the Python it is tested with.
    dev = requirements((ROOT / "requirements" / "dev.in").read_text().splitlines())
    assert (
        Requirement(definition["dependencies"]["ansible_core"]["package_pip"]).specifier
        == dev["ansible-core"].specifier
    )
    assert definition["dependencies"]["python_interpreter"]["python_path"].endswith("python3.11")


def test_collection_declares_runtime_requirements():
    """meta/ee-requirements.txt says what requirements/runtime.in says, to the version."""
    meta = yaml.safe_load((ROOT / "meta" / "execution-environment.yml").read_text())
    assert meta["version"] == 1
    assert meta["dependencies"] == {"python": "meta/ee-requirements.txt", "system": "meta/ee-bindep.txt"}
    declared = requirements((ROOT / "meta" / "ee-requirements.txt").read_text().splitlines())
    runtime = requirements((ROOT / "requirements" / "runtime.in").read_text().splitlines())
    assert {name: str(req) for name, req in declared.items()} == {name: str(req) for name, req in runtime.items()}
    # ... and the versions the project tests with (the lock) satisfy them.
    locked = dict(re.findall(r"^([A-Za-z0-9_.-]+)==([^\s\\]+)", (ROOT / "requirements" / "lock.txt").read_text(), re.M))
    locked = {name.lower().replace("_", "-"): version for name, version in locked.items()}
    for name, requirement in declared.items():
        assert requirement.specifier.contains(locked[name]), (name, locked[name])


def test_system_requirements_per_profile():
    rules = Depends((ROOT / "meta" / "ee-bindep.txt").read_text())
    rpm = ["platform:rpm", "platform:redhat", "platform:centos"]
    runtime = [rule[0] for rule in rules.active_rules(["default", *rpm])]
    build = [rule[0] for rule in rules.active_rules(["compile", *rpm])]
    assert runtime == ["ca-certificates"]  # the image itself gets no compiler
    assert {"gcc", "python3.11-devel"} <= set(build)


def test_context_holds_the_collection_and_its_build_steps(built):
    work, context = built
    assert sorted(path.name for path in context.iterdir()) == ["Containerfile", "_build"]
    # The tarball in the context is the one just built, and it is the collection at galaxy.yml's version.
    shipped = context / "_build" / "collections" / TARBALL
    assert shipped.read_bytes() == (work / "build" / TARBALL).read_bytes()
    with tarfile.open(shipped) as tar:
        manifest = json.load(tar.extractfile("MANIFEST.json"))
        names = tar.getnames()
    assert manifest["collection_info"]["version"] == GALAXY["version"]
    assert yaml.safe_load((context / "_build" / "requirements.yml").read_text()) == {
        "collections": [{"name": "collections/" + TARBALL, "type": "file"}]
    }
    containerfile = (context / "Containerfile").read_text()
    for line in (
        'ARG EE_BASE_IMAGE="quay.io/centos/centos:stream9"',
        'ARG PYCMD="/usr/bin/python3.11"',
        'ARG ANSIBLE_INSTALL_REFS="ansible-core>=2.19,<2.20 ansible-runner>=2.4,<3"',
        "COPY _build /build",
        "WORKDIR /build",
        "RUN ANSIBLE_GALAXY_DISABLE_GPG_VERIFY=1 ansible-galaxy collection install "
        '$ANSIBLE_GALAXY_CLI_COLLECTION_OPTS -r requirements.yml --collections-path "%s"' % COLLECTIONS_PATH,
        "RUN $PYCMD /output/scripts/introspect.py introspect "
        "--write-bindep=/tmp/src/bindep.txt --write-pip=/tmp/src/requirements.txt",
        "RUN /output/scripts/assemble",
        "COPY --from=galaxy /usr/share/ansible /usr/share/ansible",
        "RUN /output/scripts/install-from-bindep && rm -rf /output/wheels",
        "LABEL ansible-execution-environment=true",
    ):
        assert line in containerfile.splitlines(), line
    # The tarball carries the collection and what the EE needs of it, and none of the checkout's local state.
    for wanted in (
        "meta/execution-environment.yml",
        "meta/ee-requirements.txt",
        "meta/ee-bindep.txt",
        "meta/runtime.yml",
        "playbooks/diagnose.yml",
        "roles/diagnose/tasks/main.yml",
        "extensions/eda/rulebooks/agent_bruno_alerts.yml",
        "extensions/eda/plugins/event_source/alertmanager.py",
    ):
        assert wanted in names, wanted
    local_state = (
        ".venv",
        ".collections",
        ".lab",
        ".kube",
        ".git",
        ".ansible",
        "reports",
        "build",
        "context",
        "lab",
        ".pytest_cache",
        ".ruff_cache",
        "tests/output",
        "bench/results",
    )
    leaked = sorted(
        name for name in names if name.startswith(tuple(d + "/" for d in local_state)) or name in local_state
    )
    assert leaked == []
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]


def test_introspection_finds_the_collection_requirements(introspected):
    collections, pip, bindep = introspected
    installed = json.loads((collections / "ansible_collections" / "bruno" / "ops" / "MANIFEST.json").read_text())
    assert installed["collection_info"]["version"] == GALAXY["version"]
    # Exactly requirements/runtime.in, attributed to the collection.
    assert all(line.endswith("  # from collection bruno.ops") for line in pip if line.strip())
    found = requirements(pip)
    runtime = requirements((ROOT / "requirements" / "runtime.in").read_text().splitlines())
    assert {name: str(req) for name, req in found.items()} == {name: str(req) for name, req in runtime.items()}
    assert {"kubernetes", "redis", "pymongo", "openshift", "jmespath", "prometheus-client"} <= set(found)
    assert "hiredis" in found["redis"].extras
    system = [line.split("#", 1)[0].strip() for line in bindep if line.strip()]
    expected = [line.strip() for line in (ROOT / "meta" / "ee-bindep.txt").read_text().splitlines()]
    assert system == [line for line in expected if line and not line.startswith("#")]

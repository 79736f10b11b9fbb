"""The molecule scenarios `lab` and `kind` share converge and verify; only create/destroy are kind's own.

Nothing here runs molecule, Docker or kind (the project's machines have no Docker engine): these tests read the
scenario files and prove that the structure holds together: what each molecule.yml points at exists and is the same
file for both, the kind scenario's image, manifests, ports and Dockerfile agree with each other and with the repo.
"""

from __future__ import annotations

import ast
import fnmatch
import re
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
MOLECULE = ROOT / "extensions" / "molecule"
LAB = MOLECULE / "lab"
KIND = MOLECULE / "kind"
AGENT = ROOT / "lab" / "agent_bruno"
SCENARIOS = {"lab": LAB, "kind": KIND}

# Files of manifests/ and the kinds of the objects in each, in order.
MANIFEST_KINDS = {
    "metrics-server.yaml": [
        "ServiceAccount",
        "ClusterRole",
        "ClusterRole",
        "RoleBinding",
        "ClusterRoleBinding",
        "ClusterRoleBinding",
        "Service",
        "Deployment",
        "APIService",
    ],
    "namespace.yaml": ["Namespace"],
    "redis.yaml": ["Deployment", "Service"],
    "mongodb.yaml": ["Deployment", "Service"],
    "agent-bruno.yaml": ["Secret", "Deployment", "Service", "HorizontalPodAutoscaler"],
}

# What the agent imports from outside the standard library -> the distribution that provides it.
AGENT_DISTRIBUTIONS = {"redis": "redis", "pymongo": "pymongo", "prometheus_client": "prometheus-client"}


def load_yaml(path):
    return yaml.safe_load(path.read_text())


def molecule_config(scenario):
    return load_yaml(SCENARIOS[scenario] / "molecule.yml")


def host_vars(scenario):
    return molecule_config(scenario)["provisioner"]["inventory"]["host_vars"]["localhost"]


def expand(value, scenario):
    """What molecule's interpolation makes of the ${MOLECULE_*} directories a path uses."""
    return value.replace("${MOLECULE_SCENARIO_DIRECTORY}", str(SCENARIOS[scenario])).replace(
        "${MOLECULE_PROJECT_DIRECTORY}", str(ROOT)
    )


def playbooks(scenario):
    """{action: absolute path} as molecule resolves them (relative to the scenario directory)."""
    configured = molecule_config(scenario)["provisioner"]["playbooks"]
    return {action: (SCENARIOS[scenario] / path).resolve() for action, path in configured.items()}


def create_play():
    (play,) = load_yaml(KIND / "create.yml")
    return play


def argv_tasks(play, *prefix):
    """The command tasks of a play whose argv starts with `prefix`."""
    found = []
    for task in play["tasks"]:
        argv = (task.get("ansible.builtin.command") or {}).get("argv")
        if isinstance(argv, list) and tuple(argv[: len(prefix)]) == prefix:
            found.append(argv)
    return found


def manifests():
    """{file: [objects]}: each file of manifests/ is one YAML document (ansible-test sanity's yamllint wants that),
    a List whose items kubectl applies in order."""
    found = {}
    for path in sorted((KIND / "manifests").glob("*.yaml")):
        documents = [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
        assert len(documents) == 1, "%s: one YAML document per file" % path.name
        (document,) = documents
        found[path.name] = document["items"] if document["kind"] == "List" else [document]
    return found


def agent_deployment():
    (deployment,) = [doc for doc in manifests()["agent-bruno.yaml"] if doc["kind"] == "Deployment"]
    (container,) = [c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "agent-bruno"]
    return deployment, container


# -- converge and verify are shared; create/destroy are the only playbooks that differ -------------------------


def test_both_scenarios_converge_and_verify_the_same_files():
    lab, kind = playbooks("lab"), playbooks("kind")
    assert lab["converge"] == kind["converge"] == (LAB / "converge.yml").resolve()
    assert lab["verify"] == kind["verify"] == (LAB / "verify.yml").resolve()


def test_only_create_and_destroy_differ():
    lab, kind = playbooks("lab"), playbooks("kind")
    assert set(lab) == {"converge", "verify"}  # the lab is already up: nothing to create or destroy
    assert set(kind) - set(lab) == {"create", "destroy"}
    assert kind["create"] == KIND / "create.yml"
    assert kind["destroy"] == KIND / "destroy.yml"
    # No scenario has a converge or verify of its own lying around beside the shared ones.
    assert not (KIND / "converge.yml").exists()
    assert not (KIND / "verify.yml").exists()
    lab_config, kind_config = molecule_config("lab"), molecule_config("kind")
    for key in ("platforms",):
        assert lab_config[key] == kind_config[key]
    assert lab_config["driver"]["name"] == kind_config["driver"]["name"] == "default"
    assert lab_config["provisioner"]["env"] == kind_config["provisioner"]["env"]


def test_kind_test_sequence_is_the_labs_between_create_and_destroy():
    lab_sequence = molecule_config("lab")["scenario"]["test_sequence"]
    kind_sequence = molecule_config("kind")["scenario"]["test_sequence"]
    assert [step for step in kind_sequence if step not in ("destroy", "syntax", "create")] == lab_sequence
    assert kind_sequence.index("create") < kind_sequence.index("converge")
    assert kind_sequence[0] == kind_sequence[-1] == "destroy"


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_every_playbook_referenced_exists(scenario):
    for action, path in playbooks(scenario).items():
        assert path.is_file(), "%s: %s playbook %s is missing" % (scenario, action, path)


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_scenario_variables_name_existing_files(scenario):
    variables = host_vars(scenario)
    assert variables["bruno_molecule_vars_files"], "no backends for %s" % scenario
    for path in [*variables["bruno_molecule_vars_files"], variables["bruno_molecule_inject"]]:
        assert "${MOLECULE_EPHEMERAL_DIRECTORY}" not in path
        assert Path(expand(path, scenario)).is_file(), "%s: %s is missing" % (scenario, path)


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_every_case_has_a_name_an_expected_verdict_and_existing_steps(scenario):
    variables = host_vars(scenario)
    cases = variables["bruno_molecule_cases"]
    names = [case["name"] for case in cases]
    assert len(names) == len(set(names)), "each case writes reports/<name>/: names must be unique"
    for case in cases:
        assert isinstance(case["expect"], str) and case["expect"]
        for step in case.get("steps", variables.get("bruno_molecule_steps", ["diagnose"])):
            assert (LAB / "tasks" / "steps" / ("%s.yml" % step)).is_file(), "%s: no step %s" % (case["name"], step)


def test_shared_converge_includes_existing_task_files():
    (play,) = load_yaml(LAB / "converge.yml")
    includes = [
        task["ansible.builtin.include_tasks"] for task in play["tasks"] if "ansible.builtin.include_tasks" in task
    ]
    assert includes == ["tasks/case.yml"]
    assert (LAB / "tasks" / "case.yml").is_file()


def test_lab_cases_are_the_lab_scenarios_with_their_causes():
    """The lab scenario converges every lab scenario, in the spec's order, and expects the spec's cause."""
    from labctl import scenario_specs  # noqa: PLC0415 (lab/ is put on sys.path by tests/conftest.py)

    cases = [(case["name"], case["expect"]) for case in host_vars("lab")["bruno_molecule_cases"]]
    assert cases == [(spec.name, spec.cause) for spec in scenario_specs.SCENARIOS.values()]
    assert not any("steps" in case for case in host_vars("lab")["bruno_molecule_cases"])
    assert host_vars("lab")["bruno_molecule_steps"] == ["diagnose"]


def test_lab_inject_puts_the_lab_into_the_case():
    (task,) = load_yaml(LAB / "tasks" / "inject.yml")
    assert task["ansible.builtin.command"]["cmd"] == "{{ repo }}/lab/lab scenario {{ bruno_molecule_case.name }}"


# -- kind's create.yml, manifests and image ---------------------------------------------------------------------


def test_create_references_existing_files():
    play = create_play()
    for vars_file in play["vars_files"]:
        assert (KIND / vars_file).is_file()
    text = (KIND / "create.yml").read_text()
    scenario_paths = re.findall(r"\{\{ kind_dir \}\}/([\w./-]+)", text)
    repo_paths = re.findall(r"\{\{ repo \}\}/([\w./-]+)", text)
    assert "files/kind-config.yaml" in scenario_paths
    assert "lab/agent_bruno" in repo_paths
    for path in scenario_paths:
        assert (KIND / path).exists(), path
    for path in repo_paths:
        assert (ROOT / path).exists(), path
    assert (ROOT / "lab" / "agent_bruno" / "Dockerfile").is_file()


def test_create_applies_every_manifest():
    assert sorted(create_play()["vars"]["kind_manifests"]) == sorted(manifests())
    order = create_play()["vars"]["kind_manifests"]
    assert order.index("namespace.yaml") < min(
        order.index(name) for name in ("redis.yaml", "mongodb.yaml", "agent-bruno.yaml")
    )


def test_manifests_parse_with_the_expected_kinds():
    found = {name: [doc["kind"] for doc in docs] for name, docs in manifests().items()}
    assert found == MANIFEST_KINDS
    for name in ("namespace.yaml", "redis.yaml", "mongodb.yaml", "agent-bruno.yaml"):
        for doc in manifests()[name]:
            if doc["kind"] != "Namespace":
                assert doc["metadata"]["namespace"] == "bruno", (name, doc["kind"])


# The model class of the kubernetes client (requirements/lock.txt: the 1.34 API) for each object of manifests/.
MODELS = {
    ("v1", "Namespace"): "V1Namespace",
    ("v1", "Secret"): "V1Secret",
    ("v1", "Service"): "V1Service",
    ("v1", "ServiceAccount"): "V1ServiceAccount",
    ("apps/v1", "Deployment"): "V1Deployment",
    ("autoscaling/v2", "HorizontalPodAutoscaler"): "V2HorizontalPodAutoscaler",
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): "V1ClusterRole",
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): "V1ClusterRoleBinding",
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): "V1RoleBinding",
    ("apiregistration.k8s.io/v1", "APIService"): "V1APIService",
}
SCALARS = {"str": str, "int": int, "bool": bool, "float": (int, float)}


def unknown_fields(value, model, path):
    """Fields the Kubernetes API would reject (strict validation), found through the client's models."""
    import kubernetes.client  # noqa: PLC0415

    if match := re.fullmatch(r"list\[(.+)\]", model):
        return [error for i, item in enumerate(value) for error in unknown_fields(item, match.group(1), f"{path}[{i}]")]
    if match := re.fullmatch(r"dict\(str, (.+)\)", model):
        return [error for key, item in value.items() for error in unknown_fields(item, match.group(1), f"{path}.{key}")]
    if model in ("object", "datetime"):  # IntOrString, Quantity and the like
        return []
    if model in SCALARS:
        ok = isinstance(value, SCALARS[model]) and not (model != "bool" and isinstance(value, bool))
        return [] if ok else [f"{path}: {value!r} is not {model}"]
    cls = getattr(kubernetes.client, model)
    attributes = {json_name: name for name, json_name in cls.attribute_map.items()}
    errors = []
    for key, item in value.items():
        if key not in attributes:
            errors.append(f"{path}.{key}: no such field in {model}")
        else:
            errors.extend(unknown_fields(item, cls.openapi_types[attributes[key]], f"{path}.{key}"))
    return errors


def test_manifests_use_only_fields_the_kubernetes_api_knows():
    errors = []
    for name, objects in manifests().items():
        for obj in objects:
            model = MODELS[(obj["apiVersion"], obj["kind"])]
            errors.extend(unknown_fields(obj, model, "%s:%s/%s" % (name, obj["kind"], obj["metadata"]["name"])))
    assert not errors, "\n".join(errors)


def test_create_builds_and_loads_the_image_the_deployment_runs():
    play = create_play()
    image = play["vars"]["kind_agent_image"]
    _deployment, container = agent_deployment()
    assert container["image"] == image
    assert container["imagePullPolicy"] == "Never"  # loaded with kind, never pulled
    assert ":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest")
    (build,) = argv_tasks(play, "docker", "build")
    assert "{{ kind_agent_image }}" in build and "{{ repo }}/lab/agent_bruno" in build
    (load,) = argv_tasks(play, "kind", "load", "docker-image")
    assert load[3] == "{{ kind_agent_image }}"


def test_the_agent_deployment_matches_the_labs():
    """Same identity and limits as lab/manifests/agent-bruno.yaml, so the diagnosis reads the same things."""
    lab_docs = list(yaml.safe_load_all((ROOT / "lab" / "manifests" / "agent-bruno.yaml").read_text()))
    (lab_deployment,) = [doc for doc in lab_docs if doc and doc["kind"] == "Deployment"]
    (lab_container,) = lab_deployment["spec"]["template"]["spec"]["containers"]
    deployment, container = agent_deployment()
    assert deployment["metadata"]["name"] == lab_deployment["metadata"]["name"]
    assert deployment["spec"]["selector"] == lab_deployment["spec"]["selector"]
    assert container["name"] == lab_container["name"]
    assert container["resources"] == lab_container["resources"]
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert env["LAB_MODE"] == "1"  # the kind scenario's inject uses the knobs
    # The real app's settings, as the lab's Deployment has them (the lab-only ones aside).
    lab_env = {item["name"] for item in lab_container["env"]} - {"POD_NAME"}
    assert lab_env <= set(env), "kind manifest lacks %s" % sorted(lab_env - set(env))
    runs_as = deployment["spec"]["template"]["spec"]["securityContext"]
    assert runs_as["runAsNonRoot"] is True and runs_as["runAsUser"] == dockerfile_user()


def test_published_ports_are_the_nodeports_and_the_backends():
    config = load_yaml(KIND / "files" / "kind-config.yaml")
    (node,) = config["nodes"]
    mappings = node["extraPortMappings"]
    assert {m["listenAddress"] for m in mappings} == {"127.0.0.1"}
    node_ports = {
        port["nodePort"]
        for docs in manifests().values()
        for doc in docs
        if doc["kind"] == "Service"
        for port in doc["spec"]["ports"]
        if "nodePort" in port
    }
    assert {m["containerPort"] for m in mappings} == node_ports
    backends = load_yaml(KIND / "vars" / "backends.yml")
    agent = urlsplit(backends["bruno_agent"]["url"])
    assert agent.hostname == backends["bruno_redis"]["host"] == backends["bruno_mongodb"]["host"] == "127.0.0.1"
    assert {m["hostPort"] for m in mappings} == {
        agent.port,
        backends["bruno_redis"]["port"],
        backends["bruno_mongodb"]["port"],
    }
    assert backends["bruno_kubernetes"]["kubeconfig"] == "{{ kind_kubeconfig }}"
    assert "kind_kubeconfig" in host_vars("kind") and "kind_cluster_name" in host_vars("kind")


def test_kind_node_image_is_pinned_by_digest():
    (node,) = load_yaml(KIND / "files" / "kind-config.yaml")["nodes"]
    assert re.fullmatch(r"kindest/node:v1\.34\.\d+@sha256:[0-9a-f]{64}", node["image"])


# -- the Dockerfile of the sample agent ---------------------------------------------------------------------------


def dockerfile():
    """[(INSTRUCTION, arguments)] with continuation lines joined and comments dropped."""
    instructions, pending = [], ""
    for line in (AGENT / "Dockerfile").read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        keyword, _sep, rest = (pending + line).strip().partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
        pending = ""
    return instructions


def dockerfile_user():
    (user,) = [rest for keyword, rest in dockerfile() if keyword == "USER"]
    return int(user.split(":")[0])


def dockerignored(relative):
    patterns = [
        line.strip()
        for line in (AGENT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        if fnmatch.fnmatch(relative, pattern.lstrip("!")):
            ignored = not negated
    return ignored


def copy_sources():
    sources = []
    for keyword, rest in dockerfile():
        if keyword in ("COPY", "ADD"):
            words = [word for word in rest.split() if not word.startswith("--")]
            sources.extend(words[:-1])
    return sources


def test_dockerfile_base_user_and_entry_point():
    instructions = dockerfile()
    (base,) = [rest for keyword, rest in instructions if keyword == "FROM"]
    assert re.fullmatch(r"python:3\.11(\.\d+)?-slim(-\w+)?", base)
    assert "HEALTHCHECK" not in {keyword for keyword, _rest in instructions}
    assert dockerfile_user() >= 1000  # numeric, so Kubernetes can check runAsNonRoot
    (entrypoint,) = [rest for keyword, rest in instructions if keyword == "ENTRYPOINT"]
    assert entrypoint == '["python", "-m", "agent_bruno"]'
    assert "PYTHONPATH=/app" in " ".join(rest for keyword, rest in instructions if keyword == "ENV")


def test_dockerfile_copy_sources_exist_in_the_build_context():
    sources = copy_sources()
    assert sources
    for source in sources:
        matches = [path.name for path in AGENT.glob(source) if path.is_file()]
        assert matches, "COPY %s matches nothing in %s" % (source, AGENT)
        assert not any(dockerignored(name) for name in matches), "COPY %s is excluded by .dockerignore" % source


def test_the_image_gets_every_module_of_the_package():
    copied = {path.name for source in copy_sources() for path in AGENT.glob(source)}
    modules = {path.name for path in AGENT.glob("*.py")}
    assert modules <= copied
    assert "__main__.py" in copied  # python -m agent_bruno


def lock_versions():
    versions = {}
    for line in (ROOT / "requirements" / "lock.txt").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9._-]+)==([^\s\\;]+)", line)
        if match:
            versions[match.group(1).lower().replace("_", "-")] = match.group(2)
    return versions


def dockerfile_pins():
    pins = {}
    for keyword, rest in dockerfile():
        if keyword == "RUN" and "pip install" in rest:
            for name, version in re.findall(r"([A-Za-z0-9._-]+)==([^\s&;]+)", rest):
                pins[name.lower().replace("_", "-")] = version
    return pins


def agent_third_party_imports():
    modules = set()
    for path in AGENT.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    return {name for name in modules if name not in sys.stdlib_module_names and name != "agent_bruno"}


def test_dockerfile_pins_what_the_agent_imports_at_the_locked_versions():
    pins, locked = dockerfile_pins(), lock_versions()
    imports = agent_third_party_imports()
    assert imports <= set(AGENT_DISTRIBUTIONS), "map the new import(s) to a distribution: %s" % (
        imports - set(AGENT_DISTRIBUTIONS)
    )
    for module in imports:
        assert AGENT_DISTRIBUTIONS[module] in pins, "the image does not install %s" % AGENT_DISTRIBUTIONS[module]
    assert "dnspython" in pins  # pymongo's dependency: installed with --no-deps, so pinned here too
    for name, version in pins.items():
        assert locked.get(name) == version, "%s==%s in the Dockerfile, %s in requirements/lock.txt" % (
            name,
            version,
            locked.get(name),
        )

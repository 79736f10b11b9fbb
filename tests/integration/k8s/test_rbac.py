"""deploy/rbac against the lab's RBAC-enforcing apiserver: each Role is enough for its playbooks, grants nothing
beyond plugins/module_utils/clients/k8s_access.py (plus the documented companions), and a Role missing one verb fails
the playbook with a message naming that verb and resource."""

import json
import subprocess

import pytest
import yaml

from ansible_collections.bruno.ops.plugins.module_utils.clients.k8s_access import DIAGNOSE, REMEDIATE, REQUIRED_ACCESS
from bruno_it import AUTOMATION_KUBECONFIG, ROOT, kubectl, run_lab, run_playbook

NS = "bruno"
RBAC = ROOT / "deploy" / "rbac"
SA = "system:serviceaccount:bruno:%s"
# Granted beside what the modules call, on purpose: the read verbs that go with a listed one (kubectl users
# expect get/watch with list), exec over WebSocket (a GET), and OpenShift's DeploymentConfigs.
COMPANIONS = {
    DIAGNOSE: {("", "pods", "get"), ("", "pods", "watch"), ("", "events", "get"), ("", "events", "watch"),
               ("", "pods/exec", "get"), ("apps", "deployments", "list"),
               ("apps", "deployments", "watch"),
               ("apps", "replicasets", "get"), ("apps", "replicasets", "watch"),
               ("autoscaling", "horizontalpodautoscalers", "get"),
               ("autoscaling", "horizontalpodautoscalers", "watch"), ("metrics.k8s.io", "pods", "get")},
    REMEDIATE: {("", "limitranges", "get"), ("", "resourcequotas", "get"), ("", "nodes", "get"),
                ("apps.openshift.io", "deploymentconfigs", "get"), ("apps.openshift.io", "deploymentconfigs", "list"),
                ("apps.openshift.io", "deploymentconfigs", "patch")},
}
# What an automation must never be able to do, whatever it is for.
FORBIDDEN = (("get", "secrets"), ("delete", "pods"), ("delete", "deployments.apps"), ("create", "deployments.apps"),
             ("update", "deployments.apps"), ("patch", "services"),
             ("create", "rolebindings.rbac.authorization.k8s.io"), ("delete", "leases.coordination.k8s.io"))
ROLE_OF = {DIAGNOSE: ["bruno-ops-diagnose"], REMEDIATE: ["bruno-ops-remediate", "bruno-ops-read-nodes"]}


def objects():
    found = {}
    for path in sorted(RBAC.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        for obj in doc.get("items", [doc]):
            found[(obj["kind"], obj["metadata"]["name"])] = obj
    return found


def granted(role_names):
    out = set()
    for (kind, name), obj in objects().items():
        if kind in ("Role", "ClusterRole") and name in role_names:
            for rule in obj["rules"]:
                out |= {(g, r, v) for g in rule["apiGroups"] for r in rule["resources"] for v in rule["verbs"]}
    return out


def required(purpose):
    return {(g, r + ("/" + s if s else ""), v) for p, v, g, r, s, _ns in REQUIRED_ACCESS if p == purpose}


@pytest.mark.parametrize("purpose", [DIAGNOSE, REMEDIATE])
def test_each_role_grants_what_the_modules_need_and_nothing_more(purpose):
    have = granted(ROLE_OF[purpose])
    assert required(purpose) <= have, required(purpose) - have
    assert have - required(purpose) <= COMPANIONS[purpose], have - required(purpose) - COMPANIONS[purpose]


def can_i(identity, verb, resource, namespace=NS, subresource=None):
    args = ["auth", "can-i", verb, resource, "--as", SA % identity]
    args += ["--subresource", subresource] if subresource else []
    args += ["-n", namespace] if namespace else []
    return kubectl(*args, check=False).stdout.strip() == "yes"


@pytest.mark.parametrize(("identity", "purposes"), [("bruno-ops-readonly", [DIAGNOSE]),
                                                    ("bruno-ops-automation", [DIAGNOSE, REMEDIATE])])
def test_the_apiserver_agrees(lab, identity, purposes):
    for purpose, verb, group, resource, sub, namespaced in REQUIRED_ACCESS:
        name = resource + ("." + group if group else "")
        allowed = can_i(identity, verb, name, NS if namespaced else None, sub)
        assert allowed is (purpose in purposes), (identity, verb, name)
    for verb, resource in FORBIDDEN:
        assert not can_i(identity, verb, resource), (identity, verb, resource)
    assert not can_i(identity, "list", "pods", "kube-system")  # namespace bruno only


def token_kubeconfig(tmp_path, service_account):
    """A kubeconfig for a ServiceAccount: the lab's automation kubeconfig with a fresh short-lived token."""
    token = kubectl("-n", NS, "create", "token", service_account, "--duration=1h").stdout.strip()
    config = json.loads(AUTOMATION_KUBECONFIG.read_text())
    config["users"][0]["user"] = {"token": token}
    path = tmp_path / ("%s.yaml" % service_account)
    path.write_text(json.dumps(config))
    return path


@pytest.fixture(scope="module")
def healthy(lab):
    run_lab("scenario", "healthy")


def test_read_only_account_runs_diagnose(healthy, tmp_path):
    kubeconfig = token_kubeconfig(tmp_path, "bruno-ops-readonly")
    out = run_playbook("playbooks/diagnose.yml", {"bruno_kubernetes": {"kubeconfig": str(kubeconfig)},
                                                  "diagnose_report_dir": str(tmp_path)})
    assert out.returncode == 0, out.stdout[-3000:]
    report = json.loads((tmp_path / "diagnosis.json").read_text())
    assert report["verdict"]["primary"] == "none"
    assert "kubernetes" not in report["verdict"]["unavailable_sources"]
    assert report["sources"]["kubernetes"] is True


def test_automation_account_runs_the_remediation_playbooks(healthy, tmp_path):
    # One person, one incident, four fixes in a row: the same holder passes its own cooldown (docs/remediation.md).
    conn = {"bruno_kubernetes": {"kubeconfig": str(AUTOMATION_KUBECONFIG)}, "remediate_record_dir": str(tmp_path),
            "change_lock_holder": "it-operator incident-42"}
    for playbook, extra in (("playbooks/reduce_session_ttl.yml", {"session_ttl_seconds": 7200}),
                            ("playbooks/scale.yml", {"scale_replicas": 3}),
                            ("playbooks/tune_limits.yml", {"tune_limits_mode": "apply", "tune_limits_limit": "1280Mi"}),
                            ("playbooks/restart.yml", {"restart_not_within": "0"})):
        out = run_playbook(playbook, dict(conn, **extra), timeout=600)
        assert out.returncode == 0, (playbook, out.stdout[-3000:])
        record = json.loads((tmp_path / "change-record.json").read_text())
        assert [c["changed"] for c in record["changes"]] == [True], (playbook, record)
    deployment = json.loads(kubectl("-n", NS, "get", "deployment", "agent-bruno", "-o", "json").stdout)
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert {e["name"]: e.get("value") for e in container["env"]}["SESSION_TTL"] == "7200"
    assert container["resources"]["limits"]["memory"] == "1280Mi"
    hpa = json.loads(kubectl("-n", NS, "get", "hpa", "agent-bruno-hpa", "-o", "json").stdout)
    assert hpa["spec"]["minReplicas"] == 3
    # Another run (another holder) waits for the cooldown the last change left, like remediate.yml's.
    out = run_playbook("playbooks/restart.yml", dict(conn, change_lock_holder="someone-else", restart_not_within="0"))
    assert out.returncode != 0 and "in its cooldown after a change by it-operator incident-42" in out.stdout
    run_lab("scenario", "healthy")  # back to the manifest (and no lock) for the tests after this one


def test_a_role_missing_a_verb_fails_naming_it(healthy, tmp_path):
    """bruno-ops-remediate without `patch` on deployments: restart.yml must say exactly that, and change nothing."""
    remediate = objects()[("Role", "bruno-ops-remediate")]
    rules = [r for r in remediate["rules"] if r["resources"] != ["deployments"]]
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": "bruno-ops-it-no-patch", "namespace": NS}, "rules": rules}
    objs = [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "bruno-ops-it-limited", "namespace": NS}},
        role,
        *({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
           "metadata": {"name": "bruno-ops-it-limited-%s" % suffix, "namespace": NS},
           "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
           "subjects": [{"kind": "ServiceAccount", "name": "bruno-ops-it-limited", "namespace": NS}]}
          for suffix, name in (("diagnose", "bruno-ops-diagnose"), ("no-patch", "bruno-ops-it-no-patch"))),
    ]
    manifest = json.dumps({"apiVersion": "v1", "kind": "List", "items": objs})
    applied = subprocess.run([str(ROOT / "lab" / "k8s" / "cluster"), "kubectl", "apply", "-f", "-"], input=manifest,
                             capture_output=True, text=True, timeout=120, check=False)
    assert applied.returncode == 0, applied.stderr
    try:
        before = kubectl("-n", NS, "get", "deployment", "agent-bruno", "-o", "jsonpath={.metadata.generation}").stdout
        kubeconfig = token_kubeconfig(tmp_path, "bruno-ops-it-limited")
        out = run_playbook("playbooks/restart.yml", {"bruno_kubernetes": {"kubeconfig": str(kubeconfig)},
                                                     "restart_not_within": "0", "remediate_record_dir": str(tmp_path)})
        assert out.returncode != 0
        assert 'cannot patch resource \\"deployments\\" in API group \\"apps\\"' in out.stdout \
            or 'cannot patch resource "deployments" in API group "apps"' in out.stdout, out.stdout[-3000:]
        assert "grant the automation's Role this verb on this resource" in out.stdout
        after = kubectl("-n", NS, "get", "deployment", "agent-bruno", "-o", "jsonpath={.metadata.generation}").stdout
        assert after == before
    finally:
        kubectl("-n", NS, "delete", "rolebinding", "bruno-ops-it-limited-diagnose", "bruno-ops-it-limited-no-patch",
                "--ignore-not-found", check=False)
        kubectl("-n", NS, "delete", "role", "bruno-ops-it-no-patch", "--ignore-not-found", check=False)
        kubectl("-n", NS, "delete", "serviceaccount", "bruno-ops-it-limited", "--ignore-not-found", check=False)
        kubectl("-n", NS, "delete", "lease", "-l", "app.kubernetes.io/managed-by=bruno.ops", "--ignore-not-found",
                check=False)

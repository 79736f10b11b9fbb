"""A real Flux kustomize-controller in the lab (labctl.flux): Git's state wins over a kubectl patch within two
reconcile intervals, unless the Kustomization is suspended; resuming restores Git's value.

The controller is the released kustomize-controller built from the Go module proxy; its source is a GitRepository
whose artifact labctl.flux serves on 127.0.0.1 (no source-controller). Started here when the lab runs without it
(LAB_GITOPS unset) and stopped again at the end; objects only in flux-system and gitops-test.
"""

import json
import time

import pytest
import yaml

from bruno_it import create_namespace, delete_namespace, kubectl, wait_for
from labctl import flux

pytestmark = pytest.mark.lab

NS = "gitops-test"
NAME = "gitops-test"  # the GitRepository and the Kustomization, both in flux-system
DEPLOYMENT = "gitops-demo"
INTERVAL = 20  # seconds, the Kustomization's spec.interval
GIT_TTL = "86400"
PATCHED_TTL = "600"


def manifests(directory, ttl):
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": DEPLOYMENT, "namespace": NS, "labels": {"app": DEPLOYMENT}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": DEPLOYMENT}},
            "template": {
                "metadata": {"labels": {"app": DEPLOYMENT}},
                "spec": {
                    "nodeSelector": {"type": "kwok"},
                    "tolerations": [{"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}],
                    "containers": [{
                        "name": "app", "image": "gitops-demo:lab",
                        "env": [{"name": "SESSION_TTL", "value": ttl}, {"name": "LOG_LEVEL", "value": "INFO"}],
                        "resources": {"limits": {"memory": "64Mi"}, "requests": {"memory": "16Mi"}},
                    }],
                },
            },
        },
    }
    (directory / "deployment.yaml").write_text(yaml.safe_dump(deployment, sort_keys=False))
    (directory / "kustomization.yaml").write_text(yaml.safe_dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": ["deployment.yaml"]}))
    return directory


def session_ttl():
    out = kubectl("-n", NS, "get", "deployment", DEPLOYMENT, "-o",
                  'jsonpath={.spec.template.spec.containers[0].env[?(@.name=="SESSION_TTL")].value}')
    return out.stdout.strip()


def set_env(value):
    kubectl("-n", NS, "set", "env", "deployment/%s" % DEPLOYMENT, "SESSION_TTL=%s" % value)
    assert session_ttl() == value


def until_ttl(value, timeout):
    """Seconds until the Deployment's SESSION_TTL is `value` (bounded by `timeout`)."""
    start = time.monotonic()
    wait_for(lambda: session_ttl() == value, "SESSION_TTL=%s" % value, timeout, interval=1.0)
    return time.monotonic() - start


@pytest.fixture(scope="module")
def gitops(lab, tmp_path_factory):
    with flux.running():
        try:
            _delete_objects()  # an interrupted earlier run's, if any
            create_namespace(NS)
            repo = manifests(tmp_path_factory.mktemp("gitops-repo"), GIT_TTL)
            published = flux.publish(repo, name=NAME)
            flux.apply_kustomization(NAME, source=NAME, path="./", interval="%ds" % INTERVAL, prune=True)
            flux.wait_applied(NAME, published["revision"], timeout=120)
            yield {"repo": repo, "revision": published["revision"]}
        finally:
            _delete_objects()


def _delete_objects():
    # The Kustomization carries Flux's finalizer: delete it while the controller runs (it prunes the Deployment).
    flux.kubectl("-n", flux.NAMESPACE, "delete", "kustomization", NAME, "--ignore-not-found", "--wait=true",
                 "--timeout=60s", check=False, timeout=90)
    flux.kubectl("-n", flux.NAMESPACE, "delete", "gitrepository", NAME, "--ignore-not-found", check=False)
    delete_namespace(NS)


def test_flux_applies_the_git_state(gitops):
    assert session_ttl() == GIT_TTL
    deploy = json.loads(kubectl("-n", NS, "get", "deployment", DEPLOYMENT, "-o", "json",
                                "--show-managed-fields").stdout)
    labels = deploy["metadata"]["labels"]
    # What ownership detection reads: Flux's labels and its server-side-apply field manager.
    assert labels["kustomize.toolkit.fluxcd.io/name"] == NAME
    assert labels["kustomize.toolkit.fluxcd.io/namespace"] == flux.NAMESPACE
    assert any(m["manager"] == "kustomize-controller" and m["operation"] == "Apply"
               for m in deploy["metadata"]["managedFields"])
    status = flux.kustomization_status(NAME)
    assert status["ready"]["status"] == "True"
    assert status["lastAppliedRevision"] == gitops["revision"]
    assert "%s_%s_apps_Deployment" % (NS, DEPLOYMENT) in status["inventory"]


def test_a_patch_without_suspension_is_reverted_within_two_intervals(gitops):
    set_env(PATCHED_TTL)
    took = until_ttl(GIT_TTL, 2 * INTERVAL + 5)
    print("reverted by Flux after %.1fs (interval %ds)" % (took, INTERVAL))
    assert took <= 2 * INTERVAL + 5
    assert flux.kustomization_status(NAME)["lastAppliedRevision"] == gitops["revision"]


def test_a_suspended_kustomization_keeps_the_patch_and_resume_restores_git(gitops):
    flux.set_suspended(NAME, True)
    try:
        time.sleep(2)  # a reconcile already running when suspend lands may still apply once
        set_env(PATCHED_TTL)
        hold = INTERVAL * 1.5 + 5
        deadline = time.monotonic() + hold
        samples = []
        while time.monotonic() < deadline:
            samples.append(session_ttl())
            time.sleep(2)
        assert set(samples) == {PATCHED_TTL}, samples
        assert flux.kustomization_status(NAME)["suspended"] is True
    finally:
        flux.set_suspended(NAME, False)
    took = until_ttl(GIT_TTL, INTERVAL + 10)  # resuming changes the generation: Flux reconciles at once
    print("kept the patch %.0fs while suspended; restored %.1fs after resume" % (hold, took))
    status = flux.kustomization_status(NAME)
    assert status["suspended"] is False and status["ready"]["status"] == "True"


def test_a_new_revision_is_applied(gitops):
    published = flux.publish(manifests(gitops["repo"], "43200"), name=NAME)
    assert published["changed"] and published["revision"] != gitops["revision"]
    flux.wait_applied(NAME, published["revision"], timeout=INTERVAL + 10)  # the source watch triggers it
    assert session_ttl() == "43200"
    assert flux.publish(gitops["repo"], name=NAME)["changed"] is False  # same files, same revision

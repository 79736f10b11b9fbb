"""Kind DeploymentConfig against the lab's real apiserver, the API served by a CRD: the remediation modules reach
openshift-it/it-dc through the dynamic client of the `openshift` package. The kubernetes.core pattern as for a
Deployment (check mode changes nothing, the real run with --diff changes what it says, a rerun is unchanged), waits
that follow the status a (fake) DeploymentConfig controller writes, a rollback after a failed rollout, and the
errors: API not served, object not found, forbidden, conflict."""

import openshiftlab as osl
import pytest

from ansible_collections.bruno.ops.plugins.module_utils import errors
from ansible_collections.bruno.ops.plugins.module_utils.change import workload
from ansible_collections.bruno.ops.plugins.module_utils.clients import openshift_client
from ansible_collections.bruno.ops.plugins.module_utils.clients.k8s_client import K8sClient
from bruno_it import kubectl, run_module

ENV = "bruno.ops.container_env"
RESTART = "bruno.ops.rollout_restart"
SCALE = "bruno.ops.workload_scale"
LIMITS = "bruno.ops.memory_limits"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


def env_of(obj):
    return {e["name"]: e.get("value") for e in obj["spec"]["template"]["spec"]["containers"][0].get("env") or []}


def memory_of(obj):
    return obj["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"]


def test_without_the_api_the_error_says_it_is_not_served(lab):
    """First, before the CRD is installed (an earlier run's is removed): what a plain Kubernetes cluster answers."""
    osl.remove_api()
    rc, result, _raw = run_module(ENV, dict(osl.TARGET, env={"SESSION_TTL": 3600}))
    assert rc != 0 and result["error"]["kind"] == "not_found"
    assert result["msg"].startswith("cannot get deploymentconfig openshift-it/it-dc: apps.openshift.io/v1 "
                                    "DeploymentConfig is not served by this cluster (not OpenShift?)")


@pytest.fixture(scope="module")
def dc_api(lab):
    osl.install_api()
    osl.create_namespace()
    yield
    osl.delete_namespace()
    osl.remove_api()


@pytest.fixture
def dc(dc_api):
    return osl.fresh_deployment_config()


# ---------------------------------------------------------------------------------------------- container_env


def test_container_env_check_mode_then_apply_with_diff_waits_for_the_rollout_then_unchanged(dc):
    args = dict(osl.TARGET, container="agent", env={"SESSION_TTL": 3600}, wait_timeout=60)
    with osl.no_change(dc):
        rc, result, _raw = run_module(ENV, args, check=True)
    assert rc == 0, result
    assert result["changed"] is True and result["after"]["env"]["SESSION_TTL"] == "3600"

    with osl.FakeController(delay=3) as controller:
        rc, result, raw = run_module(ENV, args, diff=True)
    assert rc == 0, result
    assert result["changed"] is True
    assert result["diff"]["before"]["env"]["SESSION_TTL"] == "86400"
    assert result["diff"]["after"]["env"]["SESSION_TTL"] == "3600"
    assert "+" in raw and "SESSION_TTL" in raw
    # the wait followed the controller: in progress first (a new latestVersion), complete 3 s later
    assert controller.rollouts == [dc["metadata"]["generation"] + 1]
    assert result["rollout"]["complete"] is True and result["rollout"]["updated"] == 2
    assert result["waited"] >= 2
    assert "old_replica_set" not in result and "new_replica_set" not in result  # ReplicationControllers, not sets
    server = osl.get()
    assert env_of(server) == {"SESSION_TTL": "3600", "PORT": "8080"}
    assert server["status"]["latestVersion"] == dc["status"]["latestVersion"] + 1

    rc, result, _raw = run_module(ENV, args)
    assert rc == 0 and result["changed"] is False
    assert osl.get()["metadata"]["generation"] == server["metadata"]["generation"]


def test_a_failed_rollout_is_rolled_back(dc):
    """The controller reports ProgressDeadlineExceeded (as for a failed deployer pod): the module puts the previous
    pod template back, waits for that rollout, and fails saying so."""
    def breaks(obj):
        return env_of(obj).get("BREAKS") == "1"

    with osl.FakeController(delay=1, fails=breaks) as controller:
        rc, result, _raw = run_module(ENV, dict(osl.TARGET, env={"BREAKS": "1"}, wait_timeout=60), timeout=180)
    assert rc != 0
    error = result["error"]
    assert error["kind"] == "rollout_failed" and error["rolled_back"] is True and error["rollback_complete"] is True
    assert "progress deadline exceeded" in result["msg"] and 'replication controller "it-dc-2"' in result["msg"]
    assert len(controller.rollouts) == 2  # the change, then the rollback
    server = osl.get()
    assert env_of(server) == env_of(dc) and server["spec"]["template"] == dc["spec"]["template"]


# ---------------------------------------------------------------------------------------------- workload_scale


def test_workload_scale_sets_replicas_and_waits(dc):
    args = dict(osl.TARGET, replicas=3, wait_timeout=60)
    with osl.no_change(dc):
        rc, result, _raw = run_module(SCALE, args, check=True)
    assert rc == 0 and result["changed"] is True and result["after"] == {"replicas": 3}

    with osl.FakeController(delay=2):
        rc, result, _raw = run_module(SCALE, args, diff=True)
    assert rc == 0, result
    assert result["target"] == {"kind": "deploymentconfig", "name": osl.NAME}
    assert result["before"] == {"replicas": 2} and result["after"] == {"replicas": 3}
    assert result["undo"] == {"replicas": 2}
    assert result["rollout"] == {"complete": True, "desired": 3, "ready": 3}
    path = "/apis/apps.openshift.io/v1/namespaces/%s/deploymentconfigs/%s/scale" % (osl.NS, osl.NAME)
    scale = kubectl("get", "--raw", path).stdout
    assert '"replicas":3' in scale  # what an HPA (or `oc scale`) sees through the scale subresource

    rc, result, _raw = run_module(SCALE, args)
    assert rc == 0 and result["changed"] is False


# ---------------------------------------------------------------------------------------------- memory_limits


def test_memory_limits_without_usage_figures_only_raises(dc):
    """No Prometheus and no pods (nothing runs a CRD's pods): no usage to check a limit against, so the above_peak
    guardrail lets a raise through and refuses a cut."""
    rc, result, _raw = run_module(LIMITS, dict(osl.TARGET, mode="apply", limit="768Mi"))
    assert rc != 0 and result["error"]["kind"] == "guardrail"
    assert "no usage figures to check against" in result["msg"]
    assert memory_of(osl.get()) == "1Gi"

    args = dict(osl.TARGET, mode="apply", limit="1536Mi", wait=False)
    with osl.no_change(dc):
        rc, result, _raw = run_module(LIMITS, args, check=True)
    assert rc == 0, result
    assert result["changed"] is True and result["after"]["limits"] == "1536Mi"
    assert result["pods"] == 0 and result["observed"]["peak_bytes"] is None
    assert result["observed"]["source"] == "metrics.k8s.io"
    assert all(g["passed"] for g in result["guardrails"])

    rc, result, _raw = run_module(LIMITS, args, diff=True)
    assert rc == 0, result
    assert result["changed"] is True and result["before"]["limits"] == "1Gi" and result["after"]["limits"] == "1536Mi"
    assert result["undo"] == {"mode": "apply", "limit": "1Gi", "request": "256Mi"}
    assert "rollout" not in result  # wait: false
    assert memory_of(osl.get()) == "1536Mi"

    rc, result, _raw = run_module(LIMITS, args)
    assert rc == 0 and result["changed"] is False


# ---------------------------------------------------------------------------------------------- rollout_restart


def test_rollout_restart_stamps_the_pod_template(dc):
    args = dict(osl.TARGET, not_within="10m", wait=False)
    with osl.no_change(dc):
        rc, result, _raw = run_module(RESTART, args, check=True)
    assert rc == 0 and result["changed"] is True and result["after"]["restarted_at"]

    rc, result, _raw = run_module(RESTART, args, diff=True)
    assert rc == 0, result
    assert result["changed"] is True and result["restarted_at"]
    server = osl.get()
    assert server["spec"]["template"]["metadata"]["annotations"][RESTARTED_AT] == result["restarted_at"]
    assert server["spec"]["template"]["metadata"]["labels"] == {"app": osl.NAME}  # the rest of the template kept
    assert server["metadata"]["generation"] == dc["metadata"]["generation"] + 1

    rc, result, _raw = run_module(RESTART, args)
    assert rc == 0 and result["changed"] is False and "within not_within" in result["skipped_reason"]


# ---------------------------------------------------------------------------------------------- errors


def test_a_deployment_config_that_does_not_exist_is_not_found(dc_api):
    rc, result, _raw = run_module(RESTART, dict(osl.TARGET, name="nope"))
    assert rc != 0 and result["error"]["kind"] == "not_found"
    assert result["msg"].startswith("cannot get deploymentconfig openshift-it/nope: 404")
    assert 'deploymentconfigs.apps.openshift.io "nope" not found' in result["msg"]


def test_without_rbac_the_error_names_verb_and_resource(dc):
    kubernetes = dict(osl.TARGET["kubernetes"], impersonate_user="bruno-ops-it-nobody")
    rc, result, _raw = run_module(SCALE, dict(osl.TARGET, kubernetes=kubernetes, replicas=3))
    assert rc != 0 and result["error"]["kind"] == "forbidden"
    assert 'cannot list resource "horizontalpodautoscalers"' in result["msg"]  # the HPA lookup comes first
    rc, result, _raw = run_module(RESTART, dict(osl.TARGET, kubernetes=kubernetes))
    assert rc != 0 and result["error"]["kind"] == "forbidden"
    assert 'cannot get resource "deploymentconfigs" in API group "apps.openshift.io"' in result["msg"]
    assert "grant the automation's Role this verb on this resource" in result["msg"]


def stale_patch():
    """Straight through openshift_client: read, someone else edits, then a guarded patch computed from the read.
    (the BrunoOpsError, requests made before the patch, requests after it)"""
    client = K8sClient(osl.TARGET["kubernetes"])
    try:
        read, patch = openshift_client.deployment_config_access(client, osl.NS, osl.NAME,
                                                                "deploymentconfig %s/%s" % (osl.NS, osl.NAME))
        stale = read()
        before = client.requests
        kubectl("-n", osl.NS, "label", osl.RESOURCE, osl.NAME, "edited-by=someone-else")
        with pytest.raises(errors.BrunoOpsError) as caught:
            patch(workload.guarded(stale, [{"op": "replace", "path": "/spec/replicas", "value": 4}]))
        after = client.requests
        fresh = patch(workload.guarded(read(), [{"op": "replace", "path": "/spec/replicas", "value": 4}]),
                      dry_run=True)
        assert fresh["spec"]["replicas"] == 4 and fresh["metadata"]["labels"]["edited-by"] == "someone-else"
    finally:
        client.close()
    assert osl.get()["spec"]["replicas"] == 2  # refused, then a dry run: nothing changed
    return caught.value, before, after


def test_a_change_computed_from_a_stale_read_is_refused_and_requests_are_counted(dc):
    error, before, after = stale_patch()
    assert error.details["status"] == 422
    assert error.message.startswith("cannot patch deploymentconfig openshift-it/it-dc: 422")
    assert 2 <= before <= 8  # discovery (a handful of small requests, made afresh) and the read
    assert after == before + 1


def test_a_change_computed_from_a_stale_read_is_a_conflict(dc):
    """kube-apiserver 1.34 answers a failed JSON patch `test` with a bare 422 Invalid and no details."""
    error, _before, _after = stale_patch()
    assert error.kind == errors.CONFLICT

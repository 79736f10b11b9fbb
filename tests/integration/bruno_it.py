"""Helpers of the integration tests: run a module or a playbook through Ansible from the repository root.

A module with a name of its own (not conftest) so every test folder imports the same one.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
LAB = ROOT / "lab" / "lab"
LAB_DIR = Path(os.environ.get("BRUNO_LAB_DIR") or ROOT / ".lab")
ADMIN_KUBECONFIG = LAB_DIR / "kubeconfig" / "admin.yaml"
AUTOMATION_KUBECONFIG = LAB_DIR / "kubeconfig" / "automation.yaml"
KUBECTL_CLUSTER = ROOT / "lab" / "k8s" / "cluster"
REDIS_PASSWORD = "it-redis-pw-7f3a"  # test-only; the tests assert it never shows up in output


def ansible_env():
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_FORCE_COLOR="0", PATH="%s:%s" % (BIN, os.environ.get("PATH", "")))
    env.pop("ANSIBLE_STDOUT_CALLBACK", None)
    return env


def run_module(module, args, check=False, timeout=120, diff=False):
    """Run one module through ansible-playbook; returns (rc, registered result, raw output).

    The result is written to a JSON file by a second task, so the test sees exactly what a playbook's
    `register` would hold, without depending on a stdout callback from another collection.
    """
    with tempfile.TemporaryDirectory(prefix="bruno-module-") as work:
        return _run_module_in(Path(work), module, args, (check, diff), timeout)


def _run_module_in(work, module, args, modes, timeout):
    check, diff = modes
    out_file = work / "result.json"
    playbook = work / "run.yml"
    play = [{
        "name": "run %s" % module,
        "hosts": "localhost",
        "gather_facts": False,
        "tasks": [
            {"name": "module under test", module: args, "register": "under_test", "ignore_errors": True},
            {"name": "save result", "ansible.builtin.copy": {"content": "{{ under_test | to_json }}",
                                                             "dest": str(out_file)},
             "check_mode": False},
            {"name": "propagate failure", "ansible.builtin.fail": {"msg": "module failed"},
             "when": "under_test is failed"},
        ],
    }]
    playbook.write_text(json.dumps(play))
    cmd = [str(BIN / "ansible-playbook"), "-i", str(ROOT / "inventory" / "lab"), str(playbook)]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    out = subprocess.run(cmd, cwd=ROOT, env=ansible_env(), capture_output=True, text=True, timeout=timeout,
                         check=False)
    raw = out.stdout + out.stderr
    if not out_file.exists():
        raise AssertionError("the module produced no result:\n" + raw[-4000:])
    return out.returncode, json.loads(out_file.read_text()), raw


def run_playbook(playbook, extra_vars, *args, timeout=300):
    """Run a playbook from the repository root with JSON extra vars; returns CompletedProcess."""
    cmd = [str(BIN / "ansible-playbook"), playbook, "-e", json.dumps(extra_vars), *args]
    return subprocess.run(cmd, cwd=ROOT, env=ansible_env(), capture_output=True, text=True, timeout=timeout,
                          check=False)


def run_lab(*args, timeout=600):
    """Run `lab/lab ARGS`; fail the test with its output when it fails."""
    out = subprocess.run([str(LAB), *args], capture_output=True, text=True, timeout=timeout, check=False)
    if out.returncode != 0:
        raise AssertionError("lab %s failed:\n%s" % (" ".join(args), (out.stdout + out.stderr)[-3000:]))
    return out.stdout


def kubectl(*args, kubeconfig=None, timeout=120, check=True):
    """The lab's kubectl (admin kubeconfig unless another is given); returns CompletedProcess."""
    env = dict(os.environ, KUBECONFIG=str(kubeconfig or ADMIN_KUBECONFIG))
    out = subprocess.run([str(KUBECTL_CLUSTER), "kubectl", *args], capture_output=True, text=True, timeout=timeout,
                         env=env, check=False)
    if check and out.returncode != 0:
        raise AssertionError("kubectl %s failed: %s" % (" ".join(args), out.stderr[-2000:]))
    return out


def kubectl_apply(obj):
    """kubectl apply of one object (a dict, or a List), as the lab's admin."""
    env = dict(os.environ, KUBECONFIG=str(ADMIN_KUBECONFIG))
    out = subprocess.run([str(KUBECTL_CLUSTER), "kubectl", "apply", "-f", "-"], input=json.dumps(obj),
                         capture_output=True, text=True, timeout=120, check=False, env=env)
    if out.returncode != 0:
        raise AssertionError("kubectl apply failed: %s" % out.stderr[-2000:])
    return out


def wait_for(check, what, timeout=60, interval=2.0):
    """check() until it is truthy, at most `timeout` seconds; fails the test naming `what` otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))


def create_namespace(namespace):
    """A new namespace (an earlier run's may still be terminating: wait for it to go first)."""
    wait_for(lambda: kubectl("get", "namespace", namespace, check=False).returncode != 0,
             "namespace %s to go" % namespace, 180)
    kubectl("create", "namespace", namespace)


def delete_namespace(namespace):
    kubectl("delete", "namespace", namespace, "--ignore-not-found", "--wait=true", "--timeout=120s", check=False,
            timeout=150)

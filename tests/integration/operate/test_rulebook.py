"""Alert-driven runs, end to end: Alertmanager webhooks (version 4 JSON, POSTed with urllib) reach
ansible-rulebook running extensions/eda/rulebooks/agent_bruno_alerts.yml with the collection's
bruno.ops.alertmanager source, which runs playbooks/diagnose.yml against the lab, once per alert per
throttle window (with remediation enabled, remediate.yml instead: a stand-in here). Also: the source plugin
on its own (ansible.eda.alertmanager's event shape) and the EDA controller variant of the rulebook.
docs/event-driven.md describes all of it.
"""

import asyncio
import hashlib
import json
import os
import runpy
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request

import jsonschema
import pytest
import yaml
from ansible_rulebook import rules_parser
from ansible_rulebook.conf import settings
from ansible_rulebook.json_generator import generate_dict_rulesets
from ansible_rulebook.util import render_string
from ansible_rulebook.validators import Validate

from bruno_it import BIN, LAB_DIR, ROOT, ansible_env
from labctl import procs

EDA = ROOT / "extensions" / "eda"
RULEBOOK = EDA / "rulebooks" / "agent_bruno_alerts.yml"
CONTROLLER_RULEBOOK = EDA / "rulebooks" / "agent_bruno_alerts_controller.yml"
PLUGIN = EDA / "plugins" / "event_source" / "alertmanager.py"

DIAGNOSE_PLAY = "PLAY [Diagnose agent-bruno high memory]"
REMEDIATE_PLAY = "PLAY [Stand-in for remediate.yml]"
RECAP = "PLAY RECAP"
START_TIMEOUT = 120  # seconds for ansible-rulebook (JVM + Drools) to listen; it takes about 5
RUN_TIMEOUT = 240  # seconds for one diagnose.yml run on the lab; it takes about 10
STOP_TIMEOUT = 30
# Sent as the webhook's Authorization header: the events are printed, so it must show up only masked.
WEBHOOK_TOKEN = "it-webhook-token-5b1e"

POD_A = "agent-bruno-6d8f7c9b5-x2k4q"
POD_B = "agent-bruno-6d8f7c9b5-m7t9z"


# -- Alertmanager webhook payloads ------------------------------------------------------------------------


def alert(name, pod, status="firing", namespace="bruno"):
    """One alert as Alertmanager sends it (labels as deploy/prometheus's rules set them)."""
    labels = {
        "alertname": name,
        "namespace": namespace,
        "pod": pod,
        "container": "agent-bruno",
        "severity": "critical" if name == "AgentBrunoOOMKilled" else "warning",
        "prometheus": "monitoring/kube-prometheus",
    }
    return {
        "status": status,
        "labels": labels,
        "annotations": {
            "summary": "%s on %s/%s" % (name, namespace, pod),
            "runbook_url": "https://github.com/bruno-ops/bruno.ops/blob/main/docs/alerts.md",
        },
        "startsAt": "2026-11-29T08:50:00.000Z",
        "endsAt": "2026-11-29T09:20:00.000Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.monitoring:9090/graph?g0.expr=container_memory_working_set_bytes",
        "fingerprint": hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:16],
    }


def webhook(*alerts):
    """The version 4 webhook body around alerts of one group, grouped as docs/event-driven.md routes them
    (by alertname, namespace and pod)."""
    common = {
        key: value
        for key, value in alerts[0]["labels"].items()
        if all(other["labels"].get(key) == value for other in alerts)
    }
    group = {key: alerts[0]["labels"][key] for key in ("alertname", "namespace", "pod")}
    return {
        "version": "4",
        "groupKey": '{}/{alertname=~"AgentBrunoHighMemoryUsage|AgentBrunoOOMKilled",namespace="bruno"}:{%s}'
        % ", ".join('%s="%s"' % item for item in group.items()),
        "truncatedAlerts": 0,
        "status": "firing" if any(item["status"] == "firing" for item in alerts) else "resolved",
        "receiver": "bruno-eda",
        "groupLabels": group,
        "commonLabels": common,
        "commonAnnotations": alerts[0]["annotations"] if len(alerts) == 1 else {},
        "externalURL": "http://alertmanager.monitoring:9093",
        "alerts": list(alerts),
    }


def post(port, body, path="/bruno-eda", headers=None, raw=None):
    """POST like Alertmanager's webhook_config; returns (status, text)."""
    data = raw if raw is not None else json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 - a loopback URL built here
        "http://127.0.0.1:%d%s" % (port, path),
        data=data,
        method="POST",
        headers=dict({"Content-Type": "application/json", "User-Agent": "Alertmanager/0.28.1"}, **(headers or {})),
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def get(port, path="/"):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5) as response:  # noqa: S310
        return response.status, response.read().decode()


def wait_for(what, check, timeout, interval=0.5, alive=None):
    """Poll check() until it returns something true; fail with `what` after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if alive is not None:
            alive()
        if time.monotonic() > deadline:
            pytest.fail("timed out after %ds waiting for %s" % (timeout, what))
        time.sleep(interval)


# -- ansible-rulebook as a subprocess ----------------------------------------------------------------------


class Rulebook:
    """ansible-rulebook in its own process group, output in a file, stopped by its PID."""

    def __init__(self, work, variables, rulebook="bruno.ops.agent_bruno_alerts"):
        self.work = work
        self.variables = variables
        self.port = None
        self.log = work / "ansible-rulebook.log"
        vars_file = self.vars_file = work / "rulebook-vars.yml"
        self._pick_port()
        executable = BIN / "ansible-rulebook"
        if not executable.exists():  # a missing tool is a failed test, never a skip
            pytest.fail("ansible-rulebook is not installed in %s (make env)" % BIN)
        # -r by name: ansible-rulebook finds the rulebook, the source and the playbook in the collection
        # through ansible-galaxy and ansible.cfg's collections_path.
        self.cmd = [
            str(executable),
            "-r",
            rulebook,
            "-i",
            str(ROOT / "inventory" / "lab"),
            "--vars",
            str(vars_file),
            "--print-events",
        ]
        # ansible-rulebook copies the inventory to a temporary directory, so the lab inventory cannot find
        # the lab next to itself; PYTHONUNBUFFERED keeps the playbook output in order in the log.
        self.env = dict(ansible_env(), BRUNO_LAB_DIR=str(LAB_DIR), PYTHONUNBUFFERED="1")
        self.proc = None

    def _pick_port(self):
        self.port = procs.free_port()
        self.vars_file.write_text(yaml.safe_dump(dict(self.variables, bruno_eda_port=self.port)))

    def start(self, attempts=3):
        # A free port can be taken by another process's outgoing connection before ansible-rulebook binds it
        # (the lab's agents open many): then, and only then, try again on a new port.
        for attempt in range(attempts):
            with open(self.log, "wb") as out:
                self.proc = subprocess.Popen(
                    self.cmd, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
                )
            try:
                wait_for("ansible-rulebook to listen on 127.0.0.1:%d" % self.port, self._up, START_TIMEOUT,
                         alive=self.check_alive)
                return self
            except pytest.fail.Exception:
                if attempt == attempts - 1 or "address already in use" not in self.output():
                    raise
                self.stop()
                self._pick_port()
        return self

    def _up(self):
        try:
            return get(self.port) == (200, "up")
        except OSError:
            return False

    def output(self):
        return self.log.read_text(errors="replace")

    def check_alive(self):
        if self.proc.poll() is not None:
            pytest.fail("ansible-rulebook exited with %s:\n%s" % (self.proc.returncode, self.output()[-4000:]))

    def post(self, body, **kwargs):
        status, text = post(self.port, body, **kwargs)
        assert (status, text) == (202, "Received"), (status, text)

    def count(self, text):
        return self.output().count(text)

    def wait_runs(self, expected):
        """Wait until `expected` playbook runs have finished in all (PLAY RECAP lines)."""
        wait_for(
            "%d finished playbook runs" % expected,
            lambda: self.count(RECAP) >= expected,
            RUN_TIMEOUT,
            alive=self.check_alive,
        )
        assert self.count(RECAP) == expected, self.output()[-4000:]

    def stop(self):
        """SIGTERM to the process group (ansible-rulebook and any playbook it runs), SIGKILL to what is left."""
        if self.proc is None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:  # the whole group is gone
                break
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                continue
            time.sleep(0.5)  # the leader is gone; give its children a moment before the check for leftovers


@pytest.fixture
def rulebook(tmp_path):
    """Start ansible-rulebook with rulebook variables; every one started is stopped at the end."""
    started = []

    def start(**variables):
        work = tmp_path / ("rulebook-%d" % len(started))
        work.mkdir()
        running = Rulebook(work, variables)
        started.append(running)
        return running.start()

    try:
        yield start
    finally:
        for running in started:
            running.stop()


def report_of(root, name, pod, namespace="bruno"):
    """The reports one diagnose run wrote for an alert (the rulebook's per-alert directory)."""
    directory = root / name / namespace / pod
    document = json.loads((directory / "diagnosis.json").read_text())
    assert (directory / "diagnosis.md").stat().st_size > 0
    assert (directory / "diagnosis.html").stat().st_size > 0
    return document


# -- End to end, on the lab ----------------------------------------------------------------------------------


@pytest.mark.lab
def test_alerts_run_diagnose_once_per_alert_and_window(lab, rulebook, tmp_path):
    reports = tmp_path / "reports"
    running = rulebook(bruno_eda_report_dir=str(reports))

    first = webhook(alert("AgentBrunoHighMemoryUsage", POD_A))
    running.post(first, headers={"Authorization": "Bearer " + WEBHOOK_TOKEN})
    running.wait_runs(1)
    document = report_of(reports, "AgentBrunoHighMemoryUsage", POD_A)
    # The run happened and wrote its report; the cause depends on the lab's current scenario.
    assert document["target"] == "bruno/app=agent-bruno"
    assert document["verdict"]["primary"]
    assert document["generated_at"]
    # The alert that started the run is in its report.
    assert document["extra"]["alert"]["labels"]["alertname"] == "AgentBrunoHighMemoryUsage"
    assert document["extra"]["alert"]["labels"]["pod"] == POD_A

    # Nothing of these may run: the same alert again within the window (Alertmanager re-sends a firing
    # group), a resolved alert, an alert the rulebook does not handle, and one from another namespace.
    running.post(first)
    running.post(webhook(alert("AgentBrunoHighMemoryUsage", POD_B, status="resolved")))
    running.post(webhook(alert("AgentBrunoHighCPUUsage", POD_B)))
    running.post(webhook(alert("AgentBrunoHighMemoryUsage", POD_B, namespace="default")))
    # Events are evaluated in arrival order, so once the run for another pod is done, all of the above
    # were evaluated before it.
    running.post(webhook(alert("AgentBrunoHighMemoryUsage", POD_B)))
    running.wait_runs(2)
    report_of(reports, "AgentBrunoHighMemoryUsage", POD_B)

    # Another alert for the same pod is another alert.
    running.post(webhook(alert("AgentBrunoOOMKilled", POD_A)))
    running.wait_runs(3)
    report_of(reports, "AgentBrunoOOMKilled", POD_A)

    output = running.output()
    assert output.count(DIAGNOSE_PLAY) == 3, output[-4000:]
    written = {path.relative_to(reports).parent.as_posix() for path in reports.rglob("diagnosis.json")}
    assert written == {
        "AgentBrunoHighMemoryUsage/bruno/" + POD_A,
        "AgentBrunoHighMemoryUsage/bruno/" + POD_B,
        "AgentBrunoOOMKilled/bruno/" + POD_A,
    }
    # Remediation is off unless enabled: nothing but diagnose ran, and bruno.ops.remediate was not asked for.
    assert output.count("PLAY RECAP") == 3  # three playbook runs (each is start, diagnose, finish)
    assert "remediate" not in output.lower()
    # Every run succeeded, and the webhook's credential was printed only masked.
    assert output.count("failed=0") == 3, output[-4000:]
    assert "'Authorization': '********'" in output
    assert WEBHOOK_TOKEN not in output


REMEDIATE_STUB = """\
# Stands in for playbooks/remediate.yml, which would change the shared lab: writes what the rulebook passed
# as its change record.
- name: Stand-in for remediate.yml
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Make the record's directory
      ansible.builtin.file:
        path: "{{ remediate_record_dir }}"
        state: directory
        mode: "0755"
    - name: Write the change record
      ansible.builtin.copy:
        dest: "{{ remediate_record_dir }}/remediation.json"
        content: "{{ {'approve': approve, 'bruno_namespace': bruno_namespace, 'bruno_alert': bruno_alert,
                      'diagnose_report_dir': diagnose_report_dir} | to_json }}"
        mode: "0644"
"""


def test_remediation_when_enabled_runs_remediate_with_approve(rulebook, tmp_path):
    reports, stub = tmp_path / "reports", tmp_path / "stub"
    stub.mkdir()  # run_playbook copies the playbook's directory: keep it to the playbook alone
    (stub / "remediate.yml").write_text(REMEDIATE_STUB)
    running = rulebook(
        bruno_eda_report_dir=str(reports),
        bruno_eda_remediate=True,
        bruno_eda_remediate_playbook=str(stub / "remediate.yml"),
    )

    sent = alert("AgentBrunoOOMKilled", POD_A)
    running.post(webhook(sent))
    running.wait_runs(1)
    directory = reports / "AgentBrunoOOMKilled" / "bruno" / POD_A
    record = json.loads((directory / "remediation.json").read_text())
    # remediate.yml diagnoses itself: its reports and its change record go to the alert's directory.
    assert record == {
        "approve": "true",
        "bruno_namespace": "bruno",
        "bruno_alert": sent,
        "diagnose_report_dir": str(directory),
    }

    # Throttled like the diagnosis: the duplicate runs nothing, the next pod does.
    running.post(webhook(sent))
    running.post(webhook(alert("AgentBrunoOOMKilled", POD_B)))
    running.wait_runs(2)
    assert (reports / "AgentBrunoOOMKilled" / "bruno" / POD_B / "remediation.json").is_file()
    output = running.output()
    # remediate.yml instead of diagnose.yml, never both.
    assert (output.count(REMEDIATE_PLAY), output.count("PLAY [")) == (2, 2), output[-4000:]
    assert output.count("failed=0") == 2


# -- The source plugin on its own --------------------------------------------------------------------------


async def run_plugin(args, requests):
    """Run the plugin's main() like ansible-rulebook does, send requests, return (responses, events)."""
    module = runpy.run_path(str(PLUGIN))
    queue = asyncio.Queue()
    port = procs.free_port()
    task = asyncio.create_task(module["main"](queue, dict(args, port=port)))
    loop = asyncio.get_running_loop()

    def up():
        try:
            return get(port)
        except OSError:
            return None

    deadline = time.monotonic() + 30
    while (status := await loop.run_in_executor(None, up)) is None:
        assert time.monotonic() < deadline, "the plugin did not listen"
        await asyncio.sleep(0.1)
    responses = [status]
    for path, body, raw in requests:
        responses.append(await loop.run_in_executor(None, lambda p=path, b=body, r=raw: post(port, b, p, raw=r)))
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    events = []
    while not queue.empty():
        events.append(queue.get_nowait())
    return responses, events


def test_plugin_events_have_ansible_eda_alertmanager_shape():
    body = webhook(alert("AgentBrunoHighMemoryUsage", POD_A), alert("AgentBrunoHighMemoryUsage", POD_B))
    body["alerts"][0]["labels"]["instance"] = "10.244.1.7:8080"
    responses, events = asyncio.run(run_plugin({}, [("/endpoint", body, None)]))
    assert responses == [(200, "up"), (202, "Received")]
    # skip_original_data false (the default): the whole body first, then one event per alert.
    assert [sorted(event) for event in events] == [["meta", "payload"], ["alert", "meta"], ["alert", "meta"]]
    assert events[0]["payload"] == body
    assert events[0]["meta"]["endpoint"] == "endpoint"
    assert events[0]["meta"]["headers"]["Content-Type"] == "application/json"
    assert [event["alert"] for event in events[1:]] == body["alerts"]
    # data_host_path labels.instance (the default), port removed; an alert without one has no hosts.
    assert [event["meta"]["hosts"] for event in events[1:]] == [["10.244.1.7"], []]


def test_plugin_arguments_and_errors():
    body = {"data": {"items": [{"host": {"name": "node-1"}}]}}
    requests = [
        ("/hook", body, None),
        ("/hook", None, b"{not json"),
    ]
    args = {
        "data_alerts_path": "data/items",
        "data_host_path": "host/name",
        "data_path_separator": "/",
        "skip_original_data": True,
    }
    responses, events = asyncio.run(run_plugin(args, requests))
    assert responses[1:] == [(202, "Received"), (400, "the body is not JSON")]
    assert events == [
        {
            "alert": {"host": {"name": "node-1"}},
            "meta": {"endpoint": "hook", "headers": events[0]["meta"]["headers"], "hosts": ["node-1"]},
        }
    ]

    # data_alerts_path "" takes the whole body as the alert; a body without alerts queues only itself.
    responses, events = asyncio.run(
        run_plugin({"data_alerts_path": "", "data_host_path": ""}, [("/a", {"x": 1}, None)])
    )
    assert [event.get("alert", event.get("payload")) for event in events] == [{"x": 1}, {"x": 1}]
    responses, events = asyncio.run(run_plugin({"skip_original_data": "false"}, [("/a", {"status": "firing"}, None)]))
    assert [sorted(event) for event in events] == [["meta", "payload"]]


def test_plugin_masks_credential_headers():
    module = runpy.run_path(str(PLUGIN))
    headers = {"Authorization": "Bearer x", "cookie": "s=1", "Proxy-Authorization": "Basic y", "X-Trace": "t"}
    assert module["masked_headers"](headers) == {
        "Authorization": "********",
        "cookie": "********",
        "Proxy-Authorization": "********",
        "X-Trace": "t",
    }


# -- The rulebooks as ansible-rulebook reads them ----------------------------------------------------------


def parsed(path, variables):
    """The rulebook as ansible-rulebook validates and parses it, rendered to its rule-engine form."""
    settings.ansible_galaxy_path = shutil.which("ansible-galaxy", path=str(BIN))
    data = yaml.safe_load(path.read_text())
    Validate.rulebook(data)
    return generate_dict_rulesets(rules_parser.parse_rule_sets(data, variables), variables)[0]["RuleSet"]


def test_controller_rulebook_has_the_same_rules(monkeypatch):
    """agent_bruno_alerts_controller.yml launches job templates where the other runs playbooks, and listens
    with ansible.eda.alertmanager; the conditions, throttles and variables passed are the same."""
    monkeypatch.setenv("ANSIBLE_CONFIG", str(ROOT / "ansible.cfg"))
    for variables in ({}, {"bruno_eda_remediate": True}, {"bruno_eda_namespace": "bruno-prod"}):
        local, controller = parsed(RULEBOOK, variables), parsed(CONTROLLER_RULEBOOK, variables)
        assert [rule["Rule"]["condition"] for rule in local["rules"]] == [
            rule["Rule"]["condition"] for rule in controller["rules"]
        ]
        assert [rule["Rule"]["throttle"] for rule in local["rules"]] == [
            rule["Rule"]["throttle"] for rule in controller["rules"]
        ]
        for source in (local["sources"], controller["sources"]):
            assert source[0]["EventSource"]["source_args"]["data_host_path"] == ""
            assert source[0]["EventSource"]["source_args"]["skip_original_data"] is True
        assert controller["sources"][0]["EventSource"]["source_name"] == "ansible.eda.alertmanager"
        for local_rule, controller_rule in zip(local["rules"], controller["rules"], strict=True):
            (playbook,) = [action["Action"] for action in local_rule["Rule"]["actions"]]
            (template,) = [action["Action"] for action in controller_rule["Rule"]["actions"]]
            assert (playbook["action"], template["action"]) == ("run_playbook", "run_job_template")
            assert playbook["action_args"]["extra_vars"] == template["action_args"]["job_args"]["extra_vars"]
            names = (
                render_string(playbook["action_args"]["name"], variables),
                render_string(template["action_args"]["name"], variables),
            )
            assert names in {
                ("bruno.ops.diagnose", "bruno.ops diagnose"),
                ("bruno.ops.remediate", "bruno.ops remediate"),
            }
    # diagnose.yml by default; remediate.yml with approve=true when enabled, with its record by the reports.
    diagnose, remediate = [
        rule["Rule"]["actions"][0]["Action"]["action_args"] for rule in parsed(RULEBOOK, {})["rules"]
    ]
    assert "approve" not in diagnose["extra_vars"]
    assert remediate["extra_vars"]["approve"] == "true"  # as the AWX survey sends it
    assert remediate["extra_vars"]["remediate_record_dir"] == remediate["extra_vars"]["diagnose_report_dir"]


def test_controller_rulebook_launches_the_awx_job_templates():
    """The job templates it launches by default are awx/job_templates.yml's, and take its variables."""
    templates = {
        template["name"]: template
        for template in yaml.safe_load((ROOT / "awx" / "job_templates.yml").read_text())["bruno_awx_job_templates"]
    }
    controller = parsed(CONTROLLER_RULEBOOK, {})
    for rule in controller["rules"]:
        (action,) = [action["Action"]["action_args"] for action in rule["Rule"]["actions"]]
        template = templates[render_string(action["name"], {})]
        assert template["ask_variables_on_launch"] is True
        assert template["playbook"] in ("playbooks/diagnose.yml", "playbooks/remediate.yml")
        for question in template.get("survey_spec", {}).get("spec", []):
            if question["variable"] in action["job_args"]["extra_vars"]:
                assert action["job_args"]["extra_vars"][question["variable"]] in question["choices"]


def test_throttle_window_is_a_literal_for_ansible_rulebook():
    """Why the window is not a variable: ansible-rulebook checks once_within before substituting."""
    data = yaml.safe_load(RULEBOOK.read_text())
    windows = {rule["throttle"]["once_within"] for rule in data[0]["rules"]}
    assert windows == {"30 minutes"}
    data[0]["rules"][0]["throttle"]["once_within"] = "{{ bruno_eda_throttle }}"
    with pytest.raises(jsonschema.ValidationError):
        Validate.rulebook(data)

"""diagnose.yml over inventory/lab-fleet (three lab targets, forks 3): each target's reports in its own directory
under reports/<run>/, the fleet summary of all three, and one target whose Redis is stopped shows it as that
target's unavailable source while the others complete.

Fleet objects: namespaces bruno-fleet-01/02 and Redis DBs 1/2 (`lab fleet up 2`), removed at the end."""

import json

import pytest
import yaml

from bruno_it import ROOT, run_lab, run_playbook
from labctl import procs, services

pytestmark = pytest.mark.lab

TARGETS = ("bruno", "bruno-fleet-01", "bruno-fleet-02")


@pytest.fixture(scope="module")
def fleet(lab):
    run_lab("fleet", "up", "2", timeout=600)
    try:
        yield TARGETS
    finally:
        run_lab("fleet", "down", timeout=300)


@pytest.fixture
def stopped_redis(tmp_path):
    """The port of a Redis that ran and was stopped (by its PID), as a target whose Redis is down sees it."""
    server = procs.Proc(tmp_path, "stopped-redis")
    port = procs.free_port()
    server.start([services.require_binary("redis-server", "run `make env`"), "--bind", "127.0.0.1", "--port",
                  str(port), "--save", "", "--appendonly", "no", "--dir", str(tmp_path)])
    procs.wait_until(lambda: procs.tcp_open("127.0.0.1", port), 30, "Redis on :%d" % port, server)
    server.stop()
    with pytest.raises(OSError):
        procs.tcp_open("127.0.0.1", port)  # nothing listens there any more
    return port


def test_one_run_over_three_targets(fleet, stopped_redis, tmp_path):
    override = tmp_path / "redis-down.yml"
    override.write_text(yaml.safe_dump({"all": {"hosts": {"bruno-fleet-02": {
        "bruno_redis": {"host": "127.0.0.1", "port": stopped_redis, "db": 2, "connect_timeout": 2.0}}}}}))
    out = run_playbook("playbooks/diagnose.yml", {
        "bruno_report_root": str(tmp_path / "reports"), "bruno_run_id": "fleet", "diagnose_probe": False},
        "-i", str(ROOT / "inventory" / "lab-fleet"), "-i", str(override), "-f", "3", timeout=900)
    assert out.returncode == 0, out.stdout[-4000:]
    run = tmp_path / "reports" / "fleet"
    for target in TARGETS:
        report = json.loads((run / target / "diagnosis.json").read_text())
        assert report["target"].startswith(target + "/"), report["target"]
    summary = json.loads((run / "fleet.json").read_text())
    rows = {row["target"]: row for row in summary["rows"]}
    assert set(rows) == set(TARGETS) and summary["summary"]["targets"] == 3
    assert "redis" in rows["bruno-fleet-02"]["unavailable"]
    assert all("redis" not in rows[t]["unavailable"] for t in TARGETS[:2])
    assert all(rows[t]["state"] != "failed" and rows[t]["verdict"] for t in TARGETS)
    assert rows["bruno-fleet-01"]["sessions"] and rows["bruno-fleet-01"]["sessions"] > 0
    markdown = (run / "fleet.md").read_text()
    assert "[report](bruno-fleet-02/diagnosis.html)" in markdown
    assert "<a href='bruno/diagnosis.html'>report</a>" in (run / "fleet.html").read_text()
    assert "bruno-fleet-02:" in out.stdout and "unavailable: redis" in out.stdout

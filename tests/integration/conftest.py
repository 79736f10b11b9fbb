"""Real servers for the integration tests: Redis (with a password), FerretDB (MongoDB wire) and
Prometheus, each on a free 127.0.0.1 port, started once per session and stopped by PID."""

import subprocess

import pytest

from bruno_it import BIN, LAB, REDIS_PASSWORD, ROOT, ansible_env, run_module, run_playbook

# Re-exported: some test folders load this file by path for its helpers.
__all__ = ["BIN", "REDIS_PASSWORD", "ROOT", "ansible_env", "run_module", "run_playbook"]

from labctl import procs, services


def _start(server):
    try:
        return server.start()
    except procs.LabError as exc:  # a missing server package is a failed test, never a skip
        pytest.fail("cannot start %s: %s" % (type(server).__name__, exc))


@pytest.fixture(scope="session")
def server_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("servers")


@pytest.fixture(scope="session")
def redis_server(server_dir):
    server = _start(services.Redis(server_dir, procs.free_port(), password=REDIS_PASSWORD))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def ferretdb_server(server_dir):
    server = _start(services.FerretDB(server_dir, procs.free_port()))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def prometheus_server(server_dir):
    config = "global:\n  scrape_interval: 5s\nscrape_configs: []\n"
    server = _start(services.Prometheus(server_dir, procs.free_port(), config))
    yield server
    server.stop()


@pytest.fixture
def backends(redis_server, ferretdb_server, prometheus_server):
    """Connection options for the three running servers, as the modules take them."""
    return {
        "redis": {"host": "127.0.0.1", "port": redis_server.port, "password": REDIS_PASSWORD},
        "mongodb": {"host": "127.0.0.1", "port": ferretdb_server.port},
        "prometheus": {"url": prometheus_server.url},
    }


@pytest.fixture(scope="session")
def lab():
    """The embedded lab, running: brought up when it is not (and then down again at the end)."""
    if subprocess.run([str(LAB), "status"], capture_output=True, timeout=120, check=False).returncode == 0:
        yield LAB
        return
    up = subprocess.run([str(LAB), "up"], capture_output=True, text=True, timeout=5400, check=False)
    if up.returncode != 0:
        pytest.fail("lab up failed:\n%s" % (up.stdout + up.stderr)[-4000:])
    try:
        yield LAB
    finally:
        subprocess.run([str(LAB), "down"], capture_output=True, timeout=300, check=False)

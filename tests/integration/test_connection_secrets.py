"""Connection URLs against the real servers (issue 18, items 5 and 6): a password with '#', '/' or '?' works and
never shows, not even at -vvv or in the log file; a Redis URL whose database is not a number is refused before
anything is touched."""

import json
import subprocess

import redis

from bruno_it import BIN, REDIS_PASSWORD, ROOT, ansible_env, run_module
from labctl import procs, services

ODD_PASSWORD = "Odd#Pass/w0rd?x-3391"


def run_at_vvv(tmp_path, module, args):
    """One module task at -vvv with a log file: (rc, everything printed + logged)."""
    log = tmp_path / "ansible.log"
    playbook = tmp_path / "run.yml"
    playbook.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False,
                                     "tasks": [{"name": "under test", module: args}]}]))
    env = dict(ansible_env(), ANSIBLE_LOG_PATH=str(log))
    out = subprocess.run([str(BIN / "ansible-playbook"), "-i", str(ROOT / "inventory" / "lab"), str(playbook),
                          "-vvv"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    return out.returncode, out.stdout + out.stderr + (log.read_text() if log.exists() else "")


def test_redis_password_with_reserved_characters_connects_and_never_shows(tmp_path, server_dir):
    odd = services.Redis(server_dir, procs.free_port(), password=ODD_PASSWORD, name="redis-odd-pw").start()
    try:
        url = "redis://:%s@127.0.0.1:%d/0" % (ODD_PASSWORD, odd.port)
        rc, result, raw = run_module("bruno.ops.redis_session_info", {"redis": {"url": url}, "prefix": "none:"})
        assert rc == 0, result
        wrong = "redis://:Wr0ng#Pa/ss?q@127.0.0.1:%d/0" % odd.port
        rc, result, raw2 = run_module("bruno.ops.redis_session_info", {"redis": {"url": wrong}, "prefix": "none:"})
        assert rc != 0 and result["error"]["kind"] == "authentication", result
        assert "redis://127.0.0.1:%d/0" % odd.port in result["msg"]
        for text in (raw, raw2, json.dumps(result)):
            for part in ("Odd", "Pass/w0rd", "Wr0ng", "Pa/ss", "ss?q"):
                assert part not in text
            assert "Traceback" not in text
    finally:
        odd.stop()


def test_http_url_with_credentials_is_masked_at_vvv_and_in_the_log_file(tmp_path, prometheus_server):
    host = prometheus_server.url.split("://", 1)[1]
    url = "http://reader:%s@%s" % (ODD_PASSWORD, host)  # Prometheus without auth ignores the basic auth
    rc, text = run_at_vvv(tmp_path, "bruno.ops.prometheus_query",
                          {"prometheus": {"url": url}, "query": "vector(1)", "mode": "instant"})
    assert rc == 0, text[-3000:]
    for part in (ODD_PASSWORD, "Odd#Pass", "Pass/w0rd", "w0rd?x"):
        assert part not in text
    assert "Traceback" not in text


def test_plain_http_url_is_shown_in_messages(prometheus_server):
    closed = "http://127.0.0.1:9"  # discard port: refused
    rc, result, _raw = run_module("bruno.ops.prometheus_query",
                                  {"prometheus": {"url": closed, "timeout": 2.0}, "query": "up", "mode": "instant"})
    assert rc != 0 and result["error"]["kind"] == "unreachable"
    assert closed in result["msg"] and "********" not in result["msg"]


def test_redis_url_with_db7_changes_nothing(redis_server):
    client = redis.Redis(host="127.0.0.1", port=redis_server.port, password=REDIS_PASSWORD)
    keys = ["secrets-test:sess:%d" % index for index in range(3)]
    for key in keys:
        client.set(key, "x")
    try:
        url = "redis://:%s@127.0.0.1:%d/db7" % (REDIS_PASSWORD, redis_server.port)
        rc, result, _raw = run_module("bruno.ops.redis_session_cleanup",
                                      {"redis": {"url": url}, "prefix": "secrets-test:sess:",
                                       "policies": {"max_ttl": 60, "missing_ttl": 60}})
        assert rc != 0 and result["error"]["kind"] == "invalid_input", result
        assert "redis.url" in result["msg"] and "db7" in result["msg"]
        assert all(client.ttl(key) == -1 for key in keys)  # db 0 untouched: no TTL was set
    finally:
        client.delete(*keys)
        client.close()


def test_readme_names_ansible_debug():
    readme = (ROOT / "README.md").read_text()
    secrets = readme[readme.index("Keep passwords"):readme.index("The workload is")]
    assert "ANSIBLE_DEBUG" in secrets and "-vvv" in secrets and "log file" in secrets

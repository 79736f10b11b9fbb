"""bruno.ops.preflight against real Redis, FerretDB and Prometheus."""

from bruno_it import REDIS_PASSWORD, run_module, run_playbook
from labctl import procs, services

MODULE = "bruno.ops.preflight"


def rows_by_backend(result):
    return {row["backend"]: row for row in result["backends"]}


def test_all_backends_ok(backends):
    rc, result, _raw = run_module(MODULE, backends)
    assert rc == 0, result
    rows = rows_by_backend(result)
    assert result["changed"] is False
    assert result["summary"] == {"ok": 3, "limited": 0, "failed": 0, "skipped": 1}
    assert rows["kubernetes"]["status"] == "skipped"
    assert rows["redis"]["version"].startswith("7.")
    assert rows["redis"]["details"]["connected_clients"] >= 1
    assert rows["mongodb"]["details"]["server"].startswith("FerretDB")
    assert rows["prometheus"]["version"].startswith("2.")
    for name in ("redis", "mongodb", "prometheus"):
        assert rows[name]["reachable"] is True and rows[name]["authenticated"] is True
        assert rows[name]["latency_ms"] > 0


def test_check_mode_gives_the_same_answer(backends):
    rc, result, _raw = run_module(MODULE, backends, check=True)
    assert rc == 0 and result["changed"] is False
    assert result["summary"]["ok"] == 3


def test_stopped_redis_is_reported_with_its_address(server_dir, backends):
    # A Redis of our own, then stopped: the port is known to be closed.
    doomed = services.Redis(server_dir, procs.free_port(), name="redis-doomed").start()
    doomed.stop()
    backends["redis"] = {"host": "127.0.0.1", "port": doomed.port, "connect_timeout": 2.0}
    rc, result, raw = run_module(MODULE, backends)
    assert rc == 0
    redis_row = rows_by_backend(result)["redis"]
    assert redis_row["status"] == "failed" and redis_row["reachable"] is False
    assert redis_row["error"]["kind"] == "unreachable"
    assert "redis://127.0.0.1:%d/0" % doomed.port in redis_row["error"]["message"]
    assert rows_by_backend(result)["mongodb"]["status"] == "ok"  # the run went on
    assert "Traceback" not in raw


def test_fail_on_unreachable_makes_it_fatal(backends):
    backends["mongodb"] = {"host": "127.0.0.1", "port": procs.free_port(), "server_selection_timeout": 1.0}
    backends["fail_on"] = ["unreachable"]
    rc, result, _raw = run_module(MODULE, backends)
    assert rc != 0
    assert result["failed"] is True
    assert result["msg"].startswith("preflight failed: mongodb unreachable")
    assert rows_by_backend(result)["redis"]["status"] == "ok"  # rows are still returned


def test_wrong_password_is_an_authentication_failure(backends):
    backends["redis"]["password"] = "wrong-pw-91c2"
    rc, result, raw = run_module(MODULE, backends)
    assert rc == 0
    row = rows_by_backend(result)["redis"]
    assert row["error"]["kind"] == "authentication"
    assert row["reachable"] is True and row["authenticated"] is False
    assert "wrong-pw-91c2" not in raw


def test_playbook_reports_each_backend_and_hides_the_password(backends):
    extra = {"bruno_kubernetes": None, "bruno_redis": backends["redis"], "bruno_mongodb": backends["mongodb"],
             "bruno_prometheus": backends["prometheus"]}
    ok = run_playbook("playbooks/preflight.yml", extra, "-vvv")
    assert ok.returncode == 0, ok.stdout[-3000:]
    assert "redis: ok" in ok.stdout and "mongodb: ok" in ok.stdout and "prometheus: ok" in ok.stdout
    assert "kubernetes: skipped" in ok.stdout
    assert REDIS_PASSWORD not in ok.stdout + ok.stderr

    extra["bruno_redis"] = dict(backends["redis"], password="Wr0ng-Secret-4421")
    bad = run_playbook("playbooks/preflight.yml", extra, "-vvv")
    assert bad.returncode == 0
    assert "redis: FAILED (authentication)" in bad.stdout
    assert "Wr0ng-Secret-4421" not in bad.stdout + bad.stderr
    assert "Traceback" not in bad.stdout + bad.stderr


def test_playbook_with_redis_down_exits_zero_unless_fail_on(backends):
    extra = {"bruno_kubernetes": None, "bruno_mongodb": None, "bruno_prometheus": None,
             "bruno_redis": {"host": "127.0.0.1", "port": procs.free_port(), "connect_timeout": 1.0}}
    down = run_playbook("playbooks/preflight.yml", extra)
    assert down.returncode == 0
    assert "redis: FAILED (unreachable)" in down.stdout
    assert "127.0.0.1:%d" % extra["bruno_redis"]["port"] in down.stdout
    fatal = run_playbook("playbooks/preflight.yml", dict(extra, preflight_fail_on=["unreachable"]))
    assert fatal.returncode != 0
    assert "preflight failed: redis unreachable" in fatal.stdout
    assert "Traceback" not in fatal.stdout + fatal.stderr


def test_uri_with_credentials_is_never_echoed(backends):
    port = backends["mongodb"]["port"]
    secret_uri = "mongodb://app:Uri-Secret-5512@127.0.0.1:%d/?authSource=admin" % port
    backends["mongodb"] = {"uri": secret_uri, "server_selection_timeout": 2.0}
    _rc, result, raw = run_module(MODULE, backends)
    assert "Uri-Secret-5512" not in raw
    assert rows_by_backend(result)["mongodb"]["address"] == "mongodb://127.0.0.1:%d" % port


MALFORMED_KUBECONFIGS = {
    "bad_yaml": "apiVersion: v1\nclusters: [\n  - a: {\n",
    "a_list": "- apiVersion: v1\n- kind: Config\n",
    "bad_base64_ca": ("apiVersion: v1\nkind: Config\ncurrent-context: x\nclusters:\n- name: c\n  cluster:\n"
                      "    server: https://127.0.0.1:6443\n    certificate-authority-data: '!!!not-base64!!!'\n"
                      "contexts:\n- name: x\n  context: {cluster: c, user: u}\nusers:\n- name: u\n"
                      "  user: {token: kc-token-7781}\n"),
    "no_contexts": "apiVersion: v1\nkind: Config\nclusters: []\nusers:\n- name: u\n  user: {token: kc-token-7781}\n",
}


def test_malformed_kubeconfigs_fail_only_the_kubernetes_row(tmp_path, backends):
    for name, text in MALFORMED_KUBECONFIGS.items():
        path = tmp_path / ("%s.yaml" % name)
        path.write_text(text)
        rc, result, raw = run_module(MODULE, dict(backends, kubernetes={"kubeconfig": str(path)}))
        assert rc == 0, (name, result)
        rows = rows_by_backend(result)
        assert rows["kubernetes"]["status"] == "failed", name
        assert rows["kubernetes"]["error"]["kind"] == "configuration", name
        assert "kubernetes.kubeconfig" in rows["kubernetes"]["error"]["message"], name
        assert [rows[other]["status"] for other in ("redis", "mongodb", "prometheus")] == ["ok"] * 3, name
        assert "Traceback" not in raw and "kc-token-7781" not in raw, name


def test_malformed_urls_and_ports_are_invalid_input_not_unreachable(backends):
    for bad, fragment in (({"redis": {"url": "redis://127.0.0.1:%d/db7" % backends["redis"]["port"]}}, "redis.url"),
                          ({"redis": {"url": "redis://127.0.0.1:99999/0"}}, "redis.url"),
                          ({"mongodb": dict(backends["mongodb"], port=70000)}, "mongodb.port"),
                          ({"prometheus": {"url": "http://127.0.0.1:abc"}}, "prometheus.url")):
        rc, result, raw = run_module(MODULE, dict(backends, **bad))
        assert rc != 0, (bad, result)
        assert result["error"]["kind"] == "invalid_input" and fragment in result["msg"], result
        assert "Traceback" not in raw


def test_ipv6_addresses_are_reported_in_brackets(backends):
    port = procs.free_port()
    backends["redis"] = {"url": "redis://[::1]:%d/0" % port, "connect_timeout": 1.0, "retries": 0}
    backends["prometheus"] = {"url": "http://[::1]:%d" % port, "timeout": 2.0}
    rc, result, raw = run_module(MODULE, backends)
    assert rc == 0, result
    rows = rows_by_backend(result)
    assert rows["redis"]["error"]["kind"] == "unreachable" and "[::1]:%d" % port in rows["redis"]["error"]["message"]
    assert rows["prometheus"]["error"]["kind"] == "unreachable"
    assert "[::1]:%d" % port in rows["prometheus"]["error"]["message"]
    assert "Traceback" not in raw

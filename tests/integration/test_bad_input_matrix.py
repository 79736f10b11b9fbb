"""The bad-input matrix of issue 18: every module x (wrong type, negative/zero, malformed quantity, bad URL, unknown
option, missing required option, unreachable backend, wrong password, malformed kubeconfig) must fail with one
clear message naming the option (or the address tried), never a traceback, and change nothing on the server.

Real Redis, FerretDB and Prometheus (tests/integration/conftest.py). Kubernetes is a stand-in apiserver on 127.0.0.1
that rejects every credential with 401 and records what it was asked, so "nothing changed" is "no change was even
sent", and the matrix needs no lab (no /tmp/bruno-lab.lock). Unreachable is a closed 127.0.0.1 port, never a timeout.

All cases run in a few ansible-playbook processes in parallel (one task per case, results saved as JSON), so the
whole matrix costs a handful of playbook start-ups instead of one per case.
"""

import itertools
import json
import subprocess
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import redis

from bruno_it import BIN, REDIS_PASSWORD, ROOT, ansible_env
from labctl import procs

PREFIX = "matrix:sess:"
COLLECTION = "matrix_conversations"
CHUNKS = 3  # parallel playbooks: about the CPUs of a CI runner; more only thrash


class FakeApiserver(BaseHTTPRequestHandler):
    """401 to everything, as an apiserver (or a basic-auth endpoint) does to a wrong token or password."""

    requests = []  # (method, path), shared by every handler of the server

    def _answer(self):
        self.requests.append((self.command, self.path))
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        body = json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": "Unauthorized",
                           "reason": "Unauthorized", "code": 401}).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("WWW-Authenticate", 'Basic realm="matrix"')
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

    def log_message(self, *args):  # quiet: pytest shows failures, not request lines
        pass


@pytest.fixture(scope="module")
def fake_apiserver():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeApiserver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d" % server.server_address[1]
    server.shutdown()
    server.server_close()


KUBECONFIGS = {
    "bad_yaml": "apiVersion: v1\nclusters: [\n  - a: {\n",
    "a_list": "- apiVersion: v1\n- kind: Config\n",
    "bad_base64_ca": (
        "apiVersion: v1\nkind: Config\ncurrent-context: x\n"
        "clusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:6443\n"
        "    certificate-authority-data: '!!!not-base64!!!'\n"
        "contexts:\n- name: x\n  context: {cluster: c, user: u}\n"
        "users:\n- name: u\n  user: {token: kubeconfig-token-8812}\n"),
    "no_contexts": (
        "apiVersion: v1\nkind: Config\n"
        "clusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:6443'}\n"
        "users:\n- name: u\n  user: {token: kubeconfig-token-8812}\n"),
}


@pytest.fixture(scope="module")
def ctx(redis_server, ferretdb_server, prometheus_server, fake_apiserver):
    # Not under pytest's basetemp: a concurrent pytest run may prune it while the playbooks still run.
    with tempfile.TemporaryDirectory(prefix="bruno-matrix-") as work:
        yield _ctx(Path(work), redis_server, ferretdb_server, prometheus_server, fake_apiserver)


def _ctx(work, redis_server, ferretdb_server, prometheus_server, fake_apiserver):
    kubeconfigs = {}
    for name, text in KUBECONFIGS.items():
        kubeconfigs[name] = work / ("%s.yaml" % name)
        kubeconfigs[name].write_text(text)
    closed = procs.free_port()  # nothing listens there: refused at once
    return {
        "work": work,
        "closed": closed,
        "kubeconfigs": kubeconfigs,
        "k8s": {"host": fake_apiserver, "api_key": "wrong-token-5521", "request_timeout": 5.0},
        "k8s_down": {"host": "http://127.0.0.1:%d" % closed, "request_timeout": 2.0},
        "redis": {"host": "127.0.0.1", "port": redis_server.port, "password": REDIS_PASSWORD,
                  "connect_timeout": 2.0, "retries": 0},
        "redis_port": redis_server.port,
        "mongodb": {"host": "127.0.0.1", "port": ferretdb_server.port, "server_selection_timeout": 2.0},
        "prometheus": {"url": prometheus_server.url, "timeout": 5.0},
        "prom_port": int(prometheus_server.url.rsplit(":", 1)[1].split("/")[0]),
        "fake": fake_apiserver,
        "report_dir": work / "report",
    }


def with_(base, **changes):
    """base with changes; a value of None drops that option (a missing one); "a.b" changes sub-option b of a."""
    merged = dict(base)
    for key, value in changes.items():
        head, dot, sub = key.partition(".")
        if dot:
            merged[head] = with_(merged.get(head) or {}, **{sub: value})
        elif value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


# Per module: a base of valid options (ctx -> args), whether it changes a server, and its cases:
# (case, ctx -> args, ctx -> fragments the message must contain, xfail reason or None).
def k8s_cases(base, numeric=None, *, quantity=None, missing="namespace", xfail=None, kubeconfigs=None):
    """The cases every Kubernetes module shares; `numeric` = (option, wrong-type value, bad number).

    Malformed kubeconfigs: the ones named (all of them for preflight), else one per module, in turn: every module
    loads it through the same K8sClient, and the unit tests take each kind through it."""
    xfail = xfail or {}
    cases = []
    if numeric:
        option, wrong, bad = numeric
        cases += [("wrong_type", lambda c: with_(base(c), **{option: wrong}), lambda c: [option]),
                  ("negative", lambda c: with_(base(c), **{option: bad}), lambda c: [option])]
    cases += [
        ("bad_url_port", lambda c: with_(base(c), kubernetes=dict(c["k8s"], host="https://127.0.0.1:abc")),
         lambda c: ["kubernetes.host", "port"]),
        ("unknown_option", lambda c: with_(base(c), no_such_option=1), lambda c: ["no_such_option"]),
        ("unreachable", lambda c: with_(base(c), kubernetes=c["k8s_down"]),
         lambda c: ["127.0.0.1:%d" % c["closed"], "unreachable"]),
        ("wrong_password", base, lambda c: ["kubernetes.api_key"]),
    ]
    if missing:
        cases.append(("missing_required", lambda c: with_(base(c), **{missing: None}), lambda c: [missing]))
    if quantity:
        qopt, qvalue = quantity
        cases.append(("malformed_quantity", lambda c: with_(base(c), **{qopt: qvalue}), lambda c: [qopt]))
    if kubeconfigs is None:
        kubeconfigs = [sorted(KUBECONFIGS)[next(_KUBECONFIG_TURN) % len(KUBECONFIGS)]]
    for name in kubeconfigs:
        cases.append(("kubeconfig_" + name,
                      lambda c, name=name: with_(base(c), kubernetes={"kubeconfig": str(c["kubeconfigs"][name])}),
                      lambda c: ["kubernetes.kubeconfig"]))
    return [(case, args, fragments, xfail.get(case)) for case, args, fragments in cases]


_KUBECONFIG_TURN = itertools.count()


def workload(c, **extra):
    return dict({"kubernetes": c["k8s"], "namespace": "bruno", "name": "agent-bruno"}, **extra)


def redis_cases(base, numeric, missing, xfail=None, wrong_url=True):
    xfail = xfail or {}
    option, wrong, bad = numeric
    cases = [
        ("wrong_type", lambda c: with_(base(c), **{option: wrong}), lambda c: [option.split(".")[-1]]),
        ("negative", lambda c: with_(base(c), **{option: bad}), lambda c: [option.split(".")[-1]]),
        ("bad_url_port", lambda c: with_(base(c), redis={"url": "redis://127.0.0.1:99999/0"}),
         lambda c: ["redis.url", "port"]),
        ("bad_url_db", lambda c: with_(base(c), redis=dict(c["redis"], url="redis://127.0.0.1:%d/db7"
                                                           % c["redis_port"])),
         lambda c: ["redis.url", "db7"]),
        ("password_in_url_with_hash", lambda c: with_(base(c), redis={
            "url": "redis://:Wr0ng#Hash/Pw?x@127.0.0.1:%d/0" % c["redis_port"], "connect_timeout": 2.0,
            "retries": 0}), lambda c: ["redis.password"]),
        ("unknown_option", lambda c: with_(base(c), no_such_option=1), lambda c: ["no_such_option"]),
        ("missing_required", lambda c: with_(base(c), **{missing: None}), lambda c: [missing]),
        ("unreachable", lambda c: with_(base(c), redis={"host": "127.0.0.1", "port": c["closed"],
                                                        "connect_timeout": 1.0, "retries": 0}),
         lambda c: ["127.0.0.1:%d" % c["closed"], "unreachable"]),
        ("wrong_password", lambda c: with_(base(c), redis=dict(c["redis"], password="Wr0ng-Matrix-Pw")),
         lambda c: ["redis.password"]),
        ("ipv6_host", lambda c: with_(base(c), redis={"url": "redis://[::1]:%d/0" % c["closed"],
                                                      "connect_timeout": 1.0, "retries": 0}),
         lambda c: ["[::1]:%d" % c["closed"]]),
    ]
    if not wrong_url:
        cases = [case for case in cases if not case[0].startswith("bad_url")]
    return [(case, args, fragments, xfail.get(case)) for case, args, fragments in cases]


def http_cases(option, base, numeric, missing, *, quantity=None, xfail=None):
    """Cases of an HTTP endpoint option (`prometheus` or `endpoint`)."""
    xfail = xfail or {}
    num, wrong, bad = numeric
    cases = [
        ("wrong_type", lambda c: with_(base(c), **{num: wrong}), lambda c: [num]),
        ("negative", lambda c: with_(base(c), **{num: bad}), lambda c: [num]),
        ("bad_url_port", lambda c: with_(base(c), **{option: {"url": "http://127.0.0.1:abc"}}),
         lambda c: ["%s.url" % option, "port"]),
        ("bad_url_scheme", lambda c: with_(base(c), **{option: {"url": "127.0.0.1:9090"}}),
         lambda c: ["%s.url" % option]),
        ("unknown_option", lambda c: with_(base(c), no_such_option=1), lambda c: ["no_such_option"]),
        ("missing_required", lambda c: with_(base(c), **{missing: None}), lambda c: [missing]),
        ("unreachable", lambda c: with_(base(c), **{option: {"url": "http://127.0.0.1:%d" % c["closed"],
                                                             "timeout": 2.0}}),
         lambda c: ["127.0.0.1:%d" % c["closed"], "unreachable"]),
        ("wrong_password", lambda c: with_(base(c), **{option: {"url": c["fake"], "username": "u",
                                                                "password": "Wr0ng-Http-Pw"}}),
         lambda c: ["password"]),
        ("password_in_url", lambda c: with_(base(c), **{option: {
            "url": "http://u:Wr0ng#Url/Pw@%s" % c["fake"].split("://")[1]}}), lambda c: ["password"]),
        ("ipv6_host", lambda c: with_(base(c), **{option: {"url": "http://[::1]:%d" % c["closed"], "timeout": 2.0}}),
         lambda c: ["[::1]:%d" % c["closed"]]),
    ]
    if quantity:
        qopt, qvalue = quantity
        cases.append(("malformed_quantity", lambda c: with_(base(c), **{qopt: qvalue}), lambda c: [qopt]))
    return [(case, args, fragments, xfail.get(case)) for case, args, fragments in cases]


def verdict_base(c):
    """A registered memory_verdict result (of no evidence at all), as diagnosis_report takes it."""
    from ansible_collections.bruno.ops.plugins.modules import memory_verdict  # noqa: PLC0415

    return {"verdict": memory_verdict.run({"results": {}, "thresholds": {}}, False), "output_dir": str(c["report_dir"])}


MATRIX = {
    "change_lock": (True, k8s_cases(lambda c: {"kubernetes": c["k8s"], "namespace": "bruno", "holder": "matrix"},
                                    ("ttl", "soon", -5), missing="holder")),
    "container_env": (True, k8s_cases(lambda c: workload(c, env={"MATRIX": "1"}), ("wait_timeout", "soon", -1),
                                      xfail={})),
    "memory_limits": (True, k8s_cases(lambda c: workload(c, prometheus=c["prometheus"], mode="apply", limit="512Mi"),
                                      ("headroom", "big", -1.5), quantity=("limit", "12 gigs"))
                      + [("prometheus_bad_url", lambda c: workload(c, prometheus={"url": "http://127.0.0.1:abc"}),
                          lambda c: ["prometheus.url"], None),
                         ("malformed_history", lambda c: workload(c, prometheus=c["prometheus"], history="forever"),
                          lambda c: ["history"], None)]),
    "pod_log_scan": (False, k8s_cases(lambda c: {"kubernetes": c["k8s"], "namespace": "bruno"},
                                      ("max_bytes", "lots", -1), quantity=("since", "yesterday"))),
    "pod_memory_info": (False, k8s_cases(lambda c: {"kubernetes": c["k8s"], "namespace": "bruno"},
                                         ("page_size", "big", 0), quantity=("events_window", "forever"))),
    "pod_memory_probe": (False, k8s_cases(lambda c: {"kubernetes": c["k8s"], "namespace": "bruno"},
                                          ("max_pods", "many", -1))
                         + [("bad_debug_url", lambda c: {"kubernetes": c["k8s"], "namespace": "bruno",
                                                         "debug_url": "http://127.0.0.1:abc/debug"},
                             lambda c: ["debug_url"], None)]),
    "remediation_verify": (False, k8s_cases(lambda c: workload(c, prometheus=c["prometheus"],
                                                               endpoint={"url": "http://127.0.0.1:%d" % c["closed"]}),
                                            ("memory_max_percent", "high", -5), quantity=("window", "soon"),
                                            missing="namespace")),
    "rollout_restart": (True, k8s_cases(workload, ("wait_timeout", "soon", -1),
                                        quantity=("not_within", "a while"))),
    "workload_scale": (True, k8s_cases(lambda c: workload(c, replicas=2), ("replicas", "three", -1))),
    "workload_owner_info": (False, k8s_cases(lambda c: {"kubernetes": c["k8s"], "namespace": "bruno",
                                                        "name": "agent-bruno"})),
    "flux_suspension": (True, k8s_cases(lambda c: {"kubernetes": c["k8s"], "namespace": "bruno",
                                                   "name": "agent-bruno"}, missing=None)),
    "preflight": (False, [
        ("wrong_type", lambda c: {"redis": dict(c["redis"], port="six")}, lambda c: ["port", "redis"], None),
        ("negative", lambda c: {"redis": dict(c["redis"], port=-1)}, lambda c: ["redis.port"], None),
        ("mongodb_port_out_of_range", lambda c: {"mongodb": dict(c["mongodb"], port=70000)},
         lambda c: ["mongodb.port"], None),
        ("zero_timeout", lambda c: {"prometheus": dict(c["prometheus"], timeout=0)}, lambda c: ["timeout"], None),
        ("bad_url_port", lambda c: {"redis": {"url": "redis://127.0.0.1:99999/0"}}, lambda c: ["redis.url"], None),
        ("bad_url_db", lambda c: {"redis": {"url": "redis://127.0.0.1:%d/db7" % c["redis_port"]}},
         lambda c: ["redis.url"], None),
        ("bad_http_port", lambda c: {"prometheus": {"url": "http://127.0.0.1:abc"}}, lambda c: ["prometheus.url"],
         None),
        ("unknown_option", lambda c: {"no_such_option": 1}, lambda c: ["no_such_option"], None),
        ("missing_required", lambda c: {"prometheus": {"timeout": 2.0}}, lambda c: ["url", "prometheus"], None),
        ("unreachable", lambda c: {"redis": {"host": "127.0.0.1", "port": c["closed"], "connect_timeout": 1.0,
                                             "retries": 0}, "fail_on": ["unreachable"]},
         lambda c: ["127.0.0.1:%d" % c["closed"]], None),
        ("wrong_password", lambda c: {"redis": dict(c["redis"], password="Wr0ng-Matrix-Pw"),
                                      "fail_on": ["authentication"]}, lambda c: ["redis.password"], None),
        *[("kubeconfig_" + name, lambda c, name=name: {"kubernetes": {"kubeconfig": str(c["kubeconfigs"][name])},
                                                       "fail_on": ["any"]},
           lambda c: ["kubernetes.kubeconfig"], None) for name in KUBECONFIGS],
    ]),
    "metrics_scrape": (False, http_cases("endpoint", lambda c: {"endpoint": c["prometheus"]},
                                         ("max_samples", "many", -1), missing="endpoint")),
    "prometheus_query": (False, http_cases("prometheus", lambda c: {"prometheus": c["prometheus"], "query": "up"},
                                           ("max_points", "many", -1), missing="query",
                                           quantity=("start", "last tuesday"))
                         + [("negative_limit_bytes", lambda c: {"prometheus": c["prometheus"], "query": "up",
                                                                "limit_bytes": -5}, lambda c: ["limit_bytes"], None),
                            ("malformed_step", lambda c: {"prometheus": c["prometheus"], "query": "up", "step": "fast"},
                             lambda c: ["step"], None)]),
    "mongodb_info": (False, [
        ("wrong_type", lambda c: {"mongodb": dict(c["mongodb"], port="x")}, lambda c: ["port", "mongodb"], None),
        ("negative", lambda c: {"mongodb": dict(c["mongodb"], server_selection_timeout=-1)},
         lambda c: ["mongodb.server_selection_timeout"], None),
        ("port_out_of_range", lambda c: {"mongodb": dict(c["mongodb"], port=70000)}, lambda c: ["mongodb.port"], None),
        ("bad_uri", lambda c: {"mongodb": {"uri": "mongodb://127.0.0.1:99999/"}}, lambda c: ["mongodb.uri"], None),
        ("unknown_option", lambda c: {"mongodb": c["mongodb"], "no_such_option": 1}, lambda c: ["no_such_option"],
         None),
        ("missing_required", lambda c: {}, lambda c: ["mongodb"], None),
        ("unreachable", lambda c: {"mongodb": dict(c["mongodb"], port=c["closed"], server_selection_timeout=1.0)},
         lambda c: ["127.0.0.1:%d" % c["closed"], "unreachable"], None),
        ("wrong_password", lambda c: {"mongodb": dict(c["mongodb"], username="matrix", password="Wr0ng-Mongo-Pw")},
         lambda c: ["mongodb.password"], None),
    ]),
    "redis_session_cleanup": (True, redis_cases(
        lambda c: {"redis": c["redis"], "policies": {"max_ttl": 3600}, "prefix": PREFIX},
        ("policies.max_ttl", "long", -5), missing="policies")
        + [("zero_batch_size", lambda c: {"redis": c["redis"], "policies": {"max_ttl": 3600}, "prefix": PREFIX,
                                          "batch_size": 0}, lambda c: ["batch_size"], None)]),
    "redis_session_info": (False, redis_cases(lambda c: {"redis": c["redis"], "prefix": PREFIX},
                                              ("sample_size", "some", -1), missing="redis")
                           + [("zero_scan_count", lambda c: {"redis": c["redis"], "prefix": PREFIX, "scan_count": 0},
                               lambda c: ["scan_count"], None)]),
    "session_archive": (True, redis_cases(
        lambda c: {"redis": c["redis"], "mongodb": c["mongodb"], "prefix": PREFIX, "collection": COLLECTION,
                   "archive_mode": "copy"},
        ("keep_messages", "all", -1), missing="redis")
        + [("mongodb_port_out_of_range", lambda c: {"redis": c["redis"], "mongodb": dict(c["mongodb"], port=70000),
                                                    "prefix": PREFIX, "collection": COLLECTION,
                                                    "archive_mode": "copy"}, lambda c: ["mongodb.port"], None),
           ("zero_chunk_size", lambda c: {"redis": c["redis"], "mongodb": c["mongodb"], "prefix": PREFIX,
                                          "collection": COLLECTION, "chunk_size": 0}, lambda c: ["chunk_size"], None)]),
    "diagnosis_report": (True, [
        ("wrong_type", lambda c: dict(verdict_base(c), limit_bytes="lots"), lambda c: ["limit_bytes"], None),
        # While it is accepted it writes a report: to a directory of its own, so the other cases still prove
        # they wrote nothing.
        ("negative", lambda c: dict(verdict_base(c), limit_bytes=-5, output_dir=str(c["work"] / "xfail-report")),
         lambda c: ["limit_bytes"], None),
        ("bad_choice", lambda c: dict(verdict_base(c), formats=["pdf"]), lambda c: ["formats"], None),
        ("unknown_option", lambda c: dict(verdict_base(c), no_such_option=1), lambda c: ["no_such_option"], None),
        ("missing_required", lambda c: with_(verdict_base(c), output_dir=None), lambda c: ["output_dir"], None),
    ]),
    "fleet_report": (True, [
        ("wrong_type", lambda c: {"targets": "all of them", "output_dir": str(c["report_dir"])},
         lambda c: ["targets"], None),
        ("unknown_option", lambda c: {"targets": [], "output_dir": str(c["report_dir"]), "no_such_option": 1},
         lambda c: ["no_such_option"], None),
        ("missing_required", lambda c: {"output_dir": str(c["report_dir"])}, lambda c: ["targets"], None),
    ]),
    "memory_verdict": (False, [
        ("wrong_type", lambda c: {"results": "not a dict"}, lambda c: ["results"], None),
        ("negative_threshold", lambda c: {"results": {}, "thresholds": {"memory_max_percent": -5}},
         lambda c: ["thresholds"], None),
        ("unknown_option", lambda c: {"results": {}, "no_such_option": 1}, lambda c: ["no_such_option"], None),
        ("missing_required", lambda c: {}, lambda c: ["results"], None),
    ]),
}

# Every case must pass: none is marked as an expected failure (a case builder's `xfail` reason would say why).
CASES = [(module, case, args, fragments, reason, changes)
         for module, (changes, cases) in MATRIX.items() for case, args, fragments, reason in cases]
assert not [case[:2] for case in CASES if case[4]], "no bad-input case may be an expected failure"


def seed(ctx):
    """Sessions and archive data the change-making cases must leave exactly as they were."""
    client = redis.Redis(host="127.0.0.1", port=ctx["redis_port"], password=REDIS_PASSWORD)
    for index in range(5):
        key = "%s%d" % (PREFIX, index)
        client.delete(key)
        client.rpush(key, json.dumps({"role": "user", "content": "hello %d" % index}))
    return client


def redis_snapshot(client):
    keys = sorted(client.scan_iter(match="*", count=1000))
    return {key: (client.type(key), client.ttl(key), client.dump(key)) for key in keys}


def mongo_count(ctx):
    import pymongo  # noqa: PLC0415 - only this check needs it

    with pymongo.MongoClient(host="127.0.0.1", port=ctx["mongodb"]["port"], serverSelectionTimeoutMS=5000) as client:
        database = client["agent_bruno"]
        return {name: database[name].count_documents({}) for name in database.list_collection_names()}


def run_chunk(chunk, ctx, index):
    """One ansible-playbook run of some cases, one task each; returns ({case id: registered result}, raw output)."""
    work = Path(tempfile.mkdtemp(prefix="bruno-matrix-%d-" % index, dir=ctx["work"]))
    tasks, names = [], {}
    for number, (module, case, args, _fragments, _reason, _changes) in enumerate(chunk):
        var = "case_%d" % number
        names[var] = "%s/%s" % (module, case)
        tasks.append({"name": "%s %s" % (module, case), "bruno.ops." + module: args(ctx), "register": var,
                      "ignore_errors": True})
    content = "{{ {%s} | to_json }}" % ", ".join("'%s': %s" % (var, var) for var in names)
    tasks.append({"name": "save results", "ansible.builtin.copy": {"content": content,
                                                                   "dest": str(work / "results.json")},
                  "check_mode": False})
    (work / "run.yml").write_text(json.dumps([{"name": "matrix %d" % index, "hosts": "localhost",
                                               "gather_facts": False, "tasks": tasks}]))
    out = subprocess.run([str(BIN / "ansible-playbook"), "-i", str(ROOT / "inventory" / "lab"), str(work / "run.yml")],
                         cwd=ROOT, env=dict(ansible_env(), ANSIBLE_PIPELINING="1"), capture_output=True, text=True,
                         timeout=600, check=False)
    raw = out.stdout + out.stderr
    if not (work / "results.json").exists():
        raise AssertionError("the matrix playbook produced no results:\n" + raw[-4000:])
    saved = json.loads((work / "results.json").read_text())
    return {names[var]: result for var, result in saved.items()}, raw


@pytest.fixture(scope="module")
def matrix(ctx, fake_apiserver):
    client = seed(ctx)
    before_redis, before_mongo = redis_snapshot(client), mongo_count(ctx)
    FakeApiserver.requests.clear()
    chunks = [CASES[index::CHUNKS] for index in range(CHUNKS)]
    results, raws = {}, []
    with ThreadPoolExecutor(max_workers=CHUNKS) as pool:
        for found, raw in pool.map(lambda pair: run_chunk(pair[1], ctx, pair[0]), enumerate(chunks)):
            results.update(found)
            raws.append(raw)
    after_redis, after_mongo = redis_snapshot(client), mongo_count(ctx)
    client.close()
    return {"results": results, "raw": "\n".join(raws), "redis": (before_redis, after_redis),
            "mongo": (before_mongo, after_mongo), "k8s_requests": list(FakeApiserver.requests)}


def _param(case):
    module, name, _args, _fragments, _reason, _changes = case
    return pytest.param(case, id="%s-%s" % (module, name))


@pytest.mark.parametrize("case", [_param(case) for case in CASES])
def test_bad_input_fails_clearly(case, matrix, ctx):
    module, name, _args, fragments, _reason, _changes = case
    result = matrix["results"]["%s/%s" % (module, name)]
    text = json.dumps(result)
    msg = str(result.get("msg", ""))
    # Ansible 2.19 reports an exception escaping a module as "Module failed: <its text>" (the traceback only at -vvv).
    crashed = "Traceback" in text or "MODULE FAILURE" in msg or "Module failed" in msg
    assert not crashed, "an unhandled exception, not a message: %s" % text[:3000]
    assert result.get("failed") is True, "bad input was accepted: %s" % text[:2000]
    missing = [fragment for fragment in fragments(ctx) if fragment not in msg]
    assert not missing, "the message does not name %s: %r" % (missing, msg[:1000])
    for secret in ("Wr0ng#Hash/Pw?x", "Wr0ng", "Hash/Pw", "Url/Pw", REDIS_PASSWORD, "wrong-token-5521",
                   "kubeconfig-token-8812"):
        assert secret not in msg, "the message shows a secret: %r" % msg


def test_no_traceback_in_any_output(matrix):
    assert "Traceback" not in matrix["raw"], matrix["raw"][-4000:]
    for secret in ("Hash/Pw", "Url/Pw", "Wr0ng-", REDIS_PASSWORD, "wrong-token-5521", "kubeconfig-token-8812"):
        assert secret not in matrix["raw"]


def test_nothing_changed_on_the_servers(matrix, ctx):
    before, after = matrix["redis"]
    assert after == before, "Redis changed: %s" % sorted(set(after.items()) ^ set(before.items()))[:10]
    assert matrix["mongo"][0] == matrix["mongo"][1]
    changes = [(method, path) for method, path in matrix["k8s_requests"]
               if method in ("PATCH", "PUT", "DELETE") or (method == "POST" and "selfsubject" not in path)]
    assert not changes, "change requests were sent to the apiserver: %s" % changes
    assert not ctx["report_dir"].exists() or not any(ctx["report_dir"].iterdir())


def test_matrix_size(matrix):
    """The count for the issue's note: every case ran, every module is in it."""
    modules = {path.stem for path in (ROOT / "plugins" / "modules").glob("*.py")}
    assert set(MATRIX) == modules, "modules without bad-input cases: %s" % sorted(modules - set(MATRIX))
    assert len(matrix["results"]) == len(CASES)
    print("bad-input matrix: %d cases over %d modules" % (len(CASES), len(MATRIX)))

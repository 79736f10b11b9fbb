# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Preflight: probe each configured backend once and describe it as one row; decide what is fatal.

Probes only read (SelfSubjectAccessReview asks the apiserver a question, it changes nothing), so they
are safe in check mode. A failing probe is recorded in its row, never raised: the caller decides.
"""

from __future__ import annotations

from ansible_collections.bruno.ops.plugins.module_utils import errors
from ansible_collections.bruno.ops.plugins.module_utils.clients.http_client import PrometheusClient
from ansible_collections.bruno.ops.plugins.module_utils.clients.k8s_access import required_access, resource_name
from ansible_collections.bruno.ops.plugins.module_utils.clients.k8s_client import K8sClient
from ansible_collections.bruno.ops.plugins.module_utils.clients.mongo_client import MongoClient
from ansible_collections.bruno.ops.plugins.module_utils.clients.redis_client import RedisClient

BACKENDS = ("kubernetes", "redis", "mongodb", "prometheus")
FAIL_ON_CHOICES = ("unreachable", "authentication", "diagnose_access", "remediate_access", "any")


def new_row(backend, status="skipped", address=None):
    return {
        "backend": backend,
        "status": status,
        "address": address,
        "reachable": None,
        "authenticated": None,
        "version": None,
        "latency_ms": None,
        "identity": None,
        "error": None,
        "access": [],
        "missing_access": [],
        "details": {},
    }


def record_error(row, exc):
    """Fill a row from a BrunoOpsError: what the failure tells us about reachability and auth."""
    row["status"] = "failed"
    row["error"] = {"kind": exc.kind, "message": exc.message}
    row["address"] = row["address"] or exc.details.get("address")
    if exc.kind == errors.UNREACHABLE:
        row["reachable"] = False
    elif exc.kind == errors.AUTH:
        row["reachable"], row["authenticated"] = True, False
    elif exc.kind in (errors.FORBIDDEN, errors.NOT_FOUND, errors.API):
        row["reachable"] = True
        if exc.kind == errors.FORBIDDEN:
            row["authenticated"] = True
    return row


def probe(backend, make_client, fill):
    """Connect with make_client(), let fill(client, row) read what it needs, and always close.

    Any BrunoOpsError ends up in the row; the row's status is "ok" unless fill set another.
    """
    row = new_row(backend)
    client = None
    try:
        client = make_client()
        row["address"] = client.address
        row["status"] = "ok"
        fill(client, row)
    except errors.BrunoOpsError as exc:
        record_error(row, exc)
    finally:
        if client is not None and hasattr(client, "close"):
            client.close()
    return row


def check_redis(params):
    def fill(client, row):
        row["latency_ms"] = client.ping()
        row["reachable"] = row["authenticated"] = True
        server = client.info("server")
        row["version"] = server.get("redis_version")
        row["details"] = {"mode": server.get("redis_mode"),
                          "connected_clients": client.info("clients").get("connected_clients"),
                          "diagnosis_reads": diagnosis_reads(client)}

    return probe("redis", lambda: RedisClient(params), fill)


# What the diagnosis reads besides INFO and the keys: connections per client address, and KEYS in the slow log.
REDIS_DIAGNOSIS_READS = (("client_list", "CLIENT LIST", lambda raw: raw.client_list()),
                         ("slowlog", "SLOWLOG LEN", lambda raw: raw.slowlog_len()))


def diagnosis_reads(client):
    """{read: True, or why Redis refused it}: without them the diagnosis's pool and KEYS facts are null."""
    allowed = {}
    for name, command, call in REDIS_DIAGNOSIS_READS:
        try:
            with client.translate("run %s" % command):
                call(client.raw)
            allowed[name] = True
        except errors.BrunoOpsError as exc:
            if exc.kind == errors.UNREACHABLE:
                raise
            allowed[name] = exc.message
    return allowed


def check_mongodb(params):
    def fill(client, row):
        row["latency_ms"] = client.ping()
        row["reachable"] = row["authenticated"] = True
        info = client.command("buildInfo")
        row["version"] = info.get("version")
        row["details"] = {"database": params["database"]}
        if info.get("ferretdbVersion"):
            # A MongoDB-wire server reports a MongoDB-compatible version; name the real one too.
            row["details"]["server"] = "FerretDB %s" % info["ferretdbVersion"]

    return probe("mongodb", lambda: MongoClient(params), fill)


def check_prometheus(params):
    def fill(client, row):
        row["version"], row["latency_ms"] = client.build_info()
        row["reachable"] = row["authenticated"] = True

    return probe("prometheus", lambda: PrometheusClient(params), fill)


def check_kubernetes(params, namespace, purposes):
    def fill(client, row):
        row["details"] = {"auth_method": client.auth_method, "namespace": namespace}
        row["version"], row["latency_ms"] = client.version()
        row["reachable"] = True
        row["identity"] = client.whoami()
        row["authenticated"] = True
        for purpose, verb, group, resource, subresource, namespaced in required_access(purposes):
            allowed, reason = client.can_i(verb, resource, group, namespace if namespaced else None, subresource)
            entry = {
                "purpose": purpose,
                "verb": verb,
                "resource": resource_name(group, resource, subresource),
                "namespace": namespace if namespaced else None,
                "allowed": allowed,
                "reason": reason,
            }
            row["access"].append(entry)
            if not allowed:
                row["missing_access"].append("%s %s (%s)" % (verb, entry["resource"], purpose))
        if row["missing_access"]:
            row["status"] = "limited"

    return probe("kubernetes", lambda: K8sClient(params), fill)


def fatal_reasons(rows, fail_on):
    """The failures the caller asked to be fatal, as sentences; empty means the run may go on."""
    wanted = set(FAIL_ON_CHOICES[:-1]) if "any" in fail_on else set(fail_on)
    reasons = []
    for row in rows:
        before = len(reasons)
        error = row.get("error") or {}
        if "unreachable" in wanted and row["reachable"] is False:
            reasons.append("%s unreachable: %s" % (row["backend"], error.get("message")))
        elif "authentication" in wanted and row["authenticated"] is False:
            reasons.append("%s authentication failed: %s" % (row["backend"], error.get("message")))
        elif "any" in fail_on and row["status"] == "failed":
            reasons.append("%s failed: %s" % (row["backend"], error.get("message")))
        if row["backend"] == "kubernetes":
            reasons.extend(_access_reasons(row, wanted, set(fail_on), already_reported=len(reasons) > before))
    return reasons


def _access_reasons(row, wanted, explicit, already_reported):
    reasons = []
    for purpose in ("diagnose", "remediate"):
        key = purpose + "_access"
        if key not in wanted:
            continue
        if row["status"] == "failed" and not already_reported:
            reasons.append("cannot verify %s access: %s" % (purpose, (row["error"] or {}).get("message")))
        elif row["status"] == "skipped" and key in explicit:
            # Asked for by name, so not configuring Kubernetes is itself the problem.
            reasons.append("cannot verify %s access: the kubernetes option is not set" % purpose)
        missing = [e for e in row.get("access", []) if e["purpose"] == purpose and not e["allowed"]]
        if missing:
            reasons.append("kubernetes identity lacks %s access: %s" % (
                purpose, ", ".join("%s %s" % (e["verb"], e["resource"]) for e in missing)))
    return reasons


def summarize(rows):
    counts = {status: 0 for status in ("ok", "limited", "failed", "skipped")}
    for row in rows:
        counts[row["status"]] += 1
    return counts

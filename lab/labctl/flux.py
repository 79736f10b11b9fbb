"""A real Flux kustomize-controller in the lab, against the lab's apiserver; started only when asked.

    python -m labctl.flux up|down|status [--json]      (from lab/, with the venv's or any python3)
    python -m labctl.flux publish DIR [--name N] [--namespace NS]   a directory of manifests as a new revision
    python -m labctl.flux sync DIR NAME [--interval 1m] [--prune]  publish + a Kustomization NAME of it, applied
    python -m labctl.flux kustomization NAME [--namespace NS]      its lastAppliedRevision and Ready condition

What runs (127.0.0.1 only, stopped by PID):
- kustomize-controller KUSTOMIZE_CONTROLLER_VERSION (lab/versions.env), built from the Go module proxy by
  lab/build-go-tool.sh (cached in ${BRUNO_CACHE_DIR:-~/.cache/bruno-ops}/bin/kustomize-controller-<version>/),
  with the admin kubeconfig, watching all namespaces, metrics on :19481, health on :19482;
- the artifact server, a stdlib HTTP file server on :19480 over .lab/flux/artifacts/ (this module, `serve`).

The source: no source-controller. kustomize-controller reads only a source object's `status.artifact` (url,
revision, digest), downloads the tarball from that URL, checks its sha256 digest and applies what is under the
Kustomization's `spec.path`. `publish()` does source-controller's part for a GitRepository: it packs the directory
into a tar.gz (deterministic: same files, same digest), stores it where the artifact server serves it, and writes
the GitRepository's status through the status subresource (artifact + Ready/ArtifactInStorage conditions, as
source-controller does). A new revision is picked up at once: the controller watches its sources' artifacts.
The GitRepository's spec.url is never fetched (nothing clones it).

CRDs: Kustomization from the kustomize-controller module zip, GitRepository/OCIRepository/Bucket (the controller
watches all three kinds, so all three must exist) from the source-controller module zip of SOURCE_CONTROLLER_VERSION,
both read from the Go module cache (`go mod download`), applied server-side. Objects the lab creates live in
`flux-system` (GitRepository, Kustomization) and wherever the manifests say.

Stopping the controller leaves the CRDs and objects in place; delete Kustomizations (they carry Flux's finalizer)
while it runs, or their deletion waits for the next start.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import functools
import gzip
import hashlib
import http.server
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from labctl import layout, procs

NAME = "flux"
NAMESPACE = "flux-system"
PORTS = {"artifacts": 19480, "metrics": 19481, "health": 19482}
FLUX_DIR = layout.LAB_DIR / "flux"
ARTIFACTS = FLUX_DIR / "artifacts"
RUN_DIR = layout.RUN_DIR
KUBECTL = layout.LAB_SRC / "k8s" / "cluster"
BUILD = layout.LAB_SRC / "build-go-tool.sh"
KC_MODULE = "github.com/fluxcd/kustomize-controller"
SC_MODULE = "github.com/fluxcd/source-controller"
CRD_FILES = {
    KC_MODULE: ["kustomize.toolkit.fluxcd.io_kustomizations.yaml"],
    SC_MODULE: ["source.toolkit.fluxcd.io_gitrepositories.yaml", "source.toolkit.fluxcd.io_ocirepositories.yaml",
                "source.toolkit.fluxcd.io_buckets.yaml"],
}
CRD_NAMES = ["kustomizations.kustomize.toolkit.fluxcd.io", "gitrepositories.source.toolkit.fluxcd.io",
             "ocirepositories.source.toolkit.fluxcd.io", "buckets.source.toolkit.fluxcd.io"]
SOURCE_API = "source.toolkit.fluxcd.io/v1"
KUSTOMIZE_API = "kustomize.toolkit.fluxcd.io/v1"
KEEP_ARTIFACTS = 3  # per source: the newest few tarballs (a reconcile may still be fetching the previous one)


def versions():
    values = {}
    for raw in (layout.LAB_SRC / "versions.env").read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip().strip('"')
    return values


def log(msg):
    print("flux: %s" % msg, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------------ build and CRDs


def binary():
    """The pinned kustomize-controller, built on first use (a cold build takes minutes; cached by version)."""
    version = versions()["KUSTOMIZE_CONTROLLER_VERSION"]
    cache = Path(os.environ.get("BRUNO_CACHE_DIR") or Path.home() / ".cache" / "bruno-ops") / "bin"
    cached = cache / ("kustomize-controller-%s" % version) / "kustomize-controller"
    if cached.is_file():
        return str(cached)
    log("building kustomize-controller %s from the Go module proxy (cold: several minutes)" % version)
    # Its go.mod has replace directives (./api, go-digest, kustomize, yaml.v3): `go install pkg@v` refuses them,
    # the module zip lacks ./api, so a wrapper module requires it and keeps the non-local replaces.
    argv = [str(BUILD), "--wrapper", "--keep-replaces", "--module", KC_MODULE, "--check", "--help",
            "kustomize-controller", KC_MODULE, version]
    out = subprocess.run(argv, check=False, stdout=subprocess.PIPE, text=True)
    if out.returncode != 0:
        raise procs.LabError("building kustomize-controller %s failed (exit %d): %s"
                             % (version, out.returncode, " ".join(argv)))
    return out.stdout.strip().splitlines()[-1]


def module_dir(module, version):
    """The module's extracted zip in the Go module cache (downloaded from the proxy if missing)."""
    with tempfile.TemporaryDirectory(prefix="flux-mod-") as work:  # outside any go.mod
        out = subprocess.run(["go", "mod", "download", "-json", "%s@%s" % (module, version)], cwd=work,
                             capture_output=True, text=True, check=False, timeout=600)
    try:
        info = json.loads(out.stdout)
    except ValueError:
        info = {}
    # A newer go directive is reported as an Error, but the zip is extracted all the same.
    directory = info.get("Dir")
    if not directory or not Path(directory).is_dir():
        raise procs.LabError("go mod download %s@%s: %s" % (module, version, (out.stderr or out.stdout)[-1500:]))
    return Path(directory)


def crd_paths():
    pinned = versions()
    wanted = {KC_MODULE: pinned["KUSTOMIZE_CONTROLLER_VERSION"], SC_MODULE: pinned["SOURCE_CONTROLLER_VERSION"]}
    paths = []
    for module, names in CRD_FILES.items():
        bases = module_dir(module, wanted[module]) / "config" / "crd" / "bases"
        paths += [bases / name for name in names]
    return paths


def kubectl(*args, input_text=None, timeout=120, check=True):
    """The lab's kubectl as cluster admin; returns CompletedProcess (raises LabError on failure if check)."""
    env = dict(os.environ, KUBECONFIG=str(layout.KUBECONFIG_ADMIN))
    out = subprocess.run([str(KUBECTL), "kubectl", *args], input=input_text, capture_output=True, text=True,
                         env=env, timeout=timeout, check=False)
    if check and out.returncode != 0:
        raise procs.LabError("kubectl %s: %s" % (" ".join(args), (out.stderr or out.stdout)[-1500:]))
    return out


def apply(obj, server_side=True):
    args = ["apply", "-f", "-"]
    if server_side:
        args[1:1] = ["--server-side", "--field-manager=bruno-lab-flux", "--force-conflicts"]
    return kubectl(*args, input_text=json.dumps(obj))


def install_crds():
    """Apply the Flux CRDs (server-side, idempotent) and the flux-system namespace; wait until established."""
    for path in crd_paths():
        kubectl("apply", "--server-side", "--field-manager=bruno-lab-flux", "--force-conflicts", "-f", str(path))
    kubectl("wait", "--for=condition=Established", "--timeout=60s", *("crd/" + n for n in CRD_NAMES), timeout=90)
    apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})


# ------------------------------------------------------------------------------------------------ processes


def _controller():
    return procs.Proc(RUN_DIR, "kustomize-controller")


def _artifacts():
    return procs.Proc(RUN_DIR, "flux-artifacts")


def artifact_url(rel_path=""):
    return "http://%s:%d/%s" % (layout.HOST, PORTS["artifacts"], rel_path)


def _health_ok():
    return procs.http_ok("http://%s:%d/readyz" % (layout.HOST, PORTS["health"]))


def start(timeout=90):
    """Build if needed, install the CRDs, start the artifact server and the controller; idempotent."""
    started = time.monotonic()
    controller_bin = binary()
    install_crds()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    server = _artifacts()
    server.start([sys.executable, "-m", "labctl.flux", "serve", "--port", str(PORTS["artifacts"]),
                  "--dir", str(ARTIFACTS)], cwd=str(layout.LAB_SRC),
                 env=dict(os.environ, PYTHONPATH=str(layout.LAB_SRC)))
    procs.wait_until(lambda: procs.tcp_open(layout.HOST, PORTS["artifacts"]), 20, "flux artifact server", server)
    tmp = FLUX_DIR / "tmp"  # the controller extracts each artifact in a temp dir of its own here
    tmp.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/root"),
        "TMPDIR": str(tmp),
        "KUBECONFIG": str(layout.KUBECONFIG_ADMIN),  # ctrl.GetConfigOrDie; no --kubeconfig flag on its pflag set
        "RUNTIME_NAMESPACE": NAMESPACE,
        # Artifact URLs are already 127.0.0.1: no hostname rewrite (SOURCE_CONTROLLER_LOCALHOST stays unset).
    }
    controller = _controller()
    controller.start([controller_bin,
                      "--watch-all-namespaces=true",
                      "--no-cross-namespace-refs=false",
                      "--no-remote-bases=true",
                      "--enable-leader-election=false",
                      "--metrics-addr=%s:%d" % (layout.HOST, PORTS["metrics"]),
                      "--health-addr=%s:%d" % (layout.HOST, PORTS["health"]),
                      "--events-addr=",  # no notification-controller: events go to the apiserver only
                      "--log-encoding=json", "--log-level=info"], env=env, cwd=str(FLUX_DIR))
    procs.wait_until(_health_ok, timeout, "kustomize-controller readyz", controller, interval=0.5)
    log("up in %.1fs (kustomize-controller pid %s, artifacts %s)"
        % (time.monotonic() - started, controller.pid(), artifact_url()))
    return controller.pid()


def stop():
    """Stop the controller, then the artifact server, by PID; True if anything was running."""
    stopped = _controller().stop()
    return _artifacts().stop() or stopped


@contextlib.contextmanager
def running():
    """Flux for the length of a `with` block: started when it does not run, stopped again only if started here."""
    started_here = not status()["running"]
    if started_here:
        start()
    try:
        yield
    finally:
        if started_here:
            stop()


def status():
    controller, server = _controller().pid(), _artifacts().pid()
    healthy = False
    if controller:
        try:
            healthy = _health_ok()
        except OSError:
            healthy = False
    running = bool(controller and server and healthy)
    detail = ""
    if controller or server:
        detail = "kustomize-controller %s pid %s%s, artifacts %s pid %s" % (
            versions().get("KUSTOMIZE_CONTROLLER_VERSION"), controller, "" if healthy else " (not ready)",
            artifact_url(), server)
    return {"name": NAME, "running": running, "pid": controller, "detail": detail}


ENABLED = RUN_DIR / "flux.enabled"  # written by the component's up(): status then reports Flux even without the env


def wanted():
    """Whether `lab/lab` should list Flux: LAB_GITOPS=1, or it was started (and not stopped) by the lab."""
    return (os.environ.get("LAB_GITOPS") == "1" or ENABLED.exists()
            or bool(_controller().pid() or _artifacts().pid()))


class Flux:
    """The lab component (components.ordered() shape): up(), down(), status().

    Listed right after Kubernetes() in components.ordered() when wanted(): the default
    lab neither starts nor lists it; `LAB_GITOPS=1 lab/lab up` starts it; `lab/lab down` stops a running one.
    """

    name = NAME

    def up(self):
        start()
        ENABLED.parent.mkdir(parents=True, exist_ok=True)
        ENABLED.write_text("LAB_GITOPS=1\n")

    def down(self):
        ENABLED.unlink(missing_ok=True)
        return stop()

    def status(self):
        return status()


# ------------------------------------------------------------------------------------------------ the source


def pack(directory):
    """A deterministic tar.gz of `directory` (sorted, mtime 0, root-owned): the same files give the same bytes."""
    root = Path(directory)
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        for path in sorted(p for p in root.rglob("*") if p.is_file() and ".git" not in p.relative_to(root).parts):
            data = path.read_bytes()
            info = tarfile.TarInfo(str(path.relative_to(root)))
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def get(kind, name, namespace=NAMESPACE):
    out = kubectl("-n", namespace, "get", kind, name, "-o", "json", check=False)
    return json.loads(out.stdout) if out.returncode == 0 else None


def publish(directory, name="lab", namespace=NAMESPACE, branch="main"):
    """Publish `directory` as the GitRepository `namespace/name`'s newest revision; returns {revision, digest, url}.

    Creates the GitRepository if missing. The revision is `<branch>@sha1:<sha1 of the tarball>`, standing in for a
    commit; publishing unchanged files is a no-op (same revision).
    """
    data = pack(directory)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    commit = hashlib.sha1(data).hexdigest()  # noqa: S324 - a commit-like id, not security
    revision = "%s@sha1:%s" % (branch, commit)
    rel = "gitrepository/%s/%s/%s.tar.gz" % (namespace, name, commit)
    target = ARTIFACTS / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(target)
    url = artifact_url(rel)
    apply({
        "apiVersion": SOURCE_API, "kind": "GitRepository",
        "metadata": {"name": name, "namespace": namespace,
                     "annotations": {"lab.bruno.ops/source": "labctl.flux publish (no source-controller: "
                                                             "the lab writes status.artifact)"}},
        # Never fetched: no source-controller runs. Shaped like a real one so readers see a GitRepository.
        "spec": {"url": "http://%s:%d/git/%s/%s.git" % (layout.HOST, PORTS["artifacts"], namespace, name),
                 "interval": "10m", "ref": {"branch": branch}},
    })
    current = get("gitrepository", name, namespace) or {}
    if (current.get("status") or {}).get("artifact", {}).get("revision") == revision:
        return {"revision": revision, "digest": digest, "url": url, "changed": False}
    now = _now()
    generation = current.get("metadata", {}).get("generation", 1)
    message = "stored artifact for revision '%s'" % revision
    conditions = [
        {"type": t, "status": "True", "reason": "Succeeded", "message": message, "lastTransitionTime": now,
         "observedGeneration": generation} for t in ("Ready", "ArtifactInStorage")]
    status_patch = {"status": {
        "observedGeneration": generation,
        "conditions": conditions,
        "artifact": {"path": rel, "url": url, "revision": revision, "digest": digest,
                     "lastUpdateTime": now, "size": len(data)},
    }}
    kubectl("-n", namespace, "patch", "gitrepository", name, "--subresource=status", "--type=merge",
            "-p", json.dumps(status_patch))
    _prune_artifacts(target.parent)
    return {"revision": revision, "digest": digest, "url": url, "changed": True}


def _prune_artifacts(directory):
    tarballs = sorted(directory.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in tarballs[KEEP_ARTIFACTS:]:
        old.unlink(missing_ok=True)


# ------------------------------------------------------------------------------------------------ Kustomizations


def apply_kustomization(name, path="./", source="lab", *, namespace=NAMESPACE, interval="1m", prune=True,
                        target_namespace=None, timeout="1m", suspend=False):
    """Create or update a Kustomization applying `path` of the GitRepository `source` (same namespace)."""
    spec = {"interval": interval, "path": path, "prune": prune, "timeout": timeout, "suspend": suspend,
            "sourceRef": {"kind": "GitRepository", "name": source}}
    if target_namespace:
        spec["targetNamespace"] = target_namespace
    return apply({"apiVersion": KUSTOMIZE_API, "kind": "Kustomization",
                  "metadata": {"name": name, "namespace": namespace}, "spec": spec})


def set_suspended(name, suspended, namespace=NAMESPACE):
    """`flux suspend|resume kustomization`: spec.suspend (a merge patch, as the flux CLI does)."""
    kubectl("-n", namespace, "patch", "kustomization", name, "--type=merge",
            "-p", json.dumps({"spec": {"suspend": bool(suspended)}}))


def request_reconcile(name, namespace=NAMESPACE):
    """`flux reconcile kustomization` without --with-source: the requestedAt annotation."""
    kubectl("-n", namespace, "annotate", "--overwrite", "kustomization", name,
            "reconcile.fluxcd.io/requestedAt=%s" % datetime.datetime.now(datetime.timezone.utc).isoformat())


def kustomization_status(name, namespace=NAMESPACE):
    """{exists, suspended, lastAppliedRevision, lastAttemptedRevision, ready: {status, reason, message}, ...}."""
    obj = get("kustomization", name, namespace)
    if obj is None:
        return {"exists": False}
    st = obj.get("status") or {}
    ready = next((c for c in st.get("conditions", []) if c.get("type") == "Ready"), {})
    return {
        "exists": True,
        "suspended": bool(obj.get("spec", {}).get("suspend")),
        "interval": obj.get("spec", {}).get("interval"),
        "generation": obj.get("metadata", {}).get("generation"),
        "observedGeneration": st.get("observedGeneration"),
        "lastAppliedRevision": st.get("lastAppliedRevision"),
        "lastAttemptedRevision": st.get("lastAttemptedRevision"),
        "lastHandledReconcileAt": st.get("lastHandledReconcileAt"),
        "ready": {k: ready.get(k) for k in ("status", "reason", "message", "lastTransitionTime")},
        "inventory": [e.get("id") for e in (st.get("inventory") or {}).get("entries", [])],
    }


def wait_applied(name, revision, namespace=NAMESPACE, timeout=120):
    """Wait (bounded) until the Kustomization is Ready with lastAppliedRevision == revision; returns its status."""
    def applied():
        st = kustomization_status(name, namespace)
        return st if st.get("lastAppliedRevision") == revision and st["ready"].get("status") == "True" else None
    return procs.wait_until(applied, timeout, "Kustomization %s/%s at %s" % (namespace, name, revision),
                            _controller(), interval=1.0)


def sync(directory, name, *, interval="1m", prune=False, namespace=NAMESPACE, timeout=120):
    """Have Flux manage `directory`: publish it as GitRepository `name`, a Kustomization `name` of it, wait until
    applied; returns the Kustomization's status. E.g. sync(layout.LAB_SRC / "manifests", "agent-bruno")."""
    published = publish(directory, name=name, namespace=namespace)
    apply_kustomization(name, source=name, namespace=namespace, interval=interval, prune=prune)
    return wait_applied(name, published["revision"], namespace, timeout)


# ------------------------------------------------------------------------------------------------ artifact server


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.log_date_time_string(), fmt % args))


def serve(directory, port):
    handler = functools.partial(_Quiet, directory=str(directory))
    with http.server.ThreadingHTTPServer((layout.HOST, port), handler) as httpd:
        httpd.serve_forever()


# ------------------------------------------------------------------------------------------------ CLI


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m labctl.flux", description=__doc__.split("\n\n", maxsplit=1)[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("up")
    sub.add_parser("down")
    st = sub.add_parser("status")
    st.add_argument("--json", action="store_true")
    pub = sub.add_parser("publish")
    pub.add_argument("directory")
    pub.add_argument("--name", default="lab")
    pub.add_argument("--namespace", default=NAMESPACE)
    syn = sub.add_parser("sync")
    syn.add_argument("directory")
    syn.add_argument("name")
    syn.add_argument("--interval", default="1m")
    syn.add_argument("--prune", action="store_true")
    ks = sub.add_parser("kustomization")
    ks.add_argument("name")
    ks.add_argument("--namespace", default=NAMESPACE)
    srv = sub.add_parser("serve")
    srv.add_argument("--dir", required=True)
    srv.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    try:
        if args.cmd == "up":
            start()
        elif args.cmd == "down":
            print("flux: stopped" if stop() else "flux: was not running")
        elif args.cmd == "status":
            row = status()
            print(json.dumps(row) if args.json else "%-10s %-8s %s" % (
                row["name"], "running" if row["running"] else "down", row["detail"]))
            return 0 if row["running"] else 3
        elif args.cmd == "publish":
            print(json.dumps(publish(args.directory, args.name, args.namespace)))
        elif args.cmd == "sync":
            print(json.dumps(sync(args.directory, args.name, interval=args.interval, prune=args.prune), indent=2))
        elif args.cmd == "kustomization":
            print(json.dumps(kustomization_status(args.name, args.namespace), indent=2))
        elif args.cmd == "serve":
            serve(args.dir, args.port)
    except procs.LabError as exc:
        print("flux: %s" % exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

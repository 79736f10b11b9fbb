"""The lab's data servers: Redis, Prometheus and FerretDB (MongoDB wire), each on 127.0.0.1.

Used by `lab/lab` for the lab and by the integration tests for throwaway servers on free ports.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from labctl import procs

LAB_ROOT = Path(__file__).resolve().parents[1]


def pinned_versions():
    """KEY=VALUE pairs of lab/versions.env (the one place versions are pinned)."""
    versions = {}
    path = LAB_ROOT / "versions.env"
    if path.exists():
        for raw in path.read_text().splitlines():
            line = raw.strip()
            if line and not line.startswith("#") and "=" in line:
                key, value = line.split("=", 1)
                versions[key.strip()] = value.strip().strip('"')
    return versions


def require_binary(name, hint):
    path = shutil.which(name)
    if not path:
        raise procs.LabError("%s not found on PATH; %s" % (name, hint))
    return path


def ferretdb_binary():
    """Build (first time) or find the pinned FerretDB binary.

    From source: FerretDB embeds build/version/version.txt, which its release tooling generates and the
    module zip lacks, so a plain `go install` builds a binary that panics at start.
    """
    version = pinned_versions().get("FERRETDB_VERSION", "v1.24.2")
    argv = [str(LAB_ROOT / "build-go-tool.sh"), "--from-source", "--module", "github.com/FerretDB/FerretDB",
            "--write", "build/version/version.txt={version}", "--check", "--version",
            "ferretdb", "github.com/FerretDB/FerretDB/cmd/ferretdb", version]
    out = subprocess.run(argv, check=False, capture_output=True, text=True)
    if out.returncode != 0:
        raise procs.LabError("building FerretDB %s failed:\n%s" % (version, out.stderr[-2000:]))
    return out.stdout.strip().splitlines()[-1]


class Redis:
    def __init__(self, run_dir, port, password=None, name="redis"):
        self.proc = procs.Proc(run_dir, name)
        self.port = port
        self.password = password
        self.data_dir = Path(run_dir) / name

    def start(self, timeout=20):
        binary = require_binary("redis-server", "run `make env` (installs the Debian redis-server package)")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        argv = [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no",
                # Bound to 127.0.0.1 only; protected mode off because it admits 127.0.0.1 alone, and the lab's pod
                # agents connect from 127.0.0.<n> (one source address per pod, LAB_SOURCE_ADDR).
                "--dir", str(self.data_dir), "--daemonize", "no", "--protected-mode", "no",
                # 64 databases, not 16: `lab fleet` keeps each target's sessions in a DB of its own (DB 0: the main lab)
                "--databases", "64"]
        if self.password:
            argv += ["--requirepass", self.password]
        self.proc.start(argv)
        procs.wait_until(lambda: procs.tcp_open("127.0.0.1", self.port), timeout, "Redis on :%d" % self.port,
                         self.proc)
        return self

    def stop(self):
        return self.proc.stop()


class Prometheus:
    def __init__(self, run_dir, port, config_text, name="prometheus", retention="30d"):
        self.proc = procs.Proc(run_dir, name)
        self.port = port
        self.dir = Path(run_dir) / name
        self.config_text = config_text
        self.retention = retention

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self, timeout=60):
        binary = require_binary("prometheus", "run `make env` (installs the Debian prometheus package)")
        (self.dir / "data").mkdir(parents=True, exist_ok=True)
        config = self.dir / "prometheus.yml"
        config.write_text(self.config_text)
        argv = [binary, "--config.file=%s" % config, "--storage.tsdb.path=%s" % (self.dir / "data"),
                "--storage.tsdb.retention.time=%s" % self.retention,
                "--web.listen-address=127.0.0.1:%d" % self.port, "--web.enable-lifecycle",
                "--web.enable-admin-api"]
        self.proc.start(argv)
        procs.wait_until(lambda: procs.http_ok(self.url + "/-/ready"), timeout, "Prometheus on :%d" % self.port,
                         self.proc)
        return self

    def stop(self):
        return self.proc.stop()


class FerretDB:
    def __init__(self, run_dir, port, name="ferretdb"):
        self.proc = procs.Proc(run_dir, name)
        self.port = port
        self.dir = Path(run_dir) / name

    def start(self, timeout=30):
        binary = ferretdb_binary()
        (self.dir / "data").mkdir(parents=True, exist_ok=True)
        argv = [binary, "--handler=sqlite", "--sqlite-url=file:%s/" % (self.dir / "data"),
                "--listen-addr=127.0.0.1:%d" % self.port, "--debug-addr=-", "--telemetry=disable",
                "--state-dir=%s" % self.dir, "--log-level=warn"]
        self.proc.start(argv, env=dict(os.environ, FERRETDB_TELEMETRY="disable"))
        procs.wait_until(lambda: procs.tcp_open("127.0.0.1", self.port), timeout, "FerretDB on :%d" % self.port,
                         self.proc)
        return self

    def stop(self):
        return self.proc.stop()

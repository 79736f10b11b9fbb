"""Start servers as detached processes, remember their PIDs, stop exactly those.

A process is ours when its PID file exists and /proc/<pid>/cmdline still starts with the argv we
launched, so a recycled PID is never signalled. Every wait is bounded.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path


class LabError(RuntimeError):
    pass


def _cmdline(pid):
    try:
        return Path("/proc/%d/cmdline" % pid).read_bytes().split(b"\0")[:-1]
    except OSError:
        return None


def _is_ours(pid, argv0):
    try:
        state = Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False  # no such process
    if state == "Z":
        return False
    cmd = _cmdline(pid)
    if not cmd:
        return True  # alive, but its cmdline is not readable yet (mid-exec): not a recycled PID
    # Some servers rewrite their title in place ("redis-server 127.0.0.1:6379"): compare the first word.
    first = cmd[0].decode(errors="replace").split(" ")[0]
    return os.path.basename(first) == os.path.basename(argv0)


class Proc:
    """One named server under `run_dir`: <name>.pid, <name>.argv0 and logs/<name>.log."""

    def __init__(self, run_dir, name):
        self.run_dir = Path(run_dir)
        self.name = name
        self.pid_file = self.run_dir / ("%s.pid" % name)
        self.log_file = self.run_dir / "logs" / ("%s.log" % name)

    def pid(self):
        """The PID if our process is still running, else None (and stale files are removed)."""
        try:
            pid = int(self.pid_file.read_text().split()[0])
            argv0 = self.pid_file.read_text().split(None, 1)[1].strip()
        except (OSError, ValueError, IndexError):
            return None
        if _is_ours(pid, argv0):
            return pid
        self.pid_file.unlink(missing_ok=True)
        return None

    def start(self, argv, env=None, cwd=None):
        """Start argv unless already running; returns the PID."""
        pid = self.pid()
        if pid:
            return pid
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:
            child = subprocess.Popen(
                [str(a) for a in argv], stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=env, cwd=cwd, start_new_session=True, close_fds=True,
            )
        self.pid_file.write_text("%d %s\n" % (child.pid, argv[0]))
        self._child = child  # keeps the zombie reapable when the parent lives on (tests)
        return child.pid

    def stop(self, timeout=15.0):
        """SIGTERM, wait (bounded), SIGKILL; True if something was stopped."""
        pid = self.pid()
        if not pid:
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.pid() == pid:
            self._reap()
            time.sleep(0.1)
        if self.pid() == pid:
            os.kill(pid, signal.SIGKILL)
            for _attempt in range(50):
                self._reap()
                if self.pid() != pid:
                    break
                time.sleep(0.1)
        self.pid_file.unlink(missing_ok=True)
        return True

    def _reap(self):
        child = getattr(self, "_child", None)
        if child is not None:
            child.poll()

    def reap(self):
        """Collect our child if it exited (a long-lived parent, such as the pod supervisor, calls this)."""
        self._reap()

    def log_tail(self, lines=20):
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def wait_until(check, timeout, what, proc=None, interval=0.2):
    """Poll `check()` until it returns truthy or `timeout` seconds pass; raise LabError with the log tail."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except Exception as exc:  # the server is not up yet; remember why for the message
            last = exc
        if proc is not None and proc.pid() is None:
            raise LabError("%s: process exited during start\n%s" % (what, proc.log_tail()))
        time.sleep(interval)
    tail = ("\n" + proc.log_tail()) if proc is not None else ""
    raise LabError("timed out after %ss waiting for %s (%s)%s" % (timeout, what, last, tail))


def tcp_open(host, port):
    with socket.create_connection((host, port), timeout=1.0):
        return True


def http_ok(url):
    with urllib.request.urlopen(url, timeout=2.0) as response:  # noqa: S310 - loopback URLs only
        return 200 <= response.status < 300


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]

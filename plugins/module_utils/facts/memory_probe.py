# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The read-only in-pod memory probe: the script sent with exec, and the parsing of what comes back.

The runbook's probe measured the probe's own Python process; this one measures the application's: the
process whose command line contains `match` (PID 1 when no match is given), plus the container's cgroup.
It only reads /proc, /sys/fs/cgroup and, when given, one local URL of the application: a JSON memory endpoint, or
its Prometheus /metrics page (agent-bruno has no memory endpoint; its /metrics has prometheus_client's
process_* and python_gc_* samples, which the probe keeps).
"""


from __future__ import annotations

import json

# agent-bruno's container runs `python -m uvicorn src.main:app --host 0.0.0.0 --port 8080` (its Dockerfile).
DEFAULT_PROCESS_MATCH = "uvicorn"

# Runs inside the container with whatever python3 the image has; psutil is used when present.
PROBE_SCRIPT = r"""
import json, os, sys
args = json.loads(sys.argv[1])
out = {"source": "proc", "pid": None, "cmdline": None, "process": {}, "cgroup": {}, "system": {}, "app": None,
       "errors": []}

def read(path):
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:
        return None

pid = 1
if args.get("match"):
    me = str(os.getpid())
    for entry in sorted(os.listdir("/proc"), key=lambda name: (len(name), name)):
        if entry.isdigit() and entry != me:
            cmd = (read("/proc/%s/cmdline" % entry) or "").replace("\0", " ").strip()
            if args["match"] in cmd and "memory-probe" not in cmd:
                pid = int(entry)
                break
    else:
        out["errors"].append("no process matches %r; measured PID 1" % args["match"])
out["pid"] = pid
out["cmdline"] = (read("/proc/%d/cmdline" % pid) or "").replace("\0", " ").strip()[:200]
status = read("/proc/%d/status" % pid) or ""
fields = {}
for line in status.splitlines():
    key, _, value = line.partition(":")
    parts = value.split()
    if parts and parts[0].isdigit():
        fields[key] = int(parts[0]) * (1024 if parts[1:2] == ["kB"] else 1)
out["process"] = {"rss_bytes": fields.get("VmRSS"), "vms_bytes": fields.get("VmSize"),
                  "shared_bytes": fields.get("RssShmem"), "peak_rss_bytes": fields.get("VmHWM"),
                  "threads": fields.get("Threads")}
try:
    import psutil
    info = psutil.Process(pid).memory_info()
    out["process"].update(rss_bytes=info.rss, vms_bytes=info.vms, shared_bytes=getattr(info, "shared", None))
    memory = psutil.virtual_memory()
    out["system"] = {"total_bytes": memory.total, "available_bytes": memory.available, "used_bytes": memory.used,
                     "percent": memory.percent}
    out["source"] = "psutil"
except ImportError:
    meminfo = {}
    for line in (read("/proc/meminfo") or "").splitlines():
        key, _, value = line.partition(":")
        parts = value.split()
        if parts and parts[0].isdigit():
            meminfo[key] = int(parts[0]) * 1024
    if meminfo.get("MemTotal"):
        out["system"] = {"total_bytes": meminfo["MemTotal"], "available_bytes": meminfo.get("MemAvailable"),
                         "used_bytes": meminfo["MemTotal"] - meminfo.get("MemAvailable", 0),
                         "percent": round(100.0 * (1 - meminfo.get("MemAvailable", 0) / meminfo["MemTotal"]), 1)}
except Exception as exc:
    out["errors"].append("psutil: %s" % exc)

def number(text):
    text = (text or "").strip()
    return int(text) if text.isdigit() else None

if read("/sys/fs/cgroup/memory.current") is not None:
    stat = dict(line.split() for line in (read("/sys/fs/cgroup/memory.stat") or "").splitlines() if " " in line)
    out["cgroup"] = {"version": 2, "usage_bytes": number(read("/sys/fs/cgroup/memory.current")),
                     "limit_bytes": number(read("/sys/fs/cgroup/memory.max")),
                     "peak_bytes": number(read("/sys/fs/cgroup/memory.peak")),
                     "anon_bytes": number(stat.get("anon")), "file_bytes": number(stat.get("file"))}
elif read("/sys/fs/cgroup/memory/memory.usage_in_bytes") is not None:
    out["cgroup"] = {"version": 1, "usage_bytes": number(read("/sys/fs/cgroup/memory/memory.usage_in_bytes")),
                     "limit_bytes": number(read("/sys/fs/cgroup/memory/memory.limit_in_bytes")),
                     "peak_bytes": number(read("/sys/fs/cgroup/memory/memory.max_usage_in_bytes"))}
if args.get("debug_url"):
    try:
        import http.client
        from urllib.parse import urlsplit
        url = urlsplit(args["debug_url"])
        conn_class = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
        conn = conn_class(url.hostname, url.port, timeout=args.get("timeout", 5))
        conn.request("GET", (url.path or "/") + ("?" + url.query if url.query else ""))
        response = conn.getresponse()
        if response.status != 200:
            raise ValueError("HTTP %s" % response.status)
        body = response.read(1048576).decode("utf-8", "replace")
        conn.close()
        try:
            out["app"] = json.loads(body)
        except ValueError:
            # a Prometheus /metrics page: keep the process and Python runtime samples
            metrics = {}
            for line in body.splitlines():
                name, _, value = line.partition(" ")
                if name.startswith(("process_", "python_gc_", "python_info")) and not name.startswith("#"):
                    try:
                        metrics[name] = float(value.split()[0])
                    except (ValueError, IndexError):
                        pass
            if not metrics:
                raise ValueError("the answer is neither JSON nor Prometheus text with process_* samples")
            out["app"] = {"metrics": metrics}
    except Exception as exc:
        out["errors"].append("debug_url: %s" % exc)
print("BRUNO-PROBE " + json.dumps(out))
"""

# When the image has no python3: the same facts from a shell, parsed by the module.
SHELL_FALLBACK = (
    "echo '== status'; cat /proc/1/status 2>/dev/null; "
    "echo '== cgroup'; cat /sys/fs/cgroup/memory.current /sys/fs/cgroup/memory.max 2>/dev/null || "
    "cat /sys/fs/cgroup/memory/memory.usage_in_bytes /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null"
)

MARKER = "BRUNO-PROBE "


def python_command(match=None, debug_url=None, timeout=5):
    args = json.dumps({"match": match, "debug_url": debug_url, "timeout": timeout})
    # argv[0] names the probe so its own process is never taken for the application
    return ["python3", "-c", PROBE_SCRIPT, args, "memory-probe"]


def shell_command():
    return ["sh", "-c", SHELL_FALLBACK]


def parse_python_output(stdout):
    """The probe's JSON document, or None when the output has none (python3 missing, crashed)."""
    for line in (stdout or "").splitlines():
        if line.startswith(MARKER):
            try:
                return json.loads(line[len(MARKER):])
            except ValueError:
                return None
    return None


def _number(text):
    text = (text or "").strip()
    return int(text) if text.isdigit() else None


def parse_shell_output(stdout):
    """The same document shape as the Python probe, from the shell fallback's output (PID 1 only)."""
    section = None
    status, cgroup = {}, []
    for line in (stdout or "").splitlines():
        if line.startswith("== "):
            section = line[3:].strip()
        elif section == "status":
            key, _sep, value = line.partition(":")
            parts = value.split()
            if parts and parts[0].isdigit():
                status[key] = int(parts[0]) * (1024 if parts[1:2] == ["kB"] else 1)
        elif section == "cgroup":
            cgroup.append(line)
    return {
        "source": "shell",
        "pid": 1,
        "cmdline": None,
        "process": {"rss_bytes": status.get("VmRSS"), "vms_bytes": status.get("VmSize"),
                    "shared_bytes": status.get("RssShmem"), "peak_rss_bytes": status.get("VmHWM"),
                    "threads": status.get("Threads")},
        "cgroup": {"usage_bytes": _number(cgroup[0]) if cgroup else None,
                   "limit_bytes": _number(cgroup[1]) if len(cgroup) > 1 else None},
        "system": {},
        "app": None,
        "errors": ["python3 not found in the image: PID 1 and cgroup figures from /proc only"],
    }

"""Stand-in Python interpreter for the diagnosis benchmark: runs the real one, times it, records its peak RSS.

Used as ansible_python_interpreter, so every module task of the play runs through it: the figures are the module
process itself (the AnsiballZ payload with Ansible's module_utils, the kubernetes client and the module), not
ansible-playbook. Appends one JSON line per module run to $BENCH_MODULE_FILE: the module's name, its wall time,
its peak RSS, and for the Kubernetes gatherers the counts the benchmark checks (pods seen, logs read,
api_requests). The module's stdout goes through unchanged.
"""

import json
import os
import re
import resource
import subprocess
import sys
import time

GATHERERS = ("pod_memory_info", "pod_log_scan")


def main():
    started = time.monotonic()
    done = subprocess.run([os.environ.get("BENCH_REAL_PYTHON", sys.executable), *sys.argv[1:]],
                          stdout=subprocess.PIPE, check=False)
    elapsed = time.monotonic() - started
    sys.stdout.buffer.write(done.stdout)
    sys.stdout.flush()
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    script = os.path.basename(sys.argv[-1]) if len(sys.argv) > 1 else "-"
    match = re.match(r"AnsiballZ_(\w+)\.py$", script)
    record = {"module": match.group(1) if match else script, "elapsed": elapsed, "peak_kib": peak_kib,
              "rc": done.returncode}
    if record["module"] in GATHERERS:
        try:
            result = json.loads(done.stdout)
        except ValueError:
            result = {}
        summary = result.get("summary") or {}
        record.update(failed=bool(result.get("failed")), api_requests=result.get("api_requests"),
                      pods=summary.get("pods"), logs_read=summary.get("logs_read"),
                      metrics_available=summary.get("metrics_available"),
                      log_bytes=sum(entry.get("bytes", 0) for entry in result.get("logs") or []))
    with open(os.environ["BENCH_MODULE_FILE"], "a", encoding="utf-8") as out:
        out.write(json.dumps(record) + "\n")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())

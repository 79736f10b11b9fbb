"""Stand-in Python interpreter for the benchmark: runs the real one and records its peak RSS.

Used as ansible_python_interpreter, so the figure is the module process itself (AnsiballZ wrapper, Ansible's
module_utils, redis-py and the module), not ansible-playbook. Appends "<script> <peak KiB>" to $BENCH_RSS_FILE.
"""

import os
import resource
import subprocess
import sys


def main():
    rc = subprocess.call([os.environ.get("BENCH_REAL_PYTHON", sys.executable), *sys.argv[1:]])
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    target = os.path.basename(sys.argv[-1]) if len(sys.argv) > 1 else "-"
    with open(os.environ["BENCH_RSS_FILE"], "a", encoding="utf-8") as out:
        out.write("%s %d\n" % (target, peak_kib))
    return rc


if __name__ == "__main__":
    sys.exit(main())

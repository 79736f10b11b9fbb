"""diagnose.yml over many lab targets in one run, against one run per target, in the same run.

With the lab up (`make lab-up`), `lab/lab fleet up N` gives N agent-bruno targets (namespaces bruno-fleet-01..N,
Redis DBs 1..N); this script then times

- **sequential**: `ansible-playbook -i INV --limit HOST playbooks/diagnose.yml`, once per target, one after the
  other (what twelve alerts cost today), and
- **fleet**: `ansible-playbook -i INV -f FORKS playbooks/diagnose.yml` over the first N targets, for each N and
  FORKS,

and reports wall time per target, the ratio fleet / sequential (the sequential time of the same N targets, summed
from their single runs) and the controller's peak memory: the ansible-playbook process and all its children
(forks, module processes), sampled every 0.2 s from /proc, as the sum of RSS (shared pages counted once per
process, so an upper bound) and of PSS (shared pages split between the processes sharing them). No assertions:
the figures go to stdout, `--json PATH`, and the "Fleet: many targets in one run" section of docs/benchmarks.md.

    .venv/bin/python bench/fleet/bench_fleet.py            # N = 1, 10, 50 at forks 1, 5, 10
    .venv/bin/python bench/fleet/bench_fleet.py --quick    # N = 1, 3 at forks 1, 3: a smoke run

It takes the lab's lock (/tmp/bruno-lab.lock) around each run, not for the whole bench, so other sessions' tests
get the lab in between; do not wrap it in flock. It leaves the fleet up (`lab/lab fleet down` removes it) unless
--fleet-down.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import fcntl
import json
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "lab"))

from labctl import fleet  # noqa: E402 - the lab's package, from the checkout

BIN = Path(sys.executable).parent
LAB = ROOT / "lab" / "lab"
PLAYBOOK = ROOT / "playbooks" / "diagnose.yml"
DOC = ROOT / "docs" / "benchmarks.md"
SECTION = "## Fleet: many targets in one run"
PAGE = os.sysconf("SC_PAGE_SIZE")
TARGET_RATIO = 0.25  # the target: 50 targets at forks 10 in <= 0.25x the time of 50 sequential runs
# the shared lab's lock (docs/lab.md), taken around each run, not for the whole bench; its fixed name is the protocol
LOCK = "/tmp/bruno-lab.lock"  # noqa: S108


@contextlib.contextmanager
def lab_lock(path):
    """Hold the lab's lock for one measurement: no scenario restarts Prometheus or stops Redis during a run, and
    other sessions' tests still get the lab between runs (the bench takes an hour; the wait is not timed)."""
    if not path:
        yield
        return
    with open(path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# ------------------------------------------------------------------------------------------------ memory


def children_map():
    """{ppid: [pid]} of every process now (one /proc scan)."""
    tree = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path("/proc/%s/stat" % entry).read_text()
        except OSError:
            continue  # gone meanwhile
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def tree_of(root):
    tree, out, todo = children_map(), [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(tree.get(pid, []))
    return out


def memory_of(pid):
    """(RSS, PSS) bytes of one process; (0, 0) when it is gone."""
    rss = pss = 0
    try:
        rss = int(Path("/proc/%d/statm" % pid).read_text().split()[1]) * PAGE
        for line in Path("/proc/%d/smaps_rollup" % pid).read_text().splitlines():
            if line.startswith("Pss:"):
                pss = int(line.split()[1]) * 1024
                break
    except (OSError, ValueError, IndexError):
        pass
    return rss, pss


class Sampler(threading.Thread):
    """Peak RSS / PSS sums of a process tree, every `interval` seconds until stop()."""

    def __init__(self, pid, interval=0.2):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_rss = self.peak_pss = self.peak_procs = 0
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            pids = tree_of(self.pid)
            sums = [memory_of(pid) for pid in pids]
            self.peak_rss = max(self.peak_rss, sum(r for r, _p in sums))
            self.peak_pss = max(self.peak_pss, sum(p for _r, p in sums))
            self.peak_procs = max(self.peak_procs, len(pids))
            self.done.wait(self.interval)

    def stop(self):
        self.done.set()
        self.join(timeout=5)


# ------------------------------------------------------------------------------------------------ runs


def ansible_env(report_root, run_id):
    """The tests' Ansible environment; reports under the bench's temporary directory (the playbooks' run
    directory: $BRUNO_REPORT_ROOT/$BRUNO_RUN_ID/<target>/), never the checkout's reports/."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               PATH="%s:%s" % (BIN, os.environ.get("PATH", "")), BRUNO_REPORT_ROOT=str(report_root),
               BRUNO_RUN_ID=run_id)
    env.pop("ANSIBLE_STDOUT_CALLBACK", None)
    return env


def playbook(inventory, report_root, run_id, forks, *, limit=None, timeout=3600):
    """One ansible-playbook run: {seconds, rc, peak_rss, peak_pss, procs, failed hosts, reports, output tail}."""
    cmd = [str(BIN / "ansible-playbook"), "-i", str(inventory), "-f", str(forks), str(PLAYBOOK)]
    if limit:
        cmd += ["--limit", limit]
    with tempfile.TemporaryFile() as log:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=ansible_env(report_root, run_id), stdout=log,
                                stderr=subprocess.STDOUT)
        sampler = Sampler(proc.pid)
        sampler.start()
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()  # our own child, by its PID
            rc = proc.wait(timeout=30)
        seconds = time.monotonic() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the run's processes, all waited for by now
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        sampler.stop()
        log.seek(0)
        output = log.read().decode(errors="replace")
    recap = re.findall(r"^(\S+)\s+: ok=\d+\s+changed=\d+\s+unreachable=(\d+)\s+failed=(\d+)", output, re.M)
    failed = sorted(host for host, unreachable, failures in recap if int(unreachable) or int(failures))
    run_dir = Path(report_root) / run_id
    return {"seconds": seconds, "cpu": cpu, "rc": rc, "peak_rss": sampler.peak_rss, "peak_pss": sampler.peak_pss,
            "procs": sampler.peak_procs, "hosts": len(recap), "failed": failed, "tail": output[-1500:],
            "reports": len(list(run_dir.glob("*/diagnosis.json"))), "fleet_summary": (run_dir / "fleet.json").exists()}


def lab(*args, timeout=900):
    out = subprocess.run([str(LAB), *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False)
    if out.returncode != 0:
        sys.exit("bench: lab %s failed:\n%s" % (" ".join(args), (out.stdout + out.stderr)[-3000:]))
    return out.stdout


def playbook_shape():
    """What the playbook's hosts line is: the fleet interface (bruno_targets) or still `hosts: localhost`."""
    text = PLAYBOOK.read_text()
    match = re.search(r"^\s*hosts:\s*(.+)$", text, re.M)
    return {"hosts": match.group(1).split(" #")[0].strip() if match else "?", "fleet": "bruno_targets" in text}


def machine():
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0]) * 1024
    ansible = subprocess.run([str(BIN / "ansible-playbook"), "--version"], capture_output=True, text=True,
                             check=False, timeout=60).stdout.splitlines()[0]
    return {"cores": os.cpu_count(), "cpu": cpu, "memory_gib": round(mem / 2 ** 30),
            "python": platform.python_version(),
            "ansible": "ansible-core " + (re.findall(r"core ([\d.]+)", ansible) or ["?"])[0],
            "load": os.getloadavg()[0]}


def mib(value):
    return value / 2 ** 20


# ------------------------------------------------------------------------------------------------ bench


def run(sizes, forks_list, work, *, sample=None, skip=(), lock=LOCK):
    """K single-target runs (K = the largest N, or `sample`) spread between the fleet runs, so that the machine's
    load, which drifts on a shared machine, weighs on both sides alike; each N's sequential time is the mean single
    run times N (for K = N: the sum of those N runs). Returns (rows, sequential runs)."""
    largest = max(sizes)
    inventories = {}
    for size in sorted(set(sizes)):
        path = work / ("fleet-%d.yml" % size)
        path.write_text(fleet.inventory_text(size, with_main=False))
        inventories[size] = path
    hosts = [t.namespace for t in fleet.targets(largest)][:sample or largest]
    configs = [(size, forks) for size in sizes for forks in forks_list if "%dx%d" % (size, forks) not in skip]
    # One untimed run first: the first ansible-playbook after a while pays for cold caches (page cache, .pyc),
    # which would land on the first sequential run alone.
    with lab_lock(lock):
        playbook(inventories[largest], work / "reports", "warm-up", 1, limit=hosts[0])
    sequential, fleet_runs, pending = [], {}, list(hosts)
    slots = len(configs) + 1
    for slot in range(slots):
        for host in pending[:len(pending) // (slots - slot)]:
            # the run's start and finish plays run over the targets, once, so --limit HOST keeps them
            with lab_lock(lock):
                result = playbook(inventories[largest], work / "reports", "sequential-%s" % host, 1, limit=host)
            result["host"] = host
            sequential.append(result)
            pending.remove(host)
            print("bench: sequential %-16s %6.2fs rc=%d peak RSS %.0f MiB" % (
                host, result["seconds"], result["rc"], mib(result["peak_rss"])), flush=True)
        if slot == len(configs):
            break
        size, forks = configs[slot]
        with lab_lock(lock):
            result = playbook(inventories[size], work / "reports", "fleet-%d-f%d" % (size, forks), forks)
        fleet_runs[(size, forks)] = result
        print("bench: fleet N=%-3d forks=%-3d %7.2fs (%.2fs/target), peak RSS %.0f MiB, PSS %.0f MiB, rc=%d%s" % (
            size, forks, result["seconds"], result["seconds"] / size, mib(result["peak_rss"]),
            mib(result["peak_pss"]), result["rc"],
            " failed: %s" % ", ".join(result["failed"]) if result["failed"] else ""), flush=True)
    per_target = sum(r["seconds"] for r in sequential) / len(sequential)
    rows = []
    for (size, forks), result in fleet_runs.items():
        seq_seconds = per_target * size
        row = {"targets": size, "forks": forks, "fleet_s": result["seconds"], "fleet_per_target_s":
               result["seconds"] / size, "sequential_s": seq_seconds, "sequential_per_target_s": per_target,
               "ratio": result["seconds"] / seq_seconds, "peak_rss_mib": mib(result["peak_rss"]),
               "peak_pss_mib": mib(result["peak_pss"]), "peak_procs": result["procs"], "rc": result["rc"],
               "fleet_cpu_s": result["cpu"],
               "hosts_in_recap": result["hosts"], "failed": result["failed"], "reports": result["reports"],
               "fleet_summary": result["fleet_summary"],
               "sequential_peak_rss_mib": mib(max(r["peak_rss"] for r in sequential)),
               "sequential_extrapolated_from": len(sequential) if len(sequential) < size else None,
               "sequential_failed": [r["host"] for r in sequential if r["rc"] != 0]}
        if result["rc"] != 0:
            row["tail"] = result["tail"]
        rows.append(row)
        print("bench: N=%-3d forks=%-3d ratio %.3f (fleet %.1fs vs sequential %.1fs)" % (
            size, forks, row["ratio"], result["seconds"], seq_seconds), flush=True)
    return rows, sequential


def section(rows, sequential, info, shape, quick):
    lines = [SECTION, ""]
    lines.append(
        "`bench/fleet/bench_fleet.py` runs `playbooks/diagnose.yml` over N lab targets in one `ansible-playbook` run "
        "at several `-f` forks, against N sequential single-target runs (`--limit HOST`, one at a time), in "
        "the same run. The targets are `lab/lab fleet up N`'s (docs/lab.md, \"Fleet\"): namespaces "
        "`bruno-fleet-01..N`, each an agent-bruno Deployment of 1–2 kwok pods (1Gi limit, 440–950Mi used), its "
        "sessions (40–400) in a Redis DB of its own, with the lab's Prometheus, FerretDB and agent Service shared. "
        "Every diagnose source is on (Kubernetes, Prometheus, Redis, MongoDB, the agent, the in-pod probe).")
    lines.append("")
    lines.append(
        "The single-target runs (one per target of the largest N, or a sample of `--sequential-sample K`) are spread "
        "between the fleet runs, so the shared machine's drifting load weighs on both sides alike; N's sequential "
        "time is their mean × N (with K = N, the sum of those N runs). Ratio = fleet / sequential (below 1 the "
        "fleet run is faster). Peak memory is the controller's: the `ansible-playbook` process tree (its "
        "forks and their module processes) sampled every 0.2 s, as the sum of RSS (shared pages counted in every "
        "process: an upper bound) and of PSS (shared pages split). Each run holds the lab lock "
        "(`/tmp/bruno-lab.lock`) while it runs, so no other session's scenario changes the lab under it; the "
        "sequential runs are `--limit HOST` (the run's start and finish plays run once over the targets). No timed "
        "assertions anywhere.")
    lines.append("")
    lines.append("```bash")
    lines.append(".venv/bin/python bench/fleet/bench_fleet.py           # N = 1, 10, 50 at forks 1, 5, 10")
    lines.append(".venv/bin/python bench/fleet/bench_fleet.py --quick   # N = 1, 3 at forks 1, 3 (smoke)")
    lines.append("```")
    lines.append("")
    lines.append(
        "Measured %s%s%s on the project machine: %d cores (%s), %d GiB, shared with other sessions' builds and "
        "tests (load average %.1f at the start, %.1f at the end), Python %s, %s; the playbook's hosts: `%s`%s." % (
            info["date"], " (`--quick`)" if quick else "",
            " with `bench_fleet.py %s`" % info["args"] if info.get("args") else "", info["cores"], info["cpu"],
            info["memory_gib"],
            info["load"], info["load_end"], info["python"], info["ansible"], shape["hosts"],
            "" if shape["fleet"] else " (the fleet interface had not landed: each run diagnosed the lab's one "
            "implicit localhost target, so these figures time Ansible's start, not N targets)"))
    lines.append("")
    lines.append("| targets | forks | fleet run (s) | per target (s) | sequential (s) | per target (s) | ratio | "
                 "fleet CPU (s) | peak RSS / PSS (MiB) | processes | reports | failed |")
    lines.append("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for row in rows:
        failed = ", ".join(row["failed"]) or ("rc %d" % row["rc"] if row["rc"] else "none")
        reports = "%d%s" % (row["reports"], " + fleet" if row["fleet_summary"] else "")
        cpu = "%.0f" % row["fleet_cpu_s"] if row.get("fleet_cpu_s") is not None else "–"
        lines.append("| %d | %d | %.1f | %.2f | %.1f%s | %.2f | %s | %s | %.0f / %.0f | %d | %s | %s |" % (
            row["targets"], row["forks"], row["fleet_s"], row["fleet_per_target_s"], row["sequential_s"],
            "*" if row["sequential_extrapolated_from"] else "",
            row["sequential_per_target_s"], ("**%.3f**" if row["targets"] >= 50 and row["forks"] >= 10 else "%.3f")
            % row["ratio"], cpu, row["peak_rss_mib"], row["peak_pss_mib"], row["peak_procs"], reports, failed))
    seq_peak = max(row["sequential_peak_rss_mib"] for row in rows)
    lines.append("")
    spread = [r["seconds"] for r in sequential]
    lines.append("reports: the targets' diagnosis.json files the run wrote (+ fleet: its fleet.json). The %d "
                 "single-target runs took %.1f–%.1f s (mean %.1f s); their peak RSS sum was %.0f MiB at most." % (
                     len(spread), min(spread), max(spread), sum(spread) / len(spread), seq_peak))
    if max(spread) > 2 * min(spread):
        lines.append("")
        lines.append("The machine was shared: a single-target run took %.1f× as long at its slowest as at its "
                     "fastest, so one run's figure (N = 1) is noise; read the ratios at N ≥ 10." % (
                         max(spread) / min(spread)))
    timed = [row for row in rows if row.get("fleet_cpu_s")]
    if timed:
        big = max(timed, key=lambda row: (row["targets"], row["forks"]))
        per_target = big["fleet_cpu_s"] / big["targets"]
        floor = per_target / info["cores"]
        lines.append("")
        lines.append("CPU: at N = %d a fleet run used %.1f s of CPU per target (all its processes), so on %d cores no "
                     "fork count can go below %.1f s per target: a ratio floor of %.2f against the %.1f s sequential "
                     "mean, before any other session's load." % (
                         big["targets"], per_target, info["cores"], floor, floor / (sum(spread) / len(spread)),
                         sum(spread) / len(spread)))
    sampled = {row["sequential_extrapolated_from"] for row in rows} - {None}
    if sampled:
        lines.append("")
        lines.append("\\* extrapolated: %d single-target runs were timed (`--sequential-sample %d`), fewer than N."
                     % (min(sampled), min(sampled)))
    target = [row for row in rows if row["targets"] == 50 and row["forks"] == 10]
    if target:
        ratio = target[0]["ratio"]
        lines.append("")
        lines.append("The issue's target, 50 targets at forks 10 in ≤ %.2f× the time of 50 sequential runs: measured "
                     "%.3f×, %s." % (TARGET_RATIO, ratio, "met" if ratio <= TARGET_RATIO else "**not met**"))
    return "\n".join(lines) + "\n"


def write_section(text):
    """Replace (or append) the section in docs/benchmarks.md, keeping every other section as it is."""
    doc = DOC.read_text()
    start = doc.find(SECTION + "\n")
    if start < 0:
        DOC.write_text(doc.rstrip("\n") + "\n\n" + text)
        return
    following = doc.find("\n## ", start + len(SECTION))
    rest = doc[following + 1:] if following >= 0 else ""
    DOC.write_text(doc[:start] + text + ("\n" + rest if rest else ""))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--quick", action="store_true", help="N = 1, 3 at forks 1, 3 (a smoke run)")
    parser.add_argument("--sizes", type=int, nargs="+", help="target counts (default 1 10 50)")
    parser.add_argument("--forks", type=int, nargs="+", help="forks (default 1 5 10)")
    parser.add_argument("--json", help="also write the figures here")
    parser.add_argument("--no-doc", action="store_true", help="do not touch docs/benchmarks.md")
    parser.add_argument("--fleet-down", action="store_true", help="`lab fleet down` at the end")
    parser.add_argument("--sequential-sample", type=int, metavar="K",
                        help="time only the first K sequential runs and scale their mean to N (default: all N)")
    parser.add_argument("--skip", nargs="+", default=[], metavar="NxF",
                        help="leave out these configurations, e.g. 50x1")
    parser.add_argument("--lock", default=LOCK, help="the lab lock taken around each run ('' for none)")
    parser.add_argument("--from-json", metavar="PATH",
                        help="no runs: render (and write) the section from a --json file")
    args = parser.parse_args(argv)
    if args.from_json:
        saved = json.loads(Path(args.from_json).read_text())
        text = section(saved["rows"], saved["sequential"], saved["machine"], saved["playbook"], saved.get("quick"))
        print(text)
        if not args.no_doc:
            write_section(text)
        return 0
    sizes = args.sizes or ([1, 3] if args.quick else [1, 10, 50])
    forks_list = args.forks or ([1, 3] if args.quick else [1, 5, 10])
    if subprocess.run([str(LAB), "status"], capture_output=True, timeout=120, check=False).returncode != 0:
        sys.exit("bench: the lab is not up (make lab-up)")
    shape = playbook_shape()
    if not shape["fleet"]:
        print("bench: note: %s has `hosts: %s`, not the fleet interface: each run diagnoses one target"
              % (PLAYBOOK.relative_to(ROOT), shape["hosts"]), flush=True)
    info = machine()
    info["date"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    info["args"] = " ".join(sys.argv[1:] if argv is None else argv)
    with lab_lock(args.lock):
        print("bench: %s" % lab("fleet", "up", str(max(sizes))).strip(), flush=True)
    with tempfile.TemporaryDirectory(prefix="bruno-bench-fleet-") as tmp:
        rows, sequential = run(sizes, forks_list, Path(tmp), sample=args.sequential_sample, skip=set(args.skip),
                               lock=args.lock)
    info["load_end"] = os.getloadavg()[0]
    if args.fleet_down:
        lab("fleet", "down")
    result = {"machine": info, "playbook": shape, "rows": rows,
              "sequential": [{k: r.get(k) for k in ("host", "seconds", "cpu", "rc", "peak_rss", "peak_pss")}
                             for r in sequential], "quick": args.quick}
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    text = section(rows, sequential, info, shape, args.quick)
    print(text)
    if not args.no_doc:
        write_section(text)
        print("bench: wrote the section to %s" % DOC.relative_to(ROOT))
    return 0 if all(row["rc"] == 0 for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

"""lab up | down | status | pods | scenario NAME | generated SEED CLASS | reset — the embedded lab's one entry point."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time

from labctl import components, layout, procs


def cmd_up(_args):
    started = time.monotonic()
    layout.RUN_DIR.mkdir(parents=True, exist_ok=True)
    for component in components.ordered():
        step = time.monotonic()
        component.up()
        print("lab: %-14s up (%.1fs)" % (component.name, time.monotonic() - step), flush=True)
    print("lab: up in %.1fs; state in %s" % (time.monotonic() - started, layout.LAB_DIR))
    print("lab: admin kubeconfig: %s" % layout.KUBECONFIG_ADMIN)
    return 0


def cmd_down(_args):
    failures = 0
    for component in reversed(components.ordered()):
        try:
            stopped = component.down()
        except procs.LabError as exc:  # keep stopping the rest; report at the end
            print("lab: %s: %s" % (component.name, exc), file=sys.stderr)
            failures += 1
            continue
        print("lab: %-14s %s" % (component.name, "stopped" if stopped else "not running"))
    return 1 if failures else 0


def cmd_status(args):
    rows = [component.status() for component in components.ordered()]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            print("%-14s %-8s %s" % (row["name"], "up" if row["running"] else "down", row.get("detail", "")))
    return 0 if all(row["running"] for row in rows) else 3


def cmd_pods(args):
    """One agent process per agent-bruno pod: where each listens (its own /metrics, /lab/...)."""
    rows = components.pod_rows()
    if args.json:
        print(json.dumps(rows, indent=2, sort_keys=True))
    else:
        print("%-32s %-12s %-6s %-8s %-5s %s" % ("POD", "NODE", "PORT", "PID", "READY", "URL"))
        for name, row in sorted(rows.items()):
            ready = "yes" if row.get("ready") else "no"
            fields = (name, row.get("node", ""), row.get("port"), row.get("pid"), ready, row.get("url"))
            print("%-32s %-12s %-6s %-8s %-5s %s" % fields)
    return 0 if rows and all(row.get("ready") for row in rows.values()) else 3


def cmd_fault(args):
    """slow|error|none on every pod's agent (its /lab/fault), or a data store stopped while the agents run."""
    import urllib.request  # noqa: PLC0415

    stores = {"redis-down": "redis", "mongodb-down": "ferretdb"}
    if args.kind in stores:
        (component,) = [c for c in components.ordered() if c.name == stores[args.kind]]
        component.down()
        print("lab: %s stopped; the agents keep running (`lab/lab fault none` starts it again)" % component.name)
        return 0
    if args.kind == "none":
        for component in components.ordered():
            if component.name in stores.values() and not component.status()["running"]:
                component.up()
                print("lab: %s started again (Redis comes back empty: rerun a scenario)" % component.name)
    rows = components.pod_rows()
    targets = [args.pod] if args.pod else sorted(rows)
    body = {"kind": args.kind, "seconds": args.seconds, "rate": args.rate}
    for pod in targets:
        if pod not in rows:
            raise procs.LabError("no agent process for pod %s (see `lab/lab pods`)" % pod)
        request = urllib.request.Request(rows[pod]["url"] + "/lab/fault", data=json.dumps(body).encode(),  # noqa: S310
                                         method="POST", headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - the lab's loopback agents
            response.read()
        print("lab: %s: fault %s" % (pod, json.dumps(body)))
    return 0


def cmd_reset(args):
    cmd_down(args)
    if layout.LAB_DIR.exists():
        shutil.rmtree(layout.LAB_DIR)
        print("lab: removed %s (the build cache stays)" % layout.LAB_DIR)
    return 0


def cmd_scenario(args):
    from labctl import scenarios  # noqa: PLC0415 - needs the venv's client libraries; load only here

    return scenarios.apply(args.name, persistence=args.persistence)


def cmd_generated(args):
    from labctl import scenarios  # noqa: PLC0415 - needs the venv's client libraries; load only here

    return scenarios.apply_generated(args.seed, args.cls)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="lab", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start everything (builds missing binaries first)").set_defaults(func=cmd_up)
    sub.add_parser("down", help="stop what `up` started, by PID").set_defaults(func=cmd_down)
    status = sub.add_parser("status", help="what is running; exit 3 if anything is down")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=cmd_status)
    pods = sub.add_parser("pods", help="the agent process of each pod: port, PID, ready; exit 3 if none/not ready")
    pods.add_argument("--json", action="store_true")
    pods.set_defaults(func=cmd_pods)
    fault = sub.add_parser("fault", help="slow answers / 5xx on /chat (the agents' /lab/fault), or a store down")
    fault.add_argument("kind", choices=("slow", "error", "none", "redis-down", "mongodb-down"))
    fault.add_argument("--seconds", type=float, default=2.0, help="slow: added seconds per /chat")
    fault.add_argument("--rate", type=float, default=1.0, help="share of /chat requests affected, 0..1")
    fault.add_argument("--pod", help="only this pod's agent (default: all)")
    fault.set_defaults(func=cmd_fault)
    sub.add_parser("reset", help="down, then remove all lab state").set_defaults(func=cmd_reset)
    scenario = sub.add_parser("scenario", help="put the whole lab into a scenario's state")
    scenario.add_argument("name")
    scenario.add_argument("--persistence", choices=("ok", "broken"), default="ok",
                          help="broken: the agents write nothing to MongoDB, like the published app (sticky: new "
                               "pods get it too, until a scenario with --persistence ok)")
    scenario.set_defaults(func=cmd_scenario)
    generated = sub.add_parser("generated", help="put the lab into one generated state (labctl.generator)")
    generated.add_argument("seed", type=int)
    generated.add_argument("cls", metavar="CLASS", help=(
        "a class of labctl.generator.CLASSES, e.g. memory_leak, busy_healthy, warm_up, memory_leak+too_many_sessions"))
    generated.set_defaults(func=cmd_generated)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except procs.LabError as exc:
        print("lab: %s" % exc, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

"""lab up | down | status | scenario NAME | reset — the embedded lab's one entry point."""

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
        print("lab: %-11s up (%.1fs)" % (component.name, time.monotonic() - step), flush=True)
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
        print("lab: %-11s %s" % (component.name, "stopped" if stopped else "not running"))
    return 1 if failures else 0


def cmd_status(args):
    rows = [component.status() for component in components.ordered()]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            print("%-11s %-8s %s" % (row["name"], "up" if row["running"] else "down", row.get("detail", "")))
    return 0 if all(row["running"] for row in rows) else 3


def cmd_reset(args):
    cmd_down(args)
    if layout.LAB_DIR.exists():
        shutil.rmtree(layout.LAB_DIR)
        print("lab: removed %s (the build cache stays)" % layout.LAB_DIR)
    return 0


def cmd_scenario(args):
    from labctl import scenarios  # noqa: PLC0415 - needs the venv's client libraries; load only here

    return scenarios.apply(args.name)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="lab", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start everything (builds missing binaries first)").set_defaults(func=cmd_up)
    sub.add_parser("down", help="stop what `up` started, by PID").set_defaults(func=cmd_down)
    status = sub.add_parser("status", help="what is running; exit 3 if anything is down")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=cmd_status)
    sub.add_parser("reset", help="down, then remove all lab state").set_defaults(func=cmd_reset)
    scenario = sub.add_parser("scenario", help="put the whole lab into a scenario's state")
    scenario.add_argument("name")
    scenario.set_defaults(func=cmd_scenario)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except procs.LabError as exc:
        print("lab: %s" % exc, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

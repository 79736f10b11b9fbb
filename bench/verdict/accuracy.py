"""The verdict's accuracy on generated states (lab/labctl/generator.py), per class, at a fixed seed.

    .venv/bin/python bench/verdict/accuracy.py --seed 13 --per-class 60 [--write docs/diagnosis.md] [--misses N]

Each state goes through the same pure path a diagnosis takes: the gather modules' results (the memory history
summarized by prometheus_series, as prometheus_query does), diagnosis_facts.extract, verdict.decide. A case is
right when the verdict's primary is the expected cause ("none" for healthy states; for an expected "unknown", no
cause named: unknown or none); a pair is right in the top two when both causes are the primary and `also` (or the
two highest ranked). Confidently wrong: a cause named as primary that was not injected, with confidence >= 0.7.
This is a measurement: nothing here asserts; the unit tests assert the deterministic cases.
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / ".collections"), str(ROOT / "lab")]

from ansible_collections.bruno.ops.plugins.module_utils.decide.verdict import decide  # noqa: E402
from ansible_collections.bruno.ops.plugins.module_utils.facts import diagnosis_facts  # noqa: E402
from labctl import generator  # noqa: E402

BEGIN, END = "<!-- accuracy:begin -->", "<!-- accuracy:end -->"


def judge(state):
    facts, sources = diagnosis_facts.extract(generator.module_results(state))
    verdict = decide(facts, sources)
    named = [verdict["primary"]] + list(verdict.get("also") or [])
    expected = state.expected
    if expected == ("unknown",):
        right = verdict["primary"] in ("unknown", "none")
    else:
        right = verdict["primary"] == expected[0] or (len(expected) == 2 and verdict["primary"] in expected)
    top_two = both_named = None
    if len(expected) == 2:
        ranked = [c["cause"] for c in verdict["causes"][:2]]
        top_two = set(expected) <= set(named) or set(expected) == set(ranked)
        both_named = set(expected) <= set(named)
    top = verdict["causes"][0]
    confidently_wrong = (verdict["primary"] not in ("none", "unknown") and verdict["primary"] not in expected
                         and top["confidence"] >= 0.7)
    return right, (top_two, both_named), confidently_wrong, verdict


def measure(seed, per_class):
    rows, misses = collections.OrderedDict(), []
    started = time.perf_counter()
    for state in generator.corpus(seed, per_class):
        right, (top_two, both_named), wrong, verdict = judge(state)
        row = rows.setdefault(state.cls, {"cases": 0, "right": 0, "top_two": 0, "named": 0, "pairs": 0, "wrong": 0})
        row["cases"] += 1
        row["right"] += right
        row["wrong"] += wrong
        if top_two is not None:
            row["pairs"] += 1
            row["top_two"] += top_two
            row["named"] += both_named
        if not right or top_two is False:
            misses.append((state, verdict))
    return rows, misses, time.perf_counter() - started


def group(cls):
    if "+" in cls:
        return "pairs"
    if cls in generator.CAUSES:
        return "single causes"
    if cls in ("healthy", "busy_healthy", "warm_up"):
        return "healthy"
    return "hard states"


def table(rows, seed, per_class, seconds):
    lines = ["| class | group | cases | top-1 right | both in top two (pairs) | both named (`also`) "
             "| confidently wrong |", "|---|---|---:|---:|---:|---:|---:|"]
    totals = collections.OrderedDict()
    for cls, row in rows.items():
        pairs = "%.0f %%" % (100.0 * row["top_two"] / row["pairs"]) if row["pairs"] else "-"
        named = "%.0f %%" % (100.0 * row["named"] / row["pairs"]) if row["pairs"] else "-"
        lines.append("| %s | %s | %d | %.0f %% | %s | %s | %.1f %% |" % (
            cls, group(cls), row["cases"], 100.0 * row["right"] / row["cases"], pairs, named,
            100.0 * row["wrong"] / row["cases"]))
        total = totals.setdefault(group(cls), collections.Counter())
        total.update(row)
    lines.append("")
    lines.append("| group | cases | top-1 right | both in top two | confidently wrong |")
    lines.append("|---|---:|---:|---:|---:|")
    for name, total in totals.items():
        pairs = "%.0f %%" % (100.0 * total["top_two"] / total["pairs"]) if total["pairs"] else "-"
        lines.append("| %s | %d | %.0f %% | %s | %.1f %% |" % (
            name, total["cases"], 100.0 * total["right"] / total["cases"], pairs,
            100.0 * total["wrong"] / total["cases"]))
    cases = sum(t["cases"] for t in totals.values())
    wrong = sum(t["wrong"] for t in totals.values())
    lines.append("| all | %d | %.0f %% | | %.1f %% |" % (
        cases, 100.0 * sum(t["right"] for t in totals.values()) / cases, 100.0 * wrong / cases))
    lines.append("")
    lines.append("Seed %d, %d states per class, %d in all, judged in %.1f s. Reproduce: "
                 "`.venv/bin/python bench/verdict/accuracy.py --seed %d --per-class %d`." % (
                     seed, per_class, cases, seconds, seed, per_class))
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--per-class", type=int, default=60)
    parser.add_argument("--write", help="replace the table between the accuracy markers of this Markdown file")
    parser.add_argument("--misses", type=int, default=0, help="print this many wrong cases")
    args = parser.parse_args()
    rows, misses, seconds = measure(args.seed, args.per_class)
    text = table(rows, args.seed, args.per_class, seconds)
    print(text)
    for state, verdict in misses[:args.misses]:
        print("\nMISS %s seed=%d expected=%s got=%s also=%s %s" % (
            state.cls, state.seed, state.expected, verdict["primary"], verdict.get("also"),
            [(c["cause"], c["confidence"]) for c in verdict["causes"][:3]]))
        print("   injected:", state.injected, "limit MiB", state.limit_bytes // 2 ** 20, "replicas", state.replicas,
              "stopped", list(state.stopped))
    if args.write:
        path = Path(args.write)
        doc = path.read_text()
        if BEGIN not in doc:
            raise SystemExit("%s has no %s marker" % (path, BEGIN))
        head, rest = doc.split(BEGIN, 1)
        _old, tail = rest.split(END, 1)
        path.write_text(head + BEGIN + "\n" + text + "\n" + END + tail)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""render/fleet: one row per target, worst first; failed targets are rows too; the three formats."""

from ansible_collections.bruno.ops.plugins.module_utils.render import fleet

GI = 2 ** 30


def verdict(primary, usage, confidence=0.8, unavailable=None, also=()):
    causes = [{"cause": primary, "confidence": confidence}] if primary not in ("none", "unknown") else []
    return {"verdict": {"primary": primary, "also": list(also), "headline": "%s headline" % primary,
                        "causes": causes, "usage_pct_of_limit": usage,
                        "unavailable_sources": dict.fromkeys(unavailable or [], "down")},
            "facts": {"limit_bytes": GI, "sessions": 40, "oom_kills": 1}}


TARGETS = [
    {"target": "healthy", "verdict": verdict("none", 30.0), "files": {"html": "/r/run/healthy/diagnosis.html"}},
    {"target": "leaky", "verdict": verdict("memory_leak", 81.0), "files": {"html": "/r/run/leaky/diagnosis.html"}},
    {"target": "fullest", "verdict": verdict("too_many_sessions", 95.0, unavailable=["redis"],
                                             also=("large_contexts",))},
    {"target": "broken", "verdict": None, "error": "the target failed before the end of its play"},
    {"target": "unsure", "verdict": verdict("unknown", None)},
    {"target": "restarted", "verdict": None, "finished": True,
     "changes": [{"action": "restart", "target": "deployment bruno/agent-bruno", "changed": True}]},
]


def test_rows_are_worst_first():
    table = fleet.rows(TARGETS)
    assert [r["target"] for r in table] == ["broken", "fullest", "leaky", "unsure", "restarted", "healthy"]
    assert table[1]["verdict"] == "too_many_sessions + large_contexts" and table[1]["unavailable"] == ["redis"]
    assert table[0]["state"] == "failed" and table[4]["headline"] == "restart deployment bruno/agent-bruno: changed"
    assert fleet.summary(table) == {"targets": 6, "failed": 1, "with_cause": 2, "unknown": 1, "healthy": 1,
                                    "done": 1}


def test_the_formats_link_each_target_and_say_what_failed():
    table = fleet.rows(TARGETS)
    document = {"rows": table, "summary": fleet.summary(table), "run": "r1", "output_dir": "/r/run"}
    markdown = fleet.render_markdown(document)
    assert "| leaky | memory_leak | 0.8 | 81.0% | 1.0Gi | 40 | 1 | - | [report](leaky/diagnosis.html) |" in markdown
    assert "| broken | **failed**: the target failed before the end of its play |" in markdown
    page = fleet.render_html(document)
    assert page.count("<tr class=") == 6 and "<a href='leaky/diagnosis.html'>report</a>" in page
    assert fleet.line(table[1]).startswith("fullest: too_many_sessions + large_contexts (confidence 0.8), memory 95.0%")
    assert fleet.line(table[0]) == "broken: FAILED: the target failed before the end of its play"

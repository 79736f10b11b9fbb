#!/usr/bin/python
# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: diagnosis_report
short_description: Write a diagnosis as JSON, Markdown (for a ticket) and HTML with memory charts
version_added: 0.1.0
description:
  - Writes C(diagnosis.json) (all facts and the verdict), C(diagnosis.md) (pasteable into a ticket) and
    C(diagnosis.html) (a chart of memory over time per pod with the limit line, then the full report) into
    O(output_dir). The reports lead with the verdict's findings (for example that Redis holds the only copy of
    the conversations, or that C(bruno_active_sessions) is stale) and what to do.
  - Client IPs and chat text are redacted by default (O(redact)).
  - A file is rewritten only when its content differs; C(changed) says whether any was.
  - In check mode nothing is written; C(changed) says whether something would be.
author:
  - bruno.ops contributors (@bruno-ops)
extends_documentation_fragment:
  - bruno.ops.attributes
  - bruno.ops.attributes.change_module
options:
  verdict:
    description: The result of M(bruno.ops.memory_verdict) (its C(verdict), C(facts) and C(sources) are used).
    type: dict
    required: true
  pods:
    description: The C(pods) list of M(bruno.ops.pod_memory_info), for the per-pod table.
    type: list
    elements: dict
    default: []
  series:
    description:
      - Memory history for the charts, the C(series) of M(bruno.ops.prometheus_query) run with C(return_points).
        Each item needs C(labels.pod) (or a C(pod) key) and C(points) as C([timestamp, bytes]) pairs.
    type: list
    elements: dict
    default: []
  limit_bytes:
    description: The memory limit drawn as a line on the charts.
    type: int
  output_dir:
    description: Directory to write into; created when missing.
    type: path
    required: true
  formats:
    description: Which files to write.
    type: list
    elements: str
    choices: [json, markdown, html]
    default: [json, markdown, html]
  title:
    description: Report title.
    type: str
    default: agent-bruno memory diagnosis
  target:
    description: What was diagnosed, for the report header (for example C(bruno/app=agent-bruno)).
    type: str
    default: ""
  generated_at:
    description: Time stamp printed in the report, usually the run's start time.
    type: str
    default: ""
  extra:
    description:
      - More gathered results to keep in the JSON report, by name. C(redis_server), the C(server) of
        M(bruno.ops.redis_session_info), is also shown in the Markdown and HTML reports (clients per address,
        maxmemory and policy, KEYS in the SLOWLOG).
    type: dict
    default: {}
  redact:
    description:
      - Mask client IPs (C(203.0.113.x); agent-bruno's session keys are C(bruno:session:<client-ip>)) and replace
        chat text (C(message), C(response), C(content) fields and quoted ones in log lines) by its length in
        every report written and in RV(markdown).
      - Set V(false) only where the reports stay with people allowed to see who chatted and what.
    type: bool
    default: true
attributes:
  check_mode:
    details: Nothing is written in check mode; RV(updated) names the reports that would be.
  diff_mode:
    support: none
    details: The reports are outputs; their paths are returned and RV(updated) names the ones that changed.
"""

EXAMPLES = r"""
- name: Write the reports
  bruno.ops.diagnosis_report:
    verdict: "{{ verdict }}"
    pods: "{{ pods.pods }}"
    series: "{{ history.series }}"
    limit_bytes: "{{ verdict.facts.limit_bytes }}"
    output_dir: "{{ playbook_dir }}/../reports/latest"
"""

RETURN = r"""
files:
  description: Written (or, in check mode, would-be) files by format.
  returned: always
  type: dict
  sample: {"json": "/srv/reports/diagnosis.json", "markdown": "/srv/reports/diagnosis.md",
           "html": "/srv/reports/diagnosis.html"}
updated:
  description: The formats whose file changed.
  returned: always
  type: list
  elements: str
  sample: ["json", "markdown", "html"]
markdown:
  description: The Markdown report, for printing or posting.
  returned: always
  type: str
  sample: "# agent-bruno memory diagnosis ..."
"""

import json

from ansible_collections.bruno.ops.plugins.module_utils import errors, module_run, report_files
from ansible_collections.bruno.ops.plugins.module_utils.facts import privacy
from ansible_collections.bruno.ops.plugins.module_utils.render import report as report_render

FILES = {"json": "diagnosis.json", "markdown": "diagnosis.md", "html": "diagnosis.html"}

ARGUMENT_SPEC = dict(
    verdict=dict(type="dict", required=True),
    pods=dict(type="list", elements="dict", default=[]),
    series=dict(type="list", elements="dict", default=[]),
    limit_bytes=dict(type="int"),
    output_dir=dict(type="path", required=True),
    formats=dict(type="list", elements="str", choices=list(FILES), default=list(FILES)),
    title=dict(type="str", default="agent-bruno memory diagnosis"),
    target=dict(type="str", default=""),
    generated_at=dict(type="str", default=""),
    extra=dict(type="dict", default={}),
    redact=dict(type="bool", default=True),
)


def build_document(params):
    verdict = params["verdict"]
    series = []
    for item in params["series"]:
        pod = item.get("pod") or (item.get("labels") or {}).get("pod") or "series"
        points = [(float(t), float(v)) for t, v in item.get("points") or []]
        series.append({"pod": pod, "points": points})
    return {
        "title": params["title"],
        "target": params["target"],
        "generated_at": params["generated_at"],
        "verdict": verdict["verdict"],
        "facts": verdict.get("facts", {}),
        "sources": verdict.get("sources", {}),
        "pods": params["pods"],
        "series": series,
        "limit_bytes": params["limit_bytes"],
        "extra": params["extra"],
    }


def render(document, fmt):
    if fmt == "json":
        return json.dumps(document, indent=2, sort_keys=True, default=str) + "\n"
    if fmt == "markdown":
        return report_render.render_markdown(document)
    return report_render.render_html(document)


def run(params, check_mode, module):
    """Render every format; write (atomically, with module.atomic_move) only the files whose content differs."""
    if "verdict" not in params["verdict"]:
        raise errors.BrunoOpsError(
            "verdict must be the registered result of bruno.ops.memory_verdict (no 'verdict' key)", kind=errors.INVALID)
    if params["limit_bytes"] is not None and params["limit_bytes"] < 0:
        raise errors.BrunoOpsError("limit_bytes must be the memory limit in bytes (0 or more), got %d"
                                   % params["limit_bytes"], kind=errors.INVALID)
    document = build_document(params)
    if params["redact"]:
        document = privacy.redact(document)
    contents = {fmt: (FILES[fmt], render(document, fmt)) for fmt in params["formats"]}
    files, updated = report_files.write(module, params["output_dir"], contents, check_mode)
    return dict(changed=bool(updated), files=files, updated=updated, markdown=render(document, "markdown"))


def main():
    module_run.main(ARGUMENT_SPEC, run, with_module=True)


if __name__ == "__main__":
    main()

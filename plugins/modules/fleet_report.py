#!/usr/bin/python
# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: fleet_report
short_description: The fleet summary of a run over many targets - one row per target, worst first
version_added: 0.5.0
description:
  - Writes C(fleet.json), C(fleet.md) and C(fleet.html) into O(output_dir). One row per target (inventory host)
    with its verdict, confidence, memory against the limit, sessions, OOM kills, unavailable sources and a link
    to the target's own report; a target that failed before it had a verdict is a row too, with why.
  - Sorted worst first. Targets that failed, then those with a cause (highest memory against the limit first),
    then unknown verdicts, then those with nothing wrong.
  - Only the files whose content changed are written, each atomically.
author:
  - bruno.ops contributors (@bruno-ops)
extends_documentation_fragment:
  - bruno.ops.attributes
  - bruno.ops.attributes.change_module
options:
  targets:
    description:
      - One entry per target. C(target) (its name), C(namespace), C(verdict) (the registered result of
        M(bruno.ops.memory_verdict), or null when the target failed), C(files) (M(bruno.ops.diagnosis_report)'s
        RV(bruno.ops.diagnosis_report#module:files)), C(error) (why there is no verdict), C(plan) (remediate's steps).
    type: list
    elements: dict
    required: true
  output_dir:
    description: Directory of the run (the targets' report directories are usually below it).
    type: path
    required: true
  run:
    description: The run's id, printed in the summary.
    type: str
    default: ""
  generated_at:
    description: Time stamp printed in the summary.
    type: str
    default: ""
  title:
    description: Title of the summary.
    type: str
    default: agent-bruno fleet diagnosis
attributes:
  check_mode:
    details: Nothing is written in check mode; RV(updated) names the files that would be.
  diff_mode:
    support: none
    details: The summary is an output; RV(updated) names the files that changed.
"""

EXAMPLES = r"""
- name: Write the fleet summary of this run
  bruno.ops.fleet_report:
    targets: "{{ fleet_targets }}"
    output_dir: "{{ playbook_dir }}/../reports/{{ run_id }}"
    run: "{{ run_id }}"
"""

RETURN = r"""
rows:
  description: The rows, worst first.
  returned: always
  type: list
  elements: dict
  sample: [{target: bruno-eu, namespace: bruno-eu, state: cause, verdict: memory_leak, confidence: 0.82,
            usage_pct_of_limit: 93.1, limit_bytes: 1073741824, sessions: 412, oom_kills: 2, unavailable: [],
            report: /srv/reports/20261203T120000Z/bruno-eu/diagnosis.html, plan: [playbooks/restart.yml]}]
lines:
  description: One line per target, worst first, for the play's output.
  returned: always
  type: list
  elements: str
  sample: ["bruno-eu: memory_leak (confidence 0.82), memory 93.1% of 1.0Gi, sessions 412, OOM kills 2"]
summary:
  description: How many targets, and how many failed, have a cause, are unknown, have nothing wrong.
  returned: always
  type: dict
  sample: {targets: 3, failed: 0, with_cause: 1, unknown: 0, healthy: 2}
files:
  description: The files by format.
  returned: always
  type: dict
  sample: {json: /srv/reports/20261203T120000Z/fleet.json, markdown: /srv/reports/20261203T120000Z/fleet.md,
           html: /srv/reports/20261203T120000Z/fleet.html}
updated:
  description: The formats whose file changed.
  returned: always
  type: list
  elements: str
  sample: [json, markdown, html]
"""

import json

from ansible_collections.bruno.ops.plugins.module_utils import errors, module_run, report_files
from ansible_collections.bruno.ops.plugins.module_utils.render import fleet

ARGUMENT_SPEC = dict(
    targets=dict(type="list", elements="dict", required=True),
    output_dir=dict(type="path", required=True),
    run=dict(type="str", default=""),
    generated_at=dict(type="str", default=""),
    title=dict(type="str", default="agent-bruno fleet diagnosis"),
)


def run(params, check_mode, module):
    for index, target in enumerate(params["targets"]):
        if not target.get("target"):
            raise errors.BrunoOpsError("targets[%d] has no 'target' (the inventory host's name)" % index,
                                       kind=errors.INVALID)
    table = fleet.rows(params["targets"])
    document = {"title": params["title"], "run": params["run"], "generated_at": params["generated_at"],
                "output_dir": params["output_dir"], "rows": table, "summary": fleet.summary(table)}
    contents = {"json": ("fleet.json", json.dumps(document, indent=2, sort_keys=True, default=str) + "\n"),
                "markdown": ("fleet.md", fleet.render_markdown(document)),
                "html": ("fleet.html", fleet.render_html(document))}
    files, updated = report_files.write(module, params["output_dir"], contents, check_mode)
    return dict(changed=bool(updated), rows=table, summary=document["summary"], files=files, updated=updated,
                lines=[fleet.line(one) for one in table])


def main():
    module_run.main(ARGUMENT_SPEC, run, with_module=True)


if __name__ == "__main__":
    main()

#!/usr/bin/python
# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: memory_verdict
short_description: Rank the runbook's causes of high memory from the gathered facts
version_added: 0.1.0
description:
  - Takes the registered results of the gather modules and ranks the causes the runbook names. These are too
    many sessions, connection-pool exhaustion, a memory leak, large conversation contexts and an undersized
    limit. Each cause comes with a confidence, the evidence as numbers and the fix (which playbook, which
    parameters).
  - Says C(none) when memory is fine and C(unknown) rather than guess when evidence is missing or points two
    ways. A source that failed or was skipped lowers the confidence of the causes that need it.
  - Pure computation on the controller. It talks to no server. The rules are in C(docs/diagnosis.md).
author:
  - bruno.ops contributors (@bruno-ops)
options:
  results:
    description:
      - Registered results of the gather tasks, by source. V(kubernetes) is M(bruno.ops.pod_memory_info),
        V(prometheus) is M(bruno.ops.prometheus_query) of the working set correlated with the session count,
        V(redis) is M(bruno.ops.redis_session_info), V(mongodb) is M(bruno.ops.mongodb_info), V(agent) is
        M(bruno.ops.metrics_scrape) of the agent and V(logs) is M(bruno.ops.pod_log_scan).
      - A missing, failed or skipped result marks its source unavailable.
    type: dict
    required: true
  thresholds:
    description: Overrides of the rule thresholds; see C(docs/diagnosis.md) for names and defaults.
    type: dict
    default: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Computes only.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
    details: Nothing is ever changed.
"""

EXAMPLES = r"""
- name: Decide
  bruno.ops.memory_verdict:
    results:
      kubernetes: "{{ diagnose_pods }}"
      prometheus: "{{ diagnose_history }}"
      redis: "{{ diagnose_sessions }}"
      mongodb: "{{ diagnose_mongodb }}"
      agent: "{{ diagnose_agent_metrics }}"
      logs: "{{ diagnose_logs }}"
  register: verdict
"""

RETURN = r"""
verdict:
  description: The headline and the ranked causes.
  returned: always
  type: dict
  contains:
    primary:
      description: The top cause, or C(none) (no memory problem found) or C(unknown).
      type: str
      returned: always
      sample: too_many_sessions
    headline:
      description: One sentence for people.
      type: str
      returned: always
      sample: Expire idle sessions now and lower SESSION_TTL so they stop piling up
    under_pressure:
      description: Whether memory is above the healthy share of the limit or something was OOM-killed.
      type: bool
      returned: always
      sample: true
    usage_pct_of_limit:
      description: The highest usage seen, percent of the limit.
      type: float
      returned: always
      sample: 88.4
    causes:
      description: Every cause with C(confidence), C(score), C(evidence), C(missing_sources) and C(fix), best first.
      type: list
      elements: dict
      returned: always
      sample: [{"cause": "too_many_sessions", "confidence": 0.92, "score": 0.92,
                "evidence": {"sessions": 300000, "sessions_without_ttl_pct": 40.0, "session_correlation": 0.95},
                "missing_sources": [], "fix": {"summary": "Expire idle sessions now",
                "playbooks": [{"playbook": "playbooks/cleanup_sessions.yml", "extra_vars": {}}]}}]
    unavailable_sources:
      description: Sources that did not answer, with the reason.
      type: dict
      returned: always
      sample: {"prometheus": "cannot query: Prometheus http://127.0.0.1:9090 is unreachable"}
    thresholds:
      description: The thresholds used.
      type: dict
      returned: always
      sample: {"sessions_many": 50000}
facts:
  description: The flat facts the rules read; null where the source was unavailable.
  returned: always
  type: dict
  sample: {"sessions": 300000, "usage_max_pct": 88.4, "growth_mib_per_hour": 41.0}
sources:
  description: Each source, true when it answered, else why not.
  returned: always
  type: dict
  sample: {"kubernetes": true, "prometheus": true, "redis": true, "mongodb": true, "agent": true, "logs": true}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.bruno.ops.plugins.module_utils.decide import verdict
from ansible_collections.bruno.ops.plugins.module_utils.facts import diagnosis_facts


def run(params):
    unknown = sorted(set(params["thresholds"]) - set(verdict.DEFAULT_THRESHOLDS))
    if unknown:
        return None, "thresholds: unknown name(s) %s; known: %s" % (
            ", ".join(unknown), ", ".join(sorted(verdict.DEFAULT_THRESHOLDS)))
    facts, sources = diagnosis_facts.extract(params["results"])
    return dict(changed=False, verdict=verdict.decide(facts, sources, params["thresholds"]), facts=facts,
                sources=sources), None


def main():
    module = AnsibleModule(
        argument_spec=dict(results=dict(type="dict", required=True), thresholds=dict(type="dict", default={})),
        supports_check_mode=True,
    )
    result, error = run(module.params)
    if error:
        module.fail_json(msg=error)
    module.exit_json(**result)


if __name__ == "__main__":
    main()

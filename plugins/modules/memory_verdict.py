#!/usr/bin/python
# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: memory_verdict
short_description: Rank the runbook's causes of high memory from the gathered facts
version_added: 0.1.0
description:
  - Takes the registered results of the gather modules and ranks the causes the runbook names, such as too
    many sessions, a memory leak or an undersized limit (C(docs/diagnosis.md) lists them all with their rules).
    Each cause comes with a confidence, the evidence as numbers and the fix (which playbook, which
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
    description:
      - Overrides of the rule thresholds, by name. Each cause declares its own thresholds with a default, the
        allowed range and why (C(plugins/module_utils/decide/causes/)); C(docs/diagnosis.md) lists them all.
      - An unknown name, a value that is not a number, or one outside its allowed range fails the task with an
        C(invalid_input) error naming the threshold and the range. A number given as a string is read as one.
    type: dict
    default: {}
extends_documentation_fragment:
  - bruno.ops.attributes
  - bruno.ops.attributes.info_module
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
    also:
      description:
        - A second cause with strong evidence too (confidence 0.5 or more), said beside C(primary); empty otherwise.
      type: list
      elements: str
      returned: always
      sample: [connection_pool_exhaustion]
    plan:
      description:
        - The steps of the fixes of C(primary) and C(also) in one safe order (data, then settings that roll the pods,
          then capacity, a restart last), each with the C(causes) it serves; a step two fixes share runs once, and a
          plain restart is left out when a step already rolls the pods (C(merged) says so). Empty for C(none) and
          C(unknown).
      type: dict
      returned: always
      sample: {"steps": [{"playbook": "playbooks/cleanup_sessions.yml", "extra_vars": {},
                          "causes": ["too_many_sessions"]},
                         {"playbook": "playbooks/restart.yml", "extra_vars": {"restart_not_within": "10m"},
                          "causes": ["connection_pool_exhaustion"]}], "merged": []}
    pressure:
      description: Why memory is under pressure, in words (usage, p95, OOM kills, time to the limit); empty if not.
      type: list
      elements: str
      returned: always
      sample: ["usage 88% of the limit (healthy below 70%)"]
    warnings:
      description:
        - Without memory pressure, the causes that still reached 0.5 (C(cause), C(confidence), C(why), C(text)),
          worth knowing, not the headline.
      type: list
      elements: dict
      returned: always
      sample: [{"cause": "connection_pool_exhaustion", "confidence": 0.89, "why": "420 Redis connections ...",
                "text": "signs of connection_pool_exhaustion without memory pressure: 420 Redis connections ..."}]
    would_change:
      description: What would change the verdict, in words (missing sources and facts of the top causes).
      type: list
      elements: str
      returned: always
      sample: ["memory_leak: prometheus answering (it is unavailable)"]
    headline:
      description: One sentence for people.
      type: str
      returned: always
      sample: Expire idle sessions now and lower SESSION_TTL so they stop piling up
    under_pressure:
      description:
        - Whether memory is under pressure (see C(pressure)); without it the verdict is C(none) whatever else scores.
      type: bool
      returned: always
      sample: true
    usage_pct_of_limit:
      description: The highest usage seen, percent of the limit.
      type: float
      returned: always
      sample: 88.4
    causes:
      description:
        - Every cause with C(confidence), C(score), C(coverage), C(evidence), C(missing_sources),
          C(missing_facts), C(fix_id), C(fix) and C(why) (the evidence in words, each number with what it was
          compared to; null without evidence), best first.
        - C(fix_id) names the cause's entry in the fix catalogue; C(fix) is that entry, the cause's summary, the
          playbooks with their extra vars and, when there is any, C(advice) (a list of sentences), adapted to the
          findings and to the container's env (a step that changes a setting the container does not have is left
          out, and the advice says so).
      type: list
      elements: dict
      returned: always
      sample: [{"cause": "too_many_sessions", "confidence": 0.92, "score": 0.92,
                "evidence": {"sessions": 300000, "sessions_without_ttl_pct": 40.0, "session_correlation": 0.95},
                "coverage": 1.0, "missing_sources": [], "missing_facts": {}, "fix_id": "too_many_sessions",
                "fix": {"summary": "Expire idle sessions now",
                "playbooks": [{"playbook": "playbooks/cleanup_sessions.yml", "extra_vars": {}}]}}]
    missing_facts:
      description:
        - Every fact that is null, with why (its source did not answer, or it did not report the figure, such as
          C(pool gauges not exported)). Each cause lists its own in C(causes[].missing_facts); a null fact lowers
          the cause's C(coverage) exactly like a source that did not answer.
      type: dict
      returned: always
      sample: {"pool_in_use_pct": "pool gauges not exported"}
    findings:
      description:
        - States worth saying whatever the cause, most severe first, each with C(id), C(severity), C(title),
          C(detail) and C(evidence). C(app_not_persisting) (Redis holds the only copy of the conversations) makes
          the session fixes copy before they trim or expire; C(active_sessions_stale) says the app's gauge
          disagrees with the census; also C(redis_keys_in_slowlog), C(redis_memory_policy), C(ready_degraded)
          and C(http_errors). The rules are in C(docs/diagnosis.md).
      type: list
      elements: dict
      returned: always
      sample: [{"id": "active_sessions_stale", "severity": "warning", "title": "bruno_active_sessions is stale",
                "detail": "The app's gauge says 0 sessions, the Redis census counts 2000 ...",
                "evidence": {"active_sessions_gauge": 0, "sessions": 2000}}]
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

from ansible_collections.bruno.ops.plugins.module_utils import module_run
from ansible_collections.bruno.ops.plugins.module_utils.change import fixes
from ansible_collections.bruno.ops.plugins.module_utils.decide import causes, findings, verdict
from ansible_collections.bruno.ops.plugins.module_utils.facts import diagnosis_facts

ARGUMENT_SPEC = dict(results=dict(type="dict", required=True), thresholds=dict(type="dict", default={}))


def with_fixes(decided, container_env=None):
    """The verdict with each cause's fix joined in from the fix catalogue (decide/ names only the fix id), adapted
    to the findings (e.g. Redis holding the only copy of the conversations) and to the container's env."""
    conditions = findings.conditions(decided.get("findings") or [])
    for cause in decided["causes"]:
        cause["fix"] = fixes.fix(cause["fix_id"], causes.BY_NAME[cause["cause"]].summary, conditions, container_env)
    named = [decided["primary"], *decided.get("also", [])]
    by_name = {cause["cause"]: cause for cause in decided["causes"]}
    decided["plan"] = fixes.plan([(name, by_name[name]["fix"]) for name in named if name in by_name])
    return decided


def run(params, check_mode=False):
    facts, sources = diagnosis_facts.extract(params["results"])
    decided = verdict.decide(facts, sources, params["thresholds"])
    return dict(changed=False, verdict=with_fixes(decided, facts.get("container_env")), facts=facts,
                sources=sources)


def main():
    module_run.main(ARGUMENT_SPEC, run)


if __name__ == "__main__":
    main()

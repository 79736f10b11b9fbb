# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The registry of the verdict's causes: one module per cause, in the order that breaks ties.

A cause module declares (see too_many_sessions.py for one written out):
- NAME: the cause's name in the verdict, the roles, the AWX surveys and docs/diagnosis.md;
- SUMMARY: one sentence for people, the verdict's headline when the cause comes first;
- FIX: the id of its fix in change/fixes.py (the playbooks and variables it leads to);
- NEEDS: the sources the cause is judged on; coverage is the share of them that answered;
- FACTS: the facts its score reads (names of diagnosis_facts.FACTS); EVIDENCE: the facts shown with it;
- THRESHOLDS: {name: (default, minimum, maximum, why)}, the thresholds it owns; SHARED_THRESHOLDS (optional):
  names owned by another cause that it reads too;
- score(facts, t): its own evidence in [0, 1] or None (no usable evidence); or a dict with that under "score"
  plus named signals other causes can be explained by. `facts` holds only its FACTS, `t` only its thresholds;
- why(facts, t) (optional): the evidence in words, each number with what it was compared to;
- EXPLAINED_BY: {cause: strength(facts, t, signals of that cause)}: how much of its score another cause
  explains, in [0, 1] or None (unknown). The strongest explanation comes off: score × (1 − strongest). An
  explaining cause comes earlier in the registry.
"""

from __future__ import annotations

from ansible_collections.bruno.ops.plugins.module_utils.decide.causes import (
    connection_pool_exhaustion,
    large_contexts,
    memory_leak,
    too_many_sessions,
    undersized_limit,
)


class Cause:
    """One cause module's declarations, read once."""

    def __init__(self, module):
        self.name = module.NAME
        self.summary = module.SUMMARY
        self.fix = module.FIX
        self.needs = tuple(module.NEEDS)
        self.facts = tuple(module.FACTS)
        self.evidence = tuple(module.EVIDENCE)
        self.thresholds = dict(module.THRESHOLDS)
        self.shared_thresholds = tuple(getattr(module, "SHARED_THRESHOLDS", ()))
        self.explained_by = dict(getattr(module, "EXPLAINED_BY", {}))
        self._score = module.score
        self._why = getattr(module, "why", None)

    def own_facts(self, facts):
        return {name: facts.get(name) for name in self.facts}

    def own_thresholds(self, t):
        return {name: t[name] for name in tuple(self.thresholds) + self.shared_thresholds}

    def signals(self, own_facts, own_t):
        """{"score": ..., other signals} from the cause's score, before any explanation."""
        result = self._score(own_facts, own_t)
        return dict(result) if isinstance(result, dict) else {"score": result}

    def why(self, facts, t):
        """The evidence in words (None when the module says none). `facts` and `t` are the whole sets."""
        return None if self._why is None else self._why(facts, t)

    def __repr__(self):
        return "Cause(%s)" % self.name


# The order decides ties between equal confidences, and an explaining cause comes before those it explains.
REGISTRY = tuple(Cause(module) for module in (
    too_many_sessions,
    connection_pool_exhaustion,
    memory_leak,
    large_contexts,
    undersized_limit,
))

NAMES = tuple(cause.name for cause in REGISTRY)
BY_NAME = {cause.name: cause for cause in REGISTRY}

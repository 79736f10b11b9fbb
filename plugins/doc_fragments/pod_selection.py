# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Which pods a module reads. Mirrors pod_selection_options() in plugins/module_utils/facts/pod_selection.py:
    # DOCUMENTATION is its `namespace`, LABEL_SELECTOR its `label_selector` (with label_selector=True).
    # A module whose pods come from a workload (memory_limits) documents the workload's namespace instead
    # (bruno.ops.workload); `container` stays with each module, because what an unset container means differs.
    DOCUMENTATION = r"""
options:
  namespace:
    description: Namespace of the pods.
    type: str
    required: true
"""

    # The selector of the pod modules (pod_memory_info, pod_log_scan, pod_memory_probe).
    LABEL_SELECTOR = r"""
options:
  label_selector:
    description: Label selector of the pods, for example C(app=agent-bruno). Empty selects every pod of O(namespace).
    type: str
    default: ""
"""

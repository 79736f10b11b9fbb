# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Mirrors workload_options() in plugins/module_utils/change/workload.py.
    DOCUMENTATION = r"""
options:
  namespace:
    description: Namespace of the workload.
    type: str
    required: true
  name:
    description: Name of the workload, for example C(agent-bruno).
    type: str
    required: true
  kind:
    description:
      - Kind of the workload. C(DeploymentConfig) is OpenShift's C(apps.openshift.io/v1), reached through the
        dynamic client of the C(openshift) package.
    type: str
    default: Deployment
    choices: [Deployment, DeploymentConfig]
notes:
  - Every change is a JSON patch that first tests the object's C(resourceVersion), so a change computed from a
    stale read fails with kind C(conflict) instead of overwriting someone else's edit; rerun to recompute it.
  - Check mode sends the same patch as a server-side dry run, so admission and validation answer as they would
    for the real change and nothing is stored.
"""

    # Mirrors wait_options() in plugins/module_utils/change/workload.py.
    WAIT = r"""
options:
  wait:
    description:
      - Wait until the rollout completes (the controller saw the change; every desired replica is updated, ready
        and available; no old replica is left), like C(kubectl rollout status).
    type: bool
    default: true
  wait_timeout:
    description: How many seconds to wait for the rollout (and again for a rollback).
    type: int
    default: 300
  rollback_on_failure:
    description:
      - When the rollout does not complete within O(wait_timeout), put the previous pod template back, wait for
        that rollout, and fail with kind C(rollout_failed) saying so.
    type: bool
    default: true
"""

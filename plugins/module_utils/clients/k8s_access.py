# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the collection asks of the Kubernetes API, verb by verb: the single list preflight checks,
deploy/rbac's Roles grant (tests compare them) and the docs print."""

from __future__ import annotations

DIAGNOSE = "diagnose"
REMEDIATE = "remediate"

# (purpose, verb, API group, resource, subresource, namespaced)
REQUIRED_ACCESS = (
    (DIAGNOSE, "list", "", "pods", None, True),
    (DIAGNOSE, "get", "", "pods", "log", True),
    (DIAGNOSE, "create", "", "pods", "exec", True),  # the read-only in-pod memory probe
    (DIAGNOSE, "list", "", "events", None, True),
    (DIAGNOSE, "get", "apps", "deployments", None, True),
    (DIAGNOSE, "list", "apps", "replicasets", None, True),
    (DIAGNOSE, "list", "autoscaling", "horizontalpodautoscalers", None, True),
    (DIAGNOSE, "list", "metrics.k8s.io", "pods", None, True),
    (REMEDIATE, "patch", "apps", "deployments", None, True),
    (REMEDIATE, "patch", "autoscaling", "horizontalpodautoscalers", None, True),
    (REMEDIATE, "list", "", "limitranges", None, True),
    (REMEDIATE, "list", "", "resourcequotas", None, True),
    (REMEDIATE, "get", "coordination.k8s.io", "leases", None, True),
    (REMEDIATE, "create", "coordination.k8s.io", "leases", None, True),
    (REMEDIATE, "update", "coordination.k8s.io", "leases", None, True),
    (REMEDIATE, "list", "", "nodes", None, False),  # the memory-limit guardrail: the largest node's allocatable
)


def resource_name(group, resource, subresource=None):
    """kubectl's spelling: deployments.apps, pods/log."""
    name = resource if not group else "%s.%s" % (resource, group)
    return name + ("/" + subresource if subresource else "")


def required_access(purposes):
    return [entry for entry in REQUIRED_ACCESS if entry[0] in purposes]

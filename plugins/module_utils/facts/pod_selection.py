# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which pods a module reads: the options (documented by the bruno.ops.pod_selection doc fragment) and the
one paginated list call that reads them."""

from __future__ import annotations


def pod_selection_options(label_selector=False):
    """`namespace` (fragment bruno.ops.pod_selection) and, with label_selector=True, `label_selector`
    (fragment bruno.ops.pod_selection.label_selector), ready to merge into an ARGUMENT_SPEC."""
    options = dict(namespace=dict(type="str", required=True))
    if label_selector:
        options["label_selector"] = dict(type="str", default="")
    return options


def list_pods(client, namespace, label_selector, page_size=500):
    """Every pod of `namespace` matching `label_selector`, page by page (a K8sClient does the calls)."""
    return client.list_all("list pods in %s" % namespace, client.core.list_namespaced_pod, namespace,
                           label_selector=label_selector, page_size=page_size)

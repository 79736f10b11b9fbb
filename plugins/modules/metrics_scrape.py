#!/usr/bin/python
# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: metrics_scrape
short_description: Scrape a Prometheus /metrics endpoint once and return the selected metrics as numbers
version_added: 0.1.0
description:
  - Fetches a Prometheus text exposition, such as the C(/metrics) of agent-bruno or of Prometheus itself, and
    parses it with the prometheus-client library's parser (OpenMetrics when the server answers in that format).
  - Returns the samples grouped by metric family, with their labels and values. Samples without labels are
    also returned by name in RV(unlabeled), for direct lookups such as C(scrape.unlabeled.bruno_active_sessions).
  - O(metrics) keeps only the named families. A name matches a family's name or the name of one of its
    samples, so C(bruno_chat_requests_total) and C(bruno_chat_request_duration_seconds_bucket) both work.
    Names that match nothing are listed in RV(missing), never silently dropped.
  - Only reads, so it runs the same in check mode and never reports a change.
author:
  - bruno.ops contributors (@bruno-ops)
extends_documentation_fragment:
  - bruno.ops.http_endpoint
  - bruno.ops.attributes
  - bruno.ops.attributes.info_module
options:
  endpoint:
    required: true
  path:
    description: Path of the metrics page under O(endpoint.url).
    type: str
    default: /metrics
  metrics:
    description:
      - Names of the metric families (or samples) to keep. Empty keeps every family, up to O(max_samples).
    type: list
    elements: str
    default: []
  ready_path:
    description:
      - Also GET this readiness path under O(endpoint.url), such as agent-bruno's C(/ready), which answers 200
        with status C(ready), or status C(degraded) when a store is down, and return it as RV(ready).
      - Unset reads nothing more. A readiness answer that fails is reported in RV(ready), never fails the task.
    type: str
  max_samples:
    description:
      - Most samples returned. Families past the cap are still listed with the samples that fit, and
        RV(truncated) is true.
    type: int
    default: 10000
requirements:
  - prometheus-client (Python library)
notes:
  - NaN and infinite values are returned as null, because JSON has no such numbers, and counted in RV(notes).
"""

EXAMPLES = r"""
- name: agent-bruno's requests, memory operations and sessions gauge, and its /ready
  bruno.ops.metrics_scrape:
    endpoint:
      url: http://agent-bruno-service.bruno:8080
    metrics:
      - bruno_requests_total
      - bruno_request_duration_seconds
      - bruno_memory_operations_total
      - bruno_active_sessions
      - process_resident_memory_bytes
    ready_path: /ready
  register: agent_metrics

- name: An app that exports pool gauges
  bruno.ops.metrics_scrape:
    endpoint:
      url: http://other-app:8080
    metrics:
      - bruno_redis_pool_connections
      - bruno_redis_pool_in_use
  register: agent_metrics

- name: Share of the Redis pool checked out
  ansible.builtin.debug:
    msg: "{{ (100 * agent_metrics.unlabeled.bruno_redis_pool_in_use
              / ([agent_metrics.unlabeled.bruno_redis_pool_connections, 1] | max)) | round(1) }} %"
  when: agent_metrics.missing | length == 0
"""

RETURN = r"""
url:
  description: The URL that was scraped, without credentials or query string.
  returned: always
  type: str
  sample: http://agent-bruno-service.bruno:8080/metrics
content_type:
  description: The Content-Type the server answered with.
  returned: always
  type: str
  sample: text/plain; version=0.0.4; charset=utf-8
latency_ms:
  description: How long the scrape took, in milliseconds.
  returned: always
  type: float
  sample: 4.2
families:
  description:
    - The kept metric families by name. The text parser names a counter family without its C(_total) suffix,
      which its samples keep.
  returned: always
  type: dict
  sample:
    bruno_chat_requests:
      type: counter
      help: POST /chat requests by HTTP status
      unit: null
      samples:
        - {"name": "bruno_chat_requests_total", "labels": {"status": "200"}, "value": 1042.0, "timestamp": null}
    bruno_active_sessions:
      type: gauge
      help: Session keys in Redis
      unit: null
      samples:
        - {"name": "bruno_active_sessions", "labels": {}, "value": 23817.0, "timestamp": null}
unlabeled:
  description: Every kept sample without labels, by sample name (C(values) would clash with a dict method in Jinja).
  returned: always
  type: dict
  sample: {"bruno_active_sessions": 23817.0, "process_resident_memory_bytes": 912261120.0}
missing:
  description: Names in O(metrics) that no family answered to.
  returned: always
  type: list
  elements: str
  sample: ["bruno_mongo_pool_in_use"]
samples_total:
  description: Samples in the kept families, before O(max_samples).
  returned: always
  type: int
  sample: 120
samples_kept:
  description: Samples returned.
  returned: always
  type: int
  sample: 120
truncated:
  description: Whether O(max_samples) left samples out.
  returned: always
  type: bool
  sample: false
ready:
  description:
    - The answer to O(ready_path), null without it. C(status) and C(degraded) are the JSON body's (null when the
      body has none), C(health) its C(health) object (agent-bruno's has C(redis), C(mongodb) and C(overall)),
      C(error) why it could not be read.
  returned: always
  type: dict
  sample: {"path": "/ready", "status_code": 200, "status": "degraded", "degraded": true,
           "health": {"redis": true, "mongodb": false, "overall": false}, "error": null}
notes:
  description: What was left out or changed and why.
  returned: always
  type: list
  elements: str
  sample: ["1 non-finite value (NaN or Inf) returned as null"]
"""

import json

from ansible_collections.bruno.ops.plugins.module_utils import errors, module_run
from ansible_collections.bruno.ops.plugins.module_utils.clients.http_client import (
    HttpClient,
    describe_address,
    http_option,
)
from ansible_collections.bruno.ops.plugins.module_utils.facts import metrics_text

ARGUMENT_SPEC = dict(
    endpoint=http_option(required=True),
    path=dict(type="str", default="/metrics"),
    metrics=dict(type="list", elements="str", default=[]),
    ready_path=dict(type="str"),
    max_samples=dict(type="int", default=10000),
)


def read_ready(client, path):
    """GET the readiness path: its status code and JSON status, or the error; never raises for the app's answer."""
    path = "/" + path.lstrip("/")
    ready = {"path": path, "status_code": None, "status": None, "degraded": None, "health": None, "error": None}
    try:
        status, _headers, payload, _elapsed = client.request(path, headers={"Accept": "application/json"},
                                                             action="read %s" % path)
    except errors.BrunoOpsError as exc:
        ready.update(status_code=exc.details.get("status"), error=exc.message)
        if exc.details.get("status") == 503:
            ready.update(status="not ready", degraded=True)
        return ready
    ready["status_code"] = status
    try:
        body = json.loads(payload.decode("utf-8", "replace"))
    except ValueError:
        ready["error"] = "the answer is not JSON"
        return ready
    if isinstance(body, dict):
        ready.update(status=body.get("status"), health=body.get("health"),
                     degraded=body.get("degraded", None if body.get("status") is None else body["status"] != "ready"))
    return ready


def run(params, check_mode=False):
    if params["max_samples"] < 1:
        raise errors.BrunoOpsError("max_samples must be at least 1", kind=errors.INVALID)
    metrics_text.require_prometheus_client()
    client = HttpClient(params["endpoint"])
    path = "/" + params["path"].lstrip("/")
    _status, headers, payload, elapsed = client.request(
        path, headers={"Accept": metrics_text.ACCEPT}, action="scrape %s" % path)
    content_type = next((value for key, value in headers.items() if key.lower() == "content-type"), "")
    parsed = metrics_text.parse(payload.decode("utf-8", "replace"), content_type, params["metrics"],
                                params["max_samples"])
    notes = []
    truncated = parsed["samples_kept"] < parsed["samples_total"]
    if truncated:
        notes.append("%d of %d samples left out by max_samples; name the metrics you need"
                     % (parsed["samples_total"] - parsed["samples_kept"], parsed["samples_total"]))
    if parsed["non_finite"]:
        notes.append("%d non-finite value(s) (NaN or Inf) returned as null" % parsed["non_finite"])
    if parsed["missing"]:
        notes.append("not exposed: %s" % ", ".join(parsed["missing"]))
    ready = read_ready(client, params["ready_path"]) if params["ready_path"] else None
    return dict(
        changed=False,
        ready=ready,
        url=describe_address(client.base_url + path),
        content_type=content_type,
        latency_ms=elapsed,
        families=parsed["families"],
        unlabeled=parsed["unlabeled"],
        missing=parsed["missing"],
        samples_total=parsed["samples_total"],
        samples_kept=parsed["samples_kept"],
        truncated=truncated,
        notes=notes,
    )


def main():
    module_run.main(ARGUMENT_SPEC, run)


if __name__ == "__main__":
    main()

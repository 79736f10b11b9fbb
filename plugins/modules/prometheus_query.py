#!/usr/bin/python
# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: prometheus_query
short_description: Run a PromQL query and summarize each series (max, p95, robust growth, time to a limit)
version_added: 0.1.0
description:
  - Runs one PromQL query against the Prometheus HTTP API, as a range query over O(start) to O(end) or as an
    instant query at O(end), and returns numbers per series rather than raw samples.
  - For every series it reports the sample count, first and last timestamps, last, min, max, mean and 95th
    percentile, the growth per hour as a Theil-Sen slope, and with O(limit_bytes) the projected time until
    the fitted line reaches the limit.
  - The Theil-Sen slope is the median of the slopes between all pairs of points. Spikes and scrape glitches
    barely move it, unlike a least-squares line. Series longer than 400 points are evenly subsampled for the
    slope, so the work per series stays bounded.
  - With O(correlate_with) a second range query is run over the same window, and each series gets its
    correlation with the series of the second query that has the same labels (the metric name aside), or
    else with the sum of all its series. Both Pearson's r (linear) and Spearman's rank correlation are
    returned. Spearman's is not thrown off by a few spikes.
  - Values that are not finite (NaN, +Inf) are left out of the figures and counted in RV(notes). Figures
    that cannot be computed, such as a slope from one sample, are null.
  - Only reads, so it runs the same in check mode and never reports a change.
author:
  - bruno.ops contributors (@bruno-ops)
extends_documentation_fragment:
  - bruno.ops.prometheus
  - bruno.ops.attributes
  - bruno.ops.attributes.info_module
options:
  prometheus:
    required: true
  query:
    description: The PromQL expression, for example C(container_memory_working_set_bytes{namespace="bruno"}).
    type: str
    required: true
  mode:
    description:
      - C(range) queries O(start) to O(end) every O(step) and summarizes the history of each series.
      - C(instant) evaluates the query once at O(end); the history figures (growth, projection) are then null.
    type: str
    choices: [range, instant]
    default: range
  start:
    description:
      - Start of a range query. C(now), a time relative to now such as C(-6h) or C(now-30m), an RFC 3339
        timestamp such as C(2026-11-29T06:00:00Z), or unix seconds.
    type: str
    default: -1h
  end:
    description: End of a range query, or the evaluation time of an instant query; same forms as O(start).
    type: str
    default: now
  step:
    description:
      - Resolution of a range query, a duration such as C(30s) or C(1m), or seconds.
      - When unset, a step giving about 720 points over the window is used (at least 15 seconds).
    type: str
  limit_bytes:
    description:
      - A limit the series should stay under, in the series' unit (bytes for memory), such as a container memory
        limit. Used for RV(series[].projected_seconds_to_limit).
    type: float
    aliases: [limit]
  correlate_with:
    description:
      - A second PromQL expression, run as a range query over the same window, to correlate every series with,
        for example C(sum(bruno_active_sessions)). Only in C(range) mode.
    type: str
  regress_on:
    description:
      - A PromQL expression of a load, such as the session count (C(sum(redis_db_keys{db="db0"}))), run as a range
        query over the same window. Each series gets RV(series[].regression), the least-squares line of its values
        on the load (paired like O(correlate_with)), compared with the line on the container's age. Only in
        C(range) mode.
    type: str
  return_points:
    description: Also return the points of each series, downsampled to at most O(max_points) for charts.
    type: bool
    default: false
  max_points:
    description: Most points returned per series when O(return_points=true).
    type: int
    default: 200
  max_series:
    description: Most series summarized; the rest are left out and counted in RV(notes).
    type: int
    default: 100
notes:
  - Projected time to the limit is measured from the fitted level at the last sample, not from the last raw
    value, so one spike does not make it zero. It is 0 when that level or the last value is already at the
    limit, and null when there is no limit or the series is not growing.
seealso:
  - name: Prometheus HTTP API
    description: The query and query_range endpoints this module calls.
    link: https://prometheus.io/docs/prometheus/latest/querying/api/
"""

EXAMPLES = r"""
- name: Memory of agent-bruno over the last 6 hours, against its 1Gi limit, and how it follows sessions
  bruno.ops.prometheus_query:
    prometheus:
      url: http://prometheus.monitoring:9090
    query: container_memory_working_set_bytes{namespace="bruno", pod=~"agent-bruno.*", container!=""}
    start: -6h
    step: 1m
    limit_bytes: 1073741824
    correlate_with: sum(bruno_active_sessions)
  register: memory

- name: Warn when a pod would hit the limit within a day
  ansible.builtin.debug:
    msg: "{{ item.labels.pod }} reaches the limit in {{ (item.projected_seconds_to_limit / 3600) | round(1) }} h"
  loop: "{{ memory.series | selectattr('projected_seconds_to_limit', 'number')
            | selectattr('projected_seconds_to_limit', 'lt', 86400) }}"

- name: Current session count
  bruno.ops.prometheus_query:
    prometheus:
      url: http://prometheus.monitoring:9090
    query: sum(bruno_active_sessions)
    mode: instant
  register: sessions
"""

RETURN = r"""
query:
  description: The query that was run.
  returned: always
  type: str
  sample: container_memory_working_set_bytes{namespace="bruno"}
mode:
  description: C(range) or C(instant).
  returned: always
  type: str
  sample: range
result_type:
  description: What Prometheus returned, C(matrix), C(vector) or C(scalar).
  returned: always
  type: str
  sample: matrix
window:
  description: The evaluated window in unix seconds; C(start) and C(step_seconds) are null for an instant query.
  returned: always
  type: dict
  sample: {"start": 1764374400.0, "end": 1764396000.0, "step_seconds": 60.0}
series:
  description: One summary per series, sorted by labels.
  returned: always
  type: list
  elements: dict
  contains:
    labels:
      description: The series' labels, with C(__name__) when the query keeps it.
      type: dict
      returned: always
      sample: {"__name__": "container_memory_working_set_bytes", "pod": "agent-bruno-7d9f8b6c5-x2x9q"}
    samples:
      description: Finite samples the figures are computed from.
      type: int
      returned: always
      sample: 360
    first_timestamp:
      description: Unix time of the first sample.
      type: float
      returned: always
      sample: 1764374400.0
    last_timestamp:
      description: Unix time of the last sample.
      type: float
      returned: always
      sample: 1764396000.0
    last:
      description: The last value.
      type: float
      returned: always
      sample: 912261120.0
    min:
      description: The smallest value.
      type: float
      returned: always
      sample: 524288000.0
    max:
      description: The largest value.
      type: float
      returned: always
      sample: 935329792.0
    mean:
      description: The mean value.
      type: float
      returned: always
      sample: 720000000.0
    p95:
      description: The 95th percentile, interpolated between closest ranks.
      type: float
      returned: always
      sample: 900000000.0
    growth_per_hour:
      description: Theil-Sen slope in the series' unit per hour; null with fewer than two samples.
      type: float
      returned: always
      sample: 20971520.0
    projected_seconds_to_limit:
      description:
        - Seconds until the fitted line reaches O(limit_bytes), 0 if already there; null without a limit or
          growth.
      type: float
      returned: always
      sample: 28800.0
    correlation:
      description:
        - Correlation with the O(correlate_with) query over the common timestamps (C(pairs)), null when it is
          not set. C(r) is Pearson's, C(spearman) the rank correlation; each is null with fewer than three
          pairs or a constant series. C(paired_with) is C(matching labels), C(the only series) or
          C(sum of N series).
      type: dict
      returned: always
      sample: {"r": 0.93, "spearman": 0.95, "pairs": 360, "paired_with": "the only series"}
    lifetimes:
      description:
        - Growth judged per container lifetime (the series cut where it drops as a restart does, or has a gap).
          C(persistent_growth_per_hour) is the median over lifetimes of the lower slope of their last two
          thirds (a warm-up or a single step leave it near 0, a leak does not); C(early_growth_per_hour) the median
          slope of their first thirds; C(restarts_seen) the drops found; C(judged) the lifetimes long enough to
          judge (15 minutes and 9 samples); C(longest_seconds) the longest of them.
      type: dict
      returned: always
      sample: {"restarts_seen": 1, "judged": 2, "persistent_growth_per_hour": 99614720.0,
               "early_growth_per_hour": 104857600.0, "longest_seconds": 14400.0}
    regression:
      description:
        - With O(regress_on), the least-squares line of the values on the load (C(slope), C(intercept), C(r2)),
          C(r2_age) of the line on the container's age over the same samples, C(pairs), the load's C(x_min),
          C(x_max) and C(x_last), and C(share) = slope × last load / last value (the part of the series the load
          accounts for now). Null without O(regress_on) or fewer than three pairs.
      type: dict
      returned: always
      sample: {"slope": 1560.0, "intercept": 470000000.0, "r2": 0.97, "r2_age": 0.96, "pairs": 360,
               "x_min": 40000, "x_max": 300000, "x_last": 300000, "share": 0.49}
    points:
      description: The samples as C([unix_time, value]) pairs, downsampled to at most O(max_points).
      type: list
      elements: list
      returned: when O(return_points=true)
      sample: [[1764374400.0, 524288000.0], [1764374460.0, 524500000.0]]
aggregate:
  description:
    - Figures over all series. C(correlation_r) is the Pearson r of largest magnitude, with its sign.
      C(history_seconds) is the time from the earliest to the latest sample. C(last_sum) is the sum of the
      last values.
    - The lifetime figures are medians over the series (a leak or a per-session cost is the code's and shows in
      every replica), C(persistent_growth_per_hour), C(early_growth_per_hour), C(regression_share),
      C(regression_slope), C(regression_r2), C(regression_r2_age); C(lifetime_seconds_max) is the longest judged
      lifetime, C(restarts_seen) the drops found in all series, C(regression_load_range) and
      C(regression_load_last) the load's range and last value (null without O(regress_on)).
  returned: always
  type: dict
  sample:
    series: 2
    samples: 720
    max: 935329792.0
    p95_max: 900000000.0
    last_sum: 1600000000.0
    growth_per_hour_max: 20971520.0
    projected_seconds_to_limit_min: 28800.0
    history_seconds: 21540.0
    correlation_r: 0.93
    persistent_growth_per_hour: 99614720.0
    early_growth_per_hour: 104857600.0
    lifetime_seconds_max: 21540.0
    restarts_seen: 0
    regression_share: 0.02
    regression_slope: 40.0
    regression_r2: 0.1
    regression_r2_age: 0.98
    regression_load_range: [1100, 1300]
    regression_load_last: 1200
prometheus_warnings:
  description: Warnings Prometheus attached to the answers (also shown as Ansible warnings).
  returned: always
  type: list
  elements: str
  sample: []
notes:
  description: What was left out and why, such as non-finite values or series beyond O(max_series).
  returned: always
  type: list
  elements: str
  sample: ["3 non-finite values (NaN or Inf) left out of the figures"]
"""

import time

from ansible_collections.bruno.ops.plugins.module_utils import errors, module_run
from ansible_collections.bruno.ops.plugins.module_utils.clients.http_client import PrometheusClient, http_option
from ansible_collections.bruno.ops.plugins.module_utils.facts import prometheus_series

ARGUMENT_SPEC = dict(
    prometheus=http_option(required=True),
    query=dict(type="str", required=True),
    mode=dict(type="str", choices=["range", "instant"], default="range"),
    start=dict(type="str", default="-1h"),
    end=dict(type="str", default="now"),
    step=dict(type="str"),
    limit_bytes=dict(type="float", aliases=["limit"]),
    correlate_with=dict(type="str"),
    regress_on=dict(type="str"),
    return_points=dict(type="bool", default=False),
    max_points=dict(type="int", default=200),
    max_series=dict(type="int", default=100),
)


def _invalid(message):
    return errors.BrunoOpsError(message, kind=errors.INVALID)


def run(params, check_mode=False, now=None):
    now = time.time() if now is None else now
    if params["max_points"] < 2 or params["max_series"] < 1:
        raise _invalid("max_points must be at least 2 and max_series at least 1")
    if params["limit_bytes"] is not None and params["limit_bytes"] <= 0:
        raise _invalid("limit_bytes must be a positive number of bytes (the memory limit), got %s; leave it unset "
                       "for no projection" % params["limit_bytes"])
    for option in ("correlate_with", "regress_on"):
        if params[option] and params["mode"] != "range":
            raise _invalid("%s needs mode=range: it is computed over a history" % option)
    try:
        if params["mode"] == "range":
            start, end, step = prometheus_series.range_window(params["start"], params["end"], params["step"], now)
        else:
            start, step = None, None
            end = prometheus_series.parse_time_spec(params["end"], now, "end")
    except ValueError as exc:
        raise _invalid(str(exc)) from None

    client = PrometheusClient(params["prometheus"])
    if params["mode"] == "range":
        data, warnings = client.query_range(params["query"], start, end, step)
    else:
        data, warnings = client.query(params["query"], end)
    other = _second_query(client, params["correlate_with"], (start, end, step), warnings)
    load = _second_query(client, params["regress_on"], (start, end, step), warnings)

    parsed = _parse(data, params["query"])
    notes = []
    if len(parsed) > params["max_series"]:
        notes.append("%d series returned, only the first %d (by labels) summarized; narrow the query"
                     % (len(parsed), params["max_series"]))
        parsed = sorted(parsed, key=lambda item: sorted(item[0].items()))[:params["max_series"]]
    seconds = (("correlate_with", "correlation", other), ("regress_on", "regression", load))
    notes.extend("%s returned no series: %s is null" % (option, figure)
                 for option, figure, series in seconds if series is not None and not series)
    summaries, dropped = prometheus_series.summarize_series(
        parsed, params["limit_bytes"], other, params["return_points"], params["max_points"], regress_on=load or None)
    if dropped:
        notes.append("%d non-finite values (NaN or Inf) left out of the figures" % dropped)
    if not parsed:
        notes.append("the query returned no series")
    return dict(
        changed=False,
        query=params["query"],
        mode=params["mode"],
        result_type=data.get("resultType"),
        window={"start": start, "end": end, "step_seconds": step},
        series=summaries,
        aggregate=prometheus_series.aggregate(summaries),
        prometheus_warnings=warnings,
        notes=notes,
        warnings=["Prometheus: %s" % warning for warning in warnings],
    )


def _second_query(client, query, window, warnings):
    """The parsed series of a second range query over the same window (correlate_with, regress_on), or None."""
    if not query:
        return None
    data, more = client.query_range(query, *window)
    warnings.extend(more)
    return _parse(data, query)


def _parse(data, query):
    try:
        return prometheus_series.parse_result(data)
    except ValueError as exc:
        raise _invalid("query %r: %s" % (query, exc)) from None


def main():
    module_run.main(ARGUMENT_SPEC, run)


if __name__ == "__main__":
    main()

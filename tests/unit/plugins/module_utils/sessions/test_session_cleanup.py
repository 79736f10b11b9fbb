"""The pure parts of session cleanup: policies, tallies, diffs."""

import pytest

from ansible_collections.bruno.ops.plugins.module_utils import errors
from ansible_collections.bruno.ops.plugins.module_utils.sessions.cleanup import (
    cleanup_diff,
    fork_state,
    idle_warnings,
    new_cleanup_counts,
    tally_batch,
    validate_policies,
)
from ansible_collections.bruno.ops.plugins.module_utils.sessions.scope import Samples


@pytest.mark.parametrize(("policies", "message"), [
    ({}, "no policy given"),
    ({"missing_ttl": None, "max_ttl": None, "max_idle": None}, "no policy given"),
    ({"missing_ttl": 0}, "policies.missing_ttl must be a positive number"),
    ({"max_ttl": -5}, "policies.max_ttl must be a positive number"),
    ({"max_idle": 0}, "policies.max_idle must be a positive number"),
    ({"missing_ttl": 7200, "max_ttl": 3600}, "longer than policies.max_ttl"),
])
def test_bad_policies(policies, message):
    with pytest.raises(errors.BrunoOpsError, match=message) as raised:
        validate_policies(policies)
    assert raised.value.kind == errors.INVALID


def test_policies_keep_only_those_set():
    assert validate_policies({"missing_ttl": 60, "max_ttl": None, "max_idle": 10}) == {"missing_ttl": 60,
                                                                                       "max_idle": 10}


def test_tally_counts_every_code_and_samples_are_bounded():
    counts, samples = new_cleanup_counts(), Samples(2)
    keys = [b"k%d" % i for i in range(9)]
    tally_batch(counts, samples, keys, [b"DDDSC.?-n", 512, [b"string"]])
    assert counts["scanned"] == 9 and counts["matched"] == 7
    assert (counts["deleted"], counts["ttl_set"], counts["ttl_capped"]) == (3, 1, 1)
    assert (counts["skipped"], counts["vanished"], counts["without_ttl"]) == (1, 1, 1)
    assert counts["skipped_types"] == {"string": 1}
    assert counts["bytes_freed"] == 512
    assert samples.get("deleted") == ["k0", "k1"]
    diff = cleanup_diff(counts, samples, {"max_idle": 1, "missing_ttl": 1, "max_ttl": 1})
    assert diff["before"]["sessions"] == 7 and diff["after"]["sessions"] == 4
    assert diff["before"]["without_ttl"] == 2 and diff["after"]["without_ttl"] == 1
    assert diff["after"]["ttl_longer_than_max_ttl"] == 0
    assert diff["before"]["deleted_keys"] == ["k0", "k1"]


def test_idle_sessions_kept_after_a_fork_are_counted_and_explained():
    """Issue 18 item 1: 'R' is an idle session kept because the last fork ended too recently."""
    counts, samples = new_cleanup_counts(), Samples(2)
    reply = [b"RRF.", 0, [], [0, 12, 40]]
    tally_batch(counts, samples, [b"a", b"b", b"c", b"d"], reply)
    assert (counts["deferred"], counts["deferred_after_fork"], counts["deleted"]) == (3, 2, 0)
    assert fork_state(reply) == (False, 12, 40)
    assert fork_state([b"", 0, []]) == (False, -2, None)
    warnings = idle_warnings(counts, {"max_idle": 3600},
                             {"forks": {"ended_seconds_ago": 12}, "uptime": 40})
    assert "Redis was saving" in warnings[0]
    assert "2 idle sessions were not deleted: the last fork ended 12 s ago" in warnings[1]
    assert "idle clocks started over" in warnings[2]
    unknown = idle_warnings(counts, {"max_idle": 60}, {"forks": {"ended_seconds_ago": -1}, "uptime": 100})
    assert "does not report when its last fork ended" in unknown[1] and len(unknown) == 2

"""The pure parts of session cleanup: policies, tallies, diffs."""

import pytest

from ansible_collections.bruno.ops.plugins.module_utils import errors
from ansible_collections.bruno.ops.plugins.module_utils.sessions.cleanup import (
    cleanup_diff,
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

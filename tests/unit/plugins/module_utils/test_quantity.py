import pytest

from ansible_collections.bruno.ops.plugins.module_utils.quantity import QuantityError, format_bytes, human, parse_bytes


@pytest.mark.parametrize(("text", "expected"), [
    ("1Gi", 1073741824), ("256Mi", 268435456), ("1.5Gi", 1610612736), ("750M", 750_000_000),
    ("1e3", 1000), ("128974848", 128974848), (1024, 1024), ("1k", 1000), ("100m", 1), ("0", 0),
])
def test_parse(text, expected):
    assert parse_bytes(text) == expected


@pytest.mark.parametrize("text", ["1Gb", "-5Mi", "", "Mi", "1 Gi", "1GiB", "abc", True])
def test_reject_with_a_clear_message(text):
    with pytest.raises(QuantityError, match="limit"):
        parse_bytes(text, what="limit")


@pytest.mark.parametrize(("value", "expected"), [
    (1073741824, "1Gi"), (1610612736, "1536Mi"), (268435456, "256Mi"), (1000, "1000"), (1500000, "1465Ki"), (0, "0"),
])
def test_format(value, expected):
    assert format_bytes(value) == expected
    assert parse_bytes(expected) >= value


def test_human():
    assert human(734003200) == "700.0Mi"
    assert human(None) == "n/a"

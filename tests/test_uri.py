from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rotscan.uri import canonical, is_within, parse


@pytest.mark.parametrize(
    ("given_text", "expected"),
    [
        ("/data/lake", "file:/data/lake"),
        ("/data/lake/", "file:/data/lake"),
        ("file:/data/lake", "file:/data/lake"),
        ("file:///data/lake", "file:/data/lake"),
        ("/data/./lake/../lake//t", "file:/data/lake/t"),
        ("/data/my%20table", "file:/data/my table"),
        ("s3://bucket/a/b/", "s3a://bucket/a/b"),
        ("s3n://bucket/a", "s3a://bucket/a"),
        ("S3A://bucket/a", "s3a://bucket/a"),
        ("hdfs://nn:8020/warehouse/t", "hdfs://nn:8020/warehouse/t"),
        ("s3a://bucket", "s3a://bucket/"),
    ],
)
def test_canonical_spellings(given_text: str, expected: str) -> None:
    assert canonical(given_text) == expected


def test_relative_paths_resolve_against_cwd() -> None:
    assert str(parse("lake/t", cwd="/data")) == "file:/data/lake/t"


def test_dotdot_cannot_escape_by_spelling() -> None:
    assert not is_within("/data/lake/../other", "/data/lake")
    assert is_within("/data/lake/a/../b", "/data/lake")
    assert not is_within("/data/lakehouse", "/data/lake")  # prefix of a name is not containment
    assert not is_within("s3a://other/lake/t", "s3a://bucket/lake")
    assert is_within("s3://bucket/lake/t", "s3a://bucket/lake")


@given(st.lists(st.sampled_from(["a", "b", ".", "..", "c%2Fd", "x y"]), max_size=8))
def test_canonical_is_idempotent(parts: list[str]) -> None:
    text = "/root/" + "/".join(parts)
    once = canonical(text)
    assert canonical(once) == once
    assert "/../" not in once and not once.endswith("/..")

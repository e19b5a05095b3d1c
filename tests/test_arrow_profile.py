"""The pyarrow profile path's pure parts (rotscan.spark.arrow_profile): which CSV bytes it declines,
how it parses, and that its signature is the JVM aggregation's, merged as the driver merges it.
(Equality with Spark itself is tests/spark/test_arrow_profile.py.)"""

from __future__ import annotations

import random

import numpy as np
import pytest

from rotscan.spark.arrow_profile import ArrowTask, decline_reason, parse, profile_files, signature_of
from rotscan.spark.profile import Profile, _signature


@pytest.mark.parametrize("data, why", [
    (b"\xef\xbb\xbfa,b\n1,2\n", "byte-order mark"),
    (b"a,b\n1,\x002\n", "NUL"),
    (b"a,b\n1,x\\y\n", "backslash"),
    (b"a,b\r\n1,2\r\n", "carriage returns"),
    ("a,b\n1,2\u2028\n".encode(), "line terminator"),
    (b"a,b\n1,K\xf6ln\n", "not UTF-8"),
    (b"\na,b\n1,2\n", "blank lines"),
    (b"a,b\n1,2\n   \n3,4\n", "blank lines"),
    (b"a,b\n1,2\n\t\n", "blank lines"),
    (b'a,b\n1,"x"y\n', "quote inside a value"),
    (b'a,b\n1,"say ""hi"""\n', "quote inside a value"),
    (b'a,b\n1,"open\n2,3\n', "spanning lines"),
    (b'a,b\n1,"two\nlines"\n', "spanning lines"),
])
def test_bytes_spark_could_read_differently_are_declined(data: bytes, why: str) -> None:
    reason = decline_reason(data)
    assert reason is not None and why in reason


@pytest.mark.parametrize("data", [
    b"a,b\n1,2\n", b'"","a","b"\n"1",2,"x,y"\n', b"a,b\n1,2", b"a,b\n\n1,2\n\n\n3,4\n", b'a,b\n"",\n,""\n',
    "name\nZürich\n😀\n".encode(), b"a,b\n  1,2  \n",
])
def test_plain_and_cleanly_quoted_csv_is_accepted(data: bytes) -> None:
    assert decline_reason(data) is None


def test_parse_reads_empty_and_quoted_empty_as_null_and_skips_the_header() -> None:
    table, why = parse(b'"","a","b"\n"",x,""\n,"",\n"q",,"r,s"\n\n', 3)
    assert why is None
    assert [table.column(i).to_pylist() for i in range(3)] == [[None, None, "q"], ["x", None, None],
                                                               [None, None, "r,s"]]


def test_ragged_rows_and_inner_quotes_are_declined_after_parsing() -> None:
    assert parse(b"a,b,c\n1,2\n", 3)[1] is not None
    assert parse(b"a,b\n1,2,3\n", 2)[1] is not None
    assert "quote" in (parse(b'a,b\n1,ab"\n', 2)[1] or "")


def _jvm_rows(h: np.ndarray, k: int, bits: int) -> list[dict[str, int]]:
    """What Spark's aggregation (profile._aggregate over profile._sample_key) returns for the row
    hashes ``h``: per key the min, count, checksum parts — written out here the slow way."""
    groups: dict[int, list[int]] = {}
    for v in h.tolist():
        u = v & (2**64 - 1)
        key = v if bits == 0 or (u >> (64 - bits)) == 0 else (v % k) - k
        groups.setdefault(key, []).append(v)
    return [{"key": key, "mn": min(vs), "n": len(vs), "lo": sum(v & 0xFFFFFFFF for v in vs),
             "hi": sum(v >> 32 for v in vs), "x": np.bitwise_xor.reduce(np.array(vs, np.int64)).item()}
            for key, vs in groups.items()]


@pytest.mark.parametrize("n, bits", [(0, 0), (1, 0), (50, 0), (3000, 0), (3000, 4), (20000, 8)])
def test_signature_equals_the_jvm_aggregation_merged_by_the_driver(n: int, bits: int) -> None:
    rng = random.Random(n * 31 + bits)
    h = np.array([rng.getrandbits(64) - 2**63 for _ in range(n)], np.int64)
    if n > 10:
        h[: n // 10] = h[n // 10: 2 * (n // 10)]  # duplicate rows
    assert signature_of(h, ("b", "a"), 64, bits) == _signature(_jvm_rows(h, 64, bits), ("b", "a"), 64, bits)


def test_a_constant_table_and_duplicate_names() -> None:
    task = ArrowTask(0, ("x",), ("k", "v", "empty"), 0, 64)
    out = profile_files([b"k,v,empty\nx,1,\nx,1,\nx,1,\n"], task)
    assert out.profile is not None
    p = Profile(**out.profile)
    assert p.rows == 3 and p.constant_columns == ("k", "v") and p.null_columns == ("empty",)
    assert p.constant_values == {"k": "x", "v": "1"}
    dup = profile_files([b"a,A\n1,2\n"], ArrowTask(1, ("x",), ("a", "A"), 0, 64))
    assert dup.profile is None and dup.declined == "duplicate column names"


def test_shares_balance_bytes_and_keep_every_task() -> None:
    from rotscan.spark.arrow_profile import shares

    tasks = [ArrowTask(i, ("x",), ("a",), 0, 64, bytes=b) for i, b in enumerate([900, 10, 10, 500, 400, 10, 0])]
    out = shares(tasks, 3)
    assert sorted(t.index for s in out for t in s) == list(range(7))
    loads = sorted(sum(t.bytes for t in s) for s in out)
    assert loads[-1] == 900 and loads[0] >= 400
    assert len(shares(tasks[:2], 8)) == 2

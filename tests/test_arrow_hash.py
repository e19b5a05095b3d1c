"""Spark's xxhash64 vectorised with numpy (rotscan.spark.arrow_hash): the reference XXH64
vectors and values computed by a real Spark JVM (tests/spark/test_bulk_profile.py checks the same
against a live JVM on generated text)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from rotscan.spark.arrow_hash import hash_bytes, hash_int, hash_long, text_column_hash
from rotscan.spark.canonical import salt


def xxh64(text: bytes, seed: int = 0) -> int:
    data = np.frombuffer(text, np.uint8)
    return int(hash_bytes(data, np.array([0]), np.array([len(text)]), np.uint64(seed))[0])


def test_reference_xxh64_vectors() -> None:
    # the xxHash reference implementation's values (empty input, short input, one 32-byte stripe and more)
    assert xxh64(b"") == 0xEF46DB3751D8E999
    assert xxh64(b"abc") == 0x44BC2CF5AD770999
    assert xxh64(b"Nobody inspects the spammish repetition") == 0xFBCEA83C8A378BF1


def test_many_strings_at_once_equal_one_by_one() -> None:
    texts = [b"", b"a", b"abcd", b"abcdefgh", b"x" * 31, b"y" * 32, b"z" * 33, "ü€😀".encode(), b"q" * 100]
    data = np.frombuffer(b"".join(texts), np.uint8)
    lengths = np.array([len(t) for t in texts])
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    together = hash_bytes(data, starts, lengths, np.uint64(42))
    assert [int(h) for h in together] == [xxh64(t, 42) for t in texts]


def test_values_spark_computes() -> None:
    # Spark 4.2: SELECT xxhash64(CAST(1 AS BIGINT)), xxhash64(1), xxhash64(true)
    assert int(hash_long(np.array([1]), np.uint64(42))[0]) == (-7001672635703045582) & (2**64 - 1)
    assert int(hash_int(np.array([1]), np.uint64(42))[0]) == (-6698625589789238999) & (2**64 - 1)
    # canonical.value_hash(col, "col", string, text_source=True) in a live JVM
    values = pa.array(["1", "1.00", "007", "true", None, "2025-01-02", "2025-02-30"])
    hashes, undecided = text_column_hash(values, salt("col"))
    signed = [int(h) - (1 << 64) if h >= 1 << 63 else int(h) for h in hashes]
    assert signed[:6] == [2386500414586799326, 2386500414586799326, 5802953682941580770,
                          -7764831870956086968, 7995474806435391197, 8833633425715014057]
    assert list(undecided) == [False] * 6 + [True]  # an impossible date: Spark decides, not Arrow

"""Canonical values: the same data hashes the same in CSV, JSON, Parquet and Delta."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from rotscan.spark.profile import profile

pytestmark = pytest.mark.spark


def checksum(spark, fmt: str, path: Path) -> str:  # type: ignore[no-untyped-def]
    sig = profile(spark, fmt, [str(path)]).signature
    assert sig is not None
    return sig.checksum


def test_same_values_across_types_and_formats(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    typed = spark.createDataFrame(
        [(1, Decimal("2.50"), 3.0, dt.datetime(2025, 1, 2, 3, 4, 5, 678000), dt.date(2025, 1, 2), True, None, "007"),
         (-4, Decimal("0.10"), -0.0, dt.datetime(2024, 12, 31, 23, 59, 59), dt.date(2024, 2, 29), False, "x", "a,b")],
        "n INT, d DECIMAL(10,2), f DOUBLE, ts TIMESTAMP, day DATE, ok BOOLEAN, note STRING, code STRING")
    typed.write.parquet(str(tmp_path / "parquet"))
    typed.write.format("delta").save(str(tmp_path / "delta"))
    typed.coalesce(1).write.option("header", True).csv(str(tmp_path / "csv"))
    typed.select(*reversed(typed.columns)).write.json(str(tmp_path / "json"))
    (tmp_path / "hand.csv").write_text(
        "CODE,note,ok,day,ts,f,d,n\n"  # other column order and case, hand-written number forms
        '007,,true,2025-01-02,2025-01-02 03:04:05.678,3,2.5,1.0\n'
        '"a,b",x,false,2024-02-29,2024-12-31T23:59:59Z,0,0.1,-4\n')
    reference = checksum(spark, "parquet", tmp_path / "parquet")
    assert checksum(spark, "delta", tmp_path / "delta") == reference
    assert checksum(spark, "csv", tmp_path / "csv") == reference
    assert checksum(spark, "json", tmp_path / "json") == reference
    assert checksum(spark, "csv", tmp_path / "hand.csv") == reference


def test_different_values_and_null_positions_differ(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    spark.createDataFrame([("7", None), (None, "7")], "a STRING, b STRING").write.parquet(str(tmp_path / "one"))
    spark.createDataFrame([(None, "7"), ("7", None)], "a STRING, b STRING").write.parquet(str(tmp_path / "same"))
    spark.createDataFrame([("7", None), ("7", None)], "a STRING, b STRING").write.parquet(str(tmp_path / "dup"))
    spark.createDataFrame([("007", None), (None, "7")], "a STRING, b STRING").write.parquet(str(tmp_path / "zeros"))
    one = checksum(spark, "parquet", tmp_path / "one")
    assert checksum(spark, "parquet", tmp_path / "same") == one  # row order does not matter
    assert checksum(spark, "parquet", tmp_path / "dup") != one  # which column is null does
    assert checksum(spark, "parquet", tmp_path / "zeros") != one  # "007" is text, not the number 7


def test_odd_column_names_and_pretty_printed_json(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    df = spark.createDataFrame([(1, "a"), (2, "b")], "`order.id` INT, `the name` STRING")
    df.write.parquet(str(tmp_path / "dotted"))
    (tmp_path / "doc.json").write_text('[\n  {"order.id": 1, "the name": "a"},\n  {"order.id": 2, "the name": "b"}\n]\n')
    parquet = profile(spark, "parquet", [str(tmp_path / "dotted")])
    doc = profile(spark, "json", [str(tmp_path / "doc.json")])
    assert doc.rows == 2 and doc.corrupt_records == 0
    assert parquet.signature is not None and doc.signature is not None
    assert parquet.signature.checksum == doc.signature.checksum


def test_deletion_vectors_do_not_inflate_row_counts(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from rotscan.crawl.delta_log import read_snapshot
    from rotscan.storage.local import LocalStorage
    from rotscan.uri import parse

    path = tmp_path / "dv"
    spark.range(0, 1000).coalesce(1).write.format("delta") \
        .option("delta.enableDeletionVectors", "true").save(str(path))
    spark.sql(f"DELETE FROM delta.`{path}` WHERE id < 100")
    snap = read_snapshot(LocalStorage(), parse(str(path)))
    assert snap.num_records == spark.read.format("delta").load(str(path)).count() == 900

"""Projection candidates hashed in the profile pass (issue #11 item 3, one decode per table): the
wider table's signature over a narrower one's columns computed in the same pass equals the one a
re-read computes, and a scan with it finds exactly what a scan re-reading the wider table finds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rotscan.config import load_config
from rotscan.findings_io import write_findings
from rotscan.runtime import Runtime
from rotscan.scan import run_scan
from rotscan.spark.profile import profile, projected_signature
from tests.spark.test_redundancy_e2e import build_copies_lake

pytestmark = pytest.mark.spark


def _write(spark: Any, root: Path) -> None:
    from pyspark.sql import functions as F

    wide = spark.range(0, 30000).select(
        F.col("id"), (F.col("id") % 97).alias("Qty"), F.concat(F.lit("n"), F.col("id") % 1000).alias("name"),
        F.expr("date_add(date'2025-01-01', cast(id % 200 as int))").alias("day"),
        F.when(F.col("id") % 7 == 0, None).otherwise(F.col("id") * 0.5).alias("price"))
    wide.write.parquet(str(root / "p"))
    wide.write.format("delta").save(str(root / "d"))
    wide.limit(3000).coalesce(1).write.option("header", True).csv(str(root / "c"))
    wide.limit(3000).coalesce(2).write.json(str(root / "j"))


@pytest.mark.parametrize("fmt,rel,rows", [("parquet", "p", 30000), ("delta", "d", 30000), ("csv", "c", 3000),
                                           ("json", "j", 3000)])
def test_in_pass_projected_signature_equals_the_re_read(spark: Any, tmp_path_factory: pytest.TempPathFactory,
                                                         fmt: str, rel: str, rows: int) -> None:
    root = tmp_path_factory.getbasetemp() / "projection_in_pass"
    if not root.exists():
        root.mkdir()
        _write(spark, root)
    path = str(root / rel)
    sets = (("id", "name"), ("day", "id", "price", "qty"), ("qty",), ("id", "nope"))
    got = profile(spark, fmt, [path], k=64, sample_target=512, rows_estimate=rows, projections=sets)
    # a set naming a column the table lacks is skipped, not guessed
    assert set(got.projected) == {("id", "name"), ("day", "id", "price", "qty"), ("qty",)}
    plain = profile(spark, fmt, [path], k=64, sample_target=512, rows_estimate=rows)
    assert got.signature == plain.signature and got.rows == plain.rows == rows
    for cols, sig in got.projected.items():
        again = projected_signature(spark, fmt, [path], None, cols, k=64, sample_target=512, rows_estimate=rows)
        # a text source's pass samples its projections finer than its own estimate would (the
        # estimate comes from bytes): brought to the re-read's scale, it is the re-read's signature
        assert sig.sample_bits == (max(0, again.sample_bits - 5) if fmt in ("csv", "json") else again.sample_bits)
        assert sig.coarsened(again.sample_bits) == again, cols
        assert sig.rows == rows and sig.columns == cols
    assert got.projected[("qty",)].distinct_estimate < 200  # 97 distinct values: really projected


def _scan(root: Path, out: Path, in_pass: int) -> tuple[dict[str, Any], list[str]]:
    cfg = load_config(overrides={"spark": {"master": "local[2]", "shuffle_partitions": 2},
                                 "redundancy": {"projections_in_pass": in_pass}})
    notes: list[str] = []
    result = run_scan([str(root)], Runtime(config=cfg, progress=notes.append))
    write_findings(result, out)
    return json.loads((out / "findings.json").read_text(encoding="utf-8")), notes


def test_a_scan_with_projections_in_the_pass_finds_exactly_what_re_reading_finds(
        spark: Any, tmp_path: Path) -> None:
    root = tmp_path / "lake"
    build_copies_lake(spark, root)
    before, notes_before = _scan(root, tmp_path / "off", 0)
    after, notes_after = _scan(root, tmp_path / "on", 8)
    key = lambda f: (f["uri"], f["kind"])  # noqa: E731
    strip = lambda f: {k: v for k, v in f.items() if k not in ("id",)}  # noqa: E731
    assert sorted(map(strip, before["findings"]), key=key) == sorted(map(strip, after["findings"]), key=key)
    assert any(f["kind"] == "projection" for f in after["findings"])
    assert any("0 from the profile pass" in n for n in notes_before), notes_before
    reused = [n for n in notes_after if "from the profile pass" in n]
    assert reused and not reused[0].endswith(" 0 from the profile pass"), reused


def test_a_json_table_hashes_the_projections_its_first_records_name(spark: Any, tmp_path: Path) -> None:
    """JSON columns are known before a read only from the keys of its first records (the inventory's
    guess): the projection a narrower Parquet table needs is hashed in the JSON table's pass, and the
    findings are those of a scan that re-reads it."""
    from pyspark.sql import functions as F

    root = tmp_path / "lake"
    wide = spark.range(0, 4000).select(
        F.col("id"), (F.col("id") % 89).alias("qty"), F.concat(F.lit("c"), F.col("id") % 700).alias("city"),
        (F.col("id") * 1.25).alias("price"))
    wide.coalesce(2).write.json(str(root / "raw" / "orders"))
    wide.select("id", "qty", "city").coalesce(1).write.parquet(str(root / "marts" / "orders_slim"))
    before, notes_before = _scan(root, tmp_path / "off", 0)
    after, notes_after = _scan(root, tmp_path / "on", 8)
    key = lambda f: (f["uri"], f["kind"])  # noqa: E731
    strip = lambda f: {k: v for k, v in f.items() if k not in ("id",)}  # noqa: E731
    assert sorted(map(strip, before["findings"]), key=key) == sorted(map(strip, after["findings"]), key=key)
    projection = [f for f in after["findings"] if f["kind"] == "projection"]
    assert [f["uri"].rsplit("/", 1)[-1] for f in projection] == ["orders_slim"], after["findings"]
    assert any("1 projection candidate(s), 0 from the profile pass" in n for n in notes_before), notes_before
    assert any("1 projection candidate(s), 1 from the profile pass" in n for n in notes_after), notes_after

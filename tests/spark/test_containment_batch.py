"""Exact containment checks of small tables share Spark jobs (issue #11, the 210-dataset lake's
pairwise checks): a batch answers exactly what the checks answer one by one, across formats, with
a table in several checks, an empty part and duplicate rows — and an unreadable table in a batch
fails only its own check."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from rotscan.crawl.inventory import InventoryEntry
from rotscan.errors import ReadError
from rotscan.models import Dataset
from rotscan.spark.profile import driver_containment, exact_containment, exact_containments
from rotscan.spark.verifier import SparkVerifier, on_driver

pytestmark = pytest.mark.spark

COLS = ("id", "name", "qty")


def _lake(spark: Any, root: Path) -> dict[str, tuple[str, list[str], str | None]]:
    from pyspark.sql import functions as F

    def rows(lo: int, hi: int) -> Any:
        return spark.range(lo, hi).select(F.col("id"), F.concat(F.lit("n"), F.col("id") % 777).alias("name"),
                                          (F.col("id") % 13).alias("qty"))

    rows(0, 10_000).write.parquet(str(root / "whole"))
    rows(5_000, 15_000).write.format("delta").save(str(root / "whole2"))
    rows(0, 3_000).coalesce(1).write.option("header", True).csv(str(root / "part_csv"))
    rows(0, 3_000).union(rows(20_000, 20_010)).write.parquet(str(root / "part_extra"))
    rows(0, 500).union(rows(0, 500)).write.format("delta").save(str(root / "part_dups"))
    rows(0, 0).write.parquet(str(root / "part_empty"))
    (root / "broken").mkdir()
    (root / "broken" / "part-0.parquet").write_bytes(b"PAR1 this is not a parquet file at all PAR1")
    out: dict[str, tuple[str, list[str], str | None]] = {}
    for name, fmt in (("whole", "parquet"), ("whole2", "delta"), ("part_extra", "parquet"),
                      ("part_dups", "delta"), ("part_empty", "parquet"), ("broken", "parquet")):
        path = str(root / name)
        out[name] = (fmt, [path], None)
    [csv] = [str(p) for p in (root / "part_csv").glob("*.csv")]
    out["part_csv"] = ("csv", [csv], None)
    return out


# (part, whole, columns) -> (distinct rows of part, missing from whole), known from how the lake was written
EXPECTED = {
    ("part_csv", "whole", COLS): (3_000, 0),
    ("part_csv", "whole2", COLS): (3_000, 3_000),          # ids 0..2999, whole2 holds 5000..14999
    ("part_extra", "whole", COLS): (3_010, 10),
    ("part_dups", "whole", COLS): (500, 0),                 # duplicate rows count once
    ("part_empty", "whole", COLS): (0, 0),
    ("part_extra", "whole", ("id", "qty")): (3_010, 10),    # a projection check over fewer columns
    ("part_dups", "whole2", ("name", "qty")): (500, 0),     # name/qty pairs repeat with period 10101
    ("part_csv", "part_empty", COLS): (3_000, 3_000),       # nothing in the whole
}


@pytest.fixture(scope="module")
def lake(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, list[str], str | None]]:
    return _lake(spark, tmp_path_factory.mktemp("containment_batch"))


def test_one_batch_answers_what_the_checks_answer_one_by_one(spark: Any, lake: dict[str, Any]) -> None:
    checks = [(lake[p], lake[w], cols) for p, w, cols in EXPECTED]
    batch = exact_containments(spark, checks)
    assert batch == list(EXPECTED.values())
    for (p, w, cols), expected in EXPECTED.items():
        assert exact_containment(spark, lake[p], lake[w], cols) == expected, (p, w, cols)


def test_counting_on_the_driver_answers_what_spark_answers(spark: Any, lake: dict[str, Any]) -> None:
    for (p, w, cols), expected in EXPECTED.items():
        assert driver_containment(spark, lake[p], lake[w], cols) == expected, (p, w, cols)
    with pytest.raises(ReadError, match="broken"):
        driver_containment(spark, lake["broken"], lake["whole"], COLS)


def _entry(name: str, src: tuple[str, list[str], str | None], size: int) -> InventoryEntry:
    ds = Dataset(uri=f"file:/lake/{name}", format=src[0], layout="part_files", files=1, bytes=size, rows=1000,
                 root="file:/lake", modified_max=datetime(2026, 1, 1, tzinfo=timezone.utc))
    return InventoryEntry(dataset=ds, read_format=src[0], read_paths=src[1], base_path=src[2])


def test_an_unreadable_table_fails_only_its_own_check(spark: Any, lake: dict[str, Any]) -> None:
    entries = {name: _entry(name, src, 50_000) for name, src in lake.items()}
    keys = list(EXPECTED) + [("broken", "whole", COLS)]
    checks = [(entries[p], entries[w], cols) for p, w, cols in keys]
    calls: list[int] = []

    def session() -> Any:
        calls.append(1)
        return spark

    got = SparkVerifier(session).exact_containments(checks)
    assert got[:-1] == list(EXPECTED.values())
    assert isinstance(got[-1], ReadError) and "broken" in str(got[-1])
    # the good checks of the failed batch were repeated one by one: one batch job, then each check
    assert len(calls) == 1 + len(keys)

    # a check too big to share a job is a batch of its own (counted on the driver: its rows are
    # known and few); its failure is its own error
    big = {name: _entry(name, src, 300 * 1024 * 1024) for name, src in lake.items()}
    assert on_driver(big["part_csv"], big["whole"])
    got = SparkVerifier(lambda: spark).exact_containments([(big["part_csv"], big["whole"], COLS),
                                                           (big["broken"], big["whole"], COLS)])
    assert got[0] == (3_000, 0) and isinstance(got[1], ReadError)

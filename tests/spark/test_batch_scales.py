"""Same-schema datasets read together beyond the sample target (issue #11, the 210-dataset lake's
per-dataset jobs): Parquet, ORC, Delta and CSV datasets of 1,000–60,000 rows, on several sample scales and wanting different
projections hashed in the pass, get
from a batched ``profile_many`` exactly the profiles each gets read alone — in fewer Spark jobs — and
a corrupt file in a batch fails only its own dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rotscan.errors import ReadError
from rotscan.redundancy.signature import sample_bits_for
from rotscan.spark.profile import ProfileJob, profile, profile_many

pytestmark = pytest.mark.spark

SIZES = (1_000, 3_000, 9_000, 11_000, 20_000, 26_000, 40_000, 60_000)  # sample scales 0 0 2 2 3 3 4 4 (target 4096)


def _jobs(spark: Any, root: Path) -> list[ProfileJob]:
    from pyspark.sql import functions as F

    jobs = []
    for n, rows in enumerate(SIZES):
        # column sets to hash in the pass: datasets of one batch want different ones; a set naming a
        # column the table lacks is skipped, as read alone
        sets = (("id", "qty"), ("qty", "tag"), ("id", "nope")) if n % 2 else (("id", "qty"),) if n % 3 else ()
        df = spark.range(n * 1_000_000, n * 1_000_000 + rows).select(
            F.col("id"), (F.col("id") % 17).alias("qty"), F.concat(F.lit("x"), F.col("id") % 101).alias("tag"))
        for fmt in ("parquet", "orc"):
            path = root / f"{fmt}_{n}"
            df.repartition(1 + n % 3).write.format(fmt).save(str(path))
            files = len([p for p in path.iterdir() if p.name.startswith("part-")])
            jobs.append(ProfileJob(fmt, [f"file:{path}"], None, rows, None, ("schema", fmt), files=files,
                                   projections=sets))
        path = root / f"delta_{n}"
        if n % 4 == 1:  # an overwritten table: its log holds removed files the snapshot must not read
            spark.range(0, 50).write.format("delta").save(str(path))
            df.write.format("delta").mode("overwrite").option("overwriteSchema", True).save(str(path))
        elif n % 4 == 2:  # partitioned: the partition column is read from the paths
            df.write.format("delta").partitionBy("qty").save(str(path))
        else:
            df.repartition(1 + n % 3).write.format("delta").save(str(path))
        jobs.append(ProfileJob("delta", [f"file:{path}"], None, rows, None, ("schema", "delta"), projections=sets))
        path = root / f"csv_{n}"
        df.coalesce(1).write.option("header", True).csv(str(path))
        [csv] = path.glob("*.csv")
        jobs.append(ProfileJob("csv", [f"file:{csv}"], None, rows, ["id", "qty", "tag"], ("id", "qty", "tag"),
                               bytes=csv.stat().st_size, projections=sets))
    return jobs


def _jobs_run(spark: Any) -> int:
    return len(spark.sparkContext.statusTracker().getJobIdsForGroup(None))


def test_batched_profiles_equal_the_single_ones_on_every_scale(spark: Any, tmp_path: Path) -> None:
    from rotscan.spark.bulk import BulkLimits

    jobs = _jobs(spark, tmp_path)
    assert len({sample_bits_for(r, 4096) for r in SIZES}) == 4

    def counted(group: str, run: Any) -> tuple[Any, int]:
        spark.sparkContext.setJobGroup(group, group)
        try:
            return run(), len(spark.sparkContext.statusTracker().getJobIdsForGroup(group))
        finally:
            spark.sparkContext.setJobGroup("", "")

    alone, alone_jobs = counted("alone", lambda: [
        profile(spark, j.fmt, j.paths, k=64, sample_target=4096, rows_estimate=j.rows_estimate, columns=j.columns,
                projections=j.projections) for j in jobs])
    # CSV through the same-header batches here, not the pyarrow or bulk paths
    batched, batched_jobs = counted("batched", lambda: profile_many(
        spark, jobs, k=64, sample_target=4096, arrow_max_bytes=0, bulk=BulkLimits(dataset_max_bytes=0)))
    assert batched == alone
    assert sum(1 for p in batched if p.projected) == 24  # type: ignore[union-attr]
    assert {tuple(p.projected) for p in batched} == {(), (("id", "qty"),), (("id", "qty"), ("qty", "tag"))}  # type: ignore[union-attr]
    assert [p.rows for p in batched] == [r for r in SIZES for _ in range(4)]  # type: ignore[union-attr]
    # 4 formats × 4 scales: one batch of two datasets each instead of 32 datasets read one by one
    assert batched_jobs * 3 <= alone_jobs * 2, (batched_jobs, alone_jobs)


def test_a_corrupt_file_in_a_batch_fails_only_its_dataset(spark: Any, tmp_path: Path) -> None:
    jobs = [j for j in _jobs(spark, tmp_path) if j.fmt == "parquet"]
    bad = Path(jobs[3].paths[0].removeprefix("file:"))
    victim = sorted(bad.glob("part-*"))[0]
    victim.write_bytes(b"PAR1" + b"\0" * 64 + b"PAR1")
    got = profile_many(spark, jobs, k=64, sample_target=4096)
    assert isinstance(got[3], ReadError)
    for i, j in enumerate(jobs):
        if i != 3:
            p = got[i]
            assert not isinstance(p, ReadError) and p.rows == SIZES[i]
            assert p == profile(spark, j.fmt, j.paths, k=64, sample_target=4096, rows_estimate=j.rows_estimate,
                                projections=j.projections)


def test_delta_tables_whose_read_schema_differs_are_read_alone(spark: Any, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # the batch key comes from the Delta log's schema; if Spark's read of a table disagrees with the
    # batch's, that table is read alone and the others are still batched
    from pyspark.sql import functions as F

    jobs = []
    for n in range(3):
        df = spark.range(0, 2000 + n).select(F.col("id"), (F.col("id") % 7).alias("qty"))
        if n == 1:
            df = df.withColumn("extra", F.lit("e"))
        df.write.format("delta").save(str(tmp_path / f"d{n}"))
        jobs.append(ProfileJob("delta", [f"file:{tmp_path / f'd{n}'}"], None, 2000 + n, None, ("same",)))
    import rotscan.spark.profile as module

    alone: list[str] = []

    def spy(spark: Any, fmt: str, paths: list[str], *args: Any, **kw: Any) -> Any:
        alone.append(paths[0])
        return profile(spark, fmt, paths, *args, **kw)

    monkeypatch.setattr(module, "profile", spy)
    got = profile_many(spark, jobs, k=64, sample_target=4096)
    monkeypatch.undo()
    assert alone == jobs[1].paths  # the other two in one batch
    for j, p in zip(jobs, got, strict=True):
        assert p == profile(spark, "delta", j.paths, k=64, sample_target=4096, rows_estimate=j.rows_estimate)
    assert [p.columns for p in got] == [("id", "qty"), ("id", "qty", "extra"), ("id", "qty")]  # type: ignore[union-attr]

"""Which datasets the bulk path takes and how it cuts batches (pure Python, no JVM)."""

from __future__ import annotations

from rotscan.spark.bulk import MAX_WIDTH, BulkLimits, batches, eligible, row_hash_sql
from rotscan.spark.profile import ProfileJob


def csv(width: int, size: int = 100, files: int = 1) -> ProfileJob:
    return ProfileJob("csv", [f"file:/lake/t{width}_{size}.csv"], None, size // 16,
                      [f"c{i}" for i in range(width)], None, files=files, bytes=size)


def test_eligible_datasets() -> None:
    limits = BulkLimits(dataset_max_bytes=1000)
    assert eligible(csv(3), limits)
    assert not eligible(csv(3, size=1001), limits)  # too big for a shared job
    assert not eligible(csv(MAX_WIDTH + 1), limits)  # wide tables keep their own job
    no_header = ProfileJob("csv", ["file:/lake/x.csv"], None, 10, None, None, bytes=10)
    assert not eligible(no_header, limits)  # Spark would need a job to read the header
    parquet = ProfileJob("parquet", ["file:/lake/x.parquet"], None, 10, None, None, bytes=10)
    assert not eligible(parquet, limits)
    partitioned = ProfileJob("csv", ["file:/lake/p/k=1/a.csv"], "file:/lake/p", 10, ["a"], None, bytes=10)
    assert not eligible(partitioned, limits)
    unknown_size = ProfileJob("csv", ["file:/lake/x.csv"], None, 10, ["a"], None)
    assert not eligible(unknown_size, limits)
    assert not eligible(csv(3), BulkLimits(dataset_max_bytes=0))  # bulk switched off


def test_batches_by_width_bucket_and_limits() -> None:
    jobs = [csv(2), csv(12), csv(3), csv(30), csv(5, size=600), csv(4, size=600), csv(1, files=3)]
    got = batches(jobs, list(range(len(jobs))), BulkLimits(batch_max_bytes=1000, batch_max_files=100))
    # narrow files together until 1,000 bytes; the 12- and 30-wide ones in their own buckets
    assert got == [[0, 2, 4], [5, 6], [1], [3]]
    assert batches(jobs, [0, 2, 6], BulkLimits(batch_max_files=4)) == [[0, 2], [6]]
    assert batches(jobs, [], BulkLimits()) == []


def test_row_hash_sql_covers_each_position_once() -> None:
    sql = row_hash_sql(3)
    assert [f"get(__salts, {j})" in sql for j in range(4)] == [True, True, True, False]
    assert sql.count("__w > ") == 3

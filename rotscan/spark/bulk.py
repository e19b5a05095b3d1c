"""Small CSV datasets profiled in bulk: one Spark job over many files with different headers.

The single-dataset path (``rotscan.spark.profile.profile``) reads a CSV with its header's names as
an all-string schema and hashes column ``i`` as ``xxhash64(salt(name_i), canonical(value))``. Here
the files of many datasets are read by one reader with a *positional* all-string schema
(``_c0`` … ``_c{N-1}``, ``N`` the widest header of the batch; ``header=true`` skips each file's
header line, exactly as the single path does). Each row is joined (broadcast) to its file's
dataset: the dataset's number, its width ``w``, its sample scale and its column salts as an array,
and position ``i`` is hashed as ``xxhash64(salts[i], canonical(_c{i}))`` for ``i < w`` —
``xxhash64`` of a bigint column equals ``xxhash64`` of the same bigint literal, so the row hashes
are the single path's, bit for bit. The same reader options, the same canonical expressions
(``rotscan.spark.canonical.value_hash``) and the same aggregation give the same ``Profile``.

A batch that fails is split in halves and retried, down to single datasets, so one bad file never
hides the others and costs ``O(log n)`` extra jobs, not ``n``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from rotscan.errors import ReadError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, DataFrameReader, SparkSession


class BulkJob(Protocol):
    """What the bulk path needs of a ``rotscan.spark.profile.BulkJob``."""

    @property
    def fmt(self) -> str: ...
    @property
    def paths(self) -> list[str]: ...
    @property
    def base_path(self) -> str | None: ...
    @property
    def rows_estimate(self) -> int | None: ...
    @property
    def columns(self) -> list[str] | None: ...
    @property
    def bytes(self) -> int | None: ...
    @property
    def file_count(self) -> int: ...

# widths are bucketed so that a batch of narrow files does not pay for the widest file's columns
WIDTH_BUCKETS = (8, 16, 32)
MAX_WIDTH = WIDTH_BUCKETS[-1]


@dataclass(frozen=True)
class BulkLimits:
    """Which datasets go in bulk and how big one batch (one Spark job) may get."""

    dataset_max_bytes: int = 64 << 20
    batch_max_bytes: int = 256 << 20
    batch_max_files: int = 4096


def eligible(job: BulkJob, limits: BulkLimits) -> bool:
    """A CSV dataset whose header the crawler read (so no job to read it again), plain files (no
    partition base path), not wider than :data:`MAX_WIDTH` and at most ``dataset_max_bytes``."""
    return (job.fmt == "csv" and job.base_path is None and bool(job.columns)
            and len(job.columns or ()) <= MAX_WIDTH and job.bytes is not None
            and job.bytes <= limits.dataset_max_bytes)


def _bucket(width: int) -> int:
    return next(b for b in WIDTH_BUCKETS if width <= b)


def batches(jobs: Sequence[BulkJob], members: list[int], limits: BulkLimits) -> list[list[int]]:
    """``members`` (indices into ``jobs``) grouped by width bucket and cut at the batch limits."""
    by_bucket: dict[int, list[int]] = {}
    for i in members:
        by_bucket.setdefault(_bucket(len(jobs[i].columns or ())), []).append(i)
    out: list[list[int]] = []
    for bucket in sorted(by_bucket):
        cur: list[int] = []
        size = files = 0
        for i in by_bucket[bucket]:
            b, f = jobs[i].bytes or 0, jobs[i].file_count
            if cur and (size + b > limits.batch_max_bytes or files + f > limits.batch_max_files):
                out.append(cur)
                cur, size, files = [], 0, 0
            cur.append(i)
            size += b
            files += f
        if cur:
            out.append(cur)
    return out


class Estimated(Protocol):
    @property
    def rows_estimate(self) -> int | None: ...


def bits_for(job: Estimated, sample_target: int) -> int:
    from rotscan.redundancy.signature import sample_bits_for

    # as the single path chooses the sample scale (``profile._prepare``)
    return sample_bits_for(job.rows_estimate, sample_target) if job.rows_estimate is not None else 10


def _owner(jobs: Sequence[BulkJob], members: list[int], files: list[str]) -> dict[str, int]:
    """Spark's name of each input file → the dataset it belongs to (a job's path is a file, or the
    directory of its part-files)."""
    from rotscan.uri import canonical

    by_path = {canonical(p): i for i in members for p in jobs[i].paths}
    out: dict[str, int] = {}
    for f in files:
        c = canonical(f)
        i = by_path.get(c)
        if i is None:
            i = by_path.get(c.rsplit("/", 1)[0])
        if i is None:
            raise ReadError(f"Spark listed a file no dataset names: {f}")
        out[f] = i
    return out


def _raw(pattern: str) -> str:
    assert "'" not in pattern
    return f"r'{pattern}'"


def text_hash_sql(c: str, s: str) -> str:
    """``rotscan.spark.canonical.value_hash(c, …, StringType, text_source=True)`` with the salt
    expression ``s``, as Spark SQL text: one parse on the JVM instead of dozens of Py4J calls per
    column (``tests/spark/test_bulk_profile.py`` checks the two give the same hashes)."""
    from rotscan.spark.canonical import BOOL_TEXT, DATE_TEXT, NUMBER_TEXT, TIMESTAMP_TEXT

    return (f"CASE WHEN {c} RLIKE {_raw(NUMBER_TEXT)} THEN xxhash64({s}, CAST({c} AS DOUBLE) + CAST(0.0 AS DOUBLE))"
            f" WHEN {c} RLIKE {_raw(TIMESTAMP_TEXT)} AND try_to_timestamp({c}) IS NOT NULL"
            f" THEN xxhash64({s}, unix_millis(try_to_timestamp({c})))"
            f" WHEN {c} RLIKE {_raw(DATE_TEXT)} AND try_to_date({c}) IS NOT NULL"
            f" THEN xxhash64({s}, unix_date(try_to_date({c})))"
            f" WHEN {c} RLIKE {_raw(BOOL_TEXT)} THEN xxhash64({s}, lower({c}) = 'true')"
            f" ELSE xxhash64({s}, {c}) END")


def row_hash_sql(width: int) -> str:
    """The row hash over positions ``_c0`` … of a file ``__w`` wide with salts ``__salts``."""
    parts = [f"(CASE WHEN __w > {j} THEN {text_hash_sql(f'_c{j}', f'get(__salts, {j})')} ELSE CAST(0 AS BIGINT) END)"
             for j in range(width)]
    return " ^ ".join(parts)


def frame(spark: SparkSession, reader: DataFrameReader, jobs: Sequence[BulkJob], members: list[int], k: int,
          sample_target: int, aggregate: Callable[[DataFrame, str], DataFrame]) -> DataFrame:
    """The batch's aggregation: one row per (dataset number ``ds``, signature key). ``reader`` is the
    single path's CSV reader (same options); ``aggregate`` its signature aggregation by a key."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    from rotscan.spark.canonical import canonical_name, salt

    width = max(len(jobs[i].columns or ()) for i in members)
    schema = T.StructType([T.StructField(f"_c{j}", T.StringType()) for j in range(width)])
    data = reader.schema(schema).load([p for i in members for p in jobs[i].paths])
    owner = _owner(jobs, members, data.inputFiles())
    lookup = spark.createDataFrame(
        [(f, i, len(jobs[i].columns or ()), bits_for(jobs[i], sample_target),
          [salt(canonical_name(c)) for c in jobs[i].columns or ()]) for f, i in owner.items()],
        "__f STRING, ds INT, __w INT, __bits INT, __salts ARRAY<BIGINT>")
    rows = data.withColumn("__f", F.input_file_name()).join(F.broadcast(lookup), "__f")
    h = F.expr(row_hash_sql(width))
    hh, bits = F.col("__h"), F.col("__bits")
    key = (F.when(bits == 0, hh)
           .when(F.expr("shiftrightunsigned(__h, 64 - __bits)") == 0, hh)
           .otherwise(F.pmod(hh, F.lit(k)) - F.lit(k)))
    hashed = rows.select("ds", "__bits", h.alias("__h")).select("ds", hh, key.alias("__key"))
    return aggregate(hashed, "ds")


def collect(df: DataFrame) -> dict[int, list[dict[str, Any]]]:
    table = df.toArrow()
    out: dict[int, list[dict[str, Any]]] = {}
    for r in table.to_pylist():
        out.setdefault(r["ds"], []).append(r)
    return out

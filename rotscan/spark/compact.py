"""Compaction in the JVM: rewrite a Parquet/ORC directory of small files into fewer files at a
staging location, with the row multiset checked equal; Delta ``OPTIMIZE`` and ``RESTORE``.

The multiset checksum is rotscan's order-independent one (the row hashes of
:mod:`rotscan.spark.profile`: count, sums of the hash halves and their XOR, merged by
:func:`rotscan.redundancy.signature.merge_checksum`), computed by one Spark SQL aggregation over
every column — partition columns included — of the original and of the rewritten files.
Partition values are read as strings (no type inference), so the rewritten directories carry the
very names the original ones had.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rotscan.uri import Uri, parse

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

_INFERENCE = "spark.sql.sources.partitionColumnTypeInference.enabled"
_USER_METADATA = "spark.databricks.delta.commitInfo.userMetadata"


class RewriteMismatch(Exception):
    """The rewritten files do not hold the same rows (or schema) as the originals."""


@dataclass(frozen=True)
class Rewritten:
    rows: int
    checksum: str
    input_files: tuple[str, ...]  # the files Spark read (URIs)
    schema: tuple[tuple[str, str], ...]


@contextmanager
def _conf(spark: SparkSession, key: str, value: str) -> Iterator[None]:
    before = spark.conf.get(key, None)
    spark.conf.set(key, value)
    try:
        yield
    finally:
        if before is None:
            spark.conf.unset(key)
        else:
            spark.conf.set(key, before)


def _location(uri: Uri) -> str:
    return uri.path if uri.scheme == "file" else str(uri)


def _read(spark: SparkSession, fmt: str, where: Uri, merge: bool = False) -> DataFrame:
    reader = spark.read.format(fmt).option("basePath", _location(where))
    if merge:
        reader = reader.option("mergeSchema", "true")
    return reader.load(_location(where))


def multiset(df: DataFrame) -> tuple[int, str]:
    """(rows, order-independent checksum of the row multiset) over every column of ``df``."""
    from pyspark.sql import functions as F

    from rotscan.redundancy.signature import merge_checksum
    from rotscan.spark.profile import _row_hash, wide_plan

    h, _ = _row_hash(df, [f.name for f in df.schema.fields], False)
    hh = F.col("__h")
    with wide_plan(df.sparkSession, len(df.schema.fields)):
        row = (df.select(h.alias("__h"))
               .agg(F.count(F.lit(1)).alias("n"), F.sum(hh.bitwiseAND(F.lit(0xFFFFFFFF))).alias("lo"),
                    F.sum(F.shiftright(hh, 32)).alias("hi"), F.bit_xor(hh).alias("x")).collect()[0])
    n = int(row["n"])
    return n, merge_checksum(n, int(row["lo"] or 0), int(row["hi"] or 0), int(row["x"] or 0))


def _schema(df: DataFrame) -> tuple[tuple[str, str], ...]:
    return tuple((f.name, f.dataType.simpleString()) for f in df.schema.fields)


def rewrite(spark: SparkSession, fmt: str, source: Uri, staging: Uri, partition_columns: tuple[str, ...],
            total_bytes: int, target_file_bytes: int) -> Rewritten:
    """Write the rows of ``source`` (a Parquet/ORC directory, Hive-partitioned by
    ``partition_columns`` or not) into ``staging`` as files of about ``target_file_bytes``, then
    read them back and check they hold the same schema and the same row multiset. Raises
    :class:`RewriteMismatch` when they do not (the staging files are the caller's to remove)."""
    from pyspark.sql import functions as F

    from rotscan.spark.errors import java_errors

    with java_errors(f"compacting {source}"), _conf(spark, _INFERENCE, "false"):
        df = _read(spark, fmt, source)
        merged = _read(spark, fmt, source, merge=True)
        if _schema(df) != _schema(merged):
            raise RewriteMismatch("its files do not share one schema (a rewrite would drop the columns some "
                                  "files have); not compacted")
        found = {c for c, _ in _schema(df)}
        if not set(partition_columns) <= found:
            raise RewriteMismatch(f"Spark does not see the partition columns {', '.join(partition_columns)}")
        inputs = tuple(sorted(str(parse(f)) for f in df.inputFiles()))
        rows, checksum = multiset(df)
        files = max(1, math.ceil(total_bytes / target_file_bytes))
        per_file = max(1, math.ceil(rows * target_file_bytes / total_bytes)) if total_bytes else max(rows, 1)
        if partition_columns:
            out = df.repartition(*[F.col(f"`{c}`") for c in partition_columns])
        else:
            out = df.repartition(files)
        writer = out.write.format(fmt).mode("errorifexists").option("maxRecordsPerFile", per_file)
        if partition_columns:
            writer = writer.partitionBy(*partition_columns)
        writer.save(_location(staging))
        back = _read(spark, fmt, staging)
        if _schema(back) != _schema(df):
            raise RewriteMismatch(f"the rewritten files have another schema ({_schema(back)} vs {_schema(df)})")
        rows_back, checksum_back = multiset(back.select(*[F.col(f"`{c}`") for c, _ in _schema(df)]))
    if (rows_back, checksum_back) != (rows, checksum):
        raise RewriteMismatch(f"the rewritten files hold another row multiset ({rows_back:,} rows, checksum "
                              f"{checksum_back}; the originals {rows:,} rows, checksum {checksum})")
    return Rewritten(rows, checksum, inputs, _schema(df))


def _table(table: Uri) -> str:
    return "delta.`" + _location(table).replace("`", "``") + "`"


def optimize(spark: SparkSession, table: Uri, tag: str) -> dict[str, Any]:
    """``OPTIMIZE`` a Delta table (bin-packing its small files); the commit carries ``tag`` as its
    ``userMetadata`` so a resumed run can tell its own commit. Returns Delta's metrics."""
    from rotscan.spark.errors import java_errors

    with java_errors(f"OPTIMIZE {table}"), _conf(spark, _USER_METADATA, tag):
        rows = spark.sql(f"OPTIMIZE {_table(table)}").collect()
    metrics = rows[0]["metrics"].asDict(recursive=True) if rows else {}
    return {k: metrics.get(k) for k in ("numFilesAdded", "numFilesRemoved", "totalConsideredFiles")}


def restore_version(spark: SparkSession, table: Uri, version: int, tag: str) -> None:
    """``RESTORE TABLE … TO VERSION AS OF version`` (the commit carries ``tag``)."""
    from rotscan.spark.errors import java_errors

    with java_errors(f"RESTORE {table} TO VERSION {version}"), _conf(spark, _USER_METADATA, tag):
        spark.sql(f"RESTORE TABLE {_table(table)} TO VERSION AS OF {int(version)}").collect()

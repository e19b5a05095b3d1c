"""The Spark profile pass: one aggregation per dataset, run in the JVM (Spark SQL expressions, no
Python UDF), giving the exact row count and which columns hold a single value or only nulls.

Per column the pass keeps ``count(c)`` and ``min``/``max`` of ``xxhash64(c)`` over non-null values:
a column is constant when its non-null values all hash alike (min == max), null when count is 0.
One pass over the data, whatever the number of columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rotscan.errors import ReadError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

CORRUPT_COLUMN = "_corrupt_record"


@dataclass(frozen=True)
class Profile:
    rows: int
    columns: tuple[str, ...]
    constant_columns: tuple[str, ...]
    null_columns: tuple[str, ...]
    corrupt_records: int = 0
    schema: tuple[tuple[str, str], ...] = ()


def _reader(spark: SparkSession, fmt: str, base_path: str | None) -> Any:
    reader = spark.read.format(fmt)
    if fmt == "csv":
        # Header row, every value read as a string: no inference pass over the data, and the same
        # text always gives the same value whatever the other rows look like.
        reader = reader.option("header", "true").option("mode", "PERMISSIVE").option("inferSchema", "false")
    elif fmt == "json":
        reader = reader.option("mode", "PERMISSIVE").option("columnNameOfCorruptRecord", CORRUPT_COLUMN)
    if base_path is not None:
        reader = reader.option("basePath", base_path)
    return reader


def load(spark: SparkSession, fmt: str, paths: list[str], base_path: str | None = None) -> DataFrame:
    if fmt == "delta":
        return spark.read.format("delta").load(paths[0])
    return _reader(spark, fmt, base_path).load(paths)


def _hashable(df: DataFrame, name: str) -> Any:
    from pyspark.sql import functions as F
    from pyspark.sql.types import MapType, VariantType

    col = df[name]
    dtype = df.schema[name].dataType
    if isinstance(dtype, (MapType, VariantType)) or "map<" in dtype.simpleString():
        # Maps (and variants) cannot be hashed by Spark; their JSON text can.
        return F.xxhash64(F.to_json(F.struct(col)))
    return F.xxhash64(col)


def profile(spark: SparkSession, fmt: str, paths: list[str], base_path: str | None = None) -> Profile:
    """Read a dataset once and profile it. Raises :class:`ReadError` when Spark cannot read it."""
    from pyspark.sql import functions as F

    from rotscan.spark.errors import java_errors

    with java_errors(f"reading {paths[0] if len(paths) == 1 else f'{len(paths)} files'}"):
        df = load(spark, fmt, paths, base_path)
        names = [f.name for f in df.schema.fields]
        data_cols = [n for n in names if n != CORRUPT_COLUMN]
        if fmt == "json" and not data_cols:
            raise ReadError("no valid JSON records (every line is malformed)")
        aggs = [F.count(F.lit(1)).alias("__rows")]
        if CORRUPT_COLUMN in names:
            aggs.append(F.count(df[CORRUPT_COLUMN]).alias("__corrupt"))
        for i, name in enumerate(data_cols):
            h = F.when(df[name].isNotNull(), _hashable(df, name))
            aggs += [F.count(df[name]).alias(f"n{i}"), F.min(h).alias(f"lo{i}"), F.max(h).alias(f"hi{i}")]
        row = df.agg(*aggs).collect()[0]
    constant: list[str] = []
    null: list[str] = []
    for i, name in enumerate(data_cols):
        if row[f"n{i}"] == 0:
            null.append(name)
        elif row[f"lo{i}"] == row[f"hi{i}"]:
            constant.append(name)
    return Profile(
        rows=int(row["__rows"]),
        columns=tuple(data_cols),
        constant_columns=tuple(constant),
        null_columns=tuple(null),
        corrupt_records=int(row["__corrupt"]) if CORRUPT_COLUMN in names else 0,
        schema=tuple((f.name, f.dataType.simpleString()) for f in df.schema.fields if f.name != CORRUPT_COLUMN),
    )

"""The Spark profile pass: one aggregation per dataset, run in the JVM (Spark SQL expressions, no
Python UDF), giving the exact row count, which columns hold a single value or only nulls, and the
dataset's content signature (see ``rotscan.redundancy.signature``).

Every row is hashed once per column (the salted canonical value hash of ``rotscan.spark.canonical``)
and the row hash is the XOR of those. Grouped by the one-permutation MinHash bin, the pass keeps
per bin: min row hash, count, checksum parts and the coordinated sample; per column: the non-null
count and min/max of the column's value hash (min == max: constant; count 0: all null).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rotscan.errors import ReadError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from rotscan.redundancy.signature import Signature

CORRUPT_COLUMN = "_corrupt_record"


@dataclass(frozen=True)
class Profile:
    rows: int
    columns: tuple[str, ...]
    constant_columns: tuple[str, ...]
    null_columns: tuple[str, ...]
    corrupt_records: int = 0
    schema: tuple[tuple[str, str], ...] = ()
    signature: Signature | None = None


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


def _row_hash(df: DataFrame, names: list[str], text_source: bool) -> tuple[Any, list[Any]]:
    """The row hash (XOR of the salted canonical column hashes) and the per-column hashes."""
    from functools import reduce

    from rotscan.spark.canonical import value_hash

    values = [value_hash(df[n], n, df.schema[n].dataType, text_source) for n in names]
    return reduce(lambda a, b: a.bitwiseXOR(b), values), values


def signature_frame(df: DataFrame, names: list[str], *, text_source: bool, k: int, sample_bits: int,
                    constants: bool = True) -> DataFrame:
    """One aggregation pass: per OPH bin (``pmod(h, k)``) the min hash, count, checksum parts and the
    coordinated sample, plus per column the non-null count and min/max of its value hash."""
    from pyspark.sql import functions as F

    h, values = _row_hash(df, names, text_source)
    cols = [h.alias("__h")]
    if constants:
        cols += [v.alias(f"__v{i}") for i, v in enumerate(values)]
        cols += [df[n].isNotNull().alias(f"__nn{i}") for i, n in enumerate(names)]
    base = df.select(*cols)
    hh = F.col("__h")
    sampled = hh if sample_bits == 0 else F.when(F.shiftrightunsigned(hh, 64 - sample_bits) == 0, hh)
    aggs = [
        F.min(hh).alias("mn"), F.count(F.lit(1)).alias("n"),
        F.sum(hh.bitwiseAND(F.lit(0xFFFFFFFF))).alias("lo"), F.sum(F.shiftright(hh, 32)).alias("hi"),
        F.bit_xor(hh).alias("x"), F.collect_set(sampled).alias("smp"),
    ]
    if constants:
        for i in range(len(names)):
            nn = F.col(f"__nn{i}")
            v = F.when(nn, F.col(f"__v{i}"))
            aggs += [F.count(v).alias(f"c{i}"), F.min(v).alias(f"lo{i}"), F.max(v).alias(f"hi{i}")]
    return base.groupBy(F.pmod(hh, F.lit(k)).alias("bin")).agg(*aggs)


def _signature(rows_out: list[Any], columns: tuple[str, ...], k: int, bits: int) -> Signature:
    """Merge the per-bin rows of :func:`signature_frame` into one :class:`Signature`."""
    from rotscan.redundancy.signature import Signature, merge_checksum, unsigned

    mins: list[int | None] = [None] * k
    n = lo = hi = x = 0
    sample: set[int] = set()
    for r in rows_out:
        mins[r["bin"]] = unsigned(r["mn"])
        n += r["n"]
        lo += r["lo"]
        hi += r["hi"]
        x ^= r["x"]
        sample.update(unsigned(h) for h in r["smp"])
    return Signature(columns=tuple(sorted(columns)), rows=n, checksum=merge_checksum(n, lo, hi, x), k=k,
                     mins=tuple(mins), sample_bits=bits, sample=tuple(sorted(sample)))


def profile(spark: SparkSession, fmt: str, paths: list[str], base_path: str | None = None, *,
            k: int = 256, sample_target: int = 4096, rows_estimate: int | None = None) -> Profile:
    """Read a dataset once: exact row count, constant/null columns and its content signature.
    Raises :class:`ReadError` when Spark cannot read it."""
    from rotscan.redundancy.signature import sample_bits_for
    from rotscan.spark.canonical import canonical_name
    from rotscan.spark.errors import java_errors

    with java_errors(f"reading {paths[0] if len(paths) == 1 else f'{len(paths)} files'}"):
        df = load(spark, fmt, paths, base_path)
        names = [f.name for f in df.schema.fields]
        data_cols = [n for n in names if n != CORRUPT_COLUMN]
        if fmt == "json" and not data_cols:
            raise ReadError("no valid JSON records (every line is malformed)")
        if CORRUPT_COLUMN in names:
            # Spark refuses queries on raw JSON that touch only the corrupt-record column; cache first.
            df = df.cache()
            corrupt = df.filter(df[CORRUPT_COLUMN].isNotNull()).count()
            df = df.filter(df[CORRUPT_COLUMN].isNull()).drop(CORRUPT_COLUMN)
        else:
            corrupt = 0
        bits = sample_bits_for(rows_estimate, sample_target)
        rows_out = signature_frame(df, data_cols, text_source=fmt in ("csv", "json", "text"), k=k,
                                   sample_bits=bits).collect()
        if CORRUPT_COLUMN in names:
            df.unpersist()
    signature = _signature(rows_out, tuple(canonical_name(c) for c in data_cols), k, bits)
    constant: list[str] = []
    null: list[str] = []
    for i, name in enumerate(data_cols):
        count = sum(r[f"c{i}"] for r in rows_out)
        los = [r[f"lo{i}"] for r in rows_out if r[f"lo{i}"] is not None]
        his = [r[f"hi{i}"] for r in rows_out if r[f"hi{i}"] is not None]
        if count == 0:
            null.append(name)
        elif min(los) == max(his):
            constant.append(name)
    return Profile(
        rows=signature.rows + corrupt,
        columns=tuple(data_cols),
        constant_columns=tuple(constant),
        null_columns=tuple(null),
        corrupt_records=corrupt,
        schema=tuple((f.name, f.dataType.simpleString()) for f in df.schema.fields if f.name != CORRUPT_COLUMN),
        signature=signature,
    )


def projected_signature(spark: SparkSession, fmt: str, paths: list[str], base_path: str | None,
                        columns: tuple[str, ...], *, k: int, sample_target: int,
                        rows_estimate: int | None) -> Signature:
    """The signature of a dataset restricted to ``columns`` (canonical names), as a dataset holding
    only those columns would hash."""
    from rotscan.redundancy.signature import sample_bits_for
    from rotscan.spark.canonical import canonical_name
    from rotscan.spark.errors import java_errors

    with java_errors(f"reading {paths[0] if len(paths) == 1 else f'{len(paths)} files'}"):
        df = load(spark, fmt, paths, base_path)
        by_canonical = {canonical_name(f.name): f.name for f in df.schema.fields if f.name != CORRUPT_COLUMN}
        names = [by_canonical[c] for c in columns]
        if CORRUPT_COLUMN in df.columns:
            df = df.cache()
            df = df.filter(df[CORRUPT_COLUMN].isNull())
        bits = sample_bits_for(rows_estimate, sample_target)
        rows_out = signature_frame(df, names, text_source=fmt in ("csv", "json", "text"), k=k,
                                   sample_bits=bits, constants=False).collect()
    return _signature(rows_out, tuple(columns), k, bits)

"""The Spark profile pass: one aggregation per dataset, run in the JVM (Spark SQL expressions, no
Python UDF), giving the exact row count and the dataset's content signature (see
``rotscan.redundancy.signature``).

Every row gets one hash — the XOR over its columns of ``xxhash64(salt(name), canonical value)``
(``rotscan.spark.canonical``). Grouped by the one-permutation MinHash bin and the coordinated-sample
key, the pass keeps min, count and checksum parts. A table whose rows all hash alike has a single
distinct row — every column constant or null — which one extra ``limit(1)`` then names; no
per-column aggregates are needed on the hot path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
    # filled only when every row is the same (one distinct row hash); None otherwise
    constant_columns: tuple[str, ...] | None
    null_columns: tuple[str, ...] | None
    corrupt_records: int = 0
    schema: tuple[tuple[str, str], ...] = ()
    signature: Signature | None = None
    constant_values: dict[str, str] = field(default_factory=dict)


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


def signature_frame(df: DataFrame, names: list[str], *, text_source: bool, k: int, sample_bits: int) -> DataFrame:
    """One aggregation pass grouped by (OPH bin ``pmod(h, k)``, sampled hash or null): min hash, count
    and the checksum parts. The coordinated sample is a grouping key rather than a collect_set:
    every sampled row hash is a group of its own, so the pass stays a plain (Tungsten) hash
    aggregation — measured at the cost of a plain read that hashes every row once."""
    from pyspark.sql import functions as F

    h, _ = _row_hash(df, names, text_source)
    hh = F.col("__h")
    sampled = hh if sample_bits == 0 else F.when(F.shiftrightunsigned(hh, 64 - sample_bits) == 0, hh)
    return (df.select(h.alias("__h"))
            .groupBy(F.pmod(hh, F.lit(k)).alias("bin"), sampled.alias("smp"))
            .agg(F.min(hh).alias("mn"), F.count(F.lit(1)).alias("n"),
                 F.sum(hh.bitwiseAND(F.lit(0xFFFFFFFF))).alias("lo"), F.sum(F.shiftright(hh, 32)).alias("hi"),
                 F.bit_xor(hh).alias("x")))


def _signature(rows_out: list[Any], columns: tuple[str, ...], k: int, bits: int) -> Signature:
    """Merge the per-bin rows of :func:`signature_frame` into one :class:`Signature`."""
    from rotscan.redundancy.signature import Signature, merge_checksum, unsigned

    signed_mins: list[int | None] = [None] * k
    n = lo = hi = x = 0
    sample: set[int] = set()
    for r in rows_out:
        b, mn = r["bin"], r["mn"]
        cur = signed_mins[b]
        if cur is None or mn < cur:
            signed_mins[b] = mn
        n += r["n"]
        lo += r["lo"]
        hi += r["hi"]
        x ^= r["x"]
        if r["smp"] is not None:
            sample.add(unsigned(r["smp"]))
    mins = [None if m is None else unsigned(m) for m in signed_mins]
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
        bits = sample_bits_for(rows_estimate, sample_target) if rows_estimate is not None else 10
        rows_out = signature_frame(df, data_cols, text_source=fmt in ("csv", "json", "text"), k=k,
                                   sample_bits=bits).collect()
        signature = _signature(rows_out, tuple(canonical_name(c) for c in data_cols), k, bits)
        constant: tuple[str, ...] | None = None
        null: tuple[str, ...] | None = None
        values: dict[str, str] = {}
        if signature.rows > 0 and sum(1 for m in signature.mins if m is not None) == 1:
            # one distinct row hash: every row is the same, so every column is constant or null
            first = df.select(*data_cols).limit(1).collect()[0]
            null = tuple(c for c in data_cols if first[c] is None)
            constant = tuple(c for c in data_cols if first[c] is not None)
            values = {c: str(first[c])[:80] for c in constant}
        if CORRUPT_COLUMN in names:
            df.unpersist()
    return Profile(
        rows=signature.rows + corrupt,
        columns=tuple(data_cols),
        constant_columns=constant,
        null_columns=null,
        constant_values=values,
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
                                   sample_bits=bits).collect()
    return _signature(rows_out, tuple(columns), k, bits)


def row_hashes(spark: SparkSession, fmt: str, paths: list[str], base_path: str | None,
               columns: tuple[str, ...]) -> DataFrame:
    """A one-column frame ``h`` of the dataset's row hashes over ``columns`` (canonical names)."""
    from rotscan.spark.canonical import canonical_name

    df = load(spark, fmt, paths, base_path)
    if CORRUPT_COLUMN in df.columns:
        df = df.cache()
        df = df.filter(df[CORRUPT_COLUMN].isNull())
    by_canonical = {canonical_name(f.name): f.name for f in df.schema.fields if f.name != CORRUPT_COLUMN}
    h, _ = _row_hash(df, [by_canonical[c] for c in columns], fmt in ("csv", "json", "text"))
    return df.select(h.alias("h"))


def exact_containment(spark: SparkSession, part: tuple[str, list[str], str | None],
                      whole: tuple[str, list[str], str | None], columns: tuple[str, ...]) -> tuple[int, int]:
    """(distinct rows of ``part``, how many of them are missing from ``whole``), by an anti-join of
    row hashes over ``columns`` — the exact check behind a sampled subset/projection estimate.
    ``part``/``whole`` are (format, paths, base path)."""
    from rotscan.spark.errors import java_errors

    with java_errors("verifying containment"):
        a = row_hashes(spark, *part, columns).distinct()
        b = row_hashes(spark, *whole, columns).distinct()
        counts = a.join(b, "h", "left_anti").agg({"h": "count"}).collect()[0][0], a.count()
    missing, distinct = counts
    return int(distinct), int(missing)

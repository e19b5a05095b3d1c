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

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from rotscan.errors import ReadError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from rotscan.redundancy.signature import Signature
    from rotscan.spark.bulk import BulkLimits

CORRUPT_COLUMN = "_corrupt_record"
TEXT_SOURCES = frozenset({"csv", "json", "text"})
# A text dataset's row estimate comes from its size (16 bytes a row: generous, so the sample stays
# within its target) and real rows are mostly longer, so the scale the exact count later gives is
# finer. The projections hashed in the pass sample this many bits finer (32x): a check then finds the
# scale it needs in the pass instead of reading the wider table again (``verify._from_pass``).
PROJECTION_SLACK_BITS = 5


def projection_bits(bits: int, fmt: str) -> int:
    """The sample scale of the projections hashed in a pass whose own scale is ``bits``."""
    return max(0, bits - PROJECTION_SLACK_BITS) if fmt in TEXT_SOURCES else bits


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
    # signatures of the dataset restricted to some of its columns (canonical names, sorted), computed
    # in the same pass for projection candidates known from the schemas (ProfileJob.projections)
    projected: dict[tuple[str, ...], Signature] = field(default_factory=dict)


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


def load(spark: SparkSession, fmt: str, paths: list[str], base_path: str | None = None,
         columns: list[str] | None = None, *, multiline: bool = False) -> DataFrame:
    """A DataFrame over the dataset. For CSV, ``columns`` (the header's names, read by the crawler)
    spares Spark a job just to read the header line again."""
    if fmt == "delta":
        return spark.read.format("delta").load(paths[0])
    reader = _reader(spark, fmt, base_path)
    if multiline:
        reader = reader.option("multiLine", "true")
    if fmt == "csv" and columns:
        from pyspark.sql.types import StringType, StructField, StructType

        reader = reader.schema(StructType([StructField(c, StringType()) for c in columns]))
    return reader.load(paths)


def column(name: str) -> Any:
    """A reference to a top-level column by its exact name (dots, spaces and backticks included)."""
    from pyspark.sql import functions as F

    return F.col("`" + name.replace("`", "``") + "`")


# Above this many hashed columns the row hash is evaluated without whole-stage code generation (see
# :func:`wide_plan`). Measured (benchmarks/RESULTS.md section 11): a 100-column CSV fails to compile
# in one whole-stage method, 50 compile; without whole-stage codegen the hash costs the same at 50
# columns, so the switch comes well before the limit.
WIDE_COLUMNS = 32


def xor_all(values: list[Any]) -> Any:
    """The XOR of ``values`` (bigint columns) as a balanced tree: the same value as the left fold
    ``((v0 ^ v1) ^ v2) ^ …`` (XOR is associative and commutative), but ``log2(n)`` deep instead of
    ``n``, so 500 and more columns do not overflow the JVM's stack in Catalyst's recursive passes, and
    every subtree is small enough for Spark to put in a method of its own."""
    if not values:
        raise ValueError("a row hash needs at least one column")
    level = list(values)
    while len(level) > 1:
        level = [level[i].bitwiseXOR(level[i + 1]) if i + 1 < len(level) else level[i]
                 for i in range(0, len(level), 2)]
    return level[0]


@contextmanager
def wide_plan(spark: SparkSession, width: int) -> Iterator[None]:
    """Run the Spark actions inside with whole-stage code generation off when a row hash covers more
    than :data:`WIDE_COLUMNS` columns, and put the session's setting back after.

    Whole-stage codegen inlines a projection's whole expression into one Java method, never split,
    so a wide row hash overflows the JVM's 64 KB method limit ("Failed to compile the generated
    Java code"); Spark then logs the error and falls back to slower code. Chunking the XOR into
    several columns does not help: ``CollapseProject`` merges the projections back into one. Without
    whole-stage codegen each projection is compiled on its own and every subexpression of more than
    ``spark.sql.codegen.methodSplitThreshold`` characters goes into a method of its own, so the
    balanced tree of :func:`xor_all` compiles whatever the width. The setting is the session's, so
    this must wrap the action (``collect``, ``count``), not the building of the DataFrame."""
    if width <= WIDE_COLUMNS:
        yield
        return
    key = "spark.sql.codegen.wholeStage"
    before = spark.conf.get(key, None)
    spark.conf.set(key, "false")
    try:
        yield
    finally:
        if before is None:
            spark.conf.unset(key)
        else:
            spark.conf.set(key, before)


def _column_hash(name: str, dtype: Any, text_source: bool) -> Any:
    """The salted canonical hash of one column (``rotscan.spark.canonical.value_hash``). A text
    column of a text source — the CASE over the number/timestamp/date/boolean forms — is built from
    Spark SQL text (``rotscan.spark.bulk.text_hash_sql``, tested equal): one call to the JVM instead
    of about thirty, which for a 1,000-column CSV cuts building the row hash from ~15 s to ~1 s."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    from rotscan.spark.bulk import text_hash_sql
    from rotscan.spark.canonical import salt, value_hash

    if text_source and isinstance(dtype, T.StringType):
        return F.expr(text_hash_sql("`" + name.replace("`", "``") + "`", f"CAST({salt(name)} AS BIGINT)"))
    return value_hash(column(name), name, dtype, text_source)


def _row_hash(df: DataFrame, names: list[str], text_source: bool) -> tuple[Any, list[Any]]:
    """The row hash (XOR of the salted canonical column hashes, :func:`xor_all`) and the per-column
    hashes. With more than :data:`WIDE_COLUMNS` names, run the action under :func:`wide_plan`."""
    types = {f.name: f.dataType for f in df.schema.fields}
    values = [_column_hash(n, types[n], text_source) for n in names]
    return xor_all(values), values


def _hashed(df: DataFrame, names: list[str], *, text_source: bool, sample_bits: int, k: int,
            keep: tuple[str, ...] = ()) -> DataFrame:
    """``__h`` (the row hash) and ``__key``, the one grouping key of the signature aggregation: the
    hash itself when it is in the coordinated sample (then ``>= 0``: its top bits are zero), else its
    one-permutation bin as ``pmod(h, k) - k`` (in ``[-k, -1]``). With ``sample_bits == 0`` every
    row is sampled and the key is the hash; the driver derives the bin from it. ``keep``: columns
    carried along."""
    from pyspark.sql import functions as F

    h, _ = _row_hash(df, names, text_source)
    return (df.select(*keep, h.alias("__h"))
            .select(*keep, F.col("__h"), _sample_key(sample_bits, k).alias("__key")))


def _sample_key(sample_bits: int, k: int) -> Any:
    """The grouping key of a row hash ``__h`` (see :func:`_hashed`)."""
    from pyspark.sql import functions as F

    hh = F.col("__h")
    if sample_bits == 0:
        return hh
    return F.when(F.shiftrightunsigned(hh, 64 - sample_bits) == 0, hh).otherwise(F.pmod(hh, F.lit(k)) - F.lit(k))


def _aggregate(hashed: DataFrame, *keys: str) -> DataFrame:
    """Grouped by (keys…, ``__key``): min hash, count and checksum parts. The coordinated sample is
    part of the grouping key rather than a collect_set — every sampled row hash is a group of its
    own — so the pass stays a plain (Tungsten) hash aggregation over one bigint key."""
    from pyspark.sql import functions as F

    hh = F.col("__h")
    return (hashed.groupBy(*keys, F.col("__key").alias("key"))
            .agg(F.min(hh).alias("mn"), F.count(F.lit(1)).alias("n"),
                 F.sum(hh.bitwiseAND(F.lit(0xFFFFFFFF))).alias("lo"), F.sum(F.shiftright(hh, 32)).alias("hi"),
                 F.bit_xor(hh).alias("x")))


def signature_frame(df: DataFrame, names: list[str], *, text_source: bool, k: int, sample_bits: int) -> DataFrame:
    """The one aggregation pass of a dataset's signature (see :func:`_aggregate`)."""
    return _aggregate(_hashed(df, names, text_source=text_source, sample_bits=sample_bits, k=k))


def _rows(df: DataFrame) -> list[dict[str, Any]]:
    """The rows of a signature aggregation as dicts, through Arrow: a sampled table has a row per
    sampled hash (thousands per dataset, per column set), and Arrow brings them to the driver several
    times faster than ``collect()``'s Row objects."""
    return df.toArrow().to_pylist()  # type: ignore[no-any-return]


def _signature(rows_out: list[Any], columns: tuple[str, ...], k: int, bits: int) -> Signature:
    """Merge the per-bin rows of :func:`signature_frame` into one :class:`Signature`."""
    from rotscan.redundancy.signature import Signature, merge_checksum, unsigned

    signed_mins: list[int | None] = [None] * k
    n = lo = hi = x = 0
    sample: set[int] = set()
    for r in rows_out:
        key, mn = r["key"], r["mn"]
        sampled = bits == 0 or key >= 0
        b = key % k if sampled else key + k  # Python's % is Spark's pmod for k > 0
        cur = signed_mins[b]
        if cur is None or mn < cur:
            signed_mins[b] = mn
        n += r["n"]
        lo += r["lo"]
        hi += r["hi"]
        x ^= r["x"]
        if sampled:
            sample.add(unsigned(key))
    mins = [None if m is None else unsigned(m) for m in signed_mins]
    return Signature(columns=tuple(sorted(columns)), rows=n, checksum=merge_checksum(n, lo, hi, x), k=k,
                     mins=tuple(mins), sample_bits=bits, sample=tuple(sorted(sample)))


@dataclass(frozen=True)
class ProfileJob:
    """One dataset to profile: how to read it and how many rows to expect (for the sample scale)."""

    fmt: str
    paths: list[str]
    base_path: str | None = None
    rows_estimate: int | None = None
    columns: list[str] | None = None  # CSV header names
    # datasets with equal (format, batch_key) can be read by one reader: the CSV header, or the
    # Parquet/ORC schema; None: never batched
    batch_key: tuple[Any, ...] | None = None
    # how many files ``paths`` stand for (a path may be a directory of part-files); 0: len(paths)
    files: int = 0
    bytes: int | None = None  # the dataset's size on storage, when known (bulk batching)
    # column sets (canonical names, sorted) to hash the dataset over as well, in the same pass: the
    # projection candidates its schema makes it the wider table of (only for a dataset read alone)
    projections: tuple[tuple[str, ...], ...] = ()

    @property
    def file_count(self) -> int:
        return self.files or len(self.paths)


@dataclass
class _Prepared:
    job: ProfileJob
    df: DataFrame | None  # None: not loaded (batched); loaded on demand for the constant check
    data_cols: list[str]
    corrupt: int
    cached: bool
    bits: int
    spark: SparkSession | None = None
    schema: list[tuple[str, str]] | None = None  # batched: the batch's schema

    def frame(self) -> DataFrame:
        if self.df is None:
            assert self.spark is not None
            self.df = load(self.spark, self.job.fmt, self.job.paths, self.job.base_path, self.job.columns)
        return self.df


def _prepare(spark: SparkSession, job: ProfileJob, sample_target: int) -> _Prepared:
    from rotscan.redundancy.signature import sample_bits_for

    df = load(spark, job.fmt, job.paths, job.base_path, job.columns)
    names = [f.name for f in df.schema.fields]
    data_cols = [n for n in names if n != CORRUPT_COLUMN]
    if job.fmt == "json" and not data_cols:
        # not JSON lines: a pretty-printed document or array spanning lines
        df = load(spark, job.fmt, job.paths, job.base_path, multiline=True)
        names = [f.name for f in df.schema.fields]
        data_cols = [n for n in names if n != CORRUPT_COLUMN]
        if not data_cols:
            raise ReadError("no valid JSON records (neither JSON lines nor a JSON document)")
    corrupt = 0
    cached = CORRUPT_COLUMN in names
    if cached and job.fmt == "json":
        # Some lines did not parse: maybe a JSON document spread over lines ("[", "{...},", "]").
        # Prefer the multi-line reading when it parses cleanly into at least as many records.
        df = df.cache()
        valid = df.filter(column(CORRUPT_COLUMN).isNull()).count()
        whole = load(spark, job.fmt, job.paths, job.base_path, multiline=True)
        whole_names = [f.name for f in whole.schema.fields]
        if whole_names and CORRUPT_COLUMN not in whole_names and whole.count() >= valid:
            df.unpersist()
            df, names, cached = whole, whole_names, False
            data_cols = whole_names
    if cached:
        # Spark refuses queries on raw JSON that touch only the corrupt-record column; cache first.
        df = df.cache()
        corrupt = df.filter(column(CORRUPT_COLUMN).isNotNull()).count()
        df = df.filter(column(CORRUPT_COLUMN).isNull()).drop(CORRUPT_COLUMN)
    bits = sample_bits_for(job.rows_estimate, sample_target) if job.rows_estimate is not None else 10
    return _Prepared(job, df, data_cols, corrupt, cached, bits)


def _finish(p: _Prepared, rows_out: list[Any], k: int) -> Profile:
    from rotscan.spark.canonical import canonical_name

    signature = _signature(rows_out, tuple(canonical_name(c) for c in p.data_cols), k, p.bits)
    constant: tuple[str, ...] | None = None
    null: tuple[str, ...] | None = None
    values: dict[str, str] = {}
    if signature.rows > 0 and sum(1 for m in signature.mins if m is not None) == 1:
        # one distinct row hash: every row is the same, so every column is constant or null
        first = p.frame().select(*[column(c) for c in p.data_cols]).limit(1).collect()[0]
        null = tuple(c for c in p.data_cols if first[c] is None)
        constant = tuple(c for c in p.data_cols if first[c] is not None)
        values = {c: str(first[c])[:80] for c in constant}
    if p.cached and p.df is not None:
        p.df.unpersist()
    schema = p.schema if p.schema is not None else [(f.name, f.dataType.simpleString()) for f in p.frame().schema.fields]
    return Profile(
        rows=signature.rows + p.corrupt,
        columns=tuple(p.data_cols),
        constant_columns=constant,
        null_columns=null,
        constant_values=values,
        corrupt_records=p.corrupt,
        schema=tuple((n, t) for n, t in schema if n != CORRUPT_COLUMN),
        signature=signature,
    )


def _named(paths: list[str]) -> str:
    """The one path, or how many: for error messages."""
    return paths[0] if len(paths) == 1 else f"{len(paths)} files"


def _what(job: ProfileJob) -> str:
    return f"reading {_named(job.paths)}"


def _with_projections(df: DataFrame, names: list[str], wanted: list[tuple[str, ...]], *, text_source: bool,
                      sample_bits: int, k: int, keep: tuple[Any, ...] = (),
                      projection_bits: int | None = None) -> DataFrame:
    """:func:`_hashed` for the dataset and, in the same pass over its rows, for each column set of
    ``wanted``: every row becomes ``1 + len(wanted)`` rows tagged ``__t`` (0: all columns, i: the
    i-th set), hashed as a dataset of only those columns would be — the XOR of the same salted
    column hashes (:func:`xor_all`), so one decode gives every signature. The sets are sampled on
    ``projection_bits`` (default: ``sample_bits``). ``keep``: (name, column) pairs carried along (a
    batch's ``input_file_name()``)."""
    from pyspark.sql import functions as F

    from rotscan.spark.canonical import canonical_name

    h, values = _row_hash(df, names, text_source)
    at = {canonical_name(n): i for i, n in enumerate(names)}
    hashes = [h, *[xor_all([values[at[c]] for c in cols]) for cols in wanted]]
    tagged = F.explode(F.array(*[F.struct(F.lit(t).alias("t"), e.alias("h")) for t, e in enumerate(hashes)]))
    carried = [name for name, _ in keep]
    key = _sample_key(sample_bits, k)
    if projection_bits is not None and projection_bits != sample_bits:
        key = F.when(F.col("__t") == 0, key).otherwise(_sample_key(projection_bits, k))
    return (df.select(*[c.alias(name) for name, c in keep], tagged.alias("__e"))
            .select(*carried, F.col("__e.t").alias("__t"), F.col("__e.h").alias("__h"))
            .select(*carried, "__t", "__h", key.alias("__key")))


def profile(spark: SparkSession, fmt: str, paths: list[str], base_path: str | None = None, *,
            k: int = 256, sample_target: int = 4096, rows_estimate: int | None = None,
            columns: list[str] | None = None, projections: tuple[tuple[str, ...], ...] = ()) -> Profile:
    """Read a dataset once: exact row count, constant/null columns and its content signature, and
    its signatures over each column set of ``projections`` (canonical names; sets it does not
    strictly contain are skipped). Raises :class:`ReadError` when Spark cannot read it."""
    from rotscan.spark.errors import java_errors

    job = ProfileJob(fmt, paths, base_path, rows_estimate, columns)
    with java_errors(_what(job)):
        p = _prepare(spark, job, sample_target)
        assert p.df is not None  # a single job is always loaded
        wanted = _wanted(projections, p.data_cols)
        text_source = fmt in TEXT_SOURCES
        with wide_plan(spark, len(p.data_cols)):
            if not wanted:
                rows_out = _rows(_aggregate(_hashed(p.df, p.data_cols, text_source=text_source,
                                                    sample_bits=p.bits, k=k)))
            else:
                pbits = projection_bits(p.bits, fmt)
                tagged = _rows(_aggregate(_with_projections(p.df, p.data_cols, wanted, text_source=text_source,
                                                            sample_bits=p.bits, k=k, projection_bits=pbits), "__t"))
                rows_out = [r for r in tagged if r["__t"] == 0]
        profiled = _finish(p, rows_out, k)
        if not wanted:
            return profiled
        return replace(profiled, projected=_projected(tagged, wanted, wanted, k, pbits))


def _wanted(projections: tuple[tuple[str, ...], ...], data_cols: list[str]) -> list[tuple[str, ...]]:
    """The column sets of ``projections`` a table of ``data_cols`` strictly contains, sorted."""
    from rotscan.spark.canonical import canonical_name

    have = {canonical_name(c) for c in data_cols}
    return sorted({tuple(sorted(cols)) for cols in projections if set(cols) < have and cols})


def _projected(tagged: list[Any], tags: list[tuple[str, ...]], wanted: list[tuple[str, ...]], k: int,
               bits: int) -> dict[tuple[str, ...], Signature]:
    """The signatures over each column set of ``wanted`` from rows tagged ``__t`` (``i``: the i-th
    set of ``tags``, counted from 1) by :func:`_with_projections`."""
    by_tag: dict[int, list[Any]] = {t: [] for t in range(1, len(tags) + 1)}
    for r in tagged:
        if r["__t"]:
            by_tag[r["__t"]].append(r)
    return {cols: _signature(by_tag[tags.index(cols) + 1], cols, k, bits) for cols in wanted}


BATCHABLE = frozenset({"csv", "parquet", "orc", "delta"})


def profile_many(spark: SparkSession, jobs: list[ProfileJob], *, k: int = 256, sample_target: int = 4096,
                 batch_max_rows: int = 2_000_000, batch_max_files: int = 512, batch_dataset_max_rows: int = 250_000,
                 on_done: Any = None, bulk: BulkLimits | None = None, arrow_max_bytes: int = 16 << 20,
                 note: Any = None) -> list[Profile | ReadError]:
    """Profile many datasets; small ones are read together.

    CSV datasets of plain files up to ``arrow_max_bytes`` are first profiled on the executors with
    pyarrow (``rotscan.spark.arrow_profile``: the same profile, bit for bit; 0 turns it off); the
    files it declines, and CSV datasets up to ``bulk.dataset_max_bytes``, go in bulk whatever their
    headers (``rotscan.spark.bulk``: one job over many files; ``BulkLimits(dataset_max_bytes=0)``
    turns it off). ``note(text)`` hears how many went which way. Other datasets of at most
    ``batch_dataset_max_rows`` rows whose files can be read by one reader — CSV with the same header,
    Parquet/ORC with the same schema (``batch_key``) — and that share a sample scale (the one the
    single path would choose from the row estimate) are loaded as one DataFrame and aggregated by
    ``input_file_name()``; the driver merges each dataset's files. Delta tables of one schema are
    read as a union of their own reads (each with its snapshot), tagged by dataset. A folder of hundreds of small
    exports, or a warehouse of same-schema Parquet tables, then costs a few Spark jobs instead of
    hundreds; projections are hashed in the batch's pass as in a single one. A batch that fails is
    retried dataset by dataset, so one bad file never hides the others. Results are in the order of
    ``jobs``."""
    from pyspark.sql import functions as F

    from rotscan.spark.errors import java_errors
    from rotscan.uri import canonical

    results: list[Profile | ReadError | None] = [None] * len(jobs)

    def done(i: int) -> None:
        if on_done is not None:
            on_done(i)

    def alone(i: int) -> Profile | ReadError:
        job = jobs[i]
        try:
            return profile(spark, job.fmt, job.paths, job.base_path, k=k, sample_target=sample_target,
                           rows_estimate=job.rows_estimate, columns=job.columns, projections=job.projections)
        except ReadError as exc:
            return exc

    def single(i: int) -> None:
        results[i] = alone(i)
        done(i)

    def batch_frame(members: list[int]) -> tuple[DataFrame, list[int], Callable[[str], int]]:
        """The members' rows as one frame with ``__f``: the name of the file a row comes from (files
        of one reader), or the member's index (Delta tables: a union of their reads, each with its
        own snapshot); the members whose schema differs from the first's (read alone); and the
        member an ``__f`` value belongs to."""
        first = jobs[members[0]]
        if first.fmt != "delta":
            df = load(spark, first.fmt, [p for i in members for p in jobs[i].paths], None, first.columns)
            owner = {canonical(path): i for i in members for path in jobs[i].paths}

            def of_file(name: str) -> int:
                f = canonical(name)
                # a job's path is a file, or the directory of its part-files (a complete table)
                return owner[f] if f in owner else owner[f.rsplit("/", 1)[0]]

            return df.withColumn("__f", F.input_file_name()), [], of_file
        frames: list[DataFrame] = []
        apart: list[int] = []
        schema = None
        for i in members:
            one = load(spark, "delta", jobs[i].paths)
            if schema is None:
                schema = one.schema.simpleString()
            elif one.schema.simpleString() != schema:
                apart.append(i)  # the log's schema said equal, Spark's read says not
                continue
            frames.append(one.withColumn("__f", F.lit(str(i))))
        return functools.reduce(lambda a, b: a.union(b), frames), apart, int

    def run_batch(members: list[int], bits: int) -> None:
        if len(members) == 1:
            single(members[0])
            return
        first = jobs[members[0]]
        try:
            with java_errors(f"reading {len(members)} small datasets"):
                df, apart, member_of = batch_frame(members)
                members = [i for i in members if i not in apart]
                names = [f.name for f in df.schema.fields if f.name != "__f"]
                pairs = [(f.name, f.dataType.simpleString()) for f in df.schema.fields if f.name != "__f"]
                text_source = first.fmt in TEXT_SOURCES
                # the batch hashes every column set one of its datasets wants (same schema: the same sets)
                wanted = {i: _wanted(jobs[i].projections, names) for i in members}
                tags = sorted({cols for sets in wanted.values() for cols in sets})
                pbits = projection_bits(bits, first.fmt)
                if tags:
                    hashed = _with_projections(df, names, tags, text_source=text_source, sample_bits=bits, k=k,
                                               keep=(("__f", F.col("__f")),), projection_bits=pbits)
                else:
                    hashed = _hashed(df, names, text_source=text_source, sample_bits=bits, k=k, keep=("__f",))
                    hashed = hashed.select("__f", F.lit(0).alias("__t"), "__h", "__key")
                with wide_plan(spark, len(names)):
                    rows_out = _rows(_aggregate(hashed, "__f", "__t"))
        except ReadError:
            for i in members:  # isolate the dataset that failed
                single(i)
            return
        for i in apart:
            single(i)
        by_ds: dict[int, list[Any]] = {i: [] for i in members}
        for r in rows_out:
            by_ds[member_of(r["__f"])].append(r)
        for i in members:
            job = jobs[i]
            try:
                with java_errors(_what(job)):
                    prepared = _Prepared(job, None, names, 0, False, bits, spark, pairs)
                    profiled = _finish(prepared, [r for r in by_ds[i] if r["__t"] == 0], k)
                    results[i] = (replace(profiled, projected=_projected(by_ds[i], tags, wanted[i], k, pbits))
                                  if wanted[i] else profiled)
            except ReadError as exc:
                results[i] = exc
            done(i)

    from rotscan.spark.bulk import BulkLimits, bits_for, eligible

    limits = bulk or BulkLimits()
    arrowed: set[int] = set()
    # plain CSV files with a known header, of any width (the pyarrow path has no codegen limit)
    small_csv = [i for i, job in enumerate(jobs) if job.fmt == "csv" and job.base_path is None and job.columns
                 and job.bytes is not None and job.bytes <= arrow_max_bytes]
    if small_csv and arrow_max_bytes > 0:
        from rotscan.spark.arrow_profile import describe, profile_arrow

        got, declined = profile_arrow(spark, jobs, small_csv, k=k, sample_target=sample_target,
                                      max_bytes=arrow_max_bytes)
        for i, fields in got.items():
            results[i] = Profile(**fields)
            done(i)
        arrowed = set(got)
        if note is not None:
            note(describe(len(got), declined))
    in_bulk = [i for i, job in enumerate(jobs) if i not in arrowed and eligible(job, limits)]
    if in_bulk:
        for i, r in _profile_bulk(spark, jobs, in_bulk, k=k, sample_target=sample_target, limits=limits,
                                  single=alone, on_done=on_done).items():
            results[i] = r
    bulked = set(in_bulk) | arrowed

    batches: dict[tuple[Any, ...], list[list[int]]] = {}
    sizes: dict[tuple[Any, ...], tuple[int, int]] = {}
    for i, job in enumerate(jobs):
        if i in bulked:
            continue
        est = job.rows_estimate
        if (job.fmt not in BATCHABLE or job.base_path is not None or job.batch_key is None or est is None
                or est > batch_dataset_max_rows):
            single(i)
            continue
        # the sample scale is part of the key: a batch hashes every row on one scale, the one the
        # single path would choose for each of its datasets
        key = (job.fmt, job.batch_key, bits_for(job, sample_target))
        rows, files = sizes.get(key, (0, 0))
        if key not in batches or rows + est > batch_max_rows or files + job.file_count > batch_max_files:
            batches.setdefault(key, []).append([])
            rows, files = 0, 0
        batches[key][-1].append(i)
        sizes[key] = (rows + est, files + job.file_count)
    for key, groups in batches.items():
        for members in groups:
            run_batch(members, key[2])
    return [r if r is not None else ReadError("not profiled") for r in results]


def _profile_bulk(spark: SparkSession, jobs: list[ProfileJob], members: list[int], *, k: int,
                  sample_target: int, limits: BulkLimits, single: Any,
                  on_done: Any = None) -> dict[int, Profile | ReadError]:
    """Profile the bulk-eligible ``members`` of ``jobs`` (``rotscan.spark.bulk``); ``single(i)``
    profiles one dataset alone (a batch of one, or isolating a failure). A batch that fails is
    halved and retried, so one bad file costs ``O(log n)`` extra jobs and never hides the others."""
    from rotscan.spark import bulk
    from rotscan.spark.errors import java_errors

    results: dict[int, Profile | ReadError] = {}

    def done(i: int, r: Profile | ReadError) -> None:
        results[i] = r
        if on_done is not None:
            on_done(i)

    def run(batch: list[int]) -> None:
        if len(batch) == 1:
            done(batch[0], single(batch[0]))
            return
        try:
            with java_errors(f"reading {len(batch)} small datasets"):
                by_ds = bulk.collect(bulk.frame(spark, _reader(spark, "csv", None), jobs, batch, k,
                                                sample_target, _aggregate))
        except ReadError:
            half = len(batch) // 2
            run(batch[:half])
            run(batch[half:])
            return
        for i in batch:
            job = jobs[i]
            cols = list(job.columns or ())
            try:
                with java_errors(_what(job)):
                    prepared = _Prepared(job, None, cols, 0, False, bulk.bits_for(job, sample_target), spark,
                                         [(c, "string") for c in cols])
                    done(i, _finish(prepared, by_ds.get(i, []), k))
            except ReadError as exc:
                done(i, exc)

    for batch in bulk.batches(jobs, members, limits):
        run(batch)
    return results


def projected_signature(spark: SparkSession, fmt: str, paths: list[str], base_path: str | None,
                        columns: tuple[str, ...], *, k: int, sample_target: int,
                        rows_estimate: int | None) -> Signature:
    """The signature of a dataset restricted to ``columns`` (canonical names), as a dataset holding
    only those columns would hash."""
    from rotscan.redundancy.signature import sample_bits_for
    from rotscan.spark.canonical import canonical_name
    from rotscan.spark.errors import java_errors

    with java_errors(f"reading {_named(paths)}"):
        df = load(spark, fmt, paths, base_path)
        by_canonical = {canonical_name(f.name): f.name for f in df.schema.fields if f.name != CORRUPT_COLUMN}
        names = [by_canonical[c] for c in columns]
        if CORRUPT_COLUMN in df.columns:
            df = df.cache()
            df = df.filter(column(CORRUPT_COLUMN).isNull())
        bits = sample_bits_for(rows_estimate, sample_target)
        with wide_plan(spark, len(names)):
            rows_out = _rows(signature_frame(df, names, text_source=fmt in TEXT_SOURCES, k=k, sample_bits=bits))
    return _signature(rows_out, tuple(columns), k, bits)


def row_hashes(spark: SparkSession, fmt: str, paths: list[str], base_path: str | None,
               columns: tuple[str, ...]) -> DataFrame:
    """A one-column frame ``h`` of the dataset's row hashes over ``columns`` (canonical names); run its
    actions under :func:`wide_plan`."""
    from rotscan.spark.canonical import canonical_name

    df = load(spark, fmt, paths, base_path)
    if CORRUPT_COLUMN in df.columns:
        df = df.cache()
        df = df.filter(column(CORRUPT_COLUMN).isNull())
    by_canonical = {canonical_name(f.name): f.name for f in df.schema.fields if f.name != CORRUPT_COLUMN}
    h, _ = _row_hash(df, [by_canonical[c] for c in columns], fmt in TEXT_SOURCES)
    return df.select(h.alias("h"))


def exact_containment(spark: SparkSession, part: tuple[str, list[str], str | None],
                      whole: tuple[str, list[str], str | None], columns: tuple[str, ...]) -> tuple[int, int]:
    """(distinct rows of ``part``, how many of them are missing from ``whole``), by an anti-join of
    row hashes over ``columns`` — the exact check behind a sampled subset/projection estimate.
    ``part``/``whole`` are (format, paths, base path)."""
    [got] = exact_containments(spark, [(part, whole, columns)])
    return got


Source = tuple[str, list[str], str | None]


def exact_containments(spark: SparkSession, checks: list[tuple[Source, Source, tuple[str, ...]]],
                       ) -> list[tuple[int, int]]:
    """:func:`exact_containment` of several (part, whole, columns) checks in ONE Spark job.

    A check of two small tables is dominated by the fixed cost of its jobs, so the checks of a batch
    share one. Every row hash of a part is tagged with its check and flag 1, every row hash of a
    whole with each check it is the whole of and flag 2 (both through a broadcast link of checks to
    tables: no shuffle); one hash aggregation by (check, hash) ORs the flags — a distinct row of the
    part is a group with flag 1 set, a missing one a group with only flag 1 — and a second counts
    them per check. A hash aggregation with map-side combining, instead of two ``distinct`` and a
    sort-merge join, is the whole cost of checking a big table (measured: nycflights13 ×30, 10M rows
    in the whole). A table that is the part (or the whole) of several checks over the same columns
    is read once. Raises ReadError if any table cannot be read — the caller repeats the checks one
    by one to name it."""
    from pyspark.sql import functions as F

    from rotscan.spark.errors import java_errors

    def source_key(src: Source, columns: tuple[str, ...]) -> tuple[str, tuple[str, ...], str, tuple[str, ...]]:
        return (src[0], tuple(src[1]), src[2] or "", columns)

    parts: dict[Any, int] = {}
    wholes: dict[Any, int] = {}
    pairs: list[tuple[int, int, int]] = []  # (check, part id, whole id)
    sources: dict[Any, Source] = {}
    for i, (part, whole, columns) in enumerate(checks):
        pk, wk = source_key(part, columns), source_key(whole, columns)
        sources[pk], sources[wk] = part, whole
        pairs.append((i, parts.setdefault(pk, len(parts)), wholes.setdefault(wk, len(wholes))))
    width = max(len(c) for _, _, c in checks)

    what = (f"verifying containment of {_named(checks[0][0][1])} in {_named(checks[0][1][1])}" if len(checks) == 1
            else f"verifying containment ({len(checks)} checks)")
    with java_errors(what), wide_plan(spark, width):
        link = spark.createDataFrame(pairs, "c int, p int, w int")

        def tagged(ids: dict[Any, int], side: str, flag: int) -> DataFrame:
            frames = [row_hashes(spark, *sources[key], key[3]).select(F.lit(n).alias(side), "h")
                      for key, n in ids.items()]
            return (functools.reduce(lambda x, y: x.unionByName(y), frames).join(F.broadcast(link.select("c", side)), side)
                    .select("c", "h", F.lit(flag).alias("f")))

        flags = (tagged(parts, "p", 1).unionByName(tagged(wholes, "w", 2))
                 .groupBy("c", "h").agg(F.bit_or("f").alias("f")))
        rows = (flags.groupBy("c")
                .agg(F.count(F.when(F.col("f") != 2, 1)).alias("d"), F.count(F.when(F.col("f") == 1, 1)).alias("x"))
                .collect())
    got = {int(r["c"]): (int(r["d"]), int(r["x"])) for r in rows}
    return [got.get(i, (0, 0)) for i in range(len(checks))]  # a part without rows has no group


def driver_containment(spark: SparkSession, part: Source, whole: Source, columns: tuple[str, ...]) -> tuple[int, int]:
    """:func:`exact_containment` with the counting on the driver: both tables' row hashes come back
    through Arrow (8 bytes a row) and numpy counts the part's distinct hashes missing from the
    whole's (sort, unique, binary search). For one big check this replaces a shuffle of both tables
    by their transfer: nycflights13 ×30 (3.3M rows in 10.1M) ≈ 7 s instead of ≈ 23 s. The caller
    bounds the rows (the driver holds them; see ``rotscan.spark.verifier.DRIVER_MAX_ROWS``)."""
    import numpy as np

    from rotscan.spark.errors import java_errors

    def distinct(src: Source) -> np.ndarray:
        with wide_plan(spark, len(columns)):
            table = row_hashes(spark, *src, columns).toArrow()
        h = np.sort(table.column("h").to_numpy()) if table.num_rows else np.zeros(0, np.int64)
        # sorted, then each first of equal runs: np.unique is ~20x slower on 10M int64 (numpy 2.4)
        return h[np.concatenate(([True], h[1:] != h[:-1]))] if len(h) else h

    with java_errors(f"verifying containment of {_named(part[1])}"):
        p, w = distinct(part), distinct(whole)
    if not len(w):
        return len(p), len(p)
    at = np.minimum(np.searchsorted(w, p), len(w) - 1)
    return len(p), int(np.count_nonzero(w[at] != p))

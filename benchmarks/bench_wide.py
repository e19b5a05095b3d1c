"""Benchmark (c) of issue #11: tables of 100, 500 and 1,000 columns.

    python benchmarks/bench_wide.py                          # 100/500/1,000 columns, CSV and Parquet
    python benchmarks/bench_wide.py --cells 4000000 --old    # bigger tables, plus the old row hash
    python benchmarks/bench_wide.py --scan                   # plus a whole scan of a lake of them

Everything is measured in one run, in one Spark session (warmed up on a small table first),
against a baseline in the same process:

1. per width and format, real files written by pyarrow (mixed types: integers, doubles, decimals,
   text, zero-padded codes, booleans, timestamps, dates, nulls; ``--cells`` values in all, so
   rows = cells / width);
2. the baseline: a plain Spark read of every column once (``xxhash64`` of all columns, summed —
   as ``bench_flights.py`` does);
3. ``rotscan.spark.profile.profile`` — the scan's path; the ratio is profile / plain read; the
   time the driver spends building the row-hash expression (Py4J calls) is timed on its own after;
4. ``--old``: the row hash as it was built before (one left-deep XOR chain, whole-stage codegen
   on), to show what failed;
5. ``--scan``: ``run_scan`` of a lake holding all the tables and a CSV copy of the widest Parquet
   one, against a plain read of all of them; the copy must be found.

Each line also counts the ERROR lines Spark logged to its log file (``rotscan.spark.logfile``)
during the step, and says whether a code-generation failure ("Failed to compile", 64 KB) was among
them. Wall seconds are printed with the Spark JVM's CPU seconds (from /proc), since the machine is
shared and wall time moves with the load; ratios are of wall time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import decimal
import os
import sys
import tempfile
import time
from collections.abc import Callable
from functools import reduce
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rotscan.spark import logfile  # noqa: E402

CODEGEN = ("Failed to compile", "64 KB", "grows beyond", "StackOverflowError")


def wide_table(columns: int, rows: int, seed: int = 0) -> Any:
    """``columns`` mixed-type columns, nulls in every fifth row of every third column."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    base = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
    out: dict[str, Any] = {}
    for j in range(columns):
        kind = j % 8
        nulls = (np.arange(rows) % 5 == j % 5) if j % 3 == 0 else None
        if kind == 0:
            a = pa.array(rng.integers(-1000, 1000, rows), mask=nulls)
        elif kind == 1:
            a = pa.array(rng.random(rows).round(4), mask=nulls)
        elif kind == 2:
            a = pa.array(np.array([f"v{x}" for x in range(40)])[rng.integers(0, 40, rows)], mask=nulls)
        elif kind == 3:
            a = pa.array(rng.random(rows) < 0.5, mask=nulls)
        elif kind == 4:
            a = pa.array([base + dt.timedelta(seconds=int(x)) for x in rng.integers(0, 10**8, rows)],
                         pa.timestamp("ms", tz="UTC"), mask=nulls)
        elif kind == 5:
            a = pa.array([base.date() + dt.timedelta(days=int(x)) for x in rng.integers(0, 5000, rows)], mask=nulls)
        elif kind == 6:
            a = pa.array([decimal.Decimal(int(x)).scaleb(-2) for x in rng.integers(0, 10**6, rows)],
                         pa.decimal128(10, 2), mask=nulls)
        else:
            a = pa.array(np.array([f"{x:04d}" for x in range(500)])[rng.integers(0, 500, rows)], mask=nulls)
        out[f"col_{j}"] = a
    return pa.table(out)


class Clock:
    """Wall and Spark-JVM CPU seconds of a block, and the Spark ERROR lines logged during it."""

    def __init__(self, jvm_pid: int | None) -> None:
        self.jvm_pid = jvm_pid

    def _jvm(self) -> float:
        if self.jvm_pid is None:
            return 0.0
        fields = Path(f"/proc/{self.jvm_pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def __enter__(self) -> Clock:
        self.mark, self.t, self.j = logfile.mark(), time.perf_counter(), self._jvm()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall, self.jvm = time.perf_counter() - self.t, self._jvm() - self.j
        found = logfile.errors_since(self.mark)
        self.errors = [] if found is None else found[1]

    @property
    def codegen_failed(self) -> bool:
        return any(c in e for e in self.errors for c in CODEGEN)

    def log(self) -> str:
        return f"{len(self.errors)} Spark error(s){' (codegen failure)' if self.codegen_failed else ''}"


def jvm_pid(spark: Any) -> int | None:
    try:
        return int(spark._jvm.ProcessHandle.current().pid())
    except Exception:
        return None


def reader_args(fmt: str, path: Path, table: Any) -> dict[str, Any]:
    return {"fmt": fmt, "paths": [path.as_uri()], "columns": list(table.column_names) if fmt == "csv" else None}


def plain(spark: Any, fmt: str, paths: list[str], columns: list[str] | None) -> None:
    from pyspark.sql import functions as F

    from rotscan.spark.profile import load

    df = load(spark, fmt, paths, None, columns)
    df.select(F.xxhash64(*[F.col(f"`{c}`") for c in df.columns]).alias("h")) \
        .agg(F.sum(F.col("h").bitwiseAND(F.lit(1)))).collect()


def build_seconds(spark: Any, fmt: str, paths: list[str], columns: list[str] | None) -> float:
    """Seconds the driver spends building the row-hash expression (Py4J calls), timed on its own."""
    from rotscan.spark.profile import TEXT_SOURCES, _row_hash, load

    df = load(spark, fmt, paths, None, columns)
    started = time.perf_counter()
    _row_hash(df, list(df.columns), fmt in TEXT_SOURCES)
    return time.perf_counter() - started


def profiled(spark: Any, fmt: str, paths: list[str], columns: list[str] | None, rows: int) -> Any:
    from rotscan.spark.profile import profile

    got = profile(spark, fmt, paths, columns=columns, rows_estimate=rows)
    assert got.rows == rows, (got.rows, rows)
    return got


def old_hash(spark: Any, fmt: str, paths: list[str], columns: list[str] | None, rows: int) -> str:
    """The profile pass with the row hash built as before: one left-deep XOR chain of
    ``canonical.value_hash`` columns, under the session's default (whole-stage) codegen — the rest of
    the pass (sample key, aggregation) as ``rotscan.spark.profile`` does it."""
    from pyspark.sql import functions as F

    from rotscan.redundancy.signature import sample_bits_for
    from rotscan.spark.canonical import value_hash
    from rotscan.spark.profile import TEXT_SOURCES, _aggregate, column, load

    df = load(spark, fmt, paths, None, columns)
    types = {f.name: f.dataType for f in df.schema.fields}
    try:
        h = reduce(lambda a, b: a.bitwiseXOR(b),
                   [value_hash(column(n), n, types[n], fmt in TEXT_SOURCES) for n in df.columns])
        bits, k, hh = sample_bits_for(rows, 4096), 256, F.col("__h")
        key = F.when(F.shiftrightunsigned(hh, 64 - bits) == 0, hh).otherwise(F.pmod(hh, F.lit(k)) - F.lit(k))
        _aggregate(df.select(h.alias("__h")).select(hh, key.alias("__key"))).collect()
        return "ran"
    except Exception as exc:  # the failure is the result
        return f"failed: {type(exc).__name__}: {str(exc).strip().splitlines()[0][:90]}"


def row(label: str, c: Clock, base: float | None = None, extra: str = "") -> None:
    ratio = f"{c.wall / base:6.2f}x" if base else "  1.00x"
    print(f"  {label:<28} {c.wall:7.1f}s wall {c.jvm:7.1f}s JVM CPU {ratio}  {c.log()}{extra}", flush=True)


def bench_table(spark: Any, clock: Callable[[], Clock], tmp: Path, width: int, fmt: str, cells: int,
                old: bool) -> tuple[float, float]:
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    rows = max(100, cells // width)
    table = wide_table(width, rows, seed=width)
    path = tmp / f"wide_{width}.{fmt}"
    (pcsv.write_csv if fmt == "csv" else pq.write_table)(table, path)
    args = reader_args(fmt, path, table)
    print(f"{width:,} columns x {rows:,} rows, {fmt} ({path.stat().st_size / 2**20:.1f} MiB)", flush=True)
    plain(spark, args["fmt"], args["paths"], args["columns"])  # warm-up of the reader
    with clock() as base:
        plain(spark, args["fmt"], args["paths"], args["columns"])
    row("plain read, every column", base)
    with clock() as prof:
        profiled(spark, args["fmt"], args["paths"], args["columns"], rows)
    build = build_seconds(spark, args["fmt"], args["paths"], args["columns"])
    row("rotscan profile", prof, base.wall, f"; building the expression alone: {build:.1f}s")
    if old:
        with clock() as was:
            outcome = old_hash(spark, args["fmt"], args["paths"], args["columns"], rows)
        row("old row hash (left fold)", was, base.wall, f"; {outcome}")
    return base.wall, prof.wall


def bench_scan(spark: Any, clock: Callable[[], Clock], tmp: Path, widths: list[int], cells: int) -> None:
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    from rotscan.config import load_config
    from rotscan.runtime import Runtime
    from rotscan.scan import run_scan

    lake = tmp / "lake"
    sources: list[tuple[str, list[str], list[str] | None]] = []
    for width in widths:
        table = wide_table(width, max(100, cells // width), seed=width)
        d = lake / "warehouse" / f"wide_{width}"
        d.mkdir(parents=True)
        pq.write_table(table, d / "part-0.parquet")
        sources.append(("parquet", [d.as_uri()], None))
    widest = wide_table(widths[-1], max(100, cells // widths[-1]), seed=widths[-1])
    (lake / "exports").mkdir()
    pcsv.write_csv(widest, lake / "exports" / f"wide_{widths[-1]}.csv")
    sources.append(("csv", [(lake / "exports" / f"wide_{widths[-1]}.csv").as_uri()], list(widest.column_names)))
    print(f"whole scan: a lake of {len(sources)} tables ({', '.join(map(str, widths))} columns as Parquet, "
          f"a CSV copy of the {widths[-1]:,}-column one)", flush=True)
    for s in sources:
        plain(spark, *s)
    with clock() as base:
        for s in sources:
            plain(spark, *s)
    row("plain read of every table", base)
    with clock() as took:
        result = run_scan([str(lake)], Runtime(config=load_config(), spark_factory=lambda _s3a: spark))
    copies = [(f.uri.rsplit("/lake/", 1)[1], [r.rsplit("/lake/", 1)[1] for r in f.related])
              for f in result.findings if f.kind == "exact_duplicate"]
    row("rotscan scan (end to end)", took, base.wall, f"; exact copies found: {copies}")


def warm_up(spark: Any, tmp: Path) -> None:
    """Profile a small CSV and Parquet table first, so the JIT warm-up of the readers and the
    canonical expressions is not charged to the first table measured."""
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    table = wide_table(20, 5000, seed=1)
    pcsv.write_csv(table, tmp / "warm.csv")
    pq.write_table(table, tmp / "warm.parquet")
    for fmt in ("csv", "parquet"):
        args = reader_args(fmt, tmp / f"warm.{fmt}", table)
        plain(spark, args["fmt"], args["paths"], args["columns"])
        profiled(spark, args["fmt"], args["paths"], args["columns"], 5000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--widths", type=int, nargs="+", default=[100, 500, 1000])
    parser.add_argument("--formats", nargs="+", default=["csv", "parquet"], choices=["csv", "parquet"])
    parser.add_argument("--cells", type=int, default=2_000_000, help="values per table (rows = cells / width)")
    parser.add_argument("--old", action="store_true", help="also run the row hash as it was built before")
    parser.add_argument("--scan", action="store_true", help="also a whole run_scan of a lake of the tables")
    args = parser.parse_args()

    from rotscan.config import load_config
    from rotscan.spark.session import get_spark

    spark = get_spark(load_config(), env=os.environ)
    pid = jvm_pid(spark)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; Spark log: {logfile.current()}",
          flush=True)
    summary: list[str] = []
    with tempfile.TemporaryDirectory(prefix="rotscan-wide-") as tmp:
        warm_up(spark, Path(tmp))
        for width in args.widths:
            for fmt in args.formats:
                base, prof = bench_table(spark, lambda: Clock(pid), Path(tmp), width, fmt, args.cells, args.old)
                summary.append(f"{width:>5,} columns {fmt:<8} profile {prof:6.1f}s  plain {base:6.1f}s  "
                               f"{prof / base:5.2f}x")
        if args.scan:
            bench_scan(spark, lambda: Clock(pid), Path(tmp), args.widths, args.cells)
    print("\nsummary (profile / plain read of every column, wall):")
    print("\n".join(summary))


if __name__ == "__main__":
    main()

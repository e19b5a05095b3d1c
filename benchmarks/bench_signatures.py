"""Signature-pass benchmark: rotscan's one-pass content signature against a plain read of the same
data, and against what a user would otherwise do to find copies. Prints ratios measured in this
run (medians of interleaved repetitions), never absolute goals.

    python benchmarks/bench_signatures.py --rows 2000000 --reps 5
    python benchmarks/bench_signatures.py --rows 200000 --tables 2 4 8 --baselines

Sections:
1. signature pass (rotscan.spark.profile.signature_frame) vs a plain full read that hashes every
   row once (``xxhash64(*columns)``), same Parquet data, same session;
2. estimate error of Jaccard/containment from the coordinated samples vs the exact values over a
   grid of overlaps;
3. (--baselines) finding copies among T tables: rotscan (one signature pass per table + pure-Python
   comparison) vs pairwise ``exceptAll`` in Spark, Spark MLlib ``MinHashLSH.approxSimilarityJoin``,
   and datasketch ``MinHash.update`` per row (on a slice, scaled) — ratios per T.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def _session():  # type: ignore[no-untyped-def]
    import os

    from rotscan.config import load_config
    from rotscan.spark.session import get_spark

    return get_spark(load_config(overrides={"spark": {"master": "local[*]", "shuffle_partitions": 8}}),
                     env=os.environ)


def make_table(spark, path: str, rows: int, seed: int = 0, offset: int = 0) -> None:  # type: ignore[no-untyped-def]
    from pyspark.sql import functions as F

    spark.range(offset, offset + rows).select(
        F.col("id").alias("id"), (F.col("id") * 7919 % 100003).alias("customer"),
        F.round(F.rand(seed) * 1000, 2).alias("amount"),
        F.expr("timestamp_millis(1700000000000 + id * 1000)").alias("ts"),
        F.concat(F.lit("item-"), (F.col("id") % 5000).cast("string")).alias("item"),
        (F.col("id") % 3 == 0).alias("flag"),
    ).write.mode("overwrite").parquet(path)


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def bench_pass(spark, path: str, reps: int) -> None:  # type: ignore[no-untyped-def]
    from pyspark.sql import functions as F

    from rotscan.redundancy.signature import sample_bits_for
    from rotscan.spark.profile import profile, signature_frame

    df = spark.read.parquet(path)
    cols = df.columns
    rows = df.count()

    def plain() -> None:
        df.select(F.xxhash64(*cols).alias("h")).agg(F.sum(F.col("h").bitwiseAND(F.lit(1)))).collect()

    def signature() -> None:
        signature_frame(df, cols, text_source=False, k=256, sample_bits=sample_bits_for(rows, 4096)).collect()

    def full_profile() -> None:
        profile(spark, "parquet", [path], k=256, sample_target=4096, rows_estimate=rows)

    plain()
    full_profile()  # warm up
    names = ("plain read, xxhash64(*cols)", "signature pass (signature_frame)", "rotscan profile() incl. driver merge")
    results: dict[str, list[float]] = {n: [] for n in names}
    for _ in range(reps):  # interleaved
        for name, fn in zip(names, (plain, signature, full_profile), strict=True):
            results[name].append(timed(fn))
    base = statistics.median(results["plain read, xxhash64(*cols)"])
    print(f"\n== 1. signature pass vs plain read: {rows:,} rows x {len(cols)} columns, median of {reps}")
    for name, times in results.items():
        med = statistics.median(times)
        print(f"{name:40s} {med:7.2f}s  {med / base:5.2f}x  ({rows / med / 1e6:.2f} M rows/s)")


def bench_error() -> None:
    import random

    from rotscan.redundancy.signature import overlap, signature_from_hashes

    print("\n== 2. estimate error vs exact (200,000-row table, sample target 4096)")
    print(f"{'overlap':>8} {'exact J':>8} {'est J':>8} {'exact C':>8} {'est C':>8} {'bound':>7}")
    rnd = random.Random(1)
    base = [rnd.getrandbits(64) - (1 << 63) for _ in range(200_000)]
    for share in (0.01, 0.05, 0.25, 0.5, 0.75, 0.9, 0.97, 1.0):
        n = int(len(base) * share)
        extra = [rnd.getrandbits(64) - (1 << 63) for _ in range(len(base) - n)]
        a_rows = base[:n] + extra
        exact_j = n / (len(base) + len(extra))
        a = signature_from_hashes(a_rows, ("x",))
        b = signature_from_hashes(base, ("x",))
        ov = overlap(a, b)
        print(f"{share:8.2f} {exact_j:8.3f} {ov.jaccard:8.3f} {share:8.3f} {ov.containment_ab:8.3f} {ov.error():7.3f}")


def bench_baselines(spark, tmp: Path, rows: int, table_counts: list[int]) -> None:  # type: ignore[no-untyped-def]
    from pyspark.ml.feature import MinHashLSH, VectorAssembler  # noqa: F401
    from pyspark.sql import functions as F

    from rotscan.redundancy.signature import overlap
    from rotscan.spark.profile import profile

    print(f"\n== 3. finding copies among T tables of {rows:,} rows (seconds; ratio to rotscan)")
    print(f"{'T':>3} {'rotscan':>9} {'exceptAll pairs':>16} {'MLlib MinHashLSH':>17} {'datasketch/row':>15}")
    for t in table_counts:
        paths = []
        for i in range(t):
            p = str(tmp / f"t{t}_{i}")
            make_table(spark, p, rows, seed=i % 2, offset=0 if i % 2 == 0 else rows // 2)
            paths.append(p)

        def ours(paths: list[str] = paths, t: int = t) -> None:
            sigs = [profile(spark, "parquet", [p], rows_estimate=rows).signature for p in paths]
            for i in range(t):
                for j in range(i + 1, t):
                    overlap(sigs[i], sigs[j])  # type: ignore[arg-type]

        def except_all(paths: list[str] = paths, t: int = t) -> None:
            dfs = [spark.read.parquet(p) for p in paths]
            for i in range(t):
                for j in range(i + 1, t):
                    dfs[i].exceptAll(dfs[j]).count()

        def mllib(paths: list[str] = paths) -> None:
            from pyspark.ml.linalg import SparseVector, VectorUDT

            # one set per table: the row hashes, as indices of a sparse vector (MLlib caps the dimension below 2^31)
            rowsets = []
            for i, p in enumerate(paths):
                df = spark.read.parquet(p)
                hashes = df.select(F.pmod(F.xxhash64(*df.columns), F.lit(1 << 30)).alias("h")).distinct()
                idx = sorted(r.h for r in hashes.collect())
                rowsets.append((i, SparseVector(1 << 30, idx, [1.0] * len(idx))))
            sets = spark.createDataFrame(rowsets, ["id", "features"])
            _ = VectorUDT
            model = MinHashLSH(inputCol="features", outputCol="hashes", numHashTables=5).fit(sets)
            model.approxSimilarityJoin(sets, sets, 0.5).count()

        def datasketch_rows(paths: list[str] = paths, t: int = t) -> float:
            from datasketch import MinHash

            df = spark.read.parquet(paths[0])
            slice_rows = min(rows, 50_000)
            data = df.limit(slice_rows).collect()
            start = time.perf_counter()
            m = MinHash(num_perm=256, scheme="affine64")
            for r in data:
                m.update(repr(tuple(r)).encode())
            per_row = (time.perf_counter() - start) / slice_rows
            return per_row * rows * t  # every row of every table

        ours_s = timed(ours)
        exc_s = timed(except_all)
        ml_s = timed(mllib)
        ds_s = datasketch_rows()
        print(f"{t:3d} {ours_s:9.2f} {exc_s:9.2f} ({exc_s / ours_s:4.1f}x) {ml_s:9.2f} ({ml_s / ours_s:4.1f}x) "
              f"{ds_s:8.2f} ({ds_s / ours_s:4.1f}x)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--tables", type=int, nargs="*", default=[2, 4, 8])
    ap.add_argument("--baseline-rows", type=int, default=100_000)
    ap.add_argument("--baselines", action="store_true", help="also run section 3 (slow)")
    args = ap.parse_args()
    spark = _session()
    with tempfile.TemporaryDirectory(prefix="rotscan-bench-") as tmp:
        path = str(Path(tmp) / "data")
        make_table(spark, path, args.rows)
        bench_pass(spark, path, args.reps)
        bench_error()
        if args.baselines:
            bench_baselines(spark, Path(tmp), args.baseline_rows, args.tables)


if __name__ == "__main__":
    main()

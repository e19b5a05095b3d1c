"""Listing benchmark: crawl + metadata inventory of synthetic lakes of tiny files, on the driver and
distributed over Spark executors — files listed per second and the driver's peak memory, per lake
size, printed as a scaling table with ratios measured in this run.

    python benchmarks/bench_listing.py                        # 10k, 100k, 300k files
    python benchmarks/bench_listing.py --files 1000000        # the 10,000-dataset / 1M-file lake
    python benchmarks/bench_listing.py --fixed-datasets 1000  # 1,000 datasets, files per dataset grow

The lake: ``--files`` files in datasets of ``--files-per-dataset`` files (100: 10,000 datasets at
1M files), 100 datasets per database directory, alternately a part-file directory (``part-*``
files + ``_SUCCESS``) and a Hive-partitioned table (10 files per ``dt=`` partition), plus one
``.DS_Store`` per database. Every file is the same real ~0.5 KB Parquet file, so the inventory reads
a real footer per file, as a scan does (row counts from metadata); nothing is profiled. The lake is
written to ``/dev/shm`` (tmpfs) by default, so disk latency does not blur the listing's own cost,
and removed afterwards.

Each (size, mode) is measured in a fresh child process: pass 1 times the listing and takes the RSS
high-water mark growth (``/proc/self/clear_refs``), pass 2 repeats it under ``tracemalloc`` for the
peak of Python allocations in the driver (executors' Python workers are other processes). Modes:

- ``driver``: the driver crawls and inventories (the classic crawl), compact ``read_paths``;
- ``driver-lists``: the same with every table's file list kept (how ``read_paths`` were before);
- ``distributed``: ``rotscan.spark.listing.distributed_crawl`` on ``local[N]`` executors.

What the driver keeps — the inventory entries, path items and warnings — is what a scan keeps.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout

MODES = ("driver", "driver-lists", "distributed")


def parquet_template() -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(pa.table({"id": [1, 2, 3], "v": ["a", "b", "c"]}), buf)
    return buf.getvalue()


def generate(root: Path, files: int, per_dataset: int) -> tuple[int, int]:
    """Write the lake; returns (datasets, files)."""
    body = parquet_template()
    datasets = max(1, files // per_dataset)
    written = 0

    def put(path: str) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(fd, body)
        os.close(fd)

    for j in range(datasets):
        db = root / f"db{j // 100:04d}"
        if j % 100 == 0:
            db.mkdir(parents=True, exist_ok=True)
            (db / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1" + b"\x00" * 64)
        t = db / f"t{j % 100:03d}"
        if j % 2 == 0:
            t.mkdir()
            for i in range(per_dataset):
                put(f"{t}/part-{i:05d}-bench.snappy.parquet")
            (t / "_SUCCESS").write_bytes(b"")
        else:
            parts = max(1, per_dataset // 10)
            for p in range(parts):
                d = t / f"dt=2026-01-{p + 1:02d}" if parts <= 28 else t / f"dt={p:05d}"
                d.mkdir(parents=True)
                n = per_dataset // parts + (1 if p < per_dataset % parts else 0)
                for i in range(n):
                    put(f"{d}/part-{i:05d}-bench.snappy.parquet")
        written += per_dataset
    return datasets, written


def _status(key: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return 0


def _reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def measure(root: str, mode: str, cores: int) -> dict[str, object]:
    """Child process: list ``root`` twice in ``mode`` (timed, then traced); one JSON line."""
    import gc
    import tracemalloc

    from rotscan.config import load_config
    from rotscan.crawl.discover import Crawler, CrawlRules, DatasetCandidate
    from rotscan.crawl.inventory import Inventory, InventoryEntry
    from rotscan.storage.local import LocalStorage
    from rotscan.uri import parse

    cfg = load_config(overrides={"scan": {"profile": False}, "spark": {"master": f"local[{cores}]"}})
    rules = CrawlRules.from_config(cfg)
    uri = parse(root)
    small, sniff = int(cfg.get("scan", "small_file_bytes")), int(cfg.get("scan", "sniff_bytes"))
    spark = None
    if mode == "distributed":
        from rotscan.spark.listing import InventorySettings, distributed_crawl
        from rotscan.spark.session import get_spark
        from rotscan.storage.arrow import StorageSpec

        spark = get_spark(cfg, env=os.environ)
        settings = InventorySettings(small, sniff, time.time())
        warm = tempfile.mkdtemp(prefix="rotscan-bench-warm-")
        for i in range(cores * 4):  # start the Python workers and import rotscan there first
            os.makedirs(f"{warm}/d{i}/t")
            with open(f"{warm}/d{i}/t/part-00000.parquet", "wb") as fh:
                fh.write(parquet_template())
        distributed_crawl(spark, LocalStorage(), StorageSpec("file"), parse(warm), rules, settings)
        shutil.rmtree(warm)

    def listing() -> tuple[list[InventoryEntry], list[object], list[object], int]:
        if mode == "distributed":
            out = distributed_crawl(spark, LocalStorage(), StorageSpec("file"), uri, rules, settings)
            return out.entries, out.items, out.warnings, out.files_seen  # type: ignore[return-value]
        storage = LocalStorage()
        inv = Inventory(storage, small_file_bytes=small, sniff_bytes=sniff)
        entries: list[InventoryEntry] = []

        def on_dataset(cand: DatasetCandidate) -> None:
            if mode == "driver-lists":
                cand.complete = False  # keep every file in read_paths, as before compact paths
            entries.append(inv.build(cand))

        crawler = Crawler(storage, rules, on_dataset)
        crawler.crawl(uri)
        return entries, crawler.items, crawler.warnings, crawler.files_seen  # type: ignore[return-value]

    gc.collect()
    rss0 = _status("VmRSS")
    hwm_ok = _reset_hwm()
    t0 = time.perf_counter()
    entries, items, warnings, files_seen = listing()
    seconds = time.perf_counter() - t0
    rss_peak = _status("VmHWM") if hwm_ok else 0
    rss_end = _status("VmRSS")
    datasets = len(entries)
    read_paths = sum(len(e.read_paths) for e in entries)
    del entries, items, warnings
    gc.collect()

    tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    result = listing()
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del result
    if spark is not None:
        spark.stop()
    return {"mode": mode, "datasets": datasets, "files": files_seen, "seconds": seconds,
            "files_per_s": files_seen / seconds if seconds else 0.0, "read_paths": read_paths,
            "py_peak": peak - base, "py_retained": current - base,
            "rss_delta": max(0, rss_peak - rss0) if hwm_ok else None, "rss_end_delta": rss_end - rss0}


def mib(n: object) -> str:
    return "n/a" if n is None else f"{int(n) / 2**20:,.1f}"  # type: ignore[call-overload]


def run_size(files: int, per_dataset: int, modes: list[str], cores: int, workdir: Path) -> list[dict[str, object]]:
    root = Path(tempfile.mkdtemp(prefix="rotscan-bench-lake-", dir=workdir))
    try:
        t0 = time.perf_counter()
        datasets, written = generate(root, files, per_dataset)
        print(f"# generated {written:,} files in {datasets:,} datasets in {time.perf_counter() - t0:.0f}s",
              flush=True)
        rows = []
        for mode in modes:
            done = subprocess.run([sys.executable, __file__, "--measure", str(root), "--mode", mode,
                                   "--cores", str(cores)], capture_output=True, text=True, check=False)
            line = next((ln for ln in reversed(done.stdout.splitlines()) if ln.startswith("{")), None)
            if done.returncode != 0 or line is None:
                print(done.stdout[-2000:], done.stderr[-4000:], file=sys.stderr)
                raise SystemExit(f"measurement failed: {mode} at {files:,} files")
            row = json.loads(line)
            row["per_dataset"] = per_dataset
            rows.append(row)
            print(f"  {mode:<13} {row['files']:>9,} files {row['datasets']:>7,} datasets "
                  f"{row['seconds']:7.1f}s {row['files_per_s']:>9,.0f} files/s  "
                  f"py peak {mib(row['py_peak'])} MiB  retained {mib(row['py_retained'])} MiB  "
                  f"RSS +{mib(row['rss_delta'])} MiB  read_paths {row['read_paths']:,}", flush=True)
        return rows
    finally:
        t0 = time.perf_counter()
        shutil.rmtree(root, ignore_errors=True)
        print(f"# removed the lake in {time.perf_counter() - t0:.0f}s", flush=True)


def table(rows: list[dict[str, object]]) -> None:
    print("\n| mode | files | datasets | files/dataset | seconds | files/s | driver py peak (MiB) | "
          "py peak / dataset (KiB) | py peak / file (B) | driver RSS delta (MiB) | read_paths kept |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        f, d, p = int(r["files"]), int(r["datasets"]), int(r["py_peak"])  # type: ignore[call-overload]
        print(f"| {r['mode']} | {f:,} | {d:,} | {r['per_dataset']} | {r['seconds']:.1f} | "
              f"{r['files_per_s']:,.0f} | {mib(p)} | {p / max(d, 1) / 1024:.2f} | {p / max(f, 1):.0f} | "
              f"{mib(r['rss_delta'])} | {r['read_paths']:,} |")
    by_mode: dict[str, list[dict[str, object]]] = {}
    for r in rows:
        by_mode.setdefault(str(r["mode"]), []).append(r)
    print("\nScaling against the smallest lake of each mode (files ×, seconds ×, driver py peak ×):")
    for mode, rs in by_mode.items():
        first = rs[0]
        for r in rs[1:]:
            print(f"  {mode:<13} files ×{int(r['files']) / max(int(first['files']), 1):6.1f}  "  # type: ignore[call-overload]
                  f"datasets ×{int(r['datasets']) / max(int(first['datasets']), 1):6.1f}  "  # type: ignore[call-overload]
                  f"seconds ×{float(r['seconds']) / max(float(first['seconds']), 1e-9):6.1f}  "  # type: ignore[arg-type]
                  f"py peak ×{int(r['py_peak']) / max(int(first['py_peak']), 1):6.2f}")  # type: ignore[call-overload]
    if "distributed" in by_mode and "driver" in by_mode:
        print("\nDistributed vs driver at each size (files/s ratio, driver py peak ratio):")
        for a, b in zip(by_mode["driver"], by_mode["distributed"], strict=False):
            print(f"  {int(a['files']):>9,} files: throughput ×{float(b['files_per_s']) / float(a['files_per_s']):.2f}, "  # type: ignore[arg-type, call-overload]
                  f"driver memory ×{int(b['py_peak']) / max(int(a['py_peak']), 1):.2f}")  # type: ignore[call-overload]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, nargs="+", default=[10_000, 100_000, 300_000])
    ap.add_argument("--files-per-dataset", type=int, default=100)
    ap.add_argument("--fixed-datasets", type=int, default=0,
                    help="instead: this many datasets at every size (files per dataset = files / datasets)")
    ap.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    ap.add_argument("--cores", type=int, default=os.cpu_count() or 2, help="Spark local[N] for distributed")
    ap.add_argument("--workdir", type=Path,
                    default=Path("/dev/shm") if os.path.isdir("/dev/shm") else Path(tempfile.gettempdir()),
                    help="where the lake is generated (default: tmpfs, so disk latency does not blur the "
                         "listing cost)")
    ap.add_argument("--measure", help=argparse.SUPPRESS)
    ap.add_argument("--mode", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.mode, args.cores)), flush=True)
        return
    rows: list[dict[str, object]] = []
    for n in args.files:
        per = max(1, n // args.fixed_datasets) if args.fixed_datasets else args.files_per_dataset
        print(f"\n## {n:,} files, {per} files per dataset", flush=True)
        rows += run_size(n, per, args.modes, args.cores, args.workdir)
    table(rows)


if __name__ == "__main__":
    main()

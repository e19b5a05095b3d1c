"""Benchmark (b): N dataset signatures through rotscan's candidate search — the MinHashLSH
(Jaccard) + MinHashLSHEnsemble (containment) search ``rotscan.detect.redundant.detect_redundant``
runs on a group of same-column datasets — timed, with peak memory, at growing N (a scaling curve),
and the recall of planted copies.

    python benchmarks/bench_lsh.py --sizes 1000 10000 100000

The signatures are realistic: each is built by ``rotscan.redundancy.signature.signature_from_hashes``
(the pure-Python twin of the Spark signature pass) from a synthetic set of 64-bit row hashes. Tables
are independent random row sets (Jaccard ≈ 0 between them) of 200–2,000 rows, all over the same
columns — the worst case for the search, since rotscan only compares datasets hashed over the same
columns and a real lake splits into many smaller column groups. About 1% of the datasets are planted
copies of the dataset before them, evenly: exact copies (found by checksum, not by LSH), near
duplicates (5% of rows replaced: Jaccard ≈ 0.90) and subsets (a 60–90% extract: containment 1.0).

Per N it prints: seconds of the candidate search (``_pairs``) and of the whole ``detect_redundant``
(search + verification of every candidate on the samples + findings), the number of candidate pairs,
peak Python allocations (tracemalloc, in a separate run so the timing is not slowed by it) and the
process's peak RSS growth, and the recall of the planted near-duplicate and subset pairs among the
candidates and among the findings. Everything is measured in this run; nothing is a target.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import statistics
import threading
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rotscan.detect.redundant import RedundancyRules, _pairs, detect_redundant
from rotscan.models import Dataset
from rotscan.redundancy.signature import Signature, signature_from_hashes

COLUMNS = ("amount", "customer_id", "id", "order_date", "status")


@dataclass(frozen=True)
class Lake:
    datasets: list[Dataset]
    signatures: dict[str, Signature]
    near: set[tuple[int, int]]  # planted (base index, copy index)
    subset: set[tuple[int, int]]
    exact: set[tuple[int, int]]


def _hashes(rng: random.Random, n: int) -> list[int]:
    return [rng.getrandbits(64) - (1 << 63) for _ in range(n)]  # signed, as Spark's xxhash64


def build_lake(n: int, *, plant_every: int = 100, seed: int = 7, k: int = 256, sample_target: int = 4096,
               progress: Callable[[str], None] = print) -> Lake:
    """``n`` datasets; after every ``plant_every``-th one, a planted copy of it (cycling exact, near, subset)."""
    rng = random.Random(seed)
    datasets: list[Dataset] = []
    signatures: dict[str, Signature] = {}
    near: set[tuple[int, int]] = set()
    subset: set[tuple[int, int]] = set()
    exact: set[tuple[int, int]] = set()
    kinds = ("near", "subset", "exact")
    planted = 0
    prev: list[int] = []
    t0 = time.monotonic()
    while len(datasets) < n:
        i = len(datasets)
        if i % plant_every == plant_every - 1 and prev:
            kind = kinds[planted % 3]
            planted += 1
            if kind == "exact":
                hashes = list(prev)
                rng.shuffle(hashes)
                exact.add((i - 1, i))
            elif kind == "near":
                keep = len(prev) - len(prev) // 20  # 5% of rows replaced
                hashes = rng.sample(prev, keep) + _hashes(rng, len(prev) - keep)
                near.add((i - 1, i))
            else:
                hashes = rng.sample(prev, int(len(prev) * rng.uniform(0.6, 0.9)))
                subset.add((i, i - 1))  # (part, whole)
        else:
            hashes = _hashes(rng, int(200 * 10 ** rng.random()))  # 200..2,000 rows, log-uniform
        uri = f"s3a://lake/warehouse/t{i:06d}"
        sig = signature_from_hashes(hashes, COLUMNS, k=k, sample_target=sample_target)
        datasets.append(Dataset(uri=uri, format="parquet", layout="part_files", files=1, bytes=len(hashes) * 40,
                                root="s3a://lake/warehouse", rows=len(hashes)))
        signatures[uri] = sig
        prev = hashes
        if (i + 1) % 20_000 == 0:
            progress(f"  built {i + 1:,} signatures ({time.monotonic() - t0:.0f}s)")
    return Lake(datasets, signatures, near, subset, exact)


def _rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class RssPeak:
    """Samples the process's resident set every 10 ms; ``growth`` is the peak above the start."""

    def __init__(self) -> None:
        self.start = _rss_bytes()
        self.peak = self.start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, _rss_bytes())

    def __enter__(self) -> RssPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_bytes())

    @property
    def growth(self) -> int:
        return self.peak - self.start


def _group(lake: Lake, n: int) -> list[tuple[Dataset, Signature]]:
    """What detect_redundant hands to the candidate search: the same-column group (exact copies are
    collapsed to one representative by checksum before the search)."""
    seen: set[str] = set()
    out = []
    for d in lake.datasets[:n]:
        s = lake.signatures[d.uri]
        if s.checksum in seen:
            continue
        seen.add(s.checksum)
        out.append((d, s))
    return out


def run_once(lake: Lake, n: int, rules: RedundancyRules, *, trace: bool) -> dict[str, Any]:
    group = _group(lake, n)
    index = {d.uri: i for i, d in enumerate(lake.datasets[:n])}
    pos = [index[d.uri] for d, _ in group]
    datasets = lake.datasets[:n]
    sigs = {d.uri: lake.signatures[d.uri] for d in datasets}
    gc.collect()
    if trace:
        tracemalloc.start()
    with RssPeak() as rss:
        t0 = time.perf_counter()
        pairs = {(min(pos[i], pos[j]), max(pos[i], pos[j])) for i, j in _pairs(group, rules)}
        t_search = time.perf_counter() - t0
    traced = tracemalloc.get_traced_memory()[1] if trace else None
    if trace:
        tracemalloc.stop()
    t0 = time.perf_counter()
    findings = detect_redundant(datasets, sigs, rules)
    t_detect = time.perf_counter() - t0
    found = {(index[f.uri], index[f.related[0]], f.kind) for f in findings}

    def recall(planted: set[tuple[int, int]], kinds: tuple[str, ...]) -> tuple[float, float, int]:
        inside = {p for p in planted if max(p) < n}
        if not inside:
            return 1.0, 1.0, 0
        cand = sum(1 for a, b in inside if (min(a, b), max(a, b)) in pairs)
        hit = sum(1 for a, b in inside if any((x, y, kd) in found for (x, y) in ((a, b), (b, a)) for kd in kinds))
        return cand / len(inside), hit / len(inside), len(inside)

    return {
        "n": n, "group": len(group), "search_s": t_search, "detect_s": t_detect, "pairs": len(pairs),
        "traced_peak": traced, "rss_growth": rss.growth,
        # an extract of 85% or more is also a near duplicate (Jaccard = its share): either finding counts
        "near": recall(lake.near, ("near_duplicate", "subset")),
        "subset": recall(lake.subset, ("subset", "near_duplicate")),
        "exact": sum(1 for a, b in lake.exact if b < n and ((b, a, "exact_duplicate") in found
                                                            or (a, b, "exact_duplicate") in found)),
        "exact_planted": sum(1 for _, b in lake.exact if b < n),
        "findings": len(findings),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    ap.add_argument("--reps", type=int, default=1, help="timed runs per size (median reported)")
    ap.add_argument("--no-trace", action="store_true", help="skip the tracemalloc run")
    args = ap.parse_args()
    rules = RedundancyRules()
    import datasketch  # noqa: F401 - imported once up front (it pulls in scipy): not part of any timing

    n_max = max(args.sizes)
    print(f"building {n_max:,} signatures (k=256, rows 200-2,000, 1% planted copies) ...")
    t0 = time.monotonic()
    lake = build_lake(n_max)
    print(f"  done in {time.monotonic() - t0:.0f}s; planted {len(lake.near)} near, {len(lake.subset)} subset, "
          f"{len(lake.exact)} exact\n")
    print(f"{'N':>8} {'group':>8} {'search s':>9} {'detect s':>9} {'cand. pairs':>11} {'traced MiB':>10} "
          f"{'RSS+ MiB':>9} {'near recall':>15} {'subset recall':>15} {'exact':>9}")
    for n in sorted(args.sizes):
        runs = [run_once(lake, n, rules, trace=False) for _ in range(args.reps)]
        r = runs[0]
        search = statistics.median(x["search_s"] for x in runs)
        detect = statistics.median(x["detect_s"] for x in runs)
        traced = None if args.no_trace else run_once(lake, n, rules, trace=True)["traced_peak"]
        rss = max(x["rss_growth"] for x in runs)
        near, sub = r["near"], r["subset"]
        print(f"{n:>8,} {r['group']:>8,} {search:>9.2f} {detect:>9.2f} {r['pairs']:>11,} "
              f"{'-' if traced is None else f'{traced / 2**20:.0f}':>10} {rss / 2**20:>9.0f} "
              f"{near[0]:>6.1%}/{near[1]:>6.1%} {sub[0]:>6.1%}/{sub[1]:>6.1%} {r['exact']:>4}/{r['exact_planted']:<4}",
              flush=True)
    print("\nrecall: share of planted pairs among the candidate pairs / among the findings "
          "(exact copies are found by checksum before the search)")


if __name__ == "__main__":
    main()

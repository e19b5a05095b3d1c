"""``compact`` for real with the local Spark session: a Hive-partitioned Parquet directory of small
files is rewritten (same partition directories, row multiset verified) and restored byte for byte;
a concurrent writer between the rewrite and the swap aborts it; kill -9 mid-swap, resume, restore;
a Delta table through OPTIMIZE and back through RESTORE TABLE TO VERSION."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from rotscan.cleanup.apply import apply_plan
from rotscan.cleanup.audit import read_audit, summarize_audit
from rotscan.cleanup.journal import list_runs
from rotscan.cleanup.plan import read_plan
from rotscan.cleanup.restore import restore_run
from rotscan.config import Config, load_config
from rotscan.crawl.delta_log import read_snapshot
from rotscan.findings_io import write_findings
from rotscan.runtime import Runtime
from rotscan.scan import run_scan
from rotscan.storage.local import LocalStorage
from rotscan.uri import parse

from ..cleanup_support import context, plan_and_load, tree
from ..lakes import age, table

pytestmark = pytest.mark.spark

REPO = Path(__file__).resolve().parents[2]


def compact_config(**cleanup: Any) -> Config:
    return load_config(overrides={"scan": {"profile": False}, "cleanup": cleanup,
                                  "spark": {"master": "local[2]", "shuffle_partitions": 2}})


def build_parquet(root: Path) -> None:
    for region, offset in (("eu", 0), ("us", 10_000)):
        d = root / "events/clicks" / f"region={region}"
        d.mkdir(parents=True)
        for i in range(40):
            pq.write_table(table(10, offset=offset + i * 10), d / f"part-{i:05d}.parquet")
    age(root, 10)


def _plan(root: Path, work: Path, cfg: Config) -> tuple[Any, Path]:
    result = run_scan([str(root)], Runtime(config=cfg))
    assert [f.kind for f in result.findings] == ["small_files"], [f.to_dict() for f in result.findings]
    write_findings(result, work / "scan")
    plan, _ = plan_and_load(work / "scan", work / "plan.json", cfg)
    return plan, work / "plan.json"


def _rows(spark, path: Path) -> list[tuple[Any, ...]]:  # type: ignore[no-untyped-def]
    with_inference_off = spark.read.option("basePath", str(path)).parquet(str(path))
    return sorted(tuple(r) for r in with_inference_off.select("id", "name", "amount", "region").collect())


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_compact_parquet_dry_run_execute_restore(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "lake"
    build_parquet(root)
    cfg = compact_config()
    plan, path = _plan(root, tmp_path, cfg)
    (a,) = plan.actions
    assert a.action == "compact" and a.details["partition_columns"] == ["region"] and a.details["files_after"] == 2
    ctx = context(cfg, spark_factory=lambda need: spark)
    table_dir = root / "events/clicks"
    rows_before = _rows(spark, table_dir)
    before = tree(root, skip_state=False)

    dry = apply_plan(read_plan(path), ctx, execute=False)
    assert dry.planned[0].status == "done" and "would rewrite 80 file(s)" in dry.planned[0].reason
    assert tree(root, skip_state=False) == before

    done = apply_plan(read_plan(path), ctx, execute=True)
    (res,) = done.planned
    assert res.status == "done", res.reason
    assert res.details is not None and (res.details["files_before"], res.details["files_after"]) == (80, 2)
    assert res.details["rows"] == 800 and res.details["checksum"]
    data = sorted(p.relative_to(table_dir).as_posix() for p in table_dir.rglob("*.parquet"))
    assert len(data) == 2 and {d.split("/")[0] for d in data} == {"region=eu", "region=us"}
    assert _rows(spark, table_dir) == rows_before  # same rows, same partition values
    assert not (root / "_rotscan/staging" / done.run_id).exists()
    (run,) = summarize_audit(read_audit(LocalStorage(), parse(str(root))), str(root))
    assert run.count("compacted") == 1 and run.nbytes("compacted") == a.bytes and run.reclaimed_bytes == 0
    assert json.loads(json.dumps(done.to_dict()))["actions"][0]["details"]["files_after"] == 2

    restored = restore_run(ctx, [parse(str(root))], done.run_id)
    assert restored.ok, [r.to_dict() for r in restored.actions]
    assert tree(root) == {k: v for k, v in before.items() if not k.startswith("_rotscan")}
    (run,) = summarize_audit(read_audit(LocalStorage(), parse(str(root))), str(root))
    assert run.count("uncompacted") == 1 and run.nbytes("uncompacted") == a.bytes


def test_compact_aborts_on_a_concurrent_writer(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "lake"
    build_parquet(root)
    cfg = compact_config()
    _, path = _plan(root, tmp_path, cfg)
    before = tree(root)
    intruder = root / "events/clicks/region=eu/part-99999-late.parquet"

    def writer(step: str, n: int) -> None:
        if step == "staged":  # a job appends between the rewrite and the swap
            pq.write_table(table(3, offset=99_000), intruder)

    (res,) = apply_plan(read_plan(path), context(cfg, spark_factory=lambda need: spark, fault_hook=writer),
                        execute=True).planned
    assert res.status == "skipped" and "changed while compacting" in res.reason and "aborted" in res.reason
    after = tree(root)
    assert {k: v for k, v in after.items() if k != intruder.relative_to(root).as_posix()} == before
    assert intruder.exists() and not any((root / "_rotscan/staging").rglob("*.parquet"))


RUNNER = """
import os, signal, sys
from pathlib import Path
from rotscan.cleanup.apply import apply_plan
from rotscan.cleanup.plan import read_plan
from tests.cleanup_support import context
from tests.spark.test_cleanup_compact import compact_config

plan, step, n = sys.argv[1], sys.argv[2], int(sys.argv[3])

def hook(s, k):
    if s == step and k == n:
        os.kill(os.getpid(), signal.SIGKILL)

apply_plan(read_plan(Path(plan)), context(compact_config(), fault_hook=hook), execute=True)
print("finished without being killed")
"""


@pytest.mark.parametrize(("step", "n"), [("moved", 37), ("moved", 81)])  # mid-way out; one new file in
def test_compact_kill_9_resume_restore(spark, tmp_path: Path, step: str, n: int) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "lake"
    build_parquet(root)
    cfg = compact_config()
    _, path = _plan(root, tmp_path, cfg)
    table_dir = root / "events/clicks"
    rows_before = _rows(spark, table_dir)
    before = tree(root)
    proc = subprocess.run([sys.executable, "-c", RUNNER, str(path), step, str(n)], cwd=REPO, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == -signal.SIGKILL, proc.stdout + proc.stderr[-3000:]
    (run_id,) = list_runs(LocalStorage(), parse(str(root)))
    q = root / "_rotscan/quarantine" / run_id
    quarantined = {p.relative_to(q).as_posix(): _sha(p) for p in q.rglob("*.parquet")}
    for rel, (sha, _) in before.items():  # every original is in place or whole in quarantine
        assert ((root / rel).exists() and _sha(root / rel) == sha) or quarantined.get(rel) == sha, rel
    assert all(before[rel][0] == sha for rel, sha in quarantined.items())  # nothing half-copied

    report = apply_plan(read_plan(path), context(cfg, spark_factory=lambda need: spark), execute=True)
    (res,) = report.planned
    assert report.resumed and report.run_id == run_id and res.status == "done", res.reason
    assert len(list(table_dir.rglob("*.parquet"))) == 2 and _rows(spark, table_dir) == rows_before
    assert restore_run(context(cfg, spark_factory=lambda need: spark), [parse(str(root))], run_id).ok
    assert tree(root) == before


def _delta_lake(spark, root: Path) -> Path:  # type: ignore[no-untyped-def]
    t = root / "warehouse/events"
    spark.range(0, 700).selectExpr("id", "cast(id % 7 as string) as k").repartition(70).write.format("delta") \
        .save(str(t))
    # written a second before the scan at least: findings.json keeps whole seconds, and the plan
    # (conservatively) treats a file from the scan's own second as modified after the scan
    age(root, 1)
    return t


def test_compact_delta_killed_after_optimize_committed(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Killed after OPTIMIZE committed, before the journal said so: the resumed run finds its own
    commit (userMetadata) instead of compacting again, and restore puts the original files back."""
    root = tmp_path / "lake"
    t = _delta_lake(spark, root)
    storage = LocalStorage()
    live = {str(a.path) for a in read_snapshot(storage, parse(str(t))).adds.values()}
    cfg = compact_config(min_age_hours=0.0)
    _, path = _plan(root, tmp_path, cfg)
    runner = RUNNER.replace("compact_config()", "compact_config(min_age_hours=0.0)")
    proc = subprocess.run([sys.executable, "-c", runner, str(path), "optimized", "1"], cwd=REPO, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == -signal.SIGKILL, proc.stdout + proc.stderr[-3000:]
    assert read_snapshot(storage, parse(str(t))).version == 1  # OPTIMIZE did commit
    ctx = context(cfg, spark_factory=lambda need: spark)
    report = apply_plan(read_plan(path), ctx, execute=True)
    (res,) = report.planned
    assert report.resumed and res.status == "done", res.reason
    assert res.details is not None and (res.details["version_before"], res.details["version_after"]) == (0, 1)
    assert read_snapshot(storage, parse(str(t))).version == 1  # not compacted twice
    assert restore_run(ctx, [parse(str(root))], report.run_id).ok
    back = read_snapshot(storage, parse(str(t)))
    assert back.version == 2 and {str(a.path) for a in back.adds.values()} == live


def test_compact_delta_optimize_and_restore(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "lake"
    t = _delta_lake(spark, root)
    storage = LocalStorage()
    snap = read_snapshot(storage, parse(str(t)))
    live = {p: _sha(Path(parse(p).path)) for p in (str(a.path) for a in snap.adds.values())}
    assert len(live) == 70
    rows = sorted(tuple(r) for r in spark.read.format("delta").load(str(t)).collect())
    cfg = compact_config(min_age_hours=0.0)  # just written
    plan, path = _plan(root, tmp_path, cfg)
    ctx = context(cfg, spark_factory=lambda need: spark)
    assert "would run Delta OPTIMIZE on version 0" in apply_plan(read_plan(path), ctx, execute=False).planned[0].reason
    assert read_snapshot(storage, parse(str(t))).version == 0

    done = apply_plan(read_plan(path), ctx, execute=True)
    (res,) = done.planned
    assert res.status == "done", res.reason
    assert res.details is not None and (res.details["version_before"], res.details["version_after"]) == (0, 1)
    assert res.details["files_after"] == 1 and res.details["files_before"] == 70
    after = read_snapshot(storage, parse(str(t)))
    assert after.version == 1 and len(after.adds) == 1
    assert sorted(tuple(r) for r in spark.read.format("delta").load(str(t)).collect()) == rows
    assert all(Path(parse(p).path).exists() for p in live)  # OPTIMIZE keeps the old files for time travel

    restored = restore_run(ctx, [parse(str(root))], done.run_id)
    assert restored.ok, [r.to_dict() for r in restored.actions]
    back = read_snapshot(storage, parse(str(t)))
    assert back.version == 2 and back.last_operation == "RESTORE"
    assert {str(a.path): _sha(Path(a.path.path)) for a in back.adds.values()} == live  # the very files, byte for byte
    assert sorted(tuple(r) for r in spark.read.format("delta").load(str(t)).collect()) == rows
    # a second restore changes nothing
    again = restore_run(ctx, [parse(str(root))], done.run_id)
    assert again.ok and read_snapshot(storage, parse(str(t))).version == 2

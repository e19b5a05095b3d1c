"""Planning and dry-running ``compact`` without a JVM: a ``small_files`` finding becomes a compact
action with its format, partition columns and target size; the dry run changes nothing; what
compaction cannot rewrite safely is refused; the originals are the data files with their .crc."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from rotscan.cleanup.apply import apply_plan
from rotscan.cleanup.compact import originals
from rotscan.cleanup.fingerprint import FileState, Fingerprint
from rotscan.cleanup.plan import read_plan
from rotscan.config import load_config
from rotscan.findings_io import write_findings
from rotscan.runtime import Runtime
from rotscan.scan import run_scan

from .cleanup_support import context, plan_and_load, tree
from .lakes import age, table


def _lake(root: Path, summary: bool = False) -> None:
    for region, offset in (("eu", 0), ("us", 1000)):
        d = root / "events/clicks" / f"region={region}"
        d.mkdir(parents=True)
        for i in range(40):
            pq.write_table(table(5, offset=offset + i * 5), d / f"part-{i:05d}.parquet")
    if summary:
        (root / "events/clicks/_common_metadata").write_bytes(b"PAR1")
    age(root, 5)


def _plan(root: Path, work: Path):  # type: ignore[no-untyped-def]
    cfg = load_config(overrides={"scan": {"profile": False}})
    write_findings(run_scan([str(root)], Runtime(config=cfg)), work / "scan")
    return plan_and_load(work / "scan", work / "plan.json", cfg)


def test_small_files_become_a_compact_action_and_the_dry_run_changes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    _lake(root)
    plan, _ = _plan(root, tmp_path)
    (a,) = plan.actions
    assert (a.action, a.rel, a.kinds) == ("compact", "events/clicks", ("small_files",))
    assert a.details == {"format": "parquet", "partition_columns": ["region"], "target_file_bytes": 134_217_728,
                         "files_before": 80, "files_after": 2}
    before = tree(root, skip_state=False)
    (res,) = apply_plan(read_plan(tmp_path / "plan.json"), context(), execute=False).planned
    assert res.status == "done" and res.reason.startswith("dry run: would rewrite 80 file(s) with Spark into about 2")
    assert tree(root, skip_state=False) == before and not (root / "_rotscan").exists()


def test_summary_files_are_refused_at_plan_time(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    _lake(root, summary=True)
    plan, _ = _plan(root, tmp_path)
    assert not plan.actions
    (np,) = plan.not_planned
    assert "Parquet summary files" in np["reason"] and "_common_metadata" in np["reason"]


def test_originals_are_the_data_files_and_their_crc() -> None:
    fp = Fingerprint(is_dir=True, files=(
        FileState("_SUCCESS", 0, 1.0), FileState("a=1/.part-0.parquet.crc", 12, 1.0),
        FileState("a=1/part-0.parquet", 100, 1.0), FileState("a=1/part-1.parquet", 100, 1.0),
        FileState("_temporary/0/x.parquet", 5, 1.0), FileState(".hidden", 1, 1.0)))
    assert [f.rel for f in originals(fp)] == ["a=1/part-0.parquet", "a=1/.part-0.parquet.crc", "a=1/part-1.parquet"]

"""``archive`` on a real local lake (no JVM): a retention policy whose action is archive, an archive
location per root, dry run changes nothing, execute moves the datasets (copy, verify, delete) and
reports the monthly cost saved, restore gives back the identical tree; every refusal (no location,
a target inside a root / a live table / holding data, a plan naming another target); kill -9
mid-archive, resume, restore."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from rotscan.cleanup.apply import apply_plan
from rotscan.cleanup.archive import ArchiveSettings
from rotscan.cleanup.audit import read_audit, summarize_audit
from rotscan.cleanup.journal import list_runs
from rotscan.cleanup.plan import read_plan
from rotscan.cleanup.restore import restore_run
from rotscan.config import Config, load_config
from rotscan.errors import ConfigError
from rotscan.findings_io import write_findings
from rotscan.runtime import Runtime
from rotscan.scan import run_scan
from rotscan.storage.local import LocalStorage
from rotscan.uri import parse

from .cleanup_support import context, plan_and_load, reseal, tree, write_fake_delta
from .lakes import age, table

REPO = Path(__file__).resolve().parents[1]


def archive_config(root: Path, archive: dict[str, Any], **report: Any) -> Config:
    """Metadata-only scans; datasets under raw/ expire after a year and are archived."""
    return load_config(overrides={
        "scan": {"profile": False},
        "obsolete": {"retention": [{"glob": "raw/*", "max_age_days": 365, "action": "archive"}]},
        "cleanup": {"archive": archive},
        "report": report,
    })


def build_lake(root: Path) -> None:
    for name, offset in (("events_2019", 0), ("events_2020", 1000)):
        for part in ("a", "b"):
            d = root / "raw" / name / f"region={part}"
            d.mkdir(parents=True)
            for i in range(6):
                pq.write_table(table(20, offset=offset + i * 20), d / f"part-{i:05d}.parquet")
    (root / "raw/codes.csv").write_text("code,label\n" + "".join(f"{i},label {i}\n" for i in range(40)))
    (root / "warehouse/orders").mkdir(parents=True)
    pq.write_table(table(50, offset=5000), root / "warehouse/orders/part-00000.parquet")
    age(root, 400)


def scan_and_plan(root: Path, work: Path, cfg: Config) -> tuple[Any, Path]:
    result = run_scan([str(root)], Runtime(config=cfg))
    write_findings(result, work / "scan")
    plan, _ = plan_and_load(work / "scan", work / "plan.json", cfg)
    return plan, work / "plan.json"


@pytest.fixture()
def lake(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "lake"
    root.mkdir()
    build_lake(root)
    archive = tmp_path / "cold"
    archive.mkdir()
    return root, archive


def test_archive_dry_run_execute_restore(lake, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root, cold = lake
    # the archive location is priced as Glacier Instant Retrieval: what moving there saves is known
    cfg = archive_config(root, {str(root): str(cold / "lake")}, storage_classes={str(cold): "glacier_ir"})
    plan, path = scan_and_plan(root, tmp_path, cfg)
    assert sorted(a.rel for a in plan.actions) == ["raw/codes.csv", "raw/events_2019", "raw/events_2020"]
    assert {a.action for a in plan.actions} == {"archive"}
    by_rel = {a.rel: a for a in plan.actions}
    d = by_rel["raw/events_2019"].details
    assert d["target"] == f"file:{cold}/lake/raw/events_2019"
    assert (d["source_class"], d["target_class"], d["storage_class"]) == ("standard", "glacier_ir", None)
    expect = by_rel["raw/events_2019"].bytes / 1e9 * (0.023 - 0.004)
    assert d["monthly_cost_saved"] == pytest.approx(expect, abs=1e-6) and d["monthly_cost_saved"] > 0

    before, cold_before = tree(root, skip_state=False), tree(cold)
    dry = apply_plan(read_plan(path), context(cfg), execute=False)
    assert [a.status for a in dry.planned] == ["done"] * 3
    assert all(a.reason.startswith("dry run: would archive") and "saves" in a.reason for a in dry.planned)
    assert tree(root, skip_state=False) == before and tree(cold) == cold_before  # nothing changed anywhere

    report = apply_plan(read_plan(path), context(cfg), execute=True)
    assert all(a.status == "done" for a in report.planned), [a.to_dict() for a in report.planned]
    assert not (root / "raw/events_2019").exists() and not (root / "raw/codes.csv").exists()
    assert (root / "warehouse/orders/part-00000.parquet").exists()
    for rel, (sha, mtime) in before.items():
        if rel.startswith("raw/") and not rel.endswith("/"):
            assert tree(cold / "lake")[rel] == (sha, mtime)  # byte for byte, mtime kept
    js = report.to_dict()["actions"]
    done = {a["uri"]: a for a in js}
    saved = done[f"file:{root}/raw/events_2019"]["details"]["monthly_cost_saved"]
    assert saved == pytest.approx(expect, abs=1e-6)
    assert "saves" in done[f"file:{root}/raw/events_2019"]["reason"]

    # the audit log counts archived bytes on their own, never as reclaimed
    records = read_audit(LocalStorage(), parse(str(root)))
    (run,) = [r for r in summarize_audit(records, str(root)) if r.run_id == report.run_id]
    assert run.nbytes("archived") == sum(a.bytes for a in report.planned) and run.count("archived") == 3
    assert run.nbytes("quarantined") == 0 and run.reclaimed_bytes == 0
    assert run.monthly_saved == pytest.approx(sum(a.details["monthly_cost_saved"] for a in report.planned))
    assert run.to_dict()["bytes"]["archived"] == run.nbytes("archived")

    restored = restore_run(context(cfg), [parse(str(root))], report.run_id)
    assert restored.ok, [a.to_dict() for a in restored.actions]
    assert tree(root) == {k: v for k, v in before.items() if not k.startswith("_rotscan")}
    assert not any(p.is_file() for p in cold.rglob("*"))  # archived copies moved back, empty dirs gone
    records = read_audit(LocalStorage(), parse(str(root)))
    (run,) = [r for r in summarize_audit(records, str(root)) if r.run_id == report.run_id]
    assert run.nbytes("unarchived") == run.nbytes("archived") and run.nbytes("restored") == 0
    assert run.monthly_saved == pytest.approx(0.0, abs=1e-9)


def test_archive_refusals(lake, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root, cold = lake
    # no archive location: planned as nothing, with the reason
    plan, _ = scan_and_plan(root, tmp_path / "a", archive_config(root, {}))
    assert not plan.actions
    assert {r["reason"] for r in plan.not_planned} == {"refused: no archive location is configured for this path "
                                                       "([cleanup.archive])"}
    # a target inside the scanned root (not under _rotscan/) would be scanned as data again
    plan, _ = scan_and_plan(root, tmp_path / "b", archive_config(root, {str(root / "raw"): str(root / "cold")}))
    assert not plan.actions and all("inside the scanned root" in r["reason"] for r in plan.not_planned)
    # a target inside a live Delta table
    write_fake_delta(cold / "table")
    plan, _ = scan_and_plan(root, tmp_path / "c", archive_config(root, {str(root): str(cold / "table/arch")}))
    assert not plan.actions and all("inside the live Delta table" in r["reason"] for r in plan.not_planned)
    # a target that already holds data: that one path is refused, the others are planned
    (cold / "busy/raw/events_2020").mkdir(parents=True)
    (cold / "busy/raw/events_2020/x.parquet").write_bytes(b"PAR1")
    plan, path = scan_and_plan(root, tmp_path / "d", archive_config(root, {str(root): str(cold / "busy")}))
    assert sorted(a.rel for a in plan.actions) == ["raw/codes.csv", "raw/events_2019"]
    (refused,) = [r for r in plan.not_planned if "already holds data" in r["reason"]]
    assert refused["uri"].endswith("raw/events_2020")
    # under the root's own _rotscan/ is fine (never scanned)
    plan, _ = scan_and_plan(root, tmp_path / "e", archive_config(root, {str(root): str(root / "_rotscan/archive")}))
    assert len(plan.actions) == 3

    # apply refuses again whatever the plan says: data appears at the target after planning ...
    cfg = archive_config(root, {str(root): str(cold / "busy")})
    (cold / "busy/raw/codes.csv").parent.mkdir(parents=True, exist_ok=True)
    (cold / "busy/raw/codes.csv").write_text("other data\n")
    before = tree(root)
    res = {a.uri.rsplit("/", 1)[-1]: a for a in apply_plan(read_plan(path), context(cfg), execute=True).planned}
    assert res["codes.csv"].status == "skipped" and "already holds data" in res["codes.csv"].reason
    assert res["events_2019"].status == "done"
    assert (cold / "busy/raw/codes.csv").read_text() == "other data\n"  # never overwritten
    assert (root / "raw/codes.csv").exists()
    # ... and a plan whose target was rewritten (checksum resealed) is refused
    doc = json.loads(path.read_text())
    doc["actions"] = [reseal({**a, "details": {**a["details"], "target": f"file:{tmp_path}/elsewhere"}})
                      for a in doc["actions"] if a["rel"] == "raw/codes.csv"]
    path.write_text(json.dumps(doc))
    (cold / "busy/raw/codes.csv").unlink()
    (res2,) = apply_plan(read_plan(path), context(cfg), execute=True).planned
    assert res2.status == "skipped" and "is not under any configured archive location" in res2.reason
    assert not (tmp_path / "elsewhere").exists()
    assert tree(root)["raw/codes.csv"] == before["raw/codes.csv"]


@pytest.mark.parametrize(("archive", "message"), [
    ({"/data/lake": "s3a://bucket/archive"}, "another filesystem"),
    ({"/data/lake": "/data/lake/cold"}, "overlaps the data"),
    ({"/data/lake": {"target": "/archive", "storage_class": "glacier_ir"}}, "S3 feature"),
    ({"s3a://b/lake": {"target": "s3a://c/a", "storage_class": "glacier"}}, "restore request"),
    ({"s3a://b/lake": {"target": "s3a://c/a", "storage_class": "frozen"}}, "unknown storage class"),
    ({"relative/path": "/archive"}, "not an absolute path"),
    ({"/data/lake": {"where": "/archive"}}, "give a target"),
])
def test_archive_config_errors(archive: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ArchiveSettings.from_config(load_config(overrides={"cleanup": {"archive": archive}}))


def test_archive_settings_longest_prefix() -> None:
    s = ArchiveSettings.from_config(load_config(overrides={"cleanup": {"archive": {
        "s3://lake/raw": {"target": "s3a://cold/raw", "storage_class": "GLACIER_IR"},
        "s3a://lake": "s3a://cold/all"}}}))
    loc = s.location_for(parse("s3a://lake/raw/events/2019"))
    assert loc is not None and loc.storage_class == "glacier_ir"
    assert str(loc.target_of(parse("s3a://lake/raw/events/2019"))) == "s3a://cold/raw/events/2019"
    other = s.location_for(parse("s3a://lake/gold/t"))
    assert other is not None and str(other.target_of(parse("s3a://lake/gold/t"))) == "s3a://cold/all/gold/t"
    assert s.location_for(parse("s3a://elsewhere/t")) is None


RUNNER = """
import os, signal, sys
from pathlib import Path
from rotscan.cleanup.apply import apply_plan
from rotscan.cleanup.plan import read_plan
from tests.cleanup_support import context
from tests.test_cleanup_archive import archive_config

plan, root, cold, step, n = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4], int(sys.argv[5])

def hook(s, k):
    if s == step and k == n:
        os.kill(os.getpid(), signal.SIGKILL)

apply_plan(read_plan(Path(plan)), context(archive_config(root, {str(root): str(cold)}), fault_hook=hook), execute=True)
print("finished without being killed")
"""


@pytest.mark.parametrize(("step", "n"), [("intent", 3), ("copied", 14), ("moved", 20)])
def test_archive_kill_9_resume_restore(lake, tmp_path: Path, step: str, n: int) -> None:  # type: ignore[no-untyped-def]
    root, cold = lake
    cfg = archive_config(root, {str(root): str(cold)})
    plan, path = scan_and_plan(root, tmp_path, cfg)
    assert sum(len(a.fingerprint.files) for a in plan.actions) == 25
    before = tree(root)
    proc = subprocess.run([sys.executable, "-c", RUNNER, str(path), str(root), str(cold), step, str(n)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stdout + proc.stderr

    def nothing_lost() -> None:
        now, archived = tree(root), tree(cold)
        for rel, (sha, _) in before.items():
            if not rel.endswith("/"):
                assert now.get(rel, (None,))[0] == sha or archived.get(rel, (None,))[0] == sha, f"lost: {rel}"
        for rel, (sha, _) in archived.items():  # nothing half-copied at the archive
            assert rel.endswith("/") or before[rel][0] == sha, f"half-copied: {rel}"

    nothing_lost()
    report = apply_plan(read_plan(path), context(cfg), execute=True)
    (run_id,) = list_runs(LocalStorage(), parse(str(root)))
    assert report.resumed and report.run_id == run_id
    assert all(a.status == "done" for a in report.planned), [a.to_dict() for a in report.planned]
    nothing_lost()
    assert not (root / "raw").exists() or not any(p.is_file() for p in (root / "raw").rglob("*"))
    assert sum(a.files for a in report.planned) == 25
    assert restore_run(context(cfg), [parse(str(root))], run_id).ok
    assert tree(root) == before

"""Building a cleanup plan from a scan (no JVM): one action per path, reasons, fingerprints,
per-action checksums, and what is not planned and why."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from rotscan.cleanup.plan import PlanError, read_plan

from .cleanup_support import build_cleanup_lake, config, plan_and_load, rel_of, scan_lake


@pytest.fixture()
def lake(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "lake"
    root.mkdir()
    build_cleanup_lake(root, bulk_files=30)
    out = scan_lake(root, tmp_path / "scan")
    return root, out


def test_one_action_per_path_with_reason_ids_bytes_and_fingerprint(lake, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root, out = lake
    plan, loaded = plan_and_load(out, tmp_path / "plan.json")
    by_rel = {rel_of(a.uri, root): a for a in plan.actions}
    assert by_rel["exports/.DS_Store"].action == "delete"
    assert by_rel["tmp/bulk_dump"].action == "quarantine"
    bulk = by_rel["tmp/bulk_dump"]
    assert len(bulk.fingerprint.files) == 30 and bulk.fingerprint.is_dir
    assert bulk.bytes == sum(f.size for f in bulk.fingerprint.files) > 0
    assert bulk.finding_ids and bulk.reason.startswith("tiny:")
    assert len({a.uri for a in plan.actions}) == len(plan.actions)
    doc = json.loads((tmp_path / "plan.json").read_text())
    assert doc["roots"] == [f"file:{root}"] and doc["scan"]["id"] and doc["tool_version"]
    assert all(len(a["checksum"]) == 64 for a in doc["actions"])
    assert all(la.tampered is None for la in loaded.actions)


def test_review_findings_are_listed_not_actioned_unless_asked(lake, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root, out = lake
    plan, _ = plan_and_load(out, tmp_path / "plan.json")
    review = {rel_of(r["uri"], root) for r in plan.needs_review}
    assert "exports/not_really.csv" in review
    assert "exports/not_really.csv" not in {rel_of(a.uri, root) for a in plan.actions}
    plan2, _ = plan_and_load(out, tmp_path / "plan2.json", include_review=True)
    assert "exports/not_really.csv" in {rel_of(a.uri, root) for a in plan2.actions}


def test_a_file_inside_a_delta_table_is_not_planned(lake, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root, out = lake
    plan, _ = plan_and_load(out, tmp_path / "plan.json")
    skipped = {rel_of(r["uri"], root): r["reason"] for r in plan.not_planned}
    assert "inside the live Delta table" in skipped["warehouse/fake_delta/.DS_Store"]


def test_protected_paths_are_never_planned(lake, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root, out = lake
    plan, _ = plan_and_load(out, tmp_path / "plan.json", cfg=config(protect=["exports/**", "tmp/bulk_dump/batch=3/*"]))
    planned = {rel_of(a.uri, root) for a in plan.actions}
    assert not any(p.startswith("exports/") for p in planned)
    assert "tmp/bulk_dump" not in planned  # a directory holding a protected file is refused whole
    reasons = {rel_of(r["uri"], root): r["reason"] for r in plan.not_planned}
    assert "protect" in reasons["exports/.DS_Store"] and "protect" in reasons["tmp/bulk_dump"]


def test_a_stale_scan_makes_no_action(lake, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root, out = lake
    (root / "tmp/bulk_dump/batch=0/part-00000.csv").unlink()  # gone since the scan
    late = root / "tmp/scratch_sample/late.parquet"
    late.write_bytes(b"PAR1")  # written after the scan (a few seconds later)
    os.utime(late, (time.time() + 5, time.time() + 5))
    plan, _ = plan_and_load(out, tmp_path / "plan.json")
    reasons = {rel_of(r["uri"], root): r["reason"] for r in plan.not_planned}
    assert reasons["tmp/bulk_dump"].startswith("stale scan")
    assert reasons["tmp/scratch_sample"].startswith("stale scan")


def test_removing_actions_is_allowed_editing_one_is_detected(lake, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, out = lake
    plan_and_load(out, tmp_path / "plan.json")
    doc = json.loads((tmp_path / "plan.json").read_text())
    doc["actions"] = doc["actions"][:3]
    doc["actions"][1]["bytes"] = 1
    (tmp_path / "plan.json").write_text(json.dumps(doc))
    loaded = read_plan(tmp_path / "plan.json")
    assert [la.tampered is None for la in loaded.actions] == [True, False, True]
    doc["roots"] = ["file:/"]
    (tmp_path / "plan.json").write_text(json.dumps(doc))
    with pytest.raises(PlanError, match="header"):
        read_plan(tmp_path / "plan.json")


def test_symlinks_are_never_planned(lake, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root, out = lake
    os.symlink("/etc", root / "tmp/scratch_sample/escape")
    plan, _ = plan_and_load(out, tmp_path / "plan.json")
    reasons = {rel_of(r["uri"], root): r["reason"] for r in plan.not_planned}
    assert "symlink" in reasons["tmp/scratch_sample"]


def test_the_example_config_documents_every_cleanup_setting() -> None:
    import tomllib

    from rotscan.cleanup.safety import DEFAULTS, SafetyRules

    from .cleanup_support import config as make_config

    doc = tomllib.loads((Path(__file__).resolve().parents[1] / "conf/cleanup.example.toml").read_text())
    tables = {"archive"}  # [cleanup.archive]: documented in the example, checked by its own tests
    assert set(doc["cleanup"]) - tables == set(DEFAULTS) and tables <= set(doc["cleanup"])
    rules = SafetyRules.from_config(make_config(**doc["cleanup"]))
    assert rules.min_age_hours == 24.0 and rules.vacuum_mode == "quarantine"

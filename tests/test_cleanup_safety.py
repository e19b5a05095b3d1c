"""A tampered plan is refused at apply time, whatever its checksums say: paths outside the roots,
``..`` escapes, symlinks, the root itself, protected paths, Delta tables' files, edited actions."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from rotscan.cleanup.apply import apply_plan
from rotscan.cleanup.plan import read_plan

from .cleanup_support import (
    build_cleanup_lake,
    config,
    context,
    plan_and_load,
    rel_of,
    reseal,
    scan_lake,
    tree,
)


@pytest.fixture()
def planned(tmp_path: Path) -> tuple[Path, Path, dict[str, Any]]:
    root = tmp_path / "lake"
    root.mkdir()
    build_cleanup_lake(root, bulk_files=20)
    out = scan_lake(root, tmp_path / "scan")
    plan_and_load(out, tmp_path / "plan.json")
    doc = json.loads((tmp_path / "plan.json").read_text())
    return root, tmp_path / "plan.json", doc


def _one(doc: dict[str, Any], root: Path, rel: str) -> dict[str, Any]:
    return next(a for a in doc["actions"] if rel_of(a["uri"], root) == rel)


def _apply_one(path: Path, doc: dict[str, Any], action: dict[str, Any], cfg=None) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    doc = {**doc, "actions": [action]}
    path.write_text(json.dumps(doc))
    report = apply_plan(read_plan(path), context(cfg), execute=True)
    assert len(report.planned) == 1
    return report.planned[0].to_dict()


@pytest.mark.parametrize("target", [
    "file:/etc/passwd",  # outside the root
    "{root}/../outside.txt",  # .. escape
    "file:{root}/tmp/%2E%2E/%2E%2E/outside.txt",  # encoded ..
    "{root}",  # the root itself
    "{root}/_rotscan/audit.jsonl",  # rotscan's own state
    "s3://bucket{root}/exports/.DS_Store",  # another scheme/authority
])
def test_paths_outside_or_at_the_root_are_refused(planned, tmp_path: Path, target: str) -> None:  # type: ignore[no-untyped-def]
    root, path, doc = planned
    (tmp_path / "outside.txt").write_text("precious")
    before = tree(tmp_path, skip_state=False)
    action = _one(doc, root, "exports/.DS_Store")
    action["uri"] = target.format(root=root)
    result = _apply_one(path, doc, reseal(action))
    assert result["status"] == "skipped" and result["reason"].startswith("refused"), result
    assert (tmp_path / "outside.txt").read_text() == "precious"
    after = tree(tmp_path, skip_state=False)
    assert {k: v for k, v in after.items() if "_rotscan" not in k} == \
        {k: v for k, v in before.items() if "_rotscan" not in k and k != "plan.json"} | \
        {"plan.json": after["plan.json"]}


def test_a_symlink_escaping_the_root_is_refused(planned, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root, path, doc = planned
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "data.csv").write_text("a\n1\n")
    os.symlink(victim, root / "tmp/link_to_victim")
    action = _one(doc, root, "tmp/bulk_dump")
    action["uri"] = f"file:{root}/tmp/link_to_victim"
    action["rel"] = "tmp/link_to_victim"
    result = _apply_one(path, doc, reseal(action))
    assert result["status"] == "skipped" and "symlink" in result["reason"]
    assert (victim / "data.csv").read_text() == "a\n1\n"


def test_a_path_through_a_symlink_inside_the_root_is_refused(planned) -> None:  # type: ignore[no-untyped-def]
    root, path, doc = planned
    os.symlink(root / "tmp", root / "alias")
    action = _one(doc, root, "tmp/scratch_sample")
    action["uri"] = f"file:{root}/alias/scratch_sample"
    action["rel"] = "alias/scratch_sample"
    result = _apply_one(path, doc, reseal(action))
    assert result["status"] == "skipped" and "symlink" in result["reason"]
    assert (root / "tmp/scratch_sample/part-00000.parquet").exists()


def test_protect_at_apply_time_wins_over_the_plan(planned) -> None:  # type: ignore[no-untyped-def]
    root, path, doc = planned
    result = _apply_one(path, doc, _one(doc, root, "exports/.DS_Store"), cfg=config(protect=["exports/*"]))
    assert result["status"] == "skipped" and "protect" in result["reason"]
    assert (root / "exports/.DS_Store").exists()


def test_absolute_protect_globs(planned) -> None:  # type: ignore[no-untyped-def]
    root, path, doc = planned
    result = _apply_one(path, doc, _one(doc, root, "exports/.DS_Store"), cfg=config(protect=[f"{root}/exports/**"]))
    assert result["status"] == "skipped" and "protect" in result["reason"]


def test_files_inside_a_delta_table_are_refused(planned) -> None:  # type: ignore[no-untyped-def]
    root, path, doc = planned
    action = _one(doc, root, "exports/.DS_Store")
    live = root / "warehouse/fake_delta/part-00000-abc.snappy.parquet"
    action["uri"] = f"file:{live}"
    action["rel"] = "warehouse/fake_delta/part-00000-abc.snappy.parquet"
    st = live.stat()
    action["fingerprint"]["files"] = [["", st.st_size, round(st.st_mtime, 3)]]
    result = _apply_one(path, doc, reseal(action))
    assert result["status"] == "skipped" and "inside the live Delta table" in result["reason"]
    assert live.exists()


def test_a_directory_holding_another_table_is_refused(planned) -> None:  # type: ignore[no-untyped-def]
    root, path, doc = planned
    action = _one(doc, root, "tmp/bulk_dump")
    action["uri"] = f"file:{root}/warehouse"
    action["rel"] = "warehouse"
    result = _apply_one(path, doc, reseal(action))
    assert result["status"] == "skipped" and result["reason"].startswith("refused")
    assert "Delta table" in result["reason"] or "symlink" in result["reason"]
    assert (root / "warehouse/fake_delta/_delta_log/00000000000000000000.json").exists()


def test_an_edited_action_is_refused_the_rest_proceeds(planned) -> None:  # type: ignore[no-untyped-def]
    root, path, doc = planned
    a = _one(doc, root, "exports/.DS_Store")
    b = _one(doc, root, "exports/Thumbs.db")
    a["uri"] = f"file:{root}/exports/export_0.csv"  # pointed at a good file, checksum not recomputed
    doc = {**doc, "actions": [a, b]}
    path.write_text(json.dumps(doc))
    report = apply_plan(read_plan(path), context(), execute=True)
    first, second = (r.to_dict() for r in report.planned)
    assert first["status"] == "skipped" and "edited" in first["reason"]
    assert second["status"] == "done"
    assert (root / "exports/export_0.csv").exists() and not (root / "exports/Thumbs.db").exists()


def test_young_data_is_left_alone(planned) -> None:  # type: ignore[no-untyped-def]
    root, path, doc = planned
    result = _apply_one(path, doc, _one(doc, root, "exports/.DS_Store"), cfg=config(min_age_hours=24 * 365))
    assert result["status"] == "skipped" and "min_age_hours" in result["reason"]


def test_blast_radius_limits(planned) -> None:  # type: ignore[no-untyped-def]
    root, path, doc = planned
    report = apply_plan(read_plan(path), context(config(max_actions_per_run=2)), execute=True)
    statuses = [a.status for a in report.planned]
    assert statuses.count("done") == 2
    assert all("max_actions_per_run" in a.reason for a in report.planned if a.status == "skipped")
    report = apply_plan(read_plan(path), context(config(max_bytes_per_run=100)), execute=False)
    done = [a for a in report.planned if a.status == "done"]
    assert sum(a.bytes for a in done) <= 100
    assert any("max_bytes_per_run" in a.reason for a in report.planned)


def test_files_inside_an_iceberg_table_are_refused(planned) -> None:  # type: ignore[no-untyped-def]
    root, path, doc = planned
    ice = root / "warehouse/ice"
    (ice / "metadata").mkdir(parents=True)
    (ice / "metadata/v1.metadata.json").write_text("{}")
    (ice / "data").mkdir()
    junk = ice / "data/00000-0-abc.parquet"
    junk.write_bytes(b"")
    action = _one(doc, root, "exports/blank.csv")
    action["uri"] = f"file:{junk}"
    action["rel"] = "warehouse/ice/data/00000-0-abc.parquet"
    st = junk.stat()
    action["fingerprint"]["files"] = [["", 0, round(st.st_mtime, 3)]]
    result = _apply_one(path, doc, reseal(action), cfg=config(min_age_hours=0.0))
    assert result["status"] == "skipped" and "inside the live Iceberg table" in result["reason"]
    assert junk.exists()


def test_widened_roots_are_refused_even_with_a_recomputed_header(planned) -> None:  # type: ignore[no-untyped-def]
    from rotscan.cleanup.plan import PlanError, sha256_of

    root, path, doc = planned
    doc["roots"] = ["file:/"]
    header = {k: doc[k] for k in ("plan_id", "created", "tool_version", "scan", "roots")}
    doc["header_checksum"] = sha256_of(header)
    path.write_text(json.dumps(doc))
    with pytest.raises(PlanError, match="not the roots of the scan"):
        apply_plan(read_plan(path), context(), execute=True)

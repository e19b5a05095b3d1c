"""Revalidation against usage at apply time: a planned path that the usage sources saw read or
written after the scan is skipped with the event as the reason — on a real lake, with a Unity
Catalog lineage export that grows between the scan and the apply, as logs do."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from rotscan.cli import main
from rotscan.findings_io import write_findings
from rotscan.runtime import Runtime
from rotscan.scan import run_scan

from .cleanup_support import build_cleanup_lake, config, tree

HEADER = "source_table_full_name,source_path,target_table_full_name,target_path,entity_type,entity_id,created_by,event_time\n"


def _row(path: str, who: str, when: datetime, *, write: bool = False) -> str:
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    if write:
        return f",,,{path},JOB,42,{who},{stamp}\n"
    return f",{path},,,NOTEBOOK,7,{who},{stamp}\n"


def _setup(tmp_path: Path) -> tuple[Path, Path, Path, Path]:
    lake = tmp_path / "lake"
    lake.mkdir()
    build_cleanup_lake(lake, bulk_files=10)
    usage = tmp_path / "usage"
    usage.mkdir()
    log = usage / "table_lineage.csv"
    long_ago = datetime.now(timezone.utc) - timedelta(days=200)  # not a recent read: the tiny table stays ROT
    log.write_text(HEADER + _row(str(lake / "tmp/scratch_sample"), "bi-user", long_ago))
    out = tmp_path / "scan"
    write_findings(run_scan([str(lake)], Runtime(config=config()), usage_paths=[str(log)]), out)
    plan = tmp_path / "plan.json"
    r = CliRunner().invoke(main, ["plan", str(out), "--out", str(plan)], env={"ROTSCAN_SCAN__PROFILE": "false"})
    assert r.exit_code == 0, r.output
    return lake, log, out, plan


def _apply(plan: Path, tmp_path: Path, *args: str, cfg: str = "") -> dict[str, Any]:
    conf = tmp_path / "c.toml"
    conf.write_text('[usage]\nignore_actors = ["rotscan-svc"]\n[cleanup]\nmin_age_hours = 0.0\n' + cfg)
    r = CliRunner().invoke(main, ["apply", str(plan), "--json", "--config", str(conf), *args])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout.strip().splitlines()[-1])


def _by_rel(doc: dict[str, Any], lake: Path) -> dict[str, dict[str, Any]]:
    return {a["uri"][len(f"file:{lake}/"):]: a for a in doc["actions"] if a["planned"]}


def test_paths_used_after_the_scan_are_skipped(tmp_path: Path) -> None:
    lake, log, _, plan = _setup(tmp_path)
    header = json.loads(plan.read_text())["scan"]
    assert header["usage_sources"] == [{"kind": "audit_export", "path": str(log)}]
    before = _by_rel(_apply(plan, tmp_path), lake)
    assert before["tmp/scratch_sample"]["status"] == "done"  # the old read does not hold it back
    assert before["exports/.DS_Store"]["status"] == "done"

    soon = datetime.now(timezone.utc) + timedelta(seconds=1)
    with log.open("a") as fh:
        fh.write(_row(str(lake / "tmp/scratch_sample"), "bi-user", soon))  # read by a person: skip
        fh.write(_row(str(lake / "exports"), "rotscan-svc", soon))  # read by rotscan itself: not usage
        fh.write(_row(str(lake / "staging/nightly_load"), "etl", soon, write=True))  # written again: skip
        fh.write(_row(str(lake / "warehouse/orders"), "etl", soon))  # the table holding a planned file: skip
    snapshot = tree(lake)
    after = _by_rel(_apply(plan, tmp_path, "--execute"), lake)
    sample = after["tmp/scratch_sample"]
    assert sample["status"] == "skipped" and sample["reason"].startswith("used since the scan: read after the scan")
    assert "by bi-user" in sample["reason"]
    assert after["staging/nightly_load"]["status"] == "skipped" and "written after the scan" in \
        after["staging/nightly_load"]["reason"]
    crc = after["warehouse/orders/.part-00009-gone.snappy.parquet.crc"]
    assert crc["status"] == "skipped" and f"({lake.as_uri().replace('file://', 'file:')}/warehouse/orders)" in \
        crc["reason"]
    assert after["exports/.DS_Store"]["status"] == "done"  # rotscan's own read is ignored
    gone = {k for k, v in snapshot.items() if k not in tree(lake)}
    assert not any(k.startswith(("tmp/scratch_sample", "staging/nightly_load")) for k in gone)
    assert (lake / "tmp/scratch_sample").exists() and not (lake / "exports/.DS_Store").exists()


def test_extra_sources_given_to_apply_and_the_switch(tmp_path: Path) -> None:
    lake, _, _, plan = _setup(tmp_path)
    extra = tmp_path / "more.csv"
    extra.write_text(HEADER + _row(str(lake / "tmp/scratch_sample"), "analyst",
                                   datetime.now(timezone.utc) + timedelta(seconds=1)))
    got = _by_rel(_apply(plan, tmp_path, "--access-log", str(extra)), lake)
    assert got["tmp/scratch_sample"]["status"] == "skipped" and "by analyst" in got["tmp/scratch_sample"]["reason"]
    off = _by_rel(_apply(plan, tmp_path, "--access-log", str(extra), cfg="revalidate_usage = false\n"), lake)
    assert off["tmp/scratch_sample"]["status"] == "done"


def test_a_usage_source_gone_since_the_scan_is_a_warning(tmp_path: Path) -> None:
    lake, log, _, plan = _setup(tmp_path)
    log.unlink()
    conf = tmp_path / "c.toml"
    conf.write_text("[cleanup]\nmin_age_hours = 0.0\n")
    r = CliRunner().invoke(main, ["apply", str(plan), "--config", str(conf)])
    assert r.exit_code == 0, r.output
    assert "usage since the scan" in r.output and "not found" in r.output

"""What a scan counts as vacuumable in a Delta table is what VACUUM would delete: files the current
version does not reference, older than the table's retention by mtime, and not tombstones the log
wrote within the retention (a file an overwrite has just removed stays for time travel)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pyarrow.parquet as pq

from rotscan.config import load_config
from rotscan.runtime import Runtime
from rotscan.scan import run_scan

from .lakes import age, table

DAY = 86400


def _delta(path: Path) -> None:
    (path / "_delta_log").mkdir(parents=True)
    for name in ("live", "just_removed", "removed_long_ago", "never_logged"):
        pq.write_table(table(2000, offset=len(name)), path / f"{name}.parquet")
    schema = json.dumps({"type": "struct", "fields": [{"name": "id", "type": "long", "nullable": True,
                                                       "metadata": {}}]})

    def add(name: str) -> dict:
        return {"add": {"path": f"{name}.parquet", "partitionValues": {}, "dataChange": True,
                        "size": (path / f"{name}.parquet").stat().st_size, "modificationTime": 0,
                        "stats": json.dumps({"numRecords": 2000})}}

    def remove(name: str, days_ago: float) -> dict:
        return {"remove": {"path": f"{name}.parquet", "dataChange": True,
                           "deletionTimestamp": int((time.time() - days_ago * DAY) * 1000)}}

    commits = [
        [{"protocol": {"minReaderVersion": 1, "minWriterVersion": 2}},
         {"metaData": {"id": "t", "format": {"provider": "parquet", "options": {}}, "schemaString": schema,
                       "partitionColumns": [], "configuration": {}, "createdTime": 0}},
         add("live"), add("just_removed"), add("removed_long_ago"), {"commitInfo": {"timestamp": 0, "operation": "WRITE"}}],
        [remove("removed_long_ago", 30), {"commitInfo": {"timestamp": 0, "operation": "DELETE"}}],
        [remove("just_removed", 0.01), {"commitInfo": {"timestamp": 0, "operation": "DELETE"}}],
    ]
    for v, actions in enumerate(commits):
        (path / "_delta_log" / f"{v:020d}.json").write_text("\n".join(json.dumps(a) for a in actions) + "\n")
    for name in ("live", "just_removed", "removed_long_ago", "never_logged"):
        age(path / f"{name}.parquet", 60)  # every data file written two months ago


def test_recent_tombstones_are_not_vacuumable_old_ones_and_untracked_files_are(tmp_path: Path) -> None:
    _delta(tmp_path / "lake" / "events")
    cfg = load_config(overrides={"scan": {"profile": False}, "obsolete": {"unvacuumed_min_bytes": 1}})
    result = run_scan([str(tmp_path / "lake")], Runtime(config=cfg))
    found = [f for f in result.findings if f.kind == "unvacuumed_history"]
    assert len(found) == 1, result.findings
    ev = found[0].evidence
    sizes = {n: (tmp_path / "lake/events" / f"{n}.parquet").stat().st_size for n in ("removed_long_ago", "never_logged")}
    assert (ev["vacuumable_files"], ev["vacuumable_bytes"]) == (2, sum(sizes.values()))

"""The periodic cleanup job (jobs/rotscan_cleanup_job.py): scan → plan → apply under a policy, in a
subprocess as spark-submit would run it (a metadata-only scan of a local lake needs no JVM)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from .cleanup_support import build_cleanup_lake, rel_of, tree

REPO = Path(__file__).resolve().parents[1]


def test_job_plans_dry_runs_then_applies_only_what_the_policy_allows(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    root.mkdir()
    build_cleanup_lake(root, bulk_files=10)
    env = {**os.environ, "ROTSCAN_SCAN__PROFILE": "false", "XDG_STATE_HOME": str(tmp_path / "state"),
           "PYTHONPATH": str(REPO)}
    job = [sys.executable, str(REPO / "jobs/rotscan_cleanup_job.py"), str(root), "--work", str(tmp_path / "work")]
    before = tree(root)
    dry = subprocess.run(job, env=env, capture_output=True, text=True, timeout=300)
    assert dry.returncode == 0, dry.stderr
    summary = json.loads(dry.stdout)
    assert summary["execute"] is False and summary["apply"]["dry_run"] is True
    assert tree(root) == before
    (step,) = (tmp_path / "work").iterdir()
    assert {p.name for p in step.iterdir()} == {"scan", "plan.json", "selected-plan.json", "apply.json", "run.json"}

    done = subprocess.run([*job, "--only", "delete", "--execute"], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    result = json.loads((Path(summary["dir"]) / "apply.json").read_text())
    assert result["dry_run"] is False
    planned = [a for a in result["actions"] if a["planned"]]
    assert planned and {a["action"] for a in planned} == {"delete"} and {a["status"] for a in planned} == {"done"}
    assert not (root / "exports/.DS_Store").exists()
    assert (root / "tmp/bulk_dump").exists()  # a tiny table in a scratch location waits for an approval
    assert all(rel_of(a["uri"], root) for a in result["actions"])
    assert any(h["uri"].endswith("tmp/bulk_dump") and "approval" in h["reason"] for h in summary["held"])

"""Cleanup end to end on a real lake (Parquet written by pyarrow, Delta by delta-spark), through the
CLI: scan → plan → dry run (nothing changes) → execute → restore (identical tree); Delta VACUUM with
DRY RUN, then executed within the table's retention; the same moves through Hadoop's FileSystem."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from rotscan.cleanup.apply import apply_plan
from rotscan.cleanup.context import CleanupContext
from rotscan.cleanup.journal import RunLayout, read_journal
from rotscan.cleanup.plan import read_plan
from rotscan.cleanup.restore import restore_run
from rotscan.config import Config, load_config
from rotscan.uri import parse

from ..cleanup_support import rel_of, tree
from ..lakes import age, build_trivial_lake
from .test_scan_e2e import write_delta_tables

pytestmark = pytest.mark.spark

CONF = """
[obsolete]
unvacuumed_min_bytes = 1
"""


def _cli():  # type: ignore[no-untyped-def]
    from rotscan.cli import main
    from rotscan.cli_cleanup import register

    return register(main)


def _cfg(**cleanup: object) -> Config:
    base = load_config(overrides={"spark": {"master": "local[2]", "shuffle_partitions": 2}})
    data = {k: dict(v) if isinstance(v, dict) else v for k, v in base.data.items()}
    data["cleanup"] = {**data["cleanup"], **cleanup}
    return Config(data, base.source)


@pytest.fixture(scope="module")
def lake(spark, tmp_path_factory):  # type: ignore[no-untyped-def]
    base = tmp_path_factory.mktemp("cleanup_e2e")
    root = base / "lake"
    root.mkdir()
    build_trivial_lake(root)
    write_delta_tables(spark, root)
    table = root / "warehouse/short_retention"
    spark.range(0, 200).write.format("delta").save(str(table))
    spark.sql(f"ALTER TABLE delta.`{table}` SET TBLPROPERTIES ('delta.deletedFileRetentionDuration' = 'interval 1 hours')")
    age(root, 10)
    # files of failed writes in the table directory: one older than the retention, one younger
    (table / "part-00099-orphan.snappy.parquet").write_bytes(os.urandom(4096))
    old = time.time() - 2 * 86400
    os.utime(table / "part-00099-orphan.snappy.parquet", (old, old))
    (table / "part-00098-young.snappy.parquet").write_bytes(os.urandom(2048))
    young = time.time() - 60  # younger than the 1-hour retention, older than the scan
    os.utime(table / "part-00098-young.snappy.parquet", (young, young))
    (base / "conf.toml").write_text(CONF)
    out = base / "scan"
    env = {"XDG_STATE_HOME": str(base / "state")}
    r = CliRunner().invoke(_cli(), ["scan", str(root), "--out", str(out), "--quiet", "--config", str(base / "conf.toml")],
                           env=env)
    assert r.exit_code == 0, r.output
    return root, out, base, env


def test_plan_dry_run_execute_restore_through_the_cli(lake, spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root, out, base, env = lake
    runner = CliRunner()
    main = _cli()
    plan_path = tmp_path / "plan.json"
    r = runner.invoke(main, ["plan", str(out), "--out", str(plan_path)], env=env)
    assert r.exit_code == 0, r.output
    plan = json.loads(plan_path.read_text())
    by_rel = {rel_of(a["uri"], root): a for a in plan["actions"]}
    # a whole Delta table (a subset of short_retention), log and checkpoint included
    assert by_rel["warehouse/appended"]["action"] == "quarantine"
    assert by_rel["warehouse/appended"]["fingerprint"]["delta_version"] == 11
    assert by_rel["warehouse/appended"]["related"] == [f"file:{root}/warehouse/short_retention"]
    # an empty Delta table committed in the last day is for review, not planned
    assert "warehouse/never_filled" in {rel_of(a["uri"], root) for a in plan["needs_review"]}
    assert by_rel["warehouse/short_retention"]["action"] == "vacuum"
    # the live tables: orders_delta's overwritten files look old by mtime, but the log removed them
    # minutes ago, so VACUUM keeps them for its 7-day retention: no finding, nothing planned
    assert "warehouse/orders_delta" not in by_rel and "warehouse/orders" not in by_rel
    # this test covers everything but VACUUM (next test)
    plan["actions"] = [a for a in plan["actions"] if a["action"] != "vacuum"]
    plan_path.write_text(json.dumps(plan))

    before = tree(root, skip_state=False)
    r = runner.invoke(main, ["apply", str(plan_path), "--json"], env=env)
    assert r.exit_code == 0, r.output
    dry = json.loads(r.stdout)
    assert dry["dry_run"] is True and all(a["status"] == "done" for a in dry["actions"] if a["planned"])
    assert tree(root, skip_state=False) == before

    before = tree(root)
    r = runner.invoke(main, ["apply", str(plan_path), "--execute", "--json"], env=env)
    assert r.exit_code == 0, r.output
    done = json.loads(r.stdout)
    assert [a["status"] for a in done["actions"] if a["planned"]] == ["done"] * len(plan["actions"])
    assert not (root / "warehouse/appended").exists()
    assert (root / "_rotscan/quarantine" / done["run_id"] / "warehouse/appended/_delta_log").is_dir()
    # live tables are untouched and still read
    assert spark.read.format("delta").load(str(root / "warehouse/orders_delta")).count() == 3000

    r = runner.invoke(main, ["restore", done["run_id"], "--root", str(root), "--json"], env=env)
    assert r.exit_code == 0, r.output
    assert tree(root) == before
    assert spark.read.format("delta").load(str(root / "warehouse/appended")).count() == 120


def _vacuum_plan(out: Path, root: Path, tmp_path: Path) -> Path:
    r = CliRunner().invoke(_cli(), ["plan", str(out), "--out", str(tmp_path / "plan.json")])
    assert r.exit_code == 0, r.output
    plan = json.loads((tmp_path / "plan.json").read_text())
    plan["actions"] = [a for a in plan["actions"] if a["action"] == "vacuum"]
    assert [rel_of(a["uri"], root) for a in plan["actions"]] == ["warehouse/short_retention"]
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    return tmp_path / "plan.json"


def test_vacuum_dry_run_then_quarantine_what_vacuum_lists(lake, spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root, out, _, _ = lake
    table = root / "warehouse/short_retention"
    plan_path = _vacuum_plan(out, root, tmp_path)
    before = tree(root)
    ctx = CleanupContext(config=_cfg(), user="tester", spark_factory=lambda _s3a: spark)
    (dry,) = apply_plan(read_plan(plan_path), ctx, execute=False).planned
    assert dry.status == "done" and dry.files == 1 and "VACUUM DRY RUN" in dry.reason and "retention 1 h" in dry.reason
    assert tree(root) == before

    report = apply_plan(read_plan(plan_path), ctx, execute=True)
    (res,) = report.planned
    assert res.status == "done" and res.files == 1 and res.bytes == 4096
    assert not (table / "part-00099-orphan.snappy.parquet").exists()
    assert (table / "part-00098-young.snappy.parquet").exists()  # younger than the retention: kept
    assert spark.read.format("delta").load(str(table)).count() == 200
    q = root / "_rotscan/quarantine" / report.run_id / "warehouse/short_retention/part-00099-orphan.snappy.parquet"
    assert q.stat().st_size == 4096
    assert restore_run(ctx, [parse(str(root))], report.run_id).ok
    assert tree(root) == before


def test_vacuum_mode_delta_runs_vacuum_and_records_what_it_deleted(lake, spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root, out, _, _ = lake
    table = root / "warehouse/short_retention"
    plan_path = _vacuum_plan(out, root, tmp_path)
    ctx = CleanupContext(config=_cfg(vacuum_mode="delta"), user="tester", spark_factory=lambda _s3a: spark)
    report = apply_plan(read_plan(plan_path), ctx, execute=True)
    (res,) = report.planned
    assert spark.read.format("delta").load(str(root / "warehouse/orders_delta")).count() == 3000
    assert res.status == "done" and "permanently" in res.reason and res.files == 1
    assert not (table / "part-00099-orphan.snappy.parquet").exists()
    assert (table / "part-00098-young.snappy.parquet").exists()
    assert spark.read.format("delta").load(str(table)).count() == 200
    records = read_journal(ctx.storage(parse(str(root))), RunLayout(parse(str(root)), report.run_id))
    (deleted,) = [r for r in records if r["op"] == "vacuum_deleted" and r["action_id"] == res.id]
    assert [f[0] for f in deleted["files"]] == ["part-00099-orphan.snappy.parquet"]
    audit = [json.loads(x) for x in (root / "_rotscan/audit.jsonl").read_text().splitlines()]
    assert audit[-1]["event"] == "vacuum" and audit[-1]["deleted"] == ["part-00099-orphan.snappy.parquet"]


def test_quarantine_and_restore_through_hadoop_filesystem(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The object-store code path (copy, verify, delete; one journal object per record) on Hadoop's
    local FileSystem."""
    from rotscan.findings_io import write_findings
    from rotscan.runtime import Runtime
    from rotscan.scan import run_scan
    from rotscan.spark.hadoop_fs import HadoopStorage

    from ..cleanup_support import build_cleanup_lake, plan_and_load

    root = tmp_path / "lake"
    root.mkdir()
    build_cleanup_lake(root, bulk_files=20)
    cfg = load_config(overrides={"scan": {"profile": False}})
    write_findings(run_scan([str(root)], Runtime(config=cfg)), tmp_path / "scan")
    plan_and_load(tmp_path / "scan", tmp_path / "plan.json")
    before = tree(root)
    hadoop = HadoopStorage(spark, "file")
    ctx = CleanupContext(config=cfg, user="tester", storage_factory=lambda _u: hadoop, force_copy=True)
    report = apply_plan(read_plan(tmp_path / "plan.json"), ctx, execute=True)
    assert report.planned and all(a.status == "done" for a in report.planned), [a.to_dict() for a in report.planned]
    assert (root / "_rotscan/runs" / report.run_id / "journal").is_dir()
    assert not (root / "tmp/bulk_dump").exists()
    assert restore_run(ctx, [parse(str(root))], report.run_id).ok
    assert tree(root) == before

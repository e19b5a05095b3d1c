"""Partition-level retention on a real partitioned Delta table written by delta-spark: scan → plan
→ dry run (table unchanged) → execute (the expired partitions gone from the live snapshot through
DELETE on the partition column, every newer row still there, VACUUM at the table's retention, so
the deleted files stay on disk) → restore (RESTORE TO VERSION AS OF the version before: the old
content back); a restore after another commit is refused; a run killed after the DELETE committed
is finished on resume, not deleted twice."""

from __future__ import annotations

import signal
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from rotscan.cleanup.apply import apply_plan
from rotscan.cleanup.audit import read_audit, summarize_audit
from rotscan.cleanup.plan import read_plan
from rotscan.cleanup.restore import restore_run
from rotscan.config import Config, load_config
from rotscan.crawl.delta_log import read_snapshot
from rotscan.findings_io import write_findings
from rotscan.runtime import Runtime
from rotscan.scan import run_scan
from rotscan.storage.local import LocalStorage
from rotscan.uri import parse

from ..cleanup_support import context, plan_and_load
from ..lakes import age

pytestmark = pytest.mark.spark

REPO = Path(__file__).resolve().parents[2]
TODAY = datetime.now(tz=timezone.utc).date()
OLD = [str(TODAY - timedelta(days=d)) for d in (300, 200, 120)]
NEW = [str(TODAY - timedelta(days=d)) for d in (10, 1)]


def retention_config() -> Config:
    return load_config(overrides={
        "scan": {"profile": False}, "cleanup": {"min_age_hours": 0.0},
        "obsolete": {"retention": [{"glob": "warehouse/**", "max_age_days": 90, "partition_column": "dt"}]},
        "spark": {"master": "local[2]", "shuffle_partitions": 2}})


def _delta_table(spark, root: Path) -> Path:  # type: ignore[no-untyped-def]
    t = root / "warehouse/events"
    days = OLD + NEW
    rows = [(i, f"it's {i}", days[i % len(days)]) for i in range(500)]
    spark.createDataFrame(rows, "id long, note string, dt string").repartition(2).write.format("delta") \
        .partitionBy("dt").save(str(t))
    age(root, 1)  # a second before the scan (findings.json keeps whole seconds)
    return t


def _rows(spark, t: Path) -> list[tuple[Any, ...]]:  # type: ignore[no-untyped-def]
    return sorted(tuple(r) for r in spark.read.format("delta").load(str(t)).collect())


def _plan(root: Path, work: Path, cfg: Config) -> Any:
    result = run_scan([str(root)], Runtime(config=cfg))
    assert [f.kind for f in result.findings] == ["expired_partitions"], [f.to_dict() for f in result.findings]
    write_findings(result, work / "scan")
    plan, _ = plan_and_load(work / "scan", work / "plan.json", cfg)
    return plan


def test_delta_partitions_deleted_vacuumed_and_restored(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "lake"
    t = _delta_table(spark, root)
    storage = LocalStorage()
    cfg = retention_config()
    before_rows = _rows(spark, t)
    plan = _plan(root, tmp_path, cfg)
    (a,) = plan.actions
    assert a.action == "drop_partitions" and a.details["mode"] == "delta"
    assert a.details["predicate"] == "`dt` IN (" + ", ".join(f"'{d}'" for d in sorted(OLD)) + ")"
    snap0 = read_snapshot(storage, parse(str(t)))
    expired_files = {str(x.path) for x in snap0.adds.values() if x.partition_values["dt"] in OLD}
    assert {f.rel for f in a.fingerprint.files} == {parse(p).relative_to(parse(str(t))) for p in expired_files}
    ctx = context(cfg, spark_factory=lambda need: spark)

    dry = apply_plan(read_plan(tmp_path / "plan.json"), ctx, execute=False)
    assert "would DELETE FROM the Delta table WHERE `dt` IN" in dry.planned[0].reason, dry.planned[0].reason
    assert read_snapshot(storage, parse(str(t))).version == snap0.version and _rows(spark, t) == before_rows

    done = apply_plan(read_plan(tmp_path / "plan.json"), ctx, execute=True)
    (res,) = done.planned
    assert res.status == "done", res.reason
    d = res.details or {}
    assert d["version_before"] == 0 and d["version_deleted"] == 1 and d["files_removed"] == len(expired_files)
    assert res.bytes == a.bytes
    after_rows = _rows(spark, t)
    assert after_rows == [r for r in before_rows if r[2] in NEW]  # every newer row still there, nothing else
    assert spark.read.format("delta").load(str(t)).where("dt IN ('" + "','".join(OLD) + "')").count() == 0
    live = {x.partition_values["dt"] for x in read_snapshot(storage, parse(str(t))).adds.values()}
    assert live == set(NEW)
    # VACUUM ran at the table's own 7-day retention: the deleted partitions' files are still on disk
    assert d["retention_hours"] == 168.0 and d["vacuum_deleted_files"] == 0
    assert all(Path(parse(p).path).exists() for p in expired_files)
    history = [r["operation"] for r in spark.sql(f"DESCRIBE HISTORY delta.`{t}`").collect()]
    assert "DELETE" in history
    (run,) = summarize_audit(read_audit(storage, parse(str(root))), str(root))
    assert run.count("partitions_deleted") == 1 and run.nbytes("partitions_deleted") == a.bytes
    assert run.reclaimed_bytes == 0  # nothing left storage yet: the files go with a VACUUM past the retention

    restored = restore_run(ctx, [parse(str(root))], done.run_id)
    assert restored.ok, [r.to_dict() for r in restored.actions]
    assert _rows(spark, t) == before_rows
    back = read_snapshot(storage, parse(str(t)))
    assert back.last_operation == "RESTORE" and {str(x.path) for x in back.adds.values()} == \
        {str(x.path) for x in snap0.adds.values()}
    again = restore_run(ctx, [parse(str(root))], done.run_id)
    assert again.ok and read_snapshot(storage, parse(str(t))).version == back.version


def test_delta_restore_refused_after_another_commit(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "lake"
    t = _delta_table(spark, root)
    cfg = retention_config()
    _plan(root, tmp_path, cfg)
    ctx = context(cfg, spark_factory=lambda need: spark)
    # a writer appends today's rows into a kept partition between plan and apply: the plan still applies
    spark.createDataFrame([(9001, "late", NEW[-1])], "id long, note string, dt string").write.format("delta") \
        .mode("append").save(str(t))
    done = apply_plan(read_plan(tmp_path / "plan.json"), ctx, execute=True)
    (res,) = done.planned
    assert res.status == "done", res.reason
    spark.createDataFrame([(9002, "later", NEW[-1])], "id long, note string, dt string").write.format("delta") \
        .mode("append").save(str(t))
    version = read_snapshot(LocalStorage(), parse(str(t))).version
    (r,) = restore_run(ctx, [parse(str(root))], done.run_id).actions
    assert r.status == "skipped" and "commit(s) after the partition delete" in r.reason, r.reason
    assert read_snapshot(LocalStorage(), parse(str(t))).version == version  # nothing undone


def test_delta_append_into_an_expired_partition_skips_the_action(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "lake"
    t = _delta_table(spark, root)
    cfg = retention_config()
    _plan(root, tmp_path, cfg)
    spark.createDataFrame([(9003, "backfill", OLD[0])], "id long, note string, dt string").write.format("delta") \
        .mode("append").save(str(t))
    rows = _rows(spark, t)
    (res,) = apply_plan(read_plan(tmp_path / "plan.json"), context(cfg, spark_factory=lambda need: spark),
                        execute=True).planned
    assert res.status == "skipped" and "expired partitions changed since the plan" in res.reason, res.reason
    assert _rows(spark, t) == rows


RUNNER = """
import os, signal, sys
from rotscan.cleanup.apply import apply_plan
from rotscan.cleanup.plan import read_plan
from tests.cleanup_support import context
from tests.spark.test_partition_retention import retention_config

step, count = sys.argv[2], int(sys.argv[3])

def hook(name, n):
    if name == step and n >= count:
        os.kill(os.getpid(), signal.SIGKILL)

apply_plan(read_plan(__import__("pathlib").Path(sys.argv[1])), context(retention_config(), fault_hook=hook),
           execute=True)
"""


def test_delta_killed_after_delete_committed_is_finished_on_resume(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "lake"
    t = _delta_table(spark, root)
    cfg = retention_config()
    before_rows = _rows(spark, t)
    _plan(root, tmp_path, cfg)
    proc = subprocess.run([sys.executable, "-c", RUNNER, str(tmp_path / "plan.json"), "deleted", "1"], cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == -signal.SIGKILL, proc.stdout + proc.stderr[-3000:]
    storage = LocalStorage()
    assert read_snapshot(storage, parse(str(t))).version == 1  # the DELETE did commit
    ctx = context(cfg, spark_factory=lambda need: spark)
    report = apply_plan(read_plan(tmp_path / "plan.json"), ctx, execute=True)
    (res,) = report.planned
    assert report.resumed and res.status == "done", res.reason
    assert (res.details or {})["version_deleted"] == 1
    assert _rows(spark, t) == [r for r in before_rows if r[2] in NEW]
    assert restore_run(ctx, [parse(str(root))], report.run_id).ok
    assert _rows(spark, t) == before_rows


def test_delta_date_and_integer_partition_columns(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A DATE partition column and integer year/month columns: the string literals of the predicate
    compare with Spark's own casts (ANSI on), and exactly the expired partitions go."""
    root = tmp_path / "lake"
    daily, monthly = root / "warehouse/daily", root / "warehouse/monthly"
    spark.sql("SELECT id, date_sub(current_date(), CAST(id * 40 AS INT)) AS dt FROM range(6)").write \
        .format("delta").partitionBy("dt").save(str(daily))
    months = [(2019, 1), (2019, 12), (TODAY.year, TODAY.month)]
    spark.createDataFrame([(i, y, m) for i, (y, m) in enumerate(months)], "id long, year int, month int").write \
        .format("delta").partitionBy("year", "month").save(str(monthly))
    age(root, 1)
    cfg = load_config(overrides={
        "scan": {"profile": False}, "cleanup": {"min_age_hours": 0.0},
        "obsolete": {"retention": [{"glob": "warehouse/daily", "max_age_days": 90, "partition_column": "dt"},
                                   {"glob": "warehouse/monthly", "max_age_days": 365,
                                    "partition_column": ["year", "month"]}]},
        "spark": {"master": "local[2]", "shuffle_partitions": 2}})
    result = run_scan([str(root)], Runtime(config=cfg))
    assert sorted(f.kind for f in result.findings) == ["expired_partitions", "expired_partitions"]
    write_findings(result, tmp_path / "scan")
    plan, _ = plan_and_load(tmp_path / "scan", tmp_path / "plan.json", cfg)
    preds = sorted(a.details["predicate"] for a in plan.actions)
    assert preds[0] == "(`year` = '2019' AND `month` = '1') OR (`year` = '2019' AND `month` = '12')"
    assert preds[1].startswith("`dt` IN (")
    done = apply_plan(read_plan(tmp_path / "plan.json"), context(cfg, spark_factory=lambda need: spark), execute=True)
    assert [r.status for r in done.planned] == ["done", "done"], [r.reason for r in done.planned]
    assert sorted(r[0] for r in spark.read.format("delta").load(str(daily)).collect()) == [0, 1, 2]  # 0-80 days
    assert [tuple(r) for r in spark.read.format("delta").load(str(monthly)).collect()] == \
        [(2, TODAY.year, TODAY.month)]


def test_sql_literals_round_trip_through_spark(spark) -> None:  # type: ignore[no-untyped-def]
    """What the predicate quotes is what Spark reads back, however odd the value."""
    from rotscan.cleanup.partitions import quote_identifier, quote_literal

    values = ["2024-01-01", "it's", "a\\b", "\\'", "''", "tab\there", "line\nbreak", "ünï", "`x`", "%2F", "a\\\\'b"]
    got = spark.sql("SELECT " + ", ".join(quote_literal(v) for v in values)).collect()[0]
    assert list(got) == values
    df = spark.createDataFrame([(1,)], "`we``ird` int")
    assert df.selectExpr(quote_identifier("we`ird")).collect()[0][0] == 1


def test_delta_write_between_the_check_and_the_delete_is_named_and_restored(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A row appended into an expired partition in the instant between apply's check and the DELETE
    is deleted with it (Delta's DELETE sees it): the result names that file, and restore brings it
    back with the rest."""
    root = tmp_path / "lake"
    t = _delta_table(spark, root)
    cfg = retention_config()
    _plan(root, tmp_path, cfg)

    def late_writer(step: str, n: int) -> None:
        if step == "delete":
            spark.createDataFrame([(9004, "just in time", OLD[1])], "id long, note string, dt string").write \
                .format("delta").mode("append").save(str(t))

    ctx = context(cfg, spark_factory=lambda need: spark, fault_hook=late_writer)
    done = apply_plan(read_plan(tmp_path / "plan.json"), ctx, execute=True)
    (res,) = done.planned
    assert res.status == "done" and "also removed 1 file(s) written into those partitions after the check" in \
        res.reason, res.reason
    assert (res.details or {})["version_before"] == 0 and (res.details or {})["version_deleted"] == 2
    with_late = sorted([*_rows_at(spark, t, 1)])
    assert (9004, "just in time", OLD[1]) in with_late
    restored = restore_run(context(cfg, spark_factory=lambda need: spark), [parse(str(root))], done.run_id)
    (r,) = restored.actions
    # the late append is a commit between the version before and the DELETE: RESTORE to version 0 would
    # undo it, so restore goes back to the version before the DELETE instead — with the late row
    assert r.status == "done", r.reason
    assert _rows(spark, t) == with_late


def _rows_at(spark, t: Path, version: int) -> list[tuple[Any, ...]]:  # type: ignore[no-untyped-def]
    return sorted(tuple(r) for r in spark.read.format("delta").option("versionAsOf", version).load(str(t)).collect())

"""Partition-level retention without a JVM: policies validated, partitions dated by their values
(never by file times), one ``expired_partitions`` finding per dataset, and the ``drop_partitions``
cleanup of real Hive-partitioned Parquet written with pyarrow — plan, dry run, execute, restore
byte for byte — with changed, tampered and out-of-dataset plans refused. Delta tables are detected
and planned here from a hand-written log; their DELETE/VACUUM/RESTORE runs in
``tests/spark/test_partition_retention.py``."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rotscan.cleanup.apply import apply_plan
from rotscan.cleanup.audit import read_audit, summarize_audit
from rotscan.cleanup.partitions import check_partition_path, predicate
from rotscan.cleanup.plan import load_plan_doc, read_plan
from rotscan.cleanup.restore import restore_run
from rotscan.cleanup.safety import Refused
from rotscan.config import Config, load_config
from rotscan.detect.obsolete import ObsoleteRules, RetentionPolicy
from rotscan.detect.partition_retention import period
from rotscan.errors import ConfigError
from rotscan.findings_io import read_findings, write_findings
from rotscan.models import Finding
from rotscan.report.evidence import EvidenceContext, explain
from rotscan.runtime import Runtime
from rotscan.scan import run_scan
from rotscan.storage.local import LocalStorage
from rotscan.uri import parse

from .cleanup_support import context, plan_and_load, reseal, tree
from .lakes import age, table

TODAY = datetime.now(tz=timezone.utc).date()
OLD = [TODAY - timedelta(days=d) for d in (400, 300, 200, 120)]  # past a 90-day policy
NEW = [TODAY - timedelta(days=d) for d in (30, 2, 0)]  # kept
POLICY = {"glob": "events/**", "max_age_days": 90, "partition_column": "dt"}


def cfg_with(*policies: dict[str, Any], **cleanup: Any) -> Config:
    return load_config(overrides={"scan": {"profile": False}, "obsolete": {"retention": list(policies)},
                                  "cleanup": cleanup})


def _write(d: Path, n: int, offset: int, files: int = 2) -> None:
    d.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        pq.write_table(table(n, offset=offset + i * n), d / f"part-{i:05d}.parquet")


def build_lake(root: Path) -> Path:
    """``events/clicks``: Hive-partitioned by dt, 4 old + 3 recent days, a null and an undated
    partition; every file's mtime is two days old (mtimes must not matter)."""
    t = root / "events/clicks"
    for i, day in enumerate(OLD + NEW):
        _write(t / f"dt={day.isoformat()}", 20, i * 100)
    _write(t / "dt=__HIVE_DEFAULT_PARTITION__", 5, 9000, files=1)
    _write(t / "dt=unknown", 5, 9100, files=1)
    # what Spark and people leave beside the data: checksums, markers, junk (moved with the partition)
    old = t / f"dt={OLD[0]}"
    (old / ".part-00000.parquet.crc").write_bytes(b"crc-" * 4)
    (old / "_SUCCESS").write_bytes(b"")
    (old / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1" + b"\x00" * 16)
    age(root, 2)
    return t


def scan(root: Path, out: Path, cfg: Config) -> Any:
    result = run_scan([str(root)], Runtime(config=cfg))
    write_findings(result, out)
    return result


def _size(d: Path) -> int:
    return sum(p.stat().st_size for p in d.rglob("*") if p.is_file())


def _data(d: Path) -> int:
    return sum(p.stat().st_size for p in d.glob("*.parquet"))


# -- config ------------------------------------------------------------------------------------

@pytest.mark.parametrize("entry, message", [
    ({**POLICY, "partition_column": ""}, "partition_column must be a column name"),
    ({**POLICY, "partition_column": ["year", "year"]}, "distinct columns"),
    ({**POLICY, "partition_column": ["a", "b", "c", "d"]}, "distinct columns"),
    ({**POLICY, "partition_column": 3}, "partition_column must be a column name"),
    ({**POLICY, "date_format": "DD.MM.YYYY"}, "date_format must be one of"),
    ({**POLICY, "action": "archive"}, "a partition-level policy's action is one of"),
    ({"glob": "x/**", "max_age_days": 3, "date_format": "YYYYMMDD"}, "date_format needs a partition_column"),
    ({**POLICY, "partition_column": ["year", "month"], "date_format": "YYYY-MM"}, "date_format is for one"),
    ({**POLICY, "partition_colum": "dt"}, "unknown key(s) partition_colum"),
    ({**POLICY, "max_age_days": "ninety"}, "max_age_days must be a number"),
    ({**POLICY, "max_age_days": -1}, "must not be negative"),
])
def test_bad_policies_are_clear_config_errors(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ObsoleteRules.from_config(cfg_with(entry))


def test_policies_parse() -> None:
    rules = ObsoleteRules.from_config(cfg_with(POLICY, {"glob": "logs/**", "max_age_days": 30,
                                                        "partition_column": ["year", "month"]},
                                               {"glob": "tmp/**", "max_age_days": 14, "action": "delete"}))
    assert rules.retention == (
        RetentionPolicy("events/**", 90.0, "quarantine", ("dt",), "YYYY-MM-DD"),
        RetentionPolicy("logs/**", 30.0, "quarantine", ("year", "month"), "YYYY-MM-DD"),
        RetentionPolicy("tmp/**", 14.0, "delete"),
    )
    assert [p.per_partition for p in rules.retention] == [True, True, False]


def test_periods_from_values() -> None:
    assert period(["2024-02-29"], "YYYY-MM-DD") == (date(2024, 2, 29), date(2024, 3, 1))
    assert period(["20241231"], "YYYYMMDD") == (date(2024, 12, 31), date(2025, 1, 1))
    assert period(["2024/01/31"], "YYYY/MM/DD") == (date(2024, 1, 31), date(2024, 2, 1))
    assert period(["2024-12"], "YYYY-MM") == (date(2024, 12, 1), date(2025, 1, 1))
    assert period(["202402"], "YYYYMM") == (date(2024, 2, 1), date(2024, 3, 1))
    assert period(["2024", "2", "29"], "YYYY-MM-DD") == (date(2024, 2, 29), date(2024, 3, 1))
    assert period(["2024", "07"], "YYYY-MM-DD") == (date(2024, 7, 1), date(2024, 8, 1))
    for bad in (["2023-02-29"], ["2024-13-01"], ["20240101"], ["yesterday"], [None], [""]):
        assert period(bad, "YYYY-MM-DD") is None, bad
    assert period(["2024", "x"], "YYYY-MM-DD") is None
    assert period(["2024-01-01"], "YYYYMMDD") is None


# -- detection ----------------------------------------------------------------------------------

def test_hive_partitions_dated_by_value_not_mtime(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    t = build_lake(root)
    result = scan(root, tmp_path / "scan", cfg_with(POLICY))
    (f,) = [f for f in result.findings if f.uri == str(parse(str(t)))]
    assert (f.category, f.kind, f.action) == ("obsolete", "expired_partitions", "quarantine")
    e = f.evidence
    assert [u["path"] for u in e["expired"]] == [f"dt={d.isoformat()}" for d in sorted(OLD)]
    assert [u["date"] for u in e["expired"]] == [d.isoformat() for d in sorted(OLD)]
    assert all(u["files"] == 2 and u["bytes"] == _data(t / u["path"]) for u in e["expired"])
    assert f.reclaimable_bytes == e["expired_bytes"] == sum(_data(t / f"dt={d}") for d in OLD)
    # junk inside an expired partition goes with it
    assert not [x for x in result.findings if x.kind == "junk_file"]
    assert (e["partitions"], e["expired_partitions"], e["kept_partitions"], e["undated_partitions"]) == (9, 4, 3, 2)
    assert e["newest_kept"] == TODAY.isoformat() and e["all_expired"] is False and e["layout"] == "hive"
    assert {u["path"] for u in e["undated"]} == {"dt=__HIVE_DEFAULT_PARTITION__", "dt=unknown"}
    assert {u["values"]["dt"] for u in e["undated"]} == {None, "unknown"}
    (w,) = [w for w in result.warnings if w.code == "retention_undated"]
    assert "2 partition(s) hold no YYYY-MM-DD date in dt" in w.message and "never expired" in w.message
    # the whole-dataset rule is not applied by a partition-level policy, whatever the mtimes say
    assert not [x for x in result.findings if x.kind == "expired"]
    # findings.json round trip keeps the evidence
    (back,) = [x for x in read_findings(tmp_path / "scan").findings if x.kind == "expired_partitions"]
    assert back.evidence == e


def test_partition_layouts_formats_and_notes(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    # the date column below another partition column: a partition is region=…/dt=…
    for region in ("eu", "us"):
        for i, day in enumerate((OLD[0], NEW[1])):
            _write(root / "events/by_region" / f"region={region}" / f"dt={day.strftime('%Y%m%d')}", 10, i * 50, 1)
    # split year/month columns, every month old: all partitions expired
    for i, (y, m) in enumerate(((2019, 1), (2019, 12), (2020, 6))):
        _write(root / "logs/app" / f"year={y}" / f"month={m}", 10, i * 10, 1)
    # not partitioned, and partitioned by something else: notes, no finding
    _write(root / "events/flat", 10, 0, 2)
    _write(root / "events/other/kind=a", 10, 0, 1)
    age(root, 2)
    cfg = cfg_with({**POLICY, "glob": "events/by_region", "date_format": "YYYYMMDD"},
                   {"glob": "logs/**", "max_age_days": 365, "partition_column": ["year", "month"]},
                   POLICY)
    result = scan(root, tmp_path / "scan", cfg)
    by = {parse(f.uri).relative_to(parse(str(root))): f for f in result.findings}
    region = by["events/by_region"].evidence
    assert [u["path"] for u in region["expired"]] == [f"region={r}/dt={OLD[0].strftime('%Y%m%d')}" for r in ("eu", "us")]
    assert region["expired"][0]["values"] == {"region": "eu", "dt": OLD[0].strftime("%Y%m%d")}
    logs = by["logs/app"]
    assert logs.evidence["all_expired"] is True and logs.evidence["date_format"] == "split"
    assert [u["path"] for u in logs.evidence["expired"]] == ["year=2019/month=1", "year=2019/month=12",
                                                             "year=2020/month=6"]
    assert "EVERY partition is expired" in logs.explanation
    assert "events/flat" not in by and "events/other" not in by
    codes = {(parse(w.uri).relative_to(parse(str(root))), w.code) for w in result.warnings if w.uri}
    assert ("events/flat", "retention_not_partitioned") in codes
    assert ("events/other", "retention_column_missing") in codes


def test_evidence_in_words(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    build_lake(root)
    result = scan(root, tmp_path / "scan", cfg_with(POLICY))
    (f,) = [f for f in result.findings if f.kind == "expired_partitions"]
    words = " ".join(explain(f, EvidenceContext(as_of=result.scan.as_of)))
    assert "keeps 90 days of partitions, dated by the value of dt (not by file times)" in words
    assert f"4 of 9 partition(s) are past it ({sorted(OLD)[0]} to {sorted(OLD)[-1]}): 8 files" in words
    assert "2 partition(s) hold no date in dt and are never expired" in words
    assert "moves the expired partition directories to quarantine" in words


# -- cleanup: Hive ------------------------------------------------------------------------------

def _planned(tmp_path: Path, cfg: Config) -> tuple[Path, Path, Any]:
    root = tmp_path / "lake"
    t = build_lake(root)
    scan(root, tmp_path / "scan", cfg)
    plan, _ = plan_and_load(tmp_path / "scan", tmp_path / "plan.json", cfg)
    return root, t, plan


def test_hive_plan_dry_run_execute_restore(tmp_path: Path) -> None:
    cfg = cfg_with(POLICY)
    root, t, plan = _planned(tmp_path, cfg)
    (a,) = plan.actions
    assert a.action == "drop_partitions" and a.kinds == ("expired_partitions",)
    assert [p["path"] for p in a.details["partitions"]] == [f"dt={d}" for d in sorted(OLD)]
    assert a.details["mode"] == "hive" and a.bytes == sum(_size(t / f"dt={d}") for d in OLD)
    assert sorted(f.rel for f in a.fingerprint.files) == sorted(
        [f"dt={d}/part-{i:05d}.parquet" for d in OLD for i in range(2)]
        + [f"dt={OLD[0]}/{n}" for n in (".part-00000.parquet.crc", "_SUCCESS", ".DS_Store")])
    before = tree(root)
    ctx = context(cfg)

    dry = apply_plan(read_plan(tmp_path / "plan.json"), ctx, execute=False)
    (res,) = dry.planned
    assert res.status == "done" and "would move 4 partition(s) to quarantine" in res.reason, res.reason
    assert tree(root) == before and not (root / "_rotscan/runs").exists()

    done = apply_plan(read_plan(tmp_path / "plan.json"), ctx, execute=True)
    (res,) = done.planned
    assert res.status == "done", res.reason
    assert res.bytes == a.bytes and res.files == 11
    left = sorted(p.name for p in t.iterdir())
    assert left == sorted([f"dt={d}" for d in NEW] + ["dt=__HIVE_DEFAULT_PARTITION__", "dt=unknown"])
    kept = {k: v for k, v in before.items() if not any(k.startswith(f"events/clicks/dt={d}/") for d in OLD)}
    assert tree(root) == kept  # everything the policy keeps is untouched, byte for byte
    q = root / "_rotscan/quarantine" / done.run_id / "events/clicks"
    assert sorted(p.name for p in q.iterdir()) == [f"dt={d}" for d in sorted(OLD)]
    (run,) = summarize_audit(read_audit(LocalStorage(), parse(str(root))), str(root))
    assert run.count("quarantined") == 1 and run.nbytes("quarantined") == a.bytes

    restored = restore_run(ctx, [parse(str(root))], done.run_id)
    assert restored.ok, [r.to_dict() for r in restored.actions]
    assert tree(root) == before  # byte for byte, mtimes too
    # the next scan finds the same expired partitions again
    again = run_scan([str(root)], Runtime(config=cfg))
    assert [f.evidence["expired_partitions"] for f in again.findings if f.kind == "expired_partitions"] == [4]


def test_junk_in_a_kept_partition_stays_its_own_finding(tmp_path: Path) -> None:
    cfg = cfg_with(POLICY)
    root = tmp_path / "lake"
    t = build_lake(root)
    (t / f"dt={NEW[0]}" / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1" + b"\x00" * 16)
    age(root, 2)
    result = scan(root, tmp_path / "scan", cfg)
    junk = [parse(x.uri).relative_to(parse(str(t))) for x in result.findings if x.kind == "junk_file"]
    assert junk == [f"dt={NEW[0]}/.DS_Store"]
    plan, _ = plan_and_load(tmp_path / "scan", tmp_path / "plan.json", cfg)
    assert sorted(a.action for a in plan.actions) == ["delete", "drop_partitions"]  # not "covered" by it


def test_writes_to_kept_partitions_do_not_block_but_to_expired_ones_do(tmp_path: Path) -> None:
    cfg = cfg_with(POLICY)
    root, t, _ = _planned(tmp_path, cfg)
    # today's job writes a new file into today's partition and a new partition: the plan still applies
    _write(t / f"dt={NEW[-1]}", 3, 50_000, files=1)
    (t / f"dt={NEW[-1]}" / "part-00000.parquet").rename(t / f"dt={NEW[-1]}" / "part-late.parquet")
    _write(t / f"dt={TODAY + timedelta(days=1)}", 3, 60_000, files=1)
    (res,) = apply_plan(read_plan(tmp_path / "plan.json"), context(cfg), execute=False).planned
    assert res.status == "done", res.reason
    # a backfill rewrites an expired partition after the plan: the action is skipped, nothing moves
    _write(t / f"dt={OLD[1]}", 7, 70_000, files=1)
    before = tree(root)
    (res,) = apply_plan(read_plan(tmp_path / "plan.json"), context(cfg), execute=True).planned
    assert res.status == "skipped" and "changed since the plan" in res.reason and f"dt={OLD[1]}" in res.reason
    assert tree(root) == before


def test_partition_changed_between_scan_and_plan_is_not_planned(tmp_path: Path) -> None:
    cfg = cfg_with(POLICY)
    root = tmp_path / "lake"
    t = build_lake(root)
    scan(root, tmp_path / "scan", cfg)
    (t / f"dt={OLD[2]}" / "part-00001.parquet").unlink()
    plan, _ = plan_and_load(tmp_path / "scan", tmp_path / "plan.json", cfg)
    assert not plan.actions
    (np,) = plan.not_planned
    assert np["reason"].startswith(f"stale scan: partition dt={OLD[2]} holds 1 data files"), np["reason"]
    # a file written into an expired partition after the scan: stale too
    (t / f"dt={OLD[2]}" / "part-00001.parquet").write_bytes(b"new")
    _write(t / f"dt={OLD[2]}", 60, 0, files=2)
    plan, _ = plan_and_load(tmp_path / "scan", tmp_path / "plan.json", cfg)
    assert not plan.actions and "was modified after the scan" in plan.not_planned[0]["reason"]


def _tampered(tmp_path: Path, edit: Any, seal: bool) -> Any:
    doc = json.loads((tmp_path / "plan.json").read_text())
    action = doc["actions"][0]
    edit(action)
    doc["actions"] = [reseal(action) if seal else action]
    return load_plan_doc(doc)


@pytest.mark.parametrize("edit, why", [
    (lambda a: a["details"]["partitions"].__setitem__(0, {**a["details"]["partitions"][0], "path": "../secret"}),
     "is not a relative key=value path"),
    (lambda a: a["details"]["partitions"].__setitem__(0, {**a["details"]["partitions"][0], "path": "dt=x/../../y=1"}),
     "is not a relative key=value path"),
    (lambda a: a["details"]["partitions"].__setitem__(0, {**a["details"]["partitions"][0], "path": "region=eu"}),
     "does not follow the dataset's partition columns"),
    (lambda a: a["fingerprint"]["files"].append([f"dt={NEW[0]}/part-00000.parquet", 1, 0.0]),
     "lies in none of its partitions"),
])
def test_tampered_plans_are_refused_and_change_nothing(tmp_path: Path, edit: Any, why: str) -> None:
    cfg = cfg_with(POLICY)
    root, _, _ = _planned(tmp_path, cfg)
    before = tree(root)
    (res,) = apply_plan(_tampered(tmp_path, edit, seal=False), context(cfg), execute=True).planned
    assert res.status == "skipped" and "edited after planning" in res.reason
    # resealed (the checksum recomputed): the rules at apply time still refuse it
    (res,) = apply_plan(_tampered(tmp_path, edit, seal=True), context(cfg), execute=True).planned
    assert res.status == "skipped" and why in res.reason, res.reason
    assert tree(root) == before


def test_plan_outside_the_roots_is_refused(tmp_path: Path) -> None:
    cfg = cfg_with(POLICY)
    root, _, _ = _planned(tmp_path, cfg)
    elsewhere = tmp_path / "other/events/clicks"
    _write(elsewhere / f"dt={OLD[0]}", 5, 0, 1)
    before = tree(tmp_path / "other")

    def move(a: dict[str, Any]) -> None:
        a["uri"] = str(parse(str(elsewhere)))

    (res,) = apply_plan(_tampered(tmp_path, move, seal=True), context(cfg), execute=True).planned
    assert res.status == "skipped" and "outside the scanned roots" in res.reason
    assert tree(tmp_path / "other") == before


def test_review_policy_needs_approval(tmp_path: Path) -> None:
    cfg = cfg_with({**POLICY, "action": "review"})
    _, _, plan = _planned(tmp_path, cfg)
    assert not plan.actions and [r["kinds"] for r in plan.needs_review] == [["expired_partitions"]]


# -- Delta, detected and planned from the log -----------------------------------------------------

def _fake_delta(path: Path, days: list[date]) -> None:
    (path / "_delta_log").mkdir(parents=True)
    schema = json.dumps({"type": "struct", "fields": [
        {"name": "id", "type": "long", "nullable": True, "metadata": {}},
        {"name": "dt", "type": "string", "nullable": True, "metadata": {}}]})
    actions: list[dict[str, Any]] = [
        {"protocol": {"minReaderVersion": 1, "minWriterVersion": 2}},
        {"metaData": {"id": "t", "format": {"provider": "parquet", "options": {}}, "schemaString": schema,
                      "partitionColumns": ["dt"], "configuration": {}, "createdTime": 0}}]
    for i, day in enumerate(days):
        d = path / f"dt={day}"
        d.mkdir()
        pq.write_table(table(10, offset=i * 10).select(["id"]), d / "part-0.parquet")
        actions.append({"add": {"path": f"dt={day}/part-0.parquet", "partitionValues": {"dt": str(day)},
                                "size": (d / "part-0.parquet").stat().st_size, "modificationTime": 0,
                                "dataChange": True, "stats": json.dumps({"numRecords": 10})}})
    actions.append({"add": {"path": "dt=__HIVE_DEFAULT_PARTITION__/part-0.parquet", "partitionValues": {"dt": None},
                            "size": 1, "modificationTime": 0, "dataChange": True}})
    (path / "dt=__HIVE_DEFAULT_PARTITION__").mkdir()
    (path / "dt=__HIVE_DEFAULT_PARTITION__/part-0.parquet").write_bytes(b"x")
    actions.append({"commitInfo": {"timestamp": 0, "operation": "WRITE"}})
    (path / "_delta_log/00000000000000000000.json").write_text("\n".join(json.dumps(a) for a in actions) + "\n")


def test_delta_partitions_from_the_log_and_planned_predicate(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    _fake_delta(root / "events/orders", OLD + NEW)
    age(root, 2)
    cfg = cfg_with(POLICY)
    result = scan(root, tmp_path / "scan", cfg)
    (f,) = [f for f in result.findings if f.kind == "expired_partitions"]
    e = f.evidence
    assert e["layout"] == "delta" and e["delta_version"] == 0
    assert [u["values"] for u in e["expired"]] == [{"dt": str(d)} for d in sorted(OLD)]
    assert all(u["path"] is None and u["files"] == 1 for u in e["expired"])
    assert e["undated_partitions"] == 1 and e["undated"][0]["values"] == {"dt": None}
    plan, _ = plan_and_load(tmp_path / "scan", tmp_path / "plan.json", cfg)
    (a,) = plan.actions
    assert a.action == "drop_partitions" and a.details["mode"] == "delta"
    assert a.details["predicate"] == "`dt` IN (" + ", ".join(f"'{d}'" for d in sorted(OLD)) + ")"
    assert a.fingerprint.delta_version == 0 and len(a.fingerprint.files) == 4
    assert a.details["retention_hours"] == 168.0
    words = " ".join(explain(f, EvidenceContext(as_of=result.scan.as_of)))
    assert "Delta DELETE on the partition columns, then VACUUM at the table's retention" in words


def test_predicates_quote_and_escape() -> None:
    assert predicate(["dt"], [{"dt": "2024-01-01"}, {"dt": "it's"}, {"dt": "a\\b"}]) == \
        "`dt` IN ('2024-01-01', 'a\\\\b', 'it\\'s')"
    assert predicate(["year", "we`ird"], [{"year": "2020", "we`ird": "1"}]) == "(`year` = '2020' AND `we``ird` = '1')"
    with pytest.raises(Refused):
        predicate(["dt"], [])


def test_partition_paths_validated() -> None:
    assert check_partition_path("region=eu/dt=2024-01-01", ["region", "dt"]) == "region=eu/dt=2024-01-01"
    for bad in ("", "/dt=1", "dt=1/../x=2", "dt=1/", "..", "dt=1/plain", "_rotscan", 7, "dt=1\\x=2"):
        with pytest.raises(Refused):
            check_partition_path(bad, ["dt", "x"])
    with pytest.raises(Refused, match="does not follow"):
        check_partition_path("dt=1", ["region", "dt"])


def test_finding_kind_is_expired_partitions_and_not_the_whole_dataset(tmp_path: Path) -> None:
    """A plan never turns an expired_partitions finding into a whole-dataset quarantine."""
    cfg = cfg_with(POLICY)
    _, t, plan = _planned(tmp_path, cfg)
    assert all(a.action != "quarantine" for a in plan.actions)
    assert isinstance(read_findings(tmp_path / "scan").findings[0], Finding)


def test_partition_values_from_commits_and_parquet_checkpoints() -> None:
    """Commits hold partitionValues as a JSON object; pyarrow reads a Parquet checkpoint's map column
    as (key, value) pairs — both give the same values."""
    from rotscan.crawl.delta_log import _partition_values

    assert _partition_values({"dt": "2024-01-01", "h": None}) == {"dt": "2024-01-01", "h": None}
    assert _partition_values([("dt", "2024-01-01"), ("h", None)]) == {"dt": "2024-01-01", "h": None}
    assert _partition_values([{"key": "dt", "value": "2024-01-01"}]) == {"dt": "2024-01-01"}
    assert _partition_values(None) == {}


KILLED = """
import os, signal, sys
from pathlib import Path
from rotscan.cleanup.apply import apply_plan
from rotscan.cleanup.plan import read_plan
from tests.cleanup_support import context

plan, step, n, force_copy = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"

def hook(s, k):
    if s == step and k == n:
        os.kill(os.getpid(), signal.SIGKILL)

apply_plan(read_plan(Path(plan)), context(fault_hook=hook, force_copy=force_copy), execute=True)
print("finished without being killed")
"""


@pytest.mark.parametrize("step, n, force_copy", [("intent", 1, False), ("moved", 3, False), ("copied", 5, True)])
def test_hive_drop_killed_mid_move_resumes_and_restores(tmp_path: Path, step: str, n: int, force_copy: bool) -> None:
    """kill -9 at a journaled step (rename, or copy-verify-delete as on object stores): apply again
    finishes the run, nothing lost or duplicated; restore puts back every file byte for byte."""
    import signal
    import subprocess
    import sys

    cfg = cfg_with(POLICY)
    root, t, plan = _planned(tmp_path, cfg)
    before = tree(root)
    repo = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-c", KILLED, str(tmp_path / "plan.json"), step, str(n),
                           "1" if force_copy else "0"], cwd=repo, capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stdout + proc.stderr
    report = apply_plan(read_plan(tmp_path / "plan.json"), context(cfg, force_copy=force_copy), execute=True)
    (res,) = report.planned
    assert report.resumed and res.status == "done", res.reason
    assert sorted(p.name for p in t.iterdir()) == sorted([f"dt={d}" for d in NEW] + ["dt=__HIVE_DEFAULT_PARTITION__",
                                                                                   "dt=unknown"])
    q = root / "_rotscan/quarantine" / report.run_id / "events/clicks"
    assert sorted(str(p.relative_to(q)) for p in q.rglob("*") if p.is_file()) == sorted(f.rel for f in
                                                                                        plan.actions[0].fingerprint.files)
    assert restore_run(context(cfg), [parse(str(root))], report.run_id).ok
    assert tree(root) == before


def test_scheduled_runs_may_be_allowed_to_drop_partitions() -> None:
    from rotscan.cleanup.policy import RunPolicy

    cfg = load_config(overrides={"run": {"approved_actions": ["quarantine", "drop_partitions"]}})
    assert RunPolicy.from_config(cfg).approved_actions == ("quarantine", "drop_partitions")
    assert "drop_partitions" not in RunPolicy.from_config(load_config()).approved_actions  # opt in only


def test_report_says_what_a_delta_partition_delete_took_and_when(tmp_path: Path) -> None:
    import dataclasses

    from rotscan.models import CleanupRun
    from rotscan.report.history import report_history
    from rotscan.report.html import render_report

    root = tmp_path / "lake"
    build_lake(root)
    result = scan(root, tmp_path / "scan", cfg_with(POLICY))
    when = datetime(2026, 11, 30, 8, 15, tzinfo=timezone.utc)
    run = CleanupRun("run-7", str(parse(str(root))), when, when, ("ops",), counts={"partitions_deleted": 2},
                     bytes={"partitions_deleted": 5 * 1024})
    plain = render_report(result, price_per_gb_month=0.023, history=report_history(result))
    assert "Expired Delta partitions" not in plain
    result = dataclasses.replace(result, cleanup_history=(run,))
    html = render_report(result, price_per_gb_month=0.023, history=report_history(result))
    assert "<code>run-7</code> (2026-11-30 08:15:00 UTC): 5.0 KiB in 2 tables" in html
    assert "go with a VACUUM after the table&#39;s retention" in html or "go with a VACUUM after the table's retention" in html


def _point_at(day: date, max_age: float | None = None) -> Any:
    """An edit of the plan's first partition to name the partition of ``day``, its files included
    (what a tamperer who knows the format would do)."""
    def edit(a: dict[str, Any]) -> None:
        t = parse(a["uri"]).path
        first = a["details"]["partitions"][0]
        old = first["path"]
        first.update(path=f"dt={day}", values={"dt": str(day)})
        files = [[f"dt={day}/{p.name}", p.stat().st_size, round(p.stat().st_mtime, 3)]
                 for p in sorted(Path(t, f"dt={day}").iterdir())]
        a["fingerprint"]["files"] = [f for f in a["fingerprint"]["files"] if not f[0].startswith(old + "/")] + files
        a["fingerprint"]["dirs"] = [d for d in a["fingerprint"]["dirs"] if d != old] + [f"dt={day}"]
        if max_age is not None:
            a["details"]["max_age_days"] = max_age
    return edit


def test_a_plan_edited_to_name_a_kept_partition_is_refused(tmp_path: Path) -> None:
    cfg = cfg_with(POLICY)
    root, _, _ = _planned(tmp_path, cfg)
    before = tree(root)
    (res,) = apply_plan(_tampered(tmp_path, _point_at(NEW[0]), seal=True), context(cfg), execute=True).planned
    assert res.status == "skipped" and f"dt={NEW[0]} is not past the policy's 90 days" in res.reason, res.reason
    # the policy's age lowered too: the scan's findings.json still says which partitions expired
    (res,) = apply_plan(_tampered(tmp_path, _point_at(NEW[0], max_age=1), seal=True), context(cfg),
                        execute=True).planned
    assert res.status == "skipped" and f"dt={NEW[0]} is not one the scan found expired" in res.reason, res.reason
    assert tree(root) == before


def test_catalog_registered_delta_tables_allowed_hive_tables_refused() -> None:
    """A registered Delta table stays valid after a DELETE commit (checked like VACUUM); a registered
    Hive table is refused with the reason, with or without --drop-table-entries."""
    from types import SimpleNamespace

    from rotscan.catalog import CatalogIndex, CatalogTable
    from rotscan.cleanup.partitions import check_catalog
    from rotscan.cleanup.tables import TableGuard

    index = CatalogIndex([CatalogTable("db.events", "file:/lake/warehouse/events", "delta"),
                          CatalogTable("db.clicks", "file:/lake/events/clicks", "parquet", partition_columns=("dt",),
                                       partitions=3)])
    delta = SimpleNamespace(details={"mode": "delta"})
    hive = SimpleNamespace(details={"mode": "hive"})
    for guard in (TableGuard(index), TableGuard(index, drop_entries=True)):
        assert check_catalog(guard, delta, parse("file:/lake/warehouse/events")) == []  # type: ignore[arg-type]
        with pytest.raises(Refused, match="does not drop partitions of a registered Hive table"):
            check_catalog(guard, hive, parse("file:/lake/events/clicks"))  # type: ignore[arg-type]
        assert check_catalog(guard, hive, parse("file:/lake/events/other")) == []  # type: ignore[arg-type]
    with pytest.raises(Refused, match="the catalog cannot be read"):  # an unreadable catalog refuses Delta too
        check_catalog(TableGuard(None, refuse_all="the catalog cannot be read"), delta,  # type: ignore[arg-type]
                      parse("file:/lake/warehouse/events"))


@given(st.dates(min_value=date(1000, 1, 1), max_value=date(9998, 12, 31)))
def test_period_round_trips_every_format(d: date) -> None:
    nxt = d + timedelta(days=1)
    for fmt, text in (("YYYY-MM-DD", d.isoformat()), ("YYYYMMDD", d.strftime("%Y%m%d")),
                      ("YYYY/MM/DD", d.strftime("%Y/%m/%d"))):
        assert period([text], fmt) == (d, nxt)
    assert period([str(d.year), str(d.month), str(d.day)], "YYYY-MM-DD") == (d, nxt)
    month = date(d.year, d.month, 1)
    after = date(d.year + 1, 1, 1) if d.month == 12 else date(d.year, d.month + 1, 1)
    for fmt, text in (("YYYY-MM", d.strftime("%Y-%m")), ("YYYYMM", d.strftime("%Y%m"))):
        assert period([text], fmt) == (month, after)
    assert period([f"{d.year:04d}", f"{d.month:02d}"], "YYYY-MM-DD") == (month, after)


@given(st.lists(st.text(max_size=12), min_size=1, max_size=5))
def test_predicate_single_column_lists_each_value_once(values: list[str]) -> None:
    pred = predicate(["dt"], [{"dt": v} for v in values])
    assert pred.startswith("`dt` IN (") and pred.endswith(")")
    # every literal is closed: an odd value never opens the predicate to more SQL
    body = pred[len("`dt` IN ("):-1]
    i, n = 0, 0
    while i < len(body):
        assert body[i] == "'"
        i += 1
        while body[i] != "'":
            i += 2 if body[i] == "\\" else 1
        i += 1
        n += 1
        if i < len(body):
            assert body[i:i + 2] == ", "
            i += 2
    assert n == len(set(values))

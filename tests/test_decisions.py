"""The decision records and their store (rotscan.decisions), no JVM: validation against a scan,
supersede/revoke, finding id beats glob, stale and expired decisions, tampered and malformed lines,
orphaned decisions, the object-store layout, and old findings.json without the new fields."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from rotscan.decisions import (
    DecisionError,
    DecisionSet,
    DecisionSettings,
    Request,
    apply_decisions,
    build_records,
    describe_change,
    list_decisions,
    parse_records,
    read_decisions,
    read_file,
    read_root,
    record,
)
from rotscan.errors import ConfigError
from rotscan.models import Dataset, Finding, ScanInfo, ScanResult
from rotscan.storage.local import LocalStorage
from rotscan.uri import parse

T0 = datetime(2026, 12, 1, 10, tzinfo=timezone.utc)
FP_AUDIT = "files n=3 bytes=3000 mtime=1764000000.0 sha=aaa read=r1"
FP_BACKUP = "delta v=4 files=2 bytes=9000 sha=bbb read=r2"


def scan_of(root: Path, *, as_of: datetime = T0, fp_audit: str = FP_AUDIT, fp_backup: str = FP_BACKUP,
            scan_id: str = "scan-1", extra: tuple[Finding, ...] = ()) -> ScanResult:
    r = f"file:{root}"
    datasets = (
        Dataset(uri=f"{r}/audit/orders", format="parquet", layout="part_files", files=3, bytes=3000,
                fingerprint=fp_audit, root=r),
        Dataset(uri=f"{r}/audit/refunds", format="parquet", layout="part_files", files=1, bytes=500,
                fingerprint="files n=1 bytes=500 mtime=1.0 sha=ccc read=r3", root=r),
        Dataset(uri=f"{r}/backup/orders_v2", format="delta", layout="delta", files=2, bytes=9000,
                fingerprint=fp_backup, root=r),
    )
    findings = (
        Finding(uri=f"{r}/audit/orders", category="redundant", kind="exact_duplicate", action="quarantine",
                confidence=0.99, reclaimable_bytes=3000, explanation="copy of warehouse/orders"),
        Finding(uri=f"{r}/backup/orders_v2", category="redundant", kind="near_duplicate", action="review",
                confidence=0.8, reclaimable_bytes=9000, explanation="92% the same rows as warehouse/orders"),
        Finding(uri=f"{r}/exports/.DS_Store", category="trivial", kind="junk_file", action="delete",
                confidence=0.99, reclaimable_bytes=72, explanation="macOS Finder metadata"),
        *extra,
    )
    info = ScanInfo(id=scan_id, started=as_of, finished=as_of, as_of=as_of, roots=(r,), tool_version="0.1.0")
    return ScanResult(info, datasets, findings, ())


def fid(result: ScanResult, rel: str) -> str:
    return next(f.id for f in result.findings if f.uri.endswith("/" + rel))


def decide(root: Path, result: ScanResult, *requests: Request, at: datetime = T0,
           existing: DecisionSet | None = None) -> DecisionSet:
    """Record ``requests`` for ``result`` in the lake at ``root`` and read the store back."""
    storage = LocalStorage()
    existing = existing if existing is not None else read_root(storage, parse(str(root)))
    recs = build_records(result, existing, list(requests), by="ana", now=at, today=at.date())
    record(recs, lambda _u: storage, DecisionSettings(), user="tester")
    return read_root(storage, parse(str(root)))


@pytest.fixture()
def lake(tmp_path: Path) -> Path:
    root = tmp_path / "lake"
    root.mkdir()
    return root


def test_keep_by_id_is_applied_and_recorded_with_the_datasets_fingerprint(lake: Path) -> None:
    result = scan_of(lake)
    ds = decide(lake, result, Request("keep", fid(result, "audit/orders"), "the audit copy", "2027-06-30"))
    rec = ds.records[0].record
    assert (rec.op, rec.match, rec.by, rec.reason, rec.fingerprint) == ("keep", fid(result, "audit/orders"), "ana",
                                                                        "the audit copy", FP_AUDIT)
    assert rec.until == date(2027, 6, 30) and rec.kind == "exact_duplicate" and rec.uri.endswith("audit/orders")
    applied = apply_decisions(result, ds)
    kept = {f.uri.rsplit("/", 1)[-1]: f for f in applied.findings}
    assert kept["orders"].kept and not kept["orders"].decision.stale
    assert kept["orders"].decision.until == datetime(2027, 6, 30, tzinfo=timezone.utc)
    assert kept["orders_v2"].decision is None and not kept["orders_v2"].kept
    assert applied.orphaned == () and applied.blocked == {}


def test_refusals_are_all_or_nothing_with_one_line(lake: Path) -> None:
    result = scan_of(lake)
    good = Request("keep", "audit/**", "audit copies")
    cases = {
        "needs a reason": Request("keep", "audit/**", ""),
        "unknown finding id 'deadbeefdeadbeef'": Request("approve", "deadbeefdeadbeef"),
        "outside the scanned roots": Request("keep", "/etc/**", "x"),
        "leaves its root": Request("keep", "../other/**", "x"),
        "rotscan's own state directory": Request("keep", "_rotscan/**", "x"),
        "matches no finding or dataset": Request("keep", "nothing/here/**", "x"),
        "nothing to approve": Request("approve", "audit/refunds"),
        "is in the past": Request("keep", "audit/**", "x", "2026-11-30"),
        "not a date": Request("keep", "audit/**", "x", "30/06/2027"),
        "--until applies to keep": Request("approve", fid(result, "backup/orders_v2"), "", "2027-01-01"),
        "no decision in force": Request("revoke", "backup/**"),
    }
    for needle, bad in cases.items():
        with pytest.raises(DecisionError) as exc:
            build_records(result, DecisionSet(), [good, bad], by="ana", now=T0, today=T0.date())
        assert needle in str(exc.value) and "nothing written" in str(exc.value), (needle, str(exc.value))
        assert "\n" not in str(exc.value)
    with pytest.raises(DecisionError, match="decided twice"):
        build_records(result, DecisionSet(), [good, Request("approve", "audit/**")], by="ana", now=T0)
    assert not (lake / "_rotscan").exists()  # nothing was written by any of them


def test_later_records_supersede_and_revoke_withdraws(lake: Path) -> None:
    result = scan_of(lake)
    near = fid(result, "backup/orders_v2")
    ds = decide(lake, result, Request("approve", near), at=T0)
    ds = decide(lake, result, Request("keep", near, "legal hold"), at=T0 + timedelta(minutes=1))
    f = next(f for f in apply_decisions(result, ds).findings if f.id == near)
    assert f.kept and f.decision.reason == "legal hold"
    ds = decide(lake, result, Request("revoke", near), at=T0 + timedelta(minutes=2))
    assert ds.records[-1].record.revokes == ds.records[-2].record.id
    f = next(f for f in apply_decisions(result, ds).findings if f.id == near)
    assert f.decision is None  # withdrawn: the older approval does not come back
    with pytest.raises(DecisionError, match="no decision in force"):
        build_records(result, ds, [Request("revoke", near)], by="ana", now=T0 + timedelta(minutes=3))


def test_finding_id_beats_glob_and_newest_glob_wins(lake: Path) -> None:
    result = scan_of(lake)
    orders = fid(result, "audit/orders")
    ds = decide(lake, result, Request("approve", orders), at=T0)
    ds = decide(lake, result, Request("keep", "audit/**", "all audit data"), at=T0 + timedelta(minutes=1))
    ds = decide(lake, result, Request("keep", "glob:audit/orders", "the orders audit"), at=T0 + timedelta(minutes=2))
    f = next(f for f in apply_decisions(result, ds).findings if f.id == orders)
    assert f.decision.decision == "approve" and f.decision.match == orders  # the id decision, though older
    ds = decide(lake, result, Request("revoke", orders), at=T0 + timedelta(minutes=3))
    f = next(f for f in apply_decisions(result, ds).findings if f.id == orders)
    assert f.kept and f.decision.match == "glob:audit/orders"  # the newest glob matching it


def test_a_plain_path_of_a_finding_decides_that_finding(lake: Path) -> None:
    result = scan_of(lake)
    recs = build_records(result, DecisionSet(), [Request("keep", "audit/orders", "x"),
                                                 Request("keep", f"{lake}/exports/**", "y")], by="ana", now=T0)
    assert [r.match for r in recs] == [fid(result, "audit/orders"), "glob:exports/**"]
    assert recs[0].fingerprint == FP_AUDIT


def test_a_changed_dataset_makes_the_decision_stale_with_the_reason(lake: Path) -> None:
    result = scan_of(lake)
    near, orders = fid(result, "backup/orders_v2"), fid(result, "audit/orders")
    ds = decide(lake, result, Request("approve", near), Request("keep", orders, "audit"))
    later = scan_of(lake, fp_backup="delta v=5 files=3 bytes=9900 sha=ddd read=r2",
                    fp_audit="files n=4 bytes=3100 mtime=1764086400.0 sha=eee read=r1")
    by_id = {f.id: f for f in apply_decisions(later, ds).findings}
    d = by_id[near].decision
    assert d.stale and not by_id[near].approved
    assert d.stale_reason == ("the data changed since the decision (Delta version 4 then, 5 now; "
                              "files 2 then, 3 now; bytes 9000 then, 9900 now)")
    assert by_id[orders].decision.stale and not by_id[orders].kept
    assert "newest file 2025-11-24T16:00:00Z then, 2025-11-25T16:00:00Z now" in by_id[orders].decision.stale_reason
    # the same data again: not stale
    assert not {f.id: f for f in apply_decisions(result, ds).findings}[near].decision.stale


def test_glob_keep_is_a_standing_rule_but_glob_approve_covers_only_what_it_saw(lake: Path) -> None:
    result = scan_of(lake)
    ds = decide(lake, result, Request("keep", "audit/**", "audit data stays"), Request("approve", "backup/**"))
    newcomer = Finding(uri=f"file:{lake}/backup/orders_v3", category="redundant", kind="near_duplicate",
                       action="review", confidence=0.8, reclaimable_bytes=10, explanation="new")
    later = scan_of(lake, fp_audit="files n=9 bytes=1 mtime=1.0 sha=zzz read=r1", extra=(newcomer,),
                    fp_backup="delta v=5 files=3 bytes=1 sha=q read=r2")
    by_uri = {f.uri.rsplit("/", 1)[-1]: f for f in apply_decisions(later, ds).findings}
    assert by_uri["orders"].kept  # changed data under a glob keep is still kept
    assert by_uri["orders_v2"].decision.stale and "Delta version 4 then, 5 now" in by_uri["orders_v2"].decision.stale_reason
    assert by_uri["orders_v3"].decision.stale and "was not among them" in by_uri["orders_v3"].decision.stale_reason
    rec = next(s.record for s in ds.records if s.record.op == "approve")
    assert dict(rec.fingerprints) == {"backup/orders_v2": FP_BACKUP}


def test_a_keep_expires_after_its_until_day(lake: Path) -> None:
    result = scan_of(lake)
    orders = fid(result, "audit/orders")
    ds = decide(lake, result, Request("keep", orders, "until the audit", "2026-12-31"))
    on_the_day = scan_of(lake, as_of=datetime(2026, 12, 31, 23, 59, tzinfo=timezone.utc))
    after = scan_of(lake, as_of=datetime(2027, 1, 1, 0, 1, tzinfo=timezone.utc))
    assert next(f for f in apply_decisions(on_the_day, ds).findings if f.id == orders).kept
    f = next(f for f in apply_decisions(after, ds).findings if f.id == orders)
    assert f.decision.expired and not f.kept


def test_a_tampered_line_is_refused_reported_and_blocks_until_revoked(lake: Path) -> None:
    result = scan_of(lake)
    orders = fid(result, "audit/orders")
    decide(lake, result, Request("approve", orders))
    path = lake / "_rotscan/decisions.jsonl"
    line = json.loads(path.read_text())
    line["by"] = "mallory"  # edited by hand, checksum left as it was
    path.write_text(json.dumps(line) + "\n")
    ds = read_root(LocalStorage(), parse(str(lake)))
    assert ds.records == () and len(ds.tampered) == 1
    applied = apply_decisions(result, ds)
    assert all(f.decision is None for f in applied.findings)
    assert "does not match its checksum" in applied.blocked[orders]
    codes = [w.code for w in applied.warnings]
    assert codes == ["decision_tampered"] and "revoke it or decide again" in applied.warnings[0].message
    # revoking it (the CLI finds the tampered record for the id) unblocks the finding
    ds = decide(lake, result, Request("revoke", orders), at=T0 + timedelta(minutes=1), existing=ds)
    assert ds.records[-1].record.revokes == line["id"]
    assert apply_decisions(result, ds).blocked == {}


def test_malformed_lines_are_skipped_with_a_warning_never_a_crash(lake: Path) -> None:
    result = scan_of(lake)
    decide(lake, result, Request("keep", "audit/**", "audit"))
    path = lake / "_rotscan/decisions.jsonl"
    with open(path, "ab") as fh:
        fh.write(b"\xff\xfe not json\n[1, 2]\n" + json.dumps({"format": "rotscan-decision", "version": 1}).encode()
                 + b"\n{\"format\": \"rotscan-decision\", \"version\": 1, \"op\": \"keep\", \"tor")  # torn last line
    ds = read_root(LocalStorage(), parse(str(lake)))
    assert len(ds.records) == 1 and len(ds.malformed) == 4 and not ds.tampered
    applied = apply_decisions(result, ds)
    assert next(f for f in applied.findings if f.uri.endswith("audit/orders")).kept
    assert [w.code for w in applied.warnings] == ["decision_malformed"] * 4
    # a record appended after the torn line starts on a line of its own
    ds = decide(lake, result, Request("approve", "backup/**"), at=T0 + timedelta(minutes=1))
    assert len(ds.records) == 2 and len(ds.malformed) == 4


def test_decisions_for_findings_no_longer_present_are_reported_not_lost(lake: Path) -> None:
    result = scan_of(lake)
    near = fid(result, "backup/orders_v2")
    ds = decide(lake, result, Request("approve", near), Request("keep", "exports/**", "keep exports"))
    gone = replace(result, findings=tuple(f for f in result.findings if f.id != near and "exports" not in f.uri))
    applied = apply_decisions(gone, ds)
    assert {s.record.match for s in applied.orphaned} == {near, "glob:exports/**"}
    (w,) = [w for w in applied.warnings if w.code == "decision_orphaned"]
    assert "2 review decision(s) (1 keep, 1 approve) match no finding" in w.message
    listed = {x.stored.record.match: x.status for x in list_decisions(gone, ds)}
    assert listed == {near: "orphaned", "glob:exports/**": "orphaned"}
    assert len(read_root(LocalStorage(), parse(str(lake))).records) == 2  # still on record


def test_object_stores_get_one_object_per_call(lake: Path) -> None:
    class NoAppend(LocalStorage):
        supports_append = False  # type: ignore[assignment]

    storage = NoAppend()
    result = scan_of(lake)
    recs = build_records(result, DecisionSet(), [Request("keep", "audit/**", "a"), Request("approve", "backup/**")],
                         by="ana", now=T0)
    record(recs, lambda _u: storage, DecisionSettings(), user="tester")
    objects = sorted((lake / "_rotscan/decisions").iterdir())
    assert len(objects) == 1 and objects[0].suffix == ".jsonl" and not (lake / "_rotscan/decisions.jsonl").exists()
    assert len(list((lake / "_rotscan/audit").iterdir())) == 2  # the audit log: one object per record
    ds = read_root(storage, parse(str(lake)))
    assert [s.record.op for s in ds.records] == ["keep", "approve"]
    assert apply_decisions(result, ds).findings[0].kept


def test_the_config_file_is_read_and_can_be_written_to(lake: Path, tmp_path: Path) -> None:
    result = scan_of(lake)
    file = tmp_path / "team/decisions.jsonl"
    settings = DecisionSettings.from_config(_cfg(file=str(file), write_to="file"))
    recs = build_records(result, DecisionSet(), [Request("keep", "audit/**", "from git")], by="ana", now=T0)
    record(recs, lambda _u: LocalStorage(), settings, user="tester")
    assert not (lake / "_rotscan/decisions.jsonl").exists() and (lake / "_rotscan/audit.jsonl").exists()
    assert len(read_file(file).records) == 1
    ds = read_decisions([parse(str(lake))], lambda _u: LocalStorage(), settings)
    assert next(f for f in apply_decisions(result, ds).findings if f.uri.endswith("audit/orders")).kept
    # records of the file for another lake do not apply here
    other = scan_of(tmp_path / "other")
    assert all(f.decision is None for f in apply_decisions(other, ds).findings)
    with pytest.raises(ConfigError, match="write_to"):
        DecisionSettings.from_config(_cfg(write_to="somewhere"))
    with pytest.raises(ConfigError, match="needs \\[decisions\\] file"):
        DecisionSettings.from_config(_cfg(write_to="file"))


def _cfg(**decisions: str):  # type: ignore[no-untyped-def]
    from rotscan.config import load_config

    return load_config(overrides={"decisions": decisions})


def test_a_moved_lake_keeps_its_glob_decisions(lake: Path, tmp_path: Path) -> None:
    result = scan_of(lake)
    decide(lake, result, Request("keep", "audit/**", "audit"))
    moved = tmp_path / "moved"
    lake.rename(moved)
    ds = read_root(LocalStorage(), parse(str(moved)))
    assert next(f for f in apply_decisions(scan_of(moved), ds).findings if f.uri.endswith("audit/orders")).kept


def test_record_round_trip_and_checksum_cover_every_field(lake: Path) -> None:
    result = scan_of(lake)
    (rec,) = build_records(result, DecisionSet(), [Request("approve", "backup/**", "ok")], by="ana", now=T0)
    line = rec.to_line()
    (back,), bad = parse_records(line, "mem", str(parse(str(lake))))
    assert bad == [] and back.record == rec
    for key in ("op", "match", "root", "by", "reason", "until", "fingerprints", "at"):
        doc = json.loads(line)
        doc[key] = {"op": "keep", "until": "2030-01-01", "fingerprints": {}, "at": "2026-01-01T00:00:00Z"}.get(key, "x")
        if key == "root":
            doc[key] = "file:/elsewhere"
        recs, bad = parse_records(json.dumps(doc).encode(), "mem", None)
        assert recs == [] and len(bad) == 1 and bad[0].tampered, key


def test_describe_change_names_what_changed() -> None:
    assert describe_change(None, FP_AUDIT) == "no fingerprint of the data was recorded with the decision"
    assert "different kind of dataset" in describe_change(FP_AUDIT, FP_BACKUP)
    assert "recorded no dataset fingerprints" in describe_change("dataset files=1 bytes=10 modified=None", FP_AUDIT)
    assert describe_change(FP_AUDIT, FP_AUDIT.replace("sha=aaa", "sha=abc")) == \
        "the data changed since the decision (same size, other files or content)"


def test_old_findings_json_without_the_new_fields_still_loads(tmp_path: Path) -> None:
    from rotscan.findings_io import read_findings

    old = {"version": 1, "scan": {"id": "s", "started": "2026-11-26T10:00:00Z", "roots": ["file:/data/lake"],
                                  "tool_version": "0.1.0"},
           "datasets": [{"uri": "file:/data/lake/t", "format": "parquet", "files": 1, "bytes": 10, "rows": 1,
                         "modified": None, "last_read": None, "last_written": None}],
           "findings": [{"id": "abc", "uri": "file:/data/lake/t", "category": "trivial", "kind": "tiny",
                         "related": [], "confidence": 0.6, "reclaimable_bytes": 10, "action": "quarantine",
                         "explanation": "tiny", "evidence": {}}],
           "warnings": []}
    (tmp_path / "findings.json").write_text(json.dumps(old))
    result = read_findings(tmp_path)
    f = result.findings[0]
    assert f.decision is None and not f.kept and not f.approved and result.datasets[0].fingerprint is None
    # decisions work on it too (a fingerprint made from what the old file has)
    (rec,) = build_records(result, DecisionSet(), [Request("keep", "abc", "x")], by="ana", now=T0)
    assert rec.fingerprint == "dataset files=1 bytes=10 modified=None"
    # and a finding's decision round-trips through findings.json
    ds = DecisionSet(tuple(parse_records(rec.to_line(), "mem", "file:/data/lake")[0]))
    applied = apply_decisions(result, ds)
    again = Finding.from_dict(json.loads(json.dumps(applied.findings[0].to_dict())))
    assert again.kept and again.decision == applied.findings[0].decision


def test_standing_keeps_need_no_scan_and_include_stale_and_tampered(lake: Path) -> None:
    from rotscan.decisions import standing_keeps

    result = scan_of(lake)
    orders = fid(result, "audit/orders")
    ds = decide(lake, result, Request("keep", orders, "audit copy", "2026-12-31"),
                Request("keep", "exports/**", "exports stay"), Request("approve", "backup/**"))
    roots = [f"file:{lake}"]
    rules = standing_keeps(ds, roots, date(2026, 12, 31))
    assert sorted((k.pattern, k.exact) for k in rules) == [("audit/orders", True), ("exports/**", False)]
    assert next(k for k in rules if k.exact).covers("audit/orders/part-0.parquet")
    assert not next(k for k in rules if k.exact).covers("audit/orders_v2")
    assert [k.pattern for k in standing_keeps(ds, roots, date(2027, 1, 1))] == ["exports/**"]  # the keep expired
    assert standing_keeps(ds, ["file:/other"], date(2026, 12, 31)) == ()
    path = lake / "_rotscan/decisions.jsonl"
    lines = path.read_text().splitlines()
    tampered = json.loads(lines[2])
    tampered["op"] = "keep"  # the approval edited into a keep: not trusted either way, and not acted on
    path.write_text("\n".join([*lines[:2], json.dumps(tampered)]) + "\n")
    ds = read_root(LocalStorage(), parse(str(lake)))
    labels = {k.pattern: k.label for k in standing_keeps(ds, roots, date(2026, 12, 31))}
    assert "does not match its checksum" in labels["backup/**"]

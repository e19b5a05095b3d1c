"""Scan history (snapshots, trend, diff), cleanup runs from the audit log, and both through the CLI.
No JVM: the CLI scans run with --no-profile."""

from __future__ import annotations

import json
import os
import re
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from rotscan.cleanup.audit import AuditLog, read_cleanup_history, summarize_audit
from rotscan.cli import main
from rotscan.errors import FindingsFormatError
from rotscan.models import CleanupRun, Dataset, Finding, ScanInfo, ScanResult, ScanWarning
from rotscan.report.history import (
    Snapshot,
    cleanup_totals,
    diff,
    load_history,
    load_previous,
    report_history,
    snapshot_of,
    write_snapshot,
)
from rotscan.report.html import render_report
from rotscan.storage.local import LocalStorage
from rotscan.uri import parse

ROOT = "file:/data/lake"
T0 = datetime(2026, 11, 26, 10, tzinfo=timezone.utc)


def _f(path: str, kind: str, nbytes: int, category: str = "trivial") -> Finding:
    return Finding(uri=f"{ROOT}/{path}", category=category, kind=kind, action="quarantine", confidence=0.9,
                   reclaimable_bytes=nbytes, explanation=kind)


def result(scan_id: str, days: float, findings: tuple[Finding, ...], roots: tuple[str, ...] = (ROOT,),
           cleanup: tuple[CleanupRun, ...] = ()) -> ScanResult:
    t = T0 + timedelta(days=days)
    info = ScanInfo(id=scan_id, started=t, finished=t, as_of=t, roots=roots, tool_version="0.1.0")
    datasets = (Dataset(uri=f"{ROOT}/warehouse/t", format="parquet", layout="part_files", files=2, bytes=10_000),)
    return ScanResult(info, datasets, findings, (), cleanup_history=cleanup)


A = _f("tmp/a", "tiny", 1_000)
B = _f("backup/b", "exact_duplicate", 5_000, "redundant")
C = _f("old/c", "unread", 20_000, "obsolete")
D = _f("tmp/d", "junk_file", 7)


def test_snapshot_round_trip_and_totals() -> None:
    snap = snapshot_of(result("s1", 0, (A, B, C, _f("tmp/a/x.crc", "junk_file", 3))))
    assert snap.rot_bytes == {"redundant": 5_000, "obsolete": 20_000, "trivial": 1_000}  # x.crc is inside tmp/a
    assert snap.findings_count == 4 and snap.datasets == 1 and snap.bytes_scanned == 10_000
    again = Snapshot.from_dict(json.loads(json.dumps(snap.to_dict())))
    assert again == snap
    assert {f.id for f in again.findings} == {A.id, B.id, C.id, _f("tmp/a/x.crc", "junk_file", 3).id}


def test_diff_new_resolved_still_open_golden() -> None:
    before = snapshot_of(result("s1", 0, (A, B, C)))
    after = snapshot_of(result("s2", 7, (B, C, D)))
    d = diff(before, after)
    assert [f.id for f in d.new] == [D.id] and d.new_bytes == 7
    assert [f.id for f in d.resolved] == [A.id] and d.resolved_bytes == 1_000
    assert [f.id for f in d.still_open] == [C.id, B.id] and d.still_open_bytes == 25_000
    assert d.rot_change == 25_007 - 26_000 and d.same_roots


def test_write_prune_and_load_history_with_bad_files(tmp_path: Path) -> None:
    other = ("file:/elsewhere",)
    paths = [write_snapshot(result(f"s{i}", i, (A,)), tmp_path, keep=0)[0] for i in range(4)]
    write_snapshot(result("x0", 0, (A,), roots=other), tmp_path, keep=0)
    hist = tmp_path / "history"
    (hist / "garbage.json").write_text("{not json")
    (hist / "foreign.json").write_text(json.dumps({"hello": "world"}))
    (hist / "notes.txt").write_text("ignored: not .json")
    snaps, warnings = load_history(tmp_path)
    assert [s.scan_id for s in snaps] == ["s0", "x0", "s1", "s2", "s3"]
    assert sorted(Path(w.uri or "").name for w in warnings) == ["foreign.json", "garbage.json"]
    assert all(w.code == "history" for w in warnings)
    # keep the newest 2 of these roots; other roots and foreign files stay
    _, pruned = write_snapshot(result("s4", 4, (A,)), tmp_path, keep=2)
    assert sorted(p.name for p in pruned) == sorted(p.name for p in paths[:3])
    left = sorted(p.name for p in hist.iterdir())
    assert left == ["foreign.json", "garbage.json", "notes.txt", "s3.json", "s4.json", "x0.json"]


def test_trend_and_previous_only_from_the_same_roots(tmp_path: Path) -> None:
    for r in (result("s1", 0, (A, B)), result("s2", 7, (B,)), result("o1", 8, (C,), roots=("file:/other",))):
        write_snapshot(r, tmp_path, keep=10)
    snaps, _ = load_history(tmp_path)
    current = result("s3", 14, (B, D))
    h = report_history(current, snaps)
    assert [p.scan_id for p in h.trend] == ["s1", "s2", "s3"]
    assert h.previous is not None and h.previous.scan_id == "s2" and h.previous_source == "history"
    assert h.diff is not None and [f.id for f in h.diff.new] == [D.id] and not h.diff.resolved
    # an explicit previous wins
    h2 = report_history(current, snaps, previous=snapshot_of(result("s1", 0, (A, B))))
    assert h2.previous_source == "explicit" and [f.id for f in h2.diff.resolved] == [A.id]
    # the first scan has no previous
    assert report_history(result("s0", -1, (A,)), snaps).diff is None


def test_load_previous_accepts_findings_json_and_snapshots(tmp_path: Path) -> None:
    r = result("s1", 0, (A, B))
    (tmp_path / "findings.json").write_text(json.dumps(r.to_dict()))
    assert load_previous(tmp_path / "findings.json") == snapshot_of(r)
    assert load_previous(tmp_path) == snapshot_of(r)
    snap_path, _ = write_snapshot(r, tmp_path, keep=5)
    assert load_previous(snap_path) == snapshot_of(r)
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(FindingsFormatError, match="neither a findings.json nor a rotscan snapshot"):
        load_previous(tmp_path / "bad.json")


def test_findings_json_without_cleanup_history_still_loads() -> None:
    doc = result("s1", 0, (A,)).to_dict()
    del doc["cleanup_history"]
    assert ScanResult.from_dict(doc).cleanup_history == ()
    run = CleanupRun("r1", ROOT, T0, T0, ("ann",), {"quarantined": 2}, {"quarantined": 900})
    r = result("s1", 0, (A,), cleanup=(run,))
    back = ScanResult.from_dict(json.loads(json.dumps(r.to_dict())))
    assert back.cleanup_history[0].reclaimed_bytes == 900 and back.cleanup_history[0].users == ("ann",)


def _audit_lake(tmp_path: Path) -> tuple[LocalStorage, object]:
    root = parse(str(tmp_path / "lake"))
    (tmp_path / "lake").mkdir()
    storage = LocalStorage()
    log = AuditLog(storage, root, "alice", "host1")
    log.record("quarantine", run_id="r1", uri=f"{root}/tmp/a", bytes=1_000, files=1)
    log.record("delete", run_id="r1", uri=f"{root}/tmp/b", bytes=500, files=1)
    log.record("quarantine", run_id="r1", uri=f"{root}/tmp/c", status="skipped", reason="changed")
    log.record("vacuum", run_id="r2", uri=f"{root}/wh/t", bytes=4_000)
    log.record("quarantine", run_id="r2", uri=f"{root}/x", status="failed", reason="io")
    AuditLog(storage, root, "bob", "host2").record("restore", run_id="r1", uri=f"{root}/tmp/b", bytes=500)
    AuditLog(storage, root, "bob", "host2").record("purge", run_id="r1", uri=f"{root}/_rotscan", bytes=1_000)
    return storage, root


def test_cleanup_runs_from_a_real_audit_log(tmp_path: Path) -> None:
    storage, root = _audit_lake(tmp_path)
    audit = tmp_path / "lake/_rotscan/audit.jsonl"
    with audit.open("a") as fh:
        fh.write("{torn line\n")
        fh.write(json.dumps({"no": "run id"}) + "\n")
    # an object-store style record (one object per record under audit/) is read too
    (tmp_path / "lake/_rotscan/audit").mkdir()
    (tmp_path / "lake/_rotscan/audit/2026-rec.json").write_text(json.dumps(
        {"time": "2026-11-27T00:00:00Z", "user": "carol", "event": "quarantine", "run_id": "r3",
         "uri": "x", "bytes": 42, "status": "done"}) + "\n")
    warnings: list[ScanWarning] = []
    runs = {r.run_id: r for r in read_cleanup_history(storage, root, warnings)}
    assert [w.code for w in warnings] == ["audit_malformed"]
    assert "2 malformed cleanup audit record(s)" in warnings[0].message and warnings[0].uri.endswith("audit.jsonl")
    r1, r2, r3 = runs["r1"], runs["r2"], runs["r3"]
    assert r1.users == ("alice", "bob") and r1.root == str(root)
    assert (r1.nbytes("quarantined"), r1.count("quarantined"), r1.count("skipped")) == (1_500, 2, 1)
    assert (r1.nbytes("restored"), r1.nbytes("purged")) == (500, 1_000)
    assert r1.reclaimed_bytes == 1_000  # 1,500 quarantined - 500 restored
    assert (r2.nbytes("vacuumed"), r2.count("failed"), r2.reclaimed_bytes) == (4_000, 1, 4_000)
    assert r3.reclaimed_bytes == 42 and r3.users == ("carol",)
    assert r1.first is not None and r1.last is not None and r1.first <= r1.last
    totals = cleanup_totals(tuple(runs.values()), None)
    assert totals.reclaimed_bytes == 5_042 and totals.purged_bytes == 1_000 and totals.runs_since == 0
    since = cleanup_totals(tuple(runs.values()), datetime(2026, 11, 26, 23, tzinfo=timezone.utc))
    assert since.runs_since >= 1 and since.reclaimed_since >= 42
    # no audit log at all: no runs, no warnings
    empty: list[ScanWarning] = []
    (tmp_path / "bare").mkdir()
    assert read_cleanup_history(storage, parse(str(tmp_path / "bare")), empty) == () and empty == []


def test_cleanup_runs_render() -> None:
    run = summarize_audit([
        {"time": "2026-12-01T10:00:00Z", "user": "ann", "event": "quarantine", "run_id": "run-9", "bytes": 3_000_000,
         "status": "done"},
        {"time": "2026-12-01T10:05:00Z", "user": "ann", "event": "purge", "run_id": "run-9", "bytes": 3_000_000,
         "status": "done"},
    ], ROOT)
    before = snapshot_of(result("s1", 0, (A,)))
    current = result("s2", 7, (), cleanup=run)
    html = render_report(current, price_per_gb_month=0.023, history=report_history(current, [before]))
    assert "Cleanup took <strong>2.9 MiB</strong> out of the lake in 1 run" in html
    assert "<strong>2.9 MiB</strong> of it in 1 run started since the previous scan" in html
    assert "run-9" in html and "2.9 MiB of quarantine was purged for good" in html
    assert re.search(r'<p class="label">Resolved</p><p class="big">1</p>', html)


# -- through the CLI -------------------------------------------------------------------------------


def _age_tree(root: Path, days: float = 10) -> None:
    old = time.time() - days * 86400
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.utime(os.path.join(dirpath, name), (old, old))


def _scan(lake: Path, out: Path) -> dict:
    r = CliRunner().invoke(main, ["scan", str(lake), "--out", str(out), "--no-profile", "-q"])
    assert r.exit_code == 0, r.output
    return json.loads((out / "findings.json").read_text())


def test_three_scans_via_the_cli_trend_resolved_and_cleanup(tmp_path: Path) -> None:
    lake, out = tmp_path / "lake", tmp_path / "out"
    (lake / "warehouse/t").mkdir(parents=True)
    pq.write_table(pa.table({"a": list(range(50))}), lake / "warehouse/t/part-00000.parquet")
    (lake / "tmp/junk").mkdir(parents=True)
    (lake / "tmp/junk/.DS_Store").write_bytes(b"x" * 3_000)
    (lake / "tmp/Thumbs.db").write_bytes(b"y" * 5_000)
    _age_tree(lake)

    first = _scan(lake, out)
    assert {f["kind"] for f in first["findings"]} == {"junk_file"} and len(first["findings"]) == 2
    assert first["cleanup_history"] == []
    assert first["scan"]["pricing"]["storage_class"] == "standard"  # recorded for re-rendering
    thumbs = next(f for f in first["findings"] if f["uri"].endswith("Thumbs.db"))

    (lake / "tmp/Thumbs.db").unlink()  # someone deletes it by hand
    second = _scan(lake, out)
    assert len(second["findings"]) == 1
    html = (out / "report.html").read_text()
    assert re.search(r'<p class="label">Resolved</p><p class="big">1</p><p class="sub">4.9 KiB no longer flagged', html)
    assert "tmp/Thumbs.db" in html.split('id="changes"')[1].split("</section>")[0]

    # a real cleanup run of what is left, then the third scan reads its audit log
    plan = tmp_path / "plan.json"
    r = CliRunner().invoke(main, ["plan", str(out), "--out", str(plan)])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["apply", str(plan), "--execute", "--json"])
    assert r.exit_code == 0, r.output
    third = _scan(lake, out)
    assert third["findings"] == []
    [run] = third["cleanup_history"]
    assert run["counts"]["quarantined"] == 1 and run["bytes"]["quarantined"] == 3_000
    assert run["reclaimed_bytes"] == 3_000

    snaps = sorted((out / "history").glob("*.json"))
    assert len(snaps) == 3
    html = (out / "report.html").read_text()
    trend = re.search(r'<svg[^>]*id="chart-trend".*?</svg>', html, re.S)
    assert trend is not None and trend.group(0).count('<g class="col">') == 3
    assert "Cleanup took <strong>2.9 KiB</strong> out of the lake in 1 run" in html
    assert "<strong>2.9 KiB</strong> of it in 1 run started since the previous scan" in html

    # re-render without Spark, explicitly against the first scan: both junk files resolved
    first_copy = tmp_path / "first.json"
    first_copy.write_text(json.dumps(first))
    r = CliRunner().invoke(main, ["report", str(out), "--previous", str(first_copy)])
    assert r.exit_code == 0, r.output
    html = (out / "report.html").read_text()
    assert "(given with <code>--previous</code>)" in html
    assert re.search(r'<p class="label">Resolved</p><p class="big">2</p><p class="sub">7.8 KiB', html)
    assert thumbs["id"] in {s["id"] for s in first["findings"]}
    # a corrupt snapshot is a warning, not a crash
    (out / "history" / "zzz.json").write_text("{")
    r = CliRunner().invoke(main, ["report", str(out)])
    assert r.exit_code == 0, r.output
    assert "zzz.json" in r.output and "skipped scan history file" in (out / "report.html").read_text()


def test_many_cleanup_runs_are_capped_in_the_report() -> None:
    records = [{"time": f"2026-11-{d:02d}T10:00:00Z", "user": "ann", "event": "quarantine", "run_id": f"run-{d:02d}",
                "bytes": 1_000, "status": "done"} for d in range(1, 26)]
    runs = summarize_audit(records, ROOT)
    assert len(runs) == 25 and [r.run_id for r in runs][:2] == ["run-01", "run-02"]
    html = render_report(result("s1", 0, (), cleanup=runs), price_per_gb_month=0.023)
    assert "run-25" in html and "run-06" in html and "run-05" not in html  # the newest 20
    assert "and 5 older runs (4.9 KiB taken out)" in html
    assert "Cleanup took <strong>24.4 KiB</strong> out of the lake in 25 runs;" in html


def test_a_bad_price_config_fails_before_scanning(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[report.storage_classes]\n"/data/archive" = "cold"\n')
    r = CliRunner().invoke(main, ["scan", str(tmp_path), "--out", str(tmp_path / "o"), "--config", str(cfg), "-q"])
    assert r.exit_code == 1 and "unknown storage class 'cold'" in r.output
    assert not (tmp_path / "o").exists()

"""Kept findings are not ROT: the one counting helper (rot_findings / counted_findings) and every
figure built on it — summary totals, categories, kinds, cost, charts, history snapshots. No JVM."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

from rotscan.models import Dataset, Decision, Finding, ScanInfo, ScanResult
from rotscan.report.charts import areas, offenders_chart
from rotscan.report.history import snapshot_of
from rotscan.report.summary import counted_findings, kept_findings, rot_bytes, rot_findings, summarize

ROOT = "file:/data/lake"
T0 = datetime(2026, 11, 26, 10, tzinfo=timezone.utc)


def _f(path: str, category: str, kind: str, nbytes: int, decision: Decision | None = None) -> Finding:
    return Finding(uri=f"{ROOT}/{path}", category=category, kind=kind, action="quarantine", confidence=0.95,
                   reclaimable_bytes=nbytes, explanation=kind, decision=decision)


KEEP = Decision(decision="keep", by="ana", at=T0, reason="audit copy", match="x")


def lake(decision: Decision | None = KEEP) -> ScanResult:
    datasets = (
        Dataset(uri=f"{ROOT}/warehouse/orders", format="delta", layout="delta", files=10, bytes=4_000),
        Dataset(uri=f"{ROOT}/audit/orders", format="parquet", layout="part_files", files=9, bytes=3_000),
        Dataset(uri=f"{ROOT}/archive/events", format="parquet", layout="part_files", files=5, bytes=2_000),
    )
    findings = (
        _f("audit/orders", "redundant", "exact_duplicate", 3_000, decision),
        _f("archive/events", "obsolete", "unread", 2_000),
    )
    info = ScanInfo(id="s1", started=T0, finished=T0, as_of=T0, roots=(ROOT,), tool_version="0.1.0")
    return ScanResult(info, datasets, findings, ())


def test_a_kept_finding_is_in_no_rot_figure_but_counted_as_kept() -> None:
    result = lake()
    assert [f.kind for f in rot_findings(result.findings)] == ["unread"]
    assert [f.kind for f in kept_findings(result.findings)] == ["exact_duplicate"]
    assert rot_bytes(result.findings) == 2_000
    s = summarize(result, price_per_gb_month=1.0)
    assert (s.rot_bytes, s.findings, s.kept_findings, s.kept_bytes) == (2_000, 1, 1, 3_000)
    assert s.category("redundant").bytes == 0 and s.category("redundant").findings == 0
    assert [g.name for g in s.by_kind] == ["unread"]
    assert s.monthly_savings == 2_000 / 10**9
    assert sum(c.bytes for c in s.cost_by_class) == 2_000
    # without the decision the same lake counts both
    plain = summarize(lake(None), price_per_gb_month=1.0)
    assert (plain.rot_bytes, plain.findings, plain.kept_findings, plain.kept_bytes) == (5_000, 2, 0, 0)


def test_charts_and_history_leave_kept_findings_out() -> None:
    result = lake()
    chart = str(offenders_chart(result.findings, lambda u: u.rsplit("/", 2)[-2]))
    assert "archive" in chart and "audit" not in chart
    by_area = {a.label: a.rot for a in areas(result.datasets, result.findings, result.scan.roots)}
    assert by_area["audit"] == 0 and by_area["archive"] == 2_000
    snap = snapshot_of(result)
    assert snap.rot_bytes["redundant"] == 0 and snap.rot_total == 2_000
    assert [f.kind for f in snap.findings] == ["unread"] and snap.findings_count == 1


def test_a_stale_or_expired_keep_keeps_nothing() -> None:
    stale = replace(KEEP, stale=True, stale_reason="the dataset changed")
    expired = replace(KEEP, until=T0 - timedelta(days=1), expired=True)
    approve = Decision(decision="approve", by="ana", at=T0)
    for d in (stale, expired, approve):
        result = lake(d)
        assert rot_bytes(result.findings) == 5_000, d
        assert summarize(result, price_per_gb_month=1.0).kept_findings == 0


def test_kept_bytes_are_de_duplicated_like_rot_bytes() -> None:
    findings = (_f("audit", "trivial", "tiny", 500, KEEP), _f("audit/x.crc", "trivial", "junk_file", 20, KEEP),
                _f("tmp", "trivial", "tiny", 70))
    assert [f.kind for f in counted_findings(findings, kept=True)] == ["tiny"]
    assert [f.uri.rsplit("/", 1)[-1] for f in counted_findings(findings)] == ["tmp"]

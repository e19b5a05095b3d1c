"""The review report: its numbers (ReportSummary) and the rendered HTML. Fast: no JVM."""

from __future__ import annotations

import csv
import io
import json
import os
import re
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from html import unescape

import pytest
from markupsafe import escape

from rotscan.models import (
    Dataset,
    Decision,
    DeltaInfo,
    Finding,
    ScanInfo,
    ScanResult,
    ScanWarning,
    UsageSource,
)
from rotscan.report import (
    counted_findings,
    format_age,
    format_bytes,
    format_count,
    format_money,
    format_percent,
    render_report,
    summarize,
    write_report,
)
from rotscan.report.display import finding_order
from rotscan.report.findings_view import decode_payload
from rotscan.report.summary import USAGE_UNKNOWN, format_ago

ROOT = "file:/data/lake"
T0 = datetime(2026, 11, 26, 10, 0, 0, tzinfo=timezone.utc)
MiB = 1024 * 1024


def scan_info(usage: tuple[UsageSource, ...] = (), roots: tuple[str, ...] = (ROOT,)) -> ScanInfo:
    return ScanInfo(
        id="scan-20261126-abc",
        started=T0,
        finished=T0 + timedelta(minutes=7, seconds=12),
        as_of=T0,
        roots=roots,
        tool_version="0.1.0",
        usage_sources=usage,
    )


def dataset(path: str, nbytes: int, **kw: object) -> Dataset:
    defaults: dict[str, object] = {"format": "parquet", "layout": "part_files", "files": 4}
    defaults.update(kw)
    return Dataset(uri=f"{ROOT}/{path}", bytes=nbytes, **defaults)  # type: ignore[arg-type]


def finding(path: str, category: str, kind: str, nbytes: int, **kw: object) -> Finding:
    defaults: dict[str, object] = {
        "action": "quarantine",
        "confidence": 0.95,
        "explanation": f"{kind} of {path}",
    }
    defaults.update(kw)
    uri = path if ":" in path else f"{ROOT}/{path}"
    return Finding(uri=uri, category=category, kind=kind, reclaimable_bytes=nbytes, **defaults)  # type: ignore[arg-type]


def sample_result(usage: tuple[UsageSource, ...] = ()) -> ScanResult:
    """A small lake of 1,000,000,000 bytes with findings that overlap on purpose."""
    datasets = (
        dataset(
            "warehouse/orders",
            400_000_000,
            format="delta",
            layout="delta",
            rows=200_000,
            modified_max=T0 - timedelta(days=3),
            delta=DeltaInfo(
                version=12,
                last_commit=T0 - timedelta(days=3),
                last_operation="MERGE",
                live_files=10,
                live_bytes=300_000_000,
                time_travel_files=5,
                time_travel_bytes=100_000_000,
                retention_hours=168.0,
                num_records=200_000,
            ),
        ),
        dataset(
            "backup/orders_copy",
            300_000_000,
            rows=200_000,
            modified_max=T0 - timedelta(days=200),
            rows_source="parquet_footer",
        ),
        dataset(
            "tmp/scratch_table", 200_000_000, format="csv", rows=50, modified_max=T0 - timedelta(days=900)
        ),
        dataset("reports/monthly", 100_000_000, format="json", small_files=40, zero_byte_files=2),
    )
    findings = (
        # redundant: a full copy of orders
        finding(
            "backup/orders_copy",
            "redundant",
            "exact_duplicate",
            300_000_000,
            confidence=0.99,
            related=(f"{ROOT}/warehouse/orders",),
            evidence={"jaccard": 1.0, "containment": 1.0},
        ),
        # obsolete on the same uri, claiming less: must not be counted again
        finding("backup/orders_copy", "obsolete", "unread", 250_000_000, action="archive", confidence=0.7),
        # trivial: the scratch table dir, and debris inside it (covered by the outer one)
        finding("tmp/scratch_table", "trivial", "tiny", 200_000_000, action="delete"),
        finding("tmp/scratch_table/_temporary", "trivial", "write_debris", 5_000_000, action="delete"),
        # trivial: a junk file that is no dataset at all
        finding("reports/.DS_Store", "trivial", "junk_file", 6_000, action="delete", confidence=1.0),
        # obsolete: time travel of orders, action vacuum
        finding(
            "warehouse/orders", "obsolete", "unvacuumed_history", 100_000_000, action="vacuum", confidence=0.9
        ),
        # a zero-byte "review" finding on a directory does not swallow what is inside it
        finding("reports", "obsolete", "producer_stopped", 0, action="review", confidence=0.5),
        finding("reports/monthly/part-0000.json", "trivial", "zero_byte", 0, action="delete"),
        finding("reports/monthly/_temporary", "trivial", "write_debris", 1_000_000, action="delete"),
    )
    warnings = (
        ScanWarning(uri=f"{ROOT}/raw/broken.parquet", message="corrupt Parquet footer", code="corrupt"),
        ScanWarning(uri=None, message="no access logs given", code="usage"),
    )
    return ScanResult(scan=scan_info(usage), datasets=datasets, findings=findings, warnings=warnings)


USAGE = (
    UsageSource(kind="openlineage", path="/logs/ol", start=T0 - timedelta(days=90), end=T0, events=1234),
)


# ---------------------------------------------------------------------------------------------
# ReportSummary


def test_summary_golden_numbers() -> None:
    s = summarize(sample_result(), price_per_gb_month=0.023, currency="USD")
    assert s.datasets == 4
    assert s.bytes_scanned == 1_000_000_000
    assert s.findings == 9
    # 300M copy + 200M scratch dir (debris inside not again) + 6k junk + 100M time travel + 1M debris
    assert s.rot_bytes == 300_000_000 + 200_000_000 + 6_000 + 100_000_000 + 1_000_000
    assert s.rot_share == pytest.approx(0.601006)
    red, obs, tri = s.by_category
    assert (red.category, red.findings, red.bytes) == ("redundant", 1, 300_000_000)
    assert (obs.category, obs.findings, obs.bytes) == ("obsolete", 3, 100_000_000)
    assert (tri.category, tri.findings, tri.bytes) == ("trivial", 5, 201_006_000)
    assert red.share == pytest.approx(0.30)
    assert obs.share == pytest.approx(0.10)
    assert tri.share == pytest.approx(0.201006)
    assert sum(c.bytes for c in s.by_category) == s.rot_bytes
    assert s.monthly_savings == pytest.approx(601_006_000 / 1e9 * 0.023)
    assert s.high_confidence_bytes == 300_000_000 + 200_000_000 + 6_000 + 100_000_000 + 1_000_000
    assert s.warnings == 2
    assert not s.usage_known
    assert s.usage_statement == USAGE_UNKNOWN


def test_summary_counts_by_kind_and_action() -> None:
    s = summarize(sample_result(), price_per_gb_month=0.023)
    kinds = {g.name: (g.findings, g.bytes) for g in s.by_kind}
    assert kinds["write_debris"] == (2, 1_000_000)  # the covered debris adds a count, not bytes
    assert kinds["unread"] == (1, 0)
    assert kinds["exact_duplicate"] == (1, 300_000_000)
    actions = {g.name: (g.findings, g.bytes) for g in s.by_action}
    assert actions == {
        "quarantine": (1, 300_000_000),
        "archive": (1, 0),
        "delete": (5, 201_006_000),
        "vacuum": (1, 100_000_000),
        "review": (1, 0),
    }
    assert [g.name for g in s.by_action][:2] == ["quarantine", "delete"]  # most bytes first


def test_no_double_count_rules() -> None:
    same = (finding("a", "trivial", "tiny", 10), finding("a/", "obsolete", "unread", 30))
    assert [f.kind for f in counted_findings(same)] == ["unread"]  # same uri: the larger claim
    nested = (
        finding("d/x/y", "trivial", "junk_file", 5),
        finding("d", "obsolete", "unread", 7),
        finding("d/x", "trivial", "write_debris", 3),
    )
    assert [f.kind for f in counted_findings(nested)] == ["unread"]  # the outer one only
    sibling = (finding("d", "obsolete", "unread", 7), finding("dx/y", "trivial", "junk_file", 5))
    assert len(counted_findings(sibling)) == 2  # "dx" is not inside "d"
    assert summarize(ScanResult(scan_info(), (), nested, ()), price_per_gb_month=1).rot_bytes == 7


def test_summary_of_empty_scan() -> None:
    s = summarize(ScanResult(scan_info(), (), (), ()), price_per_gb_month=0.023)
    assert (s.datasets, s.bytes_scanned, s.rot_bytes, s.monthly_savings) == (0, 0, 0, 0.0)
    assert s.rot_share is None and all(c.share is None for c in s.by_category)


def test_usage_statement_with_sources() -> None:
    s = summarize(sample_result(USAGE), price_per_gb_month=0.023)
    assert s.usage_known and s.usage_events == 1234
    assert "openlineage" in s.usage_statement and "1,234 events" in s.usage_statement
    assert "2026-08-28 to 2026-11-26" in s.usage_statement


def test_formatting_helpers() -> None:
    assert format_bytes(0) == "0 B"
    assert format_bytes(1023) == "1,023 B"
    assert format_bytes(1024) == "1.0 KiB"
    assert format_bytes(int(1.2 * MiB)) == "1.2 MiB"
    assert format_bytes(1024 * MiB - 1) == "1.0 GiB"
    assert format_bytes(None) == "—"
    assert format_count(1234567) == "1,234,567"
    assert format_percent(0.601006) == "60.1%"
    assert format_percent(0.0001) == "<0.1%"
    assert format_percent(0) == "0.0%"
    assert format_money(13.82, "USD") == "13.82 USD"
    assert format_money(0.0138, "EUR") == "0.014 EUR"
    assert format_money(0.00001, "EUR") == "< 0.0001 EUR"
    assert format_money(0, "USD") == "0.00 USD"
    assert format_money(1234.5, "USD") == "1,234.50 USD"
    assert format_age(timedelta(minutes=5)) == "5 minutes"
    assert format_age(timedelta(hours=30)) == "30 hours"
    assert format_age(timedelta(days=1)) == "24 hours"
    assert format_age(timedelta(days=12)) == "12 days"
    assert format_age(timedelta(days=200)) == "6 months"
    assert format_age(timedelta(days=900)) == "2.5 years"
    assert format_ago(T0 - timedelta(days=3), T0) == "3 days ago"
    assert format_ago(None, T0) == "—"


# ---------------------------------------------------------------------------------------------
# HTML


def render(result: ScanResult) -> str:
    return render_report(result, price_per_gb_month=0.023, currency="USD")


def evidence_rows(html: str) -> list[list[object]]:
    """The findings' detail data as the page script unpacks it (row order)."""
    m = re.search(r'<table class="data findings"[^>]* data-z="([A-Za-z0-9+/=]*)"', html)
    assert m, "findings table without its evidence data"
    return decode_payload(m.group(1))


def test_report_contains_every_finding_and_the_key_numbers() -> None:
    result = sample_result()
    html = render(result)
    rows = evidence_rows(html)
    assert [r[0] for r in rows] == [f.uri for f in sorted(result.findings, key=finding_order)]
    for f in result.findings:
        assert f'<tr id="f-{f.id}">' in html
        assert f"<td>{f.uri.removeprefix(ROOT + '/')}<td>" in html  # shown relative to the root
    assert ">backup/orders_copy<td>" in html
    assert "573.2 MiB" in html  # ROT bytes (601,006,000 B)
    assert "60.1%" in html
    assert "0.014 USD" in html  # 0.601 GB at 0.023 USD
    assert "GB = 10<sup>9</sup> bytes" in html
    assert "scan-20261126-abc" in html and ROOT in html
    assert "corrupt Parquet footer" in html and "(whole scan)" in html
    assert "v12 · 95.4 MiB" in html  # Delta version and time-travel bytes
    assert "<noscript>" in html
    assert "Showing 9 of 9 findings" in html


def test_report_escapes_hostile_values() -> None:
    evil = "<script>alert(1)</script>\"quoted's"
    # review fields (owner, catalog table, a reviewer's decision) are text from the lake and people
    verdict = Decision(decision="keep", by=evil, at=T0, reason=evil, id=evil, match=evil, stale=True, stale_reason=evil)
    result = ScanResult(
        scan=replace(scan_info(roots=(ROOT, f"{ROOT}/{evil}")), id=f"scan-{evil}"),
        datasets=(dataset(evil, 10, format=evil, owner=evil, table=evil),),
        findings=(
            finding(
                evil,
                "trivial",
                "tiny",
                10,
                explanation=evil,
                related=(evil,),
                evidence={evil: evil, "nested": {"k": evil}},
                owner=evil,
                owner_source=evil,
                table=evil,
                decision=verdict,
            ),
            # a copy whose keeper is hostile (copies section) and obsolete data in hostile lineage
            finding("copy", "redundant", "exact_duplicate", 5, related=(f"{ROOT}/{evil}",),
                    explanation=f"same rows; keep {evil}: {evil}", evidence={"rows": 3, "keeper": f"{ROOT}/{evil}"}),
            finding("old", "obsolete", "unread", 4, evidence={"last_read": None, "writers": [evil]}),
        ),
        warnings=(ScanWarning(uri=evil, message=evil, code=evil),),
        lineage={"edges": [{"src": f"{ROOT}/{evil}", "dst": f"{ROOT}/old", "job": evil,
                            "last_seen": "2026-11-01T00:00:00Z"}]},
    )
    html = render(result)
    assert 'id="copies"' in html and 'id="lineage"' in html and 'id="kept"' in html
    # the decisions file's scan id and roots reach the page script as one attribute value each
    box = re.search(r'<div class="review js-only" data-review data-scan-id="([^"]*)" data-roots="([^"]*)"', html)
    assert box and unescape(box[1]) == f"scan-{evil}"
    assert json.loads(unescape(box[2])) == [ROOT, f"{ROOT}/{evil}"]
    facts = [kv for r in evidence_rows(html) if len(r) > 5 for kv in r[5]]  # type: ignore[union-attr]
    assert ["table", evil] in facts and any(v.startswith(f"keep by {evil}") for _, v in facts)
    # the evidence data carries the hostile text as data (base64 of gzip: inert in the page)
    words = " ".join(" ".join(r[1]) for r in evidence_rows(html))  # type: ignore[arg-type]
    assert evil in words
    from rotscan.report.export import findings_csv

    cells = [c for row in csv.reader(io.StringIO(findings_csv(result), newline="")) for c in row]
    assert evil in cells  # plain text in CSV; only formula-like starts are quoted
    assert "<script>alert(1)</script>" not in html
    assert "alert(1)</script>" not in html
    assert str(escape(f"{ROOT}/{evil}")) in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&#34;quoted&#39;s" in html
    # the only script elements are the report's own
    assert html.count("<script") == render(ScanResult(scan_info(), (), (), ())).count("<script") == 2
    # no attribute is broken out of: every title value is one escaped string
    assert not re.search(r'title="[^"]*"quoted', html)


def test_report_fetches_nothing_from_the_network() -> None:
    result = sample_result(USAGE)
    html = render(result)
    fetches = re.findall(
        r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//|url\(\s*["']?\s*(?:https?:)?//""", html, re.I
    )
    assert fetches == []
    assert "<link" not in html and "@import" not in html and "<img" not in html


def test_usage_unknown_sentence() -> None:
    assert USAGE_UNKNOWN == (
        "usage unknown — no access logs or lineage were given, so nothing is claimed about reads"
    )
    assert USAGE_UNKNOWN in render(sample_result())
    with_usage = render(sample_result(USAGE))
    assert USAGE_UNKNOWN not in with_usage
    assert "/logs/ol" in with_usage and "Last read" in with_usage


def test_empty_scan_renders() -> None:
    html = render(ScanResult(scan_info(), (), (), ()))
    assert "No ROT found" in html and "No datasets" in html and "No warnings" in html


def test_ten_thousand_findings_stay_small() -> None:
    findings = tuple(
        finding(
            f"zone{i % 7}/table_{i:05d}/part-{i:05d}.parquet",
            ("redundant", "obsolete", "trivial")[i % 3],
            ("exact_duplicate", "unread", "junk_file", "write_debris")[i % 4],
            1_000 + i * 97,
            confidence=(i % 100) / 100,
            related=(f"{ROOT}/warehouse/t{i % 50}",),
            explanation=f"same rows as warehouse/t{i % 50}; not read in {i % 400} days",
            evidence={"jaccard": 0.97, "containment": 1.0, "rows": 1000 + i},
        )
        for i in range(10_000)
    )
    result = ScanResult(scan_info(), sample_result().datasets, findings, ())
    html = render(result)
    assert len(html.encode()) < 3_000_000  # was 5.7 MB with the evidence inline
    assert html.count('<tr id="f-') == 10_000
    assert len(evidence_rows(html)) == 10_000
    assert "Showing 10,000 of 10,000 findings" in html


def test_round_trip_renders_identically() -> None:
    result = sample_result(USAGE)
    again = ScanResult.from_dict(result.to_dict())
    assert render(again) == render(result)


def test_write_report_is_atomic(tmp_path) -> None:
    out = tmp_path / "out"
    path = write_report(sample_result(), out, price_per_gb_month=0.023, currency="USD")
    assert path == out / "report.html"
    assert path.read_text(encoding="utf-8") == render(sample_result())
    assert sorted(os.listdir(out)) == ["findings.csv", "report.html"]  # no temp file left behind
    path.write_text("old")
    write_report(sample_result(), out, price_per_gb_month=0.023, currency="USD")
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_copies_are_grouped_under_the_copy_to_keep() -> None:
    from rotscan.models import Finding
    from rotscan.report.findings_view import copy_clusters
    from rotscan.report.html import render_report

    base = ScanResult.from_dict(ScanResult(
        scan=ScanInfo(id="s", started=T0, finished=T0, as_of=T0, roots=("file:/lake",), tool_version="t"),
        datasets=(), findings=(), warnings=()).to_dict())
    copies = tuple(
        Finding(uri=f"file:/lake/backup/{n}", category="redundant", kind="exact_duplicate", action="quarantine",
                confidence=0.99, reclaimable_bytes=b, related=("file:/lake/warehouse/t",),
                explanation="same 10 rows as warehouse/t; keep warehouse/t: it is a managed Delta table, the copy is "
                            f"{n} files",
                evidence={"jaccard": 1.0, "containment": 1.0, "rows": 10})
        for n, b in (("a", 10), ("b", 30)))
    result = ScanResult(scan=base.scan, datasets=(), findings=copies, warnings=())
    [cluster] = copy_clusters(result)
    assert cluster["keeper"] == "file:/lake/warehouse/t"
    assert [f.uri for f in cluster["members"]] == ["file:/lake/backup/b", "file:/lake/backup/a"]
    html = render_report(result, price_per_gb_month=0.023)
    assert 'id="copies"' in html and html.count('<tr class="keeper">') == 1
    # each copy says why the first line is kept instead, in the detector's words
    assert '<td class="why-row">it is a managed Delta table, the copy is b files</td>' in html
    assert "The copy to keep is not in the inventory" in html  # no dataset for the keeper here
    sub = Finding(uri="file:/lake/extract", category="redundant", kind="subset", action="review", confidence=0.8,
                  reclaimable_bytes=1, explanation="95% of its rows are in warehouse/t", related=("file:/lake/warehouse/t",))
    [cluster] = copy_clusters(replace(result, findings=(*copies, sub)))
    assert cluster["reasons"][sub.id] == "it contains this copy's rows"


def test_keyboard_and_screen_reader_hooks() -> None:
    """Static checks of what keyboard and screen-reader users rely on (the browser test presses keys)."""
    from html.parser import HTMLParser

    class Controls(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.stack: list[str] = []
            self.unlabelled: list[str] = []
            self.controls = 0
            self.ids: set[str] = set()

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            a = dict(attrs)
            if a.get("id"):
                self.ids.add(a["id"] or "")
            if tag in ("input", "select"):
                self.controls += 1
                if "label" not in self.stack and not a.get("aria-label"):
                    self.unlabelled.append(str(a))
            if tag not in ("input", "br", "meta", "img", "link"):
                self.stack.append(tag)

        def handle_endtag(self, tag: str) -> None:
            if tag in self.stack:
                while self.stack and self.stack.pop() != tag:
                    pass

    result = sample_result(USAGE)
    html = render(result)
    parser = Controls()
    parser.feed(html)
    assert parser.controls >= 10 and parser.unlabelled == []  # every control has a label
    assert '<a class="skip" href="#findings">' in html and "findings" in parser.ids
    findings = html[html.index('<section id="findings"'): html.index("</section>", html.index('<section id="findings"'))]
    assert findings.count("<details><summary>") == len(result.findings)  # rows open with Enter/Space
    assert 'aria-sort="descending"><button type="button" data-sort="num">Reclaimable' in findings
    assert 'role="status" aria-live="polite">Showing 9 of 9 findings' in findings
    assert re.search(r"select data-min=\"6\".*≥ 1 GiB", findings) and re.search(r"select data-min=\"5\".*≥ 0\.9", findings)
    assert ":focus-visible" in html and "@media print" in html

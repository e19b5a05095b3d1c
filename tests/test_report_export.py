"""findings.csv beside report.html: one row per finding, read back with the csv module; formula-like
cells are neutralised; written by both `rotscan scan` and `rotscan report`, linked from the report
header by relative hrefs. Fast: no JVM."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timezone
from pathlib import Path

from click.testing import CliRunner

from rotscan.cli import main
from rotscan.findings_io import write_findings
from rotscan.models import Finding, ScanInfo, ScanResult
from rotscan.report.export import COLUMNS, findings_csv, safe_cell, write_findings_csv
from rotscan.report.html import render_report

from .lakes import build_trivial_lake

T0 = datetime(2026, 11, 26, 10, tzinfo=timezone.utc)
R = "file:/lake"


def result(*findings: Finding) -> ScanResult:
    scan = ScanInfo(id="s1", started=T0, finished=T0, as_of=T0, roots=(R,), tool_version="t")
    return ScanResult(scan=scan, datasets=(), findings=findings, warnings=())


def f(path: str, nbytes: int, **kw: object) -> Finding:
    base: dict[str, object] = {"category": "trivial", "kind": "junk_file", "action": "delete", "confidence": 0.99,
                               "explanation": "junk"}
    base.update(kw)
    return Finding(uri=f"{R}/{path}", reclaimable_bytes=nbytes, **base)  # type: ignore[arg-type]


def read(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_round_trip_one_row_per_finding_largest_first() -> None:
    a = f("tmp/a", 10, explanation='says "hi", then\nbreaks a line')
    b = f("backup/b", 300, category="redundant", kind="exact_duplicate", action="quarantine", confidence=0.9876,
          related=(f"{R}/warehouse/b", f"{R}/other/b"))
    rows = read(findings_csv(result(a, b)))
    assert list(rows[0]) == list(COLUMNS)
    assert [r["id"] for r in rows] == [b.id, a.id]
    assert rows[0] == {"id": b.id, "category": "redundant", "kind": "exact_duplicate", "action": "quarantine",
                       "uri": f"{R}/backup/b", "relative_path": "backup/b", "reclaimable_bytes": "300",
                       "confidence": "0.9876", "related": f"{R}/warehouse/b | {R}/other/b", "explanation": "junk",
                       "owner": "unowned", "table": "", "decision": ""}
    assert rows[1]["explanation"] == 'says "hi", then\nbreaks a line'


def test_formula_like_cells_are_neutralised() -> None:
    evil = [f("=cmd|' /C calc'!A0", 1), f("x", 2, explanation="+SUM(A1:A9)"), f("y", 3, explanation="-2+3"),
            f("z", 4, explanation="@SUM(1)"), f("t", 5, explanation="\t=1"), f("c", 6, explanation="\r=1")]
    rows = read(findings_csv(result(*evil)))
    by_bytes = {r["reclaimable_bytes"]: r for r in rows}
    assert by_bytes["1"]["relative_path"] == "'=cmd|' /C calc'!A0"
    assert by_bytes["1"]["uri"] == f"{R}/=cmd|' /C calc'!A0"  # starts with "file:", harmless as is
    assert [by_bytes[str(n)]["explanation"] for n in (2, 3, 4, 5, 6)] == \
        ["'+SUM(A1:A9)", "'-2+3", "'@SUM(1)", "'\t=1", "'\r=1"]
    assert all(not v.startswith(("=", "+", "-", "@", "\t", "\r")) for r in rows for v in r.values())
    assert safe_cell("plain") == "plain" and safe_cell("") == ""


def test_written_atomically_with_bom(tmp_path: Path) -> None:
    path = write_findings_csv(result(f("a", 1)), tmp_path)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
    assert [p.name for p in tmp_path.iterdir()] == ["findings.csv"]
    assert len(read(path.read_text(encoding="utf-8-sig"))) == 1


def test_report_header_links_the_exports_relatively() -> None:
    html = render_report(result(f("a", 1)), price_per_gb_month=0.02)
    assert re.search(r'<a href="findings\.csv" download>', html) and '<a href="findings.json">' in html


def test_scan_and_report_commands_write_the_csv(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    lake.mkdir()
    build_trivial_lake(lake)
    out = tmp_path / "out"
    runner = CliRunner()
    res = runner.invoke(main, ["scan", str(lake), "--out", str(out), "--no-profile", "-q"])
    assert res.exit_code == 0, res.output
    rows = read((out / "findings.csv").read_text(encoding="utf-8-sig"))
    findings = __import__("json").loads((out / "findings.json").read_text())["findings"]
    assert sorted(r["id"] for r in rows) == sorted(x["id"] for x in findings) and rows
    (out / "findings.csv").unlink()
    res = runner.invoke(main, ["report", str(out)])
    assert res.exit_code == 0, res.output
    assert len(read((out / "findings.csv").read_text(encoding="utf-8-sig"))) == len(rows)


def test_report_of_findings_json_alone(tmp_path: Path) -> None:
    write_findings(result(f("a", 1), f("b", 2)), tmp_path)
    res = CliRunner().invoke(main, ["report", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert {p.name for p in tmp_path.iterdir()} >= {"findings.json", "report.html", "findings.csv"}

"""Lineage of obsolete findings in the report: the neighbourhood (hops, cap with "+N more"), the
inline SVG (well-formed, every label escaped), the section and its anchors, and lineage.json loaded
by `rotscan report`'s re-render. Fast: no JVM."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

from rotscan.findings_io import read_findings, write_findings, write_lineage
from rotscan.models import Dataset, Finding, ScanInfo, ScanResult
from rotscan.report.display import PathDisplay
from rotscan.report.findings_view import MAX_LINEAGE, decode_payload
from rotscan.report.html import render_report
from rotscan.report.lineage_svg import LineageIndex, parse_edges, render_svg

T0 = datetime(2026, 11, 26, 10, tzinfo=timezone.utc)
R = "file:/lake"
EVIL = "<script>alert(1)</script>\"&'"
SVG = "{http://www.w3.org/2000/svg}"


def edge(src: str, dst: str, job: str = "job", days: int = 1) -> dict[str, str]:
    return {"src": f"{R}/{src}", "dst": f"{R}/{dst}", "job": job,
            "last_seen": (T0 - timedelta(days=days)).isoformat().replace("+00:00", "Z")}


CHAIN = {"version": 1, "edges": [
    edge("raw/a", "stage/b"), edge("stage/b", "mart/c"), edge("mart/c", "report/d"), edge("report/d", "export/e"),
    edge("raw/z", "mart/c", job="other"),
]}


def ds(path: str, **kw: object) -> Dataset:
    return Dataset(uri=f"{R}/{path}", format="parquet", layout="part_files", files=1, bytes=100, **kw)  # type: ignore[arg-type]


def svg_of(lineage: dict, center: str, **kw: object) -> tuple[str, ET.Element]:
    hood = LineageIndex(parse_edges(lineage)).neighbourhood(f"{R}/{center}", **kw)  # type: ignore[arg-type]
    text = render_svg(hood, datasets={}, as_of=T0, display=PathDisplay([R]), usage_known=False)
    return text, ET.fromstring(text)


def labels(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{SVG}text") if t.get("class") == "name"]


def test_neighbourhood_by_hops() -> None:
    index = LineageIndex(parse_edges(CHAIN))
    one = index.neighbourhood(f"{R}/mart/c", hops=1)
    assert one.layers == {0: (f"{R}/mart/c",), -1: (f"{R}/raw/z", f"{R}/stage/b"), 1: (f"{R}/report/d",)}
    two = index.neighbourhood(f"{R}/mart/c", hops=2)
    assert two.layers[-2] == (f"{R}/raw/a",) and two.layers[2] == (f"{R}/export/e",)
    assert len(two.edges) == 5 and not two.more


def test_cap_keeps_the_nearest_and_counts_the_rest() -> None:
    fan = {"edges": [edge("t/center", f"out/o{i:02d}") for i in range(30)] + [edge("in/i", "t/center")]}
    text, root = svg_of(fan, "t/center", hops=2, max_nodes=12)
    assert len(labels(root)) == 12  # the centre, its input, 10 outputs
    assert "in/i" in labels(root) and "out/o00" in labels(root) and "out/o10" not in labels(root)
    assert "+20 more downstream" in text


def test_svg_is_well_formed_and_escapes_every_label() -> None:
    graph = {"edges": [edge(EVIL, "mart/c", job=EVIL), edge("mart/c", f"x/{EVIL}")]}
    text, root = svg_of(graph, "mart/c")
    assert root.tag == f"{SVG}svg"
    assert "<script" not in text and "alert(1)</script>" not in text
    assert EVIL in labels(root) and f"x/{EVIL}" in labels(root)  # shown as text, not markup
    assert any(EVIL in (t.text or "") for t in root.iter(f"{SVG}title"))  # the job name in the edge tooltip


def test_parse_edges_skips_malformed_ones() -> None:
    edges = parse_edges({"edges": [{"src": "a"}, "x", {"src": "a", "dst": "b", "last_seen": "garbage"}]})
    assert [(e.src, e.dst, e.last_seen) for e in edges] == [("a", "b", None)]
    assert parse_edges(None) == []


def result_with_lineage(findings: tuple[Finding, ...], lineage: dict | None = CHAIN) -> ScanResult:
    scan = ScanInfo(id="s1", started=T0, finished=T0, as_of=T0, roots=(R,), tool_version="t")
    datasets = (ds("mart/c", last_read=T0 - timedelta(days=400), last_written=T0 - timedelta(days=300)),
                ds("report/d", last_read=T0 - timedelta(days=2)), ds("stage/b"))
    return ScanResult(scan=scan, datasets=datasets, findings=findings, warnings=(), lineage=lineage)


def obsolete(path: str, nbytes: int = 100) -> Finding:
    return Finding(uri=f"{R}/{path}", category="obsolete", kind="unread", action="quarantine", confidence=0.7,
                   reclaimable_bytes=nbytes, explanation="not read")


def test_report_draws_lineage_only_for_obsolete_findings_and_links_the_row() -> None:
    unread = obsolete("mart/c")
    copy = Finding(uri=f"{R}/stage/b", category="redundant", kind="exact_duplicate", action="quarantine",
                   confidence=0.99, reclaimable_bytes=100, explanation="copy", related=(f"{R}/raw/a",))
    html = render_report(result_with_lineage((unread, copy)), price_per_gb_month=0.02)
    assert html.count('<figure class="lin"') == 1 and f'id="lin-{unread.id}"' in html
    assert f'<a href="#f-{unread.id}">mart/c</a>' in html
    rows = {r[0]: r for r in decode_payload(re.search(r'data-z="([^"]+)"', html).group(1))}  # type: ignore[union-attr]
    assert rows[unread.uri][4] == f"lin-{unread.id}" and rows[copy.uri][4] == ""  # the detail links to the graph
    svg = html[html.index("<svg", html.index('id="lineage"')):]
    svg = svg[: svg.index("</svg>") + 6]
    root = ET.fromstring(svg)
    assert "stage/b" in labels(root) and "raw/a" in labels(root)
    infos = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "info"]
    assert "read unknown · written 300 d ago" in infos  # reads unknown without usage sources, never "unread"
    assert 'href="#lineage"' in html


def test_lineage_is_capped_for_many_findings() -> None:
    edges = [edge(f"src/s{i:03d}", f"obs/o{i:03d}") for i in range(MAX_LINEAGE + 15)]
    findings = tuple(obsolete(f"obs/o{i:03d}", nbytes=1000 - i) for i in range(MAX_LINEAGE + 15))
    html = render_report(result_with_lineage(findings, {"edges": edges}), price_per_gb_month=0.02)
    assert html.count('<figure class="lin"') == MAX_LINEAGE
    assert "15 more obsolete findings have lineage" in html


def test_no_lineage_no_section() -> None:
    html = render_report(result_with_lineage((obsolete("mart/c"),), None), price_per_gb_month=0.02)
    assert 'id="lineage"' not in html and "<svg" not in html[html.index('id="findings"'):]


def test_report_rerender_loads_lineage_json(tmp_path: Path) -> None:
    result = result_with_lineage((obsolete("mart/c"),))
    write_findings(result, tmp_path)
    write_lineage(result, tmp_path)
    again = read_findings(tmp_path)
    assert again.lineage == CHAIN
    assert 'id="lineage"' in render_report(again, price_per_gb_month=0.02)
    (tmp_path / "lineage.json").write_text("{not json", encoding="utf-8")
    assert read_findings(tmp_path).lineage is None  # optional context: left out, never an error
    (tmp_path / "lineage.json").unlink()
    assert read_findings(tmp_path) == replace(result, lineage=None)

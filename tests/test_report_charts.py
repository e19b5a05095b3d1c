"""Inline-SVG charts: well-formed, accessible, small, and inert whatever the path names. No JVM."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone

from rotscan.models import Dataset, Finding, ScanInfo, ScanResult
from rotscan.report.charts import areas, areas_chart, category_chart, offenders_chart, shorten, trend_chart
from rotscan.report.display import PathDisplay
from rotscan.report.history import report_history, snapshot_of
from rotscan.report.html import render_report
from rotscan.report.summary import summarize

SVG = "{http://www.w3.org/2000/svg}"
ROOT = "file:/data/lake"
T0 = datetime(2026, 11, 26, 10, tzinfo=timezone.utc)
EVIL = "<script>alert(1)</script>"
QUOTES = "\"&'"


def _d(path: str, nbytes: int, root: str = ROOT) -> Dataset:
    return Dataset(uri=f"{root}/{path}", format="parquet", layout="part_files", files=1, bytes=nbytes, root=root)


def _f(path: str, category: str, kind: str, nbytes: int, root: str = ROOT) -> Finding:
    return Finding(uri=f"{root}/{path}", category=category, kind=kind, action="quarantine", confidence=0.9,
                   reclaimable_bytes=nbytes, explanation=kind)


def _info(scan_id: str = "s1", days: int = 0, roots: tuple[str, ...] = (ROOT,)) -> ScanInfo:
    t = T0 + timedelta(days=days)
    return ScanInfo(id=scan_id, started=t, finished=t, as_of=t, roots=roots, tool_version="0.1.0")


def parse_svg(markup: object) -> ET.Element:
    root = ET.fromstring(str(markup))
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title is not None and title.text and desc is not None and desc.text
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    return root


def texts(svg: ET.Element) -> list[str]:
    return [t.text or "" for t in svg.iter(f"{SVG}text")]


def hostile_result() -> ScanResult:
    datasets = (_d(f"{EVIL}/t", 5_000), _d(f"{QUOTES}/t", 7_000), _d("warehouse/orders", 100_000))
    findings = (_f(f"{EVIL}/t", "trivial", "tiny", 5_000), _f(f"{QUOTES}/t", "redundant", "exact_duplicate", 7_000))
    return ScanResult(_info(), datasets, findings, ())


def test_category_chart_numbers_and_structure() -> None:
    result = ScanResult(_info(), (_d("a/t", 1_000_000), _d("b/t", 3_000_000)),
                        (_f("a/t", "redundant", "exact_duplicate", 1_000_000), _f("b/x", "obsolete", "unread", 250_000)), ())
    svg = parse_svg(category_chart(summarize(result, price_per_gb_month=0.023)))
    labels = texts(svg)
    assert labels[:2] == ["Redundant", "976.6 KiB · 25.0%"]
    assert "Obsolete" in labels and "244.1 KiB · 6.2%" in labels and "0 B · 0.0%" in labels
    desc = svg.find(f"{SVG}desc").text
    assert "redundant: 976.6 KiB (25.0% of 3.8 MiB scanned, 1 findings)" in desc
    # the obsolete bar is a quarter of the redundant one (same scale for every row)
    widths = [float(r.get("width")) for r in svg.iter(f"{SVG}rect")]
    assert widths[1] == round(widths[0] / 4, 1) and widths[2] == 0.0


def test_offenders_top_n_largest_first_relative_paths() -> None:
    findings = tuple(_f(f"zone/t{i:02d}", "trivial", "tiny", 1_000 * (i + 1)) for i in range(25))
    svg = parse_svg(offenders_chart(findings, PathDisplay((ROOT,)), top=10))
    rows = svg.findall(f"{SVG}g")
    assert len(rows) == 10
    assert [texts(g)[0] for g in rows[:3]] == ["zone/t24", "zone/t23", "zone/t22"]
    assert offenders_chart((), PathDisplay((ROOT,))) is None


def test_areas_total_vs_rot_with_other_bucket() -> None:
    datasets = tuple(_d(f"area{i:02d}/t", 1_000 * (i + 1)) for i in range(15)) + (_d("top.csv", 50),)
    findings = (_f("area14/t", "trivial", "tiny", 600), _f("area14/t/x/.DS_Store", "trivial", "junk_file", 9),
                _f("area00/_temporary", "trivial", "write_debris", 77))
    rows = areas(datasets, findings, (ROOT,), top=12)
    assert [(a.label, a.total, a.rot) for a in rows[:2]] == [("area14", 15_000, 600), ("area13", 14_000, 0)]
    assert rows[-1].label == "other (4 areas)"
    assert rows[-1].total == 1_000 + 2_000 + 3_000 + 50 and rows[-1].rot == 77
    svg = parse_svg(areas_chart(datasets, findings, (ROOT,), top=12))
    assert "ROT 600 B of 14.6 KiB" in texts(svg)
    # two roots: areas are named by root
    two = areas((_d("x/t", 10, "file:/a"), _d("x/t", 20, "file:/b")), (), ("file:/a", "file:/b"))
    assert sorted(a.label for a in two) == ["a/x", "b/x"]


def test_trend_chart_one_column_per_scan() -> None:
    results = [ScanResult(_info(f"s{i}", 7 * i), (_d("a/t", 10_000),),
                          tuple(_f(f"a/t{j}", "trivial", "tiny", 1_000) for j in range(i + 1)), ()) for i in range(3)]
    points = [snapshot_of(r) for r in results]
    svg = parse_svg(trend_chart(points))
    cols = svg.findall(f"{SVG}g")
    assert len(cols) == 3
    assert [t for g in cols for t in texts(g)] == ["1,000 B", "2026-11-26", "2.0 KiB", "2026-12-03",
                                                   "2.9 KiB", "2026-12-10"]
    # stacked heights are proportional: the last column is three times the first
    heights = [float(g.find(f"{SVG}rect").get("height")) for g in cols]
    assert heights[2] == 170.0 and abs(heights[0] - 170 / 3) < 0.1
    assert trend_chart([]) is None


def test_hostile_names_stay_inert_in_every_chart_and_the_diff() -> None:
    result = hostile_result()
    rel = PathDisplay((ROOT,))
    charts = [category_chart(summarize(result, price_per_gb_month=0.023)), offenders_chart(result.findings, rel),
              areas_chart(result.datasets, result.findings, (ROOT,)),
              trend_chart([snapshot_of(result)])]
    for markup in charts:
        svg = parse_svg(markup)
        assert "<script" not in str(markup)
        assert not list(svg.iter(f"{SVG}script")) and not list(svg.iter("script"))
        for el in svg.iter():
            assert not any(k.lower().startswith("on") for k in el.attrib)
    labels = texts(parse_svg(charts[1]))
    assert f"{EVIL}/t" in labels and f"{QUOTES}/t" in labels  # text survives, as text
    area_labels = texts(parse_svg(charts[2]))
    assert "<script>alert(1)<" in area_labels and QUOTES in area_labels  # first path component
    # the whole report, with a previous scan so the diff lists the hostile findings
    previous = ScanResult(_info("s0", -7), result.datasets, (_f(f"{EVIL}/old", "trivial", "tiny", 1),), ())
    history = report_history(result, [snapshot_of(previous)])
    assert history.diff is not None and len(history.diff.new) == 2 and len(history.diff.resolved) == 1
    html = render_report(result, price_per_gb_month=0.023, history=history)
    assert EVIL not in html and "alert(1)</script>" not in html
    assert html.count("<script") == 2  # the report's own two script elements
    assert "&lt;script&gt;alert(1)&lt;/script&gt;/old" in html  # resolved, in the diff
    assert "&#34;&amp;&#39;/t" in html
    assert not re.search(r'title="[^"]*"&', html)
    for svg in re.findall(r"<svg.*?</svg>", html, re.S):
        ET.fromstring(svg)


def test_long_labels_keep_their_end() -> None:
    label = "warehouse/" + "x" * 60 + "/orders_2024"
    short = shorten(label)
    assert len(short) == 30 and short.startswith("…") and short.endswith("/orders_2024")
    svg = parse_svg(offenders_chart((_f(label, "trivial", "tiny", 5),), PathDisplay((ROOT,))))
    assert short in texts(svg)
    assert any(label in (t.text or "") for t in svg.iter(f"{SVG}title"))  # full path on hover


def test_report_charts_stay_small_with_many_findings() -> None:
    findings = tuple(_f(f"zone{i % 30}/t{i:05d}", ("redundant", "obsolete", "trivial")[i % 3], "tiny", 1_000 + i)
                     for i in range(5_000))
    html = render_report(ScanResult(_info(), (), findings, ()), price_per_gb_month=0.023)
    svgs = re.findall(r"<svg.*?</svg>", html, re.S)
    assert len(svgs) == 3  # categories, offenders, areas; no trend with one scan
    assert sum(len(s) for s in svgs) < 40_000
    assert sum(s.count("<rect") for s in svgs) <= 3 + 10 + 2 * 13

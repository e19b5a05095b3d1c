"""The report of a real scan (the README's quick start on the demo lake, with its usage events) in
headless Chromium: it loads from ``file://`` with no console error and no request but itself, shows
every finding of ``findings.json``, and its category/kind filters count what the file says."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from rotscan.cli import main
from tests.browser_support import Chromium, ReportView, require_chromium

pytestmark = [pytest.mark.spark, pytest.mark.browser]


def test_demo_lake_report_in_the_browser(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    binary = require_chromium()
    lake, out = tmp_path / "demo-lake", tmp_path / "reports"
    r = CliRunner().invoke(main, ["demo-lake", str(lake)])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["scan", str(lake), "--out", str(out), "--quiet",
                                  "--lineage", str(lake / "_usage/openlineage.jsonl")])
    assert r.exit_code == 0, r.output
    findings = json.loads((out / "findings.json").read_text())["findings"]
    assert findings
    report = out / "report.html"
    print(f"report: {report} ({report.stat().st_size:,} bytes, {len(findings)} findings)")
    with Chromium(binary) as browser, browser.page() as page:
        view = ReportView(page, report)
        print(f"load: {view.load():.2f} s")
        ids = view.row_ids()
        assert sorted(ids) == sorted(f["id"] for f in findings)
        assert view.count() == (len(findings), len(findings))
        for field in ("category", "kind"):
            for value, n in sorted(Counter(f[field] for f in findings).items()):
                view.choose(value)
                view.wait_for_count(n)
                wanted = {f["id"] for f in findings if f[field] == value}
                assert set(view.visible_ids()) <= wanted and view.visible_ids()
            view.choose("")
        view.wait_for_count(len(findings))
        view.assert_clean()
        view.screenshot("report-demo-lake.png")
    assert browser.leftover_pids() == []

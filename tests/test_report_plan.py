"""The cleanup plan in the report: a real plan built by the planner on a tmp lake (actions per type,
bytes, protected and skipped paths with reasons), a tampered action shown as refused, and a corrupt
plan shown as a warning — never a crash. Fast: no JVM (metadata-only scan)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from rotscan.cli import main
from rotscan.findings_io import read_findings
from rotscan.report.html import render_report
from rotscan.report.plan_view import find_plan, plan_view

from .cleanup_support import build_cleanup_lake, config, plan_and_load, rel_of, scan_lake


@pytest.fixture()
def planned(tmp_path: Path):  # type: ignore[no-untyped-def]
    root = tmp_path / "lake"
    root.mkdir()
    build_cleanup_lake(root, bulk_files=10)
    out = scan_lake(root, tmp_path / "scan")
    plan, _ = plan_and_load(out, out / "plan.json", cfg=config(protect=["exports/**"]))
    return root, out, plan


def section(html: str) -> str:
    start = html.index('<section id="plan"')
    return html[start: html.index("</section>", start)]


def test_plan_view_matches_the_plan(planned) -> None:  # type: ignore[no-untyped-def]
    root, out, plan = planned
    result = read_findings(out)
    view = plan_view(out / "plan.json", result)
    assert view.error is None and view.matches_scan and view.plan_id == plan.plan_id
    assert view.total_actions == len(plan.actions) > 0
    assert view.total_bytes == sum(a.bytes for a in plan.actions)
    by_type: dict[str, list[int]] = {}
    for a in plan.actions:
        by_type.setdefault(a.action, [0, 0])
        by_type[a.action][0] += 1
        by_type[a.action][1] += a.bytes
    assert {t.action: [t.count, t.bytes] for t in view.by_action} == by_type
    assert {rel_of(r.uri, root) for r in view.protected} >= {"exports/.DS_Store"}
    assert all("[cleanup] protect" in r.reason for r in view.protected)
    skipped = {rel_of(r.uri, root): r.reason for r in view.skipped}
    assert "inside the live Delta table" in skipped["warehouse/fake_delta/.DS_Store"]
    assert view.counts["needs_review"] == len(plan.needs_review) > 0


def test_report_shows_actions_protected_and_skipped(planned) -> None:  # type: ignore[no-untyped-def]
    root, out, plan = planned
    result = read_findings(out)
    html = render_report(result, price_per_gb_month=0.023, plan=find_plan(out, None, result))
    sec = section(html)
    assert plan.plan_id in sec and "Will be removed" in sec
    for a in plan.actions:
        assert f'title="{a.uri}"' in sec
    assert "protected by [cleanup] protect &#39;exports/**&#39;" in sec
    assert "inside the live Delta table" in sec
    assert 'href="#plan"' in html
    assert "rotscan plan" in html  # the way to a new plan is named


def test_no_plan_no_section(tmp_path: Path, planned) -> None:  # type: ignore[no-untyped-def]
    _, out, _ = planned
    (out / "plan.json").unlink()
    result = read_findings(out)
    assert find_plan(out, None, result) is None
    assert '<section id="plan"' not in render_report(result, price_per_gb_month=0.023)


def test_tampered_action_is_shown_as_refused(planned) -> None:  # type: ignore[no-untyped-def]
    _, out, plan = planned
    doc = json.loads((out / "plan.json").read_text())
    doc["actions"][0]["bytes"] += 1  # an edit after planning: its checksum no longer matches
    (out / "plan.json").write_text(json.dumps(doc))
    view = plan_view(out / "plan.json", read_findings(out))
    assert view.error is None and view.counts["refused"] == 1
    assert view.refused[0].uri == doc["actions"][0]["uri"] and "checksum mismatch" in view.refused[0].reason
    assert view.total_actions == len(plan.actions) - 1


@pytest.mark.parametrize("content", ["{not json", "[]", json.dumps({"kind": "rotscan-cleanup-plan", "version": 1}),
                                     "HEADER"])
def test_corrupt_or_edited_plan_is_a_warning_not_a_crash(planned, content: str) -> None:  # type: ignore[no-untyped-def]
    _, out, _ = planned
    path = out / "plan.json"
    if content == "HEADER":
        doc = json.loads(path.read_text())
        doc["roots"] = ["file:/"]  # widened roots: the header checksum no longer matches
        content = json.dumps(doc)
    path.write_text(content)
    result = read_findings(out)
    view = find_plan(out, None, result)
    assert view is not None and view.error
    sec = section(render_report(result, price_per_gb_month=0.023, plan=view))
    assert 'role="alert"' in sec and "could not be used" in sec


def test_cli_report_plan_option(planned, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, out, plan = planned
    elsewhere = tmp_path / "elsewhere.json"
    (out / "plan.json").rename(elsewhere)
    runner = CliRunner()
    res = runner.invoke(main, ["report", str(out)])
    assert res.exit_code == 0, res.output
    assert '<section id="plan"' not in (out / "report.html").read_text()
    res = runner.invoke(main, ["report", str(out), "--plan", str(elsewhere)])
    assert res.exit_code == 0, res.output
    html = (out / "report.html").read_text()
    assert plan.plan_id in section(html)
    assert (out / "findings.csv").exists() and re.search(r'href="findings\.csv"', html)
    elsewhere.write_text("{broken")
    res = runner.invoke(main, ["report", str(out), "--plan", str(elsewhere)])
    assert res.exit_code == 0 and "cleanup plan not shown" in res.output


def test_hostile_plan_text_stays_text(planned) -> None:  # type: ignore[no-untyped-def]
    from rotscan.report.plan_view import ActionTotal, PlanRow, PlanView

    evil = "<script>alert(1)</script>\"'"
    _, out, _ = planned
    result = read_findings(out)
    row = PlanRow(uri=evil, action="delete", bytes=1, files=1, kinds=(evil,), reason=evil)
    view = PlanView(path=evil, plan_id=evil, created=evil, scan_id=evil, matches_scan=False, roots=(evil,),
                    by_action=(ActionTotal("delete", 1, 1),), actions=(row,), protected=(row,), skipped=(row,),
                    counts={"actions": 1, "refused": 0, "protected": 1, "skipped": 1, "needs_review": 0})
    for v in (view, PlanView(path=evil, error=evil)):
        html = render_report(result, price_per_gb_month=0.023, plan=v)
        assert "alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in section(html)

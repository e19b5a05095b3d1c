"""The report's review side (issue #12): kept findings are not ROT, approved ones are marked,
decisions that no longer apply are flagged, owners get totals and a filter, catalog tables show with
the path, and ``rotscan report OUT --owner TEAM`` writes one owner's report. Fast: no JVM."""

from __future__ import annotations

import csv
import html as htmllib
import io
import json
import re
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from rotscan.cli import main
from rotscan.models import Dataset, Decision, Finding, ScanInfo, ScanResult, ScanWarning
from rotscan.report import counted_findings, render_report, summarize
from rotscan.report.charts import areas, offenders_chart
from rotscan.report.export import findings_csv
from rotscan.report.findings_view import decode_payload
from rotscan.report.history import snapshot_of
from rotscan.report.review_view import (
    OwnerNotFoundError,
    decision_label,
    finding_columns,
    owner_result,
    owner_slug,
)
from rotscan.report.summary import Pricing, rot_findings

ROOT = "file:/lake"
T0 = datetime(2026, 11, 26, 10, tzinfo=timezone.utc)
GB = 10**9


def keep(reason: str = "audit copy for the regulator", *, by: str = "ana", until: datetime | None = None,
         stale: bool = False, expired: bool = False, stale_reason: str | None = None) -> Decision:
    return Decision(decision="keep", by=by, at=T0 - timedelta(days=30), reason=reason, until=until, id="d-1",
                    match="x", fingerprint="fp", stale=stale, stale_reason=stale_reason, expired=expired)


def approve(*, stale: bool = False) -> Decision:
    return Decision(decision="approve", by="bo", at=T0 - timedelta(days=2), id="d-2", match="y", stale=stale)


def f(path: str, category: str, kind: str, nbytes: int, **kw: object) -> Finding:
    base: dict[str, object] = {"action": "quarantine", "confidence": 0.95, "explanation": f"{kind} of {path}"}
    base.update(kw)
    return Finding(uri=f"{ROOT}/{path}", category=category, kind=kind, reclaimable_bytes=nbytes, **base)  # type: ignore[arg-type]


def lake(*findings: Finding, datasets: tuple[Dataset, ...] = (), warnings: tuple[ScanWarning, ...] = ()) -> ScanResult:
    info = ScanInfo(id="scan-r1", started=T0, finished=T0, as_of=T0, roots=(ROOT,), tool_version="t")
    if not datasets:
        datasets = (Dataset(uri=f"{ROOT}/all", format="parquet", layout="part_files", files=1, bytes=20 * GB),)
    return ScanResult(info, datasets, findings, warnings)


def reviewed_lake() -> ScanResult:
    """10 GB of findings: a kept 3 GB copy (sales), a kept directory with 1 GB of debris inside it
    (finance), a stale keep of 2 GB (sales), an expired keep of 0.5 GB (unowned), an approved 4 GB
    review finding (finance), 1 GB undecided (unowned)."""
    return lake(
        f("backup/orders", "redundant", "exact_duplicate", 3 * GB, owner="team-sales", owner_source="catalog",
          table="sales.orders_backup", decision=keep()),
        f("archive", "obsolete", "unread", 2 * GB, owner="team-finance", decision=keep("still audited")),
        f("archive/_temporary", "trivial", "write_debris", GB, owner="team-finance"),
        f("old/events", "obsolete", "unread", 2 * GB, owner="team-sales",
          decision=keep(stale=True, stale_reason="fingerprint changed: 3 files added")),
        f("tmp/x", "trivial", "tiny", GB // 2, decision=keep(until=T0 - timedelta(days=1), expired=True)),
        f("exports/big", "redundant", "near_duplicate", 4 * GB, action="review", owner="team-finance",
          decision=approve()),
        f("raw/y", "obsolete", "expired", GB, action="archive"),
    )


# ---------------------------------------------------------------------------------------------
# counting: kept findings are not ROT


def test_kept_findings_are_not_counted_and_do_not_cover_what_is_inside_them() -> None:
    result = reviewed_lake()
    counted = counted_findings(result.findings)
    kinds = sorted(x.uri.removeprefix(ROOT + "/") for x in counted)
    # kept: backup/orders, archive (the debris inside the kept archive counts: it is still junk)
    assert kinds == ["archive/_temporary", "exports/big", "old/events", "raw/y", "tmp/x"]
    assert [x.kept for x in rot_findings(result.findings)] == [False] * 5
    s = summarize(result, price_per_gb_month=0.02)
    assert s.rot_bytes == GB + 2 * GB + GB // 2 + 4 * GB + GB  # stale and expired keeps count again
    assert (s.findings, s.kept_findings, s.kept_bytes) == (5, 2, 5 * GB)
    assert (s.approved, s.stale, s.expired) == (1, 1, 1)
    assert {c.category: (c.findings, c.bytes) for c in s.by_category} == {
        "redundant": (1, 4 * GB), "obsolete": (2, 3 * GB), "trivial": (2, GB + GB // 2)}
    assert {g.name: g.findings for g in s.by_kind}.get("exact_duplicate") is None  # only kept ones had it
    assert s.monthly_savings == pytest.approx(8.5 * 0.02)
    assert s.high_confidence_bytes == s.rot_bytes


def test_a_keep_of_the_same_uri_leaves_the_other_finding_counted() -> None:
    both = lake(f("t", "redundant", "exact_duplicate", 5 * GB, decision=keep()), f("t", "obsolete", "unread", 3 * GB))
    s = summarize(both, price_per_gb_month=0.02)
    assert s.rot_bytes == 3 * GB and s.kept_bytes == 5 * GB


def test_charts_history_and_areas_leave_kept_findings_out() -> None:
    result = reviewed_lake()
    chart = str(offenders_chart(result.findings, lambda u: u.removeprefix(ROOT + "/")))
    assert "exports/big" in chart and "backup/orders" not in chart
    assert "archive/_temporary" in chart and ">archive<" not in chart
    assert sum(a.rot for a in areas(result.datasets, result.findings, (ROOT,))) == 8 * GB + GB // 2
    snap = snapshot_of(result)
    assert snap.rot_total == 8 * GB + GB // 2


def test_nothing_kept_counts_as_before() -> None:
    plain = replace(reviewed_lake(), findings=tuple(replace(x, decision=None) for x in reviewed_lake().findings))
    s = summarize(plain, price_per_gb_month=0.02)
    assert (s.kept_findings, s.kept_bytes, s.approved, s.findings) == (0, 0, 0, 7)
    # the archive directory covers the debris inside it again
    assert s.rot_bytes == 3 * GB + 2 * GB + 2 * GB + GB // 2 + 4 * GB + GB


# ---------------------------------------------------------------------------------------------
# owners


def test_per_owner_totals_count_each_byte_once_and_price_it_by_storage_class() -> None:
    pricing = Pricing("standard", {"standard": 0.02, "glacier": 0.004},
                      ((f"{ROOT}/exports", "glacier"),))
    s = summarize(reviewed_lake(), pricing=pricing)
    by = {o.label: (o.findings, o.bytes, round(o.monthly, 6), o.kept) for o in s.by_owner}
    assert by == {
        "team-finance": (2, 5 * GB, round(4 * 0.004 + 1 * 0.02, 6), 1),
        "team-sales": (1, 2 * GB, round(2 * 0.02, 6), 1),
        "unowned": (2, GB + GB // 2, round(1.5 * 0.02, 6), 0),
    }
    assert [o.label for o in s.by_owner] == ["team-finance", "team-sales", "unowned"]  # most bytes first
    assert sum(o.bytes for o in s.by_owner) == s.rot_bytes
    assert sum(o.monthly for o in s.by_owner) == pytest.approx(s.monthly_savings)


def test_inner_findings_of_another_owner_are_attributed_to_the_covering_finding() -> None:
    result = lake(f("d", "obsolete", "unread", 5 * GB, owner="a"), f("d/x", "trivial", "junk_file", GB, owner="b"))
    by = {o.label: (o.findings, o.bytes) for o in summarize(result, price_per_gb_month=0.02).by_owner}
    assert by == {"a": (1, 5 * GB), "b": (1, 0)}


# ---------------------------------------------------------------------------------------------
# the page


def render(result: ScanResult, **kw: object) -> str:
    return render_report(result, price_per_gb_month=0.02, currency="USD", **kw)  # type: ignore[arg-type]


def section(page: str, name: str) -> str:
    start = page.index(f'<section id="{name}"')
    return page[start: page.index("</section>", start)]


def test_columns_follow_what_is_known() -> None:
    assert finding_columns(False, False) == finding_columns(False, False)
    plain = finding_columns(False, False)
    assert (plain.select, plain.category, plain.path, plain.owner, plain.decision, plain.reclaimable) == (0, 1, 3, -1, -1, 6)
    full = finding_columns(True, True)
    assert (full.owner, full.action, full.decision, full.confidence, full.explanation) == (4, 5, 6, 7, 9)
    page = render(lake(f("a", "trivial", "tiny", 1)))
    table = section(page, "findings")
    assert ">Owner</button>" not in table and ">Decision</button>" not in table
    assert 'select data-min="6"' in table and f'<tr id="f-{f("a", "trivial", "tiny", 1).id}"><td><td class="t">' in table
    assert 'id="kept"' not in page and "No owner is known for any finding" in page


def test_findings_table_marks_decisions_and_shows_owner_and_table() -> None:
    result = reviewed_lake()
    page = render(result)
    table = section(page, "findings")
    by_path = {x.uri.removeprefix(ROOT + "/"): x for x in result.findings}
    row = re.search(rf'<tr id="f-{by_path["backup/orders"].id}">(.*)', table)
    assert row and "backup/orders<small>sales.orders_backup</small><td>team-sales<td>quarantine<td class=\"dk\">kept<td>" in row[1]
    assert f'<tr id="f-{by_path["exports/big"].id}">' in table and '<td class="da">approved<td>' in table
    assert '<td class="dx">keep · stale<td>' in table and '<td class="dx">keep · expired<td>' in table
    assert "<td>unowned<td>" in table
    for value in ("kept", "approved", "lapsed", "pending", "none"):
        assert f'<option value="{value}">' in table
    owners = re.search(r"<select data-col=\"4\" data-owner-filter>(.*?)</select>", table)
    assert owners and re.findall(r"<option>([^<]*)</option>", owners[1]) == ["team-finance", "team-sales", "unowned"]
    # the decision facts travel with the evidence, for the row's detail
    rows = decode_payload(re.search(r'data-z="([^"]*)"', table)[1])  # type: ignore[index]
    facts = {r[0]: dict(r[5]) for r in rows if len(r) > 5}
    kept = facts[f"{ROOT}/backup/orders"]
    assert kept["decision"] == "keep by ana on 2026-10-27: audit copy for the regulator"
    assert kept["owner"] == "team-sales (from catalog)" and kept["table"] == "sales.orders_backup"
    assert facts[f"{ROOT}/old/events"]["status"].startswith("stale: the data changed since the decision "
                                                             "(fingerprint changed: 3 files added)")
    assert f"{ROOT}/raw/y" not in facts  # nothing to tell: no extra payload


def test_kept_section_lists_who_why_since_until_and_flags_what_no_longer_applies() -> None:
    page = render(reviewed_lake())
    kept = section(page, "kept")
    rows = re.split(r"\n(?=<tr)", kept[kept.index("<tbody>") + 8: kept.index("</tbody>")].strip())
    assert len(rows) == 4  # every keep decision: two that apply, one stale, one expired
    first, second = rows[0], rows[1]  # those that no longer apply come first
    assert 'class="lapsed"' in kept
    text = htmllib.unescape(re.sub(r"<[^>]+>", "", " ".join(rows)))
    assert "stale: the data changed since the decision — counted as ROT again" in text
    assert "fingerprint changed: 3 files added" in text
    assert "expired on 2026-11-25 — counted as ROT again" in text
    assert "audit copy for the regulator" in text and "still audited" in text and "2026-10-27" in text
    assert "no end date" in text
    assert "old/events" in first + second and "tmp/x" in first + second
    summary = section(page, "summary")
    assert "2 kept · 1 approved" in summary and "2 no longer apply" in summary
    assert "5 findings; 2 kept by reviewers (4.7 GiB) not counted" in summary
    assert '<a href="#kept">Kept <span class="pill">4</span></a>' in page


def test_owner_table_in_the_summary() -> None:
    page = render(reviewed_lake())
    owners = page[page.index('id="owners"'):page.index("</table>", page.index('id="owners"'))]
    cells = [htmllib.unescape(re.sub(r"<[^>]+>", "", c)) for c in re.findall(r"<td[^>]*>(.*?)</td>", owners)]
    assert cells[:5] == ["team-finance", "2", "4.7 GiB", "0.10", "1"]
    assert '<a href="#findings" data-owner="unowned">unowned</a>' in owners


def test_csv_has_owner_table_and_decision() -> None:
    rows = list(csv.DictReader(io.StringIO(findings_csv(reviewed_lake()), newline="")))
    by = {r["relative_path"]: r for r in rows}
    assert (by["backup/orders"]["owner"], by["backup/orders"]["table"], by["backup/orders"]["decision"]) == (
        "team-sales", "sales.orders_backup", "kept")
    assert (by["raw/y"]["owner"], by["raw/y"]["table"], by["raw/y"]["decision"]) == ("unowned", "", "")
    assert by["old/events"]["decision"] == "keep · stale"


def test_decision_labels() -> None:
    assert [decision_label(d) for d in (None, keep(), approve(), keep(stale=True), keep(expired=True),
                                        approve(stale=True))] == [
        "", "kept", "approved", "keep · stale", "keep · expired", "approve · stale"]


def test_the_review_form_names_the_scan_and_its_roots() -> None:
    page = render(reviewed_lake())
    box = re.search(r"<div class=\"review js-only\" data-review ([^>]*)>", page)
    assert box
    attrs = dict(re.findall(r'(data-[a-z-]+)="([^"]*)"', box[1]))
    assert attrs["data-scan-id"] == "scan-r1" and attrs["data-key"] == "scan-r1"
    assert json.loads(htmllib.unescape(attrs["data-roots"])) == [ROOT]
    assert (attrs["data-kind-col"], attrs["data-path-col"], attrs["data-decision-col"]) == ("2", "3", "6")
    for label in ("Reason", "Keep until", "Your name"):
        assert re.search(rf"<label[^>]*>{label} .*?<input", page)


# ---------------------------------------------------------------------------------------------
# one owner's report


def owned_lake() -> ScanResult:
    result = reviewed_lake()
    datasets = (
        Dataset(uri=f"{ROOT}/backup/orders", format="parquet", layout="part_files", files=3, bytes=3 * GB,
                owner="team-sales", table="sales.orders_backup", registered=True),
        Dataset(uri=f"{ROOT}/exports/big", format="csv", layout="part_files", files=3, bytes=4 * GB, owner="team-finance"),
        Dataset(uri=f"{ROOT}/raw/y", format="json", layout="part_files", files=3, bytes=GB, registered=False),
    )
    warnings = (ScanWarning(f"{ROOT}/exports/big/part-9.csv", "binary file named .csv", "binary"),
                ScanWarning(None, "37 malformed log lines", "usage"))
    return replace(result, datasets=datasets, warnings=warnings)


def test_owner_result_keeps_only_that_owners_findings_datasets_and_warnings() -> None:
    finance = owner_result(owned_lake(), "team-finance")
    assert sorted(x.uri.removeprefix(ROOT + "/") for x in finance.findings) == ["archive", "archive/_temporary",
                                                                               "exports/big"]
    assert [d.uri for d in finance.datasets] == [f"{ROOT}/exports/big"]
    assert [w.message for w in finance.warnings] == ["binary file named .csv"]
    unowned = owner_result(owned_lake(), "unowned")
    assert sorted(x.uri.removeprefix(ROOT + "/") for x in unowned.findings) == ["raw/y", "tmp/x"]
    with pytest.raises(OwnerNotFoundError, match="owners in this scan: team-finance, team-sales, unowned"):
        owner_result(owned_lake(), "team-nobody")
    assert owner_slug("data-eng/platform") == "data-eng_platform" and owner_slug("..") == "_"
    assert owner_slug("ana@example.com") == "ana@example.com"


def write_findings(result: ScanResult, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    (out / "findings.json").write_text(json.dumps(result.to_dict()), encoding="utf-8")
    return out


def test_cli_report_for_one_owner(tmp_path: Path) -> None:
    out = write_findings(owned_lake(), tmp_path / "out")
    runner = CliRunner()
    res = runner.invoke(main, ["report", str(out), "--owner", "team-finance", "--owner", "unowned"])
    assert res.exit_code == 0, res.output
    assert "owners/team-finance/report.html (3 of 7 findings, owner team-finance)" in res.output
    assert not (out / "report.html").exists()  # only the owner reports were asked for
    page = (out / "owners" / "team-finance" / "report.html").read_text(encoding="utf-8")
    assert "· owner team-finance</span>" in page and "3 of the scan's 7 findings" in page
    assert '<a href="../../report.html">The whole scan' in page and 'href="../../findings.json"' in page
    # this owner's totals: the debris in the kept archive (1 GB) and the approved copy (4 GB)
    assert 'class="big">4.7 GiB</p>' in page and "in 2 findings; 1 kept by reviewers" in page
    assert "sales.orders_backup" not in page and "binary file named .csv" in page and "37 malformed log lines" not in page
    assert 'id="changes"' not in page
    rows = list(csv.DictReader((out / "owners" / "team-finance" / "findings.csv").open(encoding="utf-8-sig")))
    assert {r["owner"] for r in rows} == {"team-finance"} and len(rows) == 3
    unowned = (out / "owners" / "unowned" / "report.html").read_text(encoding="utf-8")
    assert "· owner unowned</span>" in unowned and "2 of the scan's 7 findings" in unowned

    elsewhere = tmp_path / "elsewhere"
    res = runner.invoke(main, ["report", str(out), "--owner", "team-sales", "--out", str(elsewhere)])
    assert res.exit_code == 0, res.output
    page = (elsewhere / "report.html").read_text(encoding="utf-8")
    assert 'href="../out/findings.json"' in page and "sales.orders_backup" in page

    res = runner.invoke(main, ["report", str(out), "--owner", "team-nobody"])
    assert res.exit_code == 1 and "no finding or dataset has owner 'team-nobody'" in res.output
    assert not (out / "owners" / "team-nobody").exists()
    res = runner.invoke(main, ["report", str(out), "--owner", "a", "--owner", "b", "--out", str(elsewhere)])
    assert res.exit_code == 2 and "--out needs exactly one --owner" in res.output
    # one unknown owner among several: nothing is written
    res = runner.invoke(main, ["report", str(out), "--owner", "team-sales", "--owner", "nope", "--out", str(tmp_path / "x")])
    assert res.exit_code == 2
    res = runner.invoke(main, ["report", str(tmp_path / "out"), "--owner", "team-sales", "--owner", "nope"])
    assert res.exit_code == 1 and not (out / "owners" / "team-sales").exists()


def test_datasets_table_shows_owner_and_catalog_table() -> None:
    page = render(owned_lake())
    datasets = section(page, "datasets")
    assert "backup/orders<small>sales.orders_backup</small></td><td>team-sales</td>" in datasets
    assert "raw/y<small>not in the catalog</small></td><td>unowned</td>" in datasets
    assert '<select data-col="2">' in datasets


def test_old_findings_without_review_fields_still_render(tmp_path: Path) -> None:
    doc = reviewed_lake().to_dict()
    for x in doc["findings"]:
        for key in ("owner", "owner_source", "table", "decision"):
            x.pop(key)
    page = render(ScanResult.from_dict(doc))
    assert 'id="kept"' not in page and "No owner is known" in page


def test_cli_report_shows_the_decisions_recorded_since_the_scan(tmp_path: Path) -> None:
    lake_dir = tmp_path / "lake"
    lake_dir.mkdir()
    root = f"file:{lake_dir}"
    doc = json.loads(json.dumps(reviewed_lake().to_dict()).replace(ROOT, root))
    for x in doc["findings"]:
        x["decision"] = None  # the scan knew of no decision
    out = write_findings(ScanResult.from_dict(doc), tmp_path / "out")
    runner = CliRunner()
    copy = next(x for x in doc["findings"] if x["uri"].endswith("/backup/orders"))
    big = next(x for x in doc["findings"] if x["uri"].endswith("/exports/big"))
    res = runner.invoke(main, ["decide", str(out), "--keep", copy["id"], "--reason", "legal hold", "--by", "kim"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(main, ["decide", str(out), "--approve", big["id"], "--by", "kim"])
    assert res.exit_code == 0, res.output
    before = (out / "findings.json").read_bytes()

    res = runner.invoke(main, ["report", str(out)])
    assert res.exit_code == 0, res.output
    page = (out / "report.html").read_text(encoding="utf-8")
    kept = section(page, "kept")
    assert "legal hold" in kept and "kim" in kept and "backup/orders" in kept
    assert '<td class="da">approved<td>' in section(page, "findings")
    assert "1 kept · 1 approved" in page
    assert (out / "findings.json").read_bytes() == before  # the report reads decisions, never writes findings

    res = runner.invoke(main, ["report", str(out), "--decisions-as-scanned"])
    assert res.exit_code == 0, res.output
    assert 'id="kept"' not in (out / "report.html").read_text(encoding="utf-8")
    # owner reports show them too
    res = runner.invoke(main, ["report", str(out), "--owner", "team-sales"])
    assert res.exit_code == 0, res.output
    assert "legal hold" in (out / "owners" / "team-sales" / "report.html").read_text(encoding="utf-8")

    # findings.json away from its lake: the decisions it holds are shown, with a warning
    away = write_findings(owned_lake(), tmp_path / "away")
    res = runner.invoke(main, ["report", str(away)])
    assert res.exit_code == 0 and "review decisions not re-read (file:/lake is not here)" in res.output
    assert "audit copy for the regulator" in section((away / "report.html").read_text(encoding="utf-8"), "kept")

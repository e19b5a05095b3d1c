"""The review report in a real browser: headless Chromium (the Debian ``chromium`` package) loads
``report.html`` from ``file://`` and the test drives it over the DevTools protocol
(tests/browser_support.py). Asserted: no console errors, exceptions, CSP violations or dialogs; no
request but the report file; every finding in the DOM; search, filters, sorting, paging and the
keyboard work; hostile dataset names stay text. Screenshots go to ``$ROTSCAN_TEST_ARTIFACTS`` (else
``reports/test-artifacts/``). Needs no JVM.
"""

from __future__ import annotations

import contextlib
import json
import random
import re
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from rotscan.models import (
    CATEGORIES,
    Column,
    Dataset,
    Decision,
    DeltaInfo,
    Finding,
    ScanInfo,
    ScanResult,
    ScanWarning,
    UsageSource,
    iso,
    parse_iso,
)
from rotscan.report import write_report
from tests.browser_support import (
    EXPANDER,
    SEARCH,
    BrowserError,
    Chromium,
    Page,
    ReportView,
    require_chromium,
)

pytestmark = pytest.mark.browser

ROOT = "file:/data/lake"
T0 = datetime(2026, 11, 26, 10, 0, 0, tzinfo=timezone.utc)
# A search for a zone matches exactly the findings under it: no other finding's path, explanation,
# evidence or related dataset names a zone but its own.
ZONES = ("sales", "marketing", "finance", "logistics", "research", "sandbox")
HOSTILE = (
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(2)>',
    "<svg onload=alert(3)>",
)

# kind -> (category, action, area of the lake it lives in)
KINDS = {
    "empty": ("trivial", "quarantine", "staging"),
    "zero_byte": ("trivial", "delete", "landing"),
    "write_debris": ("trivial", "quarantine", "staging"),
    "junk_file": ("trivial", "delete", "landing"),
    "constant": ("trivial", "review", "warehouse"),
    "tiny": ("trivial", "quarantine", "tmp"),
    "corrupt_file": ("trivial", "review", "landing"),
    "exact_duplicate": ("redundant", "quarantine", "backup"),
    "near_duplicate": ("redundant", "review", "exports"),
    "subset": ("redundant", "quarantine", "backup"),
    "projection": ("redundant", "quarantine", "exports"),
    "unread": ("obsolete", "quarantine", "warehouse"),
    "producer_stopped": ("obsolete", "quarantine", "curated"),
    "orphaned_lineage": ("obsolete", "quarantine", "curated"),
    "superseded": ("obsolete", "quarantine", "warehouse"),
    "expired": ("obsolete", "archive", "raw"),
    "unvacuumed_history": ("obsolete", "vacuum", "warehouse"),
}


def _finding(i: int, rng: random.Random) -> tuple[Finding, Dataset | None]:
    """Finding number ``i`` (kinds and zones in turn) with evidence as the detectors write it."""
    kind = list(KINDS)[i % len(KINDS)]
    category, action, area = KINDS[kind]
    zone = ZONES[i % len(ZONES)]
    name = f"{zone}_{kind}_{i:05d}"
    if zone == "sandbox" and i % 5 == 0:
        name = f"{name}_{HOSTILE[(i // 30) % len(HOSTILE)]}"
    uri = f"{ROOT}/{zone}/{area}/{name}"
    keeper = f"{ROOT}/{zone}/warehouse/{zone}_orders_{i % 7}"
    rows = rng.randrange(100, 5_000_000)
    nbytes = rng.choice((rng.randrange(1, 4096), rng.randrange(10**5, 10**8), rng.randrange(10**8, 10**11)))
    confidence = round(rng.uniform(0.5, 1.0), 2)
    related: tuple[str, ...] = ()
    last_read = T0 - timedelta(days=rng.randrange(181, 900))
    evidence: dict[str, object]
    if kind == "empty":
        evidence, explanation = {"rows": 0, "rows_source": "parquet_footer", "files": 3}, "0 rows in 3 files"
    elif kind == "zero_byte":
        uri, nbytes = f"{uri}/part-00000.parquet", 0
        evidence, explanation = {"bytes": 0}, "a zero-byte data file"
    elif kind == "write_debris":
        uri, nbytes = f"{uri}/_temporary", nbytes % 50_000_000
        evidence, explanation = {"files": 12, "age_hours": 312.5}, "left by a failed Spark write 13 days ago"
    elif kind == "junk_file":
        uri = f"{uri}/.DS_Store"
        nbytes = 6148
        evidence, explanation = {"pattern": ".DS_Store"}, "macOS folder metadata"
    elif kind == "constant":
        evidence = {"rows": rows, "constant_columns": ["status", "flag"], "null_columns": ["note"]}
        explanation = f"every one of {rows:,} rows is the same"
    elif kind == "tiny":
        evidence, explanation = {"rows": 3, "tiny_max_rows": 10, "scratch_marker": "tmp/"}, "3 rows in a scratch area"
    elif kind == "corrupt_file":
        uri, nbytes = f"{uri}/part-00003.parquet", nbytes % 10_000_000
        evidence, explanation = {"error": "not a Parquet file (bad magic)"}, "cannot be read as Parquet"
    elif kind in ("exact_duplicate", "near_duplicate", "subset", "projection"):
        related = (keeper,)
        keeper_rel = keeper.removeprefix(ROOT + "/")
        evidence = {
            "rows": rows, "jaccard": 1.0 if kind == "exact_duplicate" else round(rng.uniform(0.85, 0.99), 3),
            "containment": 1.0 if kind != "near_duplicate" else round(rng.uniform(0.9, 0.99), 3),
            "verified": kind != "near_duplicate", "keeper_reason": "managed format (delta over parquet)",
            "last_read": iso(last_read),
        }
        explanation = f"same {rows:,} rows as {keeper_rel} — checksum match; this copy last read {(T0 - last_read).days} days ago"
    elif kind == "unread":
        evidence = {"last_read": iso(last_read), "unread_days": 180, "read_sources": ["openlineage", "s3_access_log"]}
        explanation = f"not read for {(T0 - last_read).days} days; sources cover 400 days"
    elif kind == "producer_stopped":
        job = f"etl.{zone}.daily_{i % 4}"
        evidence = {"jobs": [job], "last_write": iso(T0 - timedelta(days=150)), "reads_365d": 0}
        explanation = f"its producer {job} last ran 150 days ago and nothing reads it"
    elif kind == "orphaned_lineage":
        gone = f"{ROOT}/{zone}/raw/{zone}_feed_{i % 3}"
        related = (gone,)
        evidence = {"missing_inputs": [gone], "last_write": iso(T0 - timedelta(days=200))}
        explanation = "every input it was built from is gone"
    elif kind == "superseded":
        newer = f"{ROOT}/{zone}/warehouse/{name}_v2"
        related = (newer,)
        evidence = {"newer": newer, "compatible_columns": True, "reads_90d": 0}
        explanation = "a _v2 of it exists; not read in 90 days"
    elif kind == "expired":
        evidence = {"policy": f"{zone}/raw/**", "max_age_days": 365, "age_days": 400}
        explanation = "older than the 365-day retention policy"
    else:  # unvacuumed_history
        evidence = {"vacuumable_files": 40, "vacuumable_bytes": nbytes, "retention_hours": 168.0}
        explanation = "Delta files only time travel holds, older than the retention"
    f = Finding(uri=uri, category=category, kind=kind, action=action, confidence=confidence,
                reclaimable_bytes=nbytes, explanation=explanation, related=related, evidence=evidence)
    if kind in ("zero_byte", "write_debris", "junk_file", "corrupt_file"):
        return f, None
    is_delta = kind == "unvacuumed_history" or i % 3 == 0
    d = Dataset(
        uri=uri, format="delta" if is_delta else ("csv" if area == "exports" else "parquet"),
        layout="delta" if is_delta else "part_files", files=rng.randrange(1, 200),
        bytes=max(nbytes, 1) * (3 if kind == "unvacuumed_history" else 1),
        rows=rows, rows_source="delta_stats" if is_delta else "parquet_footer",
        schema=(Column("id", "bigint"), Column("amount", "double"), Column("day", "date")),
        modified_min=T0 - timedelta(days=900), modified_max=T0 - timedelta(days=rng.randrange(1, 800)),
        last_read=last_read if category != "trivial" else None, root=ROOT,
        delta=DeltaInfo(version=rng.randrange(1, 500), last_commit=T0 - timedelta(days=30), last_operation="MERGE",
                        live_files=10, live_bytes=nbytes, time_travel_files=40, time_travel_bytes=nbytes // 3,
                        retention_hours=168.0, num_records=rows) if is_delta else None,
    )
    return f, d


def report_result(n: int, seed: int = 6) -> ScanResult:
    """A lake with ``n`` findings over every category and kind, the datasets they are about (and
    the copies to keep), warnings, usage sources and a lineage graph."""
    rng = random.Random(seed)
    findings, datasets = [], {}
    for i in range(n):
        f, d = _finding(i, rng)
        findings.append(f)
        if d is not None:
            datasets[d.uri] = d
    # the copies to keep, and healthy tables: about a third of the lake is ROT
    rot = sum(f.reclaimable_bytes for f in findings)
    for zone in ZONES:
        for k in range(20):
            uri = f"{ROOT}/{zone}/warehouse/{zone}_orders_{k}"
            datasets[uri] = Dataset(uri=uri, format="delta", layout="delta", files=20,
                                    bytes=2 * rot // (20 * len(ZONES)), rows=2_000_000, root=ROOT,
                                    modified_max=T0 - timedelta(days=1), last_read=T0 - timedelta(days=2))
    usage = (
        UsageSource("openlineage", "/logs/openlineage", T0 - timedelta(days=400), T0, 182_344),
        UsageSource("spark_eventlog", "/logs/spark-events", T0 - timedelta(days=120), T0, 9_120),
        UsageSource("s3_access_log", "s3a://logs/access", T0 - timedelta(days=365), T0 - timedelta(days=1), 1_200_000),
    )
    warnings = (
        ScanWarning(f"{ROOT}/finance/landing/broken.parquet", "corrupt Parquet footer", "corrupt"),
        ScanWarning(f"{ROOT}/sales/landing/link", "symlink to /etc not followed", "symlink"),
        ScanWarning(None, "37 malformed lines skipped in /logs/openlineage/2026-10.jsonl", "usage"),
        ScanWarning(f"{ROOT}/sandbox/{HOSTILE[0]}", HOSTILE[1], HOSTILE[2]),
    )
    lineage = {"version": 1, "edges": [
        {"src": f"{ROOT}/{z}/raw/{z}_feed_{k}", "job": f"etl.{z}.daily_{k}",
         "dst": f"{ROOT}/{z}/curated/{z}_producer_stopped_{k:05d}", "last_seen": iso(T0 - timedelta(days=150))}
        for z in ZONES for k in range(3)
    ]}
    scan = ScanInfo(id="scan-20261126-browser", started=T0 - timedelta(minutes=9), finished=T0, as_of=T0,
                    roots=(ROOT,), tool_version="0.1.0", usage_sources=usage)
    return ScanResult(scan=scan, datasets=tuple(datasets.values()), findings=tuple(findings),
                      warnings=warnings, lineage=lineage)


# Review data of the realistic report: owners per zone (some unowned), catalog tables, and decisions
# (kept, approved, stale, expired). The texts are hostile too, and none names a zone but its own,
# so the zone searches above still match exactly the findings under the zone.
HOSTILE_REVIEW = ('<img src=y onerror=alert(7)>', '"><script>alert(8)</script>', "<b onclick=alert(9)>ops</b>")


def reviewed(result: ScanResult) -> ScanResult:
    at = T0 - timedelta(days=20)
    out = []
    for i, f in enumerate(result.findings):
        zone = f.uri.removeprefix(ROOT + "/").split("/")[0]
        owner: str | None = None if i % 9 == 4 else f"team-{zone}"
        if zone == "sandbox" and (i // 6) % 3 == 0:
            owner = HOSTILE_REVIEW[(i // 18) % 3]
        table = f"{zone}_db.t_{i:05d}" if i % 3 == 0 else None
        decision = None
        if i % 13 == 5:
            lapsed = (i // 13) % 4
            decision = Decision(decision="keep", by="ana@example.com" if zone != "sandbox" else HOSTILE_REVIEW[0],
                                at=at, reason="kept for the auditors" if zone != "sandbox" else HOSTILE_REVIEW[1],
                                until=T0 - timedelta(days=1) if lapsed == 1 else T0 + timedelta(days=90),
                                id=f"d-{i}", match=f.id, fingerprint="fp", stale=lapsed == 2,
                                stale_reason="fingerprint changed" if lapsed == 2 else None, expired=lapsed == 1)
        elif i % 17 == 7:
            decision = Decision(decision="approve", by="bo@example.com", at=at, id=f"d-{i}", match=f.id)
        out.append(replace(f, owner=owner, owner_source="config" if owner else None, table=table, decision=decision))
    return replace(result, findings=tuple(out))


def write(result: ScanResult, out: Path) -> Path:
    path = write_report(result, out, price_per_gb_month=0.023, currency="USD")
    print(f"report: {path} ({path.stat().st_size:,} bytes, {len(result.findings):,} findings)")
    return path


# ---------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="module")
def browser() -> Iterator[Chromium]:
    with Chromium(require_chromium()) as chromium:
        yield chromium
    assert chromium.leftover_pids() == []


@pytest.fixture(scope="module")
def realistic(tmp_path_factory: pytest.TempPathFactory) -> tuple[ScanResult, Path]:
    result = reviewed(report_result(340))
    return result, write(result, tmp_path_factory.mktemp("report"))


@pytest.fixture()
def page(browser: Chromium) -> Iterator[Page]:
    with browser.page() as p:
        yield p


@pytest.fixture()
def report(page: Page, realistic: tuple[ScanResult, Path]) -> Iterator[ReportView]:
    """The realistic report, loaded; after the test, nothing the test did may have caused a
    console error or a network request."""
    view = ReportView(page, realistic[1])
    view.load()
    yield view
    view.assert_clean()


def expected_shown(view: ReportView, matches: int) -> int:
    size = view.page_size()
    return matches if size is None else min(matches, size)


# ---------------------------------------------------------------------------------------------
# the realistic report


def test_report_loads_offline_without_errors_and_holds_every_finding(
        report: ReportView, realistic: tuple[ScanResult, Path]) -> None:
    result, _ = realistic
    assert {f.category for f in result.findings} == set(CATEGORIES)
    assert {f.kind for f in result.findings} == set(KINDS)
    report.assert_clean()
    # data: URLs never leave the page (Chromium draws a date input's calendar icon from one)
    assert [u for u in report.page.requests() if not u.startswith("data:")] == [report.url]
    ids = report.row_ids()
    assert len(ids) == len(result.findings)
    assert set(ids) == {f.id for f in result.findings}
    assert report.count() == (len(result.findings), len(result.findings))
    visible = report.visible_ids()
    assert len(visible) == expected_shown(report, len(result.findings))
    assert visible == ids[: len(visible)]
    report.screenshot("report-realistic.png")


def test_search_and_filters_show_the_expected_rows(report: ReportView, realistic: tuple[ScanResult, Path]) -> None:
    result, _ = realistic
    total = len(result.findings)

    def check(matching: set[str]) -> None:
        report.wait_for_count(len(matching))
        assert report.count() == (len(matching), total)
        visible = report.visible_ids()
        assert len(visible) == expected_shown(report, len(matching))
        assert set(visible) <= matching

    marketing = {f.id for f in result.findings if "/marketing/" in f.uri}
    report.search("marketing")
    check(marketing)
    report.choose("obsolete")
    check({f.id for f in result.findings if "/marketing/" in f.uri and f.category == "obsolete"})
    report.choose("")
    check(marketing)
    report.search("no-such-dataset-anywhere")
    check(set())
    report.search("")
    check({f.id for f in result.findings})
    # a kind, then an action, each alone
    report.choose("exact_duplicate")
    check({f.id for f in result.findings if f.kind == "exact_duplicate"})
    report.choose("")
    report.choose("vacuum")
    check({f.id for f in result.findings if f.action == "vacuum"})
    report.choose("")
    # search is case-insensitive and reaches the evidence (a related dataset's full URI)
    report.search("SALES_ORDERS_3")
    check({f.id for f in result.findings if any(r.endswith("/sales_orders_3") for r in f.related)})
    report.screenshot("report-realistic-filtered.png")


def test_sorting_by_a_header_button_reorders_the_rows(report: ReportView, realistic: tuple[ScanResult, Path]) -> None:
    result, _ = realistic
    size = {f.id: f.reclaimable_bytes for f in result.findings}
    page = report.page
    button = page.evaluate(
        "(() => { const b = Array.from(document.querySelectorAll('section#findings table.findings thead button'))"
        "   .find(b => /reclaim/i.test(b.textContent)); if (!b) return null;"
        "   b.setAttribute('data-test-sort', ''); return b.textContent.trim(); })()"
    )
    assert button, "no header button to sort by reclaimable bytes"
    before = [size[i] for i in report.row_ids()]

    def direction(values: list[int]) -> str | None:
        if values == sorted(values):
            return "ascending"
        if values == sorted(values, reverse=True):
            return "descending"
        return None

    report.click_and_wait_for_reorder("[data-test-sort]")
    first = [size[i] for i in report.row_ids()]
    assert first != before and direction(first) is not None, "one click must sort by reclaimable bytes"
    report.click_and_wait_for_reorder("[data-test-sort]")
    second = [size[i] for i in report.row_ids()]
    assert direction(second) is not None and direction(second) != direction(first)
    # the sort keeps the filter, and the first page shows the first matches in the new order
    report.search("finance")
    finance = [i for i in report.row_ids() if "/finance/" in next(f.uri for f in result.findings if f.id == i)]
    report.wait_for_count(len(finance))
    assert report.visible_ids() == finance[: expected_shown(report, len(finance))]


def test_keyboard_reaches_search_and_expands_a_row(report: ReportView) -> None:
    page = report.page

    def active(selector: str) -> bool:
        return bool(page.evaluate(f"document.activeElement !== null && document.activeElement.matches({selector!r})"))

    def tab_to(selector: str, limit: int) -> int:
        for presses in range(1, limit + 1):
            page.press("Tab")
            if active(selector):
                return presses
        raise AssertionError(f"{limit} Tab presses did not reach {selector}")

    def expanded() -> bool:
        return bool(page.evaluate(
            "(() => { const e = document.activeElement;"
            " if (e.tagName === 'SUMMARY') return e.parentElement.open;"
            " return e.getAttribute('aria-expanded') === 'true'; })()"))

    # the focused expander's row shows its evidence: a visible, non-empty part of the details (or
    # of the element the button controls) besides the expander itself
    evidence = ("(() => { const e = document.activeElement;"
                " const box = e.tagName === 'SUMMARY' ? e.parentElement"
                "   : document.getElementById(e.getAttribute('aria-controls')) || e.closest('tr').nextElementSibling;"
                " return Array.from(box.children).some(c => c !== e && c.getClientRects().length > 0"
                "   && c.textContent.trim().length > 0); })()")

    def evidence_shown() -> bool:
        """Within a few seconds: the report may build a row's evidence when it first opens."""
        with contextlib.suppress(BrowserError):
            page.wait_until(evidence, timeout=5)
            return True
        return False

    to_search = tab_to(SEARCH, 200)
    to_row = tab_to(EXPANDER, 200)
    print(f"Tab presses: {to_search} to the search box, {to_row} more to the first row's expander")
    row = page.evaluate("document.activeElement.closest('tr').id")
    assert row.startswith("f-")
    assert not expanded()
    page.press("Enter")
    assert expanded() and evidence_shown()
    page.press("Enter")
    assert not expanded()
    page.press("Space")
    assert expanded() and evidence_shown()
    report.screenshot("report-realistic-expanded.png")


def test_hostile_dataset_names_stay_text(report: ReportView, realistic: tuple[ScanResult, Path]) -> None:
    result, _ = realistic
    hostile = [f for f in result.findings if any(h in f.uri for h in HOSTILE)]
    assert len(hostile) >= 3
    page = report.page
    # shown literally in their rows (search finds them, as text)
    report.search("onerror=alert(2)")
    report.wait_for_count(sum(HOSTILE[1] in f.uri for f in result.findings))
    for f in hostile:
        text = page.evaluate(f"document.getElementById('f-{f.id}').textContent")
        assert any(h in text for h in HOSTILE)
    # owners, catalog tables and reviewers' words are shown as text too: in the owner filter, the
    # owner column, the Kept section and a row's detail
    owner_options = page.evaluate("Array.from(document.querySelectorAll('#findings select[data-owner-filter] option'),"
                                  " o => o.textContent)")
    assert set(HOSTILE_REVIEW) <= set(owner_options)
    kept_text = page.evaluate("document.getElementById('kept').textContent")
    assert HOSTILE_REVIEW[0] in kept_text and HOSTILE_REVIEW[1] in kept_text
    decided = next(f for f in result.findings if f.decision is not None and f.decision.by == HOSTILE_REVIEW[0])
    report.search("")
    page.evaluate(f"location.hash = 'f-{decided.id}'")
    page.wait_until(f"!document.getElementById('f-{decided.id}').hidden")
    page.click(f"#f-{decided.id} summary")
    page.wait_until(f"document.getElementById('f-{decided.id}').querySelector('.ev') !== null")
    detail = page.evaluate(f"document.getElementById('f-{decided.id}').querySelector('.ev').textContent")
    assert f"keep by {HOSTILE_REVIEW[0]}" in detail
    injected = page.evaluate(
        "(() => ({"
        " scripts: Array.from(document.scripts).filter(s => s.textContent.includes('alert(')).length,"
        " all_scripts: document.scripts.length,"
        " handlers: Array.from(document.querySelectorAll('*'))"
        "   .filter(e => Array.from(e.attributes).some(a => /^on/i.test(a.name))).map(e => e.tagName),"
        " images: document.querySelectorAll('img, svg[onload], b').length }))()"
    )
    assert injected == {"scripts": 0, "all_scripts": 2, "handlers": [], "images": 0}
    time.sleep(0.3)  # a dialog would open asynchronously if anything had run
    assert page.events_named("Page.javascriptDialogOpening") == []


# ---------------------------------------------------------------------------------------------
# deciding from the report

REVIEW = "section#findings [data-review]"
SCAN_KEY = "rotscan-decisions:scan-20261126-browser"


def fresh(view: ReportView) -> None:
    """The report loaded with no pending decisions left in this browser by another test."""
    view.load()
    view.page.evaluate("localStorage.clear(); true")
    view.load()


def undecided(result: ScanResult, ids: list[str], n: int, *, not_kind: str = "") -> list[str]:
    by_id = {f.id: f for f in result.findings}
    return [i for i in ids if by_id[i].decision is None and by_id[i].kind != not_kind][:n]


@pytest.fixture(scope="module")
def decidable(tmp_path_factory: pytest.TempPathFactory) -> tuple[ScanResult, Path]:
    """A realistic report of a lake that exists here (its root an empty directory), with its
    findings.json beside it, so that decisions downloaded from it can be imported with
    ``rotscan decide OUT --import FILE``. Owners and tables as in the realistic report; no decision
    yet."""
    base = tmp_path_factory.mktemp("decide")
    lake = base / "lake"
    lake.mkdir()
    plain = reviewed(report_result(120, seed=12))
    doc = json.loads(json.dumps(plain.to_dict()).replace(ROOT, f"file:{lake}"))
    result = ScanResult.from_dict(doc)
    result = replace(result, findings=tuple(replace(f, decision=None) for f in result.findings))
    out = base / "out"
    out.mkdir()
    (out / "findings.json").write_text(json.dumps(result.to_dict()), encoding="utf-8")
    return result, write(result, out)


def test_decide_tick_download_import_and_the_next_render_shows_the_decisions(
        browser: Chromium, page: Page, decidable: tuple[ScanResult, Path], tmp_path: Path) -> None:
    from click.testing import CliRunner

    from rotscan.cli import main
    from rotscan.decisions import DecisionSet, build_records, parse_export

    result, path = decidable
    by_id = {f.id: f for f in result.findings}
    report = ReportView(page, path)
    fresh(report)
    # three findings ticked one by one, kept with a reason (hostile, as typed), an until-date and a name
    keep_ids = undecided(result, report.visible_ids(), 3, not_kind="junk_file")
    for i in keep_ids:
        report.tick(i)
    assert report.text(f"{REVIEW} [data-selected]") == "3 findings selected"
    reason = f"audit copy {HOSTILE[1]} — for the regulator"
    until = (datetime.now(timezone.utc).date() + timedelta(days=90)).isoformat()
    report.fill("[data-reason]", reason)
    report.set_value("[data-until]", until)
    report.fill("[data-by]", "Ana Reviewer")
    page.click("[data-add]")
    assert report.text("[data-msg]").startswith("Recorded keep for 3 findings; 3 decisions pending")
    assert report.text(f"{REVIEW} [data-selected]") == "0 findings selected"
    # a filtered set: every junk file, approved in one go
    junk = {f.id for f in result.findings if f.kind == "junk_file"}
    report.choose("junk_file")
    report.wait_for_count(len(junk))
    assert report.text("[data-select-matching]") == f"Select all {len(junk)} matching"
    page.click("[data-select-matching]")
    assert report.text(f"{REVIEW} [data-selected]") == f"{len(junk)} findings selected"
    page.click("input[name='rotscan-decision'][value='approve']")
    assert page.evaluate("document.querySelector('[data-until]').disabled")
    report.fill("[data-reason]", "")
    page.click("[data-add]")
    assert report.text("[data-msg]").startswith(f"Recorded approve for {len(junk)} findings")
    report.choose("")
    report.choose("pending")
    report.wait_for_count(3 + len(junk))
    assert set(report.visible_ids()) == set(keep_ids) | junk
    badges = page.evaluate("Array.from(document.querySelectorAll('#findings tbody tr:not([hidden]) .pend'), b => b.textContent)")
    assert sorted(set(badges)) == ["approve", "keep"]
    report.choose("")
    report.screenshot("report-decide-pending.png")

    downloads = tmp_path / "downloads"
    browser.allow_downloads(downloads)
    since = len(browser.events)
    page.click("[data-download]")
    saved = browser.wait_for_download(downloads, since=since)
    assert saved.name == "rotscan-decisions-scan-20261126-browser.json"
    assert report.text("[data-msg]").startswith(f"Downloaded {saved.name} with {3 + len(junk)} decisions")
    # the file is the agreed format, with the ticked findings' ids, uris and kinds
    raw = json.loads(saved.read_text(encoding="utf-8"))
    assert list(raw) == ["format", "version", "scan_id", "roots", "exported_at", "decisions"]
    assert (raw["format"], raw["version"], raw["scan_id"], raw["roots"]) == (
        "rotscan-decisions", 1, result.scan.id, list(result.scan.roots))
    exported = parse_iso(raw["exported_at"])
    assert exported is not None and abs((datetime.now(timezone.utc) - exported).total_seconds()) < 120
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", raw["exported_at"])
    got = {d["finding_id"]: d for d in raw["decisions"]}
    assert len(got) == len(raw["decisions"]) == 3 + len(junk) and set(got) == set(keep_ids) | junk
    for i in keep_ids:
        assert got[i] == {"finding_id": i, "uri": by_id[i].uri, "kind": by_id[i].kind, "decision": "keep",
                          "reason": reason, "by": "Ana Reviewer", "until": until}
    for i in junk:
        assert got[i] == {"finding_id": i, "uri": by_id[i].uri, "kind": "junk_file", "decision": "approve",
                          "reason": "", "by": "Ana Reviewer", "until": None}
    # rotscan's own validation accepts it as it stands (writing nothing) ...
    requests = parse_export(saved.read_bytes(), result)
    build_records(result, DecisionSet(), requests, by="nobody", now=datetime.now(timezone.utc))
    # the typed reason stayed text: shown in the pending list, no element made of it
    assert reason in page.evaluate("document.querySelector('[data-pending]').textContent")
    assert page.evaluate("document.querySelectorAll('img').length + document.scripts.length") == 2
    report.assert_clean()

    # ... refuses it tampered (a finding's uri moved outside the lake), writing nothing ...
    out = path.parent
    lake_root = Path(result.scan.roots[0].removeprefix("file:"))
    tampered = json.loads(saved.read_text(encoding="utf-8"))
    tampered["decisions"][0]["uri"] = "file:/etc/passwd"
    bad = tmp_path / "tampered.json"
    bad.write_text(json.dumps(tampered), encoding="utf-8")
    runner = CliRunner()
    res = runner.invoke(main, ["decide", str(out), "--import", str(bad)])
    assert res.exit_code == 1 and "refused, nothing written" in res.output, res.output
    assert not (lake_root / "_rotscan" / "decisions.jsonl").exists()
    # ... and imports it: the next render of the report shows the decisions
    res = runner.invoke(main, ["decide", str(out), "--import", str(saved)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(main, ["report", str(out)])
    assert res.exit_code == 0, res.output
    report.load()
    cells = page.evaluate(
        "(() => { const col = parseInt(document.querySelector('[data-review]').getAttribute('data-decision-col'), 10);"
        " return Object.fromEntries(Array.from(document.querySelectorAll('#findings tbody tr'),"
        "   r => [r.id.slice(2), r.cells[col].textContent])); })()")
    assert {i for i, c in cells.items() if c == "kept"} == set(keep_ids)
    assert {i for i, c in cells.items() if c == "approved"} == junk
    assert {c for i, c in cells.items() if i not in junk and i not in keep_ids} == {""}
    kept = page.evaluate("Array.from(document.querySelectorAll('#kept tbody tr'), r => r.textContent)")
    assert len(kept) == 3 and all(reason in k and "Ana Reviewer" in k and until in k for k in kept)
    assert report.text("#decisions-card .big") == f"3 kept · {len(junk)} approved"
    # the pending decisions are imported now: the page no longer holds them
    assert report.pending() == [] and "now recorded" in report.text("[data-msg]")
    report.screenshot("report-decided.png")
    report.assert_clean()


def test_decide_refuses_incomplete_decisions(report: ReportView, realistic: tuple[ScanResult, Path]) -> None:
    result, _ = realistic
    page = report.page
    fresh(report)

    def refused(words: str) -> None:
        assert words in report.text("[data-msg]")
        assert page.evaluate("document.querySelector('[data-msg]').classList.contains('bad')")
        assert report.pending() == [] and page.evaluate("document.querySelector('[data-pending-box]').hidden")

    page.click("[data-add]")
    refused("Select at least one finding first")
    report.tick(undecided(result, report.visible_ids(), 1)[0])
    report.fill("[data-by]", "Ana")
    page.click("[data-add]")
    refused("A keep needs a reason")
    assert page.evaluate("document.activeElement === document.querySelector('[data-reason]')")
    report.fill("[data-reason]", "needed")
    report.fill("[data-by]", "   ")
    page.click("[data-add]")
    refused("Give your name")
    report.fill("[data-by]", "Ana")
    report.set_value("[data-until]", "2001-01-01")
    page.click("[data-add]")
    refused("The until-date must be a date from today (UTC) on")
    report.set_value("[data-until]", "")
    page.click("[data-add]")
    assert len(report.pending()) == 1


def test_pending_decisions_survive_a_reload_and_can_be_removed_or_discarded(
        report: ReportView, realistic: tuple[ScanResult, Path]) -> None:
    result, _ = realistic
    page = report.page
    fresh(report)
    ids = undecided(result, report.visible_ids(), 2)
    for i in ids:
        report.tick(i)
    report.fill("[data-reason]", "needed by finance")
    report.fill("[data-by]", "Ana")
    page.click("[data-add]")
    assert report.pending() == ids
    report.load()  # pending decisions are kept by the browser for file:// pages (localStorage)
    assert report.text("[data-pending-count]") == "2" and report.pending() == ids
    assert page.evaluate("document.querySelector('[data-by]').value") == "Ana"  # the name is remembered
    report.choose("pending")
    report.wait_for_count(2)
    page.click(f"[data-remove='{ids[0]}']")
    report.wait_for_count(1)
    assert report.pending() == [ids[1]]
    report.load()
    assert report.pending() == [ids[1]] and report.text("[data-pending-count]") == "1"
    page.click("[data-discard]")
    assert report.pending() == [ids[1]]  # the first click only asks
    assert report.text("[data-discard]") == "Discard 1 decision? Click again"
    page.click("[data-discard]")
    assert report.pending() == [] and page.evaluate(f"localStorage.getItem({SCAN_KEY!r})") is None
    assert page.evaluate("document.querySelector('[data-pending-box]').hidden")


def test_tampered_or_outdated_saved_decisions_are_dropped(report: ReportView, realistic: tuple[ScanResult, Path]) -> None:
    result, _ = realistic
    page = report.page
    fresh(report)
    free = undecided(result, [f.id for f in result.findings], 3)
    kept = next(f for f in result.findings if f.kept)
    items = [["no-such-finding", "keep", "x", None, "a"], [free[0], "delete", "x", None, "a"],
             [free[1], "keep", "", None, "a"], [kept.id, "keep", "again", None, "a"],
             [free[2], "keep", "why", "2027-01-01", "ana"], "junk"]
    page.evaluate(f"localStorage.setItem({SCAN_KEY!r}, {json.dumps(json.dumps({'v': 1, 'items': items}))}); true")
    report.load()
    assert report.pending() == [free[2]]
    msg = report.text("[data-msg]")
    assert "1 pending decision is now recorded (this report shows it) and no longer pending" in msg
    assert "4 saved decisions were not for a finding of this report and were dropped" in msg
    page.evaluate(f"localStorage.setItem({SCAN_KEY!r}, '{{not json'); true")
    report.load()
    assert report.pending() == [] and "dropped" in report.text("[data-msg]")


def test_decide_with_the_keyboard_only(report: ReportView, realistic: tuple[ScanResult, Path]) -> None:
    page = report.page
    fresh(report)

    def active(selector: str) -> bool:
        return bool(page.evaluate(f"document.activeElement !== null && document.activeElement.matches({selector!r})"))

    def tab_to(selector: str, limit: int = 60, *, shift: bool = False) -> None:
        for _ in range(limit):
            page.press("Tab", shift=shift)
            if active(selector):
                return
        raise AssertionError(f"{limit} {'Shift+' if shift else ''}Tab presses did not reach {selector}")

    # every control of the review box has an accessible name
    unnamed = page.evaluate(
        f"Array.from(document.querySelectorAll('{REVIEW} input, {REVIEW} button, #findings input.pick'))"
        ".filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.textContent.trim())"
        ".map(e => e.outerHTML)")
    assert unnamed == []
    page.evaluate("document.querySelector('section#findings input[data-search]').focus()")
    tab_to("#findings tbody tr input.pick", 120)
    row = page.evaluate("document.activeElement.closest('tr').id")
    label = page.evaluate("document.activeElement.getAttribute('aria-label')")
    assert label.startswith("Select ") and label.endswith(")")
    page.press("Space")
    assert report.text(f"{REVIEW} [data-selected]") == "1 finding selected"
    tab_to("[data-by]", 60, shift=True)
    page.insert_text("Kim")
    tab_to("[data-reason]", 10, shift=True)
    page.insert_text("the monthly close reads it")
    tab_to("[data-add]", 10)
    page.press("Enter")
    assert report.pending() == [row[2:]]
    assert report.text("[data-msg]").startswith("Recorded keep for 1 finding;")


def test_owner_filter_owner_links_kept_section_and_one_owners_report(
        browser: Chromium, report: ReportView, realistic: tuple[ScanResult, Path], tmp_path: Path) -> None:
    result, path = realistic
    page = report.page
    marketing = {f.id for f in result.findings if f.owner == "team-marketing"}
    report.choose("team-marketing")
    report.wait_for_count(len(marketing))
    assert set(report.visible_ids()) <= marketing
    report.choose("unowned")
    report.wait_for_count(sum(f.owner is None for f in result.findings))
    report.choose("")
    # an owner's name in the summary filters the table to that owner
    page.click("#owners a[data-owner='team-finance']")
    report.wait_for_count(sum(f.owner == "team-finance" for f in result.findings))
    report.choose("")
    # recorded decisions: the Decision filter and the Kept section
    report.choose("approved")
    report.wait_for_count(sum(f.approved for f in result.findings))
    report.choose("lapsed")
    lapsed = {f.id for f in result.findings if f.decision is not None and not f.decision.applies}
    report.wait_for_count(len(lapsed))
    assert set(report.visible_ids()) == lapsed
    keeps = [f for f in result.findings if f.decision is not None and f.decision.decision == "keep"]
    assert page.evaluate("document.querySelectorAll('#kept tbody tr').length") == len(keeps)
    assert page.evaluate("document.querySelectorAll('#kept tbody tr.lapsed').length") == sum(not f.kept for f in keeps)
    assert "stale: the data changed since the decision" in page.evaluate("document.getElementById('kept').textContent")
    # a kept finding's link shows its row in the findings table, even when the filters hide it
    target = next(f for f in keeps if f.kept)
    page.click(f"#kept a[href='#f-{target.id}']")
    page.wait_until(f"!document.getElementById('f-{target.id}').hidden")
    report.screenshot("report-kept-owners.png")

    # one owner's report: only that owner's findings, and it decides for the same scan
    from rotscan.report.review_view import owner_result, owner_scope

    mine = owner_result(result, "team-finance")
    out = path.parent / "owners" / "team-finance"
    owner_path = write_report(mine, out, price_per_gb_month=0.023, currency="USD",
                              scope=owner_scope("team-finance", out, path.parent, result, mine))
    with browser.page() as other:
        view = ReportView(other, owner_path)
        view.load()
        assert view.count() == (len(mine.findings), len(mine.findings))
        assert set(view.row_ids()) == {f.id for f in result.findings if f.owner == "team-finance"}
        assert other.evaluate("document.querySelector('.scope-note a').href") == path.resolve().as_uri()
        assert other.evaluate("document.querySelector('[data-review]').getAttribute('data-scan-id')") == result.scan.id
        view.assert_clean()


# ---------------------------------------------------------------------------------------------
# 10,000 findings


def test_ten_thousand_findings_load_filter_and_sort(browser: Chromium, tmp_path: Path) -> None:
    from rotscan.decisions import DecisionSet, build_records, parse_export

    result = report_result(10_000, seed=10)
    path = write(result, tmp_path)  # its size is test_report.py's concern; printed here
    with browser.page() as page:
        view = ReportView(page, path)
        load_s = view.load()
        timing = view.timing()
        ids = view.row_ids()
        assert len(ids) == 10_000 and set(ids) == {f.id for f in result.findings}
        assert view.count() == (10_000, 10_000)
        assert len(view.visible_ids()) == expected_shown(view, 10_000)

        marketing = {f.id for f in result.findings if "/marketing/" in f.uri}
        view.search("marketing")
        filter_s = view.wait_for_count(len(marketing), timeout=20)
        visible = view.visible_ids()
        assert len(visible) == expected_shown(view, len(marketing)) and set(visible) <= marketing

        started = time.perf_counter()
        view.choose("redundant")
        both = {f.id for f in result.findings if "/marketing/" in f.uri and f.category == "redundant"}
        view.wait_for_count(len(both), timeout=20)
        select_s = time.perf_counter() - started
        assert set(view.visible_ids()) <= both

        started = time.perf_counter()
        view.search("")
        view.choose("")
        view.wait_for_count(10_000, timeout=20)
        clear_s = time.perf_counter() - started

        page.evaluate("Array.from(document.querySelectorAll('section#findings table.findings thead button'))"
                      ".find(b => /reclaim/i.test(b.textContent)).setAttribute('data-test-sort', '')")
        sort_s = view.click_and_wait_for_reorder("[data-test-sort]")
        size = {f.id: f.reclaimable_bytes for f in result.findings}
        after = [size[i] for i in view.row_ids()]
        assert after in (sorted(after), sorted(after, reverse=True))

        # every finding approved in one go, and downloaded: one decision per finding
        page.evaluate("localStorage.clear(); true")
        started = time.perf_counter()
        page.click("[data-select-matching]")
        assert view.text(f"{REVIEW} [data-selected]") == "10,000 findings selected"
        page.click("input[name='rotscan-decision'][value='approve']")
        view.fill("[data-by]", "Ana")
        page.click("[data-add]")
        assert view.text("[data-pending-count]") == "10,000"
        decide_s = time.perf_counter() - started
        assert len(view.pending()) == 10_000
        downloads = tmp_path / "downloads"
        browser.allow_downloads(downloads)
        since = len(browser.events)
        started = time.perf_counter()
        page.click("[data-download]")
        decisions = browser.wait_for_download(downloads, since=since)
        download_s = time.perf_counter() - started
        entries = json.loads(decisions.read_text(encoding="utf-8"))["decisions"]
        assert sorted(e["finding_id"] for e in entries) == sorted(f.id for f in result.findings)
        requests = parse_export(decisions.read_bytes(), result)
        build_records(result, DecisionSet(), requests, by="nobody", now=datetime.now(timezone.utc))
        page.evaluate("localStorage.clear(); true")

        view.assert_clean()
        view.screenshot("report-10k.png")
    print(f"10,000 findings: {path.stat().st_size:,} bytes; load {load_s:.2f} s "
          f"(page: DOMContentLoaded {timing['domContentLoaded']:.0f} ms, load {timing['load']:.0f} ms); "
          f"search {filter_s:.2f} s; category {select_s:.2f} s; clear {clear_s:.2f} s; sort {sort_s:.2f} s; "
          f"approve all {decide_s:.2f} s; download {download_s:.2f} s ({decisions.stat().st_size:,} bytes)")
    assert load_s < 20 and filter_s < 20 and select_s < 20 and sort_s < 20 and decide_s < 20 and download_s < 20


# ---------------------------------------------------------------------------------------------
# the browser harness itself


def test_the_browser_leaves_no_process_behind_even_when_a_test_fails(browser: Chromium) -> None:
    # the module's browser is alive; a second one, closed by an exception, leaves nothing running
    assert browser.leftover_pids(), "the shared browser should be running"
    with pytest.raises(ZeroDivisionError), Chromium(browser.binary) as other:  # noqa: PT012
        with other.page() as p:
            p.navigate("about:blank")
            assert other.leftover_pids()
        _ = 1 / 0
    assert other.proc.returncode is not None
    assert other.leftover_pids() == []

"""The review report in a real browser: headless Chromium (the Debian ``chromium`` package) loads
``report.html`` from ``file://`` and the test drives it over the DevTools protocol
(tests/browser_support.py). Asserted: no console errors, exceptions, CSP violations or dialogs; no
request but the report file; every finding in the DOM; search, filters, sorting, paging and the
keyboard work; hostile dataset names stay text. Screenshots go to ``$ROTSCAN_TEST_ARTIFACTS`` (else
``reports/test-artifacts/``). Needs no JVM.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from rotscan.models import (
    CATEGORIES,
    Column,
    Dataset,
    DeltaInfo,
    Finding,
    ScanInfo,
    ScanResult,
    ScanWarning,
    UsageSource,
    iso,
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
    result = report_result(340)
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
    assert report.page.requests() == [report.url]
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
    injected = page.evaluate(
        "(() => ({"
        " scripts: Array.from(document.scripts).filter(s => s.textContent.includes('alert(')).length,"
        " handlers: Array.from(document.querySelectorAll('*'))"
        "   .filter(e => Array.from(e.attributes).some(a => /^on/i.test(a.name))).map(e => e.tagName),"
        " images: document.querySelectorAll('img[src=\"x\"], svg[onload]').length }))()"
    )
    assert injected == {"scripts": 0, "handlers": [], "images": 0}
    time.sleep(0.3)  # a dialog would open asynchronously if anything had run
    assert page.events_named("Page.javascriptDialogOpening") == []


# ---------------------------------------------------------------------------------------------
# 10,000 findings


def test_ten_thousand_findings_load_filter_and_sort(browser: Chromium, tmp_path: Path) -> None:
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

        view.assert_clean()
        view.screenshot("report-10k.png")
    print(f"10,000 findings: {path.stat().st_size:,} bytes; load {load_s:.2f} s "
          f"(page: DOMContentLoaded {timing['domContentLoaded']:.0f} ms, load {timing['load']:.0f} ms); "
          f"search {filter_s:.2f} s; category {select_s:.2f} s; clear {clear_s:.2f} s; sort {sort_s:.2f} s")
    assert load_s < 20 and filter_s < 20 and select_s < 20 and sort_s < 20


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

"""The evidence of each finding kind in plain words (rotscan.report.evidence.explain): golden
sentences for the evidence the detectors write, and "usage unknown" — never "unread" — without
usage sources. Fast: no JVM."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from rotscan.detect.obsolete import ObsoleteRules, detect_obsolete
from rotscan.detect.trivial import TrivialRules, detect_trivial
from rotscan.models import Column, Dataset, Finding
from rotscan.report.display import PathDisplay
from rotscan.report.evidence import EvidenceContext, ago, explain

T0 = datetime(2026, 11, 26, 10, tzinfo=timezone.utc)
R = "file:/lake"
def iso(d): return (T0 - timedelta(days=d)).isoformat().replace("+00:00", "Z")
DS = {d.uri: d for d in [
    Dataset(uri=f"{R}/warehouse/orders", format="delta", layout="delta", files=10, bytes=400_000_000, rows=200000, modified_max=T0-timedelta(days=3), last_read=T0-timedelta(days=3)),
    Dataset(uri=f"{R}/backup/orders", format="parquet", layout="part_files", files=4, bytes=300_000_000, rows=200000, last_read=T0-timedelta(days=412)),
    Dataset(uri=f"{R}/tmp/empty", format="parquet", layout="part_files", files=2, bytes=1024, rows=0, modified_max=T0-timedelta(days=40)),
]}
def F(uri, cat, kind, ev, related=(), action="quarantine"):
    return Finding(uri=f"{R}/{uri}", category=cat, kind=kind, action=action, confidence=.9, reclaimable_bytes=1, explanation="x", related=tuple(f"{R}/{r}" for r in related), evidence=ev)
CASES = {
 "exact_duplicate": F("backup/orders", "redundant", "exact_duplicate", {"jaccard": 1.0, "containment": 1.0, "rows": 200000, "checksum": "ab12", "keeper": f"{R}/warehouse/orders", "cluster_size": 2, "method": "checksum"}, ("warehouse/orders",)),
 "near_duplicate": F("backup/orders", "redundant", "near_duplicate", {"jaccard": 0.9132, "containment": 0.97, "containment_error": 0.012, "exact": False, "rows": 200000, "related_rows": 201000, "sample_size": 4096, "shared_sample": 3900, "keeper": f"{R}/warehouse/orders", "method": "coordinated sample"}, ("warehouse/orders",)),
 "subset": F("backup/orders", "redundant", "subset", {"jaccard": 0.05, "containment": 1.0, "containment_error": 0.0, "exact": True, "rows": 10000, "related_rows": 200000, "sample_size": 10000, "shared_sample": 10000, "keeper": f"{R}/warehouse/orders", "method": "exact row-hash sets"}, ("warehouse/orders",)),
 "projection": F("backup/orders", "redundant", "projection", {"jaccard": 1.0, "containment": 1.0, "containment_error": 0.0, "exact": True, "rows": 200000, "related_rows": 200000, "sample_size": 1, "shared_sample": 1, "keeper": f"{R}/warehouse/orders", "method": "exact row-hash sets", "columns": ["id", "amount"], "dropped_columns": ["note"], "checksum_match": True}, ("warehouse/orders",)),
 "unread": F("backup/orders", "obsolete", "unread", {"last_read": iso(412), "last_written": iso(500), "reads_30d": 0, "reads_90d": 0, "reads_365d": 0, "readers": [], "writers": ["nightly_copy"], "coverage_from": iso(730), "coverage_to": iso(0), "coverage_days": 730.0, "sources": ["openlineage"]}),
 "producer_stopped": F("backup/orders", "obsolete", "producer_stopped", {"last_read": None, "last_written": iso(120), "reads_30d": 0, "reads_90d": 0, "reads_365d": 0, "readers": [], "writers": ["etl_a"], "coverage_from": iso(200), "coverage_to": iso(0), "coverage_days": 200.0, "sources": ["spark_eventlog"], "producer_last_run": {"etl_a": iso(120)}}, ("warehouse/orders",)),
 "orphaned_lineage": F("backup/orders", "obsolete", "orphaned_lineage", {"last_read": None, "last_written": None, "reads_30d": 0, "reads_90d": 0, "reads_365d": 0, "readers": [], "writers": [], "coverage_from": iso(200), "coverage_to": iso(0), "coverage_days": 200.0, "sources": ["openlineage"], "missing_inputs": [f"{R}/raw/gone"]}, ("raw/gone",)),
 "superseded": F("backup/orders", "obsolete", "superseded", {"newer": f"{R}/warehouse/orders", "newer_written": iso(3), "this_written": iso(400), "shared_columns": ["amount", "id"], "last_read": None, "usage_known": False}, ("warehouse/orders",), action="review"),
 "expired": F("backup/orders", "obsolete", "expired", {"policy": "backup/**", "max_age_days": 365.0, "last_written": iso(400), "age_days": 400}),
 "unvacuumed_history": F("warehouse/orders", "obsolete", "unvacuumed_history", {"vacuumable_bytes": 100_000_000, "vacuumable_files": 5, "retention_hours": 168.0, "delta_version": 12, "time_travel_bytes": 120_000_000}, action="vacuum"),
 "empty": F("tmp/empty", "trivial", "empty", {"rows": 0, "rows_source": "footer", "bytes": 1024, "files": 2, "modified": iso(40), "format": "parquet"}),
 "constant": F("tmp/empty", "trivial", "constant", {"rows": 5000, "rows_source": "footer", "bytes": 1024, "files": 2, "modified": iso(40), "format": "parquet", "constant_columns": ["country"], "null_columns": ["note"]}, action="review"),
 "tiny": F("tmp/empty", "trivial", "tiny", {"rows": 3, "rows_source": "footer", "bytes": 1024, "files": 2, "modified": iso(40), "format": "parquet", "scratch_glob": "tmp/**"}),
 "zero_byte": F("tmp/empty/part-0.parquet", "trivial", "zero_byte", {"bytes": 0, "modified": iso(40), "dataset": f"{R}/tmp/empty"}, action="delete"),
 "corrupt_file": F("tmp/bad.parquet", "trivial", "corrupt_file", {"bytes": 17, "modified": iso(40), "problem": "no Parquet footer", "dataset": None}, action="review"),
 "junk_file": F("tmp/.DS_Store", "trivial", "junk_file", {"bytes": 6148, "files": 1, "modified": iso(40), "is_dir": False}, action="delete"),
 "write_debris": F("tmp/empty/_temporary", "trivial", "write_debris", {"bytes": 2048, "files": 3, "modified": iso(10), "is_dir": True, "age_hours": 240.0}),
}


def ctx(usage_known: bool = False) -> EvidenceContext:
    return EvidenceContext(as_of=T0, datasets=DS, display=PathDisplay([R]), usage_known=usage_known)


USAGE_KINDS = ("unread", "producer_stopped", "orphaned_lineage")

GOLDEN = {
    'exact_duplicate': [
        'Same 200,000 rows as warehouse/orders — order-independent checksum match.',
        'The copy to keep, warehouse/orders, is delta, 381.5 MiB, written 3 days ago.',
        'This copy: usage unknown (no access logs or lineage were given).',
    ],
    'near_duplicate': [
        '91.3% of the distinct rows are shared with warehouse/orders (Jaccard similarity, estimated on a coordinated sample of 4,096 row hashes ±1.2%).',
        '97% of its 200,000 rows are found in warehouse/orders (201,000 rows).',
        'The copy to keep, warehouse/orders, is delta, 381.5 MiB, written 3 days ago.',
        'This copy: usage unknown (no access logs or lineage were given).',
    ],
    'subset': [
        "All 10,000 of its rows are contained in warehouse/orders, which holds 200,000 rows — exact comparison of every row's hash.",
        'The copy to keep, warehouse/orders, is delta, 381.5 MiB, written 3 days ago.',
        'This copy: usage unknown (no access logs or lineage were given).',
    ],
    'projection': [
        'Its 2 columns are those of warehouse/orders without note.',
        'Its 200,000 rows are exactly the rows of warehouse/orders restricted to those columns — checksum match.',
        'The copy to keep, warehouse/orders, is delta, 381.5 MiB, written 3 days ago.',
        'This copy: usage unknown (no access logs or lineage were given).',
    ],
    'unread': [
        'Last read 2025-10-10 (412 days ago), within the 730 days the usage sources (openlineage) cover, 2024-11-26 to 2026-11-26.',
        'Reads in the last 30/90/365 days: 0/0/0.',
        'Last written 2025-07-14 (500 days ago).',
        'Written by nightly_copy.',
    ],
    'producer_stopped': [
        'Its producer last ran: etl_a 2026-07-29 (120 days ago).',
        'No read seen in the 200 days the usage sources (spark_eventlog) cover, 2026-05-10 to 2026-11-26.',
        'Last written 2026-07-29 (120 days ago).',
        'Written by etl_a.',
        'Feeds warehouse/orders.',
    ],
    'orphaned_lineage': [
        'Built from raw/gone, which is no longer in the lake.',
        'No read seen in the 200 days the usage sources (openlineage) cover, 2026-05-10 to 2026-11-26.',
        'Last written: no write seen in the usage sources.',
    ],
    'superseded': [
        'A newer version exists: warehouse/orders, written 2026-11-23 (3 days ago).',
        'This one was last written 2025-10-22 (400 days ago), 397 days before it.',
        '2 columns in common: amount, id.',
        'Reads: usage unknown (no access logs or lineage were given).',
    ],
    'expired': [
        "Retention policy 'backup/**' keeps data 365 days.",
        'Last written 2025-10-22 (400 days ago).',
        'This dataset: usage unknown (no access logs or lineage were given).',
    ],
    'unvacuumed_history': [
        "5 files (95.4 MiB) are no longer in the current version (Delta version 12) and older than the table's 168-hour retention.",
        '114.4 MiB in all are held only for time travel; VACUUM keeps what the retention protects.',
    ],
    'empty': [
        '0 rows, counted from Parquet/ORC file footers, in 2 files holding 1.0 KiB.',
        'Format: parquet.',
        'Last modified 2026-10-17 (40 days ago).',
        'This dataset: usage unknown (no access logs or lineage were given).',
    ],
    'constant': [
        '5,000 rows, and every column is uninformative.',
        'One value only in country.',
        'Only nulls in note.',
        'Last modified 2026-10-17 (40 days ago).',
        'This dataset: usage unknown (no access logs or lineage were given).',
    ],
    'tiny': [
        "3 rows, 1.0 KiB, in a scratch location (matches 'tmp/**').",
        'Last modified 2026-10-17 (40 days ago).',
        'This dataset: usage unknown (no access logs or lineage were given).',
    ],
    'zero_byte': [
        'A zero-byte file: it holds no data.',
        'Part of tmp/empty.',
        'Last modified 2026-10-17 (40 days ago).',
    ],
    'corrupt_file': [
        'Cannot be read as what its name says: no Parquet footer (17 B).',
        'Last modified 2026-10-17 (40 days ago).',
    ],
    'junk_file': [
        '6.0 KiB of junk.',
        'Last modified 2026-10-17 (40 days ago).',
    ],
    'write_debris': [
        'A directory of 3 files, 2.0 KiB.',
        'Last written 10 days ago.',
    ],
}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_golden_sentences_per_kind(kind: str) -> None:
    assert explain(CASES[kind], ctx(kind in USAGE_KINDS)) == GOLDEN[kind]


def test_the_issue_example_reads_as_written() -> None:
    words = explain(CASES["exact_duplicate"], ctx(usage_known=True))
    assert words[0] == "Same 200,000 rows as warehouse/orders — order-independent checksum match."
    assert words[-1] == "This copy last read 412 days ago; warehouse/orders last read 3 days ago."


@pytest.mark.parametrize("kind", sorted(k for k in CASES if k not in USAGE_KINDS))
def test_without_usage_sources_nothing_is_called_unread(kind: str) -> None:
    """(The usage rules only fire when usage sources cover the dataset: their evidence is the usage.)"""
    text = " ".join(explain(CASES[kind], ctx(usage_known=False))).lower()
    assert "unread" not in text and "never read" not in text
    if "read" in text.replace("readable", "").replace("be read", ""):
        assert "usage unknown" in text


def test_usage_known_but_no_read_seen_is_stated_as_such() -> None:
    words = explain(CASES["empty"], ctx(usage_known=True))
    assert words[-1] == "This dataset: no read recorded by the usage sources."


def test_unknown_kind_and_odd_values_do_not_break() -> None:
    f = Finding(uri=f"{R}/x", category="trivial", kind="brand_new_rule", action="review", confidence=0.5,
                reclaimable_bytes=0, explanation="?", evidence={"rows": "many", "bytes": 2048, "modified": "not a date",
                                                                "nested": {"a": [1, 2]}})
    assert explain(f, ctx()) == ["2.0 KiB."]
    odd = Finding(uri=f"{R}/backup/orders", category="redundant", kind="near_duplicate", action="review",
                  confidence=0.5, reclaimable_bytes=0, explanation="?", evidence={"jaccard": "high", "rows": None})
    assert explain(odd, ctx()) == ["This copy: usage unknown (no access logs or lineage were given)."]


def test_ago() -> None:
    assert ago(T0 - timedelta(days=412), T0) == "412 days ago"
    assert ago(T0 - timedelta(hours=5), T0) == "5 hours ago"
    assert ago(T0 - timedelta(minutes=5), T0) == "within the last hour"
    assert ago(T0 + timedelta(days=1), T0) == "after the scan's as-of time"


def test_sentences_from_real_detector_output() -> None:
    """The obsolete and trivial rules' own evidence, explained (no hand-written evidence)."""
    cols = (Column("id", "bigint"), Column("amount", "double"))
    old = Dataset(uri=f"{R}/sales/orders_v1", format="parquet", layout="part_files", files=2, bytes=5000,
                  rows=100, schema=cols, modified_max=T0 - timedelta(days=300), root=R)
    new = Dataset(uri=f"{R}/sales/orders_v2", format="parquet", layout="part_files", files=2, bytes=6000,
                  rows=120, schema=cols, modified_max=T0 - timedelta(days=2), root=R)
    empty = Dataset(uri=f"{R}/sales/empty", format="parquet", layout="part_files", files=1, bytes=600, rows=0,
                    rows_source="footer", modified_max=T0 - timedelta(days=30), root=R)
    [sup] = detect_obsolete([old, new], None, None, None, ObsoleteRules(), T0)
    datasets = {d.uri: d for d in (old, new, empty)}
    c = EvidenceContext(as_of=T0, datasets=datasets, display=PathDisplay([R]))
    assert explain(sup, c) == [
        "A newer version exists: sales/orders_v2, written 2026-11-24 (2 days ago).",
        "This one was last written 2026-01-30 (300 days ago), 298 days before it.",
        "2 columns in common: amount, id.",
        "Reads: usage unknown (no access logs or lineage were given).",
    ]
    [emp] = detect_trivial([empty], [], [], TrivialRules(), T0)
    assert explain(emp, c)[0] == "0 rows, counted from Parquet/ORC file footers, in 1 file holding 600 B."


def test_edge_wordings() -> None:
    no_files = Finding(uri=f"{R}/tmp/empty", category="trivial", kind="empty", action="review", confidence=0.6,
                       reclaimable_bytes=0, explanation="?",
                       evidence={"rows": 0, "rows_source": "delta_stats", "bytes": 0, "files": 0, "format": "delta",
                                 "delta_version": 0, "delta_last_operation": "WRITE"})
    assert explain(no_files, ctx())[:2] == ["0 rows, counted from the Delta log's statistics, no data files.",
                                            "Format: delta, Delta version 0 (last operation WRITE)."]
    lone = Finding(uri=f"{R}/x.csv", category="trivial", kind="zero_byte", action="delete", confidence=0.95,
                   reclaimable_bytes=0, explanation="?", evidence={"bytes": 0, "dataset": f"{R}/x.csv"})
    assert explain(lone, ctx()) == ["A zero-byte file: it holds no data."]  # not "part of" itself


# ---------------------------------------------------------------------------------------------
# in a real browser: the evidence a row opens to is explain()'s sentences; size/confidence filters


@pytest.mark.browser
def test_browser_row_opens_to_its_plain_words_and_filters_by_size_and_confidence(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    from rotscan.models import ScanInfo, ScanResult
    from rotscan.report import write_report
    from tests.browser_support import Chromium, ReportView, require_chromium

    findings = tuple(CASES.values()) + tuple(
        Finding(uri=f"{R}/bulk/t{i:03d}", category="trivial", kind="junk_file", action="delete",
                confidence=(i % 10) / 10, reclaimable_bytes=(i % 7) << 28, explanation=f"bulk {i}",
                evidence={"bytes": (i % 7) << 28, "files": 1, "is_dir": False})
        for i in range(60))
    scan = ScanInfo(id="s", started=T0, finished=T0, as_of=T0, roots=(R,), tool_version="t")
    result = ScanResult(scan=scan, datasets=tuple(DS.values()), findings=findings, warnings=(),
                        lineage={"edges": [{"src": f"{R}/raw/a", "dst": f"{R}/backup/orders", "job": "j",
                                            "last_seen": "2026-11-01T00:00:00Z"}]})
    path = write_report(result, tmp_path, price_per_gb_month=0.023)
    target = CASES["exact_duplicate"]
    with Chromium(require_chromium()) as browser, browser.page() as page:
        view = ReportView(page, path)
        view.load()
        sel = f"#f-{target.id} summary"
        page.evaluate(f"document.querySelector({json.dumps(sel)}).focus()")
        page.press("Enter")
        page.wait_until(f"!!document.querySelector('#f-{target.id} details[open] .ev')")
        words = page.evaluate(f"Array.from(document.querySelectorAll('#f-{target.id} .ev ul.words li'), li => li.textContent)")
        assert words == explain(target, ctx(usage_known=False))
        raw = page.evaluate(f"Array.from(document.querySelectorAll('#f-{target.id} .ev dt'), d => d.textContent)")
        assert raw[:2] == ["uri", "related"] and "checksum" in raw
        page.press("Space")  # Space closes it again: native <details>
        assert page.evaluate(f"document.querySelector('#f-{target.id} details').open") is False

        # obsolete findings on a dataset in the lineage: each detail links to the dataset's one graph
        figure = page.evaluate("document.querySelector('section#lineage figure.lin').id")
        for kind in ("unread", "superseded", "expired"):
            fid = CASES[kind].id
            page.evaluate(f"document.querySelector('#f-{fid} details').open = true")
            page.wait_until(f"!!document.querySelector('#f-{fid} .ev .lin a')")
            assert page.evaluate(f"document.querySelector('#f-{fid} .ev .lin a').getAttribute('href')") == f"#{figure}"
        tiny = CASES["tiny"].id  # not obsolete: no graph link
        page.evaluate(f"document.querySelector('#f-{tiny} details').open = true")
        page.wait_until(f"!!document.querySelector('#f-{tiny} .ev')")
        assert page.evaluate(f"document.querySelector('#f-{tiny} .ev .lin')") is None

        def choose(col: int, value: str) -> None:
            page.evaluate(f"(() => {{ const s = document.querySelector('section#findings select[data-min=\"{col}\"]');"
                          f" s.value = {json.dumps(value)}; s.dispatchEvent(new Event('change')); }})()")

        from rotscan.report.review_view import finding_columns

        cols = finding_columns(has_owner=False, has_decision=False)  # the table's columns for these findings
        choose(cols.reclaimable, str(1 << 30))  # size >= 1 GiB
        big = {f.id for f in findings if f.reclaimable_bytes >= 1 << 30}
        view.wait_for_count(len(big))
        assert set(view.visible_ids()) == big
        choose(cols.confidence, "90")  # and confidence >= 0.9 (as shown, in whole percent)
        both = {f.id for f in findings if f.reclaimable_bytes >= 1 << 30 and round(f.confidence * 100) >= 90}
        view.wait_for_count(len(both))
        assert set(view.visible_ids()) == both and both
        view.assert_clean()

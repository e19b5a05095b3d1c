"""Exact containment checks collected and handed to the verifier together (pure Python: which checks
share a Spark job, and what ``verify_sampled`` asks for, records and reports)."""

from __future__ import annotations

from datetime import datetime, timezone

from rotscan.crawl.inventory import InventoryEntry
from rotscan.detect.redundant import RedundancyRules, detect_redundant
from rotscan.detect.verify import verify_sampled
from rotscan.errors import ReadError
from rotscan.models import Dataset, Finding, ScanWarning
from rotscan.redundancy.signature import signature_from_hashes
from rotscan.spark.verifier import batches, on_driver, spark_bytes
from tests.test_redundant import COLS, rows

RULES = RedundancyRules()


def _entry(rel: str, size: int = 10_000, fp: str = "fp") -> InventoryEntry:
    ds = Dataset(uri=f"file:/lake/{rel}", format="parquet", layout="part_files", files=1, bytes=size, rows=1000,
                 root="file:/lake", modified_max=datetime(2026, 1, 1, tzinfo=timezone.utc))
    return InventoryEntry(dataset=ds, fingerprint=f"{fp}-{rel}")


def test_batches_hold_few_checks_and_few_bytes_and_a_big_check_alone() -> None:
    a, b, c, d = (_entry(x, 40) for x in "abcd")
    big = _entry("big", 1000)
    checks = [(a, b, COLS), (c, b, COLS), (d, b, COLS), (a, big, COLS), (c, d, COLS), (a, c, COLS)]
    # b is counted once however many checks read it: a+b+c+d = 160 bytes fit in 200
    assert batches(checks, max_checks=10, max_bytes=200) == [[0, 1, 2], [3], [4, 5]]
    assert batches(checks, max_checks=2, max_bytes=10_000) == [[0, 1], [2, 3], [4, 5]]
    assert batches([], max_checks=2, max_bytes=10) == []


def test_a_check_counts_on_the_driver_only_when_both_row_counts_are_known_and_fit() -> None:
    a, b = _entry("a"), _entry("b")  # 1,000 rows each
    assert on_driver(a, b) and on_driver(a, b, max_rows=2000) and not on_driver(a, b, max_rows=1999)
    unknown = _entry("c")
    unknown.dataset = Dataset(**{**unknown.dataset.__dict__, "rows": None})
    assert not on_driver(a, unknown) and not on_driver(unknown, a)
    # the driver's limit follows spark.driver.maxResultSize (a size string as Spark writes it)
    assert [spark_bytes(t) for t in ("1g", "512m", "2048k", "100b", "1024", "0", "1gb", "x1g")] == [
        1 << 30, 512 << 20, 2 << 20, 100, 1024, 0, 1 << 30, -1]


def _sampled_subsets() -> tuple[list, list[InventoryEntry]]:  # type: ignore[type-arg]
    base = rows(50_000, 43)  # sampled: the estimate is confirmed by the exact check
    whole, p1, p2 = _entry("warehouse/events", 1_000_000), _entry("exports/a", 200_000), _entry("exports/b", 300_000)
    sigs = {whole.dataset.uri: signature_from_hashes(base, COLS),
            p1.dataset.uri: signature_from_hashes(base[:20_000], COLS),
            p2.dataset.uri: signature_from_hashes(base[10_000:40_000], COLS)}
    for e in (whole, p1, p2):
        e.signature = sigs[e.dataset.uri]
    found = detect_redundant([e.dataset for e in (whole, p1, p2)], sigs, RULES)
    found = [f for f in found if f.related == (whole.dataset.uri,)]
    assert sorted(f.uri for f in found) == [p1.dataset.uri, p2.dataset.uri]
    assert all(f.kind == "subset" and not f.evidence["exact"] for f in found)
    return found, [whole, p1, p2]


def test_verify_sampled_asks_once_for_every_check_and_reports_each_failure_on_its_finding() -> None:
    from rotscan.state import StateTracker

    found, entries = _sampled_subsets()
    asked: list[list[tuple[str, str]]] = []

    class Batch:
        def exact_containment(self, p, w, columns):  # type: ignore[no-untyped-def]
            raise AssertionError("the batch method is used")

        def exact_containments(self, checks):  # type: ignore[no-untyped-def]
            asked.append([(p.dataset.uri, w.dataset.uri) for p, w, _ in checks])
            return [(20_000, 0) if p.dataset.uri.endswith("/a") else ReadError("cannot read exports/b")
                    for p, _, _ in checks]

    tracker = StateTracker("file:/tmp/state", "s")
    warnings: list[ScanWarning] = []
    out = verify_sampled(found + found, entries, RULES, Batch(), warnings=warnings, state=tracker)  # type: ignore[arg-type]
    assert len(asked) == 1 and len(asked[0]) == 2  # the repeated findings did not repeat the checks
    by_uri: dict[str, list[Finding]] = {}
    for f in out:
        by_uri.setdefault(f.uri, []).append(f)
    [ok, ok2] = by_uri["file:/lake/exports/a"]
    assert ok == ok2 and ok.evidence["exact"] and ok.evidence["missing_rows"] == 0 and ok.action == "quarantine"
    # the failed check keeps its finding as an estimate, with a warning per finding
    assert all(not f.evidence["exact"] for f in by_uri["file:/lake/exports/b"])
    assert [w.uri for w in warnings] == ["file:/lake/exports/b"] * 2 and "cannot read" in warnings[0].message
    # only the answered check went to the state
    assert len(tracker.new.containment) == 1


def test_a_verifier_without_the_batch_method_is_asked_check_by_check() -> None:
    found, entries = _sampled_subsets()
    seen: list[str] = []

    class One:
        def exact_containment(self, p, w, columns):  # type: ignore[no-untyped-def]
            seen.append(p.dataset.uri)
            if p.dataset.uri.endswith("/b"):
                raise ReadError("cannot read exports/b")
            return 20_000, 0

    warnings: list[ScanWarning] = []
    out = verify_sampled(found, entries, RULES, One(), warnings=warnings)  # type: ignore[arg-type]
    assert sorted(seen) == ["file:/lake/exports/a", "file:/lake/exports/b"]
    assert len(out) == 2 and len(warnings) == 1

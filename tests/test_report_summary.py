"""The report's key numbers: ROT per category, shares, and monthly cost by storage class. No JVM."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from rotscan.config import load_config
from rotscan.errors import ConfigError
from rotscan.models import Dataset, Finding, ScanInfo, ScanResult
from rotscan.report.html import render_report
from rotscan.report.summary import DEFAULT_PRICES, Pricing, summarize

ROOT = "file:/data/lake"
T0 = datetime(2026, 11, 26, 10, tzinfo=timezone.utc)


def _f(path: str, category: str, kind: str, nbytes: int) -> Finding:
    return Finding(uri=f"{ROOT}/{path}", category=category, kind=kind, action="quarantine", confidence=0.95,
                   reclaimable_bytes=nbytes, explanation=kind)


def lake() -> ScanResult:
    """10 GB scanned; 3 GB redundant in the warehouse backup, 2 GB obsolete under archive/,
    0.5 GB trivial in tmp/ plus a junk file inside the flagged tmp directory (covered, not counted)."""
    datasets = (
        Dataset(uri=f"{ROOT}/warehouse/orders", format="delta", layout="delta", files=10, bytes=4_500_000_000),
        Dataset(uri=f"{ROOT}/backup/orders", format="parquet", layout="part_files", files=9, bytes=3_000_000_000),
        Dataset(uri=f"{ROOT}/archive/events", format="parquet", layout="part_files", files=5, bytes=2_000_000_000),
        Dataset(uri=f"{ROOT}/tmp/x", format="csv", layout="file", files=1, bytes=500_000_000),
    )
    findings = (
        _f("backup/orders", "redundant", "exact_duplicate", 3_000_000_000),
        _f("archive/events", "obsolete", "unread", 2_000_000_000),
        _f("tmp/x", "trivial", "tiny", 500_000_000),
        _f("tmp/x/.DS_Store", "trivial", "junk_file", 6_000),
    )
    info = ScanInfo(id="s1", started=T0, finished=T0, as_of=T0, roots=(ROOT,), tool_version="0.1.0")
    return ScanResult(info, datasets, findings, ())


def test_rot_bytes_and_share_per_category() -> None:
    s = summarize(lake(), price_per_gb_month=0.023)
    assert s.bytes_scanned == 10_000_000_000
    assert s.rot_bytes == 5_500_000_000
    assert [(c.category, c.bytes, c.findings) for c in s.by_category] == [
        ("redundant", 3_000_000_000, 1), ("obsolete", 2_000_000_000, 1), ("trivial", 500_000_000, 2)]
    assert [c.share for c in s.by_category] == [0.3, 0.2, 0.05]
    assert s.rot_share == 0.55
    assert s.roots == (ROOT,)


def test_flat_price_keeps_working() -> None:
    s = summarize(lake(), price_per_gb_month=0.023)
    assert s.monthly_savings == pytest.approx(5.5 * 0.023)
    assert s.storage_class == "standard" and not s.priced_by_class
    assert [(c.storage_class, c.bytes) for c in s.cost_by_class] == [("standard", 5_500_000_000)]


def test_cost_with_two_storage_classes() -> None:
    config = load_config(overrides={"report": {
        "prices": {"glacier_ir": 0.004},
        "storage_classes": {"/data/lake/archive": "glacier_ir"},
    }})
    pricing = Pricing.from_config(config)
    s = summarize(lake(), pricing=pricing)
    # 3.5 GB standard at 0.023 + 2 GB glacier_ir at 0.004
    assert s.monthly_savings == pytest.approx(3.5 * 0.023 + 2 * 0.004)
    assert s.monthly_savings == pytest.approx(0.0885)
    assert [(c.storage_class, c.bytes, round(c.monthly, 6)) for c in s.cost_by_class] == [
        ("standard", 3_500_000_000, 0.0805), ("glacier_ir", 2_000_000_000, 0.008)]
    assert s.priced_by_class and s.price_per_gb_month == 0.023
    html = render_report(lake(), price_per_gb_month=0.023, pricing=pricing)
    assert "Monthly cost by storage class" in html
    assert "standard 3.3 GiB at 0.023, glacier_ir 1.9 GiB at 0.004 USD per GB-month" in html
    assert 'class="big">0.088 USD' in html  # 0.0885, two significant digits


def test_storage_class_prefixes_longest_wins_and_match_whole_components() -> None:
    config = load_config(overrides={"report": {
        "storage_class": "standard_ia",
        "storage_classes": {"file:/data/lake/archive": "glacier", "file:/data/lake/archive/hot": "standard"},
    }})
    p = Pricing.from_config(config)
    assert p.class_of(f"{ROOT}/archive/old/t") == "glacier"
    assert p.class_of(f"{ROOT}/archive/hot/t") == "standard"
    assert p.class_of(f"{ROOT}/archive") == "glacier"
    assert p.class_of(f"{ROOT}/archived/t") == "standard_ia"  # a prefix matches whole path components
    # the default class is priced by price_per_gb_month (here the packaged 0.023), others by list price
    assert p.price("standard_ia") == 0.023 and p.price("glacier") == DEFAULT_PRICES["glacier"]
    # an explicit [report.prices] entry for the default class wins; a scan's recorded price too
    q = Pricing.from_config(load_config(overrides={"report": {"storage_class": "standard_ia",
                                                              "prices": {"standard_ia": 0.0125}}}))
    assert q.price("standard_ia") == 0.0125
    assert Pricing.from_config(load_config(), default_price=0.05).price("standard") == 0.05


def test_pricing_config_errors_are_clear() -> None:
    with pytest.raises(ConfigError, match="unknown storage class 'cold'"):
        Pricing.from_config(load_config(overrides={"report": {"storage_classes": {"/data/a": "cold"}}}))
    # the default class may have any name: price_per_gb_month prices it
    assert Pricing.from_config(load_config(overrides={"report": {"storage_class": "nearline"}})).price("nearline") == 0.023
    with pytest.raises(ConfigError, match="must not be empty"):
        Pricing.from_config(load_config(overrides={"report": {"storage_class": " "}}))
    with pytest.raises(ConfigError, match="must be a number"):
        Pricing.from_config(load_config(overrides={"report": {"prices": {"cold": "cheap"}}}))
    with pytest.raises(ConfigError, match="cannot be negative"):
        Pricing.from_config(load_config(overrides={"report": {"prices": {"cold": -1.0}}}))
    # a class of the user's own is fine once priced
    p = Pricing.from_config(load_config(overrides={"report": {"prices": {"cold": 0.001},
                                                              "storage_classes": {"/data/a": "cold"}}}))
    assert p.class_of("file:/data/a/b") == "cold" and p.price("cold") == 0.001


def test_example_config_prices_parse() -> None:
    from pathlib import Path

    example = Path(__file__).resolve().parents[1] / "conf" / "rotscan.example.toml"
    p = Pricing.from_config(load_config(example))
    assert p.class_of("s3a://example-lake/archive/t") == "glacier_ir"


def test_recorded_pricing_round_trips_and_a_plain_rerender_keeps_it(tmp_path) -> None:
    import json

    from click.testing import CliRunner

    from rotscan.cli import main

    config = load_config(overrides={"report": {"prices": {"glacier_ir": 0.004},
                                               "storage_classes": {"/data/lake/archive": "glacier_ir"}}})
    pricing = Pricing.from_config(config)
    assert Pricing.from_dict(json.loads(json.dumps(pricing.to_dict()))) == pricing
    with pytest.raises(ConfigError, match="recorded pricing is not valid"):
        Pricing.from_dict({"storage_class": "standard"})
    # findings.json recorded at scan time with two classes: `rotscan report` without --config keeps them
    from dataclasses import replace

    r = lake()
    r = replace(r, scan=replace(r.scan, price_per_gb_month=0.023, pricing=pricing.to_dict()))
    (tmp_path / "findings.json").write_text(json.dumps(r.to_dict()))
    out = CliRunner().invoke(main, ["report", str(tmp_path)])
    assert out.exit_code == 0, out.output
    assert 'class="big">0.088 USD' in (tmp_path / "report.html").read_text()
    # with --config, the config's pricing applies (the packaged defaults here: one class)
    cfg = tmp_path / "c.toml"
    cfg.write_text("[report]\nprice_per_gb_month = 0.023\n")
    out = CliRunner().invoke(main, ["report", str(tmp_path), "--config", str(cfg)])
    assert out.exit_code == 0, out.output
    assert 'class="big">0.13 USD' in (tmp_path / "report.html").read_text()  # 5.5 GB at 0.023


CATALOG = {"read": True, "source": "the metastore at thrift://127.0.0.1:9083", "databases": ["default", "sales"],
           "tables": 5, "tables_in_roots": 4, "tables_partly_outside_roots": 0, "tables_outside_roots": 1,
           "tables_without_location": 0, "broken_tables": 1, "registered_datasets": 3,
           "unregistered_datasets": 2, "complete": True, "errors": [], "note": ""}


def _with_catalog(catalog: dict | None) -> ScanResult:
    from dataclasses import replace

    result = lake()
    return replace(result, scan=replace(result.scan, catalog=catalog))


def test_the_report_says_what_the_catalog_read_covered() -> None:
    s = summarize(_with_catalog(CATALOG), price_per_gb_month=0.023)
    assert s.catalog_statement == (
        "5 tables in 2 databases (default, sales) from the metastore at thrift://127.0.0.1:9083; 4 located in "
        "the scanned roots; 3 datasets registered, 2 in no table; 1 broken table; 1 table (partly) outside "
        "the roots not judged")
    html = render_report(_with_catalog(CATALOG), price_per_gb_month=0.023)
    assert "<strong>Catalog:</strong> 5 tables in 2 databases" in html
    # an incomplete read says the rest is unknown, and is shown as a warning
    partial = {**CATALOG, "complete": False, "errors": ["sales.broken: permission denied"]}
    s = summarize(_with_catalog(partial), price_per_gb_month=0.023)
    assert s.catalog_statement.endswith("the read was incomplete (1 error, see warnings): registration of the "
                                        "rest is unknown")
    assert '<p class="catalog unknown" data-catalog>' in render_report(_with_catalog(partial), price_per_gb_month=0.023)
    # unreadable: never "unregistered"
    gone = {"source": "x", "read": False, "tables": None, "complete": False,
            "note": "the catalog could not be read (see warnings): registration is unknown"}
    assert summarize(_with_catalog(gone), price_per_gb_month=0.023).catalog_statement == gone["note"]
    # no catalog configured: no line at all
    assert summarize(lake(), price_per_gb_month=0.023).catalog_statement == ""
    assert "data-catalog" not in render_report(lake(), price_per_gb_month=0.023)

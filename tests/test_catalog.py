"""Catalog tables in the pure core: canonical locations, path lookups, registration of datasets and
findings, broken tables, keeper order (the Spark lane reads real Hive metastores:
tests/spark/test_catalog_hive.py)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from rotscan.catalog import CatalogIndex, CatalogSettings, CatalogTable, canonical_location
from rotscan.config import load_config
from rotscan.detect.redundant import RedundancyRules, detect_redundant
from rotscan.detect.tables import (
    CAP,
    MAX_RAISE,
    catalog_coverage,
    detect_broken_tables,
    probe_location,
    raised_confidence,
    register_datasets,
    with_registration,
)
from rotscan.errors import ConfigError
from rotscan.models import Dataset, Finding
from rotscan.redundancy.signature import signature_from_hashes
from rotscan.storage.local import LocalStorage
from rotscan.uri import parse


def ds(uri: str, fmt: str = "parquet", **kw: object) -> Dataset:
    base = dict(uri=uri, format=fmt, layout="part_files", files=2, bytes=10_000, rows=1000, root="file:/lake")
    base.update(kw)
    return Dataset(**base)  # type: ignore[arg-type]


def test_locations_are_canonicalised_like_rotscan_uris() -> None:
    assert canonical_location("file:/lake/t/") == "file:/lake/t"
    assert canonical_location("file:///lake/t") == "file:/lake/t"
    assert canonical_location("s3://bucket/w/t/") == "s3a://bucket/w/t"
    assert canonical_location("s3n://bucket/w//t") == "s3a://bucket/w/t"
    assert canonical_location("s3a://bucket/w/a%20b") == "s3a://bucket/w/a b"
    assert canonical_location("hdfs://nn:8020/w/t/") == "hdfs://nn:8020/w/t"
    # no scheme: on the default file system
    assert canonical_location("/w/t") == "file:/w/t"
    assert canonical_location("/w/t", "hdfs://nn:8020") == "hdfs://nn:8020/w/t"
    assert canonical_location("") is None and canonical_location(None) is None
    assert canonical_location("relative/t") is None


def _index(complete: bool = True) -> CatalogIndex:
    return CatalogIndex([
        CatalogTable("sales.orders", "file:/lake/warehouse/orders", "parquet", owner="etl"),
        CatalogTable("sales.clicks", "file:/lake/warehouse/clicks", "parquet", partition_columns=("day",),
                     partitions=2, partition_locations=("file:/lake/elsewhere/day_2",)),
        CatalogTable("s3.events", "s3a://bucket/events", "delta"),
        CatalogTable("sales.v", None, None, table_type="VIEW"),
    ], complete=complete)


def test_index_lookups() -> None:
    idx = _index()
    assert idx.table_for(parse("file:/lake/warehouse/orders")).name == "sales.orders"  # type: ignore[union-attr]
    assert idx.table_for(parse("file:/lake/warehouse/orders/part-0.parquet")).name == "sales.orders"  # type: ignore[union-attr]
    assert idx.table_for(parse("file:/lake/elsewhere/day_2/x.parquet")).name == "sales.clicks"  # type: ignore[union-attr]
    assert idx.table_for(parse("s3://bucket/events/")) is not None  # s3 = s3a
    assert idx.table_for(parse("file:/lake/warehouse/orders_copy")) is None  # a prefix of the name is not inside
    assert [t.name for t, _ in idx.within(parse("file:/lake/warehouse"))] == ["sales.clicks", "sales.orders"]
    assert idx.registered(parse("file:/lake/warehouse")) is True  # contains tables
    assert idx.registered(parse("file:/lake/backup/orders")) is False
    assert _index(complete=False).registered(parse("file:/lake/backup/orders")) is None  # never claimed


def test_datasets_get_their_table_and_registration() -> None:
    got = {d.uri: (d.table, d.registered) for d in register_datasets([
        ds("file:/lake/warehouse/orders"), ds("file:/lake/backup/orders"), ds("file:/lake/elsewhere/day_2"),
    ], _index())}
    assert got == {"file:/lake/warehouse/orders": ("sales.orders", True),
                   "file:/lake/backup/orders": (None, False),
                   "file:/lake/elsewhere/day_2": ("sales.clicks", True)}
    unknown = register_datasets([ds("file:/lake/backup/orders")], _index(complete=False))
    assert unknown[0].registered is None


def test_unregistered_raises_confidence_bounded() -> None:
    assert raised_confidence(0.6) == pytest.approx(0.65)  # capped by MAX_RAISE
    assert raised_confidence(0.9) == pytest.approx(0.925)  # a quarter of the remaining doubt
    assert raised_confidence(0.99) == 0.99 and raised_confidence(1.0) == 1.0
    for c in [i / 100 for i in range(101)]:
        r = raised_confidence(c)
        assert c <= r <= max(c, CAP) and r - c <= MAX_RAISE + 1e-9


def test_findings_name_table_and_registration_evidence() -> None:
    fs = [Finding("file:/lake/backup/orders", "redundant", "exact_duplicate", "quarantine", 0.9, 10, "same rows"),
          Finding("file:/lake/warehouse/orders/.DS_Store", "trivial", "junk_file", "delete", 0.97, 6, "junk")]
    a, b = with_registration(fs, _index())
    assert a.table is None and a.evidence["registered"] is False and a.confidence == pytest.approx(0.925)
    assert a.explanation.endswith("registered in no catalog table")
    assert b.table == "sales.orders" and b.evidence["registered"] is True and b.confidence == 0.97
    (c,) = with_registration(fs[:1], _index(complete=False))
    assert c.evidence["registered"] is None and c.confidence == 0.9  # nothing known: nothing raised


def test_registered_copy_is_the_keeper() -> None:
    """Without a catalog the Delta copy would be kept (format); registration outranks format."""
    rnd = random.Random(7)
    base = [rnd.getrandbits(64) - (1 << 63) for _ in range(500)]
    cols = ("a", "b")
    registered = ds("file:/lake/warehouse/orders", table="sales.orders", registered=True)
    copy = ds("file:/lake/mirror/orders", "delta", layout="delta", registered=False)
    sigs = {registered.uri: signature_from_hashes(base, cols), copy.uri: signature_from_hashes(base[::-1], cols)}
    (f,) = detect_redundant([registered, copy], sigs, RedundancyRules())
    assert f.uri == copy.uri and f.related[0] == registered.uri
    assert "registered as catalog table sales.orders, the copy is in no catalog table" in f.explanation
    # no catalog read: the format decides again
    plain = [Dataset(**{**registered.__dict__, "table": None, "registered": None}),
             Dataset(**{**copy.__dict__, "registered": None})]
    (g,) = detect_redundant(plain, sigs, RedundancyRules())
    assert g.uri == registered.uri


def test_broken_tables_gone_and_empty_on_real_dirs(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    (lake / "warehouse" / "orders").mkdir(parents=True)
    (lake / "warehouse" / "orders" / "part-0.parquet").write_bytes(b"PAR1data")
    (lake / "warehouse" / "empty").mkdir()
    (lake / "warehouse" / "markers").mkdir()
    (lake / "warehouse" / "markers" / "_SUCCESS").write_bytes(b"")
    (lake / "warehouse" / "markers" / ".part-0.crc").write_bytes(b"crc!")
    (lake / "warehouse" / "unknown").mkdir()
    (lake / "warehouse" / "unknown" / "data.bin").write_bytes(b"x")  # data the scan made no dataset of
    root = parse(str(lake))

    def loc(rel: str) -> str:
        return str(root.child(rel))

    idx = CatalogIndex([
        CatalogTable("db.orders", loc("warehouse/orders")),
        CatalogTable("db.gone", loc("warehouse/gone")),
        CatalogTable("db.empty", loc("warehouse/empty")),
        CatalogTable("db.markers", loc("warehouse/markers"), table_type="MANAGED"),
        CatalogTable("db.unknown", loc("warehouse/unknown")),
        CatalogTable("db.outside", str(parse(str(tmp_path / "elsewhere")))),
        CatalogTable("db.split", loc("warehouse/gone2"), partition_locations=(str(parse(str(tmp_path / "far"))),)),
    ])
    storage = LocalStorage()
    found = detect_broken_tables(idx, [root], [ds(loc("warehouse/orders"), root=str(root))],
                                 lambda u: probe_location(storage, u))
    by = {f.table: f for f in found}
    assert set(by) == {"db.gone", "db.empty", "db.markers"}
    gone = by["db.gone"]
    assert (gone.category, gone.kind, gone.action, gone.reclaimable_bytes) == ("trivial", "broken_table", "review", 0)
    assert gone.evidence["location_state"] == "missing" and "no longer exist" in gone.explanation
    assert by["db.empty"].evidence["location_state"] == "empty"
    markers = by["db.markers"]
    assert markers.reclaimable_bytes == 4 and markers.evidence["files"] == 2 and "managed" in markers.explanation
    cov = catalog_coverage(idx, "test", ["db"], [root], [], broken=len(found))
    assert (cov["tables_in_roots"], cov["tables_outside_roots"], cov["tables_partly_outside_roots"]) == (5, 1, 1)


def test_catalog_settings() -> None:
    off = CatalogSettings.from_config(load_config())
    assert not off.enabled and off.spark_conf() == {}
    on = CatalogSettings.from_config(load_config(overrides={"catalog": {
        "enabled": True, "metastore_uris": "thrift://127.0.0.1:9083", "databases": ["Sales"],
        "conf": {"spark.sql.warehouse.dir": "/w"}}}))
    assert on.spark_conf() == {"spark.sql.catalogImplementation": "hive",
                               "spark.hadoop.hive.metastore.uris": "thrift://127.0.0.1:9083",
                               "spark.sql.warehouse.dir": "/w"}
    assert on.databases == ("sales",)
    with pytest.raises(ConfigError, match="thrift://"):
        CatalogSettings.from_config(load_config(overrides={"catalog": {"metastore_uris": "http://x:1"}}))
    with pytest.raises(ConfigError, match="kind"):
        CatalogSettings.from_config(load_config(overrides={"catalog": {"kind": "glue"}}))


def test_table_round_trip() -> None:
    t = CatalogTable("db.t", "file:/l/t", "parquet", "EXTERNAL", "me", {"team": "x"}, ("d",), 3, ("file:/o",))
    assert CatalogTable.from_dict(t.to_dict()) == t


def test_the_report_says_what_registration_means() -> None:
    from datetime import datetime, timezone

    from rotscan.report.evidence import EvidenceContext, explain

    ctx = EvidenceContext(as_of=datetime(2026, 12, 1, tzinfo=timezone.utc))
    (a, b) = with_registration([
        Finding("file:/lake/backup/orders", "trivial", "tiny", "review", 0.6, 10, "tiny", evidence={"rows": 3}),
        Finding("file:/lake/warehouse/orders/part-1.csv", "trivial", "zero_byte", "delete", 0.95, 0, "zero"),
    ], _index())
    assert explain(a, ctx)[-1] == "Registered in no catalog table, so nobody queries it by a table name."
    assert explain(b, ctx)[-1] == "Registered as catalog table sales.orders."
    broken = Finding("file:/lake/warehouse/gone", "trivial", "broken_table", "review", 0.9, 0, "gone",
                     evidence={"table": "db.gone", "table_type": "EXTERNAL", "format": "parquet",
                               "location_state": "missing", "files": 0, "bytes": 0, "registered": True})
    assert explain(broken, ctx) == ["Catalog table db.gone (external, parquet).",
                                    "Its location no longer exists: nothing is stored there."]


def test_another_spelling_of_an_hdfs_namenode_is_never_called_unregistered() -> None:
    """hdfs://nameservice1/w and hdfs://nn:8020/w may be the same files (apache/iceberg#4346)."""
    from rotscan.cleanup.safety import Refused
    from rotscan.cleanup.tables import TableGuard

    idx = CatalogIndex([CatalogTable("db.t", "hdfs://nameservice1/warehouse/t", "parquet")])
    assert idx.registered(parse("hdfs://nameservice1/warehouse/t/x")) is True
    assert idx.registered(parse("hdfs://nn:8020/warehouse/t")) is None  # maybe the same table
    assert idx.registered(parse("hdfs://nn:8020/warehouse")) is None  # contains it, maybe
    assert idx.registered(parse("hdfs://nn:8020/landing/x")) is False
    # buckets are not spellings of one another
    s3 = CatalogIndex([CatalogTable("db.t", "s3a://other/warehouse/t")])
    assert s3.registered(parse("s3a://lake/warehouse/t")) is False
    with pytest.raises(Refused, match="another authority"):
        TableGuard(idx, drop_entries=True).check("quarantine", parse("hdfs://nn:8020/warehouse/t"))

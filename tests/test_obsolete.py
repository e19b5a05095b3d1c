"""Obsolete-data rules on inventory + usage statistics (pure Python)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from rotscan.detect.obsolete import ObsoleteRules, RetentionPolicy, detect_obsolete
from rotscan.models import Column, Dataset, DeltaInfo
from rotscan.usage.events import Coverage

NOW = datetime(2026, 11, 26, tzinfo=timezone.utc)
RULES = ObsoleteRules()
SCHEMA = (Column("id", "bigint"), Column("amount", "double"))
COVER_400 = Coverage(start=NOW - timedelta(days=400), end=NOW, storages=frozenset({("file", "")}),
                     kinds=("openlineage",))


@dataclass(frozen=True)
class Stats:
    last_read: datetime | None = None
    last_written: datetime | None = None
    reads_30d: int = 0
    reads_90d: int = 0
    reads_365d: int = 0
    readers: tuple[str, ...] = ()
    writers: tuple[str, ...] = ()
    last_write_by_job: dict[str, datetime] = field(default_factory=dict)


class Graph:
    def __init__(self, edges: list[tuple[str, str]]) -> None:
        self.edges = edges

    def upstream(self, uri: str) -> set[str]:
        return {a for a, b in self.edges if b == uri}

    def downstream(self, uri: str) -> set[str]:
        return {b for a, b in self.edges if a == uri}


def ds(rel: str, age_days: float = 500, **kw: object) -> Dataset:
    base = dict(uri=f"file:/lake/{rel}", format="parquet", layout="part_files", files=1, bytes=1000, rows=10,
                schema=SCHEMA, modified_min=NOW - timedelta(days=age_days), modified_max=NOW - timedelta(days=age_days),
                root="file:/lake")
    base.update(kw)
    return Dataset(**base)  # type: ignore[arg-type]


def kinds(datasets, usage=None, lineage=None, coverage=COVER_400, rules=RULES):  # type: ignore[no-untyped-def]
    return {f.uri.removeprefix("file:/lake/"): f.kind
            for f in detect_obsolete(datasets, usage, lineage, coverage, rules, NOW)}


def test_no_usage_source_means_no_usage_claims() -> None:
    old = ds("warehouse/forgotten", age_days=900)
    assert kinds([old], usage=None, coverage=None) == {}
    assert kinds([old], usage={}, coverage=Coverage(None, None, frozenset())) == {}


def test_unread_needs_coverage_of_the_window_and_of_the_storage() -> None:
    old = ds("warehouse/forgotten", age_days=900)
    assert kinds([old], usage={}) == {"warehouse/forgotten": "unread"}
    short = Coverage(start=NOW - timedelta(days=30), end=NOW, storages=frozenset({("file", "")}))
    assert kinds([old], usage={}, coverage=short) == {}
    other_bucket = Coverage(start=NOW - timedelta(days=400), end=NOW, storages=frozenset({("s3a", "bucket")}))
    assert kinds([old], usage={}, coverage=other_bucket) == {}


def test_old_but_read_reference_data_and_young_data_are_not_obsolete() -> None:
    ref = ds("reference/countries", age_days=2000)
    young = ds("warehouse/new_table", age_days=20)
    usage = {ref.uri: Stats(last_read=NOW - timedelta(days=1), reads_30d=40, readers=("bi",))}
    assert kinds([ref, young], usage=usage) == {}


def test_written_daily_read_rarely_is_healthy() -> None:
    t = ds("warehouse/daily", age_days=700)
    usage = {t.uri: Stats(last_read=NOW - timedelta(days=50), last_written=NOW - timedelta(days=1),
                          reads_90d=1, writers=("etl",), last_write_by_job={"etl": NOW - timedelta(days=1)})}
    assert kinds([t], usage=usage) == {}


def test_producer_stopped_and_orphaned_lineage() -> None:
    staging = ds("staging/customer_sync", age_days=600)
    derived = ds("marts/from_gone", age_days=600)
    usage = {
        staging.uri: Stats(last_written=NOW - timedelta(days=300), writers=("sync_job",),
                           last_write_by_job={"sync_job": NOW - timedelta(days=300)}),
        derived.uri: Stats(last_written=NOW - timedelta(days=200), writers=("mart_job",),
                           last_write_by_job={"mart_job": NOW - timedelta(days=200)}),
    }
    graph = Graph([("file:/lake/raw/deleted_source", derived.uri)])
    assert kinds([staging, derived], usage=usage, lineage=graph) == {
        "staging/customer_sync": "producer_stopped", "marts/from_gone": "orphaned_lineage"}


def test_superseded_versions_and_snapshot_series() -> None:
    v1 = ds("warehouse/orders_v1", age_days=400)
    v2 = ds("warehouse/orders_v2", age_days=10)
    old = ds("warehouse/customers_old", age_days=300)
    cur = ds("warehouse/customers", age_days=5)
    snaps = [ds(f"snapshots/orders_2026_0{m}_01", age_days=300 - 30 * m) for m in range(1, 6)]
    other_schema = ds("warehouse/items_v1", age_days=400, schema=(Column("sku", "string"),))
    items_v2 = ds("warehouse/items_v2", age_days=3)
    got = kinds([v1, v2, old, cur, *snaps, other_schema, items_v2], usage=None, coverage=None)
    assert got == {"warehouse/orders_v1": "superseded", "warehouse/customers_old": "superseded",
                   "snapshots/orders_2026_01_01": "superseded", "snapshots/orders_2026_02_01": "superseded",
                   "snapshots/orders_2026_03_01": "superseded"}
    f = next(f for f in detect_obsolete([v1, v2], None, None, None, RULES, NOW))
    assert f.action == "review" and "reads unknown" in f.explanation
    # still read -> not superseded, whatever its name says
    usage = {v1.uri: Stats(last_read=NOW - timedelta(days=3), reads_30d=2)}
    assert kinds([v1, v2], usage=usage) == {}


def test_expired_by_retention_policy() -> None:
    rules = ObsoleteRules(retention=(RetentionPolicy("landing/**", 90),))
    got = kinds([ds("landing/drop_2024", age_days=200), ds("landing/today", age_days=2),
                 ds("warehouse/old", age_days=900)], usage=None, coverage=None, rules=rules)
    assert got == {"landing/drop_2024": "expired"}


def test_unvacuumed_history() -> None:
    info = DeltaInfo(version=9, last_commit=NOW, last_operation="MERGE", live_files=3, live_bytes=3000,
                     time_travel_files=30, time_travel_bytes=50 << 20, retention_hours=168, num_records=10,
                     vacuumable_files=25, vacuumable_bytes=40 << 20)
    [f] = detect_obsolete([ds("warehouse/t", format="delta", layout="delta", delta=info)], None, None, None, RULES, NOW)
    assert (f.kind, f.action, f.reclaimable_bytes) == ("unvacuumed_history", "vacuum", 40 << 20)


def test_bad_retention_policy_is_a_config_error() -> None:
    import pytest

    from rotscan.config import load_config
    from rotscan.errors import ConfigError

    with pytest.raises(ConfigError, match="glob and max_age_days"):
        ObsoleteRules.from_config(load_config(overrides={"obsolete": {"retention": [{"glob": "x/**"}]}}))
    rules = ObsoleteRules.from_config(load_config(overrides={"obsolete": {"retention": [
        {"glob": "x/**", "max_age_days": 3, "action": "delete"}]}}))
    assert rules.retention == (RetentionPolicy("x/**", 3.0, "delete"),)

"""Cleanup against catalog tables, the rules (pure Python over a real CatalogIndex; the Spark lane
drops and re-creates real Hive tables: tests/spark/test_catalog_hive.py)."""

from __future__ import annotations

import pytest

from rotscan.catalog import CatalogIndex, CatalogTable
from rotscan.cleanup.context import CleanupContext
from rotscan.cleanup.plan import LoadedPlan
from rotscan.cleanup.safety import Refused
from rotscan.cleanup.tables import TableGuard, dropped_by
from rotscan.config import load_config
from rotscan.uri import parse

INDEX = CatalogIndex([
    CatalogTable("sales.orders", "file:/lake/warehouse/orders", "parquet"),
    CatalogTable("sales.copy", "file:/lake/backup/orders", "parquet"),
    CatalogTable("sales.scratch", "file:/lake/wh/sales.db/scratch", "parquet", table_type="MANAGED"),
    CatalogTable("sales.clicks", "file:/lake/warehouse/clicks", "parquet", partition_columns=("day",), partitions=2,
                 partition_locations=("file:/lake/landing/clicks_d3",)),
])


def check(guard: TableGuard, path: str, action: str = "quarantine") -> list[str]:
    return [t.name for t in guard.check(action, parse(path))]


def test_without_the_option_registered_locations_are_refused() -> None:
    g = TableGuard(INDEX)
    with pytest.raises(Refused, match="is the location of catalog table sales.copy; --drop-table-entries"):
        check(g, "file:/lake/backup/orders")
    with pytest.raises(Refused, match=r"contains catalog table\(s\) sales.clicks, sales.orders"):
        check(g, "file:/lake/warehouse")
    with pytest.raises(Refused, match="is the location of catalog table sales.clicks"):
        check(g, "file:/lake/landing/clicks_d3")  # a partition location counts
    assert check(g, "file:/lake/mirror/orders") == []  # unregistered: as usual
    assert check(g, "file:/lake/backup/orders_2") == []  # a name prefix is not inside


def test_inside_a_table_only_what_its_readers_skip() -> None:
    for g in (TableGuard(INDEX), TableGuard(INDEX, drop_entries=True)):
        with pytest.raises(Refused, match="lies inside catalog table sales.orders"):
            check(g, "file:/lake/warehouse/orders/part-00001.parquet")
        with pytest.raises(Refused, match="lies inside catalog table sales.clicks"):
            check(g, "file:/lake/landing/clicks_d3/x.parquet")
        assert check(g, "file:/lake/warehouse/orders/.DS_Store") == []
        assert check(g, "file:/lake/warehouse/orders/_temporary") == []
        assert check(g, "file:/lake/warehouse/orders/day=1/.part-0.crc") == []
        with pytest.raises(Refused, match="lies inside"):
            check(g, "file:/lake/warehouse/orders/_delta_log/00000000000000000000.json")
        assert check(g, "file:/lake/warehouse/orders", "vacuum") == []  # VACUUM keeps the table whole


def test_with_the_option_external_entries_are_dropped_managed_never() -> None:
    g = TableGuard(INDEX, drop_entries=True)
    assert check(g, "file:/lake/backup/orders") == ["sales.copy"]
    assert check(g, "file:/lake/backup") == ["sales.copy"]
    assert check(g, "file:/lake/warehouse") == ["sales.clicks", "sales.orders"]
    with pytest.raises(Refused, match="sales.scratch is MANAGED"):
        check(g, "file:/lake/wh/sales.db/scratch")
    with pytest.raises(Refused, match="partition location .* of catalog table sales.clicks"):
        check(g, "file:/lake/landing")
    with pytest.raises(Refused, match="for quarantine and delete actions only, not archive"):
        check(g, "file:/lake/backup/orders", "archive")


def test_apply_fails_closed_without_a_catalog() -> None:
    def plan(catalog: bool) -> LoadedPlan:
        scan = {"id": "s", "catalog": True} if catalog else {"id": "s"}
        return LoadedPlan(header={"plan_id": "p", "scan": scan, "roots": ["file:/lake"]}, roots=("file:/lake",),
                          actions=(), doc={})

    ctx = CleanupContext(config=load_config())
    with pytest.raises(Refused, match=r"\[catalog\] is not enabled for apply"):
        check(TableGuard.open(ctx, plan(True)), "file:/lake/mirror/orders")
    assert check(TableGuard.open(ctx, plan(False)), "file:/lake/mirror/orders") == []  # no catalog, no Spark
    drop = CleanupContext(config=load_config(overrides={"cleanup": {"drop_table_entries": True}}))
    with pytest.raises(Refused, match=r"needs \[catalog\] enabled"):
        check(TableGuard.open(drop, plan(False)), "file:/lake/mirror/orders")


def test_dropped_tables_are_those_saved_and_not_yet_back() -> None:
    recs = [{"op": "table_saved", "action_id": "a", "table": "sales.copy", "path": "x"},
            {"op": "table_saved", "action_id": "a", "table": "sales.orders", "path": "y"},
            {"op": "table_dropped", "action_id": "a", "table": "sales.copy"},
            {"op": "table_restored", "action_id": "a", "table": "sales.orders"},
            {"op": "table_saved", "action_id": "b", "table": "sales.clicks", "path": "z"}]
    assert [r["table"] for r in dropped_by(recs, "a")] == ["sales.copy"]
    assert [r["table"] for r in dropped_by(recs, "b")] == ["sales.clicks"]  # saved, drop unconfirmed: re-create


def test_cli_drop_table_entries_needs_a_catalog(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`rotscan apply --drop-table-entries` without [catalog]: every action refused, nothing moved."""
    import json

    from click.testing import CliRunner

    from rotscan.cli import main

    from .cleanup_support import build_cleanup_lake, plan_and_load, scan_lake, tree

    lake = tmp_path / "lake"
    build_cleanup_lake(lake, bulk_files=5)
    out = scan_lake(lake, tmp_path / "out")
    plan, _ = plan_and_load(out, tmp_path / "plan.json")
    assert plan.actions
    before = tree(lake)
    env = {"XDG_STATE_HOME": str(tmp_path / "state"), "ROTSCAN_SCAN__PROFILE": "false"}
    res = CliRunner().invoke(main, ["apply", str(tmp_path / "plan.json"), "--execute", "--json",
                                    "--drop-table-entries"], env=env)
    doc = json.loads(res.stdout.strip().splitlines()[-1])
    planned = [a for a in doc["actions"] if a["planned"]]
    assert planned and all(a["status"] == "skipped" and "needs [catalog] enabled" in a["reason"] for a in planned)
    assert tree(lake) == before

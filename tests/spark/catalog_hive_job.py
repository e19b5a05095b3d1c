"""The Hive catalog end to end, in its own process (tests/spark/test_catalog_hive.py runs it).

A Hive-enabled session is fixed when the JVM's SparkContext starts, and the suite's shared ``spark``
fixture has none (making it Hive-capable would give every other test a Derby metastore to start),
so this runs in a child process with rotscan's own session: ``get_spark`` with ``[catalog]`` on.

    python tests/spark/catalog_hive_job.py OUT embedded
    python tests/spark/catalog_hive_job.py OUT thrift PORT

``embedded``: an embedded Derby metastore under OUT; ``thrift``: the metastore service on
127.0.0.1:PORT (tests/spark/hive_metastore/LocalMetastore.java). It builds a lake with real
catalog tables, scans it, and (embedded) cleans it up with and without ``drop_table_entries`` and
restores; everything the test checks is printed as one JSON document on the last stdout line.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any


def _parquet(path: Path, columns: dict[str, list[int]], types: dict[str, Any] | None = None) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    types = types or {}
    pq.write_table(pa.table({k: pa.array(v, type=types.get(k, pa.int64())) for k, v in columns.items()}), path)


def build_lake(spark: Any, lake: Path, elsewhere: Path, full: bool = True) -> dict[str, Any]:
    """Tables of every kind the catalog code meets, and data around them. Files are written with
    pyarrow where Spark is not needed (only the Delta tables are written by delta-spark). Not
    ``full``: the orders, events, clicks, gone and outside tables only."""
    L = str(lake)  # noqa: N806
    ids = list(range(300))
    orders = {"id": ids, "amount": [i * 7 % 101 for i in ids]}
    _parquet(lake / "warehouse" / "orders" / "part-00000.parquet", orders)
    (lake / "warehouse" / "orders" / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1" + b"\x00" * 40)
    spark.sql("CREATE DATABASE sales")
    spark.sql(f"CREATE TABLE sales.orders (id BIGINT, amount BIGINT) USING parquet LOCATION '{L}/warehouse/orders' "
              "TBLPROPERTIES ('team' = 'sales-eng')")
    if full:
        _copies(spark, lake, orders)
    _more_tables(spark, lake, elsewhere, full)
    return {"user": spark.sparkContext.sparkUser()}


def _copies(spark: Any, lake: Path, orders: dict[str, list[int]]) -> None:
    L = str(lake)  # noqa: N806
    ids = orders["id"]
    # unregistered Delta copy: without the catalog its format would make it the copy to keep
    spark.read.parquet(f"{L}/warehouse/orders").write.format("delta").save(f"{L}/mirror/orders")
    # a registered external copy (dropped and restored by cleanup with drop_table_entries)
    _parquet(lake / "backup" / "orders_backup" / "part-00000.parquet", orders)
    spark.sql(f"CREATE TABLE sales.orders_backup (id BIGINT, amount BIGINT) USING parquet "
              f"LOCATION '{L}/backup/orders_backup'")
    # a managed copy in the Hive warehouse (inside the lake): DROP TABLE would delete its data
    spark.sql("CREATE TABLE sales.scratch_copy (id BIGINT, amount BIGINT) USING parquet")
    _parquet(lake / "hive_wh" / "sales.db" / "scratch_copy" / "part-00000.parquet", orders)
    # a drifted snapshot, unregistered: a near duplicate whose confidence the registration raises
    drift = {"id": ids[10:] + list(range(1000, 1010)), "amount": orders["amount"][10:] + [5] * 10}
    _parquet(lake / "snapshots" / "orders_drift" / "part-00000.parquet", drift)


def _more_tables(spark: Any, lake: Path, elsewhere: Path, full: bool) -> None:
    import pyarrow as pa

    L = str(lake)  # noqa: N806
    # Delta table registered by location, with its owner in the Delta log's properties
    spark.range(50).selectExpr("id", "id % 3 AS kind").write.format("delta").save(f"{L}/warehouse/events")
    spark.sql(f"CREATE TABLE sales.events USING delta LOCATION '{L}/warehouse/events'")
    spark.sql("ALTER TABLE sales.events SET TBLPROPERTIES ('team' = 'events-team')")
    # partitioned table, one partition kept outside the table directory (still in the lake), and a
    # registered partitioned copy of what is inside it (restore must add its partitions back)
    int32 = {"id": pa.int32()}
    copies = [("clicks_old", "backup/clicks_old")] if full else []
    for table, where in [("clicks", "warehouse/clicks"), *copies]:
        for day, rows in (("d1", range(0, 240, 2)), ("d2", range(1, 240, 2))):
            _parquet(lake / where / f"day={day}" / "part-00000.parquet", {"id": list(rows)}, int32)
        spark.sql(f"CREATE TABLE sales.{table} (id INT, day STRING) USING parquet PARTITIONED BY (day) "
                  f"LOCATION '{L}/{where}'")
        spark.sql(f"ALTER TABLE sales.{table} ADD PARTITION (day = 'd1') PARTITION (day = 'd2')")
    _parquet(lake / "landing" / "clicks_d3" / "part-00000.parquet", {"id": list(range(1000, 1150))}, int32)
    spark.sql(f"ALTER TABLE sales.clicks ADD PARTITION (day = 'd3') LOCATION '{L}/landing/clicks_d3'")
    if full:
        # CSV table with a zero-byte file inside (a finding inside a table: never quarantined under it)
        (lake / "warehouse" / "customers").mkdir(parents=True)
        (lake / "warehouse" / "customers" / "part-0.csv").write_text(
            "id,name\n" + "".join(f"{i},name{i}\n" for i in range(40)))
        (lake / "warehouse" / "customers" / "part-1.csv").write_bytes(b"")
        spark.sql(f"CREATE TABLE sales.customers (id INT, name STRING) USING csv OPTIONS (header 'true') "
                  f"LOCATION '{L}/warehouse/customers'")
    # broken: a table whose location was deleted, one over an empty directory
    _parquet(lake / "warehouse" / "gone" / "part-00000.parquet", {"id": [1, 2, 3]})
    spark.sql(f"CREATE TABLE sales.gone (id BIGINT) USING parquet LOCATION '{L}/warehouse/gone'")
    shutil.rmtree(lake / "warehouse" / "gone")
    if full:
        (lake / "warehouse" / "empty_dir").mkdir()
        spark.sql(f"CREATE TABLE sales.empty (id BIGINT) USING parquet LOCATION '{L}/warehouse/empty_dir'")
    # outside the scanned roots: not judged
    _parquet(elsewhere / "t" / "part-00000.parquet", {"id": [1, 2, 3]})
    spark.sql(f"CREATE TABLE sales.outside (id BIGINT) USING parquet LOCATION '{elsewhere}/t'")
    spark.sql("CREATE VIEW sales.big_orders AS SELECT * FROM sales.orders WHERE amount > 50")


def lineage(path: Path, lake: Path) -> None:
    """OpenLineage events (spec 2-0-2 shape) whose job declares its owner (ownership job facet)."""
    from rotscan.models import iso, now_utc

    event = {"eventType": "COMPLETE", "eventTime": iso(now_utc()), "producer": "rotscan-test",
             "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
             "run": {"runId": "0191a3f0-0000-7000-8000-000000000001"},
             "job": {"namespace": "analytics", "name": "snapshot_orders",
                     "facets": {"ownership": {"_producer": "rotscan-test",
                                              "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/"
                                                            "OwnershipJobFacet.json",
                                              "owners": [{"name": "team:analytics", "type": "MAINTAINER"}]}}},
             "inputs": [],
             "outputs": [{"namespace": "file", "name": str(lake / "snapshots" / "orders_drift")}]}
    path.write_text(json.dumps(event) + "\n")


def tree(root: Path) -> dict[str, str]:
    """Every data file under ``root`` (rotscan's state aside) with its SHA-256."""
    import hashlib

    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and "_rotscan" not in p.relative_to(root).parts}


def rows(spark: Any, name: str) -> list[list[Any]] | None:
    from rotscan.spark.catalog import get_table

    if get_table(spark, name) is None:
        return None
    return sorted([list(r) for r in spark.sql(f"SELECT * FROM {name}").collect()])


def cleanup(spark: Any, cfg: Any, result: Any, out: Path, lake: Path) -> dict[str, Any]:
    """plan -> dry run -> execute without and with drop_table_entries -> restore."""
    from rotscan.catalog import CatalogSettings
    from rotscan.cleanup.apply import apply_plan
    from rotscan.cleanup.context import CleanupContext
    from rotscan.cleanup.plan import build_plan, read_plan, write_plan
    from rotscan.cleanup.restore import restore_run
    from rotscan.cleanup.safety import SafetyRules
    from rotscan.config import Config
    from rotscan.spark.catalog import get_table
    from rotscan.uri import parse

    def with_cleanup(**kw: Any) -> Config:
        data = {k: dict(v) if isinstance(v, dict) else v for k, v in cfg.data.items()}
        data["cleanup"] = {**data["cleanup"], **kw}
        return Config(data, cfg.source)

    def context(config: Config) -> CleanupContext:
        return CleanupContext(config=config, user="tester", spark_factory=lambda _s3a: spark)

    def report(r: Any) -> dict[str, Any]:
        return {str(a.uri): {"status": a.status, "reason": a.reason} for a in r.planned}

    ctx = context(cfg)
    plan = build_plan(result, ctx.storage, SafetyRules.from_config(cfg), scan_dir=str(out / "scan"))
    write_plan(plan, out / "plan.json")
    loaded = read_plan(out / "plan.json")
    doc: dict[str, Any] = {"planned": {a.uri: {"action": a.action, "tables": a.details.get("tables")}
                                       for a in plan.actions},
                           "plan_catalog": plan.scan.get("catalog")}
    data = {k: dict(v) if isinstance(v, dict) else v for k, v in cfg.data.items()}
    data["catalog"] = {**data["catalog"], "enabled": False}
    doc["no_catalog_dry"] = report(apply_plan(loaded, context(Config(data, cfg.source)), execute=False))
    doc["dry"] = report(apply_plan(loaded, ctx, execute=False))
    before = tree(lake)
    first = apply_plan(loaded, ctx, execute=True)
    doc["first"] = report(first)
    doc["first_gone"] = sorted(set(before) - set(tree(lake)))
    names = ("sales.orders_backup", "sales.clicks_old", "sales.scratch_copy")
    doc["rows_before"] = {n: rows(spark, n) for n in names}
    drop = context(with_cleanup(drop_table_entries=True))
    doc["drop_dry"] = report(apply_plan(loaded, drop, execute=False))
    before = tree(lake)
    second = apply_plan(loaded, drop, execute=True)
    doc["second"] = report(second)
    doc["second_run"] = second.run_id
    doc["after_second"] = {n: get_table(spark, n) is not None for n in names}
    doc["second_gone"] = sorted(set(before) - set(tree(lake)))
    run_dir = lake / "_rotscan" / "runs" / second.run_id
    doc["saved_ddl"] = sorted(p.name for p in (run_dir / "tables").glob("*.json")) if (run_dir / "tables").exists() \
        else []
    doc["quarantined"] = sorted(str(p.relative_to(lake / "_rotscan" / "quarantine" / second.run_id))
                                for p in (lake / "_rotscan" / "quarantine" / second.run_id).rglob("*") if p.is_file())
    doc["journal_ops"] = [json.loads(line)["op"] for line in (run_dir / "journal.jsonl").read_text().splitlines()]
    restored = restore_run(drop, [parse(str(lake))], second.run_id)
    doc["restore"] = {a.uri: {"status": a.status, "reason": a.reason} for a in restored.actions}
    doc["rows_after"] = {n: rows(spark, n) for n in names}
    doc["tree_equal"] = tree(lake) == before
    doc["clicks_old_partitions"] = [r[0] for r in spark.sql("SHOW PARTITIONS sales.clicks_old").collect()] \
        if get_table(spark, "sales.clicks_old") else None
    doc["catalog_enabled"] = CatalogSettings.from_config(cfg).enabled
    return doc


def main() -> None:
    out = Path(sys.argv[1])
    mode = sys.argv[2]
    lake, elsewhere = out / "lake", out / "elsewhere"
    lake.mkdir(parents=True)
    elsewhere.mkdir()
    from rotscan.catalog import CatalogSettings
    from rotscan.config import Config, load_config
    from rotscan.findings_io import write_findings
    from rotscan.scan import ScanContext, run_scan
    from rotscan.spark.session import get_spark

    catalog: dict[str, Any] = {"enabled": True, "conf": {"spark.sql.warehouse.dir": str(lake / "hive_wh")}}
    if mode == "thrift":
        catalog["metastore_uris"] = f"thrift://127.0.0.1:{sys.argv[3]}"
    else:
        catalog["conf"]["spark.hadoop.javax.jdo.option.ConnectionURL"] = (
            f"jdbc:derby:;databaseName={out / 'metastore_db'};create=true")
    base = load_config(overrides={
        "spark": {"master": "local[2]", "shuffle_partitions": 2},
        "catalog": catalog, "owners": {"globs": {"mirror/**": "platform"}}})
    data = {k: dict(v) if isinstance(v, dict) else v for k, v in base.data.items()}
    data["cleanup"] = {**data["cleanup"], "min_age_hours": 0.0}  # the lake was just written
    cfg = Config(data, base.source)
    marks: dict[str, float] = {"start": time.time()}
    spark = get_spark(cfg, env=dict(os.environ))
    marks["session"] = time.time()
    from rotscan.models import ScanWarning
    from rotscan.registration import read_catalog_step

    empty: list[ScanWarning] = []  # the metastore before any table exists
    empty_step = read_catalog_step(CatalogSettings.from_config(cfg), lambda: spark, lambda _: None, empty)
    info = build_lake(spark, lake, elsewhere, full=mode == "embedded")
    marks["lake"] = time.time()
    from rotscan.spark.catalog import read_catalog

    snapshot = read_catalog(spark, CatalogSettings.from_config(cfg))
    marks["catalog"] = time.time()
    doc: dict[str, Any] = {
        "mode": mode, "user": info["user"], "lake": str(lake), "elsewhere": str(elsewhere),
        "catalog": [t.to_dict() for t in snapshot.tables], "complete": snapshot.complete,
        "metastore_db_local": (out / "metastore_db").exists(),
        "empty_catalog": {"read": empty_step.read, "warnings": [w.code for w in empty]},
    }
    if mode == "embedded":
        lineage(out / "ol.jsonl", lake)
        ctx = ScanContext(config=cfg, env=dict(os.environ), spark_factory=lambda _s3a: spark)
        result = run_scan([str(lake)], ctx, usage_paths=[str(out / "ol.jsonl")], exclude=[str(out / "ol.jsonl")])
        write_findings(result, out / "scan")
        marks["scan"] = time.time()
        doc["result"] = result.to_dict()
        doc.update(cleanup(spark, cfg, result, out, lake))
        marks["cleanup"] = time.time()
    doc["marks"] = {k: round(v - marks["start"], 1) for k, v in marks.items()}
    print(json.dumps(doc))


if __name__ == "__main__":
    main()

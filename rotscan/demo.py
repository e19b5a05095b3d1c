"""``rotscan demo-lake DIR``: a small but real lake to try rotscan on without owning one.

Delta tables are written by delta-spark, Parquet/CSV/JSON by Spark and pyarrow, so everything is
what a real pipeline would leave. It holds healthy data (including traps: a small lookup table
outside any scratch area, a legit table beside debris, a one-row config table) and planted ROT of
each kind rotscan detects. ``DIR/_DEMO.md`` lists what was planted and what must stay clean.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from rotscan.config import Config
from rotscan.errors import RotscanError

DAY = 86400.0


@dataclass
class DemoManifest:
    root: Path
    datasets: list[str] = field(default_factory=list)
    # relative path -> kind rotscan must report
    planted: dict[str, str] = field(default_factory=dict)
    # relative paths that must NOT be reported (traps)
    clean: list[str] = field(default_factory=list)
    # found only when the scan is given the demo's usage events (--lineage)
    planted_with_usage: dict[str, str] = field(default_factory=dict)


def _age(path: Path, days: float) -> None:
    """Backdate a file or a whole tree (debris is only called debris once it is old)."""
    t = time.time() - days * DAY
    for p in [path, *path.rglob("*")] if path.is_dir() else [path]:
        os.utime(p, (t, t), follow_symlinks=False)


def build_demo_lake(directory: Path, config: Config, *, env: Mapping[str, str] | None = None,
                    force: bool = False, progress: Callable[[str], None] = lambda _: None,
                    spark: object | None = None) -> DemoManifest:
    root = directory.resolve()
    if root.exists() and any(root.iterdir()):
        if not force:
            raise RotscanError(f"{root} exists and is not empty (use --force to replace it)")
        if not (root / "_DEMO.md").exists():
            raise RotscanError(f"{root} is not a rotscan demo lake; refusing to replace it")
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    m = DemoManifest(root=root)

    if spark is None:
        from rotscan.spark.session import get_spark

        progress("starting Spark to write the Delta tables")
        spark = get_spark(config, env=env or {})
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    assert isinstance(spark, SparkSession)

    def p(rel: str) -> str:
        return str(root / rel)

    progress("writing healthy tables")
    orders = (spark.range(0, 20000)
              .select(F.col("id").alias("order_id"),
                      (F.col("id") % 997).alias("customer_id"),
                      F.round((F.col("id") * 7919 % 100000) / 100.0, 2).alias("amount"),
                      F.element_at(F.array(F.lit("new"), F.lit("paid"), F.lit("shipped")),
                                   (F.col("id") % 3 + 1).cast("int")).alias("status"),
                      F.date_add(F.lit("2025-01-01").cast("date"), (F.col("id") % 365).cast("int")).alias("order_date")))
    orders.write.format("delta").save(p("warehouse/orders"))
    # A second version that rewrites the table: the first version's files stay for time travel.
    orders.repartition(2).write.format("delta").mode("overwrite").save(p("warehouse/orders"))
    m.datasets.append("warehouse/orders")

    customers = spark.range(0, 997).select(
        F.col("id").alias("customer_id"),
        F.concat(F.lit("customer-"), F.col("id").cast("string")).alias("name"),
        F.element_at(F.array(*[F.lit(c) for c in ("DE", "FR", "US", "JP")]), (F.col("id") % 4 + 1).cast("int"))
        .alias("country"))
    customers.write.partitionBy("country").parquet(p("warehouse/customers"))
    m.datasets.append("warehouse/customers")

    # Trap: a small lookup table outside any scratch location is valuable, not trivial.
    (root / "reference").mkdir()
    (root / "reference/status_codes.csv").write_text(
        "code,label\nnew,Order received\npaid,Payment captured\nshipped,Handed to carrier\n"
        "cancelled,Cancelled by customer\n", encoding="utf-8")
    m.clean.append("reference/status_codes.csv")
    # Trap: a one-row configuration table is constant by nature, and not ROT.
    (root / "reference/settings.json").write_text('{"currency": "EUR", "vat": 0.19}\n', encoding="utf-8")
    m.clean.append("reference/settings.json")

    # A folder of unrelated exports: each file is its own dataset.
    (root / "exports").mkdir()
    for month in ("2025-01", "2025-02", "2025-03"):
        rows = [f"{i},{month}-15,{(i * 37) % 500}.00" for i in range(1, 41)]
        (root / f"exports/orders_{month}.csv").write_text("order_id,order_date,amount\n" + "\n".join(rows) + "\n",
                                                          encoding="utf-8")
        m.clean.append(f"exports/orders_{month}.csv")
    (root / "exports/events.jsonl").write_text(
        "".join(json.dumps({"event": e, "n": i}) + "\n" for i, e in enumerate(["click", "view", "buy"] * 20)),
        encoding="utf-8")
    m.clean.append("exports/events.jsonl")

    progress("planting trivial ROT")
    # empty Delta table (created, never filled)
    spark.createDataFrame([], "id BIGINT, payload STRING").write.format("delta").save(p("warehouse/empty_events"))
    m.planted["warehouse/empty_events"] = "empty"
    # header-only CSV export
    (root / "exports/refunds_2025-03.csv").write_text("refund_id,order_id,amount\n", encoding="utf-8")
    m.planted["exports/refunds_2025-03.csv"] = "empty"
    # zero-byte file
    (root / "exports/orders_2025-04.csv").write_bytes(b"")
    m.planted["exports/orders_2025-04.csv"] = "zero_byte"
    # a table whose every column is constant
    spark.range(0, 5000).select(F.lit("EUR").alias("currency"), F.lit(1).alias("version"),
                                F.lit(None).cast("string").alias("comment")) \
        .coalesce(1).write.parquet(p("warehouse/fx_flags"))
    m.planted["warehouse/fx_flags"] = "constant"
    # debris of a failed write beside a legit table (a daily aggregate: its own data, not a copy),
    # and a table dir holding only debris
    orders.groupBy("order_date").agg(F.count(F.lit(1)).alias("orders"), F.sum("amount").alias("revenue")) \
        .coalesce(1).write.parquet(p("warehouse/orders_daily"))
    m.datasets.append("warehouse/orders_daily")
    m.clean.append("warehouse/orders_daily")
    attempt = root / "warehouse/orders_daily/_temporary/0/_temporary/attempt_202501010000_0001_m_000000_0"
    attempt.mkdir(parents=True)
    shutil.copy(next((root / "warehouse/orders_daily").glob("part-*.parquet")), attempt / "part-00000.snappy.parquet")
    _age(root / "warehouse/orders_daily/_temporary", 40)
    m.planted["warehouse/orders_daily/_temporary"] = "write_debris"
    staging = root / "staging/customer_sync/.spark-staging-8f1c2a"
    staging.mkdir(parents=True)
    shutil.copy(next((root / "warehouse/orders_daily").glob("part-*.parquet")), staging / "part-00000.parquet")
    _age(root / "staging/customer_sync", 90)
    m.planted["staging/customer_sync"] = "write_debris"
    # OS / editor junk and an orphan checksum
    (root / "exports/.DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1" + b"\x00" * 1000)
    m.planted["exports/.DS_Store"] = "junk_file"
    (root / "exports/._orders_2025-01.csv").write_bytes(b"\x00\x05\x16\x07" + b"\x00" * 200)
    m.planted["exports/._orders_2025-01.csv"] = "junk_file"
    (root / "reference/Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0" + b"\x00" * 500)
    m.planted["reference/Thumbs.db"] = "junk_file"
    nb = root / "notebooks/.ipynb_checkpoints"
    nb.mkdir(parents=True)
    (nb / "analysis-checkpoint.ipynb").write_text('{"cells": []}', encoding="utf-8")
    m.planted["notebooks/.ipynb_checkpoints"] = "junk_file"
    (root / "warehouse/customers/.part-00000-gone.snappy.parquet.crc").write_bytes(b"crc\x00\x00\x00\x00")
    m.planted["warehouse/customers/.part-00000-gone.snappy.parquet.crc"] = "junk_file"
    # tiny tables in scratch locations
    orders.limit(12).coalesce(1).write.parquet(p("tmp/order_sample"))
    m.planted["tmp/order_sample"] = "tiny"
    (root / "sandbox").mkdir()
    (root / "sandbox/test_customers.csv").write_text("customer_id,name\n1,a\n2,b\n", encoding="utf-8")
    m.planted["sandbox/test_customers.csv"] = "tiny"

    progress("planting redundant copies")
    # a Parquet backup of the Delta table, re-partitioned and in another row order
    orders.orderBy(F.rand(3)).repartition(3).write.parquet(p("backup/orders_2025_bak"))
    m.planted["backup/orders_2025_bak"] = "exact_duplicate"
    # a CSV export of the same table
    orders.coalesce(1).write.option("header", True).csv(p("exports/orders_full_csv"))
    m.planted["exports/orders_full_csv"] = "exact_duplicate"
    # a snapshot that drifted a little (2% of the rows changed since)
    orders.withColumn("status", F.when(F.col("order_id") % 50 == 0, F.lit("cancelled")).otherwise(F.col("status"))) \
        .write.parquet(p("snapshots/orders_2025_06_30"))
    m.planted["snapshots/orders_2025_06_30"] = "near_duplicate"
    # a one-month extract
    orders.filter("order_date < date'2025-02-01'").write.parquet(p("extracts/orders_january"))
    m.planted["extracts/orders_january"] = "subset"
    # a mart that copies two columns of the customer dimension
    customers.select("customer_id", "name").write.parquet(p("marts/customer_names"))
    m.planted["marts/customer_names"] = "projection"
    # trap: same schema as orders, different rows (another year)
    orders.withColumn("order_date", F.add_months("order_date", 12)).withColumn("order_id", F.col("order_id") + 100000) \
        .write.format("delta").save(p("warehouse/orders_2026"))
    m.clean.append("warehouse/orders_2026")
    # trap: shares a key column with orders but is not a copy
    spark.range(0, 60000).select(F.col("id").alias("line_id"), (F.col("id") % 20000).alias("order_id"),
                                 (F.col("id") % 7 + 1).alias("quantity")).write.parquet(p("warehouse/order_lines"))
    m.clean.append("warehouse/order_lines")

    progress("planting obsolete data and a year of lineage events")
    _plant_obsolete(spark, root, m)

    lines = ["# rotscan demo lake", "", "Written by `rotscan demo-lake`. Planted ROT (path: kind):", ""]
    lines += [f"- `{rel}`: {kind}" for rel, kind in sorted(m.planted.items())]
    lines += ["", "Planted ROT found with the usage events only (path: kind):", ""]
    lines += [f"- `{rel}`: {kind}" for rel, kind in sorted(m.planted_with_usage.items())]
    lines += ["", "Must stay clean (traps):", ""] + [f"- `{rel}`" for rel in sorted(m.clean)]
    lines += ["", "The obsolete items are found only with the usage events (synthetic OpenLineage RunEvents",
              "over 400 days, in the format the openlineage-spark listener writes):", "",
              f"    rotscan scan {root} --out reports/demo --lineage {root}/_usage/openlineage.jsonl"]
    (root / "_DEMO.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (root / "_demo_manifest.json").write_text(json.dumps({"planted": m.planted, "planted_with_usage": m.planted_with_usage,
                                                          "clean": m.clean}, indent=2),
                                              encoding="utf-8")
    return m


def _plant_obsolete(spark: object, root: Path, m: DemoManifest) -> None:
    """Old Parquet tables plus 400 days of OpenLineage RunEvents (in ``_usage/``, which the crawler
    skips) that make some of them obsolete and keep the others healthy."""
    import uuid
    from datetime import datetime, timedelta, timezone

    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    assert isinstance(spark, SparkSession)
    now = datetime.now(tz=timezone.utc).replace(microsecond=0)

    def table(rel: str, rows: int, age_days: float, seed: int) -> str:
        spark.range(0, rows).select(
            F.col("id").alias("id"), (F.col("id") * seed % 9973).alias("value"),
            F.concat(F.lit(f"r{seed}-"), F.col("id").cast("string")).alias("label")) \
            .coalesce(1).write.parquet(str(root / rel))
        _age(root / rel, age_days)
        return str(root / rel)

    countries = table("reference/countries", 250, 1100, 3)
    crm = table("staging/crm_export", 3000, 300, 5)
    v1 = table("warehouse/products_v1", 2000, 400, 7)
    v2 = table("warehouse/products_v2", 2100, 130, 11)
    report = table("marts/report_2024", 1500, 200, 13)
    table("warehouse/legacy_customers", 4000, 700, 17)
    m.planted["warehouse/products_v1"] = "superseded"  # by its name alone (for review) or with usage
    m.planted_with_usage.update({"staging/crm_export": "producer_stopped", "marts/report_2024": "orphaned_lineage",
                                 "warehouse/legacy_customers": "unread"})
    m.clean += ["reference/countries", "warehouse/products_v2"]

    def event(when: datetime, job: str, inputs: list[str], outputs: list[str]) -> str:
        return json.dumps({
            "eventType": "COMPLETE", "eventTime": when.isoformat().replace("+00:00", "Z"),
            "producer": "https://github.com/OpenLineage/OpenLineage/tree/1.53.0/integration/spark",
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
            "run": {"runId": str(uuid.uuid4())}, "job": {"namespace": "demo", "name": job},
            "inputs": [{"namespace": "file", "name": p} for p in inputs],
            "outputs": [{"namespace": "file", "name": p} for p in outputs]})

    lines = []
    for day in range(400, 0, -1):
        when = now - timedelta(days=day, hours=-2)
        lines.append(event(when, "bi.dashboard_refresh", [countries, v2 if day < 120 else v1], []))
        if day > 300:
            lines.append(event(when, "crm.nightly_sync", [], [crm]))
        if 200 <= day <= 260:
            lines.append(event(when, "finance.report_build", [str(root / "raw/ledger_2024")], [report]))
    (root / "_usage").mkdir()
    (root / "_usage/openlineage.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")

"""End to end on real Delta tables written by delta-spark, through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from rotscan.cli import main
from rotscan.crawl.delta_log import read_snapshot
from rotscan.storage.local import LocalStorage
from rotscan.uri import parse

from ..lakes import CLEAN, build_trivial_lake

pytestmark = pytest.mark.spark


def write_delta_tables(spark, root: Path) -> dict[str, str]:  # type: ignore[no-untyped-def]
    from pyspark.sql import functions as F

    planted: dict[str, str] = {}
    orders = spark.range(0, 3000).select(F.col("id").alias("order_id"), (F.col("id") % 7).alias("shop"),
                                         (F.col("id") * 3.5).alias("amount"))
    orders.write.format("delta").partitionBy("shop").save(str(root / "warehouse/orders_delta"))
    orders.repartition(3).write.format("delta").mode("overwrite").partitionBy("shop") \
        .save(str(root / "warehouse/orders_delta"))

    spark.createDataFrame([], "id BIGINT, v STRING").write.format("delta").save(str(root / "warehouse/never_filled"))
    planted["warehouse/never_filled"] = "empty"

    spark.range(0, 100).write.format("delta").save(str(root / "warehouse/purged"))
    spark.sql(f"DELETE FROM delta.`{root / 'warehouse/purged'}` WHERE id >= 0")
    planted["warehouse/purged"] = "empty"

    for i in range(12):  # a checkpoint is written at version 10
        spark.range(i * 10, i * 10 + 10).write.format("delta").mode("append").save(str(root / "warehouse/appended"))

    spark.range(0, 500).select(F.lit("EUR").alias("currency"), F.lit(None).cast("int").alias("note")) \
        .coalesce(1).write.parquet(str(root / "warehouse/constant_flags"))
    planted["warehouse/constant_flags"] = "constant"

    (root / "landing").mkdir()
    (root / "landing/clicks.jsonl").write_text('{"user": 1, "page": "a"}\n{"user": 2, "page": "b"}\nnot json\n'
                                               '{"user": 3, "page": "c"}\n')
    return planted


@pytest.fixture(scope="module")
def scanned(spark, tmp_path_factory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("lake")
    planted = build_trivial_lake(root)
    planted.update(write_delta_tables(spark, root))
    out = tmp_path_factory.mktemp("out")
    result = CliRunner().invoke(main, ["scan", str(root), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    return root, planted, json.loads((out / "findings.json").read_text()), out


def test_every_trivial_item_is_found_and_nothing_else(scanned) -> None:  # type: ignore[no-untyped-def]
    root, planted, doc, _ = scanned
    base = parse(str(root))
    got = {parse(f["uri"]).relative_to(base): f["kind"] for f in doc["findings"]}
    assert got == planted
    for clean in [*CLEAN, "warehouse/orders_delta", "warehouse/appended", "landing/clicks.jsonl"]:
        assert clean not in got


def test_findings_json_follows_the_contract(scanned) -> None:  # type: ignore[no-untyped-def]
    _, _, doc, out = scanned
    assert doc["version"] == 1
    assert set(doc["scan"]) >= {"id", "started", "finished", "as_of", "roots", "tool_version", "usage_sources"}
    for d in doc["datasets"]:
        assert set(d) >= {"uri", "format", "files", "bytes", "rows", "modified", "last_read", "last_written"}
        assert d["uri"].startswith("file:/")
        assert d["last_read"] is None and d["last_written"] is None  # no usage source: unknown, not guessed
    for f in doc["findings"]:
        assert f["category"] in ("redundant", "obsolete", "trivial")
        assert f["action"] in ("delete", "quarantine", "vacuum", "compact", "archive", "review")
        assert 0 <= f["confidence"] <= 1 and f["reclaimable_bytes"] >= 0
        assert f["explanation"] and isinstance(f["related"], list) and isinstance(f["evidence"], dict)
    for w in doc["warnings"]:
        assert set(w) >= {"uri", "message"}
    assert (out / "report.html").stat().st_size > 0


def test_inventory_of_real_delta_tables(scanned, spark) -> None:  # type: ignore[no-untyped-def]
    root, _, doc, _ = scanned
    by_rel = {parse(d["uri"]).relative_to(parse(str(root))): d for d in doc["datasets"]}
    orders = by_rel["warehouse/orders_delta"]
    assert (orders["format"], orders["rows"], orders["rows_source"]) == ("delta", 3000, "delta_stats")
    assert orders["delta"]["version"] == 1
    assert orders["delta"]["last_operation"] == "WRITE"
    assert orders["delta"]["time_travel_bytes"] > 0 and orders["delta"]["time_travel_files"] > 0
    assert orders["partition_columns"] == ["shop"]
    pq_orders = by_rel["warehouse/orders"]  # the healthy files of a table beside a corrupt one are profiled
    assert (pq_orders["rows"], pq_orders["rows_source"]) == (600, "footer")
    assert not [w for w in doc["warnings"] if w["code"] == "unreadable"]
    appended = by_rel["warehouse/appended"]
    assert (appended["rows"], appended["delta"]["version"]) == (120, 11)
    clicks = by_rel["landing/clicks.jsonl"]
    assert clicks["rows"] == 3
    assert any(w["code"] == "malformed" and w["uri"].endswith("clicks.jsonl") for w in doc["warnings"])
    assert by_rel["exports/header_only.csv"]["rows"] == 0


@pytest.mark.parametrize("table", ["warehouse/orders_delta", "warehouse/appended", "warehouse/purged"])
def test_delta_log_reader_agrees_with_delta_spark(scanned, spark, table) -> None:  # type: ignore[no-untyped-def]
    root, _, _, _ = scanned
    path = root / table
    snap = read_snapshot(LocalStorage(), parse(str(path)))
    df = spark.read.format("delta").load(str(path))
    assert {str(parse(p)) for p in df.inputFiles()} == snap.live_paths
    assert snap.num_records == df.count()
    history = spark.sql(f"DESCRIBE HISTORY delta.`{path}`").orderBy("version", ascending=False).first()
    assert snap.version == history["version"]
    assert snap.last_operation == history["operation"]


def test_report_rerenders_without_spark(scanned, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _, _, _, out = scanned
    before = (out / "report.html").read_text()
    (out / "report.html").unlink()
    result = CliRunner().invoke(main, ["report", str(out)])
    assert result.exit_code == 0, result.output
    after = (out / "report.html").read_text()
    assert after == before

"""Copies across formats, found by content, on real tables written by Spark and delta-spark."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rotscan.cli import main
from rotscan.spark.profile import profile
from rotscan.uri import parse

pytestmark = pytest.mark.spark


def build_copies_lake(spark, root: Path) -> dict[str, tuple[str, str]]:  # type: ignore[no-untyped-def]
    """Planted copies (path -> (kind, keeper)) and traps that must stay clean."""
    from pyspark.sql import functions as F

    p = lambda rel: str(root / rel)  # noqa: E731
    orders = spark.range(0, 6000).select(
        F.col("id").alias("order_id"), (F.col("id") % 400).alias("customer_id"),
        F.round(F.col("id") * 1.37 % 900, 2).alias("amount"),
        F.expr("timestamp_millis(1735689600000 + id * 60000)").alias("created_at"),
        F.expr("date_add(date'2025-01-01', cast(id % 90 as int))").alias("order_date"),
        F.element_at(F.array(F.lit("new"), F.lit("paid"), F.lit("shipped")), (F.col("id") % 3 + 1).cast("int"))
        .alias("status"))
    orders.write.format("delta").save(p("warehouse/orders"))
    # copies: re-partitioned Parquet with shuffled rows, a CSV export, a JSON dump
    orders.orderBy(F.rand(7)).repartition(4, "status").write.partitionBy("status").parquet(p("backup/orders_parquet"))
    orders.coalesce(1).write.option("header", True).csv(p("exports/orders_csv"))
    orders.select(*reversed(orders.columns)).write.json(p("tmp/orders_json"))
    planted = {"backup/orders_parquet": ("exact_duplicate", "warehouse/orders"),
               "exports/orders_csv": ("exact_duplicate", "warehouse/orders"),
               "tmp/orders_json": ("exact_duplicate", "warehouse/orders")}

    # a snapshot that drifted: 97% of rows the same
    orders.filter("order_id >= 180").union(
        orders.filter("order_id < 180").withColumn("amount", F.col("amount") + 1)) \
        .write.parquet(p("snapshots/orders_2025_03_01"))
    planted["snapshots/orders_2025_03_01"] = ("near_duplicate", "warehouse/orders")
    # a one-month extract
    orders.filter("order_date < date'2025-02-01'").write.parquet(p("extracts/orders_january"))
    planted["extracts/orders_january"] = ("subset", "warehouse/orders")
    # a small hand-picked sample exported as CSV: a subset under min_rows (review, low confidence),
    # and a trap beside it: the same schema, as few rows, none of them the table's
    orders.filter("order_id in (5, 77, 901, 1500, 2222, 3001, 4444, 5999)").coalesce(1) \
        .write.option("header", True).csv(p("exports/orders_sample"))
    planted["exports/orders_sample"] = ("subset", "warehouse/orders")
    orders.filter("order_id < 8").withColumn("amount", F.col("amount") + 1000).coalesce(1) \
        .write.option("header", True).csv(p("exports/orders_made_up"))

    customers = spark.range(0, 400).select(
        F.col("id").alias("customer_id"), F.concat(F.lit("Customer "), F.col("id")).alias("name"),
        F.element_at(F.array(*[F.lit(c) for c in ("DE", "FR", "US")]), (F.col("id") % 3 + 1).cast("int"))
        .alias("country"), (F.col("id") % 5).alias("segment"), F.lit("2025-01-01").alias("since"))
    customers.write.format("delta").save(p("warehouse/customers"))
    customers.select("customer_id", "name", "country").write.parquet(p("mart/customer_names"))
    planted["mart/customer_names"] = ("projection", "warehouse/customers")

    # traps: same schema, different rows; a foreign key; a small lookup whose values appear elsewhere
    sales = lambda year: spark.range(0, 3000).select(  # noqa: E731
        F.col("id").alias("sale_id"), F.lit(year).alias("year"), (F.col("id") * 3 % 101).alias("qty"))
    sales(2023).write.parquet(p("warehouse/sales_2023"))
    sales(2024).write.parquet(p("warehouse/sales_2024"))
    spark.range(0, 18000).select(F.col("id").alias("line_id"), (F.col("id") % 6000).alias("order_id"),
                                 (F.col("id") % 13).alias("qty")).write.parquet(p("warehouse/order_lines"))
    (root / "reference").mkdir()
    (root / "reference/statuses.csv").write_text("status\nnew\npaid\nshipped\n")
    spark.range(0, 400).select(F.col("id").alias("customer_id")).write.parquet(p("warehouse/customer_keys"))
    return planted


@pytest.fixture(scope="module")
def copies(spark, tmp_path_factory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("copies")
    planted = build_copies_lake(spark, root)
    out = tmp_path_factory.mktemp("copies_out")
    result = CliRunner().invoke(main, ["scan", str(root), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    from rotscan.redundancy.signature import read_signatures

    doc = json.loads((out / "findings.json").read_text())
    stored = read_signatures(str(out / "signatures.parquet"))
    assert {d["uri"] for d in doc["datasets"] if d["rows"]} <= set(stored)
    return root, planted, doc


def test_every_copy_with_the_right_kind_and_keeper(copies) -> None:  # type: ignore[no-untyped-def]
    root, planted, doc = copies
    base = parse(str(root))
    rel = lambda u: parse(u).relative_to(base)  # noqa: E731
    got = {rel(f["uri"]): (f["kind"], rel(f["related"][0])) for f in doc["findings"] if f["category"] == "redundant"}
    assert got == planted


def test_evidence_is_stated(copies) -> None:  # type: ignore[no-untyped-def]
    _, _, doc = copies
    for f in doc["findings"]:
        if f["category"] != "redundant":
            continue
        assert 0 <= f["evidence"]["jaccard"] <= 1 and 0 <= f["evidence"]["containment"] <= 1
        assert "keep" in f["explanation"] or f["kind"] in ("subset", "projection")
    csv = next(f for f in doc["findings"] if f["uri"].endswith("exports/orders_csv"))
    assert "6,000 rows" in csv["explanation"] and csv["action"] == "quarantine"
    january = next(f for f in doc["findings"] if f["uri"].endswith("extracts/orders_january"))
    assert january["evidence"]["exact"] is True and january["action"] == "quarantine"
    sample = next(f for f in doc["findings"] if f["uri"].endswith("exports/orders_sample"))
    assert (sample["action"], sample["confidence"], sample["evidence"]["small_subset"]) == ("review", 0.6, True)
    assert sample["evidence"]["exact"] is True and sample["evidence"].get("missing_rows", 0) == 0


def test_nothing_else_is_called_redundant(copies) -> None:  # type: ignore[no-untyped-def]
    _, planted, doc = copies
    flagged = {f["uri"] for f in doc["findings"] if f["category"] == "redundant"}
    for clean in ("warehouse/sales_2023", "warehouse/sales_2024", "warehouse/order_lines", "reference/statuses.csv",
                  "warehouse/customer_keys", "exports/orders_made_up", "warehouse/orders", "warehouse/customers"):
        assert not any(u.endswith(clean) for u in flagged), clean


@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.tuples(st.integers(-5, 5), st.sampled_from(["a", "b", "é", ""])), min_size=1, max_size=40),
       st.integers(1, 4))
def test_signature_invariant_to_row_order_and_file_split(spark, tmp_path_factory, rows, parts) -> None:  # type: ignore[no-untyped-def]
    from pyspark.sql import functions as F

    d = tmp_path_factory.mktemp("prop")
    df = spark.createDataFrame(rows, "n INT, s STRING")
    df.coalesce(1).write.parquet(str(d / "one"))
    df.orderBy(F.rand()).repartition(parts).write.parquet(str(d / "many"))
    a = profile(spark, "parquet", [str(d / "one")]).signature
    b = profile(spark, "parquet", [str(d / "many")]).signature
    assert a is not None and b is not None
    assert a.checksum == b.checksum and a.sample == b.sample and a.mins == b.mins

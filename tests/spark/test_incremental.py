"""Incremental scans on real tables: a rescan of an unchanged lake runs no Spark at all, and after a
change only the changed datasets are profiled again — with findings equal to a fresh full scan."""

from __future__ import annotations

import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from rotscan.config import load_config
from rotscan.models import ScanResult
from rotscan.runtime import Runtime
from rotscan.scan import run_scan
from rotscan.state import read_state
from rotscan.storage.local import LocalStorage
from rotscan.uri import parse
from tests.spark.test_redundancy_e2e import build_copies_lake
from tests.spark.test_s3a import ACCESS_KEY, BUCKET, SECRET_KEY, child_env, s3, write_config  # noqa: F401 (s3: fixture)

pytestmark = pytest.mark.spark

AS_OF = datetime(2026, 6, 1, tzinfo=timezone.utc)


def _no_spark(need_s3a: bool) -> Any:
    raise AssertionError("a SparkSession was requested, but everything should come from the scan state")


def scan(root: Path, spark: Any, state: Path | None, *, spark_allowed: bool = True) -> ScanResult:
    overrides = {"spark": {"master": "local[2]", "shuffle_partitions": 2}}
    if state is not None:
        overrides["scan"] = {"state": str(state)}  # type: ignore[dict-item]
    ctx = Runtime(config=load_config(overrides=overrides), env={},
                      spark_factory=(lambda _: spark) if spark_allowed else _no_spark)
    return run_scan([str(root)], ctx, as_of=AS_OF)


def same_outcome(a: ScanResult, b: ScanResult) -> None:
    assert [f.to_dict() for f in a.findings] == [f.to_dict() for f in b.findings]
    assert [d.to_dict() for d in a.datasets] == [d.to_dict() for d in b.datasets]
    assert [w.to_dict() for w in a.warnings] == [w.to_dict() for w in b.warnings]
    assert a.signatures == b.signatures


def test_rescan_reuses_unchanged_and_reprofiles_only_changes(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from pyspark.sql import functions as F

    root = tmp_path / "lake"
    build_copies_lake(spark, root)
    state = tmp_path / "state"

    first = scan(root, spark, state)
    inc = first.scan.incremental
    assert inc is not None and inc["reused"] == 0 and inc["profiled"] >= 12
    assert inc["pairwise_computed"] >= 2  # the projection and the exact subset check
    kinds = {f.kind for f in first.findings}
    assert {"exact_duplicate", "near_duplicate", "subset", "projection"} <= kinds
    assert (state / "scan-state.parquet").exists()

    # unchanged lake: every profile and pairwise check comes from the state; no SparkSession at all
    again = scan(root, spark, state, spark_allowed=False)
    inc2 = again.scan.incremental
    assert inc2 is not None
    assert (inc2["reused"], inc2["profiled"], inc2["pairwise_computed"]) == (inc["profiled"], 0, 0)
    assert inc2["pairwise_reused"] == inc["pairwise_computed"]
    same_outcome(first, again)

    # a new Delta commit (rows appended to the table a projection was taken from)
    spark.range(400, 410).select(
        F.col("id").alias("customer_id"), F.concat(F.lit("Customer "), F.col("id")).alias("name"),
        F.lit("DE").alias("country"), (F.col("id") % 5).alias("segment"), F.lit("2025-01-01").alias("since"),
    ).write.format("delta").mode("append").save(str(root / "warehouse/customers"))
    after_commit = scan(root, spark, state, spark_allowed=True)
    inc3 = after_commit.scan.incremental
    assert inc3 is not None and (inc3["reused"], inc3["profiled"]) == (inc["profiled"] - 1, 1)
    customers = next(d for d in after_commit.datasets if d.uri.endswith("warehouse/customers"))
    assert customers.rows == 410
    same_outcome(after_commit, scan(root, spark, None))

    # a Parquet file overwritten with other rows, a row appended to a CSV file, a dataset deleted
    sales = sorted((root / "warehouse/sales_2023").glob("part-*.parquet"))[0]
    t = pq.read_table(sales)
    i = t.schema.get_field_index("qty")
    pq.write_table(t.set_column(i, "qty", pc.add(t.column("qty"), 1)), sales)
    with open(root / "reference/statuses.csv", "a") as fh:
        fh.write("returned\n")
    shutil.rmtree(root / "tmp/orders_json")
    after_files = scan(root, spark, state, spark_allowed=True)
    inc4 = after_files.scan.incremental
    assert inc4 is not None and (inc4["reused"], inc4["profiled"]) == (inc["profiled"] - 3, 2)
    full = scan(root, spark, None)
    same_outcome(after_files, full)
    assert full.scan.incremental is None
    stored = read_state(LocalStorage(), parse(str(state)))
    assert stored is not None and len(stored.profiles) == inc["profiled"] - 1
    assert not any(u.endswith("tmp/orders_json") for u in stored.profiles)  # gone from the lake, gone from the state


def test_state_on_s3a(s3, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """The state lives on an object store (moto's S3 on 127.0.0.1), written and read through the
    Hadoop storage; the second scan of the unchanged s3a:// lake reuses every profile."""
    import json
    import subprocess
    import sys

    import boto3

    config = write_config(tmp_path / "rotscan.toml", s3, keys_in_config=False)
    state = f"s3a://{BUCKET}/rotscan-state/lake"
    docs = []
    for i in range(2):
        out = tmp_path / f"out{i}"
        cmd = [sys.executable, "-m", "rotscan", "scan", f"s3a://{BUCKET}/lake", "--out", str(out),
               "--config", str(config), "--state", state]
        done = subprocess.run(cmd, env=child_env(tmp_path, with_keys=True), cwd=tmp_path, capture_output=True,
                              text=True, timeout=900, check=False)
        assert done.returncode == 0, done.stdout + done.stderr[-5000:]
        docs.append(json.loads((out / "findings.json").read_text()))
    first, second = (d["scan"]["incremental"] for d in docs)
    assert first["state"] == state and first["reused"] == 0 and first["profiled"] >= 3
    assert (second["reused"], second["profiled"]) == (first["profiled"], 0)
    assert docs[0]["findings"] == docs[1]["findings"]
    assert not [w for d in docs for w in d["warnings"] if w["code"].startswith("state_")]
    client = boto3.client("s3", endpoint_url=s3.endpoint, region_name="us-east-1",
                          aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=BUCKET, Prefix="rotscan-state/")["Contents"]]
    assert keys == ["rotscan-state/lake/scan-state.parquet"]  # one object, no temporary left behind

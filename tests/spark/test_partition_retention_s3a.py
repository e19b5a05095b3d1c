"""Partition retention through s3a against moto's S3 server (127.0.0.1): a Hive-partitioned Parquet
directory and a partitioned Delta table in a bucket — scan, plan, dry run (nothing changes),
execute (Hive partitions copied to quarantine, verified, deleted; Delta DELETE + VACUUM at the
table's retention), restore (the objects byte for byte; the Delta table at its old content) — in a
subprocess, because the shared Spark session has no s3a jars."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.spark

REPO = Path(__file__).resolve().parents[2]

SCRIPT = r'''
import hashlib, io, json, os, socket, sys, time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from moto.server import ThreadedMotoServer
import boto3
import pyarrow as pa, pyarrow.parquet as pq

with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
server.start()
endpoint = f"http://127.0.0.1:{port}"
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                  aws_secret_access_key="testing")
s3.create_bucket(Bucket="lake")
today = datetime.now(tz=timezone.utc).date()
old = [str(today - timedelta(days=d)) for d in (300, 150)]
new = [str(today - timedelta(days=d)) for d in (5, 0)]
for i, day in enumerate(old + new):
    buf = io.BytesIO()
    pq.write_table(pa.table({"id": list(range(i * 10, i * 10 + 10))}), buf)
    s3.put_object(Bucket="lake", Key=f"lake/events/clicks/dt={day}/part-00000.parquet", Body=buf.getvalue())

def listing(prefix):
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket="lake", Prefix=prefix):
        for o in page.get("Contents", []):
            if not o["Key"].endswith("/"):
                out[o["Key"]] = hashlib.sha256(s3.get_object(Bucket="lake", Key=o["Key"])["Body"].read()).hexdigest()
    return out

from rotscan.config import Config, load_config
from rotscan.findings_io import write_findings
from rotscan.runtime import Runtime
from rotscan.scan import run_scan
from rotscan.cleanup.apply import apply_plan
from rotscan.cleanup.context import CleanupContext
from rotscan.cleanup.plan import build_plan, write_plan, read_plan
from rotscan.cleanup.restore import restore_run
from rotscan.cleanup.safety import SafetyRules
from rotscan.uri import parse

conf = {"spark.hadoop.fs.s3a.endpoint": endpoint, "spark.hadoop.fs.s3a.path.style.access": "true",
        "spark.hadoop.fs.s3a.connection.ssl.enabled": "false", "spark.hadoop.fs.s3a.endpoint.region": "us-east-1",
        "spark.hadoop.fs.s3a.access.key": "testing", "spark.hadoop.fs.s3a.secret.key": "testing",
        "spark.hadoop.fs.s3a.aws.credentials.provider": "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"}
cfg = load_config(overrides={"spark": {"master": "local[1]", "shuffle_partitions": 1, "conf": conf},
                             "scan": {"profile": False}, "cleanup": {"min_age_hours": 0.0},
                             "obsolete": {"retention": [{"glob": "events/**", "max_age_days": 90,
                                                         "partition_column": "dt"},
                                                        {"glob": "warehouse/**", "max_age_days": 90,
                                                         "partition_column": "dt"}]}})
out = Path(sys.argv[1])
rt = Runtime(config=cfg, env=dict(os.environ))
spark = rt.spark(need_s3a=True)
table = "s3a://lake/lake/warehouse/orders"
spark.createDataFrame([(i, (old + new)[i % 4]) for i in range(200)], "id long, dt string").write.format("delta") \
    .partitionBy("dt").save(table)
def rows():
    return sorted(tuple(r) for r in spark.read.format("delta").load(table).collect())
rows_before = rows()
time.sleep(1.1)
result = run_scan(["s3a://lake/lake"], rt)
write_findings(result, out / "scan")
time.sleep(1.1)
ctx = CleanupContext(config=cfg, user="tester", spark_factory=lambda need: spark)
plan = build_plan(result, ctx.storage, SafetyRules.from_config(cfg), scan_dir=str(out / "scan"))
write_plan(plan, out / "plan.json")
hive_before = listing("lake/events/")
dry = apply_plan(read_plan(out / "plan.json"), ctx, execute=False)
unchanged = listing("lake/events/") == hive_before and rows() == rows_before
done = apply_plan(read_plan(out / "plan.json"), ctx, execute=True)
hive_after = listing("lake/events/")
quarantined = sorted(listing(f"lake/_rotscan/quarantine/{done.run_id}/"))
rows_after = rows()
restored = restore_run(ctx, [parse("s3a://lake/lake")], done.run_id)
print(json.dumps({
    "findings": sorted((f.kind, f.uri) for f in result.findings),
    "planned": sorted((a.action, a.details.get("mode"), a.rel) for a in plan.actions),
    "not_planned": [r["reason"] for r in plan.not_planned],
    "dry": [[a.status, a.reason] for a in dry.planned], "unchanged": unchanged,
    "done": [[a.status, a.reason] for a in done.planned],
    "hive_after": sorted(hive_after), "hive_restored": listing("lake/events/") == hive_before,
    "quarantined": quarantined,
    "rows_after_ok": rows_after == [r for r in rows_before if r[1] in new],
    "restored": [[a.status, a.reason] for a in restored.actions], "rows_restored": rows() == rows_before,
    "old": old, "new": new,
}))
server.stop()
'''


def test_partition_retention_through_s3a_against_moto(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], cwd=REPO, capture_output=True, text=True,
                          timeout=900, env={**os.environ, "AWS_ACCESS_KEY_ID": "testing",
                                            "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"})
    assert proc.returncode == 0, proc.stderr[-4000:]
    doc = json.loads(proc.stdout.strip().splitlines()[-1])
    assert doc["findings"] == [["expired_partitions", "s3a://lake/lake/events/clicks"],
                               ["expired_partitions", "s3a://lake/lake/warehouse/orders"]], doc
    assert doc["planned"] == [["drop_partitions", "delta", "warehouse/orders"],
                              ["drop_partitions", "hive", "events/clicks"]], doc["not_planned"]
    assert [s for s, _ in doc["dry"]] == ["done", "done"] and doc["unchanged"], doc["dry"]
    assert [s for s, _ in doc["done"]] == ["done", "done"], doc["done"]
    assert doc["hive_after"] == [f"lake/events/clicks/dt={d}/part-00000.parquet" for d in doc["new"]]
    assert [k.split("/quarantine/", 1)[1].split("/", 1)[1] for k in doc["quarantined"]] == \
        [f"events/clicks/dt={d}/part-00000.parquet" for d in doc["old"]]
    assert doc["rows_after_ok"]
    assert [s for s, _ in doc["restored"]] == ["done", "done"], doc["restored"]
    assert doc["hive_restored"] and doc["rows_restored"]

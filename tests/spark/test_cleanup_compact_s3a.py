"""``compact`` through s3a against moto's S3 server (127.0.0.1): a Hive-partitioned Parquet directory
of 80 small objects and a Delta table of 70 small files in a bucket — scan (small_files), plan, dry
run (nothing changes), execute (Parquet rewritten under _rotscan/staging, the row multiset checked,
the originals quarantined; Delta OPTIMIZE), restore (the original objects byte for byte, the
compacted ones gone; Delta RESTORE to the version before) — checked with boto3 against the server and
by reading the rows with Spark. In a subprocess: the shared Spark session has no s3a jars."""

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
for region, offset in (("eu", 0), ("us", 10000)):
    for i in range(40):
        buf = io.BytesIO()
        ids = list(range(offset + i * 10, offset + i * 10 + 10))
        pq.write_table(pa.table({"id": ids, "name": [f"n{x}" for x in ids]}), buf)
        s3.put_object(Bucket="lake", Key=f"lake/events/clicks/region={region}/part-{i:05d}.parquet", Body=buf.getvalue())

def listing(prefix):
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket="lake", Prefix=prefix):
        for o in page.get("Contents", []):
            if not o["Key"].endswith("/"):
                out[o["Key"]] = hashlib.sha256(s3.get_object(Bucket="lake", Key=o["Key"])["Body"].read()).hexdigest()
    return out

from rotscan.config import load_config
from rotscan.crawl.delta_log import read_snapshot
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
cfg = load_config(overrides={"spark": {"master": "local[2]", "shuffle_partitions": 2, "conf": conf},
                             "scan": {"profile": False}, "cleanup": {"min_age_hours": 0.0}})
out = Path(sys.argv[1])
rt = Runtime(config=cfg, env=dict(os.environ))
spark = rt.spark(need_s3a=True)
table = "s3a://lake/lake/warehouse/events"
spark.range(0, 700).selectExpr("id", "cast(id % 7 as string) as k").repartition(70).write.format("delta").save(table)
clicks = "s3a://lake/lake/events/clicks"

def rows():
    a = sorted(tuple(r) for r in spark.read.option("basePath", clicks).parquet(clicks).select("id", "name", "region").collect())
    b = sorted(tuple(r) for r in spark.read.format("delta").load(table).collect())
    return a, b

storage = rt.storage(parse(table))
version = lambda: read_snapshot(storage, parse(table)).version
rows_before = rows()
time.sleep(1.1)
result = run_scan(["s3a://lake/lake"], rt)
write_findings(result, out / "scan")
time.sleep(1.1)
ctx = CleanupContext(config=cfg, user="tester", spark_factory=lambda need: spark)
plan = build_plan(result, ctx.storage, SafetyRules.from_config(cfg), scan_dir=str(out / "scan"))
write_plan(plan, out / "plan.json")
clicks_before, delta_before = listing("lake/events/"), listing("lake/warehouse/")
dry = apply_plan(read_plan(out / "plan.json"), ctx, execute=False)
unchanged = listing("lake/events/") == clicks_before and listing("lake/warehouse/") == delta_before and version() == 0
done = apply_plan(read_plan(out / "plan.json"), ctx, execute=True)
clicks_after = listing("lake/events/")
rows_after, version_after = rows(), version()
restored = restore_run(ctx, [parse("s3a://lake/lake")], done.run_id)
delta_restored = listing("lake/warehouse/")
print(json.dumps({
    "findings": sorted((f.kind, f.uri) for f in result.findings),
    "planned": sorted((a.action, a.details.get("mode"), a.rel) for a in plan.actions),
    "not_planned": plan.not_planned,
    "dry": [[a.status, a.reason] for a in dry.planned], "unchanged": unchanged,
    "done": sorted([a.uri, a.status, a.reason] for a in done.planned),
    "clicks_before": len(clicks_before), "clicks_after": sorted(clicks_after),
    "rows_same_after": rows_after == rows_before, "version_after": version_after,
    "restored": [[a.status, a.reason] for a in restored.actions],
    "clicks_restored": listing("lake/events/") == clicks_before,
    "delta_files_kept": set(delta_before) <= set(delta_restored),
    "rows_same_restored": rows() == rows_before, "version_restored": version(),
    "quarantine_left": sorted(listing(f"lake/_rotscan/quarantine/{done.run_id}/")),
}, default=str))
server.stop()
'''


def test_compact_through_s3a_parquet_and_delta_and_restore(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYSPARK_GATEWAY", "PYSPARK_SUBMIT"))}
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=900, env=env)
    assert proc.returncode == 0, proc.stderr[-6000:]
    doc = json.loads(proc.stdout.strip().splitlines()[-1])
    assert [(a, r) for a, _, r in doc["planned"]] == [("compact", "events/clicks"), ("compact", "warehouse/events")], \
        (doc["findings"], doc["not_planned"])
    assert doc["unchanged"] and all(s == "done" for s, _ in doc["dry"]), doc["dry"]
    assert all(s == "done" for _, s, _ in doc["done"]), doc["done"]
    # Parquet: 80 small objects became a few, the same rows; Delta: OPTIMIZE committed version 1
    assert doc["clicks_before"] == 80 and 0 < len(doc["clicks_after"]) <= 4, doc["clicks_after"]
    assert all("/region=" in k for k in doc["clicks_after"])
    assert doc["rows_same_after"] and doc["version_after"] == 1
    # restore: the very objects back, the compacted ones gone; Delta RESTORE (version 2), same rows
    assert all(s == "done" for s, _ in doc["restored"]), doc["restored"]
    assert doc["clicks_restored"] and doc["rows_same_restored"] and doc["version_restored"] == 2
    assert doc["delta_files_kept"]

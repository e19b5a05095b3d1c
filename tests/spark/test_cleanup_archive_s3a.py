"""``archive`` through s3a against moto's S3 server (127.0.0.1), in a colder storage class: a
retention policy whose action is archive, plan, dry run (nothing changes), execute (every object
copied to the archive bucket in GLACIER_IR, verified, the source deleted; the result says the monthly
cost saved), restore (every object back byte for byte, in the class it had, the archive copies
gone) — checked with boto3 against the server itself. In a subprocess: the shared Spark session has
no s3a jars."""

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
for b in ("lake", "lake-archive"):
    s3.create_bucket(Bucket=b)

def parquet(key, ids):
    buf = io.BytesIO()
    pq.write_table(pa.table({"id": ids, "v": [i * 3 for i in ids]}), buf)
    s3.put_object(Bucket="lake", Key=key, Body=buf.getvalue())

parquet("lake/raw/events_2019/part-00000.parquet", list(range(0, 5000)))
parquet("lake/raw/events_2019/part-00001.parquet", list(range(5000, 9000)))
parquet("lake/raw/clicks_2019/part-00000.parquet", list(range(100000, 103000)))
parquet("lake/warehouse/orders/part-00000.parquet", list(range(200000, 204000)))

def listing(bucket, prefix=""):
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for o in page.get("Contents", []):
            if not o["Key"].endswith("/"):
                body = s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
                klass = s3.head_object(Bucket=bucket, Key=o["Key"]).get("StorageClass", "STANDARD")
                out[o["Key"]] = [hashlib.sha256(body).hexdigest(), klass]
    return out

from rotscan.config import load_config
from rotscan.findings_io import write_findings
from rotscan.runtime import Runtime
from rotscan.scan import run_scan
from rotscan.cleanup.apply import apply_plan
from rotscan.cleanup.archive import ArchiveSettings
from rotscan.cleanup.context import CleanupContext
from rotscan.cleanup.plan import build_plan, write_plan, read_plan
from rotscan.cleanup.restore import restore_run
from rotscan.cleanup.safety import SafetyRules
from rotscan.uri import parse

conf = {"spark.hadoop.fs.s3a.endpoint": endpoint, "spark.hadoop.fs.s3a.path.style.access": "true",
        "spark.hadoop.fs.s3a.connection.ssl.enabled": "false", "spark.hadoop.fs.s3a.endpoint.region": "us-east-1",
        "spark.hadoop.fs.s3a.access.key": "testing", "spark.hadoop.fs.s3a.secret.key": "testing",
        "spark.hadoop.fs.s3a.aws.credentials.provider": "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"}
cfg = load_config(overrides={
    "spark": {"master": "local[1]", "shuffle_partitions": 1, "conf": conf},
    "scan": {"profile": False},
    "cleanup": {"min_age_hours": 0.0,
                "archive": {"s3a://lake/lake/raw": {"target": "s3a://lake-archive/raw", "storage_class": "glacier_ir"}}},
    "obsolete": {"retention": [{"glob": "raw/**", "max_age_days": 0, "action": "archive"}]}})
out = Path(sys.argv[1])
rt = Runtime(config=cfg, env=dict(os.environ))
spark = rt.spark(need_s3a=True)
time.sleep(1.1)
result = run_scan(["s3a://lake/lake"], rt)
write_findings(result, out / "scan")
time.sleep(1.1)
ctx = CleanupContext(config=cfg, user="tester", spark_factory=lambda need: spark)
plan = build_plan(result, ctx.storage, SafetyRules.from_config(cfg), scan_dir=str(out / "scan"),
                  archive=ArchiveSettings.from_config(cfg))
write_plan(plan, out / "plan.json")
lake_before, archive_before = listing("lake", "lake/raw/"), listing("lake-archive")
dry = apply_plan(read_plan(out / "plan.json"), ctx, execute=False)
unchanged = listing("lake", "lake/raw/") == lake_before and listing("lake-archive") == archive_before
done = apply_plan(read_plan(out / "plan.json"), ctx, execute=True)
lake_after, archived = listing("lake", "lake/raw/"), listing("lake-archive")
restored = restore_run(ctx, [parse("s3a://lake/lake")], done.run_id)
print(json.dumps({
    "findings": sorted((f.kind, f.action, f.uri) for f in result.findings),
    "planned": sorted((a.action, a.rel) for a in plan.actions), "not_planned": plan.not_planned,
    "dry": [[a.status, a.reason] for a in dry.planned], "unchanged": unchanged,
    "done": [[a.status, a.reason, a.details] for a in done.planned],
    "lake_before": lake_before, "lake_after": lake_after, "archived": archived,
    "restored": [[a.status, a.reason] for a in restored.actions],
    "lake_restored": listing("lake", "lake/raw/"), "archive_restored": listing("lake-archive"),
    "warehouse": listing("lake", "lake/warehouse/"),
}, default=str))
server.stop()
'''


def test_archive_through_s3a_into_a_colder_class_and_back(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYSPARK_GATEWAY", "PYSPARK_SUBMIT"))}
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=900, env=env)
    assert proc.returncode == 0, proc.stderr[-6000:]
    doc = json.loads(proc.stdout.strip().splitlines()[-1])
    assert doc["planned"] == [["archive", "raw/clicks_2019"], ["archive", "raw/events_2019"]], doc["not_planned"]
    assert doc["unchanged"] and all(s == "done" for s, _ in doc["dry"]), doc["dry"]
    assert [s for s, _, _ in doc["done"]] == ["done", "done"], doc["done"]
    # moved: gone from the lake, in the archive bucket byte for byte and in GLACIER_IR
    assert doc["lake_after"] == {}
    before = doc["lake_before"]
    assert len(before) == 3 and all(k == "STANDARD" for _, k in before.values())
    expect = {key.replace("lake/raw/", "raw/", 1): [sha, "GLACIER_IR"] for key, (sha, _) in before.items()}
    assert doc["archived"] == expect
    # reported with the monthly cost it saves, not as bytes deleted
    details = [d for _, _, d in doc["done"]]
    assert all(d and d.get("target_class") == "glacier_ir" and (d.get("monthly_cost_saved") or 0) > 0 and d["source_class"] == "standard" for d in details), details
    # restore: every object back, in its old class, the archive copies gone; the rest untouched
    assert [s for s, _ in doc["restored"]] == ["done", "done"], doc["restored"]
    assert doc["lake_restored"] == before and doc["archive_restored"] == {}
    assert len(doc["warehouse"]) == 1

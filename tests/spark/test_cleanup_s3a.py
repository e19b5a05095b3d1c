"""The object-store path for real: a lake in S3 (moto's server on 127.0.0.1) read and cleaned
through s3a — scan, plan, dry run, execute (copy, verify, delete; journal objects), restore — in a
subprocess, because the shared Spark session has no s3a jars."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.spark

REPO = Path(__file__).resolve().parents[2]

SCRIPT = r'''
import hashlib, json, os, socket, sys
from moto.server import ThreadedMotoServer
import boto3

with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
server.start()
endpoint = f"http://127.0.0.1:{port}"
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                  aws_secret_access_key="testing")
s3.create_bucket(Bucket="lake")
objects = {
    "lake/exports/.DS_Store": b"\x00\x00\x00\x01Bud1" + b"\x00" * 40,
    "lake/exports/Thumbs.db": b"\xd0\xcf\x11\xe0" + b"\x00" * 40,
    "lake/exports/blank.csv": b"",
    "lake/exports/report.csv": b"a,b\n" + b"1,2\n" * 50,
    "lake/reference/codes.csv": b"code,label\n200,OK\n",
}
for i in range(12):
    objects[f"lake/tmp/scratch_dump/part-{i:05d}.csv"] = b"a,b\n" + f"{i},{i * 3}\n".encode() * (i + 1)
for key, body in objects.items():
    s3.put_object(Bucket="lake", Key=key, Body=body)

def listing():
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket="lake"):
        for o in page.get("Contents", []):
            body = s3.get_object(Bucket="lake", Key=o["Key"])["Body"].read()
            out[o["Key"]] = hashlib.sha256(body).hexdigest()
    return out

def data_only(listing):
    # S3A keeps directory marker objects ("prefix/"); they hold no data
    return {k: v for k, v in listing.items() if not k.startswith("lake/_rotscan/") and not k.endswith("/")}

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
base = load_config(overrides={"spark": {"master": "local[1]", "shuffle_partitions": 1, "conf": conf},
                              "scan": {"profile": False}})
data = {k: dict(v) if isinstance(v, dict) else v for k, v in base.data.items()}
data["cleanup"] = {**data["cleanup"], "min_age_hours": 0.0}  # objects were just uploaded
cfg = Config(data, base.source)
out = sys.argv[1]
scan_ctx = Runtime(config=cfg, env=dict(os.environ))
result = run_scan(["s3://lake/lake"], scan_ctx)  # an s3:// spelling: canonicalised to s3a
write_findings(result, __import__("pathlib").Path(out))
import time; time.sleep(1.1)
ctx = CleanupContext(config=cfg, user="tester", spark_factory=lambda need: scan_ctx.spark(need_s3a=True))
plan = build_plan(result, ctx.storage, SafetyRules.from_config(cfg))
write_plan(plan, __import__("pathlib").Path(out) / "plan.json")
# a review decision on the object store: one object per `decide` call, read back by the next plan
from rotscan.decisions import DecisionSet, DecisionSettings, Request, apply_decisions, build_records, read_decisions, record
from rotscan.models import now_utc
recs = build_records(result, DecisionSet(), [Request("keep", "exports/Thumbs.db", "kept on s3")], by="tester",
                     now=now_utc())
record(recs, ctx.storage, DecisionSettings(), user="tester")
decided = apply_decisions(result, read_decisions([parse("s3a://lake/lake")], ctx.storage))
plan_kept = build_plan(result, ctx.storage, SafetyRules.from_config(cfg), decisions=decided)
before = listing()
dry = apply_plan(read_plan(__import__("pathlib").Path(out) / "plan.json"), ctx, execute=False)
after_dry = listing()
done = apply_plan(read_plan(__import__("pathlib").Path(out) / "plan.json"), ctx, execute=True)
after_exec = listing()
restored = restore_run(ctx, [parse("s3a://lake/lake")], done.run_id)
after_restore = listing()
print(json.dumps({
    "roots": list(result.scan.roots),
    "planned": sorted(a.rel for a in plan.actions),
    "not_planned": [r["reason"] for r in plan.not_planned],
    "dry": {a.uri: [a.status, a.reason] for a in dry.planned}, "dry_unchanged": after_dry == before,
    "done": [a.to_dict() for a in done.planned], "run_id": done.run_id,
    "after_exec": sorted(after_exec), "restored_ok": restored.ok,
    "restored_equal": data_only(after_restore) == data_only(before),
    "markers": sorted(set(after_restore) - set(before)),
    "state": sorted(k for k in after_restore if k.startswith("lake/_rotscan/")),
    "kept_planned": sorted(a.rel for a in plan_kept.actions),
    "kept_reasons": {r["uri"]: r["reason"] for r in plan_kept.not_planned},
    "kept_findings": sorted(f.uri for f in decided.findings if f.kept),
}))
server.stop()
'''


def test_cleanup_through_s3a_against_moto(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], cwd=REPO, capture_output=True, text=True,
                          timeout=900, env={**__import__("os").environ, "AWS_ACCESS_KEY_ID": "testing",
                                            "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"})
    assert proc.returncode == 0, proc.stderr[-4000:]
    doc = json.loads(proc.stdout.strip().splitlines()[-1])
    assert doc["roots"] == ["s3a://lake/lake"]
    assert {"exports/.DS_Store", "exports/Thumbs.db", "exports/blank.csv", "tmp/scratch_dump"} <= set(doc["planned"]), doc
    # the keep was recorded after plan.json was written: apply re-reads the keeps and leaves that file alone
    thumbs = "s3a://lake/lake/exports/Thumbs.db"
    assert doc["dry"][thumbs][0] == "skipped" and "kept" in doc["dry"][thumbs][1], doc["dry"]
    assert {s for u, (s, _) in doc["dry"].items() if u != thumbs} == {"done"} and doc["dry_unchanged"], doc["dry"]
    assert len(doc["done"]) == len(doc["dry"])
    assert all(a["status"] == ("skipped" if a["uri"] == thumbs else "done") for a in doc["done"]), doc["done"]
    assert "lake/exports/Thumbs.db" in doc["after_exec"]
    assert not any(k.startswith("lake/tmp/scratch_dump/") for k in doc["after_exec"])
    q = f"lake/_rotscan/quarantine/{doc['run_id']}/"
    moved = [k for k in doc["after_exec"] if k.startswith(q + "tmp/scratch_dump/") and not k.endswith("/")]
    assert len(moved) == 12  # (directory marker objects aside)
    assert doc["restored_ok"] and doc["restored_equal"], doc["markers"]
    assert any(k.startswith(f"lake/_rotscan/runs/{doc['run_id']}/journal/") for k in doc["state"])
    assert any(k.startswith("lake/_rotscan/audit/") for k in doc["state"])
    # the keep decision: written as one object under _rotscan/decisions/, read back, honoured by the plan
    assert len([k for k in doc["state"] if k.startswith("lake/_rotscan/decisions/") and not k.endswith("/")]) == 1
    assert doc["kept_findings"] == ["s3a://lake/lake/exports/Thumbs.db"]
    assert "exports/Thumbs.db" not in doc["kept_planned"] and "exports/.DS_Store" in doc["kept_planned"]
    assert doc["kept_reasons"]["s3a://lake/lake/exports/Thumbs.db"] == "kept by tester: kept on s3"

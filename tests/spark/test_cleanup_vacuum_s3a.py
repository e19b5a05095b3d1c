"""``vacuum`` through s3a against moto's S3 server (127.0.0.1): real Delta tables written by
delta-spark into a bucket — scan (``unvacuumed_history``), plan (``vacuum``), dry run (every object
and its bytes unchanged), execute with ``vacuum_mode = "quarantine"`` (exactly the objects ``VACUUM
… DRY RUN`` lists are moved to the run's quarantine, the tables read the same rows), restore (those
objects back byte for byte), then ``vacuum_mode = "delta"`` (VACUUM deletes them; the journal and the
audit record which). Checked with boto3 against the server itself. In a subprocess: the shared Spark
session has no s3a jars.

Two tables:

- ``warehouse/events``, retention 1 hour: its first version's files were removed by an overwrite a
  moment ago (their tombstones are younger than the retention, so VACUUM keeps them however old the
  objects look), next to two objects of failed writes the log never named: one two days old (VACUUM
  lists it) and one just written (it does not). S3 cannot set an object's time, so the two-day age
  is given in moto's own store — what a real bucket shows after two days.
- ``warehouse/history``, retention 0 hours: every file an overwrite removed is past its retention,
  with nothing faked.
"""

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
import hashlib, json, logging, os, socket, sys, time
from datetime import timedelta
from pathlib import Path
from moto.core import DEFAULT_ACCOUNT_ID
from moto.s3.models import s3_backends
from moto.server import ThreadedMotoServer
import boto3

T0 = time.time()
def tick(what):
    print(f"[{time.time() - T0:6.1f}s] {what}", file=sys.stderr, flush=True)

logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
server.start()
endpoint = f"http://127.0.0.1:{port}"
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                  aws_secret_access_key="testing")
s3.create_bucket(Bucket="lake")

def listing(prefix="lake/"):
    """key -> [size, SHA-256] of every object under prefix, S3A's directory markers included."""
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket="lake", Prefix=prefix):
        for o in page.get("Contents", []):
            body = s3.get_object(Bucket="lake", Key=o["Key"])["Body"].read()
            out[o["Key"]] = [len(body), hashlib.sha256(body).hexdigest()]
    return out

def data_only(objects):
    return {k: v for k, v in objects.items() if not k.startswith("lake/_rotscan/") and not k.endswith("/")}

def age_object(key, days):
    """What the bucket shows `days` later: the object's LastModified (S3 has no call to set it)."""
    obj = s3_backends[DEFAULT_ACCOUNT_ID]["aws"].buckets["lake"].keys.get(key)
    obj.last_modified = obj.last_modified - timedelta(days=days)

from rotscan.config import load_config
from rotscan.crawl.delta_log import read_snapshot
from rotscan.findings_io import write_findings
from rotscan.runtime import Runtime
from rotscan.scan import run_scan
from rotscan.cleanup.apply import apply_plan
from rotscan.cleanup.audit import read_audit
from rotscan.cleanup.context import CleanupContext
from rotscan.cleanup.journal import RunLayout, read_journal
from rotscan.cleanup.plan import build_plan, write_plan, read_plan
from rotscan.cleanup.restore import restore_run
from rotscan.cleanup.safety import SafetyRules
from rotscan.uri import parse

conf = {"spark.hadoop.fs.s3a.endpoint": endpoint, "spark.hadoop.fs.s3a.path.style.access": "true",
        "spark.hadoop.fs.s3a.connection.ssl.enabled": "false", "spark.hadoop.fs.s3a.endpoint.region": "us-east-1",
        "spark.hadoop.fs.s3a.access.key": "testing", "spark.hadoop.fs.s3a.secret.key": "testing",
        "spark.hadoop.fs.s3a.aws.credentials.provider": "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"}
overrides = {"spark": {"master": "local[2]", "shuffle_partitions": 2, "conf": conf}, "scan": {"profile": False},
             "obsolete": {"unvacuumed_min_bytes": 1}, "cleanup": {"min_age_hours": 0.0}}
cfg = load_config(overrides=overrides)
cfg_delta = load_config(overrides={**overrides, "cleanup": {"min_age_hours": 0.0, "vacuum_mode": "delta"}})
out = Path(sys.argv[1])
rt = Runtime(config=cfg, env=dict(os.environ))
spark = rt.spark(need_s3a=True)
tick("spark session")
root = "s3a://lake/lake"
events, history = f"{root}/warehouse/events", f"{root}/warehouse/history"
for table, retention, n in ((events, "interval 1 hours", 3), (history, "interval 0 hours", 4)):
    spark.range(0, 600).selectExpr("id", "id * 7 as v").repartition(n).write.format("delta").save(table)
    spark.sql(f"ALTER TABLE delta.`{table}` SET TBLPROPERTIES ('delta.deletedFileRetentionDuration' = '{retention}')")
    spark.range(1000, 1400).selectExpr("id", "id * 7 as v").repartition(2).write.format("delta").mode("overwrite").save(table)
# the first version's files of events: removed a moment ago, old objects
removed_events = sorted(k for k in data_only(listing("lake/warehouse/events/"))
                        if "/_delta_log/" not in k and not read_snapshot(rt.storage(parse(events)), parse(events)).live_paths & {"s3a://lake/" + k})
for key in removed_events:
    age_object(key, 2)
# objects of failed writes the log never named: one two days old, one just written
s3.put_object(Bucket="lake", Key="lake/warehouse/events/part-00099-orphan.snappy.parquet", Body=os.urandom(4096))
age_object("lake/warehouse/events/part-00099-orphan.snappy.parquet", 2)
s3.put_object(Bucket="lake", Key="lake/warehouse/events/part-00098-young.snappy.parquet", Body=os.urandom(2048))
tick("tables written")

def rows(table):
    return sorted(tuple(r) for r in spark.read.format("delta").load(table).collect())

def vacuum_lists(table):
    """What VACUUM at the table's own retention would delete, as bucket keys (asked of Delta directly)."""
    hours = {events: 1, history: 0}[table]
    # a few listing tasks, as rotscan sets while VACUUM runs (Delta's default of 10,000 takes minutes here)
    spark.conf.set("spark.sql.sources.parallelPartitionDiscovery.parallelism", "8")
    found = spark.sql(f"VACUUM delta.`{table}` RETAIN {hours} HOURS DRY RUN").collect()
    return sorted(str(r[0])[len("s3a://lake/"):] for r in found)

version = lambda t: read_snapshot(rt.storage(parse(t)), parse(t)).version
rows_before = {t: rows(t) for t in (events, history)}
time.sleep(1.1)
result = run_scan([root], rt)
write_findings(result, out / "scan")
tick("scanned")
time.sleep(1.1)
ctx = CleanupContext(config=cfg, user="tester", spark_factory=lambda need: spark)
plan = build_plan(result, ctx.storage, SafetyRules.from_config(cfg), scan_dir=str(out / "scan"))
write_plan(plan, out / "plan.json")

listed = {t: vacuum_lists(t) for t in (events, history)}
tick("VACUUM DRY RUN asked")
before = listing()
dry = apply_plan(read_plan(out / "plan.json"), ctx, execute=False)
after_dry = listing()
tick("dry run")
done = apply_plan(read_plan(out / "plan.json"), ctx, execute=True)
after_exec = listing()
tick("executed")
rows_after = {t: rows(t) == rows_before[t] for t in (events, history)}
q = f"lake/_rotscan/quarantine/{done.run_id}/"
restored = restore_run(ctx, [parse(root)], done.run_id)
after_restore = listing()
tick("restored")
rows_restored = {t: rows(t) == rows_before[t] for t in (events, history)}
orphan_age = time.time() - s3.head_object(Bucket="lake", Key="lake/warehouse/events/part-00099-orphan.snappy.parquet")["LastModified"].timestamp()

# vacuum_mode = "delta": the restored objects are new again on S3 (restore cannot keep their time):
# give them their two days back, then let Delta's VACUUM delete what it lists
for key in listed[events]:
    age_object(key, 2)
listed_delta = {t: vacuum_lists(t) for t in (events, history)}
ctx_delta = CleanupContext(config=cfg_delta, user="tester", spark_factory=lambda need: spark)
before_delta = listing()
vac = apply_plan(read_plan(out / "plan.json"), ctx_delta, execute=True)
after_delta = listing()
tick("vacuum_mode delta")
storage = ctx.storage(parse(root))
journal = read_journal(storage, RunLayout(parse(root), vac.run_id))
audit = [r for r in read_audit(storage, parse(root)) if r.get("run_id") == vac.run_id and r["event"] == "vacuum"]
print(json.dumps({
    "findings": sorted((f.kind, f.action, f.uri) for f in result.findings),
    "planned": sorted((a.action, a.rel) for a in plan.actions), "not_planned": plan.not_planned,
    "removed_events": removed_events, "listed": listed, "versions": [version(events), version(history)],
    "dry": [[a.uri, a.status, a.reason, a.files] for a in dry.planned], "dry_unchanged": after_dry == before,
    "done": [[a.uri, a.status, a.reason, a.files, a.bytes] for a in done.planned],
    "before": before, "after_exec": after_exec, "quarantine": q,
    "rows_after": rows_after,
    "restored": [[a.status, a.reason] for a in restored.actions],
    "restored_equal": data_only(after_restore) == data_only(before), "rows_restored": rows_restored,
    "orphan_age": orphan_age,
    "listed_delta": listed_delta, "before_delta": before_delta, "after_delta": after_delta,
    "vac": [[a.uri, a.status, a.reason, a.files, a.bytes] for a in vac.planned],
    "journal_deleted": {r["action_id"]: [f[0] for f in r["files"]] for r in journal if r["op"] == "vacuum_deleted"},
    "action_ids": {a.uri: a.id for a in vac.planned},
    "audit": [[r["uri"], r.get("deleted"), r["bytes"]] for r in audit],
    "rows_delta": {t: rows(t) == rows_before[t] for t in (events, history)},
}, default=str))
server.stop()
'''


def test_vacuum_through_s3a_quarantine_restore_and_delta_mode(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYSPARK_GATEWAY", "PYSPARK_SUBMIT"))}
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=900, env=env)
    assert proc.returncode == 0, proc.stderr[-6000:]
    doc = json.loads(proc.stdout.strip().splitlines()[-1])
    (tmp_path / "result.json").write_text(json.dumps(doc, indent=1))
    events, history = "s3a://lake/lake/warehouse/events", "s3a://lake/lake/warehouse/history"
    # the scan sees both tables' history past the retention; the plan vacuums both, nothing else there
    found = {(k, u) for k, _, u in doc["findings"]}
    assert {("unvacuumed_history", events), ("unvacuumed_history", history)} <= found, doc["findings"]
    assert doc["planned"] == [["vacuum", "warehouse/events"], ["vacuum", "warehouse/history"]], doc["not_planned"]
    assert doc["versions"] == [2, 2]

    # what Delta itself lists: events only the two-day-old orphan (the removed files' tombstones are
    # younger than its 1-hour retention, the young orphan too), history every file the overwrite removed
    listed = doc["listed"]
    assert listed[events] == ["lake/warehouse/events/part-00099-orphan.snappy.parquet"], listed
    assert len(doc["removed_events"]) == 3
    assert len(listed[history]) == 4 and all("/_delta_log/" not in k for k in listed[history]), listed
    expected = sorted(listed[events] + listed[history])

    # dry run: everything listed, nothing changed (every object, its size and bytes)
    dry = {u: (s, r, n) for u, s, r, n in doc["dry"]}
    assert dry[events][0] == "done" and dry[events][2] == 1 and "VACUUM DRY RUN" in dry[events][1], dry
    assert dry[history][0] == "done" and dry[history][2] == 4, dry
    assert doc["dry_unchanged"]

    # execute, quarantine: exactly the listed objects left the tables, whole, into the run's quarantine
    before, after = doc["before"], doc["after_exec"]
    assert all(s == "done" for _, s, _, _, _ in doc["done"]), doc["done"]
    gone = sorted(k for k in set(before) - set(after) if not k.endswith("/"))
    assert gone == expected
    q = doc["quarantine"]
    moved = {k[len(q):]: v for k, v in after.items() if k.startswith(q) and not k.endswith("/")}
    assert moved == {k[len("lake/"):]: before[k] for k in expected}
    kept = {k: v for k, v in before.items() if k not in expected and not k.startswith("lake/_rotscan/")}
    assert {k: after.get(k) for k in kept} == kept  # everything else byte for byte where it was
    assert "lake/warehouse/events/part-00098-young.snappy.parquet" in after
    assert all(k in after for k in doc["removed_events"])  # within the retention by their tombstones
    done = {u: (n, b) for u, _, _, n, b in doc["done"]}
    assert done[events] == (1, 4096) and done[history][0] == 4
    assert doc["rows_after"] == {events: True, history: True}

    # restore: every object back byte for byte, the tables read the same rows; S3 gave the objects a
    # new LastModified (rotscan cannot set it there)
    assert [s for s, _ in doc["restored"]] == ["done", "done"], doc["restored"]
    assert doc["restored_equal"] and doc["rows_restored"] == {events: True, history: True}
    assert doc["orphan_age"] < 3600

    # vacuum_mode = "delta": VACUUM deletes what it lists, and rotscan records exactly that
    assert doc["listed_delta"] == listed
    vac = {u: (s, r, n, b) for u, s, r, n, b in doc["vac"]}
    assert all(s == "done" and "permanently" in r for s, r, _, _ in vac.values()), vac
    assert vac[events][2:] == (1, 4096) and vac[history][2] == 4
    gone = sorted(k for k in set(doc["before_delta"]) - set(doc["after_delta"]) if not k.endswith("/"))
    assert gone == expected
    ids = doc["action_ids"]
    rel = {events: "lake/warehouse/events/", history: "lake/warehouse/history/"}
    for table in (events, history):
        assert sorted(rel[table] + f for f in doc["journal_deleted"][ids[table]]) == listed[table]
    audit = {u: (sorted(rel[u] + f for f in d), b) for u, d, b in doc["audit"]}
    assert audit[events] == (listed[events], 4096) and audit[history][0] == listed[history]
    assert doc["rows_delta"] == {events: True, history: True}

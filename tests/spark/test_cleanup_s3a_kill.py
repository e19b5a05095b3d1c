"""Fault injection on an object store: ``kill -9`` an executing apply through s3a against moto's
S3 server (127.0.0.1) at several journaled steps of the copy → verify → delete moves, then resume
and restore — after the kill every object is either at its source or whole in quarantine (size and
SHA-256 of the original; every move the journal calls done is really done), rerunning apply
finishes the run, and ``rotscan restore`` puts every object back byte for byte.

One moto server for the module (in this process); each apply/restore runs in a child process with
its own SparkSession (the s3a jars from the jar cache), as ``rotscan`` does. A child is started in a
session of its own and killed as a process group — the Python driver and its JVM die together, as
in a crash, so no copy can finish behind the test's back."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.spark

REPO = Path(__file__).resolve().parents[2]
PREFIX = "lake"  # every bucket holds its lake under s3a://BUCKET/lake
BUCKETS = ("kill-intent", "kill-copied", "kill-moved", "kill-outside")

# Scans every bucket (one JVM) and writes BUCKET/findings.json and BUCKET/plan.json for each.
PLANNER = r"""
import os, sys, time
from pathlib import Path
from rotscan.config import load_config
from rotscan.findings_io import write_findings
from rotscan.runtime import Runtime
from rotscan.scan import run_scan
from rotscan.cleanup.context import CleanupContext
from rotscan.cleanup.plan import build_plan, write_plan
from rotscan.cleanup.safety import SafetyRules

cfg = load_config(sys.argv[1])
out = Path(sys.argv[2])
rt = Runtime(config=cfg, env=dict(os.environ))
ctx = CleanupContext(config=cfg, user="tester", spark_factory=lambda need: rt.spark(need_s3a=True))
for bucket in sys.argv[3:]:
    result = run_scan([f"s3a://{bucket}/lake"], rt)
    write_findings(result, out / bucket)
    write_plan(build_plan(result, ctx.storage, SafetyRules.from_config(cfg)), out / bucket / "plan.json")
time.sleep(1.1)  # min_age_hours is 0: nothing may be younger than "now" at apply time
"""

# Runs apply --execute with a fault hook that kills the whole process group (driver and JVM).
KILLER = r"""
import os, signal, sys
from pathlib import Path
from rotscan.config import load_config
from rotscan.cleanup.apply import apply_plan
from rotscan.cleanup.context import CleanupContext
from rotscan.cleanup.plan import read_plan

config, plan, step, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

def hook(s, k):
    if s == step and k == n:
        os.killpg(os.getpgid(0), signal.SIGKILL)

ctx = CleanupContext(config=load_config(config), user="tester", env=dict(os.environ), fault_hook=hook)
apply_plan(read_plan(Path(plan)), ctx, execute=True)
print("finished without being killed")
"""


# Resumes the run (apply --execute again), prints the report, waits for the test to look at the
# bucket (a line on stdin), then restores the run and prints that report: one JVM for both steps.
RECOVERER = r"""
import json, os, sys
from pathlib import Path
from rotscan.config import load_config
from rotscan.cleanup.apply import apply_plan
from rotscan.cleanup.context import CleanupContext
from rotscan.cleanup.plan import read_plan
from rotscan.cleanup.restore import restore_run
from rotscan.uri import parse

config, plan, root, run_id = sys.argv[1:5]
ctx = CleanupContext(config=load_config(config), user="tester", env=dict(os.environ))
print("APPLIED " + json.dumps(apply_plan(read_plan(Path(plan)), ctx, execute=True).to_dict()), flush=True)
sys.stdin.readline()
print("RESTORED " + json.dumps(restore_run(ctx, [parse(root)], run_id).to_dict()), flush=True)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _lake_objects() -> dict[str, bytes]:
    """A few dozen objects: junk files, a scratch directory of small parts (tiny), and write debris
    with objects of several MB — bigger than the 5 MB multipart size set below, so their copies are
    multipart uploads that a kill can interrupt — next to live data that must never move."""
    rnd = random.Random(13)
    objects = {
        "exports/.DS_Store": b"\x00\x00\x00\x01Bud1" + b"\x00" * 40,
        "exports/Thumbs.db": b"\xd0\xcf\x11\xe0" + b"\x00" * 40,
        "exports/blank.csv": b"",
        "exports/report.csv": b"a,b\n" + b"1,2\n" * 50,
        "reference/codes.csv": b"code,label\n200,OK\n404,Not Found\n",
        "warehouse/sales/part-00000.csv": b"id,amount\n" + b"".join(f"{i},{i * 3}\n".encode() for i in range(500)),
    }
    for i in range(20):
        objects[f"tmp/scratch_dump/part-{i:05d}.csv"] = b"a,b\n" + f"{i},{i * 3}\n".encode() * (i + 1)
    for i, mb in enumerate((6, 7, 8)):
        objects[f"warehouse/sales/_temporary/0/task_{i}/part-{i:05d}.csv"] = rnd.randbytes(mb << 20)
    return objects


@dataclass(frozen=True)
class Moto:
    endpoint: str
    s3: Any  # a boto3 S3 client on the server
    config: Path  # the rotscan TOML (s3a on the server, metadata-only scans, no age floors)
    plans: Path  # BUCKET/plan.json for each bucket
    before: dict[str, str]  # the lake's objects (relative key -> SHA-256), the same in every bucket

    def env(self, tmp: Path) -> dict[str, str]:
        return {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": "us-east-1", "XDG_STATE_HOME": str(tmp / "state"),
                "PYTHONPATH": str(REPO)}

    def objects(self, bucket: str) -> dict[str, bytes]:
        """Every object of the bucket but S3A's directory markers (``prefix/``): key -> body."""
        out: dict[str, bytes] = {}
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for o in page.get("Contents", []):
                if not o["Key"].endswith("/"):
                    out[o["Key"]] = self.s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
        return out


def _config_toml(endpoint: str) -> str:
    conf = {"spark.hadoop.fs.s3a.endpoint": endpoint, "spark.hadoop.fs.s3a.path.style.access": "true",
            "spark.hadoop.fs.s3a.connection.ssl.enabled": "false", "spark.hadoop.fs.s3a.endpoint.region": "us-east-1",
            "spark.hadoop.fs.s3a.access.key": "testing", "spark.hadoop.fs.s3a.secret.key": "testing",
            "spark.hadoop.fs.s3a.aws.credentials.provider": "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider",
            "spark.hadoop.fs.s3a.multipart.size": "5M", "spark.hadoop.fs.s3a.multipart.threshold": "5M"}
    table = ", ".join(f'"{k}" = "{v}"' for k, v in conf.items())
    return (f'[spark]\nmaster = "local[1]"\nshuffle_partitions = 1\nconf = {{{table}}}\n\n'
            '[scan]\nprofile = false\n\n[cleanup]\nmin_age_hours = 0.0\n\n[trivial]\nmin_debris_age_hours = 0\n')


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Moto]:
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing")
        lake = _lake_objects()
        for bucket in BUCKETS:
            s3.create_bucket(Bucket=bucket)
            for key, body in lake.items():
                s3.put_object(Bucket=bucket, Key=f"{PREFIX}/{key}", Body=body)
        base = tmp_path_factory.mktemp("s3a_kill")
        (base / "rotscan.toml").write_text(_config_toml(endpoint))
        m = Moto(endpoint, s3, base / "rotscan.toml", base / "plans", {k: _sha(v) for k, v in lake.items()})
        proc = subprocess.run([sys.executable, "-c", PLANNER, str(m.config), str(m.plans), *BUCKETS], cwd=REPO,
                              env=m.env(base), capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-4000:]
        yield m
    finally:
        server.stop()


def _sha(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _run_ids(m: Moto, bucket: str) -> list[str]:
    found = m.s3.list_objects_v2(Bucket=bucket, Prefix=f"{PREFIX}/_rotscan/runs/", Delimiter="/")
    return sorted(p["Prefix"].rstrip("/").rsplit("/", 1)[1] for p in found.get("CommonPrefixes", []))


def _journal(objects: dict[str, bytes], run_id: str) -> list[dict[str, Any]]:
    prefix = f"{PREFIX}/_rotscan/runs/{run_id}/journal/"
    return [json.loads(objects[k]) for k in sorted(k for k in objects if k.startswith(prefix))]


def _key(uri: str, bucket: str) -> str:
    head = f"s3a://{bucket}/"
    assert uri.startswith(head), uri
    return uri[len(head):]


def _assert_nothing_lost(m: Moto, bucket: str, run_id: str) -> dict[str, bytes]:
    """Every original object is at its key or whole (same SHA-256) in the run's quarantine; nothing
    in quarantine is partial or foreign; every move the journal calls done is done (the copy
    verifies against the size and SHA-256 its intent recorded, the source is gone), and every
    intent records the original's size and SHA-256. Returns the bucket's objects."""
    objects = m.objects(bucket)
    quarantine = f"{PREFIX}/_rotscan/quarantine/{run_id}/"
    for rel, sha in m.before.items():
        here = objects.get(f"{PREFIX}/{rel}")
        there = objects.get(quarantine + rel)
        assert (here is not None and _sha(here) == sha) or (there is not None and _sha(there) == sha), f"lost: {rel}"
    for key, body in objects.items():
        if key.startswith(quarantine):
            rel = key[len(quarantine):]
            assert rel in m.before and _sha(body) == m.before[rel], f"half-copied or foreign: {key}"
    records = _journal(objects, run_id)
    intents = {r["n"]: r for r in records if r["op"] == "intent"}
    for rec in intents.values():
        rel = _key(rec["src"], bucket)[len(PREFIX) + 1:]
        original = m.before[rel]
        assert rec["mode"] == "copy" and rec["sha256"] == original, rec
        assert rec["size"] == len(_lake_objects()[rel]), rec
    for rec in records:
        if rec["op"] == "done" and rec["seq"] in intents:
            intent = intents[rec["seq"]]
            copy = objects.get(_key(intent["dst"], bucket))
            assert copy is not None and len(copy) == intent["size"] and _sha(copy) == intent["sha256"], intent
            assert _key(intent["src"], bucket) not in objects, f"done but the source is still there: {intent['src']}"
    return objects


def _uploads(m: Moto, bucket: str) -> list[tuple[str, str]]:
    """The bucket's incomplete multipart uploads (key, upload id), as the server lists them."""
    found = m.s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    return sorted((u["Key"], u["UploadId"]) for u in found)


def _begin_upload(m: Moto, bucket: str, key: str) -> tuple[str, str]:
    """An upload somebody else began and has not completed: one part uploaded."""
    upload_id = m.s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    m.s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=1, Body=b"x" * 1024)
    return key, str(upload_id)


def _wait_group_gone(pgid: int, timeout: float = 30.0) -> None:
    """Wait until no process of the child's group is left (its JVM included); kill what lingers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.killpg(pgid, signal.SIGKILL)


def _cli(m: Moto, tmp: Path, *args: str) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-m", "rotscan", *args, "--json", "--config", str(m.config)], cwd=REPO,
                          env=m.env(tmp), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def _check_resumed(m: Moto, bucket: str, run_id: str, doc: dict[str, Any]) -> None:
    """The rerun of apply resumed run_id and finished it: every planned action done, the journal
    ended, nothing lost, and exactly the objects the journal says it moved gone from the lake."""
    assert doc["resumed"] is True and doc["run_id"] == run_id, doc
    planned = [a for a in doc["actions"] if a["planned"]]
    assert planned and all(a["status"] == "done" for a in planned), planned
    objects = _assert_nothing_lost(m, bucket, run_id)
    records = _journal(objects, run_id)
    assert records[-1]["op"] == "end"
    done = {r["seq"] for r in records if r["op"] == "done"}
    quarantined = {_key(r["src"], bucket)[len(PREFIX) + 1:] for r in records if r["op"] == "intent" and r["n"] in done}
    gone = {k for k in m.before if f"{PREFIX}/{k}" not in objects}
    assert gone == quarantined, "journal and bucket disagree"
    assert {"tmp/scratch_dump/part-00000.csv", "warehouse/sales/_temporary/0/task_2/part-00002.csv"} <= gone
    assert "warehouse/sales/part-00000.csv" not in gone and "exports/report.csv" not in gone


def _check_restored(m: Moto, bucket: str, run_id: str, doc: dict[str, Any]) -> None:
    """Every original object back byte for byte, nothing else in the lake, the quarantine empty."""
    assert doc["actions"] and all(a["status"] == "done" for a in doc["actions"]), doc
    after = m.objects(bucket)
    data = {k[len(PREFIX) + 1:]: _sha(v) for k, v in after.items() if not k.startswith(f"{PREFIX}/_rotscan/")}
    assert data == m.before
    assert not any(k.startswith(f"{PREFIX}/_rotscan/quarantine/{run_id}/") for k in after)


def _marked(proc: subprocess.Popen[str], mark: str, err: Path) -> dict[str, Any]:
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith(mark + " "):
            return dict(json.loads(line[len(mark) + 1:]))
    proc.wait(timeout=60)
    raise AssertionError(f"no {mark} report (exit {proc.returncode}): {err.read_text()[-4000:]}")


def _resume_and_restore(m: Moto, tmp: Path, bucket: str, run_id: str) -> None:
    """In one child: rerun apply --execute on the plan (resumes run_id), then restore run_id."""
    err = tmp / "recover.stderr"
    with err.open("w") as err_fh:  # a file, not a pipe: Spark's output must never block the child
        proc = subprocess.Popen([sys.executable, "-c", RECOVERER, str(m.config), str(m.plans / bucket / "plan.json"),
                                 f"s3a://{bucket}/{PREFIX}", run_id], cwd=REPO, env=m.env(tmp), stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=err_fh, text=True, start_new_session=True)
    try:
        _check_resumed(m, bucket, run_id, _marked(proc, "APPLIED", err))
        assert proc.stdin is not None
        proc.stdin.write("restore\n")
        proc.stdin.flush()
        _check_restored(m, bucket, run_id, _marked(proc, "RESTORED", err))
        assert proc.wait(timeout=120) == 0, err.read_text()[-4000:]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        _wait_group_gone(proc.pid)


@pytest.mark.parametrize(("bucket", "step", "n"), [
    ("kill-intent", "intent", 25),   # a big object's intent journaled, its copy not started
    ("kill-copied", "copied", 26),   # the last big object copied, not verified, source not deleted
    ("kill-moved", "moved", 12),     # mid-way through the scratch directory, right after a source delete
])
def test_kill_9_on_s3a_then_resume_and_restore(moto: Moto, tmp_path: Path, bucket: str, step: str, n: int) -> None:
    plan = moto.plans / bucket / "plan.json"
    proc = subprocess.Popen([sys.executable, "-c", KILLER, str(moto.config), str(plan), step, str(n)], cwd=REPO,
                            env=moto.env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    out, err = proc.communicate(timeout=600)
    _wait_group_gone(proc.pid)
    assert proc.returncode == -signal.SIGKILL, out + err[-4000:]
    (run_id,) = _run_ids(moto, bucket)
    objects = _assert_nothing_lost(moto, bucket, run_id)
    records = _journal(objects, run_id)
    assert not any(r["op"] == "end" for r in records)
    last_intent = [r for r in records if r["op"] == "intent"][-1]
    intent_done = any(r["op"] == "done" and r["seq"] == last_intent["n"] for r in records)
    src, dst = _key(last_intent["src"], bucket), _key(last_intent["dst"], bucket)
    if step in ("intent", "copied"):
        assert last_intent["size"] > 5 << 20, last_intent  # the kill lands on a big (multipart) object
    if step == "intent":
        assert not intent_done and src in objects and dst not in objects
        # the crash landing mid-copy on a store without atomic PUT: half the object at the target
        moto.s3.put_object(Bucket=bucket, Key=dst, Body=objects[src][: len(objects[src]) // 2])
    elif step == "copied":
        assert not intent_done and src in objects and _sha(objects[dst]) == last_intent["sha256"]
    else:
        assert intent_done and src not in objects and dst in objects
    _resume_and_restore(moto, tmp_path, bucket, run_id)


def test_apply_killed_from_outside_on_s3a_then_rerun_and_restore(moto: Moto, tmp_path: Path) -> None:
    """``kill -9`` of ``rotscan apply --execute`` (driver and JVM) from another process in the middle
    of a multi-MB object's multipart copy into quarantine (an upload begun and not completed), then
    rerun the apply and ``rotscan restore``. The kill leaves that upload open on the server (its
    parts stored, no object); the rerun aborts it — the run's own only, not an upload another run or
    writer began under the same bucket — and says so."""
    bucket = "kill-outside"
    quarantine = f"{PREFIX}/_rotscan/quarantine/"
    with (tmp_path / "apply.out").open("w") as out_fh:  # files, not pipes nobody reads while it runs
        proc = subprocess.Popen([sys.executable, "-m", "rotscan", "apply", str(moto.plans / bucket / "plan.json"),
                                 "--execute", "--json", "--config", str(moto.config)], cwd=REPO,
                                env=moto.env(tmp_path), stdout=out_fh, stderr=subprocess.STDOUT,
                                start_new_session=True)
    deadline = time.monotonic() + 600
    in_flight: list[str] = []
    while not in_flight and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
        uploads = moto.s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
        in_flight = [u["Key"] for u in uploads if u["Key"].startswith(quarantine)]
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    _wait_group_gone(proc.pid)
    assert proc.returncode == -signal.SIGKILL, (tmp_path / "apply.out").read_text()[-4000:]
    assert in_flight, "no multipart copy was seen in flight before apply ended"
    (run_id,) = _run_ids(moto, bucket)
    _assert_nothing_lost(moto, bucket, run_id)
    # the killed copy's upload is still open on the server: its parts are stored (and billed on S3)
    left = _uploads(moto, bucket)
    ours = sorted(k for k, _ in left if k.startswith(f"{quarantine}{run_id}/"))
    assert ours, f"the kill left no incomplete upload of the run ({left}); seen in flight: {in_flight}"
    # uploads of anybody else, next to the run's: under another run's quarantine, and in the lake
    foreign = {_begin_upload(moto, bucket, f"{quarantine}20260101T000000Z-0ther000/warehouse/big.csv"),
               _begin_upload(moto, bucket, f"{PREFIX}/warehouse/sales/part-00007.csv")}
    # the same commands a user runs: rerun the apply, then rotscan restore RUN_ID
    resumed = _cli(moto, tmp_path, "apply", str(moto.plans / bucket / "plan.json"), "--execute")
    _check_resumed(moto, bucket, run_id, resumed)
    # the rerun aborted the run's own incomplete uploads, said so, and left the others alone
    assert set(_uploads(moto, bucket)) == foreign
    notes = [n for n in resumed["recovered"] if "aborted the incomplete multipart upload" in n]
    assert sorted(n.split(": ", 1)[0] for n in notes) == [f"s3a://{bucket}/{k}" for k in ours], resumed["recovered"]
    for key, upload_id in foreign:
        moto.s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
    _check_restored(moto, bucket, run_id, _cli(moto, tmp_path, "restore", run_id, "--root", f"s3a://{bucket}/{PREFIX}"))

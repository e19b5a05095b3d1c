"""Fault injection for ``archive`` on an object store: ``kill -9`` an executing apply through s3a
against moto's S3 server (127.0.0.1) while it copies a dataset, object by object, to the archive
bucket (copy → verify size and SHA-256 → delete at the source), then resume and restore — after the
kill every object is either at its source or whole at its archive target (every move the journal
calls done is really done), rerunning apply finishes the archive, a multipart copy the kill
interrupted is aborted (none left open in the archive bucket), and ``rotscan restore`` puts every
object back byte for byte, the archive copies gone.

Built like ``test_cleanup_s3a_kill.py`` (whose child scripts and helpers it uses): one moto server
for the module, each apply/restore in a child process with its own SparkSession, killed as a
process group (driver and JVM die together)."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .test_cleanup_s3a_kill import (
    KILLER,
    PREFIX,
    RECOVERER,
    Moto,
    _free_port,
    _journal,
    _key,
    _marked,
    _sha,
    _uploads,
    _wait_group_gone,
)

pytestmark = pytest.mark.spark

REPO = Path(__file__).resolve().parents[2]
BUCKETS = ("arch-copied", "arch-moved", "arch-outside")
DATASET = "raw/events_2019"

# Scans every bucket (one JVM) and writes BUCKET/plan.json for each, archive locations included.
PLANNER = r"""
import os, sys, time
from pathlib import Path
from rotscan.cleanup.archive import ArchiveSettings
from rotscan.cleanup.context import CleanupContext
from rotscan.cleanup.plan import build_plan, write_plan
from rotscan.cleanup.safety import SafetyRules
from rotscan.config import load_config
from rotscan.findings_io import write_findings
from rotscan.runtime import Runtime
from rotscan.scan import run_scan

cfg = load_config(sys.argv[1])
out = Path(sys.argv[2])
rt = Runtime(config=cfg, env=dict(os.environ))
ctx = CleanupContext(config=cfg, user="tester", spark_factory=lambda need: rt.spark(need_s3a=True))
for bucket in sys.argv[3:]:
    result = run_scan([f"s3a://{bucket}/lake"], rt)
    write_findings(result, out / bucket)
    write_plan(build_plan(result, ctx.storage, SafetyRules.from_config(cfg), scan_dir=str(out / bucket),
                          archive=ArchiveSettings.from_config(cfg)), out / bucket / "plan.json")
time.sleep(1.1)  # min_age_hours is 0: nothing may be younger than "now" at apply time
"""


def _lake_objects() -> dict[str, bytes]:
    """An old dataset to archive — eight small CSV parts, then three of several MB (bigger than the
    5 MB multipart size set below: their copies are multipart uploads a kill can interrupt) — and
    live data outside the retention policy's glob that must never move."""
    rnd = random.Random(13)
    objects = {"warehouse/sales/part-00000.csv": b"id,amount\n" + b"".join(f"{i},{i * 3}\n".encode() for i in range(500))}
    for i in range(8):
        objects[f"{DATASET}/part-{i:05d}.csv"] = b"id,v\n" + b"".join(f"{i * 1000 + k},{k}\n".encode()
                                                                     for k in range(100 + i))
    for i, mb in enumerate((6, 7, 8), start=8):
        rows = b"".join(f"{k},{rnd.randrange(10**12)}\n".encode() for k in range(mb * 52000))
        objects[f"{DATASET}/part-{i:05d}.csv"] = b"id,v\n" + rows[: (mb << 20)]
    return objects


def _config_toml(endpoint: str) -> str:
    conf = {"spark.hadoop.fs.s3a.endpoint": endpoint, "spark.hadoop.fs.s3a.path.style.access": "true",
            "spark.hadoop.fs.s3a.connection.ssl.enabled": "false", "spark.hadoop.fs.s3a.endpoint.region": "us-east-1",
            "spark.hadoop.fs.s3a.access.key": "testing", "spark.hadoop.fs.s3a.secret.key": "testing",
            "spark.hadoop.fs.s3a.aws.credentials.provider": "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider",
            "spark.hadoop.fs.s3a.multipart.size": "5M", "spark.hadoop.fs.s3a.multipart.threshold": "5M"}
    table = ", ".join(f'"{k}" = "{v}"' for k, v in conf.items())
    archive = "".join(f'"s3a://{b}/{PREFIX}/raw" = "s3a://{b}-archive/raw"\n' for b in BUCKETS)
    return (f'[spark]\nmaster = "local[1]"\nshuffle_partitions = 1\nconf = {{{table}}}\n\n'
            '[scan]\nprofile = false\n\n[cleanup]\nmin_age_hours = 0.0\n\n'
            f'[cleanup.archive]\n{archive}\n'
            '[[obsolete.retention]]\nglob = "raw/**"\nmax_age_days = 0\naction = "archive"\n')


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Moto]:
    import logging

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
            s3.create_bucket(Bucket=f"{bucket}-archive")
            for key, body in lake.items():
                s3.put_object(Bucket=bucket, Key=f"{PREFIX}/{key}", Body=body)
        base = tmp_path_factory.mktemp("s3a_archive_kill")
        (base / "rotscan.toml").write_text(_config_toml(endpoint))
        m = Moto(endpoint, s3, base / "rotscan.toml", base / "plans", {k: _sha(v) for k, v in lake.items()})
        proc = subprocess.run([sys.executable, "-c", PLANNER, str(m.config), str(m.plans), *BUCKETS], cwd=REPO,
                              env=m.env(base), capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-4000:]
        yield m
    finally:
        server.stop()


def _archived(m: Moto, bucket: str) -> dict[str, bytes]:
    """The archive bucket's objects: s3a://B/lake/raw/X is archived to s3a://B-archive/raw/X, so a
    key there is the lake-relative path it came from."""
    return m.objects(f"{bucket}-archive")


def _assert_nothing_lost(m: Moto, bucket: str, run_id: str) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """Every original object is at its key or whole (same SHA-256) at its archive target; nothing in
    the archive bucket is partial or foreign; every move the journal calls done is done (the copy
    verifies against the size and SHA-256 its intent recorded, the source is gone)."""
    objects, archived = m.objects(bucket), _archived(m, bucket)
    for rel, sha in m.before.items():
        here, there = objects.get(f"{PREFIX}/{rel}"), archived.get(rel)
        assert (here is not None and _sha(here) == sha) or (there is not None and _sha(there) == sha), f"lost: {rel}"
    for rel, body in archived.items():
        assert rel.startswith(DATASET + "/") and _sha(body) == m.before[rel], f"half-copied or foreign: {rel}"
    records = _journal(objects, run_id)
    intents = {r["n"]: r for r in records if r["op"] == "intent"}
    for rec in intents.values():
        assert rec["dst"].startswith(f"s3a://{bucket}-archive/raw/"), rec
        assert rec["sha256"] == m.before[_key(rec["src"], bucket)[len(PREFIX) + 1:]], rec
    for rec in records:
        if rec["op"] == "done" and rec["seq"] in intents:
            intent = intents[rec["seq"]]
            copy = archived.get(_key(intent["dst"], f"{bucket}-archive"))
            assert copy is not None and len(copy) == intent["size"] and _sha(copy) == intent["sha256"], intent
            assert _key(intent["src"], bucket) not in objects, f"done but the source is still there: {intent['src']}"
    return objects, archived


def _check_resumed(m: Moto, bucket: str, run_id: str, doc: dict[str, Any]) -> None:
    """The rerun resumed run_id and finished it: the whole dataset in the archive bucket, byte for
    byte, nothing of it left in the lake, the live data untouched, no multipart upload left open."""
    assert doc["resumed"] is True and doc["run_id"] == run_id, doc
    planned = [a for a in doc["actions"] if a["planned"]]
    assert [(a["action"], a["status"]) for a in planned] == [("archive", "done")], planned
    objects, archived = _assert_nothing_lost(m, bucket, run_id)
    assert _journal(objects, run_id)[-1]["op"] == "end"
    dataset = {k for k in m.before if k.startswith(DATASET + "/")}
    assert set(archived) == dataset
    assert {k[len(PREFIX) + 1:] for k in objects if not k.startswith(f"{PREFIX}/_rotscan/")} == set(m.before) - dataset
    assert _uploads(m, f"{bucket}-archive") == [] and _uploads(m, bucket) == []


def _check_restored(m: Moto, bucket: str, run_id: str, doc: dict[str, Any]) -> None:
    assert doc["actions"] and all(a["status"] == "done" for a in doc["actions"]), doc
    after = m.objects(bucket)
    data = {k[len(PREFIX) + 1:]: _sha(v) for k, v in after.items() if not k.startswith(f"{PREFIX}/_rotscan/")}
    assert data == m.before
    assert m.objects(f"{bucket}-archive") == {}


def _run_ids(m: Moto, bucket: str) -> list[str]:
    found = m.s3.list_objects_v2(Bucket=bucket, Prefix=f"{PREFIX}/_rotscan/runs/", Delimiter="/")
    return sorted(p["Prefix"].rstrip("/").rsplit("/", 1)[1] for p in found.get("CommonPrefixes", []))


def _resume_and_restore(m: Moto, tmp: Path, bucket: str, run_id: str) -> dict[str, Any]:
    err = tmp / "recover.stderr"
    with err.open("w") as err_fh:
        proc = subprocess.Popen([sys.executable, "-c", RECOVERER, str(m.config), str(m.plans / bucket / "plan.json"),
                                 f"s3a://{bucket}/{PREFIX}", run_id], cwd=REPO, env=m.env(tmp), stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=err_fh, text=True, start_new_session=True)
    try:
        resumed = _marked(proc, "APPLIED", err)
        _check_resumed(m, bucket, run_id, resumed)
        assert proc.stdin is not None
        proc.stdin.write("restore\n")
        proc.stdin.flush()
        _check_restored(m, bucket, run_id, _marked(proc, "RESTORED", err))
        assert proc.wait(timeout=120) == 0, err.read_text()[-4000:]
        return resumed
    finally:
        if proc.poll() is None:
            import os

            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        _wait_group_gone(proc.pid)


@pytest.mark.parametrize(("bucket", "step", "n"), [
    ("arch-copied", "copied", 11),  # the last big object copied to the archive, not verified, source kept
    ("arch-moved", "moved", 5),     # mid-way through the small parts, right after a source delete
])
def test_archive_kill_9_on_s3a_then_resume_and_restore(moto: Moto, tmp_path: Path, bucket: str, step: str,
                                                       n: int) -> None:
    proc = subprocess.Popen([sys.executable, "-c", KILLER, str(moto.config), str(moto.plans / bucket / "plan.json"),
                             step, str(n)], cwd=REPO, env=moto.env(tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    out, err = proc.communicate(timeout=600)
    _wait_group_gone(proc.pid)
    assert proc.returncode == -signal.SIGKILL, out + err[-4000:]
    (run_id,) = _run_ids(moto, bucket)
    objects, archived = _assert_nothing_lost(moto, bucket, run_id)
    records = _journal(objects, run_id)
    assert not any(r["op"] == "end" for r in records)
    last = [r for r in records if r["op"] == "intent"][-1]
    done = any(r["op"] == "done" and r["seq"] == last["n"] for r in records)
    src, rel = _key(last["src"], bucket), _key(last["src"], bucket)[len(PREFIX) + 1:]
    if step == "copied":  # both copies whole: the source kept, the target there, not yet verified
        assert last["size"] > 5 << 20 and not done and src in objects and _sha(archived[rel]) == last["sha256"]
    else:
        assert done and src not in objects and rel in archived
    _resume_and_restore(moto, tmp_path, bucket, run_id)


def test_archive_killed_from_outside_mid_multipart_copy_then_rerun(moto: Moto, tmp_path: Path) -> None:
    """``kill -9`` of ``rotscan apply --execute`` while a multi-MB object's multipart copy into the
    archive bucket is in flight: the upload stays open there (its parts stored, no object); the rerun
    aborts it — an upload at exactly the target of the move the run had begun, outside the lake's
    root — says so, finishes the archive, and ``restore`` puts everything back."""
    import os

    bucket = "arch-outside"
    with (tmp_path / "apply.out").open("w") as out_fh:
        proc = subprocess.Popen([sys.executable, "-m", "rotscan", "apply", str(moto.plans / bucket / "plan.json"),
                                 "--execute", "--json", "--config", str(moto.config)], cwd=REPO,
                                env=moto.env(tmp_path), stdout=out_fh, stderr=subprocess.STDOUT,
                                start_new_session=True)
    deadline = time.monotonic() + 600
    in_flight: list[tuple[str, str]] = []
    while not in_flight and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
        in_flight = _uploads(moto, f"{bucket}-archive")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    _wait_group_gone(proc.pid)
    assert proc.returncode == -signal.SIGKILL, (tmp_path / "apply.out").read_text()[-4000:]
    assert in_flight, "no multipart copy was seen in flight before apply ended"
    (run_id,) = _run_ids(moto, bucket)
    _assert_nothing_lost(moto, bucket, run_id)
    left = [k for k, _ in _uploads(moto, f"{bucket}-archive")]
    assert left, f"the kill left no incomplete upload in the archive bucket (seen in flight: {in_flight})"
    resumed = _resume_and_restore(moto, tmp_path, bucket, run_id)
    notes = [n for n in resumed["recovered"] if "aborted the incomplete multipart upload" in n]
    assert sorted(n.split(": ", 1)[0] for n in notes) == [f"s3a://{bucket}-archive/{k}" for k in left], resumed

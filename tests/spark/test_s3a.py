"""``s3a://`` roots through the same crawler, against moto's S3 server on 127.0.0.1 (path-style, no
TLS). The scan runs in a child process: the shared ``spark`` fixture has no s3a jars, so a fresh
JVM built by ``get_spark(config, need_s3a=True)`` is needed. Endpoint settings come from rotscan's
config file (``[spark] conf``); credentials only from the standard Hadoop/AWS provider chain (the
child's ``AWS_*`` environment, or ``spark.hadoop.fs.s3a.*`` keys in the config file) and must not show
up in anything rotscan writes or prints.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ..lakes import table

pytestmark = pytest.mark.spark

BUCKET = "rot-lake"
ACCESS_KEY = "AKIAROTSCANTEST0001"
SECRET_KEY = "rotscan-test-secret-Zq81xVb3"  # must never appear in output
# The variables that would attach a child process to this test process's own Spark driver.
_DRIVER_VARS = ("PYSPARK_GATEWAY_PORT", "PYSPARK_GATEWAY_SECRET", "PYSPARK_SUBMIT_ARGS", "SPARK_REMOTE",
                "SPARK_CONNECT_MODE_ENABLED")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def parquet_bytes(t: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(t, buf)
    return buf.getvalue()


def csv_bytes(i: int) -> bytes:
    return ("a,b\n" + "".join(f"{j},{j * i}\n" for j in range(20))).encode()


def delta_table(prefix: str) -> dict[str, bytes]:
    """A small Delta table as delta-spark writes it (PROTOCOL.md): version 0 adds two files, version 1
    rewrites the first (a remove + an add), so one file is held only for time travel."""
    files = {f"part-0000{i}-d3.snappy.parquet": parquet_bytes(table(250, offset=1000 + 250 * (i % 2)))
             for i in range(3)}
    schema = {"type": "struct", "fields": [
        {"name": n, "type": t, "nullable": True, "metadata": {}}
        for n, t in (("id", "long"), ("name", "string"), ("amount", "double"))]}
    t0 = 1_767_225_600_000  # 2026-01-01

    def add(name: str, ts: int) -> dict:  # type: ignore[type-arg]
        return {"add": {"path": name, "partitionValues": {}, "size": len(files[name]), "modificationTime": ts,
                        "dataChange": True, "stats": json.dumps({"numRecords": 250})}}

    v0 = [{"commitInfo": {"timestamp": t0, "operation": "WRITE",
                          "operationParameters": {"mode": "ErrorIfExists", "partitionBy": "[]"}}},
          {"protocol": {"minReaderVersion": 1, "minWriterVersion": 2}},
          {"metaData": {"id": "7d1f3c1e-0000-4000-8000-000000000001", "format": {"provider": "parquet", "options": {}},
                        "schemaString": json.dumps(schema), "partitionColumns": [], "configuration": {},
                        "createdTime": t0}},
          add("part-00000-d3.snappy.parquet", t0), add("part-00001-d3.snappy.parquet", t0)]
    v1 = [{"commitInfo": {"timestamp": t0 + 60_000, "operation": "WRITE",
                          "operationParameters": {"mode": "Overwrite", "partitionBy": "[]"}}},
          {"remove": {"path": "part-00000-d3.snappy.parquet", "deletionTimestamp": t0 + 60_000, "dataChange": True}},
          add("part-00002-d3.snappy.parquet", t0 + 60_000)]
    log = {f"_delta_log/{v:020d}.json": "".join(json.dumps(a) + "\n" for a in actions).encode()
           for v, actions in enumerate((v0, v1))}
    return {f"{prefix}/{k}": v for k, v in {**files, **log}.items()}


# key below s3a://BUCKET/ -> content; keys ending in "/" are zero-byte directory markers
LAKE: dict[str, bytes] = {
    **delta_table("lake/warehouse/orders_delta"),
    "lake/warehouse/orders/part-00000-1b2c.snappy.parquet": parquet_bytes(table(300)),
    "lake/warehouse/orders/part-00001-1b2c.snappy.parquet": parquet_bytes(table(300, offset=300)),
    "lake/warehouse/orders/_SUCCESS": b"",
    "lake/warehouse/orders/_temporary/0/_temporary/attempt_202601010000_0001_m_000001_1/part-00001.parquet":
        parquet_bytes(table(10)),
    # a byte-for-byte copy of the table somebody took "just in case"
    "lake/backup/orders_copy/part-00000-1b2c.snappy.parquet": parquet_bytes(table(300)),
    "lake/backup/orders_copy/part-00001-1b2c.snappy.parquet": parquet_bytes(table(300, offset=300)),
    # a folder made in the console first (a marker object), then filled
    "lake/exports/": b"",
    **{f"lake/exports/export_{i}.csv": csv_bytes(i) for i in range(3)},
    "lake/exports/blank.csv": b"",
    "lake/exports/.DS_Store": b"\x00\x00\x00\x01Bud1" + b"\x00" * 64,
    # an empty "folder": only its marker
    "lake/landing/": b"",
}
EXPECTED = {
    "warehouse/orders/_temporary": "write_debris",
    "exports/blank.csv": "zero_byte",
    "exports/.DS_Store": "junk_file",
}


@dataclass(frozen=True)
class S3:
    endpoint: str
    port: int


def reset_moto(endpoint: str) -> None:
    """Empty moto's S3: its state lives in the test process, shared by every server started in it,
    so a bucket of an earlier test module would otherwise still hold that module's lake."""
    import urllib.request

    with urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"),
                                timeout=30) as resp:
        assert resp.status == 200


def upload(endpoint: str, objects: Mapping[str, Mapping[str, bytes]]) -> Any:
    """Reset moto, then create each bucket and put its objects (boto3 gets dummy keys directly, not
    from env)."""
    boto3 = pytest.importorskip("boto3")
    reset_moto(endpoint)
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)
    for bucket, content in objects.items():
        client.create_bucket(Bucket=bucket)
        for key, body in content.items():
            client.put_object(Bucket=bucket, Key=key, Body=body)
    return client


@contextlib.contextmanager
def moto_s3(lake: Mapping[str, bytes]) -> Iterator[S3]:
    """moto's S3 server on 127.0.0.1 with ``lake`` uploaded to BUCKET; stopped on exit."""
    server_mod = pytest.importorskip("moto.server")
    port = free_port()
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        upload(endpoint, {BUCKET: lake})
        yield S3(endpoint=endpoint, port=port)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def s3() -> Iterator[S3]:
    """moto's S3 on 127.0.0.1 with the lake uploaded."""
    with moto_s3(LAKE) as server:
        yield server


def child_env(tmp: Path, *, with_keys: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in _DRIVER_VARS and not k.startswith(("AWS_", "ROTSCAN_"))}
    env.update(SPARK_LOCAL_IP="127.0.0.1", PYSPARK_PYTHON=sys.executable,
               # no ~/.aws files of the machine: the provider chain sees only what the test gives it
               AWS_CONFIG_FILE=str(tmp / "no-aws-config"), AWS_SHARED_CREDENTIALS_FILE=str(tmp / "no-aws-creds"),
               AWS_EC2_METADATA_DISABLED="true")
    if with_keys:
        env.update(AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY)
    return env


def write_config(path: Path, s3: S3, *, keys_in_config: bool) -> Path:
    conf = {
        "spark.hadoop.fs.s3a.endpoint": s3.endpoint,
        "spark.hadoop.fs.s3a.path.style.access": "true",
        "spark.hadoop.fs.s3a.connection.ssl.enabled": "false",
        "spark.hadoop.fs.s3a.endpoint.region": "us-east-1",
        # fail fast rather than retry for minutes if something is wrong
        "spark.hadoop.fs.s3a.attempts.maximum": "2",
        "spark.hadoop.fs.s3a.retry.limit": "2",
    }
    if keys_in_config:
        conf["spark.hadoop.fs.s3a.access.key"] = ACCESS_KEY
        conf["spark.hadoop.fs.s3a.secret.key"] = SECRET_KEY
    body = ", ".join(f'"{k}" = "{v}"' for k, v in conf.items())
    path.write_text(f'[spark]\nmaster = "local[1]"\nshuffle_partitions = 2\ndriver_memory = "1g"\nconf = {{{body}}}\n',
                    encoding="utf-8")
    return path


def run_scan(tmp: Path, s3: S3, *, keys_in_config: bool) -> tuple[subprocess.CompletedProcess[str], Path, float]:
    out = tmp / "out"
    config = write_config(tmp / "rotscan.toml", s3, keys_in_config=keys_in_config)
    # the `rotscan` console script, as a user runs it
    cmd = [sys.executable, "-c", "import sys; from rotscan.cli import main; sys.exit(main())", "scan", f"s3a://{BUCKET}/lake", "--out", str(out),
           "--config", str(config)]
    t0 = time.monotonic()
    done = subprocess.run(cmd, env=child_env(tmp, with_keys=not keys_in_config), cwd=tmp, capture_output=True,
                          text=True, timeout=900, check=False)
    return done, out, time.monotonic() - t0


@pytest.fixture(scope="module", params=["env", "config"])
def scanned(request: pytest.FixtureRequest, s3: S3, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp(f"s3a-{request.param}")
    done, out, seconds = run_scan(tmp, s3, keys_in_config=request.param == "config")
    print(f"s3a scan (credentials from {request.param}) took {seconds:.1f}s")
    assert done.returncode == 0, done.stdout + done.stderr[-5000:]
    return done, out


def rel(uri: str) -> str:
    prefix = f"s3a://{BUCKET}/lake/"
    assert uri.startswith(prefix), uri
    return uri[len(prefix):]


def test_s3a_scan_finds_the_planted_items(scanned) -> None:  # type: ignore[no-untyped-def]
    _, out = scanned
    doc = json.loads((out / "findings.json").read_text())
    assert doc["scan"]["roots"] == [f"s3a://{BUCKET}/lake"]
    got = {rel(f["uri"]): f["kind"] for f in doc["findings"]}
    for path, kind in EXPECTED.items():
        assert got.get(path) == kind, (path, got)
    # one of the two identical tables is an exact duplicate of the other
    dupes = [f for f in doc["findings"] if f["kind"] == "exact_duplicate"]
    assert len(dupes) == 1, got
    assert {rel(dupes[0]["uri"]), *map(rel, dupes[0]["related"])} == {"backup/orders_copy", "warehouse/orders"}
    # markers, _SUCCESS and the populated folders are not findings
    assert not {"exports", "landing", "warehouse/orders/_SUCCESS", "exports/export_0.csv"} & set(got), got
    assert set(got) == {*EXPECTED, rel(dupes[0]["uri"])}, got


def test_s3a_datasets_are_inventoried_and_profiled(scanned) -> None:  # type: ignore[no-untyped-def]
    done, out = scanned
    # the small CSV exports were read from the bucket by the executors with pyarrow (the endpoint and
    # the credentials from the fs.s3a.* settings or the environment), not by Spark's CSV reader
    assert "3 small CSV dataset(s) profiled with pyarrow on the executors" in done.stdout + done.stderr
    doc = json.loads((out / "findings.json").read_text())
    by_rel = {rel(d["uri"]): d for d in doc["datasets"]}
    orders = by_rel["warehouse/orders"]
    assert (orders["format"], orders["files"], orders["rows"]) == ("parquet", 2, 600)
    parts = [k for k in LAKE if k.startswith("lake/warehouse/orders/part-")]
    assert orders["bytes"] == sum(len(LAKE[k]) for k in parts)
    assert (by_rel["backup/orders_copy"]["rows"], by_rel["backup/orders_copy"]["bytes"]) == (600, orders["bytes"])
    for i in range(3):
        d = by_rel[f"exports/export_{i}.csv"]
        assert (d["format"], d["rows"], d["bytes"]) == ("csv", 20, len(csv_bytes(i)))
    # S3 gives every object a LastModified time; it is carried through, not epoch 0
    assert orders["modified"] is not None and not orders["modified"].startswith("1970")
    # the Delta log is read through s3a: live files, rows from its stats, the rewritten file
    delta = by_rel["warehouse/orders_delta"]
    assert (delta["format"], delta["files"], delta["rows"]) == ("delta", 2, 500)
    assert delta["delta"]["version"] == 1 and delta["delta"]["time_travel_files"] == 1
    assert set(by_rel) == {"warehouse/orders", "warehouse/orders_delta", "backup/orders_copy", "exports/export_0.csv", "exports/export_1.csv",
                           "exports/export_2.csv", "exports/blank.csv"}, set(by_rel)


def test_no_credential_in_findings_report_or_output(scanned) -> None:  # type: ignore[no-untyped-def]
    done, out = scanned
    texts = {"stdout": done.stdout, "stderr": done.stderr}
    texts.update({p.name: p.read_text(errors="replace") for p in out.iterdir() if p.is_file()
                  and p.suffix in (".json", ".html")})
    for name, text in texts.items():
        assert SECRET_KEY not in text, name
        assert ACCESS_KEY not in text, name


@pytest.mark.parametrize(("root", "with_keys", "message"), [
    (f"s3a://{BUCKET}/lake", False, "no AWS credentials from the provider chain"),
    ("s3a://no-such-bucket/lake", True, "the bucket does not exist"),
])
def test_s3a_errors_are_one_clear_line(s3: S3, tmp_path: Path, root: str, with_keys: bool, message: str) -> None:
    """No credentials anywhere in the chain, or a missing bucket: exit 1 with one line saying which,
    not py4j's "An error occurred while calling o91.getFileStatus" or a Java stack trace."""
    config = write_config(tmp_path / "rotscan.toml", s3, keys_in_config=False)
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from rotscan.cli import main; sys.exit(main())", "scan", root,
         "--out", str(tmp_path / "out"), "--config", str(config), "--quiet"],
        env=child_env(tmp_path, with_keys=with_keys), cwd=tmp_path, capture_output=True, text=True, timeout=600,
        check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    errors = [ln for ln in done.stderr.splitlines() if ln.startswith("Error: ")]
    assert len(errors) == 1 and message in errors[0] and root in errors[0], done.stderr
    assert "Traceback" not in done.stderr and "py4j" not in done.stderr.lower() and "\tat " not in done.stderr
    assert SECRET_KEY not in done.stderr + done.stdout

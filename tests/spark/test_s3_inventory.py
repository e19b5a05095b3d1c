"""S3 Inventory reports as the listing source, for real: reports in the three formats S3 delivers
(gzipped CSV without header, ORC, Parquet — each with its manifest.json) are generated from a
boto3 LIST of a lake in moto's S3 server on 127.0.0.1, read with Spark, and a scan with
``--s3-inventory`` must find what the LIST-based scan finds while the S3 server's own request log
shows no LIST call on the data bucket.

The scans run in child processes (the shared ``spark`` fixture has no s3a jars); the derivation of
directory entries is checked in-process against the pure-Python reference.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote_plus

import pyarrow as pa
import pyarrow.orc as orc
import pyarrow.parquet as pq
import pytest

from rotscan.crawl.s3_inventory import S3InventoryError, listing_rows_from_objects, parse_manifest
from rotscan.uri import parse

from ..lakes import table
from .test_s3a import (
    child_env,
    csv_bytes,
    delta_table,
    free_port,
    parquet_bytes,
    upload,
    write_config,
)

pytestmark = pytest.mark.spark

BUCKET = "rot-lake"
INV_BUCKET = "rot-inventory"
CSV_FIELDS = ("Bucket", "Key", "VersionId", "IsLatest", "IsDeleteMarker", "Size", "LastModifiedDate", "ETag",
              "StorageClass")
SNAKE = ("bucket", "key", "version_id", "is_latest", "is_delete_marker", "size", "last_modified_date", "e_tag",
         "storage_class")
ORC_SCHEMA = ("struct<bucket:string,key:string,version_id:string,is_latest:boolean,is_delete_marker:boolean,"
              "size:bigint,last_modified_date:timestamp,e_tag:string,storage_class:string>")
PARQUET_SCHEMA = ("message s3.inventory { required binary bucket (UTF8); required binary key (UTF8); optional binary "
                  "version_id (UTF8); optional boolean is_latest; optional boolean is_delete_marker; optional int64 "
                  "size; optional int64 last_modified_date (TIMESTAMP_MILLIS); optional binary e_tag (UTF8); "
                  "optional binary storage_class (UTF8);}")

LAKE: dict[str, bytes] = {
    **delta_table("lake/warehouse/orders_delta"),
    "lake/warehouse/orders/part-00000-1b2c.snappy.parquet": parquet_bytes(table(300)),
    "lake/warehouse/orders/part-00001-1b2c.snappy.parquet": parquet_bytes(table(300, offset=300)),
    "lake/warehouse/orders/_SUCCESS": b"",
    "lake/warehouse/orders/_temporary/0/_temporary/attempt_202601010000_0001_m_000001_1/part-00001.parquet":
        parquet_bytes(table(10)),
    **{f"lake/warehouse/events/dt=2026-01-0{d}/region=eu/part-00000.parquet": parquet_bytes(table(50, offset=50 * d))
       for d in (1, 2)},
    "lake/warehouse/events/dt=2026-01-02/region=eu/part-00001.parquet": b"",
    "lake/backup/orders_copy/part-00000-1b2c.snappy.parquet": parquet_bytes(table(300)),
    "lake/backup/orders_copy/part-00001-1b2c.snappy.parquet": parquet_bytes(table(300, offset=300)),
    "lake/exports/": b"",
    **{f"lake/exports/export_{i}.csv": csv_bytes(i) for i in range(3)},
    # URL-encoded in a CSV inventory as "q3+report%2Bfinal.csv"
    "lake/exports/q3 report+final.csv": csv_bytes(7),
    "lake/exports/blank.csv": b"",
    "lake/exports/.DS_Store": b"\x00\x00\x00\x01Bud1" + b"\x00" * 64,
    "lake/landing/": b"",
    # outside the scanned root: in the inventory, never in the scan
    "other/notes.csv": b"a\n1\n",
    "lake-archive/old.csv": b"a\n1\n",
}
REPO = Path(__file__).resolve().parents[2]
CLI = (sys.executable, "-c", "import sys; from rotscan.cli import main; sys.exit(main())")  # the console script
GONE = "lake/tmp_gone/part-00000-aa.parquet"  # deleted after the inventory was taken


@dataclass
class S3:
    endpoint: str
    client: Any
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # method, path, query

    def lists(self, bucket: str, since: int = 0) -> list[str]:
        """Prefixes of the LIST requests (ListObjects v1/v2, ListObjectVersions) made on ``bucket``."""
        out = []
        for method, path, query in self.requests[since:]:
            q = parse_qs(query, keep_blank_values=True)
            if method == "GET" and path.rstrip("/") == f"/{bucket}" and (
                    not q or {"list-type", "prefix", "delimiter", "marker", "versions"} & set(q)):
                out.append(q.get("prefix", [""])[0])
        return out


@pytest.fixture(scope="module")
def s3() -> Iterator[S3]:
    """moto's S3 on 127.0.0.1 behind a WSGI layer that records every request the server receives."""
    moto_server = pytest.importorskip("moto.server")
    from werkzeug.serving import make_server

    requests: list[tuple[str, str, str]] = []
    app = moto_server.DomainDispatcherApplication(moto_server.create_backend_app)

    def logged(environ: dict[str, Any], start_response: Any) -> Any:
        requests.append((environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", "")))
        return app(environ, start_response)

    port = free_port()
    server = make_server("127.0.0.1", port, logged, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        client = upload(endpoint, {BUCKET: {**LAKE, GONE: parquet_bytes(table(20))}, INV_BUCKET: {}})
        yield S3(endpoint=endpoint, client=client, requests=requests)
    finally:
        server.shutdown()
        thread.join(timeout=10)


def bucket_rows(client: Any) -> list[dict[str, Any]]:
    """The inventory's rows, from a LIST of the bucket (as S3 Inventory would list it), plus what a
    versioned bucket's "all versions" report also holds: an older version and a delete marker."""
    rows = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for o in page.get("Contents", []):
            rows.append({"bucket": BUCKET, "key": o["Key"], "version_id": None, "is_latest": True,
                         "is_delete_marker": False, "size": o["Size"], "last_modified_date": o["LastModified"],
                         "e_tag": o["ETag"].strip('"'), "storage_class": o.get("StorageClass", "STANDARD")})
    t = rows[0]["last_modified_date"] - timedelta(days=3)
    rows.append({**rows[0], "key": "lake/warehouse/orders/part-00009-old.snappy.parquet", "version_id": "v1",
                 "is_latest": False, "size": 999, "last_modified_date": t})
    rows.append({**rows[0], "key": "lake/warehouse/deleted_table/part-00000.parquet", "version_id": "v2",
                 "is_delete_marker": True, "size": None, "last_modified_date": t})
    return rows


def report_files(rows: list[dict[str, Any]], fmt: str) -> tuple[str, bytes]:
    """One data file of a report in ``fmt``, as S3 Inventory writes it."""
    if fmt == "CSV":
        buf = io.StringIO()
        w = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\n")
        for r in rows:
            ts = r["last_modified_date"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + \
                f"{r['last_modified_date'].microsecond // 1000:03d}Z"
            w.writerow([r["bucket"], quote_plus(r["key"], safe="/"), r["version_id"] or "",
                        str(r["is_latest"]).lower(), str(r["is_delete_marker"]).lower(),
                        "" if r["size"] is None else r["size"], ts, r["e_tag"], r["storage_class"]])
        return "csv.gz", gzip.compress(buf.getvalue().encode())
    t = pa.table({
        "bucket": pa.array([r["bucket"] for r in rows], pa.string()),
        "key": pa.array([r["key"] for r in rows], pa.string()),
        "version_id": pa.array([r["version_id"] for r in rows], pa.string()),
        "is_latest": pa.array([r["is_latest"] for r in rows], pa.bool_()),
        "is_delete_marker": pa.array([r["is_delete_marker"] for r in rows], pa.bool_()),
        "size": pa.array([r["size"] for r in rows], pa.int64()),
        "last_modified_date": pa.array([r["last_modified_date"] for r in rows], pa.timestamp("ms", tz="UTC")),
        "e_tag": pa.array([r["e_tag"] for r in rows], pa.string()),
        "storage_class": pa.array([r["storage_class"] for r in rows], pa.string()),
    })
    buf = io.BytesIO()
    if fmt == "ORC":
        orc.write_table(t, buf)
        return "orc", buf.getvalue()
    pq.write_table(t, buf)
    return "parquet", buf.getvalue()


def manifest(fmt: str, files: list[tuple[str, bytes]], created: datetime) -> bytes:
    schema = {"CSV": ", ".join(CSV_FIELDS), "ORC": ORC_SCHEMA, "Parquet": PARQUET_SCHEMA}[fmt]
    return json.dumps({
        "sourceBucket": BUCKET, "destinationBucket": f"arn:aws:s3:::{INV_BUCKET}", "version": "2016-11-30",
        "creationTimestamp": str(int(created.timestamp() * 1000)), "fileFormat": fmt, "fileSchema": schema,
        "files": [{"key": k, "size": len(b), "MD5checksum": hashlib.md5(b).hexdigest()} for k, b in files],
    }, indent=2).encode()


@pytest.fixture(scope="module")
def reports(s3: S3) -> dict[str, str]:
    """A report in each format in the inventory bucket (two data files each); the manifest URIs."""
    rows = bucket_rows(s3.client)
    s3.client.delete_object(Bucket=BUCKET, Key=GONE)
    created = datetime.now(UTC) - timedelta(hours=6)
    out = {}
    for fmt in ("CSV", "ORC", "Parquet"):
        base = f"inv/{BUCKET}/daily-{fmt.lower()}"
        files = []
        for part in (rows[::2], rows[1::2]):
            ext, body = report_files(part, fmt)
            key = f"{base}/data/{uuid.uuid4()}.{ext}"
            s3.client.put_object(Bucket=INV_BUCKET, Key=key, Body=body)
            files.append((key, body))
        body = manifest(fmt, files, created)
        mkey = f"{base}/{created:%Y-%m-%dT%H-%MZ}/manifest.json"
        s3.client.put_object(Bucket=INV_BUCKET, Key=mkey, Body=body)
        s3.client.put_object(Bucket=INV_BUCKET, Key=mkey.replace(".json", ".checksum"),
                             Body=hashlib.md5(body).hexdigest().encode())
        out[fmt] = f"s3a://{INV_BUCKET}/{mkey}"
    return out


@dataclass(frozen=True)
class Scan:
    doc: dict[str, Any]
    lists: list[str]  # prefixes of LIST calls on the data bucket during the scan
    stderr: str


def env(tmp: Path) -> dict[str, str]:
    """The child's environment: AWS keys from the provider chain, and this checkout's rotscan first."""
    out = child_env(tmp, with_keys=True)
    out["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), out.get("PYTHONPATH", "")) if p)
    return out


def run(s3: S3, tmp: Path, *extra: str) -> Scan:
    config = write_config(tmp / "rotscan.toml", s3, keys_in_config=False)  # type: ignore[arg-type]
    since = len(s3.requests)
    done = subprocess.run(
        [*CLI, "scan", f"s3a://{BUCKET}/lake", "--out", str(tmp / "out"),
         "--config", str(config), *extra],
        env=env(tmp), cwd=tmp, capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stdout + done.stderr[-5000:]
    return Scan(json.loads((tmp / "out" / "findings.json").read_text()), s3.lists(BUCKET, since), done.stderr)


def _findings(doc: dict[str, Any]) -> list[tuple[Any, ...]]:
    return sorted((f["uri"], f["category"], f["kind"], tuple(f["related"]), f["action"], f["reclaimable_bytes"],
                   f["confidence"]) for f in doc["findings"] if "/tmp_gone" not in f["uri"])


META = ("uri", "format", "layout", "files", "bytes", "modified_min", "modified_max", "partition_columns",
        "partitions", "small_files", "zero_byte_files")


def _datasets(doc: dict[str, Any], keys: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
    return [d if keys is None else {k: d.get(k) for k in keys} for d in doc["datasets"] if "/tmp_gone" not in d["uri"]]


def crawl(scan: Scan) -> list[str]:
    """The LIST calls of a scan other than the read of rotscan's own cleanup audit under the root
    (``_rotscan/audit/``: a few objects cleanup wrote, newer than any inventory; not the lake) and
    s3a's probe of the object deleted since the report (opening a missing key, s3a asks whether it
    is a directory: "<key>/")."""
    return [p for p in scan.lists if not p.startswith("lake/_rotscan/") and p != GONE + "/"]


@pytest.fixture(scope="module")
def listed(s3: S3, reports: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Scan:
    """The LIST-based scan (after the vanished object was deleted)."""
    return run(s3, tmp_path_factory.mktemp("list"))


def test_the_request_log_sees_lists(listed: Scan) -> None:
    # the observable works: a LIST-based crawl lists the data prefix
    assert any(p.startswith("lake/") or p == "lake" for p in listed.lists), listed.lists


def test_inventory_scan_equals_the_list_scan_without_listing(s3: S3, reports: dict[str, str], listed: Scan,
                                                             tmp_path: Path) -> None:
    got = run(s3, tmp_path, "--s3-inventory", reports["CSV"])
    assert "from the S3 inventory of" in got.stderr and "no LIST calls" in got.stderr, got.stderr[-3000:]
    assert _datasets(got.doc) == _datasets(listed.doc)
    assert _findings(got.doc) == _findings(listed.doc)
    assert any(f["kind"] == "exact_duplicate" for f in got.doc["findings"])
    # The crawl made no LIST call: it would list the root ("lake/") and every directory below it. What
    # remains is Spark reading the profiled datasets: s3a probes each path it is given ("<key>/": is it a
    # directory?) and Delta lists its own _delta_log (and rotscan reads its cleanup audit, see crawl()).
    targets = {parse(d["uri"]).path.lstrip("/") for d in got.doc["datasets"]} | set(LAKE) | {GONE}
    crawl_lists = [p for p in crawl(got) if p.rstrip("/") not in targets and not p.endswith("/_delta_log/")]
    assert crawl_lists == [], got.lists
    assert "lake/" not in got.lists and "lake/exports/" not in got.lists and "lake/warehouse/" not in got.lists
    assert "lake/" in listed.lists  # the LIST-based crawl lists them
    uris = {d["uri"] for d in got.doc["datasets"]}
    assert f"s3a://{BUCKET}/lake/exports/q3 report+final.csv" in uris  # URL-decoded CSV key
    assert not any("deleted_table" in u or "part-00009-old" in u or "other/" in u or "lake-archive" in u
                   for u in uris)
    vanished = [w for w in got.doc["warnings"] if w["code"] in ("vanished", "inventory_vanished")]
    assert {w["code"] for w in vanished} == {"vanished", "inventory_vanished"}, got.doc["warnings"]
    assert any(w["uri"] == f"s3a://{BUCKET}/{GONE}" for w in vanished)
    assert not any(w["code"] == "inventory_stale" for w in got.doc["warnings"])


@pytest.mark.parametrize("fmt", ["ORC", "Parquet"])
def test_orc_and_parquet_reports_list_the_same_lake(s3: S3, reports: dict[str, str], listed: Scan, tmp_path: Path,
                                                    fmt: str) -> None:
    got = run(s3, tmp_path, "--s3-inventory", reports[fmt], "--no-profile")
    assert crawl(got) == []  # metadata-only: no LIST on the data bucket beyond rotscan's own state
    assert _datasets(got.doc, META) == _datasets(listed.doc, META)
    trivial = [f for f in _findings(listed.doc) if f[1] == "trivial" and f[2] != "empty"]
    assert [f for f in _findings(got.doc) if f[1] == "trivial" and f[2] != "empty"] == trivial


def test_inventory_of_another_bucket_is_a_clear_error(s3: S3, reports: dict[str, str], tmp_path: Path) -> None:
    config = write_config(tmp_path / "rotscan.toml", s3, keys_in_config=False)  # type: ignore[arg-type]
    done = subprocess.run(
        [*CLI, "scan", f"s3a://{INV_BUCKET}/inv", "--out", str(tmp_path / "out"),
         "--config", str(config), "--s3-inventory", reports["CSV"], "--quiet"],
        env=env(tmp_path), cwd=tmp_path, capture_output=True, text=True, timeout=600,
        check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    errors = [ln for ln in done.stderr.splitlines() if ln.startswith("Error: ")]
    assert len(errors) == 1 and f"lists bucket '{BUCKET}'" in errors[0], done.stderr
    assert "Traceback" not in done.stderr


# -- in-process: the Spark derivation against the pure-Python reference -------------------------------
def test_spark_listing_matches_the_reference_in_every_format(spark: Any, tmp_path: Path) -> None:
    from rotscan.spark.s3_inventory import listing, read_objects

    t0 = datetime(2026, 11, 1, 12, 0, 0, 123000, tzinfo=UTC)
    keys = ["lake/a/part-00000.parquet", "lake/a/b/c/deep.csv", "lake/x y+z/ü.csv", "lake/marker/", "lake/top.csv",
            "lake", "lake-other/no.csv", "elsewhere/no.csv", "lake/a/b/"]
    rows = [{"bucket": BUCKET, "key": k, "version_id": None, "is_latest": True, "is_delete_marker": False,
             "size": 10 * i, "last_modified_date": t0 + timedelta(seconds=i), "e_tag": "e", "storage_class": "STANDARD"}
            for i, k in enumerate(keys)]
    rows += [{**rows[0], "key": "lake/old.csv", "is_latest": False},
             {**rows[0], "key": "lake/dm.csv", "is_delete_marker": True, "size": None},
             {**rows[0], "bucket": "another-bucket", "key": "lake/foreign.csv"}]
    root = parse(f"s3a://{BUCKET}/lake")
    expected = [(p, n, d, s, round(t, 3)) for p, n, d, s, t in listing_rows_from_objects(
        root, [(r["key"], r["size"], r["last_modified_date"].timestamp()) for r in rows[:len(keys)]])]
    assert ("/lake", "x y+z", True, 0, 0.0) in expected and ("/", "lake", False, 50, round((t0 + timedelta(
        seconds=5)).timestamp(), 3)) in expected
    for fmt in ("CSV", "ORC", "Parquet"):
        ext, body = report_files(rows, fmt)
        path = tmp_path / f"inv.{ext}"
        path.write_bytes(body)
        m = parse_manifest(manifest(fmt, [(str(path), body)], t0), str(tmp_path / "manifest.json"))
        got = [(r["parent"], r["name"], bool(r["is_dir"]), int(r["size"]), round(float(r["mtime"]), 3))
               for r in listing(read_objects(spark, m, [str(path)], root), root).collect()]
        assert got == expected, fmt


def test_a_malformed_csv_report_is_a_clear_error(spark: Any, tmp_path: Path) -> None:
    from rotscan.spark.s3_inventory import build_storage
    from rotscan.storage.local import LocalStorage

    path = tmp_path / "bad.csv.gz"
    path.write_bytes(gzip.compress(b'"rot-lake","lake/a.csv","","true","false","12","not a time","e","STANDARD"\n'
                                   b'"rot-lake","lake/b.csv"\n'))
    m = parse_manifest(manifest("CSV", [(str(path), path.read_bytes())], datetime.now(UTC)),
                       str(tmp_path / "manifest.json"))
    with pytest.raises(S3InventoryError, match=r"S3 inventory data files of .*manifest.json cannot be read"):
        build_storage(spark, m, [str(path)], parse(f"s3a://{BUCKET}/lake"), LocalStorage())

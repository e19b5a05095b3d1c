"""S3 Inventory manifests (parsing, validation, clear errors) and the listing the crawler walks
from an inventory — the same datasets, items and warnings as a real listing of the same tree."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from rotscan.config import load_config
from rotscan.crawl.discover import Crawler, CrawlRules, DatasetCandidate
from rotscan.crawl.s3_inventory import (
    InventoryManifest,
    InventoryStorage,
    S3InventoryError,
    data_file_uris,
    listing_rows_from_objects,
    parse_file_schema,
    parse_manifest,
    read_manifest,
    staleness_warning,
)
from rotscan.errors import VanishedError
from rotscan.storage.local import LocalStorage
from rotscan.uri import Uri, parse

from .lakes import build_trivial_lake

# the schemas of the S3 user guide's example manifests ("Inventory manifest")
CSV_SCHEMA = ("Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, ETag, StorageClass, "
              "IsMultipartUploaded, ReplicationStatus, EncryptionStatus, ObjectLockRetainUntilDate, ObjectLockMode, "
              "ObjectLockLegalHoldStatus, IntelligentTieringAccessTier, BucketKeyStatus, ChecksumAlgorithm, "
              "ObjectAccessControlList, ObjectOwner")
ORC_SCHEMA = ("struct<bucket:string,key:string,version_id:string,is_latest:boolean,is_delete_marker:boolean,"
              "size:bigint,last_modified_date:timestamp,e_tag:string,storage_class:string,"
              "is_multipart_uploaded:boolean,replication_status:string,encryption_status:string,"
              "object_lock_retain_until_date:timestamp,object_lock_mode:string,object_lock_legal_hold_status:string,"
              "intelligent_tiering_access_tier:string,bucket_key_status:string,checksum_algorithm:string,"
              "object_access_control_list:string,object_owner:string>")
PARQUET_SCHEMA = ("message s3.inventory { required binary bucket (UTF8); required binary key (UTF8); optional binary "
                  "version_id (UTF8); optional boolean is_latest; optional boolean is_delete_marker; optional int64 size;"
                  " optional int64 last_modified_date (TIMESTAMP_MILLIS); optional binary e_tag (UTF8); optional "
                  "binary storage_class (UTF8); optional boolean is_multipart_uploaded;}")
# newer reports spell logical types as TIMESTAMP(MILLIS,true) / STRING
PARQUET_SCHEMA_NEW = ("message s3.inventory {  required binary bucket (STRING);  required binary key (STRING);  "
                      "optional int64 size;  optional int64 last_modified_date (TIMESTAMP(MILLIS,true));  "
                      "optional binary e_tag (STRING);}")


def manifest_doc(fmt: str = "CSV", schema: str = CSV_SCHEMA, **over: object) -> dict[str, object]:
    doc: dict[str, object] = {
        "sourceBucket": "rot-lake", "destinationBucket": "arn:aws:s3:::rot-inventory", "version": "2016-11-30",
        "creationTimestamp": "1514944800000", "fileFormat": fmt, "fileSchema": schema,
        "files": [{"key": "inv/rot-lake/daily/data/939c6d46.csv.gz", "size": 2147, "MD5checksum": "f1116606"}],
    }
    doc.update(over)
    return doc


def parsed(doc: dict[str, object]) -> InventoryManifest:
    return parse_manifest(json.dumps(doc).encode(), "s3a://rot-inventory/inv/manifest.json")


@pytest.mark.parametrize(("fmt", "schema", "key", "latest"), [
    ("CSV", CSV_SCHEMA, "Key", "IsLatest"),
    ("ORC", ORC_SCHEMA, "key", "is_latest"),
    ("Parquet", PARQUET_SCHEMA, "key", "is_latest"),
    ("Parquet", PARQUET_SCHEMA_NEW, "key", None),
])
def test_manifests_of_every_format_parse(fmt: str, schema: str, key: str, latest: str | None) -> None:
    m = parsed(manifest_doc(fmt.lower(), schema))  # fileFormat is matched case-insensitively
    assert m.file_format == fmt and m.source_bucket == "rot-lake" and m.destination_bucket == "rot-inventory"
    assert m.created == datetime(2018, 1, 3, 2, 0, tzinfo=UTC)
    assert m.column("Key") == key and m.column("IsLatest") == latest
    assert m.column("LastModifiedDate") in ("LastModifiedDate", "last_modified_date")
    assert m.files[0].key.endswith(".csv.gz") and m.files[0].size == 2147 and m.files[0].md5 == "f1116606"


def test_file_schema_column_order() -> None:
    assert parse_file_schema("CSV", "Bucket, Key, Size, LastModifiedDate") == ("Bucket", "Key", "Size",
                                                                              "LastModifiedDate")
    assert parse_file_schema("Parquet", PARQUET_SCHEMA_NEW) == ("bucket", "key", "size", "last_modified_date", "e_tag")
    assert parse_file_schema("ORC", ORC_SCHEMA)[:6] == ("bucket", "key", "version_id", "is_latest",
                                                         "is_delete_marker", "size")


@pytest.mark.parametrize(("data", "message"), [
    (b"{not json", "not valid JSON"),
    (b"\xff\xfe", "not valid JSON"),
    (b"[1, 2]", "not a JSON object"),
    (json.dumps({k: v for k, v in manifest_doc().items() if k != "files"}).encode(), "missing field(s) files"),
    (json.dumps(manifest_doc(fmt="JSON")).encode(), "unknown fileFormat 'JSON'"),
    (json.dumps(manifest_doc(creationTimestamp="yesterday")).encode(), "not epoch milliseconds"),
    (json.dumps(manifest_doc(files=[])).encode(), "lists no data files"),
    (json.dumps(manifest_doc(files=[{"size": 1}])).encode(), "files[0] has no key"),
    (json.dumps(manifest_doc(fileSchema="Bucket, Key, StorageClass")).encode(), "lacks the field(s) Size, LastModifiedDate"),
    (json.dumps(manifest_doc("ORC", "struct<bucket:string,size:bigint,last_modified_date:timestamp>")).encode(),
     "lacks the field(s) Key"),
    (json.dumps(manifest_doc("ORC", "bucket string, key string")).encode(), "not a struct<"),
    (json.dumps(manifest_doc("Parquet", "schema { key }")).encode(), "not a 'message"),
])
def test_bad_manifests_are_clear_errors(data: bytes, message: str) -> None:
    with pytest.raises(S3InventoryError) as err:
        parse_manifest(data, "s3a://rot-inventory/inv/manifest.json")
    assert message in str(err.value) and "s3a://rot-inventory/inv/manifest.json" in str(err.value)


def test_read_manifest_checks_its_checksum_and_existence(tmp_path: Path) -> None:
    data = json.dumps(manifest_doc()).encode()
    (tmp_path / "manifest.json").write_bytes(data)
    uri = parse(str(tmp_path / "manifest.json"))
    assert read_manifest(LocalStorage(), uri).source_bucket == "rot-lake"  # no checksum file: fine
    (tmp_path / "manifest.checksum").write_text(hashlib.md5(data).hexdigest() + "\n")
    assert read_manifest(LocalStorage(), uri).file_format == "CSV"
    (tmp_path / "manifest.checksum").write_text("0" * 32)
    with pytest.raises(S3InventoryError, match="does not match its manifest.checksum"):
        read_manifest(LocalStorage(), uri)
    with pytest.raises(S3InventoryError, match="does not exist"):
        read_manifest(LocalStorage(), parse(str(tmp_path / "nope" / "manifest.json")))


def test_data_files_in_s3_and_in_a_local_copy(tmp_path: Path) -> None:
    m = parsed(manifest_doc(files=[{"key": "inv/rot-lake/daily/data/a.csv.gz", "size": 1},
                                   {"key": "inv/rot-lake/daily/data/b.csv.gz", "size": 1}]))
    assert data_file_uris(m, parse("s3a://rot-inventory/inv/rot-lake/daily/2026-11-26T00-00Z/manifest.json"),
                          lambda u: False) == ["s3a://rot-inventory/inv/rot-lake/daily/data/a.csv.gz",
                                               "s3a://rot-inventory/inv/rot-lake/daily/data/b.csv.gz"]
    # `aws s3 sync s3://rot-inventory/inv/rot-lake/daily ./daily`: the config-ID directory copied
    copy = tmp_path / "daily"
    (copy / "2026-11-26T00-00Z").mkdir(parents=True)
    (copy / "data").mkdir()
    for n in ("a", "b"):
        (copy / "data" / f"{n}.csv.gz").write_bytes(b"x")
    local = parse(str(copy / "2026-11-26T00-00Z" / "manifest.json"))
    exists = lambda u: os.path.isfile(u.path)  # noqa: E731
    assert data_file_uris(m, local, exists) == [str(parse(str(copy / "data" / f"{n}.csv.gz"))) for n in ("a", "b")]
    (copy / "data" / "b.csv.gz").unlink()
    with pytest.raises(S3InventoryError, match="data file inv/rot-lake/daily/data/b.csv.gz not found"):
        data_file_uris(m, local, exists)


def test_a_stale_inventory_is_a_warning() -> None:
    m = parsed(manifest_doc())
    assert staleness_warning(m, m.created + timedelta(days=1), timedelta(days=2)) is None
    w = staleness_warning(m, m.created + timedelta(days=9, hours=1), timedelta(days=2))
    assert w is not None and w.code == "inventory_stale" and "9 day(s) before the scan" in w.message


def _objects(root: Path) -> list[tuple[str, int, float]]:
    """What an inventory of ``root`` lists: every file as a key, empty directories as markers."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        if not dirnames and not filenames:
            out.append((dirpath.lstrip("/") + "/", 0, 0.0))
        for f in filenames:
            st = os.stat(os.path.join(dirpath, f))
            out.append((os.path.join(dirpath, f).lstrip("/"), st.st_size, st.st_mtime))
    return out


def _crawl(storage: object, root: Uri) -> tuple[list[tuple[object, ...]], Crawler]:
    found: list[DatasetCandidate] = []
    crawler = Crawler(storage, CrawlRules.from_config(load_config()), found.append)  # type: ignore[arg-type]
    crawler.crawl(root)
    return sorted((str(c.uri), c.layout, c.format, c.partition_columns, c.partitions, c.has_success_marker,
                   sorted((str(e.uri), e.size, e.mtime) for e in c.files),
                   None if c.log_entries is None else sorted(str(e.uri) for e in c.log_entries))
                  for c in found), crawler


def test_the_crawler_walks_an_inventory_like_a_listing(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    build_trivial_lake(lake)
    for link in [p for p in lake.rglob("*") if p.is_symlink()]:
        link.unlink()  # object stores have no symlinks
    (lake / "landing").mkdir()  # an empty directory: a marker in an object store
    (tmp_path / "lake-other").mkdir()  # beside the root, never part of it
    (tmp_path / "lake-other" / "x.csv").write_text("a\n1\n")
    root = parse(str(lake))
    rows = listing_rows_from_objects(root, _objects(tmp_path))
    inv = InventoryStorage(LocalStorage(), root, rows, manifest=parsed(manifest_doc()), directory=str(tmp_path))
    listed, by_list = _crawl(LocalStorage(), root)
    from_inv, by_inv = _crawl(inv, root)
    assert from_inv == listed and len(listed) > 10
    assert sorted(by_inv.items, key=str) == sorted(by_list.items, key=str)
    assert sorted(by_inv.warnings, key=str) == sorted(by_list.warnings, key=str)
    assert by_inv.files_seen == by_list.files_seen
    assert inv.objects == sum(len(files) for _, _, files in os.walk(lake))  # lake-other is not below the root
    assert inv.list_dir(root.child("landing")) == []
    with pytest.raises(VanishedError):
        inv.list_dir(root.child("no-such-dir"))
    with pytest.raises(VanishedError):
        inv.stat(parse(str(tmp_path / "lake-other" / "x.csv")))
    inv.close()


def test_objects_deleted_since_the_inventory_are_vanished_warnings(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    (lake / "t").mkdir(parents=True)
    import pyarrow.parquet as pq

    from .lakes import table

    pq.write_table(table(10), lake / "t" / "part-00000.parquet")
    root = parse(str(lake))
    rows = listing_rows_from_objects(root, _objects(lake))
    (lake / "t" / "part-00000.parquet").unlink()  # deleted after the report was taken
    inv = InventoryStorage(LocalStorage(), root, rows, manifest=parsed(manifest_doc()), directory=str(tmp_path))
    from rotscan.crawl.inventory import Inventory

    entries = []
    inventory = Inventory(inv, small_file_bytes=1 << 20, sniff_bytes=4096)
    Crawler(inv, CrawlRules.from_config(load_config()), lambda c: entries.append(inventory.build(c))).crawl(root)
    assert [(w.code, w.uri) for w in entries[0].warnings] == [("vanished", str(root.child("t/part-00000.parquet")))]
    warnings: list[object] = []
    inv.close_inventory(warnings)  # type: ignore[arg-type]
    assert [w.code for w in warnings] == ["inventory_vanished"]  # type: ignore[attr-defined]
    assert "1 object(s) listed in the S3 inventory of 2018-01-03" in warnings[0].message  # type: ignore[attr-defined]

"""S3 Inventory reports as a listing source: the crawl of a bucket without LIST calls.

Amazon S3 Inventory delivers, daily or weekly, a ``manifest.json`` and data files (CSV gzipped
without a header, ORC or Parquet) listing every object of a bucket. This module is the pure-Python
half: it parses and validates the manifest (fields per the S3 user guide, "Inventory manifest")
and answers directory listings from an on-disk index of the inventory's rows, so the crawler walks
the bucket exactly as it walks a LIST-based storage while reads of small metadata (Delta logs,
Parquet footers, CSV headers) still go to the real storage. The data files themselves are read
with Spark (:mod:`rotscan.spark.s3_inventory`), which derives the directory entries and streams
them, sorted, into the index — the driver never holds the bucket's file list in memory.

A manifest::

    {"sourceBucket": "lake", "destinationBucket": "arn:aws:s3:::inv", "version": "2016-11-30",
     "creationTimestamp": "1514944800000", "fileFormat": "CSV",
     "fileSchema": "Bucket, Key, Size, LastModifiedDate, ETag, StorageClass",
     "files": [{"key": "inv/lake/daily/data/939c6d46.csv.gz", "size": 2147, "MD5checksum": "f111…"}]}
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
import sqlite3
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import BinaryIO

from rotscan.errors import RotscanError, StorageError, VanishedError
from rotscan.models import ScanWarning
from rotscan.storage.base import Entry, Storage
from rotscan.uri import Uri

FORMATS = ("CSV", "ORC", "Parquet")
# The logical fields rotscan uses, as the CSV schema names them; ORC and Parquet use snake_case.
REQUIRED = ("Key", "Size", "LastModifiedDate")
OPTIONAL = ("Bucket", "IsLatest", "IsDeleteMarker")
_SNAKE = {"Bucket": "bucket", "Key": "key", "VersionId": "version_id", "IsLatest": "is_latest",
          "IsDeleteMarker": "is_delete_marker", "Size": "size", "LastModifiedDate": "last_modified_date"}
_MANIFEST_MAX_BYTES = 64 << 20


class S3InventoryError(RotscanError):
    """An S3 Inventory report is missing, corrupt or not usable for the scanned root."""


@dataclass(frozen=True)
class InventoryFile:
    key: str  # in the destination bucket
    size: int
    md5: str | None


@dataclass(frozen=True)
class InventoryManifest:
    location: str  # where the manifest was read from
    source_bucket: str
    destination_bucket: str  # the bucket name (the manifest gives an ARN)
    version: str
    created: datetime  # creationTimestamp: when the report began scanning the bucket
    file_format: str  # CSV, ORC or Parquet (canonical spelling)
    schema: tuple[str, ...]  # column names in file order (CSV: as listed; ORC/Parquet: as in the files)
    files: tuple[InventoryFile, ...]

    def column(self, field: str) -> str | None:
        """The column holding a logical field (``"Key"``, ``"IsLatest"`` …), or None when the report
        does not include it."""
        want = field if self.file_format == "CSV" else _SNAKE[field]
        lower = {c.lower(): c for c in self.schema}
        return lower.get(want.lower())


def _fail(location: str, message: str) -> S3InventoryError:
    return S3InventoryError(f"S3 inventory manifest {location}: {message}")


def parse_file_schema(fmt: str, text: str) -> tuple[str, ...]:
    """Column names from a manifest's ``fileSchema``: a comma list for CSV, an ORC type string
    ``struct<bucket:string,…>`` or a Parquet message ``message s3.inventory { required binary bucket
    (UTF8); … }``."""
    text = text.strip()
    if fmt == "CSV":
        names = [n.strip() for n in text.split(",")]
    elif fmt == "ORC":
        m = re.fullmatch(r"struct<(.*)>", text, re.S)
        if m is None:
            raise ValueError(f"ORC fileSchema is not a struct<…> type: {text[:80]!r}")
        names = [part.split(":", 1)[0].strip() for part in m.group(1).split(",")]
    else:
        m = re.fullmatch(r"message\s+[\w.]+\s*\{(.*)\}", text, re.S)
        if m is None:
            raise ValueError(f"Parquet fileSchema is not a 'message … {{ … }}': {text[:80]!r}")
        names = []
        for field in m.group(1).split(";"):
            field = re.sub(r"\(.*?\)+", "", field).split()
            if field:
                # "<repetition> <type> <name>"
                names.append(field[-1])
    if not names or any(not n for n in names):
        raise ValueError(f"empty column name in fileSchema {text[:80]!r}")
    return tuple(names)


def parse_manifest(data: bytes, location: str) -> InventoryManifest:
    """Parse and validate a ``manifest.json``; every problem is an :class:`S3InventoryError` naming
    the manifest and what is wrong with it."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _fail(location, f"not valid JSON ({exc}); is it a manifest.json of an S3 Inventory report?") from exc
    if not isinstance(doc, dict):
        raise _fail(location, "not a JSON object")
    missing = [k for k in ("sourceBucket", "destinationBucket", "creationTimestamp", "fileFormat", "fileSchema",
                           "files") if k not in doc]
    if missing:
        raise _fail(location, "missing field(s) " + ", ".join(missing))
    fmt = {f.lower(): f for f in FORMATS}.get(str(doc["fileFormat"]).lower())
    if fmt is None:
        raise _fail(location, f"unknown fileFormat {doc['fileFormat']!r} (expected CSV, ORC or Parquet)")
    try:
        created = datetime.fromtimestamp(int(str(doc["creationTimestamp"])) / 1000, tz=UTC)
    except (ValueError, OverflowError, OSError) as exc:
        raise _fail(location, f"creationTimestamp {doc['creationTimestamp']!r} is not epoch milliseconds") from exc
    try:
        schema = parse_file_schema(fmt, str(doc["fileSchema"]))
    except ValueError as exc:
        raise _fail(location, str(exc)) from exc
    dest = str(doc["destinationBucket"])
    dest = dest.split(":::", 1)[1] if dest.startswith("arn:") and ":::" in dest else dest
    if not isinstance(doc["files"], list) or not doc["files"]:
        raise _fail(location, "lists no data files")
    files = []
    for i, f in enumerate(doc["files"]):
        if not isinstance(f, dict) or not isinstance(f.get("key"), str) or not f["key"]:
            raise _fail(location, f"files[{i}] has no key")
        try:
            size = int(f.get("size", 0))
        except (TypeError, ValueError) as exc:
            raise _fail(location, f"files[{i}].size {f.get('size')!r} is not a number") from exc
        files.append(InventoryFile(key=f["key"], size=size, md5=f.get("MD5checksum")))
    manifest = InventoryManifest(location=location, source_bucket=str(doc["sourceBucket"]), destination_bucket=dest,
                                 version=str(doc.get("version", "")), created=created, file_format=fmt,
                                 schema=schema, files=tuple(files))
    absent = [f for f in REQUIRED if manifest.column(f) is None]
    if absent:
        raise _fail(location, "the report lacks the field(s) " + ", ".join(absent)
                    + " rotscan needs (enable Size and Last modified in the inventory configuration)")
    return manifest


def verify_checksum(data: bytes, checksum: bytes, location: str) -> None:
    """``manifest.checksum`` holds the MD5 (hex) of ``manifest.json``'s bytes."""
    want = checksum.decode("ascii", errors="replace").strip().split()[0].lower() if checksum.strip() else ""
    got = hashlib.md5(data).hexdigest()  # noqa: S324 - the format's own checksum
    if want != got:
        raise _fail(location, f"does not match its manifest.checksum (MD5 {got}, checksum file says {want or 'nothing'});"
                              " the manifest is corrupt or was replaced while being read")


def read_manifest(storage: Storage, uri: Uri) -> InventoryManifest:
    """Read ``manifest.json`` (and verify it against ``manifest.checksum`` when that is beside it)."""
    try:
        with storage.open_read(uri) as fh:
            data = fh.read(_MANIFEST_MAX_BYTES + 1)
    except VanishedError as exc:
        raise _fail(str(uri), "does not exist") from exc
    except StorageError as exc:
        raise _fail(str(uri), f"cannot be read: {exc}") from exc
    if len(data) > _MANIFEST_MAX_BYTES:
        raise _fail(str(uri), "larger than 64 MiB; not a manifest.json")
    try:
        checksum = storage.read_head(uri.parent.child("manifest.checksum"), 256)
    except StorageError:
        checksum = None
    if checksum is not None:
        verify_checksum(data, checksum, str(uri))
    return parse_manifest(data, str(uri))


def data_file_uris(manifest: InventoryManifest, manifest_uri: Uri, exists: Callable[[Uri], bool]) -> list[str]:
    """Where the report's data files are. In S3 they are keys of the destination bucket. A manifest
    copied to a local or HDFS path (``aws s3 sync`` of the report) is looked up in that copy: each key
    below the nearest ancestor directory of the manifest that holds it (a mirror of the destination
    bucket, or of any prefix of it)."""
    if manifest_uri.scheme == "s3a":
        return [f"s3a://{manifest.destination_bucket}/{f.key.lstrip('/')}" for f in manifest.files]
    out = []
    for f in manifest.files:
        parts = f.key.strip("/").split("/")
        found = None
        base = manifest_uri.parent
        while found is None:
            for i in range(len(parts)):
                cand = Uri(base.scheme, base.authority, posixpath.join(base.path, *parts[i:]))
                if exists(cand):
                    found = cand
                    break
            if base.path == "/":
                break
            base = base.parent
        if found is None:
            raise _fail(str(manifest_uri), f"data file {f.key} not found in the destination bucket's copy "
                                           f"around {manifest_uri.parent}")
        out.append(str(found))
    return out


def staleness_warning(manifest: InventoryManifest, as_of: datetime, max_age: timedelta) -> ScanWarning | None:
    age = as_of - manifest.created
    if age <= max_age:
        return None
    return ScanWarning(None, f"the S3 inventory ({manifest.location}) was taken {manifest.created:%Y-%m-%d %H:%M} UTC, "
                             f"{age.days} day(s) before the scan: objects written since are not seen, objects deleted "
                             "since show up as vanished", "inventory_stale")


# -- the listing ------------------------------------------------------------------------------------
# One row per directory entry below the scanned root: (parent directory path, name, is_dir, size,
# mtime). Spark derives the directory rows and sorts by (parent, name), so inserts append to the
# clustered index.
ListingRow = tuple[str, str, bool, int, float]


class InventoryStorage:
    """A :class:`~rotscan.storage.base.Storage` whose ``list_dir``/``stat`` answer from an S3
    Inventory report (kept in an SQLite index on the driver's local disk, so memory stays flat
    however large the bucket) and whose reads go to the real storage. ``vanished`` counts objects the
    report lists that no longer exist when read."""

    def __init__(self, real: Storage, root: Uri, rows: Iterable[ListingRow], *, manifest: InventoryManifest,
                 directory: str | None = None) -> None:
        self.scheme = real.scheme
        self.real = real
        self.root = root
        self.manifest = manifest
        self.vanished = 0
        self.objects = 0
        self.lists = 0
        self._tmp = tempfile.TemporaryDirectory(prefix="rotscan-inventory-", dir=directory)
        self._db = sqlite3.connect(os.path.join(self._tmp.name, "listing.sqlite"), check_same_thread=False)
        self._db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-16384;"
            "CREATE TABLE entry (parent TEXT NOT NULL, name TEXT NOT NULL, is_dir INTEGER NOT NULL,"
            " size INTEGER NOT NULL, mtime REAL NOT NULL, PRIMARY KEY (parent, name)) WITHOUT ROWID;")
        self._load(rows)

    def _load(self, rows: Iterable[ListingRow]) -> None:
        batch: list[ListingRow] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= 50_000:
                self._insert(batch)
                batch = []
        self._insert(batch)
        self._db.commit()

    def _insert(self, batch: list[ListingRow]) -> None:
        # a key that is both an object and a prefix ("a" and "a/b"): LIST shows the directory; keep it
        self._db.executemany("INSERT INTO entry VALUES (?, ?, ?, ?, ?) ON CONFLICT (parent, name) DO UPDATE SET "
                             "is_dir = max(is_dir, excluded.is_dir), size = CASE WHEN max(is_dir, excluded.is_dir) "
                             "THEN 0 ELSE excluded.size END", batch)
        self.objects += sum(1 for r in batch if not r[2])

    def close(self) -> None:
        self._db.close()
        self._tmp.cleanup()

    def close_inventory(self, warnings: list[ScanWarning]) -> None:
        """After the crawl: note the objects the report lists that are gone, and drop the index."""
        if self.vanished:
            warnings.append(ScanWarning(str(self.root), f"{self.vanished:,} object(s) listed in the S3 inventory of "
                                                        f"{self.manifest.created:%Y-%m-%d %H:%M} UTC no longer exist "
                                                        "(deleted since the report was taken)", "inventory_vanished"))
        self.close()

    def _entry(self, parent: str, name: str, is_dir: int, size: int, mtime: float) -> Entry:
        path = posixpath.join(parent, name)
        return Entry(uri=Uri(self.root.scheme, self.root.authority, path), is_dir=bool(is_dir), size=int(size),
                     mtime=float(mtime))

    def list_dir(self, uri: Uri) -> list[Entry]:
        self.lists += 1
        rows = self._db.execute("SELECT parent, name, is_dir, size, mtime FROM entry WHERE parent = ? ORDER BY name",
                                (uri.path,)).fetchall()
        if not rows:
            self.stat(uri)  # raises VanishedError when there is nothing at all
        return [self._entry(*r) for r in rows]

    def stat(self, uri: Uri) -> Entry:
        if uri.is_within(self.root):
            if self._db.execute("SELECT 1 FROM entry WHERE parent = ? LIMIT 1", (uri.path,)).fetchone():
                return Entry(uri=uri, is_dir=True, size=0, mtime=0.0)  # it has entries: a directory
            row = self._db.execute("SELECT parent, name, is_dir, size, mtime FROM entry WHERE parent = ? AND name = ?",
                                   (uri.parent.path, uri.name)).fetchone()
            if row is not None:
                return self._entry(*row)
        raise VanishedError(f"{uri}: no object at or below it in the S3 inventory ({self.manifest.location})")

    def _vanished(self, uri: Uri, exc: VanishedError) -> VanishedError:
        self.vanished += 1
        return VanishedError(f"{uri}: listed in the S3 inventory of {self.manifest.created:%Y-%m-%d} "
                             f"but no longer exists")

    def open_read(self, uri: Uri) -> BinaryIO:
        try:
            return self.real.open_read(uri)
        except VanishedError as exc:
            raise self._vanished(uri, exc) from exc

    def read_head(self, uri: Uri, n: int) -> bytes:
        try:
            return self.real.read_head(uri, n)
        except VanishedError as exc:
            raise self._vanished(uri, exc) from exc


def listing_rows_from_objects(root: Uri, objects: Iterable[tuple[str, int, float]]) -> list[ListingRow]:
    """The directory rows of a few objects (key, size, mtime) below ``root`` — the same derivation
    the Spark job makes, for small inventories and tests. A key ending in ``/`` is a directory marker."""
    prefix = root.path.strip("/")
    entries: dict[tuple[str, str], ListingRow] = {}
    for key, size, mtime in objects:
        rel = key[len(prefix):].lstrip("/") if prefix else key
        if prefix and not (key == prefix or key.startswith(prefix + "/")):
            continue
        parts = [p for p in rel.split("/") if p]
        is_marker = key.endswith("/")
        parent = root.path
        if not parts:
            if not is_marker and root.path != "/":  # the root is itself an object
                entries.setdefault((root.parent.path, root.name),
                                   (root.parent.path, root.name, False, int(size), float(mtime)))
            continue
        for i, name in enumerate(parts):
            last = i == len(parts) - 1
            is_dir = not last or is_marker
            k = (parent, name)
            if is_dir:
                entries[k] = (parent, name, True, 0, 0.0)
            elif k not in entries:
                entries[k] = (parent, name, False, int(size), float(mtime))
            parent = posixpath.join(parent, name)
    return sorted(entries.values(), key=lambda r: (r[0], r[1]))

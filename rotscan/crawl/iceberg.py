"""Recognise an Iceberg table and read the summary of its current snapshot (no Spark)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone

from rotscan.models import Column
from rotscan.storage.base import Entry, Storage

_METADATA = re.compile(r"^(?:v(\d+)|(\d+)-[0-9a-fA-F-]+)\.(?:gz\.)?metadata\.json(?:\.gz)?$")


@dataclass(frozen=True)
class IcebergSummary:
    rows: int | None
    data_files: int | None
    data_bytes: int | None
    schema: tuple[Column, ...] | None
    last_updated: datetime | None
    snapshot_id: int | None


def metadata_files(entries: list[Entry]) -> list[Entry]:
    return [e for e in entries if not e.is_dir and _METADATA.match(e.name)]


def latest_metadata(entries: list[Entry]) -> Entry | None:
    def version(e: Entry) -> int:
        m = _METADATA.match(e.name)
        assert m is not None
        return int(m.group(1) or m.group(2))

    files = metadata_files(entries)
    return max(files, key=version) if files else None


def read_summary(storage: Storage, entry: Entry) -> IcebergSummary:
    with storage.open_read(entry.uri) as fh:
        raw = fh.read()
    if raw[:2] == b"\x1f\x8b":
        import gzip

        raw = gzip.decompress(raw)
    meta = json.loads(raw)
    schema = None
    schemas = meta.get("schemas") or ([meta["schema"]] if "schema" in meta else [])
    current = meta.get("current-schema-id")
    for s in schemas:
        if current is None or s.get("schema-id") == current:
            schema = tuple(Column(f["name"], f["type"] if isinstance(f["type"], str) else json.dumps(f["type"]))
                           for f in s.get("fields", []))
            break
    snap_id = meta.get("current-snapshot-id")
    rows = files = size = None
    for snap in meta.get("snapshots") or []:
        if snap.get("snapshot-id") == snap_id:
            summary = snap.get("summary") or {}
            rows = int(summary["total-records"]) if "total-records" in summary else None
            files = int(summary["total-data-files"]) if "total-data-files" in summary else None
            size = int(summary["total-files-size"]) if "total-files-size" in summary else None
    if snap_id in (None, -1):
        rows, files, size = 0, 0, 0
    ts = meta.get("last-updated-ms")
    return IcebergSummary(
        rows=rows, data_files=files, data_bytes=size, schema=schema,
        last_updated=None if ts is None else datetime.fromtimestamp(ts / 1000, tz=timezone.utc),
        snapshot_id=snap_id,
    )

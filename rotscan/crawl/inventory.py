"""Turn a discovered dataset into its inventory record, from metadata only (no Spark): Parquet/ORC
footers and Avro block headers give rows and schema, the Delta log gives live files, version and
history, Iceberg metadata gives the current snapshot's summary. Files that cannot be what their
name says (a binary ``.csv``, a truncated Parquet file) are set aside with a warning, so the Spark
profile that follows reads only healthy files."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field, replace

from rotscan.crawl import formats
from rotscan.crawl.delta_log import DeltaLogError, read_snapshot
from rotscan.crawl.discover import DatasetCandidate
from rotscan.crawl.footers import READERS, CorruptFileError
from rotscan.crawl.iceberg import read_summary
from rotscan.crawl.partitions import PartitionStat, delta_partitions, hive_partitions
from rotscan.errors import StorageError, VanishedError
from rotscan.models import Column, Dataset, DeltaInfo, ScanWarning, utc_from_epoch
from rotscan.redundancy.signature import Signature
from rotscan.state import delta_fingerprint, files_fingerprint, iceberg_fingerprint, read_plan_fingerprint
from rotscan.storage.base import Entry, Storage


@dataclass(frozen=True)
class FileIssue:
    """A single file that is ROT or broken by itself (reported as its own finding)."""

    kind: str  # zero_byte, corrupt_file
    uri: str
    root: str
    bytes: int
    mtime: float | None
    detail: str
    dataset: str


@dataclass
class InventoryEntry:
    dataset: Dataset
    # What the Spark profile should read: a format and healthy file URIs (Delta: the table URI).
    read_format: str | None = None
    read_paths: list[str] = field(default_factory=list)
    base_path: str | None = None
    issues: list[FileIssue] = field(default_factory=list)
    warnings: list[ScanWarning] = field(default_factory=list)
    signature: Signature | None = None
    # CSV: the column names of the header line (so Spark needs no job to read it again)
    csv_header: list[str] | None = None
    # JSON: the top-level keys of the records in the head of its first file — a guess (Spark's schema
    # inference reads every record), used only to plan the projections hashed in the profile pass
    json_keys: list[str] | None = None
    # Changes whenever the content (or what the profile reads) can have changed: an incremental
    # scan reuses the stored profile of a dataset whose fingerprint is unchanged (rotscan.state).
    fingerprint: str | None = None
    # Delta: the table's properties (``metaData.configuration`` of its log), e.g. an owner key
    properties: dict[str, str] = field(default_factory=dict)
    # Partitioned datasets: one entry per leaf partition (values, files, bytes), for partition-level
    # retention (:mod:`rotscan.detect.partition_retention`); None when not partitioned
    partition_stats: list[PartitionStat] | None = None
    # Signatures over some of its columns computed in the profile pass (projection candidates known
    # from the schemas before any read; rotscan.profiling), keyed by the sorted canonical column names
    projected: dict[tuple[str, ...], Signature] = field(default_factory=dict)


def csv_header(head: bytes, name: str) -> list[str] | None:
    """Column names from the first line of a CSV file, named as Spark would name them (empty names
    become ``_c<i>``, case-insensitive duplicates get their index appended)."""
    import csv
    import io

    text = head.decode("utf-8", errors="replace")
    line = text.splitlines()[0] if text else ""
    if not line.strip():
        return None
    delimiter = "\t" if name.lower().endswith((".tsv", ".tsv.gz")) else ","
    names = next(csv.reader(io.StringIO(line), delimiter=delimiter), [])
    names = [n if n else f"_c{i}" for i, n in enumerate(names)]
    lower = [n.lower() for n in names]
    return [f"{n}{i}" if lower.count(n.lower()) > 1 else n for i, n in enumerate(names)]


# JSON records of a file's head whose keys guess its columns: a guess either way, and parsing all of a
# 64 KiB head costs ~1.7 ms a dataset on the driver (~0.2 ms for these)
JSON_KEY_RECORDS = 64


def json_keys(head: bytes, whole: bool) -> list[str] | None:
    """The top-level keys of the first :data:`JSON_KEY_RECORDS` JSON-lines records in ``head`` (the
    first bytes of a file; ``whole``: all of it), in order of first appearance; None when no complete
    line is a JSON object. A line cut off at the end of the head, and lines that are not objects, are
    skipped."""
    import json

    text = head.decode("utf-8", errors="replace")
    lines = text.split("\n", JSON_KEY_RECORDS)
    if len(lines) > JSON_KEY_RECORDS or not (whole or text.endswith("\n")):
        lines = lines[:-1]  # the rest of the head, or a line cut off by it
    keys: dict[str, None] = {}
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            keys.update(dict.fromkeys(record))
    return list(keys) or None


def _listing(cand: DatasetCandidate) -> list[tuple[str, int, float]]:
    """(path relative to the dataset, size, mtime) of its files: the input of its fingerprint."""
    return [(e.uri.relative_to(cand.uri) if e.uri != cand.uri else e.uri.name, e.size, e.mtime) for e in cand.files]


def _storage_warning(e: Entry, exc: StorageError) -> ScanWarning:
    if isinstance(exc, VanishedError):
        return ScanWarning(str(e.uri), "file vanished while scanning", "vanished")
    return ScanWarning(str(e.uri), f"cannot read: {exc}", "unreadable")


def _merge_schema(a: tuple[Column, ...] | None, b: tuple[Column, ...]) -> tuple[Column, ...]:
    if a is None:
        return b
    seen = {c.name for c in a}
    return a + tuple(c for c in b if c.name not in seen)


class Inventory:
    def __init__(self, storage: Storage, *, small_file_bytes: int, sniff_bytes: int,
                 as_of: float | None = None) -> None:
        import time

        self.as_of = as_of if as_of is not None else time.time()
        self.storage = storage
        self.small_file_bytes = small_file_bytes
        self.sniff_bytes = sniff_bytes

    def build(self, cand: DatasetCandidate) -> InventoryEntry:
        if cand.layout == "delta":
            entry = self._delta(cand)
        elif cand.layout == "iceberg":
            entry = self._iceberg(cand)
        else:
            entry = self._files(cand)
        if entry.fingerprint is not None:
            entry.fingerprint = read_plan_fingerprint(entry.fingerprint, entry.read_format, entry.read_paths,
                                                      entry.base_path, entry.csv_header)
        return entry

    # -- plain files / part-file tables / Hive-partitioned tables ----------------------------------
    def _files(self, cand: DatasetCandidate) -> InventoryEntry:
        uri = str(cand.uri)
        out = InventoryEntry(dataset=Dataset(uri=uri, format=cand.format, layout=cand.layout, files=0, bytes=0,
                                             root=str(cand.root)))
        healthy: list[Entry] = []
        rows: int | None = 0
        schema: tuple[Column, ...] | None = None
        zero = 0
        for e in cand.files:
            if e.size == 0:
                zero += 1
                out.issues.append(FileIssue("zero_byte", str(e.uri), str(cand.root), 0, e.mtime,
                                            "zero-byte file", uri))
                continue
            fmt = formats.format_from_name(e.name) or cand.format
            if fmt in formats.TEXT_FORMATS:
                _, compression = formats.strip_compression(e.name)
                if compression is None:
                    try:
                        head = self.storage.read_head(e.uri, self.sniff_bytes)
                    except StorageError as exc:
                        out.warnings.append(_storage_warning(e, exc))
                        continue
                    if formats.looks_binary(head):
                        magic = formats.format_from_magic(head)
                        what = f"{magic} data" if magic else "binary content"
                        out.warnings.append(ScanWarning(
                            str(e.uri), f"named like {fmt} but holds {what}; not profiled", "binary_content"))
                        out.issues.append(FileIssue("corrupt_file", str(e.uri), str(cand.root), e.size, e.mtime,
                                                    f"named like {fmt} but holds {what}", uri))
                        continue
                    if fmt == "csv" and out.csv_header is None:
                        out.csv_header = csv_header(head, e.name)
                    elif fmt == "json" and out.json_keys is None:
                        out.json_keys = json_keys(head, whole=len(head) >= e.size)
                rows = None
            elif fmt in READERS:
                try:
                    with self.storage.open_read(e.uri) as fh:
                        meta = READERS[fmt](fh)
                except StorageError as exc:
                    out.warnings.append(_storage_warning(e, exc))
                    continue
                except CorruptFileError as exc:
                    out.warnings.append(ScanWarning(str(e.uri), f"corrupt {fmt} file: {exc}; not profiled",
                                                    "corrupt"))
                    out.issues.append(FileIssue("corrupt_file", str(e.uri), str(cand.root), e.size, e.mtime,
                                                str(exc), uri))
                    continue
                if rows is not None:
                    rows += meta.rows
                schema = _merge_schema(schema, meta.schema)
            else:
                rows = None
            healthy.append(e)

        considered = healthy + [e for e in cand.files if e.size == 0]
        mtimes = [e.mtime for e in considered] or [e.mtime for e in cand.files]
        if not healthy and zero and zero == len(cand.files):
            rows = 0  # nothing but zero-byte files: provably no rows
        elif not healthy:
            rows = None  # nothing readable: unknown, never guessed
        if cand.partition_columns and schema is not None:
            schema = _merge_schema(schema, tuple(Column(c, "partition") for c in cand.partition_columns))
        out.dataset = replace(
            out.dataset,
            files=len(cand.files),
            bytes=sum(e.size for e in cand.files),
            rows=rows,
            rows_source=("footer" if rows is not None and cand.format in READERS else
                         "zero_byte_files" if rows == 0 else None),
            schema=schema,
            modified_min=utc_from_epoch(min(mtimes)) if mtimes else None,
            modified_max=utc_from_epoch(max(mtimes)) if mtimes else None,
            partition_columns=cand.partition_columns,
            partitions=cand.partitions,
            small_files=sum(1 for e in cand.files if 0 < e.size < self.small_file_bytes),
            zero_byte_files=zero,
        )
        out.fingerprint = files_fingerprint(_listing(cand))
        if cand.layout == "hive_partitioned":
            out.partition_stats = hive_partitions((e.uri.relative_to(cand.uri), e.size) for e in cand.files
                                                  if e.uri.is_within(cand.uri))
        if healthy and cand.format in formats.DATA_FORMATS:
            out.read_format = cand.format
            # Every file healthy and exactly what Spark lists in the directory: name the directory
            # (O(1) per dataset); else the healthy files one by one.
            out.read_paths = [uri] if cand.complete and len(healthy) == len(cand.files) else [
                str(e.uri) for e in healthy]
            if cand.layout == "hive_partitioned":
                out.base_path = uri
        return out

    # -- Delta -------------------------------------------------------------------------------------
    def _delta(self, cand: DatasetCandidate) -> InventoryEntry:
        uri = str(cand.uri)
        base = Dataset(uri=uri, format="delta", layout="delta", files=len(cand.files),
                       bytes=sum(e.size for e in cand.files), root=str(cand.root))
        try:
            snap = read_snapshot(self.storage, cand.uri, cand.log_entries)
        except (DeltaLogError, StorageError, ValueError) as exc:
            return InventoryEntry(dataset=base, warnings=[ScanWarning(uri, f"Delta log unreadable: {exc}",
                                                                      "corrupt")])
        listed = {str(e.uri): e for e in cand.files}
        has_dv = any(a.has_deletion_vector for a in snap.adds.values())
        live_keys = snap.live_paths
        stale = [e for k, e in listed.items() if k not in live_keys
                 and not (has_dv and posixpath.basename(k).startswith("deletion_vector_"))]
        missing = [k for k in live_keys if k not in listed]
        warnings = []
        if missing:
            warnings.append(ScanWarning(uri, f"{len(missing)} file(s) referenced by the Delta log are missing "
                                             f"from storage (e.g. {missing[0]}); the table is damaged", "corrupt"))
        horizon = self.as_of - snap.retention_hours * 3600
        # as VACUUM decides: older than the retention by mtime, and not a tombstone the log wrote
        # within the retention (a file an overwrite just removed stays for time travel)
        vacuumable = [e for e in stale if e.mtime < horizon and snap.removed_at.get(str(e.uri), 0.0) < horizon]
        add_mtimes = [a.modification_time for a in snap.adds.values() if a.modification_time is not None]
        live_sizes = [a.size for a in snap.adds.values()]
        info = DeltaInfo(
            version=snap.version,
            last_commit=snap.last_commit,
            last_operation=snap.last_operation,
            live_files=len(snap.adds),
            live_bytes=snap.live_bytes,
            time_travel_files=len(stale),
            time_travel_bytes=sum(e.size for e in stale),
            retention_hours=snap.retention_hours,
            num_records=snap.num_records,
            vacuumable_files=len(vacuumable),
            vacuumable_bytes=sum(e.size for e in vacuumable),
        )
        rows = snap.num_records
        dataset = replace(
            base,
            files=len(snap.adds),
            bytes=snap.live_bytes,
            rows=rows,
            rows_source="delta_stats" if rows is not None else None,
            schema=snap.schema,
            modified_min=utc_from_epoch(min(add_mtimes)) if add_mtimes else snap.last_commit,
            modified_max=snap.last_commit or (utc_from_epoch(max(add_mtimes)) if add_mtimes else None),
            partition_columns=snap.partition_columns,
            partitions=len({posixpath.dirname(k) for k in live_keys}) if snap.partition_columns else 0,
            small_files=sum(1 for s in live_sizes if 0 < s < self.small_file_bytes),
            zero_byte_files=sum(1 for s in live_sizes if s == 0),
            delta=info,
        )
        entry = InventoryEntry(dataset=dataset, warnings=warnings,
                               fingerprint=delta_fingerprint(snap.version, ((k, a.size) for k, a in snap.adds.items())),
                               properties={str(k): str(v) for k, v in snap.configuration.items()})
        if snap.partition_columns:
            entry.partition_stats = delta_partitions(snap.partition_columns,
                                                     ((a.partition_values, a.size) for a in snap.adds.values()))
        if snap.adds and not missing:
            entry.read_format = "delta"
            entry.read_paths = [uri]
        return entry

    # -- Iceberg -----------------------------------------------------------------------------------
    def _iceberg(self, cand: DatasetCandidate) -> InventoryEntry:
        uri = str(cand.uri)
        base = Dataset(uri=uri, format="iceberg", layout="iceberg", files=len(cand.files),
                       bytes=sum(e.size for e in cand.files), root=str(cand.root))
        assert cand.iceberg_metadata is not None
        try:
            s = read_summary(self.storage, cand.iceberg_metadata)
        except (StorageError, ValueError, KeyError, TypeError, OSError) as exc:
            return InventoryEntry(dataset=base, warnings=[ScanWarning(
                uri, f"Iceberg metadata unreadable: {exc}", "corrupt")])
        mtimes = [e.mtime for e in cand.files]
        return InventoryEntry(dataset=replace(
            base,
            files=s.data_files if s.data_files is not None else base.files,
            bytes=s.data_bytes if s.data_bytes is not None else base.bytes,
            rows=s.rows,
            rows_source="iceberg_snapshot" if s.rows is not None else None,
            schema=s.schema,
            modified_min=utc_from_epoch(min(mtimes)) if mtimes else None,
            modified_max=s.last_updated or (utc_from_epoch(max(mtimes)) if mtimes else None),
        ), warnings=[ScanWarning(uri, "Iceberg table: inventoried from its metadata; content not profiled yet",
                                 "not_profiled")],
                              fingerprint=iceberg_fingerprint(str(cand.iceberg_metadata), _listing(cand)))

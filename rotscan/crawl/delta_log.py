"""A read-only Delta log reader (no Spark): enough of the protocol to know a table's live files,
its version, its last commit and its schema.

Supports JSON commits, classic single- and multi-part Parquet checkpoints, V2 checkpoints (JSON or
Parquet, with sidecar files) and ``_last_checkpoint``; ``commitInfo`` in the shapes written by
delta-spark and by delta-rs. Paths in ``add``/``remove`` are URL-encoded relative paths or absolute
URIs (delta-io/delta PROTOCOL.md).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import unquote

from rotscan.errors import StorageError
from rotscan.models import Column
from rotscan.storage.base import Entry, Storage
from rotscan.uri import Uri, parse

_COMMIT = re.compile(r"^(\d{20})\.json$")
_CHECKPOINT = re.compile(r"^(\d{20})\.checkpoint(?:\.(\d{10})\.(\d{10})|\.([0-9a-fA-F-]{36}))?\.(parquet|json)$")
_INTERVAL = re.compile(r"^\s*(?:interval\s+)?(\d+(?:\.\d+)?)\s*(\w+)\s*$", re.IGNORECASE)
_UNIT_HOURS = {
    "second": 1 / 3600, "seconds": 1 / 3600, "minute": 1 / 60, "minutes": 1 / 60,
    "hour": 1.0, "hours": 1.0, "day": 24.0, "days": 24.0, "week": 168.0, "weeks": 168.0,
}
DEFAULT_RETENTION_HOURS = 168.0


class DeltaLogError(Exception):
    """The log cannot be read (missing commits, corrupt JSON/checkpoint)."""


@dataclass
class AddFile:
    path: Uri
    size: int
    modification_time: float | None
    num_records: int | None
    has_deletion_vector: bool = False
    deleted_rows: int = 0  # rows a deletion vector marks as deleted (cardinality)
    # the add's partitionValues (column -> value as a string, None for null)
    partition_values: dict[str, str | None] = field(default_factory=dict)


@dataclass
class DeltaSnapshot:
    table: Uri
    version: int
    adds: dict[str, AddFile] = field(default_factory=dict)  # canonical path -> add
    removed: set[str] = field(default_factory=set)
    # file URI -> when the log removed it (``remove.deletionTimestamp``, epoch seconds): VACUUM keeps a
    # tombstoned file until that is older than the retention, whatever the file's own mtime
    removed_at: dict[str, float] = field(default_factory=dict)
    schema: tuple[Column, ...] | None = None
    partition_columns: tuple[str, ...] = ()
    configuration: dict[str, str] = field(default_factory=dict)
    last_commit: datetime | None = None
    last_operation: str | None = None
    last_commit_info: dict[str, Any] | None = None
    log_entries: list[Entry] = field(default_factory=list)

    @property
    def retention_hours(self) -> float:
        raw = self.configuration.get("delta.deletedFileRetentionDuration")
        if not raw:
            return DEFAULT_RETENTION_HOURS
        m = _INTERVAL.match(raw)
        if not m or m.group(2).lower() not in _UNIT_HOURS:
            return DEFAULT_RETENTION_HOURS
        return float(m.group(1)) * _UNIT_HOURS[m.group(2).lower()]

    @property
    def live_paths(self) -> set[str]:
        """The URIs of the live data files (one per file, whatever its deletion vectors)."""
        return {str(a.path) for a in self.adds.values()}

    @property
    def live_bytes(self) -> int:
        return sum(a.size for a in self.adds.values())

    @property
    def num_records(self) -> int | None:
        total = 0
        for a in self.adds.values():
            if a.num_records is None:
                return None
            total += a.num_records - a.deleted_rows
        return total


def _type_name(t: Any) -> str:
    if isinstance(t, str):
        return t
    if isinstance(t, dict):
        kind = t.get("type")
        if kind == "struct":
            return "struct<" + ",".join(f"{f['name']}:{_type_name(f['type'])}" for f in t.get("fields", [])) + ">"
        if kind == "array":
            return f"array<{_type_name(t.get('elementType'))}>"
        if kind == "map":
            return f"map<{_type_name(t.get('keyType'))},{_type_name(t.get('valueType'))}>"
    return json.dumps(t)


def _resolve(table: Uri, path: str) -> Uri:
    if "://" in path or path.startswith("file:"):
        return parse(path)
    return parse(str(table.child(unquote(path))))


def _num_records(stats: Any) -> int | None:
    if not stats:
        return None
    try:
        obj = json.loads(stats) if isinstance(stats, str) else stats
        n = obj.get("numRecords")
        return None if n is None else int(n)
    except (ValueError, AttributeError, TypeError):
        return None


def _file_key(uri: Uri, action: dict[str, Any]) -> str:
    """A logical file is its path plus its deletion vector (PROTOCOL.md: a DELETE with deletion
    vectors removes (path, old DV) and adds (path, new DV) in one commit)."""
    dv = action.get("deletionVector")
    if not dv:
        return str(uri)
    return f"{uri}#dv:{dv.get('storageType')}:{dv.get('pathOrInlineDv')}:{dv.get('offset')}"


def _partition_values(raw: Any) -> dict[str, str | None]:
    """An add's ``partitionValues``: a JSON object in commits, a list of (key, value) pairs where
    pyarrow reads the map column of a Parquet checkpoint."""
    if isinstance(raw, dict):
        pairs = list(raw.items())
    elif isinstance(raw, list):
        pairs = [(p.get("key"), p.get("value")) if isinstance(p, dict) else tuple(p) for p in raw]
    else:
        return {}
    return {str(k): None if v is None else str(v) for k, v in pairs}


class _Replayer:
    def __init__(self, snap: DeltaSnapshot) -> None:
        self.snap = snap

    def apply(self, action: dict[str, Any], version: int | None = None) -> None:
        snap = self.snap
        if (add := action.get("add")) is not None:
            uri = _resolve(snap.table, add["path"])
            key = _file_key(uri, add)
            mt = add.get("modificationTime")
            snap.adds[key] = AddFile(
                path=uri,
                size=int(add.get("size") or 0),
                modification_time=None if mt is None else float(mt) / 1000.0,
                num_records=_num_records(add.get("stats")),
                has_deletion_vector=bool(add.get("deletionVector")),
                deleted_rows=int((add.get("deletionVector") or {}).get("cardinality") or 0),
                partition_values=_partition_values(add.get("partitionValues")),
            )
            snap.removed.discard(key)
        elif (rm := action.get("remove")) is not None:
            uri = _resolve(snap.table, rm["path"])
            key = _file_key(uri, rm)
            snap.adds.pop(key, None)
            snap.removed.add(key)
            ts = rm.get("deletionTimestamp")
            if isinstance(ts, (int, float)) and not isinstance(ts, bool):
                snap.removed_at[str(uri)] = max(snap.removed_at.get(str(uri), 0.0), float(ts) / 1000.0)
        elif (md := action.get("metaData")) is not None:
            try:
                schema = json.loads(md.get("schemaString") or "{}")
                snap.schema = tuple(Column(f["name"], _type_name(f["type"])) for f in schema.get("fields", []))
            except (ValueError, KeyError, TypeError):
                snap.schema = None
            snap.partition_columns = tuple(md.get("partitionColumns") or ())
            snap.configuration = dict(md.get("configuration") or {})
        elif (ci := action.get("commitInfo")) is not None and version == snap.version:
            snap.last_commit_info = ci
            ts = ci.get("timestamp")
            if isinstance(ts, (int, float)):
                snap.last_commit = datetime.fromtimestamp(ts / 1000.0, tz=timezone.utc)
            op = ci.get("operation")
            snap.last_operation = str(op) if op is not None else None


def _read_json_lines(storage: Storage, uri: Uri) -> list[dict[str, Any]]:
    with storage.open_read(uri) as fh:
        raw = fh.read()
    out = []
    for n, line in enumerate(raw.decode("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except ValueError as exc:
            raise DeltaLogError(f"{uri}: line {n} is not JSON") from exc
    return out


def _read_parquet_actions(storage: Storage, uri: Uri) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    with storage.open_read(uri) as fh:
        try:
            pf = pq.ParquetFile(fh)
            wanted = [c for c in ("add", "remove", "metaData", "sidecar") if c in pf.schema_arrow.names]
            table = pf.read(columns=wanted)
        except Exception as exc:
            raise DeltaLogError(f"{uri}: unreadable checkpoint ({str(exc).splitlines()[0]})") from exc
    actions: list[dict[str, Any]] = []
    for col in wanted:
        for value in table.column(col).to_pylist():
            if value is not None:
                actions.append({col: value})
    return actions


def read_snapshot(storage: Storage, table: Uri, log_entries: list[Entry] | None = None) -> DeltaSnapshot:
    """Replay ``table/_delta_log`` to its latest version."""
    log_dir = table.child("_delta_log")
    try:
        entries = log_entries if log_entries is not None else storage.list_dir(log_dir)
    except StorageError as exc:
        raise DeltaLogError(f"cannot list {log_dir}: {exc}") from exc
    commits: dict[int, Entry] = {}
    checkpoints: dict[int, list[tuple[Entry, re.Match[str]]]] = {}
    for e in entries:
        if m := _COMMIT.match(e.name):
            commits[int(m.group(1))] = e
        elif m := _CHECKPOINT.match(e.name):
            checkpoints.setdefault(int(m.group(1)), []).append((e, m))
    if not commits and not checkpoints:
        raise DeltaLogError(f"{log_dir} holds no commits")
    latest = max([*commits, *checkpoints])
    snap = DeltaSnapshot(table=table, version=latest, log_entries=list(entries))
    replay = _Replayer(snap)

    # Newest complete checkpoint, then the commits after it.
    start = 0
    for cp_version in sorted(checkpoints, reverse=True):
        parts = checkpoints[cp_version]
        multi = [p for p in parts if p[1].group(2)]
        if multi:
            expected = int(multi[0][1].group(3))
            if len({p[1].group(2) for p in multi}) != expected:
                continue  # incomplete multi-part checkpoint: not usable
            chosen = multi
        else:
            chosen = parts[:1]
        try:
            for entry, m in chosen:
                actions = (_read_json_lines(storage, entry.uri) if m.group(5) == "json"
                           else _read_parquet_actions(storage, entry.uri))
                for action in actions:
                    if (sc := action.get("sidecar")) is not None:
                        side = log_dir.child("_sidecars").child(unquote(sc["path"]).split("/")[-1])
                        for side_action in _read_parquet_actions(storage, side):
                            replay.apply(side_action)
                    else:
                        replay.apply(action)
        except (DeltaLogError, StorageError):
            snap.adds.clear()
            snap.removed.clear()
            snap.removed_at.clear()
            continue
        start = cp_version + 1
        break
    else:
        if 0 not in commits:
            raise DeltaLogError(f"{log_dir}: no usable checkpoint and commit 0 is missing")

    for version in range(start, latest + 1):
        found = commits.get(version)
        if found is None:
            raise DeltaLogError(f"{log_dir}: commit {version} is missing")
        entry = found
        for action in _read_json_lines(storage, entry.uri):
            replay.apply(action, version)

    if snap.last_operation is None and latest in commits and start > latest:
        # The latest version is covered by the checkpoint: take its commitInfo from the JSON commit.
        for action in _read_json_lines(storage, commits[latest].uri):
            replay.apply(action, latest)
    if snap.last_commit is None and latest in commits:
        snap.last_commit = datetime.fromtimestamp(commits[latest].mtime, tz=timezone.utc)
    return snap

"""What a path looked like: the fingerprint a plan records and apply compares before acting.

A file's fingerprint is its size and modification time; a directory's is the sorted list of every
file below it (relative path, size, mtime) plus its subdirectories; a Delta table's adds the table
version. Two fingerprints that differ in anything mean the path is no longer what the scan saw.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from rotscan.errors import StorageError, VanishedError
from rotscan.storage.base import Storage
from rotscan.uri import Uri

DELTA_LOG = "_delta_log"


def _ms(mtime: float) -> float:
    return round(mtime, 3)


# Local listings give sub-millisecond mtimes, Hadoop's FileSystem whole milliseconds: two readings
# of one unchanged file may differ by less than this.
MTIME_TOLERANCE = 0.002


@dataclass(frozen=True)
class FileState:
    rel: str  # relative to the action's path; "" when the action is about this one file
    size: int
    mtime: float

    def to_list(self) -> list[Any]:
        return [self.rel, self.size, self.mtime]

    def same(self, other: FileState) -> bool:
        """Same size and modification time (to the millisecond, whichever storage listed it)."""
        return self.size == other.size and abs(self.mtime - other.mtime) < MTIME_TOLERANCE


@dataclass(frozen=True)
class Fingerprint:
    is_dir: bool
    files: tuple[FileState, ...]
    dirs: tuple[str, ...] = ()  # subdirectories (relative), so empty ones are restored too
    symlinks: tuple[str, ...] = ()
    delta_version: int | None = None  # when the path is a Delta table
    nested_tables: tuple[str, ...] = ()  # Delta tables strictly below the path (relative)

    @property
    def bytes(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def newest_mtime(self) -> float | None:
        return max((f.mtime for f in self.files), default=None)

    @property
    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "dir" if self.is_dir else "file",
            "files": [f.to_list() for f in self.files],
            "dirs": list(self.dirs),
            "symlinks": list(self.symlinks),
            "delta_version": self.delta_version,
            "nested_tables": list(self.nested_tables),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Fingerprint:
        return cls(
            is_dir=d["type"] == "dir",
            files=tuple(FileState(str(r), int(s), float(m)) for r, s, m in d.get("files") or ()),
            dirs=tuple(d.get("dirs") or ()),
            symlinks=tuple(d.get("symlinks") or ()),
            delta_version=d.get("delta_version"),
            nested_tables=tuple(d.get("nested_tables") or ()),
        )


def _join(rel: str, name: str) -> str:
    return f"{rel}/{name}" if rel else name


def take(storage: Storage, uri: Uri) -> Fingerprint:
    """The fingerprint of ``uri`` now (symlinks are recorded, never followed).

    Raises :class:`VanishedError` when the path does not exist."""
    top = storage.stat(uri)
    if top.is_symlink:
        return Fingerprint(is_dir=False, files=(), symlinks=("",))
    if not top.is_dir:
        return Fingerprint(is_dir=False, files=(FileState("", top.size, _ms(top.mtime)),))
    files: list[FileState] = []
    dirs: list[str] = []
    links: list[str] = []
    nested: list[str] = []
    stack = [("", uri)]
    while stack:
        rel, d = stack.pop()
        for e in storage.list_dir(d):
            r = _join(rel, e.name)
            if e.is_symlink:
                links.append(r)
            elif e.is_dir:
                dirs.append(r)
                if e.name == DELTA_LOG and rel:
                    nested.append(rel)
                stack.append((r, e.uri))
            else:
                files.append(FileState(r, e.size, _ms(e.mtime)))
    version = None
    if any(d == DELTA_LOG for d in dirs):
        version = delta_version(storage, uri)
    return Fingerprint(is_dir=True, files=tuple(sorted(files, key=lambda f: f.rel)), dirs=tuple(sorted(dirs)),
                       symlinks=tuple(sorted(links)), delta_version=version, nested_tables=tuple(sorted(nested)))


def delta_version(storage: Storage, table: Uri) -> int | None:
    from rotscan.crawl.delta_log import DeltaLogError, read_snapshot

    try:
        return read_snapshot(storage, table).version
    except (DeltaLogError, StorageError):
        return None


def differences(expected: Fingerprint, actual: Fingerprint, limit: int = 3) -> list[str]:
    """Human-readable differences (empty when the path is unchanged)."""
    out: list[str] = []
    if expected.is_dir != actual.is_dir:
        return ["was a " + ("directory" if expected.is_dir else "file") + ", now is not"]
    if expected.delta_version != actual.delta_version:
        out.append(f"Delta version {expected.delta_version} -> {actual.delta_version}")
    before = {f.rel: f for f in expected.files}
    after = {f.rel: f for f in actual.files}
    added = sorted(set(after) - set(before))
    missing = sorted(set(before) - set(after))
    changed = sorted(r for r in set(before) & set(after) if not before[r].same(after[r]))
    for label, items in (("new", added), ("missing", missing), ("changed", changed)):
        if items:
            shown = ", ".join(i or "(the file)" for i in items[:limit])
            more = f" and {len(items) - limit} more" if len(items) > limit else ""
            out.append(f"{len(items)} {label} file(s): {shown}{more}")
    if set(actual.symlinks) - set(expected.symlinks):
        out.append("new symlink(s)")
    if set(actual.dirs) != set(expected.dirs) and not out:
        out.append("directories added or removed")
    return out


def file_state(storage: Storage, uri: Uri) -> FileState | None:
    try:
        e = storage.stat(uri)
    except VanishedError:
        return None
    return FileState("", e.size, _ms(e.mtime))

"""Scan history: a compact snapshot of every scan, the trend over previous scans of the same roots,
the diff against the previous one, and what cleanup runs did (from the lake's audit logs).

``rotscan scan --out DIR`` keeps one snapshot per scan in ``DIR/history/<scan_id>.json``. A
snapshot holds the totals (datasets, bytes, ROT bytes per category, findings) and one short record
per finding (id, uri, kind, category, action, reclaimable bytes) — enough for a trend and a diff,
not the evidence. Finding ids are stable across scans (a hash of kind and path), so the diff of two
snapshots is a set comparison of ids.

Reading history never fails a report: a snapshot file that is not JSON, or not a rotscan
snapshot, becomes a warning and is skipped (and is never deleted by pruning).

Pure functions except :func:`write_snapshot` and :func:`load_history` (local files under DIR).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from rotscan.atomic import write_text_atomic
from rotscan.errors import FindingsFormatError
from rotscan.models import (
    CATEGORIES,
    CleanupRun,
    ScanResult,
    ScanWarning,
    iso,
    parse_iso,
)
from rotscan.report.summary import counted_findings, rot_findings

HISTORY_DIR = "history"
SNAPSHOT_FORMAT = "rotscan-snapshot"
SNAPSHOT_VERSION = 1
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(frozen=True)
class SnapshotFinding:
    id: str
    uri: str
    kind: str
    category: str
    action: str
    reclaimable_bytes: int

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "uri": self.uri, "kind": self.kind, "category": self.category,
                "action": self.action, "reclaimable_bytes": self.reclaimable_bytes}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SnapshotFinding:
        return cls(id=str(d["id"]), uri=str(d["uri"]), kind=str(d["kind"]), category=str(d["category"]),
                   action=str(d["action"]), reclaimable_bytes=int(d["reclaimable_bytes"]))


@dataclass(frozen=True)
class Snapshot:
    """One scan, compactly: enough for a trend point and a diff."""

    scan_id: str
    as_of: datetime
    roots: tuple[str, ...]
    datasets: int
    bytes_scanned: int
    rot_bytes: dict[str, int]  # category -> de-duplicated ROT bytes (summary counting rules)
    findings_count: int
    findings: tuple[SnapshotFinding, ...]

    @property
    def rot_total(self) -> int:
        return sum(self.rot_bytes.values())

    @property
    def root_key(self) -> tuple[str, ...]:
        return roots_key(self.roots)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": SNAPSHOT_FORMAT,
            "version": SNAPSHOT_VERSION,
            "scan_id": self.scan_id,
            "as_of": _precise(self.as_of),
            "roots": list(self.roots),
            "totals": {"datasets": self.datasets, "bytes": self.bytes_scanned,
                       "rot_bytes": {c: int(self.rot_bytes.get(c, 0)) for c in CATEGORIES},
                       "findings": self.findings_count},
            "findings": [f.to_dict() for f in self.findings],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Snapshot:
        if d.get("format") != SNAPSHOT_FORMAT:
            raise ValueError("not a rotscan snapshot (no \"format\": \"rotscan-snapshot\")")
        totals = d["totals"]
        as_of = parse_iso(d["as_of"])
        if as_of is None:
            raise ValueError("snapshot has no as_of")
        return cls(
            scan_id=str(d["scan_id"]),
            as_of=as_of,
            roots=tuple(str(r) for r in d["roots"]),
            datasets=int(totals["datasets"]),
            bytes_scanned=int(totals["bytes"]),
            rot_bytes={str(k): int(v) for k, v in dict(totals["rot_bytes"]).items()},
            findings_count=int(totals["findings"]),
            findings=tuple(SnapshotFinding.from_dict(f) for f in d.get("findings") or ()),
        )


def _precise(ts: datetime) -> str:
    """ISO 8601 UTC keeping microseconds, so scans within one second still order correctly."""
    text = iso(ts) or ""
    return text if not ts.microsecond else text[:-1] + f".{ts.microsecond:06d}Z"


def roots_key(roots: Iterable[str]) -> tuple[str, ...]:
    """Roots compared as a set, trailing slashes aside."""
    return tuple(sorted({r.rstrip("/") or r for r in roots}))


def snapshot_of(result: ScanResult) -> Snapshot:
    """The scan's ROT as the trend and the diff see it: kept findings are not ROT, so a finding kept
    since the previous scan shows as resolved there."""
    findings = rot_findings(result.findings)
    rot: dict[str, int] = dict.fromkeys(CATEGORIES, 0)
    for f in counted_findings(result.findings):
        rot[f.category] += f.reclaimable_bytes
    return Snapshot(
        scan_id=result.scan.id,
        as_of=result.scan.as_of,
        roots=tuple(result.scan.roots),
        datasets=len(result.datasets),
        bytes_scanned=sum(d.bytes for d in result.datasets),
        rot_bytes=rot,
        findings_count=len(findings),
        findings=tuple(SnapshotFinding(f.id, f.uri, f.kind, f.category, f.action, f.reclaimable_bytes)
                       for f in findings),
    )


def _order(s: Snapshot) -> tuple[datetime, str]:
    return (s.as_of, s.scan_id)


def snapshot_path(out_dir: Path, scan_id: str) -> Path:
    return Path(out_dir) / HISTORY_DIR / f"{_SAFE_NAME.sub('_', scan_id) or 'scan'}.json"


def write_snapshot(result: ScanResult, out_dir: Path, *, keep: int) -> tuple[Path, list[Path]]:
    """Write ``out_dir/history/<scan_id>.json`` atomically, then prune the snapshots of the same roots
    to the newest ``keep`` (files that are not readable snapshots are never deleted). Returns the
    snapshot's path and the pruned paths."""
    snap = snapshot_of(result)
    target = snapshot_path(out_dir, snap.scan_id)
    write_text_atomic(target, json.dumps(snap.to_dict(), separators=(",", ":"), ensure_ascii=False) + "\n")
    pruned: list[Path] = []
    if keep > 0:
        entries, _ = _read_dir(target.parent)
        same = sorted(((p, s) for p, s in entries if s.root_key == snap.root_key), key=lambda ps: _order(ps[1]))
        for path, _snap in same[:-keep]:
            if path == target:
                continue
            with contextlib.suppress(OSError):
                path.unlink()
                pruned.append(path)
    return target, pruned


def _read_dir(directory: Path) -> tuple[list[tuple[Path, Snapshot]], list[ScanWarning]]:
    out: list[tuple[Path, Snapshot]] = []
    warnings: list[ScanWarning] = []
    try:
        names = sorted(p for p in directory.iterdir() if p.suffix == ".json" and not p.name.startswith("."))
    except FileNotFoundError:
        return [], []
    except OSError as exc:
        return [], [ScanWarning(str(directory), f"cannot list scan history: {exc.strerror or exc}", "history")]
    for path in names:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            out.append((path, Snapshot.from_dict(data)))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            warnings.append(ScanWarning(str(path), f"skipped scan history file: {exc}", "history"))
    return out, warnings


def load_history(out_dir: Path) -> tuple[list[Snapshot], list[ScanWarning]]:
    """Every readable snapshot under ``out_dir/history`` (oldest first) and a warning per bad file."""
    entries, warnings = _read_dir(Path(out_dir) / HISTORY_DIR)
    return sorted((s for _, s in entries), key=_order), warnings


def load_previous(path: Path) -> Snapshot:
    """A scan to compare with, given as a ``findings.json`` (or a directory holding one) or a snapshot."""
    path = Path(path)
    if path.is_dir():
        path = path / "findings.json"
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FindingsFormatError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise FindingsFormatError(f"{path} is not readable JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise FindingsFormatError(f"{path} is neither a findings.json nor a rotscan snapshot")
    try:
        if data.get("format") == SNAPSHOT_FORMAT:
            return Snapshot.from_dict(data)
        if "scan" in data and "findings" in data:
            return snapshot_of(ScanResult.from_dict(data))
    except (KeyError, TypeError, ValueError) as exc:
        raise FindingsFormatError(f"{path} is not a valid rotscan findings file or snapshot: {exc}") from exc
    raise FindingsFormatError(f"{path} is neither a findings.json nor a rotscan snapshot")


# ---------------------------------------------------------------------------------------------
# Trend and diff


def trend(snapshots: Sequence[Snapshot], current: Snapshot) -> tuple[Snapshot, ...]:
    """The snapshots of the same roots as ``current`` (it included, once), oldest first. A stored
    snapshot of the current scan is preferred: it keeps sub-second time, findings.json does not."""
    by_id = {s.scan_id: s for s in snapshots if s.root_key == current.root_key}
    by_id.setdefault(current.scan_id, current)
    return tuple(sorted(by_id.values(), key=_order))


def previous_of(snapshots: Sequence[Snapshot], current: Snapshot) -> Snapshot | None:
    """The latest scan of the same roots before ``current``."""
    points = trend(snapshots, current)
    here = next(s for s in points if s.scan_id == current.scan_id)
    earlier = [s for s in points if s.scan_id != current.scan_id and _order(s) < _order(here)]
    return earlier[-1] if earlier else None


@dataclass(frozen=True)
class ScanDiff:
    previous: Snapshot
    current: Snapshot
    new: tuple[SnapshotFinding, ...]  # in the current scan, not in the previous one
    resolved: tuple[SnapshotFinding, ...]  # in the previous scan, gone now (as the previous scan saw them)
    still_open: tuple[SnapshotFinding, ...]  # in both (as the current scan sees them)
    same_roots: bool

    @property
    def new_bytes(self) -> int:
        return sum(f.reclaimable_bytes for f in self.new)

    @property
    def resolved_bytes(self) -> int:
        return sum(f.reclaimable_bytes for f in self.resolved)

    @property
    def still_open_bytes(self) -> int:
        return sum(f.reclaimable_bytes for f in self.still_open)

    @property
    def rot_change(self) -> int:
        return self.current.rot_total - self.previous.rot_total


def _largest_first(items: Iterable[SnapshotFinding]) -> tuple[SnapshotFinding, ...]:
    return tuple(sorted(items, key=lambda f: (-f.reclaimable_bytes, f.uri, f.id)))


def diff(previous: Snapshot, current: Snapshot) -> ScanDiff:
    """New, resolved and still-open findings by their stable ids, largest first."""
    before = {f.id: f for f in previous.findings}
    now = {f.id: f for f in current.findings}
    return ScanDiff(
        previous=previous,
        current=current,
        new=_largest_first(f for i, f in now.items() if i not in before),
        resolved=_largest_first(f for i, f in before.items() if i not in now),
        still_open=_largest_first(f for i, f in now.items() if i in before),
        same_roots=previous.root_key == current.root_key,
    )


@dataclass(frozen=True)
class CleanupTotals:
    runs: tuple[CleanupRun, ...]  # newest first
    reclaimed_bytes: int  # quarantined + vacuumed - restored, over every run
    purged_bytes: int
    since: datetime | None  # the previous scan's as_of
    runs_since: int
    reclaimed_since: int  # of runs that started since ``since`` (to the second)


def cleanup_totals(runs: Sequence[CleanupRun], since: datetime | None) -> CleanupTotals:
    # audit times have second precision: a run in the same second as the previous scan counts as since
    cut = None if since is None else since.replace(microsecond=0)
    recent = [r for r in runs if cut is not None and r.first is not None and r.first >= cut]
    return CleanupTotals(
        runs=tuple(sorted(runs, key=lambda r: (r.first is not None, r.first or datetime.min, r.run_id),
                          reverse=True)),
        reclaimed_bytes=sum(r.reclaimed_bytes for r in runs),
        purged_bytes=sum(r.nbytes("purged") for r in runs),
        since=since,
        runs_since=len(recent),
        reclaimed_since=sum(r.reclaimed_bytes for r in recent),
    )


# ---------------------------------------------------------------------------------------------
# What the report shows


@dataclass(frozen=True)
class ReportHistory:
    trend: tuple[Snapshot, ...]  # same roots, oldest first, the current scan last
    previous: Snapshot | None
    diff: ScanDiff | None
    previous_source: str  # "history", "explicit" or "" (none)
    cleanup: CleanupTotals
    warnings: tuple[ScanWarning, ...]


def report_history(result: ScanResult, snapshots: Sequence[Snapshot] = (), *,
                   previous: Snapshot | None = None,
                   warnings: Sequence[ScanWarning] = ()) -> ReportHistory:
    """Trend, previous scan and diff for ``result``. An explicit ``previous`` wins over history."""
    current = snapshot_of(result)
    points = trend(snapshots, current)
    source = "explicit" if previous is not None else ""
    if previous is None:
        previous = previous_of(snapshots, current)
        source = "history" if previous is not None else ""
    return ReportHistory(
        trend=points,
        previous=previous,
        diff=None if previous is None else diff(previous, current),
        previous_source=source,
        cleanup=cleanup_totals(result.cleanup_history, None if previous is None else previous.as_of),
        warnings=tuple(warnings),
    )

"""Partition-level retention: ``[[obsolete.retention]]`` policies with a ``partition_column`` expire
the partitions of a dataset whose date is past the policy's age, not the whole dataset.

A partition is dated by the VALUE it holds — ``dt=2024-01-31`` holds the data of 31 January 2024 —
never by file modification times (a backfill rewrites old partitions today; a copy resets every
mtime). It is expired when the END of the period it holds (the next day, or the first of the next
month for a month partition) lies more than ``max_age_days`` before the scan's as-of time. A value
that is no date in the policy's format (``__HIVE_DEFAULT_PARTITION__``, a null, ``unknown``) is
never expired: it is reported as undated (in the finding's evidence and as a scan warning).

Formats (``date_format``, one partition column): ``YYYY-MM-DD`` (default), ``YYYYMMDD``,
``YYYY/MM/DD``, ``YYYY-MM``, ``YYYYMM``. Split columns (``partition_column = ["year", "month",
"day"]`` or ``["year", "month"]``) hold the date's parts as integers.

What a partition is: for a Hive-partitioned directory, the ``key=value`` directory down to the
deepest date column (``dt=2024-01-31`` of ``dt=…/region=…``, or ``region=eu/dt=2024-01-31``); for a
Delta table, the combination of the date columns' values (cleanup deletes it with a predicate on
those columns only). One finding per dataset, kind ``expired_partitions``, lists every expired
partition with its values, files and bytes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from rotscan.crawl.partitions import PartitionStat
from rotscan.models import Dataset, Finding, ScanWarning

KIND = "expired_partitions"
DATE_FORMATS: dict[str, re.Pattern[str]] = {
    "YYYY-MM-DD": re.compile(r"^(\d{4})-(\d{2})-(\d{2})$"),
    "YYYYMMDD": re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
    "YYYY/MM/DD": re.compile(r"^(\d{4})/(\d{2})/(\d{2})$"),
    "YYYY-MM": re.compile(r"^(\d{4})-(\d{2})$"),
    "YYYYMM": re.compile(r"^(\d{4})(\d{2})$"),
}
DEFAULT_FORMAT = "YYYY-MM-DD"
ACTIONS = ("quarantine", "delete", "review")
UNDATED_SHOWN = 20


@dataclass(frozen=True)
class PartitionUnit:
    """What retention expires as one piece: a partition directory (Hive) or one combination of the
    date columns' values (Delta), with the leaf partitions' files and bytes summed."""

    values: tuple[tuple[str, str | None], ...]
    path: str | None
    files: int
    bytes: int

    def to_dict(self) -> dict[str, Any]:
        return {"values": dict(self.values), "path": self.path, "files": self.files, "bytes": self.bytes}


def covered_paths(f: Finding) -> list[str]:
    """The paths a finding's action takes out: its URI, or for ``expired_partitions`` only the
    expired Hive partition directories (a Delta table keeps every path: DELETE removes rows)."""
    if f.kind != KIND:
        return [f.uri]
    return [f"{f.uri}/{u['path']}" for u in f.evidence.get("expired") or () if isinstance(u, dict) and u.get("path")]


def _next_month(y: int, m: int) -> date:
    return date(y + 1, 1, 1) if m == 12 else date(y, m + 1, 1)


def period(values: Sequence[str | None], date_format: str) -> tuple[date, date] | None:
    """(first day, day after the last day) of the period partition ``values`` hold (one value in
    ``date_format``, or the split year/month[/day] values); None when they are no date."""
    if any(v is None for v in values):
        return None
    try:
        if len(values) == 1:
            m = DATE_FORMATS[date_format].match(str(values[0]).strip())
            if m is None:
                return None
            nums = [int(g) for g in m.groups()]
        else:
            if not all(re.fullmatch(r"\d{1,4}", str(v).strip()) for v in values):
                return None
            nums = [int(str(v)) for v in values]
        if len(nums) == 3:
            start = date(nums[0], nums[1], nums[2])
            return start, start + timedelta(days=1)
        start = date(nums[0], nums[1], 1)
        return start, _next_month(nums[0], nums[1])
    except ValueError:
        return None  # 2024-02-30, month 13


def _units(ds: Dataset, stats: Iterable[PartitionStat], columns: tuple[str, ...]) -> list[PartitionUnit]:
    """The retention units of a dataset (see the module docstring), sorted by path/values."""
    acc: dict[Any, list[Any]] = {}
    if ds.layout == "delta":
        for s in stats:
            key = tuple((c, s.value(c)) for c in columns)
            u = acc.setdefault(key, [key, None, 0, 0])
            u[2], u[3] = u[2] + s.files, u[3] + s.bytes
    else:
        depth = max(ds.partition_columns.index(c) for c in columns) + 1
        for s in stats:
            if s.path is None:
                continue
            segs = s.path.split("/")
            if len(segs) < depth or [k for k, _ in s.values[:depth]] != list(ds.partition_columns[:depth]):
                u = acc.setdefault(s.path, [s.values, s.path, 0, 0])  # laid out otherwise: its own directory
            else:
                path = "/".join(segs[:depth])
                u = acc.setdefault(path, [s.values[:depth], path, 0, 0])
            u[2], u[3] = u[2] + s.files, u[3] + s.bytes
    units = [PartitionUnit(tuple(v), p, n, b) for v, p, n, b in acc.values()]
    return sorted(units, key=lambda u: (u.path or "", [(c, v or "") for c, v in u.values]))


def _date_values(u: PartitionUnit, columns: tuple[str, ...]) -> list[str | None]:
    d = dict(u.values)
    return [d.get(c) for c in columns]


def _label(u: PartitionUnit) -> str:
    return u.path or ", ".join(f"{c}={v}" for c, v in u.values)


def expired_partitions(ds: Dataset, stats: Sequence[PartitionStat] | None, policy: Any, as_of: datetime,
                       warnings: list[ScanWarning]) -> Finding | None:
    """The ``expired_partitions`` finding of ``ds`` under a partition-level ``policy``
    (:class:`rotscan.detect.obsolete.RetentionPolicy`), or None; what keeps a partition from being
    dated (a missing column, undated values) becomes a warning."""
    columns: tuple[str, ...] = policy.partition_columns
    what = ", ".join(columns)
    if ds.layout not in ("hive_partitioned", "delta") or not ds.partition_columns:
        warnings.append(ScanWarning(ds.uri, f"retention policy {policy.glob!r} expires partitions by {what}, but "
                                    f"this {ds.layout.replace('_', ' ')} dataset is not partitioned; nothing expired",
                                    "retention_not_partitioned"))
        return None
    missing = [c for c in columns if c not in ds.partition_columns]
    if missing:
        warnings.append(ScanWarning(ds.uri, f"retention policy {policy.glob!r} expires partitions by {what}, but the "
                                    f"dataset is partitioned by {', '.join(ds.partition_columns)}; nothing expired",
                                    "retention_column_missing"))
        return None
    if stats is None:
        return None
    units = _units(ds, stats, columns)
    limit = timedelta(days=policy.max_age_days)
    expired: list[tuple[PartitionUnit, date]] = []
    kept: list[tuple[PartitionUnit, date]] = []
    undated: list[PartitionUnit] = []
    for u in units:
        p = period(_date_values(u, columns), policy.date_format)
        if p is None:
            undated.append(u)
            continue
        end = datetime(p[1].year, p[1].month, p[1].day, tzinfo=as_of.tzinfo)
        (expired if as_of - end > limit else kept).append((u, p[0]))
    if undated:
        shown = ", ".join(repr(_label(u)) for u in undated[:3])
        warnings.append(ScanWarning(ds.uri, f"{len(undated):,} partition(s) hold no {policy.date_format if len(columns) == 1 else 'year/month/day'} "
                                    f"date in {what} (e.g. {shown}): never expired by retention policy {policy.glob!r}",
                                    "retention_undated"))
    if not expired:
        return None
    expired.sort(key=lambda t: t[1])
    nbytes = sum(u.bytes for u, _ in expired)
    nfiles = sum(u.files for u, _ in expired)
    every = not kept and not undated
    oldest, newest = expired[0][1].isoformat(), expired[-1][1].isoformat()
    newest_kept = max((d for _, d in kept), default=None)
    explanation = (f"retention policy {policy.glob!r} keeps {policy.max_age_days:g} days of partitions by {what}; "
                   f"{len(expired):,} of {len(units):,} partition(s) are older ({oldest}"
                   + (f" to {newest}" if newest != oldest else "") + f"), {nfiles:,} file(s), {nbytes:,} bytes")
    if every:
        explanation += "; EVERY partition is expired: the dataset would be left empty"
    if undated:
        explanation += f"; {len(undated):,} undated partition(s) kept"
    return Finding(
        uri=ds.uri, category="obsolete", kind=KIND, action=policy.action, confidence=0.9, reclaimable_bytes=nbytes,
        explanation=explanation,
        evidence={
            "policy": policy.glob, "max_age_days": policy.max_age_days, "partition_columns": list(columns),
            "date_format": policy.date_format if len(columns) == 1 else "split",
            "layout": "delta" if ds.layout == "delta" else "hive",
            "partitions": len(units), "expired_partitions": len(expired), "expired_files": nfiles,
            "expired_bytes": nbytes, "oldest_expired": oldest, "newest_expired": newest,
            "newest_kept": None if newest_kept is None else newest_kept.isoformat(),
            "kept_partitions": len(kept), "all_expired": every,
            "expired": [{**u.to_dict(), "date": d.isoformat()} for u, d in expired],
            "undated_partitions": len(undated), "undated": [u.to_dict() for u in undated[:UNDATED_SHOWN]],
            "delta_version": ds.delta.version if ds.delta is not None else None,
        },
    )

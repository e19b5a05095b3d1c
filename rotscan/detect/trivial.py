"""Trivial ROT: data that holds no information worth its cost.

Rules (each a ``kind`` in findings.json):

- ``empty``: a table with zero rows (Parquet footers, Delta stats, a header-only CSV);
- ``zero_byte``: a zero-byte file (markers such as ``_SUCCESS`` are never counted);
- ``write_debris``: ``_temporary``/``.spark-staging-*``/attempt directories, or a table directory
  holding nothing but such debris;
- ``junk_file``: OS/editor junk (``.DS_Store``, ``._*``, ``Thumbs.db``, ``.ipynb_checkpoints``) and
  orphan Hadoop ``.crc`` checksums;
- ``constant``: every column holds one value or only nulls (from a minimum row count on);
- ``tiny``: a very small table *in a scratch location* — size alone never makes data trivial;
- ``corrupt_file``: a file that cannot be what its name says (truncated Parquet, binary ``.csv``).

Detectors are pure functions of the inventory; they never touch data.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from rotscan.core.formatting import format_bytes
from rotscan.crawl.discover import PathItem
from rotscan.crawl.inventory import FileIssue
from rotscan.models import Dataset, Finding, iso, utc_from_epoch


@dataclass(frozen=True)
class TrivialRules:
    constant_min_rows: int = 10
    tiny_max_rows: int = 100
    tiny_max_bytes: int = 65536
    scratch_globs: tuple[str, ...] = ()
    min_debris_age_hours: float = 24.0

    @classmethod
    def from_config(cls, config: Any) -> TrivialRules:
        t: Mapping[str, Any] = config.section("trivial")
        return cls(
            constant_min_rows=int(t["constant_min_rows"]),
            tiny_max_rows=int(t["tiny_max_rows"]),
            tiny_max_bytes=int(t["tiny_max_bytes"]),
            scratch_globs=tuple(t["scratch_globs"]),
            min_debris_age_hours=float(t["min_debris_age_hours"]),
        )


_JUNK_WHAT = {
    ".DS_Store": "macOS Finder metadata",
    "Thumbs.db": "Windows thumbnail cache",
    "desktop.ini": "Windows folder settings",
    ".ipynb_checkpoints": "Jupyter autosave checkpoints",
    "__MACOSX": "macOS archive metadata",
    ".Trashes": "macOS trash folder",
    ".Spotlight-V100": "macOS Spotlight index",
    ".fseventsd": "macOS file-system event log",
}


def _junk_what(name: str) -> str:
    if name in _JUNK_WHAT:
        return _JUNK_WHAT[name]
    if name.startswith("._"):
        return "AppleDouble resource-fork file left by macOS"
    if name.endswith("~") or name.endswith(".swp"):
        return "editor backup/swap file"
    return "OS/editor junk"


def in_scratch(rel: str, globs: Iterable[str]) -> str | None:
    """The scratch glob a relative path matches (the path itself or as a directory), else None."""
    low = rel.lower()
    for g in globs:
        if fnmatch.fnmatchcase(low, g) or fnmatch.fnmatchcase(low + "/", g) or fnmatch.fnmatchcase(low + "/x", g):
            return g
    return None


def _age_hours(mtime: datetime | None, as_of: datetime) -> float | None:
    if mtime is None:
        return None
    return (as_of - mtime) / timedelta(hours=1)


def _rows(n: int) -> str:
    return f"{n:,} row" + ("" if n == 1 else "s")


def detect_trivial(
    datasets: Iterable[Dataset],
    items: Iterable[PathItem],
    issues: Iterable[FileIssue],
    rules: TrivialRules,
    as_of: datetime,
    *,
    recently_read: Iterable[str] = (),
) -> list[Finding]:
    """``recently_read``: datasets usage data shows are read — a tiny table that is read is not ROT."""
    findings: list[Finding] = []
    flagged_datasets: set[str] = set()
    read = set(recently_read)

    for ds in datasets:
        f = _dataset_finding(ds, rules, as_of)
        if f is not None and f.kind == "tiny" and ds.uri in read:
            continue
        if f is not None:
            findings.append(f)
            flagged_datasets.add(ds.uri)

    for item in items:
        findings.append(_item_finding(item, rules, as_of))

    for issue in issues:
        if issue.dataset in flagged_datasets and issue.kind == "zero_byte":
            continue  # the whole table is already reported (empty); not each of its files
        mtime = utc_from_epoch(issue.mtime)
        if issue.kind == "zero_byte":
            findings.append(Finding(
                uri=issue.uri, category="trivial", kind="zero_byte", action="delete", confidence=0.95,
                reclaimable_bytes=0,
                explanation="zero-byte file: holds no data (an empty object still costs a listing entry "
                            "and breaks some readers)",
                evidence={"bytes": 0, "modified": iso(mtime), "dataset": issue.dataset},
            ))
        elif issue.kind == "corrupt_file":
            findings.append(Finding(
                uri=issue.uri, category="trivial", kind="corrupt_file", action="review", confidence=0.9,
                reclaimable_bytes=issue.bytes,
                explanation=f"unreadable file ({issue.detail}); Spark cannot read it as part of its table",
                evidence={"bytes": issue.bytes, "modified": iso(mtime), "problem": issue.detail,
                          "dataset": issue.dataset},
            ))
    return findings


def _dataset_finding(ds: Dataset, rules: TrivialRules, as_of: datetime) -> Finding | None:
    whole_bytes = ds.bytes + (ds.delta.time_travel_bytes if ds.delta else 0)
    age = _age_hours(ds.modified_max, as_of)
    evidence: dict[str, Any] = {"rows": ds.rows, "rows_source": ds.rows_source, "bytes": ds.bytes,
                                "files": ds.files, "modified": iso(ds.modified_max), "format": ds.format}
    if ds.delta is not None:
        evidence["delta_version"] = ds.delta.version
        evidence["delta_last_operation"] = ds.delta.last_operation

    if ds.rows == 0:
        if ds.layout == "file" and ds.zero_byte_files == ds.files:
            return None  # a single zero-byte file: reported as zero_byte
        young = age is not None and age < rules.min_debris_age_hours
        what = "header-only CSV" if ds.format == "csv" and ds.bytes > 0 else f"{ds.format} dataset"
        source = {"footer": "file footers", "delta_stats": "Delta log statistics", "spark_count": "a full count",
                  "zero_byte_files": "its files are all zero bytes", "iceberg_snapshot": "Iceberg snapshot summary"
                  }.get(ds.rows_source or "", "the data")
        return Finding(
            uri=ds.uri, category="trivial", kind="empty",
            action="review" if young else "quarantine",
            confidence=0.6 if young else (0.85 if ds.format == "delta" else 0.95),
            reclaimable_bytes=whole_bytes,
            explanation=f"empty {what}: 0 rows (from {source}) in {ds.files:,} file(s), {format_bytes(whole_bytes)}"
                        + ("; changed in the last day, may be in the middle of a write" if young else ""),
            evidence=evidence,
        )

    profiled = ds.rows is not None and ds.constant_columns is not None and ds.null_columns is not None
    columns = len(ds.constant_columns or ()) + len(ds.null_columns or ())
    if (profiled and ds.constant_columns is not None and ds.null_columns is not None and ds.rows is not None
            and ds.rows >= rules.constant_min_rows and columns > 0 and ds.schema is not None
            and columns >= len([c for c in ds.schema if c.type != "partition"])):
        evidence.update(constant_columns=list(ds.constant_columns), null_columns=list(ds.null_columns))
        parts = []
        if ds.constant_columns:
            parts.append(f"{len(ds.constant_columns)} column(s) hold a single value")
        if ds.null_columns:
            parts.append(f"{len(ds.null_columns)} column(s) are all null")
        return Finding(
            uri=ds.uri, category="trivial", kind="constant", action="review", confidence=0.8,
            reclaimable_bytes=whole_bytes,
            explanation=f"{_rows(ds.rows)} that are all the same: " + " and ".join(parts)
                        + "; one row would carry the same information",
            evidence=evidence,
        )

    rel = ds.relative_path
    glob = in_scratch(rel, rules.scratch_globs)
    small = (ds.rows <= rules.tiny_max_rows) if ds.rows is not None else (whole_bytes <= rules.tiny_max_bytes)
    if glob is not None and ds.format != "unknown" and small:
        evidence.update(scratch_glob=glob)
        size = _rows(ds.rows) + ", " if ds.rows is not None else "rows unknown, "
        return Finding(
            uri=ds.uri, category="trivial", kind="tiny", action="quarantine", confidence=0.6,
            reclaimable_bytes=whole_bytes,
            explanation=f"tiny table ({size}{format_bytes(whole_bytes)}) in a scratch location "
                        f"({rel!s} matches {glob!r})",
            evidence=evidence,
        )
    return None


def _item_finding(item: PathItem, rules: TrivialRules, as_of: datetime) -> Finding:
    mtime = utc_from_epoch(item.mtime_max)
    evidence: dict[str, Any] = {"bytes": item.bytes, "files": item.files, "modified": iso(mtime),
                                "is_dir": item.is_dir}
    if item.kind in ("junk_file", "junk_dir"):
        return Finding(
            uri=str(item.uri), category="trivial", kind="junk_file", action="delete", confidence=0.99,
            reclaimable_bytes=item.bytes,
            explanation=f"{_junk_what(item.uri.name)} ({item.uri.name}), not data"
                        + (f": {item.files:,} file(s), {format_bytes(item.bytes)}" if item.is_dir else ""),
            evidence=evidence,
        )
    if item.kind == "orphan_crc":
        return Finding(
            uri=str(item.uri), category="trivial", kind="junk_file", action="delete", confidence=0.95,
            reclaimable_bytes=item.bytes, explanation=f"orphan checksum: {item.detail}",
            evidence=evidence,
        )
    # write_debris / debris_only_dir
    age = _age_hours(mtime, as_of)
    young = age is None or age < rules.min_debris_age_hours
    age_text = "age unknown" if age is None else (f"last written {age:.0f} hours ago" if age < 48
                                                  else f"last written {age / 24:.0f} days ago")
    evidence["age_hours"] = None if age is None else round(age, 1)
    return Finding(
        uri=str(item.uri), category="trivial", kind="write_debris",
        action="review" if young else "quarantine",
        confidence=0.5 if young else 0.9,
        reclaimable_bytes=item.bytes,
        explanation=f"{'directory ' + item.detail if item.kind == 'debris_only_dir' else item.uri.name + ': ' + item.detail}"
                    f" — {item.files:,} file(s), {format_bytes(item.bytes)}, {age_text}"
                    + ("; recent, may belong to a write in progress" if young else ""),
        evidence=evidence,
    )

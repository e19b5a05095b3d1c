"""What every usage source is turned into: :class:`AccessEvent` (one read or write of a path by
someone at some time) and :class:`SourceCoverage` (which window a source covers, how many events
and bad lines it had).

Parsers build a :class:`ParsedSource` and never raise on bad input: a malformed record is counted
in ``bad_lines`` and skipped; a file that is not what it claims becomes a warning.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from rotscan.models import ScanWarning, UsageSource, parse_iso
from rotscan.uri import canonical, parse

KINDS = ("read", "write")
SOURCES = ("openlineage", "spark_eventlog", "s3_access_log", "cloudtrail", "hdfs_audit", "delta_history",
           "audit_export")


@dataclass(frozen=True)
class AccessEvent:
    """One read or write of a path (or a named table) seen in a usage source.

    ``uri`` is the canonical rotscan URI of the path touched (``file:/…``, ``s3a://bucket/key``,
    ``hdfs://nn:8020/path``). When a source names only a table and no path (a Unity Catalog audit
    row, a Spark ``saveAsTable``), ``uri`` is that table name and ``table`` is set too;
    :class:`rotscan.usage.mapping.DatasetIndex` resolves it through the aliases.
    """

    time: datetime  # timezone-aware UTC
    kind: str  # "read" | "write"
    uri: str
    actor: str | None  # user / principal
    job: str | None  # job / application name
    source: str  # one of SOURCES
    run_id: str | None = None
    inputs: tuple[str, ...] = ()  # for a write: canonical URIs the same run read (lineage edges)
    success: bool = True
    table: str | None = None  # a table name like db.table when the source gives one
    # Who owns the dataset, as the source declares it (OpenLineage: the dataset's ``ownership``
    # facet, else for a write the job's ``ownership`` facet, else the job's namespace), and which
    # of these it came from: "dataset_facet" | "job_facet" | "job_namespace" (rotscan.owners).
    owner: str | None = None
    owner_from: str | None = None


@dataclass(frozen=True)
class Coverage:
    """What the read-recording usage sources of a scan cover together: the storages they recorded
    events for and their time window — what a usage claim ("unread for 180 days") may rely on."""

    start: datetime | None
    end: datetime | None
    storages: frozenset[tuple[str, str]]  # (scheme, authority) pairs the sources recorded events for
    kinds: tuple[str, ...] = ()

    def covers(self, uri: str) -> bool:
        u = parse(uri)
        return (u.scheme, u.authority) in self.storages

    def window_days(self, as_of: datetime) -> float:
        if self.start is None:
            return 0.0
        return (min(self.end or as_of, as_of) - self.start) / timedelta(days=1)


@dataclass(frozen=True)
class SourceCoverage:
    """One usage source: its kind, where it was read from, the time window its records cover
    (``None`` when it had no dated record), how many access events it gave and how many lines were
    malformed and skipped."""

    kind: str
    path: str
    start: datetime | None
    end: datetime | None
    events: int
    bad_lines: int
    notes: tuple[str, ...] = ()

    def to_usage_source(self) -> UsageSource:
        return UsageSource(kind=self.kind, path=self.path, start=self.start, end=self.end, events=self.events)


@dataclass
class ParsedSource:
    """What one parser made of one source (mutable while parsing)."""

    kind: str
    path: str
    events: list[AccessEvent] = field(default_factory=list)
    bad_lines: int = 0
    notes: list[str] = field(default_factory=list)
    warnings: list[ScanWarning] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)
    start: datetime | None = None
    end: datetime | None = None
    recognised: bool = True  # False: not this kind of source after all (its warnings still count)

    def bad_line(self) -> None:
        """Count one record that could not be parsed (it is skipped)."""
        self.bad_lines += 1

    def observe(self, ts: datetime | None) -> None:
        """Widen the covered window to include ``ts`` (any dated record, access or not)."""
        if ts is None:
            return
        if self.start is None or ts < self.start:
            self.start = ts
        if self.end is None or ts > self.end:
            self.end = ts

    def add(self, event: AccessEvent) -> None:
        self.events.append(event)
        self.observe(event.time)

    def warn(self, message: str, code: str = "usage_source") -> None:
        self.warnings.append(ScanWarning(uri=self.path, message=message, code=code))

    def coverage(self) -> SourceCoverage:
        return SourceCoverage(kind=self.kind, path=self.path, start=self.start, end=self.end,
                              events=len(self.events), bad_lines=self.bad_lines, notes=tuple(self.notes))


# --- helpers shared by the parsers -----------------------------------------------------------------

def to_uri(text: Any, *, default_scheme: str = "file") -> str | None:
    """The canonical URI of a path or URI from a log, or ``None`` when it is not one.

    A path without a scheme (``/data/t``) is taken on ``default_scheme`` (``file``, or a default
    file system such as ``hdfs://nn:8020`` given by the caller); relative paths are not paths.
    """
    if not isinstance(text, str):
        return None
    text = text.strip()
    if not text or "\x00" in text:
        return None
    try:
        if "://" in text:
            scheme = text.split("://", 1)[0]
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.\-]*", scheme):
                return None
            return canonical(text)
        if text.startswith("file:"):
            return canonical(text)
        if text.startswith("/"):
            if default_scheme == "file":
                return canonical("file:" + text)
            return canonical(default_scheme.rstrip("/") + text)
    except ValueError:
        return None
    return None


def is_path_like(text: str) -> bool:
    """Whether ``text`` names a path/URI (as opposed to a table name like ``db.table``)."""
    return "://" in text or text.startswith(("file:", "/"))


def utc(ts: datetime) -> datetime:
    if ts.tzinfo is None:
        return ts.replace(tzinfo=timezone.utc)
    return ts.astimezone(timezone.utc)


_EPOCH_MIN = datetime(1990, 1, 1, tzinfo=timezone.utc).timestamp()
_EPOCH_MAX = datetime(2200, 1, 1, tzinfo=timezone.utc).timestamp()


def from_epoch(value: Any) -> datetime | None:
    """Seconds, milliseconds or microseconds since the epoch (told apart by magnitude), or ``None``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    seconds = float(value)
    for _ in range(3):
        if seconds <= _EPOCH_MAX:
            break
        seconds /= 1000.0
    if not _EPOCH_MIN <= seconds <= _EPOCH_MAX:
        return None
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def parse_time(value: Any) -> datetime | None:
    """A timestamp from a log field: ISO 8601 (``Z``/offset/naive = UTC, ``T`` or space), epoch
    numbers (s/ms/µs, also as digit strings) or a ``datetime``. ``None`` when it is none of these."""
    if isinstance(value, datetime):
        return utc(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return from_epoch(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text:
        return None
    if re.fullmatch(r"\d{9,17}(\.\d+)?", text):
        return from_epoch(float(text))
    text = text.replace(",", ".", 1) if re.match(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d,\d", text) else text
    # Python < 3.11 fromisoformat accepts only 3 or 6 fraction digits; normalise to 6.
    m = re.fullmatch(r"(\d{4}-\d\d-\d\d[ T]\d\d:\d\d(?::\d\d)?)(?:\.(\d+))?\s*(Z|z|UTC|[+-]\d\d:?\d\d)?", text)
    if not m:
        return None
    base, frac, zone = m.groups()
    text = base + ("." + (frac + "000000")[:6] if frac else "")
    if zone and zone not in ("Z", "z", "UTC"):
        text += zone if ":" in zone else zone[:3] + ":" + zone[3:]
    try:
        return parse_iso(text.replace(" ", "T", 1))
    except ValueError:
        return None


def first_str(mapping: Mapping[str, Any], *keys: str) -> str | None:
    """The first of ``keys`` whose value is a non-empty string."""
    for key in keys:
        value = mapping.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def dict_at(obj: Any, key: str) -> dict[str, Any]:
    """``obj[key]`` when ``obj`` is a mapping and that value is a dict, else ``{}``."""
    value = obj.get(key) if isinstance(obj, Mapping) else None
    return value if isinstance(value, dict) else {}


def list_at(obj: Any, key: str) -> list[Any]:
    """``obj[key]`` when ``obj`` is a mapping and that value is a list, else ``[]``."""
    value = obj.get(key) if isinstance(obj, Mapping) else None
    return value if isinstance(value, list) else []


def str_at(obj: Any, key: str) -> str | None:
    """``obj[key]`` when it is a string, else ``None``."""
    value = obj.get(key) if isinstance(obj, Mapping) else None
    return value if isinstance(value, str) else None

"""Per-dataset usage statistics and the lineage graph (dataset → job → dataset), from the access
events of :func:`rotscan.usage.reader.read_usage` and a :class:`DatasetIndex` of the inventory.

Only successful events count towards the statistics. A reader or writer is named by its job when
the source gives one, else by its actor (user/principal). Lineage edges come from writes that
carry the run's inputs; an input that maps to no dataset (gone from the lake, or outside it) stays
in the graph under its own canonical URI, so that rules can tell that an upstream no longer exists.

A path that lies in no dataset but is a directory holding datasets (a Spark read of
``/lake/exports``, where every export file is a dataset) counts for each of them — missing a read
would make used data look unread — for lineage/Spark/audit sources only: in object-level logs (S3,
CloudTrail, HDFS audit) a directory key is a marker or an existence probe.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from rotscan.models import iso, parse_iso
from rotscan.usage.events import AccessEvent, SourceCoverage, is_path_like, to_uri, utc
from rotscan.usage.mapping import DatasetIndex

if TYPE_CHECKING:
    from rotscan.usage.reader import UsageData

LINEAGE_VERSION = 1
WINDOWS_DAYS = (30, 90, 365)
# Sources whose paths name datasets (directories); in object-level logs (S3, CloudTrail, HDFS) a
# directory key is a marker or an existence probe, not a read of everything below it.
_DIRECTORY_SOURCES = frozenset({"openlineage", "spark_eventlog", "audit_export"})


@dataclass(frozen=True)
class UsageStats:
    uri: str
    last_read: datetime | None
    last_written: datetime | None
    reads_30d: int
    reads_90d: int
    reads_365d: int
    readers: tuple[str, ...]  # distinct jobs (else actors) that read it
    writers: tuple[str, ...]  # distinct jobs (else actors) that wrote it
    last_write_by_job: Mapping[str, datetime] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "uri": self.uri,
            "last_read": iso(self.last_read),
            "last_written": iso(self.last_written),
            "reads_30d": self.reads_30d,
            "reads_90d": self.reads_90d,
            "reads_365d": self.reads_365d,
            "readers": list(self.readers),
            "writers": list(self.writers),
            "last_write_by_job": {k: iso(v) for k, v in sorted(self.last_write_by_job.items())},
        }


@dataclass(frozen=True)
class LineageEdge:
    src: str
    job: str
    dst: str
    last_seen: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"src": self.src, "job": self.job, "dst": self.dst, "last_seen": iso(self.last_seen)}


class LineageGraph:
    """Edges ``src --job--> dst`` between dataset URIs (or the canonical URIs of inputs that are
    no dataset of the inventory), each with the last time it was seen."""

    def __init__(self, edges: Iterable[LineageEdge] = ()) -> None:
        merged: dict[tuple[str, str, str], LineageEdge] = {}
        for edge in edges:
            key = (edge.src, edge.job, edge.dst)
            old = merged.get(key)
            if old is None or edge.last_seen > old.last_seen:
                merged[key] = edge
        self.edges: tuple[LineageEdge, ...] = tuple(merged[k] for k in sorted(merged))

    def __len__(self) -> int:
        return len(self.edges)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LineageGraph) and self.edges == other.edges

    def __repr__(self) -> str:
        return f"LineageGraph({len(self.edges)} edges)"

    @staticmethod
    def _key(uri: str) -> str:
        return (to_uri(uri) or uri) if is_path_like(uri) else uri

    def upstream(self, uri: str) -> set[str]:
        """The datasets (URIs) ``uri`` was written from."""
        key = self._key(uri)
        return {e.src for e in self.edges if e.dst == key}

    def downstream(self, uri: str) -> set[str]:
        """The datasets (URIs) written from ``uri``."""
        key = self._key(uri)
        return {e.dst for e in self.edges if e.src == key}

    def jobs_writing(self, uri: str) -> set[str]:
        key = self._key(uri)
        return {e.job for e in self.edges if e.dst == key}

    def to_dict(self) -> dict[str, Any]:
        return {"version": LINEAGE_VERSION, "edges": [e.to_dict() for e in self.edges]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LineageGraph:
        edges = []
        for e in d.get("edges") or ():
            seen = parse_iso(e.get("last_seen"))
            if seen is None:
                continue
            edges.append(LineageEdge(src=str(e["src"]), job=str(e.get("job") or ""), dst=str(e["dst"]), last_seen=seen))
        return cls(edges)


@dataclass
class _Acc:
    last_read: datetime | None = None
    last_written: datetime | None = None
    reads: list[datetime] = field(default_factory=list)
    readers: set[str] = field(default_factory=set)
    writers: set[str] = field(default_factory=set)
    last_write_by_job: dict[str, datetime] = field(default_factory=dict)


def _label(job: str | None, actor: str | None) -> str | None:
    return job or actor


def compute_usage(data: UsageData, index: DatasetIndex, as_of: datetime) -> tuple[dict[str, UsageStats], LineageGraph, int]:
    """Usage stats per dataset URI (only datasets with at least one successful event), the lineage
    graph, and the number of events whose path (or table) matched no dataset.

    Table names in events are resolved through the index's aliases, then ``data.aliases`` (learned
    from the sources). The index is not modified.
    ``reads_Nd`` count successful reads within N days before ``as_of`` (later ones too).
    """
    as_of = utc(as_of)
    learned = DatasetIndex((), data.aliases)

    def resolve(text: str | None) -> str | None:
        if not text:
            return None
        found = index.lookup(text)
        if found is None and not is_path_like(text):
            target = learned.resolve_table(text)
            found = None if target is None else index.lookup(target)
        return found

    accs: dict[str, _Acc] = {}
    edges: list[LineageEdge] = []
    unmatched = 0
    for event in data.events:
        dataset = resolve(event.uri) or resolve(event.table)
        targets: tuple[str, ...] = (dataset,) if dataset is not None else \
            index.contained(event.uri) if event.source in _DIRECTORY_SOURCES else ()
        if not targets:
            unmatched += 1
            continue
        if not event.success:
            continue
        for target in targets:
            _count(event, target, accs, edges, resolve)
    stats: dict[str, UsageStats] = {}
    for uri, acc in accs.items():
        counts = [sum(1 for t in acc.reads if t > as_of - timedelta(days=d)) for d in WINDOWS_DAYS]
        stats[uri] = UsageStats(uri=uri, last_read=acc.last_read, last_written=acc.last_written,
                                reads_30d=counts[0], reads_90d=counts[1], reads_365d=counts[2],
                                readers=tuple(sorted(acc.readers)), writers=tuple(sorted(acc.writers)),
                                last_write_by_job=dict(sorted(acc.last_write_by_job.items())))
    return stats, LineageGraph(edges), unmatched


def _count(event: AccessEvent, dataset: str, accs: dict[str, _Acc], edges: list[LineageEdge],
           resolve: Callable[[str | None], str | None]) -> None:
    acc = accs.setdefault(dataset, _Acc())
    label = _label(event.job, event.actor)
    if event.kind == "read":
        acc.reads.append(event.time)
        if acc.last_read is None or event.time > acc.last_read:
            acc.last_read = event.time
        if label:
            acc.readers.add(label)
    elif event.kind == "write":
        if acc.last_written is None or event.time > acc.last_written:
            acc.last_written = event.time
        if label:
            acc.writers.add(label)
            old = acc.last_write_by_job.get(label)
            if old is None or event.time > old:
                acc.last_write_by_job[label] = event.time
        for raw in event.inputs:
            src = resolve(raw) or raw
            if src != dataset:
                edges.append(LineageEdge(src=src, job=label or "", dst=dataset, last_seen=event.time))


def coverage_window(coverage: Iterable[SourceCoverage], kind: str | None = None) -> tuple[datetime | None, datetime | None]:
    """The earliest start and latest end over the sources (of ``kind`` when given) that have
    dated records; ``(None, None)`` when none has."""
    starts = [c.start for c in coverage if (kind is None or c.kind == kind) and c.start is not None]
    ends = [c.end for c in coverage if (kind is None or c.kind == kind) and c.end is not None]
    return (min(starts) if starts else None, max(ends) if ends else None)

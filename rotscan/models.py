"""Domain models: what a scan saw (``Dataset``), what it concluded (``Finding``), and the whole
result (``ScanResult``), with the round trip to and from ``findings.json``.

The JSON shape is the external contract in ``shared/design/contract.md``: fields named there keep
their names and meaning; everything else here is an extension. Timestamps are ISO 8601 UTC strings
in JSON and timezone-aware ``datetime`` objects in Python; unknown values are ``None``/``null``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

FINDINGS_VERSION = 1

CATEGORIES = ("redundant", "obsolete", "trivial")
ACTIONS = ("delete", "quarantine", "vacuum", "compact", "archive", "review")


def utc_from_epoch(seconds: float | None) -> datetime | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def iso(ts: datetime | None) -> str | None:
    """ISO 8601 UTC with a ``Z`` suffix and second precision (``None`` stays ``None``)."""
    if ts is None:
        return None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=timezone.utc)
    return ts.astimezone(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_iso(value: str | None) -> datetime | None:
    if value is None:
        return None
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    ts = datetime.fromisoformat(text)
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=timezone.utc)
    return ts.astimezone(timezone.utc)


def now_utc() -> datetime:
    return datetime.now(tz=timezone.utc)


@dataclass(frozen=True)
class Column:
    name: str
    type: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "type": self.type}


@dataclass(frozen=True)
class DeltaInfo:
    """What the Delta log says about a table (read from ``_delta_log`` without Spark)."""

    version: int
    last_commit: datetime | None
    last_operation: str | None
    live_files: int
    live_bytes: int
    # Data files in the table directory that no live ``add`` references: held only for time
    # travel (tombstoned) or left by failed writes. VACUUM removes them after the retention period.
    time_travel_files: int
    time_travel_bytes: int
    retention_hours: float
    num_records: int | None
    # The part of the time-travel files older than the retention period: what VACUUM would remove.
    vacuumable_files: int = 0
    vacuumable_bytes: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "last_commit": iso(self.last_commit),
            "last_operation": self.last_operation,
            "live_files": self.live_files,
            "live_bytes": self.live_bytes,
            "time_travel_files": self.time_travel_files,
            "time_travel_bytes": self.time_travel_bytes,
            "retention_hours": self.retention_hours,
            "num_records": self.num_records,
            "vacuumable_files": self.vacuumable_files,
            "vacuumable_bytes": self.vacuumable_bytes,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DeltaInfo:
        return cls(
            version=int(d["version"]),
            last_commit=parse_iso(d.get("last_commit")),
            last_operation=d.get("last_operation"),
            live_files=int(d.get("live_files", 0)),
            live_bytes=int(d.get("live_bytes", 0)),
            time_travel_files=int(d.get("time_travel_files", 0)),
            time_travel_bytes=int(d.get("time_travel_bytes", 0)),
            retention_hours=float(d.get("retention_hours", 168.0)),
            num_records=d.get("num_records"),
            vacuumable_files=int(d.get("vacuumable_files", 0)),
            vacuumable_bytes=int(d.get("vacuumable_bytes", 0)),
        )


@dataclass(frozen=True)
class Dataset:
    """One dataset of the lake inventory: a table directory or a standalone file."""

    uri: str
    format: str  # delta, parquet, orc, avro, csv, json, text, iceberg, unknown
    layout: str  # delta, iceberg, hive_partitioned, part_files, file
    files: int
    bytes: int
    rows: int | None = None
    rows_source: str | None = None  # parquet_footer, delta_stats, spark_count
    schema: tuple[Column, ...] | None = None
    modified_min: datetime | None = None
    modified_max: datetime | None = None
    partition_columns: tuple[str, ...] = ()
    partitions: int = 0
    small_files: int = 0
    zero_byte_files: int = 0
    constant_columns: tuple[str, ...] | None = None  # None: not profiled
    null_columns: tuple[str, ...] | None = None
    delta: DeltaInfo | None = None
    last_read: datetime | None = None
    last_written: datetime | None = None
    root: str | None = None
    # Extensions for review and catalogs (None: unknown / not looked up):
    # the inventory's content fingerprint (changes whenever the data can have changed)
    fingerprint: str | None = None
    table: str | None = None  # the catalog table registered at this location ("db.table")
    registered: bool | None = None  # False: a catalog was read and no table points here
    owner: str | None = None  # None: unowned
    owner_source: str | None = None  # catalog | openlineage | delta | config

    @property
    def modified(self) -> datetime | None:
        return self.modified_max

    @property
    def relative_path(self) -> str:
        """The path relative to its scan root (the full URI when it has none or is the root)."""
        from rotscan.uri import parse

        if self.root:
            u, r = parse(self.uri), parse(self.root)
            if u.is_within(r) and u != r:
                return u.relative_to(r)
        return self.uri

    def to_dict(self) -> dict[str, Any]:
        return {
            "uri": self.uri,
            "format": self.format,
            "files": self.files,
            "bytes": self.bytes,
            "rows": self.rows,
            "modified": iso(self.modified_max),
            "last_read": iso(self.last_read),
            "last_written": iso(self.last_written),
            # extensions of the contract
            "layout": self.layout,
            "root": self.root,
            "rows_source": self.rows_source,
            "schema": None if self.schema is None else [c.to_dict() for c in self.schema],
            "modified_min": iso(self.modified_min),
            "partition_columns": list(self.partition_columns),
            "partitions": self.partitions,
            "small_files": self.small_files,
            "zero_byte_files": self.zero_byte_files,
            "constant_columns": None if self.constant_columns is None else list(self.constant_columns),
            "null_columns": None if self.null_columns is None else list(self.null_columns),
            "delta": None if self.delta is None else self.delta.to_dict(),
            "fingerprint": self.fingerprint,
            "table": self.table,
            "registered": self.registered,
            "owner": self.owner,
            "owner_source": self.owner_source,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Dataset:
        schema = d.get("schema")
        return cls(
            uri=d["uri"],
            format=d.get("format", "unknown"),
            layout=d.get("layout", "file"),
            files=int(d.get("files", 0)),
            bytes=int(d.get("bytes", 0)),
            rows=d.get("rows"),
            rows_source=d.get("rows_source"),
            schema=None if schema is None else tuple(Column(c["name"], c["type"]) for c in schema),
            modified_min=parse_iso(d.get("modified_min")),
            modified_max=parse_iso(d.get("modified")),
            partition_columns=tuple(d.get("partition_columns") or ()),
            partitions=int(d.get("partitions", 0)),
            small_files=int(d.get("small_files", 0)),
            zero_byte_files=int(d.get("zero_byte_files", 0)),
            constant_columns=None if d.get("constant_columns") is None else tuple(d["constant_columns"]),
            null_columns=None if d.get("null_columns") is None else tuple(d["null_columns"]),
            delta=None if d.get("delta") is None else DeltaInfo.from_dict(d["delta"]),
            last_read=parse_iso(d.get("last_read")),
            last_written=parse_iso(d.get("last_written")),
            root=d.get("root"),
            fingerprint=d.get("fingerprint"),
            table=d.get("table"),
            registered=d.get("registered"),
            owner=d.get("owner"),
            owner_source=d.get("owner_source"),
        )


DECISIONS = ("keep", "approve")


@dataclass(frozen=True)
class Decision:
    """A reviewer's decision on a finding (``rotscan decide``, or ticked in the report and imported).

    ``keep``: the data stays; the finding is listed as kept and not counted as ROT (until ``until``).
    ``approve``: a review-level finding may be actioned by the next cleanup plan. A decision made
    for data that has changed since (its fingerprint) is ``stale`` and not applied; a keep past its
    ``until`` is ``expired`` and not applied either."""

    decision: str  # keep | approve
    by: str
    at: datetime
    reason: str = ""
    until: datetime | None = None
    id: str = ""  # the decision record's id
    match: str = ""  # what it was made for: a finding id, or "glob:<pattern relative to the root>"
    fingerprint: str | None = None  # the dataset's fingerprint when the decision was made
    stale: bool = False
    stale_reason: str | None = None
    expired: bool = False

    def __post_init__(self) -> None:
        if self.decision not in DECISIONS:
            raise ValueError(f"unknown decision {self.decision!r} (keep or approve)")

    @property
    def applies(self) -> bool:
        return not self.stale and not self.expired

    def to_dict(self) -> dict[str, Any]:
        return {"decision": self.decision, "by": self.by, "at": iso(self.at), "reason": self.reason,
                "until": iso(self.until), "id": self.id, "match": self.match, "fingerprint": self.fingerprint,
                "stale": self.stale, "stale_reason": self.stale_reason, "expired": self.expired}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Decision:
        return cls(decision=d["decision"], by=str(d.get("by") or ""), at=parse_iso(d.get("at")) or now_utc(),
                   reason=str(d.get("reason") or ""), until=parse_iso(d.get("until")), id=str(d.get("id") or ""),
                   match=str(d.get("match") or ""), fingerprint=d.get("fingerprint"),
                   stale=bool(d.get("stale", False)), stale_reason=d.get("stale_reason"),
                   expired=bool(d.get("expired", False)))


def finding_id(kind: str, uri: str) -> str:
    """Stable across scans, so a later scan can tell new findings from resolved ones."""
    return hashlib.sha1(f"{kind}\x00{uri}".encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Finding:
    uri: str
    category: str
    kind: str
    action: str
    confidence: float
    reclaimable_bytes: int
    explanation: str
    related: tuple[str, ...] = ()
    evidence: dict[str, Any] = field(default_factory=dict)
    id: str = ""
    # Extensions for review and catalogs (None: unknown / none)
    owner: str | None = None  # None: unowned
    owner_source: str | None = None
    table: str | None = None  # the catalog table ("db.table") the finding's path is registered as
    decision: Decision | None = None

    @property
    def kept(self) -> bool:
        """A reviewer decided to keep it (and the decision still applies): not counted as ROT."""
        return self.decision is not None and self.decision.decision == "keep" and self.decision.applies

    @property
    def approved(self) -> bool:
        return self.decision is not None and self.decision.decision == "approve" and self.decision.applies

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise ValueError(f"unknown category {self.category!r}")
        if self.action not in ACTIONS:
            raise ValueError(f"unknown action {self.action!r}")
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence {self.confidence} outside [0, 1]")
        if self.reclaimable_bytes < 0:
            raise ValueError("reclaimable_bytes must be >= 0")
        if not self.id:
            object.__setattr__(self, "id", finding_id(self.kind, self.uri))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "uri": self.uri,
            "category": self.category,
            "kind": self.kind,
            "related": list(self.related),
            "confidence": round(self.confidence, 4),
            "reclaimable_bytes": self.reclaimable_bytes,
            "action": self.action,
            "explanation": self.explanation,
            "evidence": self.evidence,
            "owner": self.owner,
            "owner_source": self.owner_source,
            "table": self.table,
            "decision": None if self.decision is None else self.decision.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Finding:
        return cls(
            id=d.get("id", ""),
            uri=d["uri"],
            category=d["category"],
            kind=d["kind"],
            related=tuple(d.get("related") or ()),
            confidence=float(d["confidence"]),
            reclaimable_bytes=int(d["reclaimable_bytes"]),
            action=d["action"],
            explanation=d.get("explanation", ""),
            evidence=dict(d.get("evidence") or {}),
            owner=d.get("owner"),
            owner_source=d.get("owner_source"),
            table=d.get("table"),
            decision=None if not isinstance(d.get("decision"), dict) else Decision.from_dict(d["decision"]),
        )


@dataclass(frozen=True)
class ScanWarning:
    uri: str | None
    message: str
    code: str = "warning"  # short machine-readable class: unreadable, binary, corrupt, symlink, ...

    def to_dict(self) -> dict[str, Any]:
        return {"uri": self.uri, "message": self.message, "code": self.code}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ScanWarning:
        return cls(uri=d.get("uri"), message=d["message"], code=d.get("code", "warning"))


@dataclass(frozen=True)
class UsageSource:
    kind: str
    path: str
    start: datetime | None
    end: datetime | None
    events: int

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "path": self.path, "from": iso(self.start), "to": iso(self.end),
                "events": self.events}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> UsageSource:
        return cls(kind=d["kind"], path=d["path"], start=parse_iso(d.get("from")),
                   end=parse_iso(d.get("to")), events=int(d.get("events", 0)))


@dataclass(frozen=True)
class ScanInfo:
    id: str
    started: datetime
    finished: datetime | None
    as_of: datetime
    roots: tuple[str, ...]
    tool_version: str
    usage_sources: tuple[UsageSource, ...] = ()
    price_per_gb_month: float | None = None
    # Incremental scans (extension): {"state": uri, "reused": n, "profiled": m, ...}; None without a state.
    incremental: dict[str, Any] | None = None
    # The storage-class pricing the scan's report used (extension; rotscan.report.summary.Pricing).
    pricing: dict[str, Any] | None = None
    # What the catalog read covered (extension; rotscan.registration.coverage); None without [catalog].
    catalog: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "started": iso(self.started),
            "finished": iso(self.finished),
            "as_of": iso(self.as_of),
            "roots": list(self.roots),
            "tool_version": self.tool_version,
            "usage_sources": [u.to_dict() for u in self.usage_sources],
            "price_per_gb_month": self.price_per_gb_month,
            "incremental": self.incremental,
            "pricing": self.pricing,
            "catalog": self.catalog,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ScanInfo:
        started = parse_iso(d.get("started")) or now_utc()
        return cls(
            id=d.get("id", ""),
            started=started,
            finished=parse_iso(d.get("finished")),
            as_of=parse_iso(d.get("as_of")) or started,
            roots=tuple(d.get("roots") or ()),
            tool_version=d.get("tool_version", ""),
            usage_sources=tuple(UsageSource.from_dict(u) for u in d.get("usage_sources") or ()),
            price_per_gb_month=d.get("price_per_gb_month"),
            incremental=d.get("incremental"),
            pricing=d.get("pricing") if isinstance(d.get("pricing"), dict) else None,
            catalog=d.get("catalog") if isinstance(d.get("catalog"), dict) else None,
        )


CLEANUP_GROUPS = ("quarantined", "vacuumed", "restored", "purged", "skipped", "failed", "decided", "archived",
                  "unarchived", "compacted", "uncompacted", "partitions_deleted", "partitions_restored")


@dataclass(frozen=True)
class CleanupRun:
    """What one cleanup run (``rotscan apply --execute``, with its later restore and purge) did to a
    root, summarized from the root's audit log (``<root>/_rotscan/audit…``).

    ``counts``/``bytes`` are keyed by :data:`CLEANUP_GROUPS`: ``quarantined`` (quarantine and delete
    actions done: moved out of the lake into quarantine), ``vacuumed`` (Delta files removed by
    vacuum), ``restored`` (put back), ``purged`` (quarantine deleted for good), ``skipped`` and
    ``failed`` (actions not done; no bytes), ``decided`` (review decisions recorded by one
    ``rotscan decide`` call, whose run id is ``decide-…``; no bytes), ``archived`` (datasets moved to
    their archive location — not taken out of storage, so never part of :attr:`reclaimed_bytes`;
    ``monthly_saved`` is what they save per month), ``unarchived`` (archived datasets restored),
    ``compacted`` (bytes of the small files a compaction replaced; the data stays) and
    ``uncompacted`` (compactions undone by restore), ``partitions_deleted`` (bytes of expired Delta
    partitions a DELETE took out of the live table; their files go with a VACUUM after the table's
    retention, so not part of :attr:`reclaimed_bytes`) and ``partitions_restored`` (those deletes
    undone by restore). Expired Hive partitions are quarantined and count as ``quarantined``.
    """

    run_id: str
    root: str
    first: datetime | None
    last: datetime | None
    users: tuple[str, ...]
    counts: dict[str, int] = field(default_factory=dict)
    bytes: dict[str, int] = field(default_factory=dict)
    monthly_saved: float = 0.0  # by the run's archives, less those restored (storage-class prices)

    def count(self, group: str) -> int:
        return int(self.counts.get(group, 0))

    def nbytes(self, group: str) -> int:
        return int(self.bytes.get(group, 0))

    @property
    def reclaimed_bytes(self) -> int:
        """Bytes taken out of the lake and not put back: quarantined + vacuumed - restored (>= 0)."""
        return max(0, self.nbytes("quarantined") + self.nbytes("vacuumed") - self.nbytes("restored"))

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "root": self.root, "first": iso(self.first), "last": iso(self.last),
                "users": list(self.users), "counts": {g: self.count(g) for g in CLEANUP_GROUPS},
                "bytes": {g: self.nbytes(g) for g in CLEANUP_GROUPS},
                "reclaimed_bytes": self.reclaimed_bytes, "monthly_saved": self.monthly_saved}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CleanupRun:
        return cls(run_id=str(d["run_id"]), root=str(d.get("root", "")), first=parse_iso(d.get("first")),
                   last=parse_iso(d.get("last")), users=tuple(str(u) for u in d.get("users") or ()),
                   counts={str(k): int(v) for k, v in (d.get("counts") or {}).items()},
                   bytes={str(k): int(v) for k, v in (d.get("bytes") or {}).items()},
                   monthly_saved=float(d.get("monthly_saved") or 0.0))


@dataclass(frozen=True)
class ScanResult:
    scan: ScanInfo
    datasets: tuple[Dataset, ...]
    findings: tuple[Finding, ...]
    warnings: tuple[ScanWarning, ...]
    # The lineage graph (JSON-ready) when usage sources were given; written beside findings.json as
    # lineage.json, not part of findings.json.
    lineage: dict[str, Any] | None = field(default=None, compare=False)
    # Content signatures by dataset URI (rotscan.redundancy.signature.Signature), written beside
    # findings.json as signatures.parquet so later scans and tools can reuse them.
    signatures: dict[str, Any] | None = field(default=None, compare=False)
    # Cleanup runs found in the roots' audit logs at scan time (extension: "cleanup_history").
    cleanup_history: tuple[CleanupRun, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": FINDINGS_VERSION,
            "scan": self.scan.to_dict(),
            "datasets": [d.to_dict() for d in self.datasets],
            "findings": [f.to_dict() for f in self.findings],
            "warnings": [w.to_dict() for w in self.warnings],
            "cleanup_history": [r.to_dict() for r in self.cleanup_history],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ScanResult:
        return cls(
            scan=ScanInfo.from_dict(d["scan"]),
            datasets=tuple(Dataset.from_dict(x) for x in d.get("datasets") or ()),
            findings=tuple(Finding.from_dict(x) for x in d.get("findings") or ()),
            warnings=tuple(ScanWarning.from_dict(x) for x in d.get("warnings") or ()),
            cleanup_history=tuple(CleanupRun.from_dict(x) for x in d.get("cleanup_history") or ()),
        )

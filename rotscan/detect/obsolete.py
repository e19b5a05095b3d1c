"""Obsolete ROT: data that nothing uses any more — decided from what happens to it (reads, writes,
lineage), never from file age alone. Pure functions of the inventory, usage statistics, the
lineage graph and the coverage of the usage sources.

- ``unread``: no reads for ``unread_days``, and the usage sources cover that whole window for the
  dataset's storage; a dataset younger than the window is never called unread;
- ``producer_stopped``: the jobs that wrote it last ran more than ``producer_stopped_days`` ago and
  nothing reads it;
- ``orphaned_lineage``: the inputs it was built from no longer exist in the lake and it is no longer
  written;
- ``superseded``: a newer version of it exists and is live (``_v1``→``_v2``, ``_old``/``_bak``
  beside the original, dated snapshots beyond the newest ``superseded_keep_last``), with compatible
  columns; without usage data it is only proposed for review, saying reads are unknown;
- ``expired``: older than a retention policy from the configuration (``[[obsolete.retention]]``);
- ``expired_partitions``: partitions dated (by their value) beyond a partition-level retention policy
  (one with ``partition_column``; :mod:`rotscan.detect.partition_retention`);
- ``unvacuumed_history``: Delta files held only for time travel beyond the table's retention
  (``action: vacuum``).

No usage source, or none that covers a dataset's storage, means "usage unknown": the usage rules
make no finding at all.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from rotscan.crawl.partitions import PartitionStat
from rotscan.detect.partition_retention import expired_partitions
from rotscan.models import Dataset, Finding, ScanWarning, iso
from rotscan.uri import parse
from rotscan.usage.events import Coverage


class Usage(Protocol):
    """What the rules need of a dataset's usage statistics (``rotscan.usage.stats.UsageStats``)."""

    last_read: datetime | None
    last_written: datetime | None
    reads_30d: int
    reads_90d: int
    reads_365d: int
    readers: tuple[str, ...]
    writers: tuple[str, ...]
    last_write_by_job: Mapping[str, datetime]


class Lineage(Protocol):
    def upstream(self, uri: str) -> set[str]: ...

    def downstream(self, uri: str) -> set[str]: ...


@dataclass(frozen=True)
class RetentionPolicy:
    glob: str
    max_age_days: float
    action: str = "quarantine"
    # partition-level: the partition column(s) whose value dates a partition (one column in
    # ``date_format``, or split year/month[/day] columns); () for whole datasets
    partition_columns: tuple[str, ...] = ()
    date_format: str = "YYYY-MM-DD"

    @property
    def per_partition(self) -> bool:
        return bool(self.partition_columns)

    @classmethod
    def from_config(cls, p: Any) -> RetentionPolicy:
        """One ``[[obsolete.retention]]`` entry, validated (a :class:`ConfigError` says what is wrong)."""
        from rotscan.detect.partition_retention import ACTIONS as PARTITION_ACTIONS
        from rotscan.detect.partition_retention import DATE_FORMATS
        from rotscan.errors import ConfigError

        if not isinstance(p, Mapping) or "glob" not in p or "max_age_days" not in p:
            raise ConfigError(f"[obsolete] retention entries need glob and max_age_days, got {p!r}")
        known = {"glob", "max_age_days", "action", "partition_column", "date_format"}
        if set(p) - known:
            raise ConfigError(f"[obsolete] retention entry {p.get('glob')!r}: unknown key(s) "
                              f"{', '.join(sorted(set(p) - known))} (known: {', '.join(sorted(known))})")
        try:
            days = float(p["max_age_days"])
        except (TypeError, ValueError):
            raise ConfigError(f"[obsolete] retention {p['glob']!r}: max_age_days must be a number, "
                              f"got {p['max_age_days']!r}") from None
        if days < 0:
            raise ConfigError(f"[obsolete] retention {p['glob']!r}: max_age_days must not be negative, got {days:g}")
        action = p.get("action", "quarantine")
        if action not in ("delete", "quarantine", "archive", "review"):
            raise ConfigError(f"[obsolete] retention action must be delete, quarantine, archive or review: {p!r}")
        col = p.get("partition_column")
        if col is None:
            if "date_format" in p:
                raise ConfigError(f"[obsolete] retention {p['glob']!r}: date_format needs a partition_column")
            return cls(str(p["glob"]), days, str(action))
        columns = (col,) if isinstance(col, str) else tuple(col) if isinstance(col, list) else None
        if not columns or not all(isinstance(c, str) and c and "=" not in c and "/" not in c for c in columns):
            raise ConfigError(f"[obsolete] retention {p['glob']!r}: partition_column must be a column name or a "
                              f"list of year, month[, day] column names, got {col!r}")
        if len(set(columns)) != len(columns) or len(columns) > 3:
            raise ConfigError(f"[obsolete] retention {p['glob']!r}: partition_column lists one date column, or "
                              f"2-3 distinct columns holding year, month[, day]; got {col!r}")
        fmt = p.get("date_format", "YYYY-MM-DD")
        if len(columns) > 1 and "date_format" in p:
            raise ConfigError(f"[obsolete] retention {p['glob']!r}: date_format is for one partition column; split "
                              "columns hold integer year, month[, day]")
        if fmt not in DATE_FORMATS:
            raise ConfigError(f"[obsolete] retention {p['glob']!r}: date_format must be one of "
                              f"{', '.join(DATE_FORMATS)}, got {fmt!r}")
        if action not in PARTITION_ACTIONS:
            raise ConfigError(f"[obsolete] retention {p['glob']!r}: a partition-level policy's action is one of "
                              f"{', '.join(PARTITION_ACTIONS)} (expired partitions are dropped: Hive directories "
                              f"quarantined, Delta rows deleted), got {action!r}")
        return cls(str(p["glob"]), days, str(action), columns, str(fmt))


@dataclass(frozen=True)
class ObsoleteRules:
    unread_days: float = 180
    producer_stopped_days: float = 90
    superseded_keep_last: int = 2
    unvacuumed_min_bytes: int = 1 << 20
    retention: tuple[RetentionPolicy, ...] = ()

    @classmethod
    def from_config(cls, config: Any) -> ObsoleteRules:
        from rotscan.errors import ConfigError

        o: Mapping[str, Any] = config.section("obsolete")
        if not isinstance(o["retention"], list):
            raise ConfigError(f"[obsolete] retention must be a list of policies, got {o['retention']!r}")
        return cls(
            unread_days=float(o["unread_days"]), producer_stopped_days=float(o["producer_stopped_days"]),
            superseded_keep_last=int(o["superseded_keep_last"]), unvacuumed_min_bytes=int(o["unvacuumed_min_bytes"]),
            retention=tuple(RetentionPolicy.from_config(p) for p in o["retention"]),
        )


def _days(delta: timedelta) -> int:
    return int(delta / timedelta(days=1))


def _bytes(ds: Dataset) -> int:
    return ds.bytes + (ds.delta.time_travel_bytes if ds.delta else 0)


def _when(ts: datetime | None, as_of: datetime) -> str:
    return "none seen" if ts is None else f"{iso(ts)} ({_days(as_of - ts)} days ago)"


def detect_obsolete(
    datasets: Sequence[Dataset],
    usage: Mapping[str, Usage] | None,
    lineage: Lineage | None,
    coverage: Coverage | None,
    rules: ObsoleteRules,
    as_of: datetime,
    *,
    exclude: Iterable[str] = (),
    partitions: Mapping[str, Sequence[PartitionStat] | None] | None = None,
    warnings: list[ScanWarning] | None = None,
) -> list[Finding]:
    """``partitions``: the leaf partitions of each partitioned dataset (the inventory's), which
    partition-level retention policies date; ``warnings`` receives what keeps a partition from
    being dated."""
    skip = set(exclude)
    live = [d for d in datasets if d.uri not in skip]
    out: dict[str, Finding] = {}

    def add(f: Finding) -> None:
        out.setdefault(f.uri, f)

    for f in _expired(live, rules, as_of, partitions or {}, warnings if warnings is not None else []):
        add(f)
    if usage is not None and coverage is not None and coverage.start is not None:
        for f in _usage_rules(live, datasets, usage, lineage, coverage, rules, as_of):
            add(f)
    for f in _superseded(live, usage, coverage, rules, as_of):
        add(f)
    # unvacuumed history is about a table's hidden files, not the table: it may sit beside another finding
    vacuum = [f for f in _unvacuumed(live, rules) if f.uri not in out]
    return list(out.values()) + vacuum


def _expired(datasets: Sequence[Dataset], rules: ObsoleteRules, as_of: datetime,
             partitions: Mapping[str, Sequence[PartitionStat] | None], warnings: list[ScanWarning]
             ) -> Iterable[Finding]:
    """The first policy whose glob matches a dataset decides: a whole-dataset policy by its last
    write, a partition-level one by the dates its partitions hold."""
    for ds in datasets:
        rel = ds.relative_path
        for policy in rules.retention:
            if not (fnmatch.fnmatchcase(rel, policy.glob) or fnmatch.fnmatchcase(rel + "/", policy.glob)):
                continue
            if policy.per_partition:
                found = expired_partitions(ds, partitions.get(ds.uri), policy, as_of, warnings)
                if found is not None:
                    yield found
                break
            newest = ds.last_written or ds.modified_max
            if newest is None:
                break
            age = as_of - newest
            if age > timedelta(days=policy.max_age_days):
                yield Finding(
                    uri=ds.uri, category="obsolete", kind="expired", action=policy.action, confidence=0.9,
                    reclaimable_bytes=_bytes(ds),
                    explanation=f"retention policy {policy.glob!r} keeps data {policy.max_age_days:g} days; "
                                f"last written {_days(age)} days ago",
                    evidence={"policy": policy.glob, "max_age_days": policy.max_age_days,
                              "last_written": iso(newest), "age_days": _days(age)},
                )
            break


def _usage_rules(live: Sequence[Dataset], everything: Sequence[Dataset], usage: Mapping[str, Usage],
                 lineage: Lineage | None, coverage: Coverage, rules: ObsoleteRules,
                 as_of: datetime) -> Iterable[Finding]:
    window = coverage.window_days(as_of)
    existing = {d.uri for d in everything}
    roots = {d.root for d in everything if d.root}
    for ds in live:
        if not coverage.covers(ds.uri):
            continue  # no source sees this storage: usage unknown
        u = usage.get(ds.uri)
        last_read = u.last_read if u else None
        last_written = (u.last_written if u else None) or ds.last_written
        created = ds.modified_min or ds.modified_max
        read_recently = last_read is not None and as_of - last_read <= timedelta(days=rules.unread_days)
        evidence: dict[str, Any] = {
            "last_read": iso(last_read), "last_written": iso(last_written),
            "reads_30d": u.reads_30d if u else 0, "reads_90d": u.reads_90d if u else 0,
            "reads_365d": u.reads_365d if u else 0, "readers": list(u.readers) if u else [],
            "writers": list(u.writers) if u else [], "coverage_from": iso(coverage.start),
            "coverage_to": iso(coverage.end), "coverage_days": round(window, 1), "sources": list(coverage.kinds),
        }
        if read_recently:
            continue
        # orphaned lineage: built from inputs that are gone, and no longer written
        upstream = lineage.upstream(ds.uri) if lineage is not None else set()
        gone = sorted(x for x in upstream if x not in existing and any(parse(x).is_within(parse(r)) for r in roots))
        stopped = last_written is None or as_of - last_written > timedelta(days=rules.producer_stopped_days)
        if upstream and gone and len(gone) == len(upstream) and stopped:
            yield Finding(
                uri=ds.uri, category="obsolete", kind="orphaned_lineage", action="quarantine", confidence=0.75,
                reclaimable_bytes=_bytes(ds), related=tuple(gone),
                explanation=f"built from {', '.join(_short(g) for g in gone)}, which no longer "
                            f"{'exists' if len(gone) == 1 else 'exist'}; last written "
                            f"{_when(last_written, as_of)}, last read {_when(last_read, as_of)}",
                evidence={**evidence, "missing_inputs": gone},
            )
            continue
        writers = dict(u.last_write_by_job) if u else {}
        if writers and stopped and window >= rules.producer_stopped_days:
            last_run = max(writers.values())
            yield Finding(
                uri=ds.uri, category="obsolete", kind="producer_stopped", action="quarantine", confidence=0.7,
                reclaimable_bytes=_bytes(ds), related=tuple(lineage.downstream(ds.uri)) if lineage else (),
                explanation=f"its producer{'s' if len(writers) > 1 else ''} ({', '.join(sorted(writers))}) last ran "
                            f"{_days(as_of - last_run)} days ago and nothing read it in the "
                            f"{window:.0f} days the usage sources cover",
                evidence={**evidence, "producer_last_run": {j: iso(t) for j, t in writers.items()}},
            )
            continue
        old_enough = created is not None and as_of - created > timedelta(days=rules.unread_days)
        if window >= rules.unread_days and old_enough:
            written_recently = last_written is not None and as_of - last_written <= timedelta(days=rules.producer_stopped_days)
            yield Finding(
                uri=ds.uri, category="obsolete", kind="unread",
                action="review" if written_recently else "quarantine",
                confidence=0.6 if written_recently else 0.7,
                reclaimable_bytes=_bytes(ds),
                explanation=f"not read in the last {rules.unread_days:g} days (last read {_when(last_read, as_of)}; "
                            f"usage sources cover {window:.0f} days)"
                            + ("; still written — a producer may be writing it for nobody" if written_recently else ""),
                evidence=evidence,
            )


def _short(uri: str) -> str:
    return uri.rsplit("/", 1)[-1] or uri


_VERSION = re.compile(r"^(?P<stem>.+?)[_\-.]v(?P<n>\d+)$", re.IGNORECASE)
_OLD = re.compile(r"^(?P<stem>.+?)[_\-.](?P<tag>old|bak|backup|deprecated|legacy|orig|prev|previous)(?:[_\-.]?\d+)?$",
                  re.IGNORECASE)
_DATED = re.compile(r"^(?P<stem>.+?)[_\-.](?P<date>(?:19|20)\d{2}[_\-.]?[01]\d[_\-.]?[0-3]\d)$")


def _base_name(ds: Dataset) -> str:
    name = posixpath.basename(parse(ds.uri).path)
    for ext in (".parquet", ".csv", ".json", ".jsonl", ".orc", ".avro"):
        if name.lower().endswith(ext):
            return name[: -len(ext)]
    return name


def _columns(ds: Dataset) -> set[str]:
    return {c.name.lower() for c in ds.schema or () if c.type != "partition"}


def _compatible(old: Dataset, new: Dataset) -> bool:
    a, b = _columns(old), _columns(new)
    if not a or not b:
        return False
    return len(a & b) / len(a) >= 0.5


def _superseded(datasets: Sequence[Dataset], usage: Mapping[str, Usage] | None, coverage: Coverage | None,
                rules: ObsoleteRules, as_of: datetime) -> Iterable[Finding]:
    by_parent: dict[str, list[Dataset]] = defaultdict(list)
    for ds in datasets:
        by_parent[str(parse(ds.uri).parent)].append(ds)
    for siblings in by_parent.values():
        names = {_base_name(d): d for d in siblings}
        pairs: list[tuple[Dataset, Dataset, str]] = []
        versions: dict[str, list[tuple[int, Dataset]]] = defaultdict(list)
        dated: dict[str, list[tuple[str, Dataset]]] = defaultdict(list)
        for name, ds in names.items():
            if m := _VERSION.match(name):
                versions[m["stem"].lower()].append((int(m["n"]), ds))
            elif m := _DATED.match(name):
                dated[m["stem"].lower()].append((re.sub(r"\D", "", m["date"]), ds))
            elif (m := _OLD.match(name)) and m["stem"] in names:
                pairs.append((ds, names[m["stem"]], f"'{m['tag']}' copy beside {m['stem']}"))
        for stem, vs in versions.items():
            vs.sort(key=lambda t: t[0])
            newest_n, newest = vs[-1]
            base = names.get(next((n for n in names if n.lower() == stem), ""))
            for n, ds in vs[:-1]:
                pairs.append((ds, newest, f"version {n} of {stem}, superseded by v{newest_n}"))
            if base is not None:
                pairs.append((base, newest, f"unversioned {stem}, superseded by v{newest_n}"))
        for stem, ds_list in dated.items():
            ds_list.sort(key=lambda t: t[0])
            keep = ds_list[-rules.superseded_keep_last:] if rules.superseded_keep_last > 0 else ds_list[-1:]
            newest = ds_list[-1][1]
            for date, ds in ds_list[: len(ds_list) - len(keep)]:
                pairs.append((ds, newest, f"snapshot {date} of the {stem} series; the newest {len(keep)} are kept"))
        for old, new, why in pairs:
            f = _superseded_finding(old, new, why, usage, coverage, rules, as_of)
            if f is not None:
                yield f


def _superseded_finding(old: Dataset, new: Dataset, why: str, usage: Mapping[str, Usage] | None,
                        coverage: Coverage | None, rules: ObsoleteRules, as_of: datetime) -> Finding | None:
    if not _compatible(old, new):
        return None
    new_time = new.last_written or new.modified_max
    old_time = old.last_written or old.modified_max
    if new_time is None or old_time is None or new_time < old_time:
        return None  # the "newer" one is not newer: not evidence of replacement
    known = usage is not None and coverage is not None and coverage.covers(old.uri) and coverage.start is not None
    u = usage.get(old.uri) if known and usage is not None else None
    last_read = u.last_read if u else None
    if known and last_read is not None and as_of - last_read <= timedelta(days=min(rules.unread_days, 90)):
        return None  # still read: not obsolete, whatever its name says
    reads = ("reads unknown (no usage source covers it)" if not known
             else f"last read {_when(last_read, as_of)}")
    shared = sorted(_columns(old) & _columns(new))
    return Finding(
        uri=old.uri, category="obsolete", kind="superseded", action="quarantine" if known else "review",
        confidence=0.75 if known else 0.5, reclaimable_bytes=_bytes(old), related=(new.uri,),
        explanation=f"{why}: {new.relative_path} is newer (written {_when(new_time, as_of)}) with compatible columns; {reads}",
        evidence={"newer": new.uri, "newer_written": iso(new_time), "this_written": iso(old_time),
                  "shared_columns": shared, "last_read": iso(last_read), "usage_known": known},
    )


def _unvacuumed(datasets: Sequence[Dataset], rules: ObsoleteRules) -> Iterable[Finding]:
    for ds in datasets:
        d = ds.delta
        if d is None or d.vacuumable_bytes < rules.unvacuumed_min_bytes:
            continue
        yield Finding(
            uri=ds.uri, category="obsolete", kind="unvacuumed_history", action="vacuum", confidence=0.9,
            reclaimable_bytes=d.vacuumable_bytes,
            explanation=f"{d.vacuumable_files:,} file(s), {d.vacuumable_bytes:,} bytes are no longer part of the "
                        f"current version and older than the table's {d.retention_hours:g}-hour retention: VACUUM "
                        f"would remove them (time travel to versions before that is given up)",
            evidence={"vacuumable_bytes": d.vacuumable_bytes, "vacuumable_files": d.vacuumable_files,
                      "retention_hours": d.retention_hours, "delta_version": d.version,
                      "time_travel_bytes": d.time_travel_bytes},
        )

"""Usage of the scanned datasets, from every source at once: read the usage sources (plus the Delta
history of every Delta table found), map their events to the datasets, compute per-dataset usage and
the lineage graph, and say what the read-recording sources cover — the only window and storages a
usage claim may rely on."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from rotscan.config import Config
from rotscan.crawl.inventory import InventoryEntry
from rotscan.models import ScanWarning, UsageSource
from rotscan.uri import Uri, parse
from rotscan.usage.events import Coverage


@dataclass(frozen=True)
class UsageSettings:
    column_mapping: dict[str, str] | None  # generic CSV/Parquet audit exports: rotscan key -> column
    hdfs_namenode: str | None  # qualifies the paths of HDFS audit logs
    ignore_actors: frozenset[str]  # lower-cased actors whose accesses are not usage (rotscan itself)

    @classmethod
    def from_config(cls, config: Config) -> UsageSettings:
        u = config.section("usage")
        return cls(column_mapping=dict(u["column_mapping"]) or None, hdfs_namenode=str(u["hdfs_namenode"]) or None,
                   ignore_actors=frozenset(a.lower() for a in u["ignore_actors"]))


@dataclass(frozen=True)
class UsageContext:
    stats: dict[str, Any]  # uri -> rotscan.usage.stats.UsageStats
    graph: Any  # rotscan.usage.stats.LineageGraph
    coverage: Coverage
    sources: tuple[UsageSource, ...]
    # per dataset URI and kind of claim, the owner the sources declare (rotscan.owners.lineage_owners)
    owners: dict[str, Any] = field(default_factory=dict)


def gather_usage(paths: Sequence[str], entries: list[InventoryEntry], settings: UsageSettings,
                 warnings: list[ScanWarning], as_of: datetime, progress: Callable[[str], None]) -> UsageContext:
    """Read the usage sources at ``paths`` and the Delta history of every Delta table among
    ``entries``, and fill each dataset's last read/written."""
    from rotscan.usage.delta_history import read_delta_history
    from rotscan.usage.mapping import DatasetIndex
    from rotscan.usage.reader import UsageData, read_usage
    from rotscan.usage.stats import compute_usage

    progress(f"reading {len(paths)} usage source(s)")
    data = read_usage(paths, column_mapping=settings.column_mapping, hdfs_namenode=settings.hdfs_namenode)
    ignored = settings.ignore_actors
    # Delta history is read below for every Delta table scanned; drop copies found under the usage
    # paths so no commit counts twice. Events of ignored actors (rotscan's own principal) go too.
    events = [ev for ev in data.events if ev.source != "delta_history"
              and not (ev.actor and ev.actor.lower() in ignored)]
    coverage = [c for c in data.coverage if c.kind != "delta_history"]
    extra_warnings = list(data.warnings)
    for e in entries:
        if e.dataset.format == "delta" and e.dataset.uri.startswith("file:"):
            parsed = read_delta_history(parse(e.dataset.uri).path)
            events += [ev for ev in parsed.events if not (ev.actor and ev.actor.lower() in ignored)]
            extra_warnings += parsed.warnings
            if parsed.events:
                coverage.append(parsed.coverage())
    warnings.extend(extra_warnings)
    merged = UsageData(events=tuple(events), coverage=tuple(coverage), warnings=tuple(extra_warnings),
                       aliases=data.aliases)
    index = DatasetIndex([e.dataset.uri for e in entries], data.aliases)
    stats, graph, unmatched = compute_usage(merged, index, as_of)
    reads = [ev for ev in events if ev.kind == "read" and ev.table is None and ":" in ev.uri]
    read_sources = [c for c in coverage if c.kind != "delta_history"]
    start = min((c.start for c in read_sources if c.start is not None), default=None)
    end = max((c.end for c in read_sources if c.end is not None), default=None)
    storages = frozenset((u.scheme, u.authority) for u in (_safe_parse(ev.uri) for ev in reads) if u is not None)
    if end is not None and as_of - end > timedelta(days=7):
        warnings.append(ScanWarning(None, f"usage sources end {(as_of - end).days} days before the scan; reads "
                                          "after that are unknown, so no 'unread' claims are made", "usage_stale"))
        storages = frozenset()
    if unmatched:
        warnings.append(ScanWarning(None, f"{unmatched:,} usage record(s) touch paths outside every scanned dataset",
                                    "usage_unmatched"))
    progress(f"  {len(events):,} access event(s) from {len(coverage)} source(s); "
             f"{len(stats):,} dataset(s) with usage")
    for e in entries:
        u = stats.get(e.dataset.uri)
        if u is not None:
            e.dataset = replace(e.dataset, last_read=u.last_read, last_written=u.last_written)
    from rotscan.owners import lineage_owners

    return UsageContext(stats=stats, graph=graph,
                        coverage=Coverage(start=start, end=end, storages=storages,
                                          kinds=tuple(sorted({c.kind for c in read_sources}))),
                        sources=tuple(c.to_usage_source() for c in coverage),
                        owners=lineage_owners(events, index.lookup))


def _safe_parse(text: str) -> Uri | None:
    try:
        return parse(text)
    except ValueError:
        return None

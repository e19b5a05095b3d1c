"""Revalidation against usage at apply time: a path that was read or written after the scan it was
planned from is not touched.

The plan records the usage sources its scan read (``scan.usage_sources`` in the plan header); at
apply time they are read again — logs grow, so they now hold what happened since the scan — together
with any source given to ``apply`` itself. An access event after the scan's ``as_of`` on a planned
path, on a file inside it, or on a directory holding it (a read of a whole table reads its
partitions), by anyone but the ``[usage] ignore_actors`` (rotscan's own principal: its scan reads
every table it profiles), skips that action with the event as the reason. Delta commits need no log:
the plan's fingerprint holds the table version.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from rotscan.models import iso, parse_iso
from rotscan.usage.aggregate import UsageSettings
from rotscan.usage.events import AccessEvent
from rotscan.usage.mapping import DatasetIndex

DELTA_HISTORY = "delta_history"


@dataclass
class UsageSince:
    """What the usage sources saw after ``since`` on each planned path (its latest access)."""

    since: datetime
    sources: tuple[str, ...]
    latest: dict[str, AccessEvent] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def reason(self, uri: str) -> str | None:
        ev = self.latest.get(uri)
        if ev is None:
            return None
        who = f" by {ev.actor}" if ev.actor else ""
        job = f" ({ev.job})" if ev.job else ""
        where = "" if ev.uri == uri else f" ({ev.uri})"
        return (f"{'read' if ev.kind == 'read' else 'written'} after the scan: {iso(ev.time)}{who}{job}{where}, "
                f"seen in {ev.source}; scan again before cleaning it up")


def recorded_sources(plan_header: dict[str, object]) -> list[str]:
    """The usage source paths the plan's scan read (Delta history is not one: the fingerprint covers it)."""
    scan = plan_header.get("scan")
    sources = scan.get("usage_sources") if isinstance(scan, dict) else None
    out: list[str] = []
    for s in sources if isinstance(sources, list) else []:
        if isinstance(s, dict) and isinstance(s.get("path"), str) and s.get("kind") != DELTA_HISTORY:
            out.append(s["path"])
    return list(dict.fromkeys(out))


def scan_as_of(plan_header: dict[str, object]) -> datetime | None:
    scan = plan_header.get("scan")
    text = scan.get("as_of") if isinstance(scan, dict) else None
    try:
        return parse_iso(text) if isinstance(text, str) else None
    except ValueError:
        return None


def usage_since(paths: Sequence[str], since: datetime, planned: Iterable[str], settings: UsageSettings) -> UsageSince:
    """Read the usage sources at ``paths`` and keep, per planned path, the latest access after
    ``since`` (see the module docstring)."""
    from rotscan.usage.reader import read_usage

    data = read_usage(paths, column_mapping=settings.column_mapping, hdfs_namenode=settings.hdfs_namenode)
    out = UsageSince(since=since, sources=tuple(paths),
                     warnings=[w.message for w in data.warnings if w.code in ("usage_missing", "usage_unreadable")])
    index = DatasetIndex(planned, data.aliases)
    for ev in data.events:
        if ev.time <= since or ev.source == DELTA_HISTORY:
            continue
        if ev.actor and ev.actor.lower() in settings.ignore_actors:
            continue
        hits = set(index.contained(ev.uri))
        inside = index.lookup(ev.uri)
        if inside is not None:
            hits.add(inside)
        for uri in hits:
            cur = out.latest.get(uri)
            if cur is None or ev.time >= cur.time:
                out.latest[uri] = ev
    return out

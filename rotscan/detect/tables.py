"""Catalog tables against the lake (pure Python over a :class:`rotscan.catalog.CatalogIndex`).

- :func:`register_datasets` — each dataset's ``table`` (the catalog table registered at it or at a
  location containing it) and ``registered`` (``True``: it is, lies inside or contains a table
  location; ``False``: the catalog was read completely and no table points at it; ``None``: no
  catalog was read, or part of it could not be, so nothing is claimed).
- :func:`with_registration` — every finding names its table and carries evidence ``registered``.
  Data registered in no catalog table is queried by nobody through a table name, so a finding on
  it is more likely right: its confidence rises by a quarter of the remaining doubt, by at most
  :data:`MAX_RAISE` (0.05), never above :data:`CAP` (0.99), and its action never changes.
  Registered data gets no raise and no cut: a table entry says someone once registered it, not
  that anyone reads it.
- :func:`detect_broken_tables` — ``broken_table``: a catalog table whose locations all lie in the
  scanned roots and hold no data: gone (the location does not exist) or empty (no data files;
  markers, zero-byte and hidden files aside). Category ``trivial`` (the entry holds nothing),
  action ``review`` (dropping a catalog entry is the owner's decision; rotscan never does it on its
  own), reclaimable bytes: 0 when gone, else the bytes of what is left there. Tables with any
  location outside the roots are not judged (their data may be there); views have no location.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from rotscan.catalog import CatalogIndex, CatalogTable
from rotscan.models import Dataset, Finding
from rotscan.uri import Uri, parse

RAISE_SHARE = 0.25  # of the remaining doubt (1 - confidence)
MAX_RAISE = 0.05
CAP = 0.99


def register_datasets(datasets: Iterable[Dataset], index: CatalogIndex) -> list[Dataset]:
    out = []
    for ds in datasets:
        u = parse(ds.uri)
        table = index.table_for(u)
        out.append(replace(ds, table=table.name if table else None, registered=index.registered(u)))
    return out


def raised_confidence(confidence: float) -> float:
    """The confidence of a finding on unregistered data (bounded, see the module docstring)."""
    if confidence >= CAP:
        return confidence
    return round(min(CAP, confidence + min(MAX_RAISE, RAISE_SHARE * (1.0 - confidence))), 4)


def with_registration(findings: Iterable[Finding], index: CatalogIndex) -> list[Finding]:
    out = []
    for f in findings:
        u = parse(f.uri)
        table = index.table_for(u)
        registered = index.registered(u)
        evidence: dict[str, Any] = {**f.evidence, "registered": registered}
        if table is not None:
            evidence["table"] = table.name
        confidence, explanation = f.confidence, f.explanation
        if registered is False and f.kind != "broken_table":
            confidence = raised_confidence(f.confidence)
            if confidence != f.confidence:
                evidence["confidence_unregistered_raise"] = round(confidence - f.confidence, 4)
            explanation = f"{explanation}; registered in no catalog table"
        out.append(replace(f, table=table.name if table else f.table, evidence=evidence, confidence=confidence,
                           explanation=explanation))
    return out


@dataclass(frozen=True)
class LocationState:
    """What is at a table location: ``missing``, ``empty`` (no data files) or ``data``."""

    state: str
    files: int = 0
    bytes: int = 0


def _hidden(rel: str) -> bool:
    return any(part.startswith(("_", ".")) for part in rel.split("/") if part)


def probe_location(storage: Any, uri: Uri, max_entries: int = 10_000) -> LocationState:
    """Walk ``uri`` until a data file shows up: a file of at least one byte whose path (relative to
    ``uri``) has no component starting with ``_`` or ``.`` (the files Hive and Spark skip)."""
    from rotscan.errors import StorageError, VanishedError

    try:
        top = storage.stat(uri)
    except VanishedError:
        return LocationState("missing")
    except StorageError:
        return LocationState("data")  # cannot tell: never call it broken
    if not top.is_dir:
        return LocationState("data" if top.size > 0 else "empty", 1, top.size)
    files = nbytes = seen = 0
    todo = [uri]
    while todo:
        d = todo.pop()
        try:
            entries = storage.list_dir(d)
        except VanishedError:
            continue
        except StorageError:
            return LocationState("data")
        for e in entries:
            seen += 1
            if seen > max_entries:
                return LocationState("data")
            if e.is_dir:
                todo.append(e.uri)
                continue
            files += 1
            nbytes += e.size
            if e.size > 0 and not _hidden(e.uri.relative_to(uri)):
                return LocationState("data", files, nbytes)
    return LocationState("empty", files, nbytes)


def detect_broken_tables(index: CatalogIndex, roots: Sequence[Uri], datasets: Iterable[Dataset],
                         probe: Callable[[Uri], LocationState]) -> list[Finding]:
    # locations where the scan found a dataset (at them or inside: an empty one is reported as "empty")
    with_data = {loc for d in datasets for loc in index.locations_above(parse(d.uri))}
    out: list[Finding] = []
    for t in sorted(index.tables, key=lambda t: t.name):
        locations = [parse(loc) for loc in t.locations]
        if not locations or not all(any(loc.is_within(r) for r in roots) for loc in locations):
            continue
        if any(loc in with_data for loc in locations):
            continue
        states = [probe(loc) for loc in locations]
        if any(s.state == "data" for s in states):
            continue
        out.append(_broken(t, locations, states, roots))
    return out


def _broken(t: CatalogTable, locations: list[Uri], states: list[LocationState], roots: Sequence[Uri]) -> Finding:
    gone = all(s.state == "missing" for s in states)
    where = locations[0]
    root = next((r for r in roots if where.is_within(r)), None)
    shown = where.relative_to(root) if root is not None and where != root else str(where)
    files = sum(s.files for s in states)
    nbytes = sum(s.bytes for s in states)
    many = len(locations) > 1
    parts = f" and its {len(locations) - 1} partition location(s)" if many else ""
    if gone:
        what = f"points at {shown}{parts}, which no longer exist" + ("" if many else "s")
        state = "missing"
    else:
        left = f"{files:,} marker/empty file(s), {nbytes:,} bytes" if files else "nothing"
        what = f"points at {shown}{parts}, which hold" + ("" if many else "s") + f" no data files ({left})"
        state = "empty"
    kind = "managed" if t.managed else "external"
    return Finding(
        uri=str(where), category="trivial", kind="broken_table", action="review",
        confidence=0.9 if gone else 0.85, reclaimable_bytes=0 if gone else nbytes,
        explanation=f"catalog table {t.name} ({kind}, {t.format or 'unknown format'}) {what}: queries of it "
                    "fail or return nothing; drop the table entry or restore its data",
        evidence={"table": t.name, "location": t.location, "location_state": state, "table_type": t.table_type,
                  "format": t.format, "files": files, "bytes": nbytes, "partition_locations": len(locations) - 1,
                  "registered": True},
        table=t.name,
    )


def catalog_coverage(index: CatalogIndex, snapshot_source: str, databases: Sequence[str], roots: Sequence[Uri],
                     datasets: Iterable[Dataset], broken: int, errors: Sequence[str] = ()) -> dict[str, Any]:
    """``scan.catalog`` in findings.json: what was read and what it covered."""
    inside = outside = partly = no_location = 0
    for t in index.tables:
        locs = [parse(loc) for loc in t.locations]
        if not locs:
            no_location += 1
            continue
        within = [any(loc.is_within(r) for r in roots) for loc in locs]
        if all(within):
            inside += 1
        elif any(within):
            partly += 1
        else:
            outside += 1
    ds = list(datasets)
    return {
        "source": snapshot_source,
        "databases": list(databases),
        "tables": len(index.tables),
        "tables_in_roots": inside,
        "tables_partly_outside_roots": partly,
        "tables_outside_roots": outside,
        "tables_without_location": no_location,
        "broken_tables": broken,
        "registered_datasets": sum(1 for d in ds if d.registered is True),
        "unregistered_datasets": sum(1 for d in ds if d.registered is False),
        "complete": index.complete,
        "errors": list(errors),
        "note": "tables whose locations lie (partly) outside the scanned roots are not judged: their data may be "
                "there; views have no location"
                + ("" if index.complete else "; part of the catalog could not be read, so no dataset is called "
                   "unregistered"),
    }

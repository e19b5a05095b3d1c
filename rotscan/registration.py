"""The catalog and owner steps of a scan (orchestration; the rules are in :mod:`rotscan.detect.tables`
and :mod:`rotscan.owners`, the metastore access in :mod:`rotscan.spark.catalog`).

1. :func:`read_catalog_step` — with ``[catalog] enabled``, read the metastore through the scan's
   Spark session. A catalog that cannot be read is a warning, not a failed scan: nothing is then
   called registered or unregistered (``registered`` stays null), and the scan goes on.
2. :func:`register` — each dataset's ``table`` and ``registered``, before the detectors run (the
   keeper of a set of copies prefers the registered one).
3. :func:`broken_table_findings` — catalog tables in the roots whose locations hold no data.
4. :func:`finish_findings` — table, registration evidence and the bounded confidence raise on every
   finding, then owners on datasets and findings (:func:`rotscan.owners.assign_owners`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rotscan.catalog import CatalogError, CatalogIndex, CatalogSettings, CatalogSnapshot
from rotscan.detect.tables import (
    catalog_coverage,
    detect_broken_tables,
    probe_location,
    register_datasets,
    with_registration,
)
from rotscan.models import Dataset, Finding, ScanWarning
from rotscan.owners import LineageOwner, OwnerRules, assign_owners
from rotscan.storage.base import Storage
from rotscan.uri import Uri

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


@dataclass(frozen=True)
class CatalogStep:
    """What the scan knows of the catalog: nothing (``snapshot`` None) or one read of it."""

    settings: CatalogSettings
    snapshot: CatalogSnapshot | None = None
    index: CatalogIndex | None = None

    @property
    def read(self) -> bool:
        return self.index is not None


def read_catalog_step(settings: CatalogSettings, spark: Callable[[], SparkSession], progress: Callable[[str], None],
                      warnings: list[ScanWarning]) -> CatalogStep:
    if not settings.enabled:
        return CatalogStep(settings)
    from rotscan.errors import SparkSetupError
    from rotscan.spark.catalog import read_catalog

    progress(f"reading the catalog: {settings.describe()}")
    try:
        snapshot = read_catalog(spark(), settings, progress)
    except (CatalogError, SparkSetupError) as exc:
        warnings.append(ScanWarning(None, f"catalog not read ({exc}); no dataset is called registered or "
                                          "unregistered", "catalog_unreadable"))
        return CatalogStep(settings)
    for err in snapshot.errors:
        warnings.append(ScanWarning(None, f"catalog: {err}; no dataset is called unregistered", "catalog_partial"))
    progress(f"  {len(snapshot.tables):,} table(s) in {len(snapshot.databases):,} database(s)")
    if not snapshot.tables:
        # most likely not the metastore meant (an embedded Derby one created on the spot when neither
        # metastore_uris nor hive-site.xml says where it is): calling all data unregistered would be a guess
        warnings.append(ScanWarning(None, f"the catalog ({settings.describe()}) has no tables; is [catalog] "
                                          "metastore_uris set? No dataset is called registered or unregistered",
                                    "catalog_empty"))
        return CatalogStep(settings, snapshot)
    return CatalogStep(settings, snapshot, snapshot.index())


def register(datasets: Iterable[Dataset], step: CatalogStep) -> list[Dataset]:
    if step.index is None:
        return list(datasets)
    return register_datasets(datasets, step.index)


def broken_table_findings(step: CatalogStep, roots: Sequence[Uri], datasets: Iterable[Dataset],
                          storage_for: Callable[[Uri], Storage]) -> list[Finding]:
    if step.index is None:
        return []
    return detect_broken_tables(step.index, roots, datasets, lambda u: probe_location(storage_for(u), u))


def finish_findings(findings: Iterable[Finding], datasets: Iterable[Dataset], step: CatalogStep, rules: OwnerRules,
                    roots: Sequence[Uri], *, delta_properties: Mapping[str, Mapping[str, str]] | None = None,
                    lineage: Mapping[str, Mapping[str, LineageOwner]] | None = None,
                    ) -> tuple[list[Dataset], list[Finding]]:
    out = list(findings)
    if step.index is not None:
        out = with_registration(out, step.index)
    return assign_owners(datasets, out, rules, roots=roots, catalog=step.index, delta_properties=delta_properties,
                         lineage=lineage)


def coverage(step: CatalogStep, roots: Sequence[Uri], datasets: Iterable[Dataset],
             findings: Iterable[Finding]) -> dict[str, Any] | None:
    """``scan.catalog`` of findings.json (None when no catalog was configured)."""
    if not step.settings.enabled:
        return None
    if step.snapshot is None or step.index is None:
        empty = step.snapshot is not None
        return {"source": step.settings.describe(), "read": empty, "tables": 0 if empty else None,
                "complete": False,
                "note": ("the catalog has no tables (see warnings)" if empty else
                         "the catalog could not be read (see warnings)") + ": registration is unknown"}
    broken = sum(1 for f in findings if f.kind == "broken_table")
    return {"read": True, **catalog_coverage(step.index, step.snapshot.source, step.snapshot.databases, roots,
                                             datasets, broken, step.snapshot.errors)}

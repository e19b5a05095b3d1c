"""Steps 1 and 2 of a scan: crawl every root and inventory each dataset found, from metadata only.

A root is listed by the driver (the classic crawl through the root's storage), from an S3 Inventory
report instead of LIST calls (``[scan] s3_inventory``), or by Spark executors in parallel
(``[scan] listing``) — all three give the same datasets (see README "Distributed listing").
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from rotscan.crawl.discover import Crawler, CrawlRules, DatasetCandidate, PathItem
from rotscan.crawl.inventory import Inventory, InventoryEntry
from rotscan.errors import RootNotFoundError, StorageError, VanishedError
from rotscan.models import ScanWarning
from rotscan.runtime import Runtime
from rotscan.settings import ScanSettings
from rotscan.storage.base import Storage
from rotscan.uri import Uri

if TYPE_CHECKING:
    from rotscan.spark.listing import ListingOutcome


@dataclass
class Listing:
    """What the crawl of the roots found: one inventory entry per dataset, the paths that are not
    datasets (junk, debris, zero-byte files…), and the warnings of both."""

    entries: list[InventoryEntry] = field(default_factory=list)
    items: list[PathItem] = field(default_factory=list)
    warnings: list[ScanWarning] = field(default_factory=list)


def list_roots(uris: Sequence[Uri], rt: Runtime, settings: ScanSettings, rules: CrawlRules,
               as_of: datetime) -> Listing:
    """Crawl and inventory every root. A root that cannot be reached is a RootNotFoundError."""
    t0 = time.monotonic()
    out = Listing()
    if settings.s3_inventory and not any(u.scheme == "s3a" for u in uris):
        raise RootNotFoundError(f"an S3 inventory ({settings.s3_inventory}) lists an S3 bucket; no root is an "
                                "s3a:// URI")
    for root in uris:
        try:
            storage: Storage = rt.storage(root)
        except StorageError as exc:
            raise RootNotFoundError(f"cannot access root {exc}") from exc
        inventoried = None
        if settings.s3_inventory and root.scheme == "s3a":
            # list from the S3 Inventory report (read with Spark) instead of LIST calls; reads stay real
            from rotscan.spark.s3_inventory import inventory_storage

            storage = inventoried = inventory_storage(
                rt.spark(need_s3a=True), settings.s3_inventory, root, storage, as_of=as_of,
                max_age=settings.s3_inventory_max_age, warnings=out.warnings, progress=rt.progress)
        inventory = Inventory(storage, small_file_bytes=settings.small_file_bytes, sniff_bytes=settings.sniff_bytes,
                              as_of=as_of.timestamp())

        def on_dataset(cand: DatasetCandidate, inventory: Inventory = inventory) -> None:
            out.entries.append(inventory.build(cand))

        rt.progress(f"crawling {root}")
        crawler = Crawler(storage, rules, on_dataset)
        if root.scheme != "file":
            try:
                storage.stat(root)
            except VanishedError as exc:
                raise RootNotFoundError(f"root does not exist: {root}") from exc
            except StorageError as exc:
                raise RootNotFoundError(f"cannot access root {exc}") from exc
        listed = None if inventoried is not None else _distributed(root, storage, rules, inventory, rt, settings,
                                                                   out.warnings)
        if listed is not None:
            out.entries.extend(listed.entries)
            out.items.extend(listed.items)
            out.warnings.extend(listed.warnings)
            rt.progress(f"  {listed.dirs_listed:,} directories, {listed.files_seen:,} files listed by the executors "
                        f"in {listed.subtrees:,} sub-tree(s) ({time.monotonic() - t0:.1f}s)")
            continue
        crawler.crawl(root)
        if inventoried is not None:
            inventoried.close_inventory(out.warnings)
        out.items.extend(crawler.items)
        out.warnings.extend(crawler.warnings)
        rt.progress(f"  {crawler.dirs_listed:,} directories, {crawler.files_seen:,} files listed "
                    f"({time.monotonic() - t0:.1f}s)")
    for e in out.entries:
        out.warnings.extend(e.warnings)
    return out


def _distributed(root: Uri, storage: Storage, rules: CrawlRules, inventory: Inventory, rt: Runtime,
                 settings: ScanSettings, warnings: list[ScanWarning]) -> ListingOutcome | None:
    """List ``root`` on the executors when ``[scan] listing`` asks for it (``auto``: a remote root
    on a cluster, not ``local[*]``); None means the driver lists it (the classic crawl)."""
    mode = settings.listing
    if mode == "driver" or (mode == "auto" and root.scheme == "file"):
        return None
    spark = rt.spark(need_s3a=root.scheme == "s3a")
    if mode == "auto" and (spark.sparkContext.master or "").startswith("local"):
        return None
    from rotscan.spark.listing import InventorySettings, distributed_crawl, storage_spec

    spec = storage_spec(spark, root)
    if spec is None:
        warnings.append(ScanWarning(str(root), f"executors cannot list {root.scheme}: storage (no pyarrow "
                                               "filesystem for it here, e.g. libhdfs missing); listed on the driver",
                                    "listing_fallback"))
        return None
    inv = InventorySettings(inventory.small_file_bytes, inventory.sniff_bytes, inventory.as_of)
    rt.progress(f"  listing {root} on the executors")
    try:
        return distributed_crawl(spark, storage, spec, root, rules, inv, subtrees=settings.listing_subtrees)
    except Exception as exc:  # a failed Spark job (py4j/Python worker error): the driver can still list
        first = next((ln.strip() for ln in str(exc).splitlines() if ln.strip()), type(exc).__name__)
        warnings.append(ScanWarning(str(root), f"distributed listing failed ({first[:200]}); listed on the driver",
                                    "listing_fallback"))
        return None

"""Distributed listing: Spark executors crawl the sub-trees of a root in parallel.

The driver lists the first levels of the root itself — only directories that hold no table (no
``_delta_log``, Iceberg ``metadata`` or Hive partitions below them) are opened there — until it has
enough independent sub-trees (or reaches ``MAX_DRIVER_LEVELS``). Each sub-tree is then walked on an
executor by the very same :class:`~rotscan.crawl.discover.Crawler` and
:class:`~rotscan.crawl.inventory.Inventory`, through an executor-side storage
(:mod:`rotscan.storage.arrow`; Python on an executor has no JVM gateway). Executors send back one
result per sub-tree — inventory entries (whose ``read_paths`` name a table's directory, not its
files, whenever that is exact), path items, warnings and counters — never per-file lists, so the
driver's memory grows with the number of datasets, not of files.

The driver then stitches the results in the order a single walk would produce them, and applies
the one rule that looks across sub-trees (a directory holding only debris of failed writes), so the
outcome equals a driver-side crawl.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

from rotscan.crawl.discover import Crawler, CrawlRules, DatasetCandidate, PathItem
from rotscan.crawl.inventory import Inventory, InventoryEntry
from rotscan.errors import StorageError
from rotscan.models import ScanWarning
from rotscan.storage.arrow import StorageSpec, executor_storage, s3_spec_from_hadoop
from rotscan.storage.base import Storage
from rotscan.uri import Uri

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

MAX_DRIVER_LEVELS = 6
LISTING_MODES = ("driver", "distributed", "auto")


@dataclass(frozen=True)
class InventorySettings:
    small_file_bytes: int
    sniff_bytes: int
    as_of: float


@dataclass
class SubtreeResult:
    """What an executor returns for one sub-tree: per-dataset state only."""

    uri: Uri
    found: bool
    entries: list[InventoryEntry]
    items: list[PathItem]
    warnings: list[ScanWarning]
    dirs_listed: int
    files_seen: int


@dataclass
class ListingOutcome:
    entries: list[InventoryEntry] = field(default_factory=list)
    items: list[PathItem] = field(default_factory=list)
    warnings: list[ScanWarning] = field(default_factory=list)
    dirs_listed: int = 0
    files_seen: int = 0
    subtrees: int = 0  # walked by executors
    driver_dirs: int = 0  # directories opened on the driver to split the tree


def crawl_subtrees(tasks: Iterable[tuple[Uri, Uri, int]], *, spec: StorageSpec, rules: CrawlRules,
                   settings: InventorySettings) -> Iterator[SubtreeResult]:
    """Executor side: walk each (root, sub-tree, depth) with the driver's crawler and inventory."""
    storage = executor_storage(spec)
    inventory = Inventory(storage, small_file_bytes=settings.small_file_bytes, sniff_bytes=settings.sniff_bytes,
                          as_of=settings.as_of)
    for root, uri, depth in tasks:
        entries: list[InventoryEntry] = []

        def on_dataset(cand: DatasetCandidate, entries: list[InventoryEntry] = entries) -> None:
            entries.append(inventory.build(cand))

        crawler = Crawler(storage, rules, on_dataset)
        found = crawler._walk(uri, root, depth)
        yield SubtreeResult(uri=uri, found=found, entries=entries, items=crawler.items, warnings=crawler.warnings,
                            dirs_listed=crawler.dirs_listed, files_seen=crawler.files_seen)


def storage_spec(spark: SparkSession | None, root: Uri) -> StorageSpec | None:
    """How executors reach ``root``'s storage, or None when they cannot (then the driver lists).
    s3a settings come from the session's Hadoop configuration (``spark.hadoop.fs.s3a.*``)."""
    if root.scheme == "file":
        return StorageSpec("file")
    if root.scheme == "s3a":
        if spark is None:
            return None
        conf = spark.sparkContext._jsc.hadoopConfiguration()  # type: ignore[union-attr]
        return s3_spec_from_hadoop(conf.get, root.authority)
    if root.scheme == "hdfs":
        spec = StorageSpec("hdfs", authority=root.authority)
        try:
            spec.filesystem()  # needs libhdfs and the Hadoop CLASSPATH in this process
        except Exception:
            return None
        return spec
    return None


@dataclass
class _Node:
    """A directory opened on the driver (not a table): what it held itself, and its subdirectories."""

    uri: Uri
    found: bool
    entries: list[InventoryEntry]
    items: list[PathItem]
    warnings: list[ScanWarning]
    children: list[Uri]


def distributed_crawl(spark: SparkSession, storage: Storage, spec: StorageSpec, root: Uri, rules: CrawlRules,
                      settings: InventorySettings, *, subtrees: int = 0) -> ListingOutcome:
    """Crawl ``root`` with the executors. ``storage`` is the driver's storage (it opens the first
    levels); ``subtrees``: how many independent sub-trees to aim for (0: four per core)."""
    sc = spark.sparkContext
    target = subtrees if subtrees > 0 else max(2, sc.defaultParallelism * 4)
    inventory = Inventory(storage, small_file_bytes=settings.small_file_bytes, sniff_bytes=settings.sniff_bytes,
                          as_of=settings.as_of)
    emitted: list[InventoryEntry] = []
    crawler = Crawler(storage, rules, lambda cand: emitted.append(inventory.build(cand)))
    out = ListingOutcome()

    try:
        top = storage.stat(root)
    except StorageError:
        top = None
    if top is None or not top.is_dir:
        # a file root, or one that cannot be read: the plain crawl reports it
        crawler.crawl(root)
        out.entries, out.items, out.warnings = emitted, crawler.items, crawler.warnings
        out.dirs_listed, out.files_seen = crawler.dirs_listed, crawler.files_seen
        return out

    nodes: dict[Uri, _Node] = {}
    tasks: list[tuple[Uri, Uri, int]] = []
    frontier: list[tuple[Uri, int]] = [(root, 0)]
    level = 0
    while frontier:
        if level >= MAX_DRIVER_LEVELS or (level > 0 and len(frontier) >= target):
            tasks.extend((root, uri, depth) for uri, depth in frontier)
            break
        nxt: list[tuple[Uri, int]] = []
        for uri, depth in frontier:
            try:
                listing = storage.list_dir(uri)
            except StorageError:
                tasks.append((root, uri, depth))  # the executor's walk reports it
                continue
            if Crawler.is_table_dir(listing, is_root=uri == root):
                tasks.append((root, uri, depth))
                continue
            crawler.dirs_listed += 1
            crawler.files_seen += sum(1 for e in listing if not e.is_dir)
            n_items, n_warnings = len(crawler.items), len(crawler.warnings)
            emitted.clear()
            found, subdirs = crawler._level(uri, root, listing)
            nodes[uri] = _Node(uri, found, list(emitted), crawler.items[n_items:], crawler.warnings[n_warnings:],
                               [s.uri for s in subdirs])
            nxt.extend((s.uri, depth + 1) for s in subdirs)
        frontier = nxt
        level += 1
    out.driver_dirs = len(nodes)

    results: dict[Uri, SubtreeResult] = {}
    if tasks:
        slices = min(len(tasks), max(1, sc.defaultParallelism) * 4)
        job = partial(crawl_subtrees, spec=spec, rules=rules, settings=settings)
        sc.setJobDescription(f"rotscan: listing {len(tasks)} sub-tree(s) of {root}")
        try:
            for r in sc.parallelize(tasks, slices).mapPartitions(job).collect():
                results[r.uri] = r
        finally:
            sc.setJobDescription(None)  # type: ignore[arg-type]
    out.subtrees = len(tasks)

    def assemble(uri: Uri) -> tuple[bool, list[InventoryEntry], list[PathItem], list[ScanWarning]]:
        r = results.get(uri)
        if r is not None:
            out.dirs_listed += r.dirs_listed
            out.files_seen += r.files_seen
            return r.found, r.entries, r.items, r.warnings
        node = nodes[uri]
        found, entries, items, warnings = node.found, list(node.entries), list(node.items), list(node.warnings)
        for child in node.children:
            f, e, i, w = assemble(child)
            found = f or found
            entries += e
            items += i
            warnings += w
        if not found and uri != root:
            n_warnings = len(crawler.warnings)
            item = crawler.debris_only(uri, root, items)
            warnings += crawler.warnings[n_warnings:]
            if item is not None:
                items = [item]  # the whole directory is the finding; nothing below it is reported apart
        return found, entries, items, warnings

    _, out.entries, out.items, out.warnings = assemble(root)
    out.dirs_listed += crawler.dirs_listed
    out.files_seen += crawler.files_seen
    return out

"""A scan, end to end: crawl every root, inventory each dataset from metadata, profile it with
Spark, run the detectors, write ``findings.json`` and ``report.html``.

Spark is started only when something needs it (a non-``file:`` root, or datasets to profile), so
a scan of a lake with nothing to profile never starts a JVM.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rotscan import __version__
from rotscan.atomic import write_text_atomic
from rotscan.config import Config
from rotscan.core.formatting import format_bytes
from rotscan.crawl.discover import Crawler, CrawlRules, DatasetCandidate
from rotscan.crawl.inventory import Inventory, InventoryEntry
from rotscan.detect.obsolete import Coverage, ObsoleteRules, detect_obsolete
from rotscan.detect.redundant import RedundancyRules, detect_redundant, projection_candidates
from rotscan.detect.trivial import TrivialRules, detect_trivial
from rotscan.errors import (
    ConfigError,
    FindingsFormatError,
    ReadError,
    RootNotFoundError,
    StorageError,
    VanishedError,
)
from rotscan.models import (
    Column,
    Finding,
    ScanInfo,
    ScanResult,
    ScanWarning,
    UsageSource,
    now_utc,
)
from rotscan.redundancy.signature import Signature
from rotscan.state import ContainmentKey, ProfileOutcome, ProjectionKey, StateTracker
from rotscan.storage.base import Storage
from rotscan.storage.local import LocalStorage
from rotscan.uri import Uri, parse

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from rotscan.spark.listing import ListingOutcome

Progress = Callable[[str], None]


def _silent(_: str) -> None:
    pass


@dataclass
class ScanContext:
    """What a scan needs from outside the library: configuration, environment, a way to report
    progress, and (lazily) a Spark session."""

    config: Config
    env: Mapping[str, str] = field(default_factory=dict)
    progress: Progress = _silent
    spark_factory: Callable[[bool], SparkSession] | None = None
    _spark: SparkSession | None = None

    def spark(self, need_s3a: bool = False) -> SparkSession:
        if self._spark is None:
            if self.spark_factory is None:
                from rotscan.spark.session import get_spark

                self._spark = get_spark(self.config, need_s3a=need_s3a, env=self.env)
            else:
                self._spark = self.spark_factory(need_s3a)
        return self._spark


def _storage_for(root: Uri, ctx: ScanContext, cache: dict[str, Storage]) -> Storage:
    if root.scheme not in cache:
        if root.scheme == "file":
            cache[root.scheme] = LocalStorage()
        else:
            from rotscan.spark.hadoop_fs import HadoopStorage

            cache[root.scheme] = HadoopStorage(ctx.spark(need_s3a=root.scheme == "s3a"), root.scheme)
    return cache[root.scheme]


def resolve_roots(roots: Sequence[str]) -> list[Uri]:
    """Parse roots; a missing local root is an error (remote roots are checked when listed)."""
    out: list[Uri] = []
    for text in roots:
        try:
            uri = parse(text)
        except ValueError as exc:
            raise RootNotFoundError(f"invalid root {text!r}: {exc}") from exc
        if uri.scheme == "file" and not os.path.exists(uri.path):
            raise RootNotFoundError(f"root does not exist: {text}")
        if uri in out:
            continue
        for other in out:
            if uri.is_within(other) or other.is_within(uri):
                raise RootNotFoundError(f"roots overlap: {other} and {uri}; give each part of the lake once")
        out.append(uri)
    return out


def _rows_estimate(e: InventoryEntry) -> int | None:
    ds = e.dataset
    if ds.rows is not None:
        return ds.rows
    # text formats: a generous upper estimate (16 bytes a row) keeps the sample at most its target
    return ds.bytes // 16 if ds.bytes else None


def _batch_key(e: InventoryEntry) -> tuple[object, ...] | None:
    """Datasets with equal keys can be read by one Spark reader (see ``profile_many``)."""
    if e.read_format == "csv" and e.csv_header:
        return tuple(e.csv_header)
    if e.read_format in ("parquet", "orc") and e.dataset.schema and e.base_path is None:
        return tuple((c.name, c.type) for c in e.dataset.schema)
    return None


def _profile_all(entries: list[InventoryEntry], ctx: ScanContext, warnings: list[ScanWarning],
                 state: StateTracker | None = None) -> None:
    cfg = ctx.config
    max_bytes = int(cfg.get("scan", "profile_max_bytes"))
    k = int(cfg.get("redundancy", "signature_bins"))
    target = int(cfg.get("redundancy", "sample_target"))
    todo = []
    for e in entries:
        ds = e.dataset
        if e.read_format is None or e.read_format == "avro":
            continue  # avro: rows come from its block headers; Spark's avro reader is an extra package
        if ds.rows == 0:
            continue
        if max_bytes and ds.bytes > max_bytes:
            warnings.append(ScanWarning(ds.uri, f"larger than profile_max_bytes ({format_bytes(max_bytes)}); "
                                                "columns and content not profiled", "not_profiled"))
            continue
        todo.append(e)
    if not todo:
        return
    outcomes: dict[int, ProfileOutcome] = {}
    if state is not None:
        for e in todo:
            hit = state.lookup_profile(e.dataset.uri, e.fingerprint)
            if hit is not None:
                outcomes[id(e)] = hit
        ctx.progress(f"{len(outcomes):,} reused from state, {len(todo) - len(outcomes):,} profiled")
    ordered, todo = todo, [e for e in todo if id(e) not in outcomes]
    if todo:
        _profile_spark(todo, ctx, k, target, outcomes, state)
    for e in ordered:
        _apply_profile(e, outcomes[id(e)], warnings)


def _profile_spark(todo: list[InventoryEntry], ctx: ScanContext, k: int, target: int,
                   outcomes: dict[int, ProfileOutcome], state: StateTracker | None) -> None:
    ctx.progress(f"profiling {len(todo)} dataset(s) with Spark (row counts, constant columns, content signatures)")
    spark = ctx.spark(need_s3a=any(e.dataset.uri.startswith("s3a:") for e in todo))
    from rotscan.spark.profile import ProfileJob, profile_many

    started = time.monotonic()
    done = 0
    last_note = started

    def on_done(i: int) -> None:
        nonlocal done, last_note
        done += 1
        now = time.monotonic()
        if now - last_note > 5 or done == len(todo):
            ctx.progress(f"  profiled {done}/{len(todo)} ({now - started:.0f}s): {todo[i].dataset.uri}")
            last_note = now

    jobs = [ProfileJob(e.read_format or e.dataset.format, e.read_paths, e.base_path, _rows_estimate(e), e.csv_header,
                       _batch_key(e), files=e.dataset.files) for e in todo]
    results = profile_many(spark, jobs, k=k, sample_target=target, on_done=on_done)
    for e, p in zip(todo, results, strict=True):
        o = ProfileOutcome.from_error(str(p)) if isinstance(p, ReadError) else ProfileOutcome.from_profile(p)
        outcomes[id(e)] = o
        if state is not None:
            state.record_profile(e.dataset.uri, e.fingerprint, o)


def _apply_profile(e: InventoryEntry, p: ProfileOutcome, warnings: list[ScanWarning]) -> None:
    """Fill a dataset's rows, schema and constant/null columns from its profile (fresh from Spark
    or reused from the scan state: both go through here, so both give the same result)."""
    ds = e.dataset
    if p.error is not None:
        warnings.append(ScanWarning(ds.uri, f"Spark could not read it: {p.error}", "unreadable"))
        return
    rows = p.rows - p.corrupt_records
    if p.corrupt_records:
        warnings.append(ScanWarning(ds.uri, f"{p.corrupt_records:,} malformed record(s) skipped", "malformed"))
    schema = ds.schema
    if schema is None or ds.format in ("csv", "json", "text"):
        schema = tuple(Column(n, t) for n, t in p.schema)
    if ds.rows is not None and ds.rows != rows and ds.format != "delta":
        warnings.append(ScanWarning(ds.uri, f"row count from metadata ({ds.rows:,}) differs from the data "
                                            f"({rows:,}); using the data", "inconsistent"))
    e.signature = p.signature
    e.dataset = replace(
        ds,
        rows=rows,
        rows_source=ds.rows_source if ds.rows == rows and ds.rows_source else "spark_count",
        schema=schema,
        constant_columns=p.constant_columns,
        null_columns=p.null_columns,
    )


def _projections(entries: list[InventoryEntry], signatures: dict[str, Signature], exclude: set[str],
                 ctx: ScanContext, warnings: list[ScanWarning],
                 state: StateTracker | None = None) -> dict[tuple[str, str], Signature]:
    """Re-hash each wider table over the columns of a narrower one that may be its projection."""
    rules = RedundancyRules.from_config(ctx.config)
    by_uri = {e.dataset.uri: e for e in entries}
    candidates = projection_candidates([e.dataset for e in entries], signatures, rules, exclude)
    if not candidates:
        return {}
    ctx.progress(f"verifying {len(candidates)} projection candidate(s)")
    from rotscan.spark.profile import projected_signature

    out: dict[tuple[str, str], Signature] = {}
    target = int(ctx.config.get("redundancy", "sample_target"))
    # narrower tables with the same columns (monthly extracts of one mart, say) share one re-hash
    # of the wider table: a projected signature depends on the wider table and the columns only
    done: dict[tuple[str, tuple[str, ...], int], Signature] = {}
    for c in candidates:
        whole = by_uri[c.whole]
        memo = (c.whole, tuple(c.columns), signatures[c.part].k)
        if memo in done:
            out[(c.part, c.whole)] = done[memo]
            continue
        key = ProjectionKey(c.whole, whole.fingerprint or "", tuple(c.columns), signatures[c.part].k)
        cached = state.lookup_projection(key) if state is not None and whole.fingerprint else None
        if cached is not None:
            out[(c.part, c.whole)] = done[memo] = cached
            continue
        try:
            out[(c.part, c.whole)] = projected_signature(
                ctx.spark(), whole.read_format or whole.dataset.format, whole.read_paths, whole.base_path, c.columns,
                k=signatures[c.part].k, sample_target=target, rows_estimate=whole.dataset.rows)
        except ReadError as exc:
            warnings.append(ScanWarning(c.whole, f"projection check failed: {exc}", "unreadable"))
            continue
        done[memo] = out[(c.part, c.whole)]
        if state is not None and whole.fingerprint:
            state.record_projection(key, out[(c.part, c.whole)])
    return out


def _verify_sampled(findings: list[Finding], entries: list[InventoryEntry], ctx: ScanContext,
                    warnings: list[ScanWarning], state: StateTracker | None = None) -> list[Finding]:
    """Replace sampled subset/projection estimates by an exact anti-join count where affordable
    (both tables within ``verify_max_bytes``); findings that do not hold up are dropped."""
    limit = int(ctx.config.get("redundancy", "verify_max_bytes"))
    threshold = float(ctx.config.get("redundancy", "subset_threshold"))
    by_uri = {e.dataset.uri: e for e in entries}
    out: list[Finding] = []
    for f in findings:
        ev = f.evidence
        if f.kind not in ("subset", "projection") or ev.get("exact") or ev.get("checksum_match") or not f.related:
            out.append(f)
            continue
        part, whole = by_uri[f.uri], by_uri[f.related[0]]
        if limit <= 0 or part.dataset.bytes + whole.dataset.bytes > limit:
            out.append(f)
            continue
        from rotscan.spark.profile import exact_containment

        columns = tuple(ev.get("columns") or (part.signature.columns if part.signature else ()))
        key = ContainmentKey(part.dataset.uri, part.fingerprint or "", whole.dataset.uri, whole.fingerprint or "",
                             columns)
        cached = (state.lookup_containment(key) if state is not None and part.fingerprint and whole.fingerprint
                  else None)
        if cached is not None:
            distinct, missing = cached
        else:
            try:
                distinct, missing = exact_containment(
                    ctx.spark(), (part.read_format or "", part.read_paths, part.base_path),
                    (whole.read_format or "", whole.read_paths, whole.base_path), columns)
            except ReadError as exc:
                warnings.append(ScanWarning(f.uri, f"exact containment check failed: {exc}", "unreadable"))
                out.append(f)
                continue
            if state is not None and part.fingerprint and whole.fingerprint:
                state.record_containment(key, distinct, missing)
        cont = 1.0 - missing / distinct if distinct else 0.0
        if cont < threshold:
            continue
        full = missing == 0
        out.append(replace(
            f, action="quarantine" if full else "review", confidence=0.95 if full else 0.85,
            explanation=f"{cont:.0%} of its {distinct:,} distinct rows are "
            + (f"in {whole.dataset.relative_path}" if f.kind == "subset"
               else f"{whole.dataset.relative_path}'s rows projected on its {len(columns)} columns")
            + f" — verified exactly by an anti-join of row hashes ({missing:,} missing)",
            evidence={**ev, "containment": round(cont, 6), "containment_error": 0.0, "exact": True,
                      "method": "anti-join of row hashes", "missing_rows": missing, "distinct_rows": distinct},
        ))
    return out


@dataclass(frozen=True)
class UsageContext:
    stats: dict[str, Any]  # uri -> rotscan.usage.stats.UsageStats
    graph: Any  # rotscan.usage.stats.LineageGraph
    coverage: Coverage
    sources: tuple[UsageSource, ...]


def _usage(paths: Sequence[str], entries: list[InventoryEntry], ctx: ScanContext, warnings: list[ScanWarning],
           as_of: datetime) -> UsageContext:
    """Read the usage sources (plus the Delta history of every Delta table found), map them to the
    datasets, and fill each dataset's last read/written. Coverage of reads is what the usage rules
    may rely on: only the storages and the window the read-recording sources actually saw."""
    from rotscan.usage.delta_history import read_delta_history
    from rotscan.usage.mapping import DatasetIndex
    from rotscan.usage.reader import UsageData, read_usage
    from rotscan.usage.stats import compute_usage

    ctx.progress(f"reading {len(paths)} usage source(s)")
    mapping = dict(ctx.config.get("usage", "column_mapping")) or None
    data = read_usage(paths, column_mapping=mapping, hdfs_namenode=str(ctx.config.get("usage", "hdfs_namenode")) or None)
    ignored = {a.lower() for a in ctx.config.get("usage", "ignore_actors")}
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
    ctx.progress(f"  {len(events):,} access event(s) from {len(coverage)} source(s); "
                 f"{len(stats):,} dataset(s) with usage")
    for e in entries:
        u = stats.get(e.dataset.uri)
        if u is not None:
            e.dataset = replace(e.dataset, last_read=u.last_read, last_written=u.last_written)
    return UsageContext(stats=stats, graph=graph,
                        coverage=Coverage(start=start, end=end, storages=storages,
                                          kinds=tuple(sorted({c.kind for c in read_sources}))),
                        sources=tuple(c.to_usage_source() for c in coverage))


def _safe_parse(text: str) -> Uri | None:
    try:
        return parse(text)
    except ValueError:
        return None


def _distributed_listing(root: Uri, storage: Storage, rules: CrawlRules, inventory: Inventory, ctx: ScanContext,
                         warnings: list[ScanWarning]) -> ListingOutcome | None:
    """List ``root`` on the executors when ``[scan] listing`` asks for it (``auto``: a remote root
    on a cluster, not ``local[*]``); None means the driver lists it (the classic crawl)."""
    mode = str(ctx.config.get("scan", "listing"))
    if mode not in ("driver", "distributed", "auto"):
        raise ConfigError(f"[scan] listing must be driver, distributed or auto, not {mode!r}")
    if mode == "driver" or (mode == "auto" and root.scheme == "file"):
        return None
    spark = ctx.spark(need_s3a=root.scheme == "s3a")
    if mode == "auto" and (spark.sparkContext.master or "").startswith("local"):
        return None
    from rotscan.spark.listing import InventorySettings, distributed_crawl, storage_spec

    spec = storage_spec(spark, root)
    if spec is None:
        warnings.append(ScanWarning(str(root), f"executors cannot list {root.scheme}: storage (no pyarrow "
                                               "filesystem for it here, e.g. libhdfs missing); listed on the driver",
                                    "listing_fallback"))
        return None
    settings = InventorySettings(inventory.small_file_bytes, inventory.sniff_bytes, inventory.as_of)
    ctx.progress(f"  listing {root} on the executors")
    try:
        return distributed_crawl(spark, storage, spec, root, rules, settings,
                                 subtrees=int(ctx.config.get("scan", "listing_subtrees")))
    except Exception as exc:  # a failed Spark job (py4j/Python worker error): the driver can still list
        first = next((ln.strip() for ln in str(exc).splitlines() if ln.strip()), type(exc).__name__)
        warnings.append(ScanWarning(str(root), f"distributed listing failed ({first[:200]}); listed on the driver",
                                    "listing_fallback"))
        return None


def run_scan(roots: Sequence[str], ctx: ScanContext, *, as_of: datetime | None = None,
             usage_paths: Sequence[str] = (), exclude: Sequence[str] = ()) -> ScanResult:
    """Scan ``roots``. ``exclude``: absolute paths never crawled (the CLI passes its output directory
    and the usage sources, so a report written inside a root is not scanned as data next time)."""
    started = now_utc()
    as_of = as_of or started
    t0 = time.monotonic()
    cfg = ctx.config
    uris = resolve_roots(roots)
    state_uri = _state_location(cfg)
    if state_uri is not None:
        exclude = (*exclude, str(state_uri))  # the state is never scanned as data
    rules = replace(CrawlRules.from_config(cfg), exclude_uris=tuple(parse(x) for x in exclude))
    # every rule set is built up front, so a bad setting fails before any work is done
    trivial_rules = TrivialRules.from_config(cfg)
    redundancy_rules = RedundancyRules.from_config(cfg)
    obsolete_rules = ObsoleteRules.from_config(cfg)
    storages: dict[str, Storage] = {}
    entries: list[InventoryEntry] = []
    warnings: list[ScanWarning] = []
    items = []
    s3_inventory = str(cfg.get("scan", "s3_inventory"))
    if s3_inventory and not any(u.scheme == "s3a" for u in uris):
        raise RootNotFoundError(f"an S3 inventory ({s3_inventory}) lists an S3 bucket; no root is an s3a:// URI")

    for root in uris:
        try:
            storage = _storage_for(root, ctx, storages)
        except StorageError as exc:
            raise RootNotFoundError(f"cannot access root {exc}") from exc
        if s3_inventory and root.scheme == "s3a":
            # list from the S3 Inventory report (read with Spark) instead of LIST calls; reads stay real
            from rotscan.spark.s3_inventory import inventory_storage

            storage = inventory_storage(ctx.spark(need_s3a=True), s3_inventory, root, storage, as_of=as_of,
                                        max_age=timedelta(days=float(cfg.get("scan", "s3_inventory_max_age_days"))),
                                        warnings=warnings, progress=ctx.progress)
        inventory = Inventory(storage, small_file_bytes=int(cfg.get("scan", "small_file_bytes")),
                              sniff_bytes=int(cfg.get("scan", "sniff_bytes")), as_of=as_of.timestamp())

        def on_dataset(cand: DatasetCandidate, inventory: Inventory = inventory) -> None:
            entries.append(inventory.build(cand))

        ctx.progress(f"crawling {root}")
        crawler = Crawler(storage, rules, on_dataset)
        if root.scheme != "file":
            try:
                storage.stat(root)
            except VanishedError as exc:
                raise RootNotFoundError(f"root does not exist: {root}") from exc
            except StorageError as exc:
                raise RootNotFoundError(f"cannot access root {exc}") from exc
        listed = None if hasattr(storage, "close_inventory") else _distributed_listing(
            root, storage, rules, inventory, ctx, warnings)
        if listed is not None:
            entries.extend(listed.entries)
            items.extend(listed.items)
            warnings.extend(listed.warnings)
            ctx.progress(f"  {listed.dirs_listed:,} directories, {listed.files_seen:,} files listed by the executors "
                         f"in {listed.subtrees:,} sub-tree(s) ({time.monotonic() - t0:.1f}s)")
            continue
        crawler.crawl(root)
        if hasattr(storage, "close_inventory"):
            storage.close_inventory(warnings)
        items.extend(crawler.items)
        warnings.extend(crawler.warnings)
        ctx.progress(f"  {crawler.dirs_listed:,} directories, {crawler.files_seen:,} files listed "
                     f"({time.monotonic() - t0:.1f}s)")

    for e in entries:
        warnings.extend(e.warnings)
    total = sum(e.dataset.bytes for e in entries)
    ctx.progress(f"found {len(entries):,} dataset(s), {format_bytes(total)}")

    tracker = None
    if state_uri is not None and cfg.get("scan", "profile"):
        tracker = _load_state(state_uri, ctx, storages, warnings)
    elif state_uri is not None:
        ctx.progress("metadata-only scan: the scan state is neither read nor written")
    if cfg.get("scan", "profile"):
        _profile_all(entries, ctx, warnings, tracker)

    usage = _usage(usage_paths, entries, ctx, warnings, as_of) if usage_paths else None
    datasets = [e.dataset for e in entries]
    issues = [i for e in entries for i in e.issues]
    read_recently = set() if usage is None else {
        uri for uri, u in usage.stats.items() if u.last_read is not None and u.reads_90d > 0}
    findings = detect_trivial(datasets, items, issues, trivial_rules, as_of,
                              recently_read=read_recently)
    signatures = {e.dataset.uri: e.signature for e in entries if e.signature is not None}
    if signatures:
        trivial = {f.uri for f in findings}
        projections = _projections(entries, signatures, trivial, ctx, warnings, tracker)
        readers = None if usage is None else {uri: len(u.readers) + u.reads_365d for uri, u in usage.stats.items()}
        redundant = detect_redundant(datasets, signatures, redundancy_rules,
                                     projections=projections, exclude=trivial, readers=readers)
        findings += _verify_sampled(redundant, entries, ctx, warnings, tracker)
    flagged = {f.uri for f in findings}
    findings += detect_obsolete(datasets, None if usage is None else usage.stats,
                                None if usage is None else usage.graph, None if usage is None else usage.coverage,
                                obsolete_rules, as_of, exclude=flagged)
    findings = _dedupe(findings)
    if tracker is not None and state_uri is not None:
        _save_state(tracker, state_uri, uris, ctx, storages, warnings)
    from rotscan.cleanup.audit import read_cleanup_history

    cleanup_runs = tuple(r for root in uris
                         for r in read_cleanup_history(_storage_for(root, ctx, storages), root, warnings))
    ctx.progress(f"{len(findings):,} finding(s), {len(warnings):,} warning(s) in {time.monotonic() - t0:.1f}s")
    info = ScanInfo(
        id=f"{started.strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:8]}",
        started=started, finished=now_utc(), as_of=as_of, roots=tuple(str(u) for u in uris),
        tool_version=__version__, usage_sources=() if usage is None else usage.sources,
        price_per_gb_month=float(cfg.get("report", "price_per_gb_month")),
        incremental=None if tracker is None else tracker.info(),
    )
    datasets.sort(key=lambda d: d.uri)
    findings.sort(key=lambda f: (-f.reclaimable_bytes, f.uri))
    return ScanResult(scan=info, datasets=tuple(datasets), findings=tuple(findings), warnings=tuple(warnings),
                      lineage=None if usage is None else usage.graph.to_dict(),
                      signatures={e.dataset.uri: e.signature for e in entries if e.signature is not None},
                      cleanup_history=cleanup_runs)


def _state_location(cfg: Config) -> Uri | None:
    text = str(cfg.get("scan", "state") or "").strip()
    if not text:
        return None
    try:
        return parse(text)
    except ValueError as exc:
        raise ConfigError(f"[scan] state: invalid location {text!r}: {exc}") from exc


def _load_state(location: Uri, ctx: ScanContext, storages: dict[str, Storage],
                warnings: list[ScanWarning]) -> StateTracker:
    """The previous scan state, checked: a file that is unreadable, foreign, of another format or
    written with other settings is not used (a full scan follows), never trusted."""
    from rotscan.state import StateFormatError, read_state, settings_fingerprint, state_file

    settings, detail = settings_fingerprint(ctx.config, dict(ctx.env) or None)
    previous = None
    try:
        previous = read_state(_storage_for(location, ctx, storages), location)
    except (StateFormatError, StorageError) as exc:
        warnings.append(ScanWarning(str(state_file(location)), f"scan state not used ({exc}); full scan",
                                    "state_ignored"))
    tracker = StateTracker(str(location), settings, previous, detail)
    if previous is None:
        ctx.progress(f"no usable scan state in {location}: full scan")
    elif tracker.invalidated:
        ctx.progress(f"scan state in {location} was written with other settings or another rotscan: full scan")
    else:
        ctx.progress(f"scan state: {len(previous.profiles):,} dataset profile(s) on record in {location}")
    return tracker


def _save_state(tracker: StateTracker, location: Uri, roots: Sequence[Uri], ctx: ScanContext,
                storages: dict[str, Storage], warnings: list[ScanWarning]) -> None:
    """Write the new state whole (the old one stays in place if this fails: a warning, not an error —
    the scan's findings do not depend on it)."""
    from rotscan.state import write_state

    try:
        path = write_state(_storage_for(location, ctx, storages), location, tracker.result(roots), tracker.detail)
    except (StorageError, OSError) as exc:
        warnings.append(ScanWarning(str(location), f"scan state not written: {exc}", "state_unwritten"))
        return
    ctx.progress(f"scan state written to {path} ({tracker.reused:,} reused, {tracker.profiled:,} profiled)")


def _dedupe(findings: list[Finding]) -> list[Finding]:
    """One finding per path (the first rule that fired wins); a finding inside a directory that is
    itself a finding is dropped (the directory's finding already covers it)."""
    by_uri: dict[str, Finding] = {}
    for f in findings:
        by_uri.setdefault(f.uri, f)
    prefixes = {u + "/" for u in by_uri}
    out = []
    for uri, f in by_uri.items():
        parts = uri.split("/")
        if any("/".join(parts[:i]) + "/" in prefixes for i in range(1, len(parts))):
            continue
        out.append(f)
    return out


def write_findings(result: ScanResult, out_dir: Path) -> Path:
    text = json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n"
    return write_text_atomic(out_dir / "findings.json", text)


def write_signature_file(result: ScanResult, out_dir: Path) -> Path | None:
    from rotscan.redundancy.signature import write_signatures

    if not result.signatures:
        return None
    path = out_dir / "signatures.parquet"
    tmp = out_dir / f".signatures.parquet.{os.getpid()}.tmp"
    write_signatures(result.signatures, str(tmp))
    os.replace(tmp, path)
    return path


def write_lineage(result: ScanResult, out_dir: Path) -> Path | None:
    if result.lineage is None:
        return None
    return write_text_atomic(out_dir / "lineage.json", json.dumps(result.lineage, indent=2) + "\n")


def read_findings(out_dir: Path) -> ScanResult:
    path = out_dir / "findings.json" if out_dir.is_dir() else out_dir
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise FindingsFormatError(f"no findings.json in {out_dir}") from exc
    except (OSError, ValueError) as exc:
        raise FindingsFormatError(f"{path} is not readable JSON: {exc}") from exc
    try:
        result = ScanResult.from_dict(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise FindingsFormatError(f"{path} is not a rotscan findings file: {exc}") from exc
    return _with_lineage(result, path.parent / "lineage.json")


def _with_lineage(result: ScanResult, path: Path) -> ScanResult:
    """``result`` with the lineage graph written beside its findings.json (``write_lineage``), if any.
    The graph only adds context to the report: an unreadable lineage.json is left out, not an error."""
    import dataclasses

    try:
        lineage = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return result
    if not isinstance(lineage, dict) or not isinstance(lineage.get("edges"), list):
        return result
    return dataclasses.replace(result, lineage=lineage)

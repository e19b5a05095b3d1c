"""A scan, end to end — the orchestrator of the steps along the data path:

1. crawl every root and inventory each dataset from metadata (:mod:`rotscan.listing`);
2. profile the datasets with Spark, or reuse an incremental scan's state (:mod:`rotscan.profiling`);
3. read the catalog's tables and register the datasets (:mod:`rotscan.registration`);
4. read the usage sources (:mod:`rotscan.usage.aggregate`);
5. detect ROT — trivial, redundant (verified: :mod:`rotscan.detect.verify`), obsolete, broken tables;
   then registration evidence and owners on every finding (:mod:`rotscan.registration`);
6. return a :class:`~rotscan.models.ScanResult` (written by :mod:`rotscan.findings_io` and
   rendered by :mod:`rotscan.report`).

Spark is started only when something needs it (a non-``file:`` root, or datasets to profile), so
a scan of a lake with nothing to profile never starts a JVM. A scan only lists and reads.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from rotscan import __version__
from rotscan.catalog import CatalogSettings
from rotscan.cleanup.audit import read_cleanup_history
from rotscan.core.formatting import format_bytes
from rotscan.crawl.discover import CrawlRules
from rotscan.decisions import DecisionSettings, read_decisions, with_decisions
from rotscan.detect.obsolete import ObsoleteRules, detect_obsolete
from rotscan.detect.partition_retention import covered_paths
from rotscan.detect.redundant import RedundancyRules, detect_redundant
from rotscan.detect.small_files import SmallFileRules, detect_small_files
from rotscan.detect.trivial import TrivialRules, detect_trivial
from rotscan.detect.verify import projections, verify_sampled
from rotscan.errors import RootNotFoundError
from rotscan.listing import list_roots
from rotscan.models import Finding, ScanInfo, ScanResult, now_utc
from rotscan.owners import OwnerRules
from rotscan.profiling import ProfileSettings, profile_datasets
from rotscan.registration import broken_table_findings, finish_findings, read_catalog_step, register
from rotscan.registration import coverage as catalog_coverage
from rotscan.runtime import Runtime
from rotscan.settings import ScanSettings
from rotscan.spark import logfile
from rotscan.spark.verifier import SparkVerifier
from rotscan.state import open_tracker, save_tracker
from rotscan.uri import Uri, parse
from rotscan.usage.aggregate import UsageSettings, gather_usage

# The runtime a scan runs in (the name scans have always used for it).
ScanContext = Runtime


@dataclass(frozen=True)
class ScanRules:
    """Every setting a scan uses, built up front so that a bad one fails before any work is done."""

    scan: ScanSettings
    crawl: CrawlRules
    profile: ProfileSettings
    usage: UsageSettings
    trivial: TrivialRules
    redundancy: RedundancyRules
    obsolete: ObsoleteRules
    decisions: DecisionSettings
    small_files: SmallFileRules
    catalog: CatalogSettings
    owners: OwnerRules

    @classmethod
    def from_runtime(cls, rt: Runtime) -> ScanRules:
        cfg = rt.config
        return cls(ScanSettings.from_config(cfg), CrawlRules.from_config(cfg), ProfileSettings.from_config(cfg),
                   UsageSettings.from_config(cfg), TrivialRules.from_config(cfg), RedundancyRules.from_config(cfg),
                   ObsoleteRules.from_config(cfg), DecisionSettings.from_config(cfg), SmallFileRules.from_config(cfg),
                   CatalogSettings.from_config(cfg), OwnerRules.from_config(cfg))


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


def run_scan(roots: Sequence[str], ctx: Runtime, *, as_of: datetime | None = None,
             usage_paths: Sequence[str] = (), exclude: Sequence[str] = ()) -> ScanResult:
    """Scan ``roots``. ``exclude``: absolute paths never crawled (the CLI passes its output directory
    and the usage sources, so a report written inside a root is not scanned as data next time)."""
    started = now_utc()
    as_of = as_of or started
    t0 = time.monotonic()
    spark_log = logfile.mark()  # Spark's errors of this scan are named in its warnings
    uris = resolve_roots(roots)
    rules = ScanRules.from_runtime(ctx)
    state_uri = rules.scan.state
    if state_uri is not None:
        exclude = (*exclude, str(state_uri))  # the state is never scanned as data
    crawl_rules = replace(rules.crawl, exclude_uris=tuple(parse(x) for x in exclude))

    listing = list_roots(uris, ctx, rules.scan, crawl_rules, as_of)
    entries, warnings = listing.entries, listing.warnings
    ctx.progress(f"found {len(entries):,} dataset(s), {format_bytes(sum(e.dataset.bytes for e in entries))}")

    tracker = None
    if state_uri is not None and rules.scan.profile:
        tracker = open_tracker(ctx.storage(state_uri), state_uri, ctx.config, dict(ctx.env) or None, warnings,
                               ctx.progress)
    elif state_uri is not None:
        ctx.progress("metadata-only scan: the scan state is neither read nor written")
    if rules.scan.profile:
        profile_datasets(entries, ctx, rules.profile, warnings, tracker)

    catalog = read_catalog_step(rules.catalog, lambda: ctx.spark(need_s3a=any(u.scheme == "s3a" for u in uris)),
                                ctx.progress, warnings)
    for e, d in zip(entries, register([e.dataset for e in entries], catalog), strict=True):
        e.dataset = d
    usage = None
    if usage_paths:
        usage = gather_usage(usage_paths, entries, rules.usage, warnings, as_of, ctx.progress)
    datasets = [replace(e.dataset, fingerprint=e.fingerprint) for e in entries]
    issues = [i for e in entries for i in e.issues]
    read_recently = set() if usage is None else {
        uri for uri, u in usage.stats.items() if u.last_read is not None and u.reads_90d > 0}
    findings = detect_trivial(datasets, listing.items, issues, rules.trivial, as_of, recently_read=read_recently)
    signatures = {e.dataset.uri: e.signature for e in entries if e.signature is not None}
    if signatures:
        trivial = {f.uri for f in findings}
        verifier = SparkVerifier(lambda: ctx.spark())
        projected = projections(entries, signatures, trivial, rules.redundancy, verifier,
                                sample_target=rules.profile.sample_target, warnings=warnings,
                                progress=ctx.progress, state=tracker)
        readers = None if usage is None else {uri: len(u.readers) + u.reads_365d for uri, u in usage.stats.items()}
        redundant = detect_redundant(datasets, signatures, rules.redundancy,
                                     projections=projected, exclude=trivial, readers=readers)
        findings += verify_sampled(redundant, entries, rules.redundancy, verifier, warnings=warnings, state=tracker)
    flagged = {f.uri for f in findings}
    findings += detect_obsolete(datasets, None if usage is None else usage.stats,
                                None if usage is None else usage.graph, None if usage is None else usage.coverage,
                                rules.obsolete, as_of, exclude=flagged,
                                partitions={e.dataset.uri: e.partition_stats for e in entries if e.partition_stats},
                                warnings=warnings)
    findings += broken_table_findings(catalog, uris, datasets, ctx.storage)
    # last: a table any other rule flagged (or holding flagged files) is never proposed for compaction
    findings += detect_small_files(datasets, rules.small_files, exclude=[f.uri for f in findings])
    findings = _dedupe(findings)
    datasets, findings = finish_findings(
        findings, datasets, catalog, rules.owners, uris,
        delta_properties={e.dataset.uri: e.properties for e in entries if e.properties},
        lineage=None if usage is None else usage.owners)
    if tracker is not None and state_uri is not None:
        save_tracker(tracker, ctx.storage(state_uri), state_uri, uris, warnings, ctx.progress)
    cleanup_runs = tuple(r for root in uris for r in read_cleanup_history(ctx.storage(root), root, warnings))
    warnings.extend(logfile.warnings_since(spark_log))
    ctx.progress(f"{len(findings):,} finding(s), {len(warnings):,} warning(s) in {time.monotonic() - t0:.1f}s")
    info = ScanInfo(
        id=f"{started.strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:8]}",
        started=started, finished=now_utc(), as_of=as_of, roots=tuple(str(u) for u in uris),
        tool_version=__version__, usage_sources=() if usage is None else usage.sources,
        price_per_gb_month=rules.scan.price_per_gb_month,
        incremental=None if tracker is None else tracker.info(),
        catalog=catalog_coverage(catalog, uris, datasets, findings),
    )
    datasets.sort(key=lambda d: d.uri)
    findings.sort(key=lambda f: (-f.reclaimable_bytes, f.uri))
    result = ScanResult(scan=info, datasets=tuple(datasets), findings=tuple(findings), warnings=tuple(warnings),
                        lineage=None if usage is None else usage.graph.to_dict(),
                        signatures=signatures, cleanup_history=cleanup_runs)
    return _apply_decisions(result, uris, ctx, rules.decisions)


def _apply_decisions(result: ScanResult, uris: Sequence[Uri], ctx: Runtime, settings: DecisionSettings) -> ScanResult:
    """The reviewers' decisions of the roots (and ``[decisions] file``) attached to the findings they
    match; what cannot be read or applied becomes warnings (:mod:`rotscan.decisions`)."""
    decisions = read_decisions(uris, ctx.storage, settings)
    if not (decisions.records or decisions.rejected or decisions.unreadable):
        return result
    result, applied = with_decisions(result, decisions)
    decided = [f.decision for f in result.findings if f.decision is not None]
    ctx.progress(f"review decisions: {sum(1 for f in result.findings if f.kept):,} finding(s) kept, "
                 f"{sum(1 for f in result.findings if f.approved):,} approved, "
                 f"{sum(1 for d in decided if d.stale):,} stale, {sum(1 for d in decided if d.expired):,} expired, "
                 f"{len(applied.orphaned):,} matching no finding")
    return result


def _dedupe(findings: list[Finding]) -> list[Finding]:
    """One finding per path (the first rule that fired wins); a finding inside a directory that is
    itself a finding is dropped (the directory's finding already covers it — for expired
    partitions, only inside the expired partitions)."""
    by_uri: dict[str, Finding] = {}
    for f in findings:
        by_uri.setdefault(f.uri, f)
    prefixes = {p + "/" for f in by_uri.values() for p in covered_paths(f)}
    out = []
    for uri, f in by_uri.items():
        parts = uri.split("/")
        if any("/".join(parts[:i]) + "/" in prefixes for i in range(1, len(parts))):
            continue
        out.append(f)
    return out


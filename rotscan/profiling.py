"""Step 3 of a scan: profile the datasets with Spark — exact row counts, schema, constant/null
columns and the content signature — one aggregation per dataset (small ones read together), or
the profile an incremental scan's state holds for a dataset whose fingerprint is unchanged.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from rotscan.config import Config
from rotscan.core.formatting import format_bytes
from rotscan.crawl.inventory import InventoryEntry
from rotscan.errors import ReadError
from rotscan.models import Column, ScanWarning
from rotscan.runtime import Runtime
from rotscan.state import ProfileOutcome, StateTracker


@dataclass(frozen=True)
class ProfileSettings:
    max_bytes: int  # datasets larger than this are not profiled; 0: no limit
    signature_bins: int
    sample_target: int
    # projection candidates from the schemas, hashed in the profile pass (at most this many column
    # sets per dataset; 0: off, every projection check re-reads the wider table afterwards)
    projections_in_pass: int = 8
    projection_min_columns: int = 2
    projection_min_row_ratio: float = 0.5
    # small CSV files profiled with pyarrow on the executors up to this size (0: Spark reads them all)
    arrow_max_bytes: int = 16 << 20

    @classmethod
    def from_config(cls, config: Config) -> ProfileSettings:
        return cls(max_bytes=int(config.get("scan", "profile_max_bytes")),
                   signature_bins=int(config.get("redundancy", "signature_bins")),
                   sample_target=int(config.get("redundancy", "sample_target")),
                   projections_in_pass=int(config.get("redundancy", "projections_in_pass")),
                   projection_min_columns=int(config.get("redundancy", "projection_min_columns")),
                   projection_min_row_ratio=float(config.get("redundancy", "projection_min_row_ratio")),
                   arrow_max_bytes=int(config.get("scan", "arrow_max_bytes")))


def known_columns(e: InventoryEntry) -> frozenset[str] | None:
    """A dataset's canonical column names as known before any read (CSV header, Parquet/ORC footer,
    Delta log schema, the keys of a JSON file's first records); None when only a read would tell.
    The JSON keys are a guess: a wrong one costs a projection hashed for nothing or the re-read a
    check would have cost anyway, never a different finding (the pass hashes only the sets of
    columns the read finds, ``rotscan.spark.profile._wanted``)."""
    from rotscan.spark.canonical import canonical_name

    if e.read_format == "csv" and e.csv_header:
        names = list(e.csv_header)
    elif e.read_format == "json" and e.json_keys:
        names = list(e.json_keys)
    elif e.read_format in ("parquet", "orc", "delta") and e.dataset.schema:
        names = [c.name for c in e.dataset.schema]
    else:
        return None
    return frozenset(canonical_name(n) for n in names)


def schema_projections(entries: list[InventoryEntry], settings: ProfileSettings) -> dict[int, tuple[tuple[str, ...], ...]]:
    """For each dataset (by ``id`` of its entry), the column sets of the datasets whose columns are a
    strict subset of its own — every projection candidate :func:`rotscan.detect.redundant.
    projection_candidates` can later name it the wider table of, and some it will not (the row-count
    rules need exact counts, known here only from metadata). Datasets with more such sets than
    ``projections_in_pass`` get none: their checks re-read them afterwards, as before. The sets of
    JSON tables (columns guessed from their first records) come last: when they would pass the limit,
    a table keeps the sets of the others."""
    if settings.projections_in_pass <= 0:
        return {}
    cols = [(e, known_columns(e)) for e in entries]
    known = [(e, c) for e, c in cols if c is not None and len(c) >= settings.projection_min_columns]
    out: dict[int, tuple[tuple[str, ...], ...]] = {}
    for whole, wc in known:
        if len(wc) <= settings.projection_min_columns:
            continue
        sets: set[tuple[str, ...]] = set()
        guessed: set[tuple[str, ...]] = set()
        for part, pc in known:
            if part is whole or not pc < wc:
                continue
            pr, wr = part.dataset.rows, whole.dataset.rows
            if pr is not None and wr is not None and (pr > wr or pr < settings.projection_min_row_ratio * wr):
                continue  # both counts exact from metadata: the rule can never pick this pair
            (guessed if part.read_format == "json" else sets).add(tuple(sorted(pc)))
        if len(sets | guessed) <= settings.projections_in_pass:
            sets |= guessed
        if sets and len(sets) <= settings.projections_in_pass:
            out[id(whole)] = tuple(sorted(sets))
    return _one_per_likely_copy(out, known)


def _one_per_likely_copy(out: dict[int, tuple[tuple[str, ...], ...]],
                         known: list[tuple[InventoryEntry, frozenset[str]]]) -> dict[int, tuple[tuple[str, ...], ...]]:
    """Wider tables with the same columns and the same exact row count (from metadata) are likely
    copies of one another, and projection candidates re-hash only the copy to keep: hash only the
    one :func:`choose_keeper` picks from what is known now (a guess that turns out wrong costs the
    re-read it would have cost anyway, never a different finding)."""
    from rotscan.detect.redundant import choose_keeper

    groups: dict[tuple[frozenset[str], int], list[InventoryEntry]] = {}
    for e, cols in known:
        if id(e) in out and e.dataset.rows is not None:
            groups.setdefault((cols, e.dataset.rows), []).append(e)
    for members in groups.values():
        if len(members) > 1:
            keeper = choose_keeper([m.dataset for m in members])
            for m in members:
                if m.dataset.uri != keeper.uri:
                    del out[id(m)]
    return out


def rows_estimate(e: InventoryEntry) -> int | None:
    ds = e.dataset
    if ds.rows is not None:
        return ds.rows
    # text formats: a generous upper estimate (16 bytes a row) keeps the sample at most its target
    return ds.bytes // 16 if ds.bytes else None


def _batch_key(e: InventoryEntry) -> tuple[object, ...] | None:
    """Datasets with equal keys can be read by one Spark reader (see ``profile_many``)."""
    if e.read_format == "csv" and e.csv_header:
        return tuple(e.csv_header)
    if e.read_format in ("parquet", "orc", "delta") and e.dataset.schema and e.base_path is None:
        return tuple((c.name, c.type) for c in e.dataset.schema)
    return None


def profile_datasets(entries: list[InventoryEntry], rt: Runtime, settings: ProfileSettings,
                     warnings: list[ScanWarning], state: StateTracker | None = None) -> None:
    """Profile every dataset that has data to read, filling its entry (rows, schema, constant and
    null columns, signature); what cannot be read becomes a warning."""
    todo = []
    for e in entries:
        ds = e.dataset
        if e.read_format is None or e.read_format == "avro":
            continue  # avro: rows come from its block headers; Spark's avro reader is an extra package
        if ds.rows == 0:
            continue
        if settings.max_bytes and ds.bytes > settings.max_bytes:
            warnings.append(ScanWarning(ds.uri, f"larger than profile_max_bytes ({format_bytes(settings.max_bytes)}); "
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
        rt.progress(f"{len(outcomes):,} reused from state, {len(todo) - len(outcomes):,} profiled")
    ordered, todo = todo, [e for e in todo if id(e) not in outcomes]
    if todo:
        _profile_spark(todo, rt, settings, outcomes, state, entries)
    for e in ordered:
        apply_profile(e, outcomes[id(e)], warnings)


def _profile_spark(todo: list[InventoryEntry], rt: Runtime, settings: ProfileSettings,
                   outcomes: dict[int, ProfileOutcome], state: StateTracker | None,
                   all_entries: list[InventoryEntry]) -> None:
    rt.progress(f"profiling {len(todo)} dataset(s) with Spark (row counts, constant columns, content signatures)")
    spark = rt.spark(need_s3a=any(e.dataset.uri.startswith("s3a:") for e in todo))
    from rotscan.spark.profile import ProfileJob, profile_many

    started = time.monotonic()
    done = 0
    last_note = started

    def on_done(i: int) -> None:
        nonlocal done, last_note
        done += 1
        now = time.monotonic()
        if now - last_note > 5 or done == len(todo):
            rt.progress(f"  profiled {done}/{len(todo)} ({now - started:.0f}s): {todo[i].dataset.uri}")
            last_note = now

    wanted = schema_projections(all_entries, settings)
    jobs = [ProfileJob(e.read_format or e.dataset.format, e.read_paths, e.base_path, rows_estimate(e), e.csv_header,
                       _batch_key(e), files=e.dataset.files, bytes=e.dataset.bytes, projections=wanted.get(id(e), ()))
            for e in todo]
    results = profile_many(spark, jobs, k=settings.signature_bins, sample_target=settings.sample_target,
                           on_done=on_done, arrow_max_bytes=settings.arrow_max_bytes, note=rt.progress)
    for e, p in zip(todo, results, strict=True):
        o = ProfileOutcome.from_error(str(p)) if isinstance(p, ReadError) else ProfileOutcome.from_profile(p)
        outcomes[id(e)] = o
        if not isinstance(p, ReadError):
            e.projected = dict(p.projected)
        if state is not None:
            state.record_profile(e.dataset.uri, e.fingerprint, o)


def apply_profile(e: InventoryEntry, p: ProfileOutcome, warnings: list[ScanWarning]) -> None:
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

"""A finding's evidence in plain words.

Detectors put machine-readable facts in ``Finding.evidence`` (see ``rotscan/detect/*.py``); the
report shows them to people as a few sentences — "Same 200,000 rows as warehouse/orders —
order-independent checksum match. This copy last read 412 days ago; warehouse/orders last read
3 days ago." — with the raw values still below. :func:`explain` is a pure function of the finding,
the inventory and the scan's as-of time; it never invents a fact the evidence does not hold, and
where reads are not known it says "usage unknown", never "unread".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from rotscan.core.formatting import format_bytes
from rotscan.models import Dataset, Finding, parse_iso

USAGE_UNKNOWN_SHORT = "usage unknown (no access logs or lineage were given)"


def _identity(uri: str) -> str:
    return uri


@dataclass(frozen=True)
class EvidenceContext:
    """What :func:`explain` needs besides the finding: the inventory by URI, how to show a URI
    (relative to its scan root), the as-of time ages are measured from, and whether any usage
    source was given at all."""

    as_of: datetime
    datasets: Mapping[str, Dataset] = field(default_factory=dict)
    display: Callable[[str], str] = _identity
    usage_known: bool = False


def ago(ts: datetime | None, as_of: datetime) -> str:
    """``412 days ago`` / ``5 hours ago`` / ``just now`` (``never`` is the caller's word for None)."""
    if ts is None:
        return "at an unknown time"
    age = as_of - ts
    if age < timedelta(0):
        return "after the scan's as-of time"
    hours = age / timedelta(hours=1)
    if hours < 1:
        return "within the last hour"
    if hours < 48:
        n = int(hours)
        return f"{n} hour{'' if n == 1 else 's'} ago"
    days = int(age / timedelta(days=1))
    return f"{days:,} days ago"


def _ts(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        try:
            return parse_iso(value)
        except ValueError:
            return None
    return None


def _date(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%d")


def _when(value: Any, as_of: datetime) -> str | None:
    ts = _ts(value)
    return None if ts is None else f"{_date(ts)} ({ago(ts, as_of)})"


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _rows(n: int) -> str:
    return f"{n:,} row" + ("" if n == 1 else "s")


def _files(n: int) -> str:
    return f"{n:,} file" + ("" if n == 1 else "s")


def _pct(x: float) -> str:
    return f"{x * 100:.0f}%" if x * 100 == round(x * 100) or x >= 0.995 or x <= 0.005 else f"{x * 100:.1f}%"


def _names(items: Sequence[Any], display: Callable[[str], str], limit: int = 5) -> str:
    shown = [display(str(x)) for x in items[:limit]]
    more = len(items) - len(shown)
    return ", ".join(shown) + (f" and {more:,} more" if more > 0 else "")


def _usage_of(uri: str, ctx: EvidenceContext, who: str) -> str:
    """``this copy last read 412 days ago`` — or that no read was seen, or that usage is unknown."""
    if not ctx.usage_known:
        return f"{who}: {USAGE_UNKNOWN_SHORT}"
    ds = ctx.datasets.get(uri)
    if ds is None:
        return f"{who}: not in the inventory, usage unknown"
    if ds.last_read is not None:
        return f"{who} last read {ago(ds.last_read, ctx.as_of)}"
    return f"{who}: no read recorded by the usage sources"


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


# ---------------------------------------------------------------------------------------------
# redundant


def _keeper(f: Finding) -> str | None:
    k = f.evidence.get("keeper")
    if isinstance(k, str) and k:
        return k
    return f.related[0] if f.related else None


def _keeper_usage(f: Finding, keeper: str | None, ctx: EvidenceContext) -> str:
    this = _usage_of(f.uri, ctx, "this copy")
    if not ctx.usage_known or keeper is None:
        return this
    return f"{this}; {_usage_of(keeper, ctx, ctx.display(keeper))}"


def _keeper_facts(keeper: str, ctx: EvidenceContext) -> str | None:
    ds = ctx.datasets.get(keeper)
    if ds is None:
        return None
    parts = [ds.format, format_bytes(ds.bytes)]
    if ds.modified_max is not None:
        parts.append(f"written {ago(ds.modified_max, ctx.as_of)}")
    return f"The copy to keep, {ctx.display(keeper)}, is {', '.join(parts)}"


def _sampled(e: Mapping[str, Any]) -> str:
    if e.get("exact") is True:
        return "exact comparison of every row's hash"
    err = _num(e.get("containment_error"))
    sample = _int(e.get("sample_size"))
    parts = []
    if sample is not None:
        parts.append(f"estimated on a coordinated sample of {sample:,} row hashes")
    else:
        parts.append("estimated on a sample")
    if err is not None and err > 0:
        parts.append(f"±{_pct(err)}")
    return " ".join(parts)


def _redundant(f: Finding, ctx: EvidenceContext) -> list[str]:
    e = f.evidence
    keeper = _keeper(f)
    name = ctx.display(keeper) if keeper else "another dataset"
    rows = _int(e.get("rows"))
    related_rows = _int(e.get("related_rows"))
    jac = _num(e.get("jaccard"))
    cont = _num(e.get("containment"))
    out: list[str] = []
    if f.kind == "exact_duplicate":
        what = f"same {_rows(rows)}" if rows is not None else "the same rows"
        how = "order-independent checksum match" if e.get("method", "checksum") == "checksum" or e.get("checksum") \
            else str(e.get("method"))
        out.append(f"{what} as {name} — {how}")
        size = _int(e.get("cluster_size"))
        if size is not None and size > 2:
            out.append(f"this data is stored {size:,} times; every copy but {name} can go")
    elif f.kind == "near_duplicate":
        if jac is not None:
            out.append(f"{_pct(jac)} of the distinct rows are shared with {name} (Jaccard similarity, {_sampled(e)})")
        if cont is not None:
            of = f" of its {_rows(rows)}" if rows is not None else " of its rows"
            out.append(f"{_pct(cont)}{of} are found in {name}"
                       + (f" ({_rows(related_rows)})" if related_rows is not None else ""))
    elif f.kind == "subset":
        if cont is not None and cont >= 1.0:
            lead = f"all {rows:,} of its rows" if rows is not None else "all of its rows"
        else:
            lead = (_pct(cont) if cont is not None else "nearly all") + (f" of its {_rows(rows)}" if rows is not None
                                                                          else " of its rows")
        out.append(f"{lead} are contained in {name}"
                   + (f", which holds {_rows(related_rows)}" if related_rows is not None else "")
                   + f" — {_sampled(e)}")
    elif f.kind == "projection":
        dropped = e.get("dropped_columns") or []
        cols = e.get("columns") or []
        if cols:
            out.append(f"its {len(cols):,} column{'s' if len(cols) != 1 else ''} are those of {name}"
                       + (f" without {_names(list(dropped), str)}" if dropped else ""))
        if e.get("checksum_match") is True:
            out.append(f"its {_rows(rows) if rows is not None else 'rows'} are exactly the rows of {name} restricted "
                       "to those columns — checksum match")
        elif cont is not None:
            out.append(f"{_pct(cont)} of its rows are rows of {name} restricted to those columns ({_sampled(e)})")
    else:
        if jac is not None or cont is not None:
            out.append(f"overlaps {name}: "
                       + ", ".join(x for x in (None if jac is None else f"Jaccard {_pct(jac)}",
                                               None if cont is None else f"containment {_pct(cont)}") if x))
    if keeper is not None:
        facts = _keeper_facts(keeper, ctx)
        if facts:
            out.append(facts)
    out.append(_keeper_usage(f, keeper, ctx))
    return out


# ---------------------------------------------------------------------------------------------
# obsolete


def _coverage(e: Mapping[str, Any], ctx: EvidenceContext) -> str | None:
    """``the 399 days the usage sources (openlineage) cover, 2025-10-22 to 2026-11-25``"""
    days = _num(e.get("coverage_days"))
    start, end = _ts(e.get("coverage_from")), _ts(e.get("coverage_to"))
    sources = e.get("sources") or []
    if days is None and start is None:
        return None
    text = f"the {days:,.0f} days" if days is not None else "the window"
    text += f" the usage sources{' (' + ', '.join(map(str, sources)) + ')' if sources else ''} cover"
    if start is not None:
        text += f", {_date(start)} to {_date(end) if end else _date(ctx.as_of)}"
    return text


def _reads(e: Mapping[str, Any]) -> str | None:
    counts = [(d, _int(e.get(f"reads_{d}d"))) for d in (30, 90, 365)]
    if all(c is None for _, c in counts):
        return None
    return "reads in the last 30/90/365 days: " + "/".join("?" if c is None else f"{c:,}" for _, c in counts)


def _last(label: str, value: Any, ctx: EvidenceContext, none: str) -> str:
    when = _when(value, ctx.as_of)
    return f"{label} {when}" if when else f"{label}: {none}"


def _obsolete(f: Finding, ctx: EvidenceContext) -> list[str]:
    e = f.evidence
    out: list[str] = []
    d = ctx.display
    if f.kind in ("unread", "producer_stopped", "orphaned_lineage"):
        if f.kind == "orphaned_lineage":
            gone = list(e.get("missing_inputs") or f.related)
            out.append(f"built from {_names(gone, d)}, which {'is' if len(gone) == 1 else 'are'} no longer in the lake")
        if f.kind == "producer_stopped":
            runs = e.get("producer_last_run") or {}
            if isinstance(runs, Mapping) and runs:
                out.append("its producer" + ("s" if len(runs) > 1 else "") + " last ran: "
                           + "; ".join(f"{job} {_when(t, ctx.as_of) or 'at an unknown time'}"
                                       for job, t in sorted(runs.items())))
        cov = _coverage(e, ctx)
        last_read = _when(e.get("last_read"), ctx.as_of)
        if last_read:
            out.append(f"last read {last_read}" + (f", within {cov}" if cov else ""))
            reads = _reads(e)
            if reads:
                out.append(reads)
        else:
            out.append(f"no read seen in {cov}" if cov else "no read seen in the usage sources")
        out.append(_last("last written", e.get("last_written"), ctx, "no write seen in the usage sources"))
        readers = list(e.get("readers") or [])
        writers = list(e.get("writers") or [])
        if writers:
            out.append(f"written by {_names(writers, str)}")
        if readers:
            out.append(f"read by {_names(readers, str)}")
        if f.kind == "producer_stopped" and f.related:
            out.append(f"feeds {_names(list(f.related), d)}")
        return out
    if f.kind == "superseded":
        newer = e.get("newer") or (f.related[0] if f.related else None)
        newer_w, this_w = _ts(e.get("newer_written")), _ts(e.get("this_written"))
        if newer:
            text = f"a newer version exists: {d(str(newer))}"
            if newer_w is not None:
                text += f", written {_date(newer_w)} ({ago(newer_w, ctx.as_of)})"
            out.append(text)
        if this_w is not None:
            gap = f", {int((newer_w - this_w) / timedelta(days=1)):,} days before it" if newer_w and newer_w >= this_w else ""
            out.append(f"this one was last written {_date(this_w)} ({ago(this_w, ctx.as_of)}){gap}")
        shared = list(e.get("shared_columns") or [])
        if shared:
            out.append(f"{len(shared):,} column{'s' if len(shared) != 1 else ''} in common: {_names(shared, str, 8)}")
        if e.get("usage_known") is False:
            out.append(f"reads: {USAGE_UNKNOWN_SHORT if not ctx.usage_known else 'usage unknown (no usage source covers its storage)'}")
        else:
            out.append(_last("last read", e.get("last_read"), ctx, "no read seen in the usage sources"))
        return out
    if f.kind == "expired":
        max_days = _num(e.get("max_age_days"))
        out.append(f"retention policy {e.get('policy')!r} keeps data"
                   + (f" {max_days:g} days" if max_days is not None else ""))
        when = _when(e.get("last_written"), ctx.as_of)
        if when:
            out.append(f"last written {when}")
        out.append(_usage_of(f.uri, ctx, "this dataset"))
        return out
    if f.kind == "expired_partitions":
        return _expired_partitions(e)
    if f.kind == "unvacuumed_history":
        files, nbytes = _int(e.get("vacuumable_files")), _int(e.get("vacuumable_bytes"))
        hours = _num(e.get("retention_hours"))
        text = f"{_files(files) if files is not None else 'files'} ({format_bytes(nbytes)}) are no longer in the " \
               f"current version"
        if _int(e.get("delta_version")) is not None:
            text += f" (Delta version {e['delta_version']})"
        if hours is not None:
            text += f" and older than the table's {hours:g}-hour retention"
        out.append(text)
        tt = _int(e.get("time_travel_bytes"))
        if tt is not None:
            out.append(f"{format_bytes(tt)} in all are held only for time travel; VACUUM keeps what the retention protects")
        return out
    return _generic(f, ctx)


def _expired_partitions(e: Mapping[str, Any]) -> list[str]:
    """Partition-level retention (:mod:`rotscan.detect.partition_retention`): which partitions are
    past the policy, dated by their values, and what the action does to them."""
    out: list[str] = []
    cols = ", ".join(str(c) for c in e.get("partition_columns") or ()) or "its partition column"
    max_days = _num(e.get("max_age_days"))
    n, total = _int(e.get("expired_partitions")), _int(e.get("partitions"))
    text = f"retention policy {e.get('policy')!r} keeps" + (f" {max_days:g} days of" if max_days is not None else "") \
        + f" partitions, dated by the value of {cols} (not by file times)"
    out.append(text)
    if n is not None:
        oldest, newest = e.get("oldest_expired"), e.get("newest_expired")
        span = f" ({oldest}" + (f" to {newest}" if newest and newest != oldest else "") + ")" if oldest else ""
        files, nbytes = _int(e.get("expired_files")), _int(e.get("expired_bytes"))
        size = f": {_files(files)}, {format_bytes(nbytes)}" if files is not None and nbytes is not None else ""
        out.append(f"{n:,} of {total if total is not None else '?'} partition(s) are past it{span}{size}")
    if e.get("all_expired"):
        out.append("every partition of this dataset is expired: dropping them leaves it empty")
    elif e.get("newest_kept"):
        out.append(f"{_int(e.get('kept_partitions')) or 0:,} newer partition(s) stay (newest {e['newest_kept']})")
    undated = _int(e.get("undated_partitions"))
    if undated:
        out.append(f"{undated:,} partition(s) hold no date in {cols} and are never expired")
    if e.get("layout") == "delta":
        out.append("cleanup runs a Delta DELETE on the partition columns, then VACUUM at the table's retention: the "
                   "files go only after that retention")
    else:
        out.append("cleanup moves the expired partition directories to quarantine (restorable until purged)")
    return out


# ---------------------------------------------------------------------------------------------
# trivial


def _modified(e: Mapping[str, Any], ctx: EvidenceContext) -> str | None:
    when = _when(e.get("modified"), ctx.as_of)
    return f"last modified {when}" if when else None


def _in_dataset(f: Finding, ctx: EvidenceContext) -> str | None:
    ds = f.evidence.get("dataset")
    return f"part of {ctx.display(str(ds))}" if isinstance(ds, str) and ds and ds != f.uri else None


def _trivial(f: Finding, ctx: EvidenceContext) -> list[str]:
    e = f.evidence
    out: list[str] = []
    rows, nbytes, files = _int(e.get("rows")), _int(e.get("bytes")), _int(e.get("files"))
    source = {"footer": "Parquet/ORC file footers", "parquet_footer": "Parquet file footers",
              "delta_stats": "the Delta log's statistics", "spark_count": "a full count",
              "zero_byte_files": "zero-byte files", "iceberg_snapshot": "the Iceberg snapshot summary"}
    if f.kind == "empty":
        how = source.get(str(e.get("rows_source") or ""), "the data")
        where = ("no data files" if files == 0 else
                 f"in {_files(files) if files is not None else 'its files'}"
                 + (f" holding {format_bytes(nbytes)}" if nbytes else ""))
        out.append(f"0 rows, counted from {how}, {where}")
        if e.get("format"):
            out.append(f"format: {e['format']}" + (f", Delta version {e['delta_version']} (last operation "
                                                     f"{e.get('delta_last_operation') or 'unknown'})"
                                                     if e.get("delta_version") is not None else ""))
    elif f.kind == "constant":
        const, nulls = list(e.get("constant_columns") or []), list(e.get("null_columns") or [])
        out.append(f"{_rows(rows) if rows is not None else 'its rows'}, and every column is uninformative")
        if const:
            out.append(f"one value only in {_names(const, str, 8)}")
        if nulls:
            out.append(f"only nulls in {_names(nulls, str, 8)}")
    elif f.kind == "tiny":
        size = _rows(rows) if rows is not None else "rows unknown"
        out.append(f"{size}, {format_bytes(nbytes)}, in a scratch location (matches {e.get('scratch_glob')!r})")
    elif f.kind == "small_files":
        avg, small, after = _int(e.get("avg_file_bytes")), _int(e.get("small_files")), _int(e.get("files_after"))
        limit, target, parts = _int(e.get("small_file_bytes")), _int(e.get("target_file_bytes")), _int(e.get("partitions"))
        out.append(f"{_files(files) if files is not None else 'its files'}"
                   + (f" averaging {format_bytes(avg)}" if avg is not None else "")
                   + (f", {small:,} of them under the small-file size {format_bytes(limit)}"
                      if small is not None and limit is not None else ""))
        if after is not None and files is not None:
            out.append(f"compaction would leave about {_files(after)} ({files:,} → {after:,})"
                       + (f" of up to {format_bytes(target)}" if target is not None else "")
                       + (f", at least one per partition ({parts:,} partitions)" if parts else "")
                       + "; every row stays and no storage is freed")
    elif f.kind == "zero_byte":
        out.append("a zero-byte file: it holds no data")
        part = _in_dataset(f, ctx)
        if part:
            out.append(part)
    elif f.kind == "corrupt_file":
        out.append(f"cannot be read as what its name says: {e.get('problem') or 'unreadable'}"
                   + (f" ({format_bytes(nbytes)})" if nbytes is not None else ""))
        part = _in_dataset(f, ctx)
        if part:
            out.append(part)
    elif f.kind == "broken_table":
        kind = str(e.get("table_type") or "").lower() or "catalog"
        out.append(f"catalog table {e.get('table') or f.table} ({kind}, {e.get('format') or 'format unknown'})")
        if e.get("location_state") == "missing":
            out.append("its location no longer exists: nothing is stored there")
        else:
            out.append("its location holds no data files"
                       + (f" ({_files(files)}, {format_bytes(nbytes)} of markers or empty files)" if files else ""))
        return out
    elif f.kind in ("junk_file", "write_debris"):
        what = "a directory of" if e.get("is_dir") else "holding"
        if files is not None or nbytes is not None:
            out.append(f"{what} {_files(files) if files is not None else 'files'}, {format_bytes(nbytes)}"
                       if e.get("is_dir") else f"{format_bytes(nbytes)} of {'junk' if f.kind == 'junk_file' else 'debris'}")
        if f.kind == "write_debris":
            hours = _num(e.get("age_hours"))
            if hours is None:
                out.append("age unknown: it may belong to a write in progress")
            elif hours < 48:
                out.append(f"last written {hours:.0f} hours ago" + ("; recent, it may belong to a write in progress"
                                                                      if f.action == "review" else ""))
            else:
                out.append(f"last written {hours / 24:,.0f} days ago")
            return out
    else:
        return _generic(f, ctx)
    mod = _modified(e, ctx)
    if mod:
        out.append(mod)
    if f.uri in ctx.datasets:
        out.append(_usage_of(f.uri, ctx, "this dataset"))
    return out


def _generic(f: Finding, ctx: EvidenceContext) -> list[str]:
    """A kind this module does not know: the common facts it can state safely."""
    e = f.evidence
    out = []
    rows, nbytes = _int(e.get("rows")), _int(e.get("bytes"))
    if rows is not None or nbytes is not None:
        out.append(", ".join(x for x in (None if rows is None else _rows(rows),
                                          None if nbytes is None else format_bytes(nbytes)) if x))
    for key, label in (("last_read", "last read"), ("last_written", "last written"), ("modified", "last modified")):
        when = _when(e.get(key), ctx.as_of)
        if when:
            out.append(f"{label} {when}")
    if "last_read" not in e and f.uri in ctx.datasets:
        out.append(_usage_of(f.uri, ctx, "this dataset"))
    return out


def explain(finding: Finding, ctx: EvidenceContext) -> list[str]:
    """The finding's evidence as sentences (capitalised, full stop), most telling first."""
    if finding.category == "redundant":
        parts = _redundant(finding, ctx)
    elif finding.category == "obsolete":
        parts = _obsolete(finding, ctx)
    else:
        parts = _trivial(finding, ctx)
    registered = finding.evidence.get("registered")  # only when a catalog was read (rotscan.detect.tables)
    if registered is True and finding.kind != "broken_table":
        table = finding.table or finding.evidence.get("table")
        parts.append(f"registered as catalog table {table}" if table else "registered in the catalog")
    elif registered is False:
        parts.append("registered in no catalog table, so nobody queries it by a table name")
    return [_sentence(p) for p in parts if p and p.strip()]

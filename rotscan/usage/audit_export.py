"""Audit and lineage table exports, as CSV (with a header) or Parquet (read with pyarrow).

Three layouts, told apart by their columns:

* Unity Catalog ``system.access.table_lineage``: ``source_table_full_name, source_path,
  target_table_full_name, target_path, entity_type, entity_id, [entity_run_id,] created_by,
  event_time``. A row with a source is a read of it; a row with a target is a write of it; a row
  with both is a read of the source and a write of the target with the source as input.
  ``job`` = ``<entity_type>:<entity_id>`` (e.g. ``JOB:1234``), ``actor`` = ``created_by``; the path
  is used when there is one, else the table name (``table`` is always set when named).
* Unity Catalog ``system.access.audit``: ``event_time, user_identity.email, service_name,
  action_name, request_params, response.status_code`` (``response.statusCode`` too; nested
  columns as Parquet structs/maps, or flattened / JSON text in CSV). Reads: ``getTable``
  (``full_name_arg``; the catalog lookup every query on a table makes), and temporary credentials
  requested to read (``generateTemporaryTableCredential`` / ``generateTemporaryPathCredential``
  with ``operation`` READ / PATH_READ); writes: ``createTable`` and credentials requested to write
  (READ_WRITE / PATH_READ_WRITE / PATH_CREATE_TABLE). ``success`` = status 200 (or none given).
* Generic: ``column_mapping`` = ``{"time": col, "path": col, "kind": col, "actor": col, "job": col,
  "table": col, "run_id": col}`` — ``time`` and one of ``path``/``table`` required. ``kind`` values
  read/r/get/select/open/scan → read, write/w/put/insert/create/update/merge/append/overwrite/delete
  → write; without a ``kind`` column every row is a read.

A row without a parsable time, or with an unknown kind, is a bad line.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from rotscan.usage.events import AccessEvent, ParsedSource, is_path_like, parse_time, to_uri

SOURCE = "audit_export"
PARQUET_MAGIC = b"PAR1"
LINEAGE_COLUMNS = {"source_table_full_name", "source_path", "target_table_full_name", "target_path"}
AUDIT_READS = {"getTable": None, "generateTemporaryTableCredential": {"READ"},
               "generateTemporaryPathCredential": {"PATH_READ"}}
AUDIT_WRITES = {"createTable": None, "generateTemporaryTableCredential": {"READ_WRITE"},
                "generateTemporaryPathCredential": {"PATH_READ_WRITE", "PATH_CREATE_TABLE"}}
_READ_WORDS = {"read", "r", "get", "select", "open", "scan", "query", "download"}
_WRITE_WORDS = {"write", "w", "put", "insert", "create", "update", "merge", "append", "overwrite", "delete", "upload",
                "copy"}
MAPPING_KEYS = ("time", "path", "kind", "actor", "job", "table", "run_id")


def layout_of(columns: Iterable[str], column_mapping: Mapping[str, str] | None = None) -> str | None:
    """``"mapping"``, ``"uc_lineage"``, ``"uc_audit"`` or ``None`` for a set of column names."""
    cols = {c.strip() for c in columns}
    lower = {c.lower() for c in cols}
    if column_mapping and column_mapping.get("time") in cols and (
            column_mapping.get("path") in cols or column_mapping.get("table") in cols):
        return "mapping"
    if "event_time" in lower and lower & LINEAGE_COLUMNS:
        return "uc_lineage"
    if {"event_time", "action_name"} <= lower and any(c.startswith("request_params") for c in lower):
        return "uc_audit"
    return None


def _get(row: Mapping[str, Any], dotted: str) -> Any:
    """A value by column name, or through nested structs/maps/JSON text (``a.b``)."""
    if dotted in row:
        return row[dotted]
    head, _, rest = dotted.partition(".")
    if not rest or head not in row:
        return None
    value = _as_mapping(row[head])
    return None if value is None else _get(value, rest)


def _as_mapping(value: Any) -> Mapping[str, Any] | None:
    if isinstance(value, Mapping):
        return value
    if isinstance(value, list) and all(isinstance(i, tuple) and len(i) == 2 for i in value):
        return {str(k): v for k, v in value}  # a pyarrow map column
    if isinstance(value, str) and value.strip().startswith("{"):
        try:
            parsed = json.loads(value)
        except ValueError:
            return None
        return parsed if isinstance(parsed, dict) else None
    return None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _location(path: Any, table: Any) -> tuple[str | None, str | None]:
    """(uri or table name, table) of a lineage side."""
    table_name = _text(table)
    raw = _text(path)
    uri = to_uri(raw) if raw else None
    if uri is not None:
        return uri, table_name
    return (table_name, table_name) if table_name else (None, None)


def parse_rows(rows: Iterable[Mapping[str, Any] | None], columns: Iterable[str], path: str, *,
               column_mapping: Mapping[str, str] | None = None,
               source: ParsedSource | None = None) -> ParsedSource:
    """Turn export rows (``None`` for a row that could not be read) into access events."""
    source = source if source is not None else ParsedSource(kind=SOURCE, path=path)
    layout = layout_of(columns, column_mapping)
    if layout is None:
        source.warn("audit export with unknown columns (not Unity Catalog table_lineage/audit); pass a "
                    "column mapping {time, path, kind, actor, job}", "usage_unknown_format")
        source.recognised = False
        return source
    for row in rows:
        if row is None:
            source.bad_lines += 1
            continue
        try:
            ok = _ROW_PARSERS[layout](row, source, column_mapping or {})
        except (TypeError, ValueError, AttributeError):
            ok = False
        if not ok:
            source.bad_lines += 1
    return source


def _lineage_row(row: Mapping[str, Any], source: ParsedSource, _: Mapping[str, str]) -> bool:
    lowered = {k.lower(): v for k, v in row.items()}
    when = parse_time(lowered.get("event_time"))
    if when is None:
        return False
    source.observe(when)
    src, src_table = _location(lowered.get("source_path"), lowered.get("source_table_full_name"))
    dst, dst_table = _location(lowered.get("target_path"), lowered.get("target_table_full_name"))
    if src is None and dst is None:
        return True  # lineage of a non-table entity (a dashboard query without tables): no access
    entity_type, entity_id = _text(lowered.get("entity_type")), _text(lowered.get("entity_id"))
    job = f"{entity_type}:{entity_id}" if entity_type and entity_id else entity_id or entity_type
    actor = _text(lowered.get("created_by"))
    run_id = _text(lowered.get("entity_run_id"))
    if src is not None:
        source.add(AccessEvent(time=when, kind="read", uri=src, actor=actor, job=job, source=SOURCE, run_id=run_id,
                               table=src_table))
    if dst is not None:
        source.add(AccessEvent(time=when, kind="write", uri=dst, actor=actor, job=job, source=SOURCE, run_id=run_id,
                               inputs=(src,) if src is not None and is_path_like(src) else (), table=dst_table))
    return True


def _audit_row(row: Mapping[str, Any], source: ParsedSource, _: Mapping[str, str]) -> bool:
    when = parse_time(_get(row, "event_time"))
    action = _text(_get(row, "action_name"))
    if when is None or action is None:
        return False
    source.observe(when)
    params = _as_mapping(_get(row, "request_params")) or {}
    operation = (_text(params.get("operation")) or "").upper()
    kind = None
    for candidate, actions in (("read", AUDIT_READS), ("write", AUDIT_WRITES)):
        if action in actions and (actions[action] is None or operation in actions[action]):  # type: ignore[operator]
            kind = candidate
    if kind is None:
        return True
    table = _text(params.get("full_name_arg")) or _text(params.get("table_full_name"))
    if table is None and action == "createTable" and params.get("name"):
        parts = [_text(params.get(k)) for k in ("catalog_name", "schema_name", "name")]
        table = ".".join(p for p in parts if p)
    raw_path = _text(params.get("url")) or _text(params.get("path")) or _text(params.get("storage_location"))
    uri = to_uri(raw_path) if raw_path else None
    target = uri or table
    if target is None:
        return True  # e.g. a credential for a table given only by id: nothing to map it to
    status = _get(row, "response.status_code")
    if status is None:
        status = _get(row, "response.statusCode")
    try:
        success = status is None or int(status) == 200
    except (TypeError, ValueError):
        success = True
    actor = _text(_get(row, "user_identity.email")) or _text(_get(row, "user_identity"))
    source.add(AccessEvent(time=when, kind=kind, uri=target, actor=actor, job=None, source=SOURCE,
                           run_id=_text(_get(row, "request_id")), success=success, table=table))
    return True


def _mapped_row(row: Mapping[str, Any], source: ParsedSource, mapping: Mapping[str, str]) -> bool:
    def col(key: str) -> Any:
        name = mapping.get(key)
        return row.get(name) if name else None

    when = parse_time(col("time"))
    if when is None:
        return False
    raw_kind = _text(col("kind"))
    if raw_kind is None and mapping.get("kind"):
        return False
    kind = "read" if raw_kind is None else _kind_of(raw_kind)
    if kind is None:
        return False
    table = _text(col("table"))
    raw_path = _text(col("path"))
    uri = to_uri(raw_path) if raw_path else None
    if raw_path and uri is None and table is None:
        return False
    target = uri or table
    if target is None:
        return False
    source.observe(when)
    source.add(AccessEvent(time=when, kind=kind, uri=target, actor=_text(col("actor")), job=_text(col("job")),
                           source=SOURCE, run_id=_text(col("run_id")), table=table))
    return True


def _kind_of(value: str) -> str | None:
    """read/write from a kind value: a word (``read``, ``PUT``) or dotted (``REST.GET.OBJECT``)."""
    word = value.strip().lower()
    parts = set(re.split(r"[^a-z0-9]+", word))
    for candidate in (word, *sorted(parts)):
        if candidate in _READ_WORDS:
            return "read"
        if candidate in _WRITE_WORDS:
            return "write"
    return None


_ROW_PARSERS = {"uc_lineage": _lineage_row, "uc_audit": _audit_row, "mapping": _mapped_row}


# --- files -----------------------------------------------------------------------------------------

def csv_rows(text: str) -> tuple[list[str], Iterator[dict[str, Any] | None]]:
    """Header and rows of CSV text (``None`` for a row whose field count is wrong)."""
    sample = text[:4096]
    first = sample.splitlines()[0] if sample else ""
    delimiter = "\t" if "\t" in first and "," not in first else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = [h.strip().lstrip("\ufeff") for h in next(reader)]
    except (StopIteration, csv.Error):
        return [], iter(())

    def rows() -> Iterator[dict[str, Any] | None]:
        while True:
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error:
                yield None
                continue
            if not values or all(not v.strip() for v in values):
                continue
            yield dict(zip(header, values, strict=True)) if len(values) == len(header) else None

    return header, rows()


def read_audit_export(path: str | os.PathLike[str], *, column_mapping: Mapping[str, str] | None = None,
                      text: str | None = None) -> ParsedSource:
    """Read one CSV or Parquet export (Parquet told by its magic bytes)."""
    p = os.fspath(path)
    source = ParsedSource(kind=SOURCE, path=p)
    if text is None:
        try:
            with open(p, "rb") as fh:
                head = fh.read(4)
        except OSError as exc:
            source.warn(f"cannot read {p}: {exc}", "usage_unreadable")
            return source
        if head == PARQUET_MAGIC:
            return _read_parquet(p, source, column_mapping)
        try:
            with open(p, encoding="utf-8", errors="replace", newline="") as fh:
                text = fh.read()
        except OSError as exc:
            source.warn(f"cannot read {p}: {exc}", "usage_unreadable")
            return source
    header, rows = csv_rows(text)
    return parse_rows(rows, header, p, column_mapping=column_mapping, source=source)


def _read_parquet(path: str, source: ParsedSource, column_mapping: Mapping[str, str] | None) -> ParsedSource:
    try:
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(path)
        columns = list(pf.schema_arrow.names)
    except Exception as exc:  # pyarrow raises many types for a corrupt footer
        source.warn(f"corrupt Parquet audit export {path}: {exc}", "corrupt")
        source.recognised = False
        return source

    def rows() -> Iterator[dict[str, Any] | None]:
        try:
            for batch in pf.iter_batches(batch_size=20_000):
                yield from batch.to_pylist()
        except Exception as exc:  # a corrupt page mid-file: keep what was read
            source.warn(f"Parquet audit export {path} is corrupt past some rows: {exc}", "corrupt")

    return parse_rows(rows(), columns, path, column_mapping=column_mapping, source=source)

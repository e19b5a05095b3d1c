"""Delta table history: the ``commitInfo`` of each JSON commit in ``<table>/_delta_log`` (delta-io
``PROTOCOL.md``, "Commit Provenance Information"; the content is free-form per writer).

Two writer shapes are read:

* delta-spark: ``{"commitInfo": {"timestamp": <ms>, "userId"?, "userName"?, "operation": "WRITE",
  "operationParameters": {...}, "readVersion", "isolationLevel", "isBlindAppend",
  "operationMetrics", "engineInfo": "Apache-Spark/4.2.0 Delta-Lake/4.4.0", "txnId",
  "job"?: {"jobId", "jobName", ...}, "inCommitTimestamp"?}}``
* delta-rs (``deltalake``): ``{"commitInfo": {"timestamp": <ms>, "operation": "WRITE",
  "operationParameters": {"mode": "Append", ...}, "clientVersion": "delta-rs.0.x.y", ...}}``
  (delta-rs puts ``clientVersion`` among the commit's extra info).

Each data-changing commit is a write event of the table: ``time`` = ``inCommitTimestamp`` or
``timestamp``, ``actor`` = ``userName`` (else ``userId``), ``job`` = ``job.jobName`` (else
``engineInfo``/``clientVersion``, else the operation), ``run_id`` = ``txnId``/``job.runId``.
A commit changes data when one of its ``add``/``remove``/``cdc`` actions has ``dataChange: true``,
or, with no such actions, when its operation writes data (WRITE, MERGE, …). Maintenance commits
(OPTIMIZE, VACUUM, property changes — ``dataChange: false``) are not writes: a compaction job must
not make an abandoned table look alive; they are counted in the coverage notes.

Reads: none (the log records no reads). Only local tables are read here (pure Python); a
commit's log file missing (log retention cleaned it up) is noted, not guessed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rotscan.core.jsonlines import json_objects
from rotscan.usage.events import AccessEvent, ParsedSource, dict_at, first_str, from_epoch, to_uri

SOURCE = "delta_history"
_COMMIT = re.compile(r"^(\d{20})\.json$")
_DATA_OPERATIONS = {"WRITE", "STREAMING UPDATE", "MERGE", "UPDATE", "DELETE", "TRUNCATE", "RESTORE", "COPY INTO",
                    "CREATE TABLE AS SELECT", "REPLACE TABLE AS SELECT", "CREATE OR REPLACE TABLE AS SELECT",
                    "CONVERT", "CLONE", "SHALLOW CLONE", "DEEP CLONE", "CREATE TABLE", "REPLACE TABLE",
                    "CREATE OR REPLACE TABLE"}


def parse_delta_commit_lines(lines: Iterable[str], path: str, *, table_uri: str, version: int | None = None,
                             source: ParsedSource | None = None) -> ParsedSource:
    """Parse one commit file's actions (one JSON action per line) into at most one write event."""
    source = source if source is not None else ParsedSource(kind=SOURCE, path=path)
    info: dict[str, Any] | None = None
    data_change: bool | None = None
    for action in json_objects(lines, source.bad_line):
        if len(action) != 1:
            source.bad_line()
            continue
        (name, body), = action.items()
        if name == "commitInfo" and isinstance(body, dict):
            info = body
        elif name in ("add", "remove", "cdc") and isinstance(body, dict):
            changed = body.get("dataChange")
            if changed is True or (changed is None and name == "cdc"):
                data_change = True
            elif data_change is None:
                data_change = False
    if info is None:
        return source
    when = from_epoch(info.get("inCommitTimestamp")) or from_epoch(info.get("timestamp"))
    if when is None:
        source.bad_lines += 1
        return source
    source.observe(when)
    operation = first_str(info, "operation") or "UNKNOWN"
    writes = data_change if data_change is not None else operation.upper() in _DATA_OPERATIONS
    if not writes:
        source.notes.append(f"maintenance commit not counted as a write: {operation}"
                            + (f" (version {version})" if version is not None else ""))
        return source
    job_info = dict_at(info, "job")
    job = first_str(job_info, "jobName", "jobId") or first_str(info, "engineInfo", "clientVersion") or operation
    actor = first_str(info, "userName", "userId")
    run_id = first_str(info, "txnId") or first_str(job_info, "runId")
    source.add(AccessEvent(time=when, kind="write", uri=table_uri, actor=actor, job=job, source=SOURCE,
                           run_id=run_id))
    return source


def read_delta_history(storage_path: str | os.PathLike[str]) -> ParsedSource:
    """Write events of one local Delta table from its ``_delta_log/*.json`` commits.

    ``storage_path`` is the table directory (a path or ``file:`` URI), its ``_delta_log``
    directory, or one commit file.
    """
    text = os.fspath(storage_path)
    local = Path(text[len("file:"):] if text.startswith("file:") else text)
    if local.is_file():
        log_dir, files = local.parent, [local]
    else:
        log_dir = local if local.name == "_delta_log" else local / "_delta_log"
        files = []
    table_dir = log_dir.parent
    source = ParsedSource(kind=SOURCE, path=str(table_dir))
    table_uri = to_uri("file:" + str(table_dir.resolve()))
    if table_uri is None:
        source.warn(f"not a table path: {text}", "usage_unreadable")
        return source
    if not files:
        try:
            files = sorted(p for p in log_dir.iterdir() if _COMMIT.match(p.name))
        except OSError as exc:
            source.warn(f"cannot list {log_dir}: {exc}", "usage_unreadable")
            return source
    versions = []
    for f in files:
        m = _COMMIT.match(f.name)
        version = int(m.group(1)) if m else None
        if version is not None:
            versions.append(version)
        try:
            with open(f, encoding="utf-8", errors="replace") as fh:
                parse_delta_commit_lines(fh, str(f), table_uri=table_uri, version=version, source=source)
        except OSError as exc:
            source.warn(f"cannot read Delta commit {f}: {exc}", "usage_unreadable")
    if versions and min(versions) > 0:
        source.notes.append(f"commits before version {min(versions)} are gone (log retention); "
                            "history starts there")
    _summarise_maintenance(source)
    return source


def _summarise_maintenance(source: ParsedSource) -> None:
    maintenance = [n for n in source.notes if n.startswith("maintenance commit")]
    if len(maintenance) > 3:
        ops = sorted({n.split(": ", 1)[1].split(" (version")[0] for n in maintenance})
        source.notes = [n for n in source.notes if not n.startswith("maintenance commit")]
        source.notes.append(f"{len(maintenance)} maintenance commits not counted as writes ({', '.join(ops)})")

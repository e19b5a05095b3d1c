"""Spark event logs (``spark.eventLog.enabled=true``): plain JSON lines, single compressed files,
and Spark 4's rolling directories ``eventlog_v2_<appId>/events_<N>_<appId>[.zstd]`` (read in
``N`` order as one source; ``appstatus_*`` files are markers).

What is used, as real Spark 4.2 + Delta 4.4 logs hold it:

* ``SparkListenerApplicationStart``: ``App Name`` (the event's ``job``), ``App ID`` (``run_id``),
  ``User`` (``actor``), ``Timestamp``; ``SparkListenerApplicationEnd.Timestamp``;
  ``SparkListenerEnvironmentUpdate`` ``Hadoop Properties`` ``fs.defaultFS`` — the file system of
  paths written without a scheme.
* ``SparkListenerSQLExecutionStart`` (``executionId``, ``rootExecutionId``, ``time``,
  ``sparkPlanInfo``, ``physicalPlanDescription``) and ``SparkListenerSQLExecutionEnd``
  (``errorMessage``: empty when the execution succeeded). Executions are grouped by their root
  execution: a Delta write's data scan runs as a child execution of the write command.
* Reads: scan nodes' ``metadata.Location`` — ``InMemoryFileIndex(N paths)[p1, p2, ...]`` and the
  other file indexes (``PreparedDeltaFileIndex``, ``TahoeLogFileIndex``, ``DeltaLogFileIndex``,
  ``CatalogFileIndex``); a path inside ``_delta_log`` counts as a read of its table, as does a
  ``Scan ExistingRDD Delta Table State #N - <table>/_delta_log`` node. Reads of a table by the very
  execution group that writes it (a writer replaying its own log) are not counted.
* Writes: ``Execute InsertIntoHadoopFsRelationCommand <path>, …`` (simpleString); for
  ``SaveIntoDataSourceCommand`` (DataFrame ``save`` to Delta) and the Delta commands
  (``WriteIntoDeltaCommand``, ``AppendDataExecV1``, ``OverwriteByExpressionExecV1``,
  ``MergeIntoCommand``, ``DeleteCommand``, ``UpdateCommand``, ``AtomicCreateTableAsSelect`` …) the
  target comes from the ``physicalPlanDescription`` arguments: ``[path=…]``,
  ``DeltaTableV2(…, <path>, …)``, ``delta.`<path>``` or a table identifier (then ``uri`` is the
  table name and ``table`` is set; it is resolved through aliases, never guessed).
* Path lists Spark truncated (``spark.sql.maxMetadataStringLength``) are counted in the coverage
  notes; the missing paths are not guessed.

Not handled: lz4- and snappy-compressed logs (Spark writes them in lz4-java/snappy-java stream
formats, which pyarrow does not read: a warning), RDD-API reads/writes (no SQL execution), and
Hive ``InsertIntoHiveTable`` targets beyond their table name.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from rotscan.usage.events import AccessEvent, ParsedSource, dict_at, from_epoch, str_at, to_uri

SOURCE = "spark_eventlog"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_COMPRESSION = {".zstd": "zstd", ".zst": "zstd", ".lz4": "lz4", ".snappy": "snappy", ".lzf": "lzf"}
_INTERESTING = ("SparkListenerApplicationStart", "SparkListenerApplicationEnd", "SparkListenerEnvironmentUpdate",
                "SQLExecutionStart", "SQLExecutionEnd")
_LOCATION = re.compile(r"^\s*(\w+)(?:\((\d+) paths?\))?\[(.*)\]\s*$", re.S)
_LOCATION_PAREN = re.compile(r"^\s*(\w+FileIndex)\((.*)\)\s*$", re.S)
_DELTA_STATE = re.compile(r"Delta Table State(?: with Stats)? #\d+ - (\S+?)/_delta_log")
_INSERT = re.compile(r"^Execute InsertIntoHadoopFsRelationCommand (.+?)(?:, |$)")
_ARGS = re.compile(r"^\(\d+\) (\w+)\s*\nArguments: (.*)$", re.M)
_PATH_OPTION = re.compile(r"[\[ ,(]path=([^,\]\n)]+)")
_DELTA_PATH_ID = re.compile(r"delta\.`([^`]+)`")
_DELTA_TABLE_V2 = re.compile(r"DeltaTableV2\(([^\n]*)")
_DELTA_RELATION = re.compile(r"Delta\[version=\d+, ([^\]\n]+)\]")
_TABLE_ID = re.compile(r"^(?:`?(?!\d)[\w$-]+`?\.){1,2}`?(?!\d)[\w$-]+`?$")
# Commands whose only relation is their target: the target may be named anywhere in the description.
_SELF_TARGET_COMMANDS = ("DeleteCommand", "UpdateCommand", "DeltaDMLCommand")
# Executions Delta runs on its own (snapshot state, log replay), under their own root: not reads by a user.
_DELTA_INTERNAL = ("Delta: ", "$anonfun$recordDeltaOperationInternal")
# Commands whose execution writes its target (the root of a write).
_WRITE_COMMANDS = ("SaveIntoDataSourceCommand", "WriteIntoDeltaCommand", "AppendDataExecV1", "AppendDataExec",
                   "OverwriteByExpressionExecV1", "OverwriteByExpressionExec", "OverwritePartitionsDynamicExecV1",
                   "OverwritePartitionsDynamicExec", "MergeIntoCommand", "DeleteCommand", "UpdateCommand",
                   "AtomicCreateTableAsSelect", "AtomicReplaceTableAsSelect", "CreateTableAsSelect",
                   "ReplaceTableAsSelect", "CreateDeltaTableCommand", "InsertIntoHiveTable",
                   "CreateDataSourceTableAsSelectCommand", "DeltaDMLCommand", "MergeIntoCommandEdge",
                   "WriteToDataSourceV2", "ReplaceDataExec", "WriteDeltaExec")


@dataclass
class _Execution:
    id: int
    root: int
    time: datetime | None
    description: str = ""
    reads: list[str] = field(default_factory=list)
    writes: list[tuple[str, str | None]] = field(default_factory=list)  # (uri or table name, table)
    end: datetime | None = None
    error: str | None = None
    ended: bool = False


@dataclass
class _State:
    app_name: str | None = None
    app_id: str | None = None
    user: str | None = None
    default_fs: str = "file"
    executions: dict[int, _Execution] = field(default_factory=dict)
    truncated: int = 0


# --- reading the bytes -----------------------------------------------------------------------------

def compression_of(path: Path, head: bytes = b"") -> str | None:
    """The codec of an event-log file: by Spark's file-name suffix, else zstd by its magic bytes."""
    for suffix, codec in _COMPRESSION.items():
        if path.name.endswith(suffix) or path.name.endswith(suffix + ".inprogress"):
            return codec
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return None


def iter_lines(path: Path, codec: str | None, chunk_size: int = 1 << 20) -> Iterator[str]:
    """The text lines of a (possibly compressed) file, streamed. Raises OSError / ValueError
    (pyarrow's ArrowInvalid is a ValueError) for unreadable or undecodable data."""
    if codec is None:
        with open(path, "rb") as fh:
            yield from _split_lines(iter(lambda: fh.read(chunk_size), b""))
        return
    import pyarrow as pa

    if codec != "zstd":
        # Spark writes lz4/snappy/lzf through lz4-java's LZ4BlockOutputStream, snappy-java's stream
        # format and ning-compress: none of them is a format pyarrow (or any pure-Python reader here) knows.
        raise ValueError(f"{codec}-compressed Spark event logs are written in a JVM-only stream format; "
                         "rotscan reads plain and zstd event logs (spark.eventLog.compression.codec=zstd, "
                         "Spark's default)")
    with pa.input_stream(str(path), compression=codec) as stream:
        yield from _split_lines(iter(lambda: stream.read(chunk_size), b""))


def _split_lines(chunks: Iterable[bytes]) -> Iterator[str]:
    rest = b""
    for chunk in chunks:
        data = rest + chunk
        lines = data.split(b"\n")
        rest = lines.pop()
        for line in lines:
            yield line.decode("utf-8", errors="replace")
    if rest:
        yield rest.decode("utf-8", errors="replace")


def rolling_parts(directory: Path) -> list[Path]:
    """The ``events_<N>_<appId>[.codec]`` files of a Spark 4 rolling event-log directory, in N order."""
    parts: list[tuple[int, str, Path]] = []
    for child in directory.iterdir():
        m = re.match(r"events_(\d+)_", child.name)
        if m and child.is_file():
            parts.append((int(m.group(1)), child.name, child))
    return [p for _, _, p in sorted(parts)]


def is_rolling_dir(path: Path) -> bool:
    return path.is_dir() and path.name.startswith("eventlog_v2_")


def read_spark_eventlog(path: str | os.PathLike[str]) -> ParsedSource:
    """Parse one event log: a plain or compressed file, or a rolling ``eventlog_v2_*`` directory."""
    p = Path(path)
    source = ParsedSource(kind=SOURCE, path=str(p))
    files = rolling_parts(p) if p.is_dir() else [p]
    if p.is_dir() and not files:
        source.warn(f"rolling event-log directory without events_* files: {p}", "usage_unreadable")
        return source
    if p.is_dir() and any(c.name.startswith("appstatus_") and c.name.endswith(".inprogress") for c in p.iterdir()):
        source.notes.append("application still running when the log was read (appstatus_*.inprogress)")

    def lines() -> Iterator[str]:
        for f in files:
            try:
                with open(f, "rb") as fh:
                    head = fh.read(4)
                codec = compression_of(f, head)
                yield from iter_lines(f, codec)
            except (OSError, ValueError) as exc:
                source.warn(f"cannot read Spark event log {f}: {exc}", "usage_unreadable")
                return

    if p.is_file() and p.name.endswith(".inprogress"):
        source.notes.append("application still running when the log was read (.inprogress)")
    parse_spark_eventlog_lines(lines(), str(p), source=source)
    return source


# --- parsing ---------------------------------------------------------------------------------------

def parse_spark_eventlog_lines(lines: Iterable[str], path: str, *, source: ParsedSource | None = None) -> ParsedSource:
    """Parse event-log JSON lines into access events (bad lines counted, never raised)."""
    source = source if source is not None else ParsedSource(kind=SOURCE, path=path)
    state = _State()
    for line in lines:
        line = line.strip()
        if not line:
            continue
        if not line.startswith("{"):
            source.bad_lines += 1
            continue
        head = line[:160]
        if not any(name in head for name in _INTERESTING):
            if not line.endswith("}"):  # a cut-off line (a log still being written, a truncated copy)
                source.bad_lines += 1
            continue
        try:
            event = json.loads(line)
        except ValueError:
            source.bad_lines += 1
            continue
        if not isinstance(event, dict) or not isinstance(event.get("Event"), str):
            source.bad_lines += 1
            continue
        try:
            _handle(event, state, source)
        except (TypeError, ValueError, AttributeError, KeyError):
            source.bad_lines += 1
    _emit(state, source)
    if state.truncated:
        source.notes.append(f"{state.truncated} path lists truncated by spark.sql.maxMetadataStringLength "
                            "(the paths not shown are not counted)")
    return source


def _handle(event: dict[str, Any], state: _State, source: ParsedSource) -> None:
    name = event["Event"]
    if name == "SparkListenerApplicationStart":
        state.app_name = (str_at(event, "App Name") or state.app_name)
        state.app_id = (str_at(event, "App ID") or state.app_id)
        state.user = (str_at(event, "User") or state.user)
        source.observe(from_epoch(event.get("Timestamp")))
    elif name == "SparkListenerApplicationEnd":
        source.observe(from_epoch(event.get("Timestamp")))
    elif name == "SparkListenerEnvironmentUpdate":
        hadoop = event.get("Hadoop Properties")
        props = dict(hadoop) if isinstance(hadoop, (dict, list)) else {}
        fs = props.get("fs.defaultFS") or props.get("fs.default.name")
        if isinstance(fs, str) and fs.strip():
            state.default_fs = "file" if fs.startswith("file:") else fs.strip().rstrip("/")
    elif name.endswith("SQLExecutionStart"):
        exec_id = int(event["executionId"])
        root = event.get("rootExecutionId")
        when = from_epoch(event.get("time"))
        source.observe(when)
        ex = _Execution(id=exec_id, root=int(root) if isinstance(root, int) and root >= 0 else exec_id, time=when,
                        description=(str_at(event, "description") or ""))
        plan = event.get("sparkPlanInfo")
        if isinstance(plan, dict):
            _walk_plan(plan, ex, state)
        description = event.get("physicalPlanDescription")
        if isinstance(description, str):
            _writes_from_description(description, ex, state)
        state.executions[exec_id] = ex
    elif name.endswith("SQLExecutionEnd"):
        exec_id = int(event["executionId"])
        ended = state.executions.get(exec_id)
        when = from_epoch(event.get("time"))
        source.observe(when)
        if ended is not None:
            ended.ended = True
            ended.end = when
            error = event.get("errorMessage")
            ended.error = error if isinstance(error, str) and error.strip() else None


def _walk_plan(node: dict[str, Any], ex: _Execution, state: _State, depth: int = 0) -> None:
    if depth > 500:
        return
    node_name = (str_at(node, "nodeName") or "")
    simple = (str_at(node, "simpleString") or "")
    metadata = dict_at(node, "metadata")
    location = metadata.get("Location")
    if isinstance(location, str):
        ex.reads += _location_paths(location, state)
    m = _DELTA_STATE.search(node_name) or _DELTA_STATE.search(simple)
    if m:
        uri = to_uri(m.group(1), default_scheme=state.default_fs)
        if uri:
            ex.reads.append(uri)
    m = _INSERT.match(simple)
    if m:
        uri = to_uri(m.group(1), default_scheme=state.default_fs)
        if uri:
            ex.writes.append((uri, None))
    children = node.get("children")
    if isinstance(children, list):
        for child in children:
            if isinstance(child, dict):
                _walk_plan(child, ex, state, depth + 1)


def _location_paths(location: str, state: _State) -> list[str]:
    """Paths of a scan node's ``Location`` (a file index), table dirs for ``_delta_log`` paths."""
    m = _LOCATION.match(location)
    if m:
        _, count, body = m.groups()
        items = [i.strip() for i in body.split(", ")] if body.strip() else []
    else:
        m2 = _LOCATION_PAREN.match(location)
        if not m2:
            return []
        count, items = None, [m2.group(2).strip()]
    paths: list[str] = []
    cut = False
    log_only = True  # a Delta log listing: every path shown is in one table's _delta_log
    for item in items:
        if item.endswith("...") or item == "...":
            cut = True
            continue
        uri = to_uri(item, default_scheme=state.default_fs)
        if uri is None:
            continue
        if "/_delta_log" in uri:
            uri = uri.split("/_delta_log", 1)[0]
        else:
            log_only = False
        paths.append(uri)
    shown = len(items) - (1 if cut else 0)
    if (cut or (count is not None and shown < int(count))) and not (log_only and len(set(paths)) == 1):
        state.truncated += 1
    return list(dict.fromkeys(paths))


def _writes_from_description(description: str, ex: _Execution, state: _State) -> None:
    """Write targets of the commands in a physical plan description (``(n) Command\\nArguments: …``)."""
    for m in _ARGS.finditer(description):
        command, args = m.groups()
        if command not in _WRITE_COMMANDS and not command.endswith("DeltaCommand"):
            continue
        target = _target_of(args, state)
        if target is None and command in _SELF_TARGET_COMMANDS:
            target = _target_of(description, state, table_names=False)
        if target is not None and target not in ex.writes:
            ex.writes.append(target)


def _target_of(args: str, state: _State, *, table_names: bool = True) -> tuple[str, str | None] | None:
    for pattern in (_PATH_OPTION, _DELTA_RELATION):
        m = pattern.search(args)
        if m:
            uri = to_uri(m.group(1).strip(), default_scheme=state.default_fs)
            if uri:
                return uri, None
    m = _DELTA_PATH_ID.search(args)
    if m:
        uri = to_uri(m.group(1), default_scheme=state.default_fs)
        if uri:
            return uri, None
    m = _DELTA_TABLE_V2.search(args)
    if m:
        for part in m.group(1).split(","):
            uri = to_uri(part.strip().rstrip(")"), default_scheme=state.default_fs)
            if uri:
                return uri, None
    if not table_names:
        return None
    for part in args.split(", "):
        part = part.strip()
        if _TABLE_ID.match(part) and not part.startswith(("org.", "io.", "com.", "scala.")):
            table = part.replace("`", "")
            return table, table
    return None


def _emit(state: _State, source: ParsedSource) -> None:
    groups: dict[int, list[_Execution]] = {}
    for ex in state.executions.values():
        groups.setdefault(ex.root, []).append(ex)
    unfinished = 0
    for root_id in sorted(groups):
        members = sorted(groups[root_id], key=lambda e: e.id)
        root = state.executions.get(root_id) or members[0]
        when = root.time or next((e.time for e in members if e.time), None)
        if when is None:
            continue
        if not any(e.writes for e in members) and root.description.startswith(_DELTA_INTERNAL):
            continue  # Delta's own snapshot/log-replay work, e.g. before a MERGE or DELETE
        if not root.ended:
            unfinished += 1
        success = root.ended and root.error is None and all(e.error is None for e in members)
        writes: list[tuple[str, str | None]] = list(dict.fromkeys(w for e in members for w in e.writes))
        written = {w for w, _ in writes}
        reads = [r for r in dict.fromkeys(r for e in members for r in e.reads)
                 if not any(r == w or r.startswith(w.rstrip("/") + "/") for w in written)]
        run_id = state.app_id
        for uri in reads:
            source.add(AccessEvent(time=when, kind="read", uri=uri, actor=state.user, job=state.app_name,
                                   source=SOURCE, run_id=run_id, success=success))
        for uri, table in writes:
            source.add(AccessEvent(time=when, kind="write", uri=uri, actor=state.user, job=state.app_name,
                                   source=SOURCE, run_id=run_id, inputs=tuple(reads), success=success, table=table))
    if unfinished:
        source.notes.append(f"{unfinished} SQL executions without an end event (counted as not successful)")

"""Read usage sources: files and directories of lineage events and access/audit logs, the format
detected per file from its content (:func:`detect_format`), and everything gathered into one
:class:`UsageData`.

* A directory is walked recursively (sorted, hidden entries skipped). A Spark 4 rolling event-log
  directory ``eventlog_v2_<appId>`` is one source (``appstatus_*`` files are markers); a
  ``_delta_log`` directory is the Delta history of its table.
* gzip-compressed files (CloudTrail delivers ``.json.gz``) are read transparently; zstd Spark event
  logs through pyarrow.
* Bad input never raises: malformed lines are counted (``SourceCoverage.bad_lines``) and skipped; a
  missing, unreadable, binary or unrecognised file becomes a warning.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rotscan.models import ScanWarning
from rotscan.usage import (
    audit_export,
    cloudtrail,
    delta_history,
    hdfs_audit,
    openlineage,
    s3_access,
    spark_eventlog,
)
from rotscan.usage.events import AccessEvent, ParsedSource, SourceCoverage

HEAD_BYTES = 8192
GZIP_MAGIC = b"\x1f\x8b"
_SKIP_NAMES = ("_SUCCESS", ".DS_Store")
_SKIP_SUFFIXES = (".crc",)


@dataclass(frozen=True)
class UsageData:
    events: tuple[AccessEvent, ...] = ()
    coverage: tuple[SourceCoverage, ...] = ()
    warnings: tuple[ScanWarning, ...] = ()
    aliases: Mapping[str, str] = field(default_factory=dict)  # table name -> canonical URI


def _text_head(head: bytes) -> str | None:
    """The head as text, or ``None`` when it looks binary."""
    if not head:
        return ""
    if b"\x00" in head:
        return None
    text = head.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    return None if bad > max(4, len(text) // 50) else text


def _inflate_head(head: bytes) -> bytes:
    try:
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, HEAD_BYTES)
    except zlib.error:
        return b""


def detect_format(path: Path, head: bytes) -> str | None:
    """The usage-source kind of a file from its first bytes (``head``), or ``None``.

    Kinds: ``openlineage``, ``spark_eventlog``, ``s3_access_log``, ``cloudtrail``, ``hdfs_audit``,
    ``delta_history``, ``audit_export``. The content decides; the name only helps for zstd/lz4/
    snappy event logs and for the commit files of a ``_delta_log``.
    """
    if head.startswith(GZIP_MAGIC):
        inner = _inflate_head(head)
        return detect_format(path.with_suffix(""), inner) if inner else None
    if head.startswith(audit_export.PARQUET_MAGIC):
        return "audit_export"
    if head.startswith(spark_eventlog.ZSTD_MAGIC):
        return "spark_eventlog" if re.match(r"events_\d+_|.*\.zstd?$", path.name) or _zstd_eventlog(path) else None
    if re.match(r"events_\d+_.*\.(lz4|snappy|lzf)$", path.name) or path.suffix in (".lz4", ".snappy", ".lzf"):
        return "spark_eventlog" if path.name.startswith(("events_", "app-", "local-", "application_")) else None
    text = _text_head(head)
    if text is None:
        return None
    return _detect_text(path, text)


def _zstd_eventlog(path: Path) -> bool:
    try:
        for line in spark_eventlog.iter_lines(path, "zstd", chunk_size=HEAD_BYTES):
            return line.startswith('{"Event":')
    except (OSError, ValueError):
        return False
    return False


def _detect_text(path: Path, text: str) -> str | None:
    stripped = text.lstrip("\ufeff \t\r\n")
    first = stripped.split("\n", 1)[0].strip()
    if not stripped:
        return None
    if first.startswith('{"Event":') or first.startswith('{"Event" :'):
        return "spark_eventlog"
    if stripped[0] in "[{":
        compact = re.sub(r"\s+", "", stripped[:HEAD_BYTES])
        if re.match(r'^\{"(commitInfo|add|remove|protocol|metaData|txn|cdc|domainMetadata|checkpointMetadata)"', compact):
            return "delta_history"
        if '"Records":[' in compact or ('"eventSource":"s3.amazonaws.com"' in compact and '"eventName"' in compact):
            return "cloudtrail"
        if '"eventVersion"' in compact and '"eventName"' in compact and '"awsRegion"' in compact:
            return "cloudtrail"
        if '"eventTime"' in compact and ('"run":' in compact or '"job":' in compact or '"producer"' in compact):
            return "openlineage"
        return None
    if s3_access.HEAD_PATTERN.match(first):
        return "s3_access_log"
    if hdfs_audit.HEAD_PATTERN.search(first) or hdfs_audit.HEAD_PATTERN.search(stripped[:HEAD_BYTES]):
        return "hdfs_audit"
    header = {h.strip().strip('"').lower() for h in re.split(r"[,\t]", first)}
    if len(header) >= 2 and ("event_time" in header or path.suffix.lower() in (".csv", ".tsv")):
        return "audit_export"
    return None


# --- reading ---------------------------------------------------------------------------------------

def _open_text(path: Path, compressed: bool) -> str:
    if compressed:
        with gzip.open(path, "rt", encoding="utf-8", errors="replace", newline="") as fh:
            return fh.read()
    with open(path, encoding="utf-8", errors="replace", newline="") as fh:
        return fh.read()


def _lines(path: Path, compressed: bool) -> Iterator[str]:
    opener = gzip.open if compressed else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as fh:  # type: ignore[operator]
        yield from fh


def _first_line_is_json(path: Path, compressed: bool) -> bool:
    for line in _lines(path, compressed):
        if line.strip():
            try:
                return isinstance(json.loads(line), dict)
            except ValueError:
                return False
    return False


def _parse_file(path: Path, kind: str, compressed: bool, column_mapping: Mapping[str, str] | None,
                hdfs_namenode: str | None) -> ParsedSource:
    p = str(path)
    if kind == "spark_eventlog":
        if compressed:
            return spark_eventlog.parse_spark_eventlog_lines(_lines(path, True), p)
        return spark_eventlog.read_spark_eventlog(path)
    if kind == "openlineage":
        if _first_line_is_json(path, compressed):  # JSON lines: streamed, however large
            return openlineage.parse_openlineage_lines(_lines(path, compressed), p)
        return openlineage.parse_openlineage_text(_open_text(path, compressed), p)
    if kind == "cloudtrail":
        return cloudtrail.parse_cloudtrail_text(_open_text(path, compressed), p)
    if kind == "s3_access_log":
        return s3_access.parse_s3_access_lines(_lines(path, compressed), p)
    if kind == "hdfs_audit":
        return hdfs_audit.parse_hdfs_audit_lines(_lines(path, compressed), p, hdfs_namenode=hdfs_namenode)
    if kind == "delta_history":
        return delta_history.read_delta_history(path)
    if kind == "audit_export":
        if compressed:
            return audit_export.read_audit_export(path, column_mapping=column_mapping, text=_open_text(path, True))
        return audit_export.read_audit_export(path, column_mapping=column_mapping)
    raise ValueError(kind)


@dataclass
class _Collector:
    column_mapping: Mapping[str, str] | None
    hdfs_namenode: str | None
    sources: list[ParsedSource] = field(default_factory=list)
    warnings: list[ScanWarning] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)

    def warn(self, path: Path | str, message: str, code: str) -> None:
        self.warnings.append(ScanWarning(uri=str(path), message=message, code=code))

    def run(self, path: Path, what: str, parse: object, *, explicit: bool = True) -> None:
        key = os.path.realpath(path)
        if key in self.seen:
            return
        self.seen.add(key)
        try:
            result = parse()  # type: ignore[operator]
        except Exception as exc:  # the last line of defence: a parser bug must not stop a scan
            self.warn(path, f"could not read {what} {path}: {type(exc).__name__}: {exc}", "usage_unreadable")
            return
        if result.recognised:
            self.sources.append(result)
        else:  # a data file met while walking a directory is not worth a warning; a corrupt one is
            self.warnings += [w for w in result.warnings if explicit or w.code != "usage_unknown_format"]

    def file(self, path: Path, *, explicit: bool) -> None:
        name = path.name
        if name.startswith("appstatus_") or name in _SKIP_NAMES or name.endswith(_SKIP_SUFFIXES):
            return
        try:
            with open(path, "rb") as fh:
                head = fh.read(HEAD_BYTES)
        except OSError as exc:
            self.warn(path, f"cannot read usage source {path}: {exc}", "usage_unreadable")
            return
        if not head:
            if explicit:
                self.warn(path, f"empty usage source {path}", "usage_empty")
            return
        kind = detect_format(path, head)
        if kind is None:
            binary = _text_head(_inflate_head(head) if head.startswith(GZIP_MAGIC) else head) is None
            self.warn(path, f"{'binary file' if binary else 'unrecognised format'}: {path} is no known "
                      "lineage/access/audit log", "usage_unknown_format")
            return
        if kind == "delta_history" and path.parent.name == "_delta_log":
            self.delta_table(path.parent)
            return
        compressed = head.startswith(GZIP_MAGIC)
        self.run(path, kind, lambda: _parse_file(path, kind, compressed, self.column_mapping, self.hdfs_namenode),
                 explicit=explicit)

    def delta_table(self, log_dir: Path) -> None:
        self.run(log_dir, "Delta history", lambda: delta_history.read_delta_history(log_dir.parent))

    def directory(self, root: Path) -> None:
        if spark_eventlog.is_rolling_dir(root):
            self.run(root, "Spark event log", lambda: spark_eventlog.read_spark_eventlog(root))
            return
        if root.name == "_delta_log":
            self.delta_table(root)
            return
        try:
            children = sorted(root.iterdir())
        except OSError as exc:
            self.warn(root, f"cannot list usage directory {root}: {exc}", "usage_unreadable")
            return
        for child in children:
            if child.name.startswith("."):
                continue
            try:
                if child.is_symlink():
                    self.warn(child, f"symlink not followed: {child}", "symlink")
                elif child.is_dir():
                    self.directory(child)
                elif child.is_file():
                    self.file(child, explicit=False)
            except OSError as exc:
                self.warn(child, f"cannot read {child}: {exc}", "usage_unreadable")


def read_usage(paths: Sequence[str], *, column_mapping: Mapping[str, str] | None = None,
               hdfs_namenode: str | None = None) -> UsageData:
    """Read every usage source under ``paths`` (files or directories; local paths or ``file:`` URIs).

    ``column_mapping`` maps rotscan's keys (time, path, kind, actor, job, table, run_id) to the
    columns of a generic CSV/Parquet audit export; ``hdfs_namenode`` (``host:port``) qualifies the
    paths of HDFS audit logs.
    """
    collector = _Collector(column_mapping=column_mapping, hdfs_namenode=hdfs_namenode)
    for raw in paths:
        text = str(raw)
        local = Path(text[len("file:"):] if text.startswith("file:") and "://" not in text else
                     text[len("file://"):] if text.startswith("file://") else text)
        try:
            if local.is_dir():
                collector.directory(local)
            elif local.is_file():
                collector.file(local, explicit=True)
            else:
                collector.warn(text, f"usage source not found: {text}", "usage_missing")
        except OSError as exc:
            collector.warn(text, f"cannot read usage source {text}: {exc}", "usage_unreadable")
    events: list[AccessEvent] = []
    coverage: list[SourceCoverage] = []
    warnings: list[ScanWarning] = list(collector.warnings)
    aliases: dict[str, str] = {}
    for src in collector.sources:
        events += src.events
        coverage.append(src.coverage())
        warnings += src.warnings
        for name, uri in src.aliases.items():
            aliases.setdefault(name, uri)
    events.sort(key=lambda e: (e.time, e.source, e.kind, e.uri))
    return UsageData(events=tuple(events), coverage=tuple(coverage), warnings=tuple(warnings), aliases=aliases)


def usage_summary(data: UsageData) -> str:
    """One line per source (for logs and the CLI)."""
    from rotscan.models import iso

    return "\n".join(f"{c.kind:<15} {c.events:>8} events {c.bad_lines:>6} bad  {iso(c.start)} .. {iso(c.end)}  {c.path}"
                     + (f"  ({'; '.join(c.notes)})" if c.notes else "") for c in data.coverage)



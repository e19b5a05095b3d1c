"""Telling file formats apart: by name first, by magic bytes when the name says nothing, and a
text/binary sniff for the formats Spark would otherwise happily read as garbage."""

from __future__ import annotations

import re

COMPRESSION_SUFFIXES = (".gz", ".bz2", ".zst", ".zstd", ".lz4", ".snappy", ".deflate", ".xz", ".br")

_EXT_FORMATS = {
    ".parquet": "parquet",
    ".parq": "parquet",
    ".pqt": "parquet",
    ".orc": "orc",
    ".avro": "avro",
    ".csv": "csv",
    ".tsv": "csv",
    ".psv": "csv",
    ".json": "json",
    ".jsonl": "json",
    ".ndjson": "json",
    ".txt": "text",
    ".log": "text",
}

TEXT_FORMATS = frozenset({"csv", "json", "text"})
COLUMNAR_FORMATS = frozenset({"parquet", "orc", "avro"})
DATA_FORMATS = TEXT_FORMATS | COLUMNAR_FORMATS

# Spark/Hadoop/Hive/Presto output names: part-00000-<uuid>-c000.snappy.parquet, part-r-00000,
# 000000_0 (Hive), 20261126_101010_00001_abcde_<uuid> (Trino), <uuid>.parquet, attempt outputs.
_PART_FILE = re.compile(
    r"^(part[-_]|\d{6}_\d+(_copy_\d+)?$|\d{8}_\d{6}_\d{5}_|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|"
    r"[0-9a-f]{32})",
    re.IGNORECASE,
)

MARKER_FILES = frozenset({"_SUCCESS", "_metadata", "_common_metadata", ".keep", ".gitkeep", "_FAILURE"})
_MARKER_PREFIXES = ("_committed_", "_started_", "_SUCCESS")


def strip_compression(name: str) -> tuple[str, str | None]:
    lower = name.lower()
    for suffix in COMPRESSION_SUFFIXES:
        if lower.endswith(suffix):
            return name[: -len(suffix)], suffix[1:]
    return name, None


def format_from_name(name: str) -> str | None:
    """``part-0.snappy.parquet`` -> parquet, ``x.csv.gz`` -> csv; None when the name does not say."""
    base, _ = strip_compression(name)
    lower = base.lower()
    dot = lower.rfind(".")
    if dot <= 0:
        return None
    return _EXT_FORMATS.get(lower[dot:])


def format_from_magic(head: bytes) -> str | None:
    if head[:4] == b"PAR1":
        return "parquet"
    if head[:3] == b"ORC":
        return "orc"
    if head[:4] == b"Obj\x01":
        return "avro"
    return None


def looks_binary(head: bytes) -> bool:
    """True when the bytes cannot be the start of a text file (NUL bytes, not UTF-8/Latin text,
    or a known binary magic). Compressed text (gzip, zstd, bz2) is binary here; callers sniff
    compressed files only after naming them by their suffix."""
    if not head:
        return False
    if format_from_magic(head) is not None:
        return True
    if b"\x00" in head:
        return True
    try:
        head.decode("utf-8")
        return False
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the sniff boundary is still text.
        if exc.start >= len(head) - 3:
            return False
    # Legacy single-byte encodings: text when control characters are rare.
    controls = sum(1 for b in head if b < 9 or 13 < b < 32)
    return controls / len(head) > 0.01


def is_part_file(name: str) -> bool:
    return bool(_PART_FILE.match(name))


def is_marker(name: str) -> bool:
    return name in MARKER_FILES or name.startswith(_MARKER_PREFIXES)


def is_crc(name: str) -> bool:
    """Hadoop checksum sidecar: ``.part-0.parquet.crc`` (hidden, Hadoop ChecksumFileSystem)."""
    return name.startswith(".") and name.endswith(".crc") and len(name) > 5


def crc_data_name(name: str) -> str:
    return name[1:-4]


PARTITION_DIR = re.compile(r"^([^=/]+)=(.*)$")

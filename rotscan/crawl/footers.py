"""Row counts and schemas from file metadata, without reading the data: Parquet and ORC footers
(pyarrow) and Avro container block headers (a tiny reader of the block counts)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import BinaryIO

from rotscan.models import Column


class CorruptFileError(Exception):
    """The file's metadata cannot be read: truncated, not of the format it claims, or damaged."""


@dataclass(frozen=True)
class FileMeta:
    rows: int
    schema: tuple[Column, ...]
    # Per column: True when the footer statistics prove every value equal (or null); None unknown.
    constant: dict[str, bool | None] | None = None


def _arrow_columns(schema: object) -> tuple[Column, ...]:
    return tuple(Column(f.name, str(f.type)) for f in schema)  # type: ignore[attr-defined]


def parquet_meta(fh: BinaryIO) -> FileMeta:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(fh)
        md = pf.metadata
        schema = pf.schema_arrow
    except Exception as exc:  # pyarrow raises ArrowInvalid/OSError for truncated or foreign files
        raise CorruptFileError(f"not a readable Parquet file: {str(exc).splitlines()[0]}") from exc
    return FileMeta(rows=int(md.num_rows), schema=_arrow_columns(schema))


def orc_meta(fh: BinaryIO) -> FileMeta:
    import pyarrow.orc as orc

    try:
        f = orc.ORCFile(fh)
        return FileMeta(rows=int(f.nrows), schema=_arrow_columns(f.schema))
    except Exception as exc:
        raise CorruptFileError(f"not a readable ORC file: {str(exc).splitlines()[0]}") from exc


def _read_long(fh: BinaryIO) -> int:
    shift = 0
    acc = 0
    while True:
        b = fh.read(1)
        if not b:
            raise CorruptFileError("truncated Avro file")
        byte = b[0]
        acc |= (byte & 0x7F) << shift
        if not byte & 0x80:
            break
        shift += 7
        if shift > 63:
            raise CorruptFileError("bad Avro varint")
    return (acc >> 1) ^ -(acc & 1)


def _read_bytes(fh: BinaryIO) -> bytes:
    n = _read_long(fh)
    if n < 0:
        raise CorruptFileError("negative Avro length")
    data = fh.read(n)
    if len(data) != n:
        raise CorruptFileError("truncated Avro file")
    return data


def avro_meta(fh: BinaryIO) -> FileMeta:
    """Count records by walking the container's block headers (count, size, skip, sync)."""
    if fh.read(4) != b"Obj\x01":
        raise CorruptFileError("not an Avro container file (bad magic)")
    meta: dict[str, bytes] = {}
    while True:
        n = _read_long(fh)
        if n == 0:
            break
        if n < 0:
            _read_long(fh)  # block byte size
            n = -n
        for _ in range(n):
            key = _read_bytes(fh).decode("utf-8", "replace")
            meta[key] = _read_bytes(fh)
    sync = fh.read(16)
    if len(sync) != 16:
        raise CorruptFileError("truncated Avro header")
    rows = 0
    while True:
        first = fh.read(1)
        if not first:
            break
        fh.seek(-1, 1)
        count = _read_long(fh)
        size = _read_long(fh)
        if count < 0 or size < 0:
            raise CorruptFileError("bad Avro block header")
        fh.seek(size, 1)
        if fh.read(16) != sync:
            raise CorruptFileError("Avro sync marker mismatch (truncated or corrupt block)")
        rows += count
    columns: tuple[Column, ...] = ()
    try:
        schema = json.loads(meta.get("avro.schema", b"{}"))
        if isinstance(schema, dict) and schema.get("type") == "record":
            columns = tuple(Column(f["name"], json.dumps(f["type"]) if not isinstance(f["type"], str)
                                   else f["type"]) for f in schema.get("fields", []))
    except (ValueError, KeyError, TypeError):
        pass
    return FileMeta(rows=rows, schema=columns)


READERS = {"parquet": parquet_meta, "orc": orc_meta, "avro": avro_meta}

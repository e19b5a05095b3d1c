"""Test lakes built from real files (pyarrow writes the Parquet/ORC; Spark tests add Delta)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.orc as orc
import pyarrow.parquet as pq

DAY = 86400.0


def age(path: Path, days: float) -> None:
    t = time.time() - days * DAY
    for p in [path, *path.rglob("*")] if path.is_dir() else [path]:
        os.utime(p, (t, t), follow_symlinks=False)


def table(n: int, *, offset: int = 0) -> pa.Table:
    return pa.table({
        "id": pa.array(range(offset, offset + n), pa.int64()),
        "name": [f"name-{i}" for i in range(offset, offset + n)],
        "amount": [i * 1.5 for i in range(offset, offset + n)],
    })


def _zigzag(n: int) -> bytes:
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def write_avro(path: Path, values: list[int]) -> None:
    """A minimal Avro object container (null codec) of records {"x": long}, per the Avro spec."""
    schema = json.dumps({"type": "record", "name": "r", "fields": [{"name": "x", "type": "long"}]}).encode()
    sync = b"0123456789abcdef"
    meta = _zigzag(2)
    for k, v in ((b"avro.schema", schema), (b"avro.codec", b"null")):
        meta += _zigzag(len(k)) + k + _zigzag(len(v)) + v
    meta += _zigzag(0)
    body = b"".join(_zigzag(v) for v in values)
    block = _zigzag(len(values)) + _zigzag(len(body)) + body + sync
    path.write_bytes(b"Obj\x01" + meta + sync + block)


def build_trivial_lake(root: Path) -> dict[str, str]:
    """A lake with every trivial kind (path -> expected kind) plus negatives and bad input.

    Returns the planted items. Negatives: ``reference/status_codes.csv`` (tiny lookup table outside
    scratch), ``warehouse/orders`` (legit table beside debris), ``reference/one_row.parquet`` (a
    single-row config table), ``warehouse/events`` (Hive-partitioned), ``exports/*.csv`` (a folder of
    unrelated exports).
    """
    planted: dict[str, str] = {}
    (root / "warehouse/orders").mkdir(parents=True)
    pq.write_table(table(300), root / "warehouse/orders/part-00000-1b2c.snappy.parquet")
    pq.write_table(table(300, offset=300), root / "warehouse/orders/part-00001-1b2c.snappy.parquet")
    (root / "warehouse/orders/_SUCCESS").write_bytes(b"")
    debris = root / "warehouse/orders/_temporary/0/_temporary/attempt_202601010000_0001_m_000001_1"
    debris.mkdir(parents=True)
    pq.write_table(table(10), debris / "part-00001.parquet")
    age(root / "warehouse/orders/_temporary", 30)
    planted["warehouse/orders/_temporary"] = "write_debris"

    for day in ("2026-01-01", "2026-01-02"):
        d = root / f"warehouse/events/dt={day}/region=eu"
        d.mkdir(parents=True)
        pq.write_table(table(50), d / "part-00000.parquet")
    (root / "warehouse/events/dt=2026-01-02/region=eu/part-00001.parquet").write_bytes(b"")
    planted["warehouse/events/dt=2026-01-02/region=eu/part-00001.parquet"] = "zero_byte"

    (root / "warehouse/empty_table").mkdir(parents=True)
    pq.write_table(table(0), root / "warehouse/empty_table/part-00000.parquet")
    planted["warehouse/empty_table"] = "empty"

    (root / "warehouse/orc_table").mkdir(parents=True)
    # rows of its own: 40 rows all in warehouse/orders would be a small subset (review) since 0.1.0
    orc.write_table(table(40, offset=5000), str(root / "warehouse/orc_table/part-00000.orc"))
    (root / "warehouse/avro_table").mkdir(parents=True)
    write_avro(root / "warehouse/avro_table/part-00000.avro", list(range(25)))

    (root / "reference").mkdir()
    (root / "reference/status_codes.csv").write_text("code,label\n200,OK\n404,Not found\n500,Error\n")
    pq.write_table(pa.table({"currency": ["EUR"], "vat": [0.19]}), root / "reference/one_row.parquet")

    (root / "exports").mkdir()
    for i in range(3):
        (root / f"exports/export_{i}.csv").write_text("a,b\n" + "".join(f"{j},{j * i}\n" for j in range(20)))
    (root / "exports/header_only.csv").write_text("refund_id,amount\n")
    planted["exports/header_only.csv"] = "empty"
    (root / "exports/blank.csv").write_bytes(b"")
    planted["exports/blank.csv"] = "zero_byte"
    (root / "exports/.DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1" + b"\x00" * 64)
    planted["exports/.DS_Store"] = "junk_file"
    (root / "exports/._export_0.csv").write_bytes(b"\x00\x05\x16\x07" + b"\x00" * 32)
    planted["exports/._export_0.csv"] = "junk_file"
    (root / "exports/Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0" + b"\x00" * 32)
    planted["exports/Thumbs.db"] = "junk_file"
    (root / "notebooks/.ipynb_checkpoints").mkdir(parents=True)
    (root / "notebooks/.ipynb_checkpoints/a-checkpoint.ipynb").write_text("{}")
    planted["notebooks/.ipynb_checkpoints"] = "junk_file"
    (root / "warehouse/orders/.part-00009-gone.snappy.parquet.crc").write_bytes(b"crc\x00")
    planted["warehouse/orders/.part-00009-gone.snappy.parquet.crc"] = "junk_file"
    # (legit checksums beside their files come from the Spark-written tables of the Spark tests: a
    # fake one here would make Hadoop's checksummed reader reject the real file)

    staging = root / "staging/nightly_load/.spark-staging-7d1e"
    staging.mkdir(parents=True)
    pq.write_table(table(5), staging / "part-00000.parquet")
    age(root / "staging/nightly_load", 60)
    planted["staging/nightly_load"] = "write_debris"

    (root / "tmp/scratch_sample").mkdir(parents=True)
    pq.write_table(table(8), root / "tmp/scratch_sample/part-00000.parquet")
    planted["tmp/scratch_sample"] = "tiny"

    # bad input
    (root / "exports/not_really.csv").write_bytes(bytes(range(256)) * 8)
    planted["exports/not_really.csv"] = "corrupt_file"
    good = (root / "warehouse/orders/part-00000-1b2c.snappy.parquet").read_bytes()
    (root / "warehouse/orders/part-00002-1b2c.snappy.parquet").write_bytes(good[: len(good) // 2])
    planted["warehouse/orders/part-00002-1b2c.snappy.parquet"] = "corrupt_file"
    os.symlink("/nonexistent/target", root / "warehouse/dangling_link")
    os.symlink("/etc", root / "warehouse/outside_link")
    os.symlink(root / "warehouse", root / "warehouse/loop_link")
    return planted


CLEAN = ["reference/status_codes.csv", "reference/one_row.parquet", "warehouse/orders", "warehouse/events",
         "exports/export_0.csv", "exports/export_1.csv", "exports/export_2.csv", "warehouse/orc_table",
         "warehouse/avro_table"]

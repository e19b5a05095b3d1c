"""Flat driver state (compact ``read_paths``) and the executor-side storage, without a JVM."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from rotscan.config import load_config
from rotscan.crawl.discover import Crawler, CrawlRules, spark_hides
from rotscan.crawl.inventory import Inventory, InventoryEntry
from rotscan.storage.arrow import ArrowStorage, StorageSpec, s3_spec_from_hadoop
from rotscan.storage.local import LocalStorage
from rotscan.uri import parse

from .lakes import build_trivial_lake, table

METADATA_ONLY = load_config(overrides={"scan": {"profile": False}})


def inventory(root: Path, storage: object | None = None) -> dict[str, InventoryEntry]:
    st = storage or LocalStorage()
    inv = Inventory(st, small_file_bytes=1 << 20, sniff_bytes=4096)  # type: ignore[arg-type]
    base = parse(str(root))
    out: dict[str, InventoryEntry] = {}
    crawler = Crawler(st, CrawlRules.from_config(METADATA_ONLY),  # type: ignore[arg-type]
                      lambda c: out.setdefault(c.uri.relative_to(base), inv.build(c)))
    crawler.crawl(base)
    return out


def part_table(d: Path, n: int = 2) -> None:
    d.mkdir(parents=True)
    for i in range(n):
        pq.write_table(table(10, offset=10 * i), d / f"part-0000{i}-abc.snappy.parquet")
    (d / "_SUCCESS").write_bytes(b"")
    (d / ".part-00000-abc.snappy.parquet.crc").write_bytes(b"crc")


def test_spark_hides_names_like_spark() -> None:
    assert spark_hides("_SUCCESS") and spark_hides(".x.crc") and spark_hides("_temporary")
    assert spark_hides("part-0.parquet._COPYING_")
    assert not spark_hides("part-0.parquet") and not spark_hides("Thumbs.db")
    assert not spark_hides("_col=1")  # a partition directory named with "_"
    assert not spark_hides("_metadata") and not spark_hides("_common_metadata")


def test_complete_tables_are_named_by_their_directory(tmp_path: Path) -> None:
    part_table(tmp_path / "clean")
    for day in ("2026-01-01", "2026-01-02"):
        part_table(tmp_path / f"events/dt={day}")
    got = inventory(tmp_path)
    assert got["clean"].read_paths == [f"file:{tmp_path}/clean"]
    assert got["clean"].base_path is None
    assert got["events"].read_paths == [f"file:{tmp_path}/events"]
    assert got["events"].base_path == f"file:{tmp_path}/events"
    assert got["events"].dataset.files == 4


@pytest.mark.parametrize("spoil", ["loose_file", "subdir", "junk_file", "symlink", "zero_byte", "corrupt",
                                   "partition_subdir", "root_file_in_hive", "excluded"])
def test_tables_spark_would_read_differently_keep_their_file_list(tmp_path: Path, spoil: str) -> None:
    """Whenever Spark, given the directory, would read a file the crawler set aside (or miss one it
    kept), the healthy files stay listed one by one."""
    part_table(tmp_path / "t", 3)
    part_table(tmp_path / "h/dt=1")
    part_table(tmp_path / "h/dt=2")
    target = "h" if spoil in ("partition_subdir", "root_file_in_hive") else "t"
    config = METADATA_ONLY
    if spoil == "loose_file":
        (tmp_path / "t/_SUCCESS").unlink()  # with the marker every file of the directory is the table's
        (tmp_path / "t/notes.txt").write_text("hello")
    elif spoil == "subdir":
        part_table(tmp_path / "t/nested")
    elif spoil == "junk_file":
        (tmp_path / "t/Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0" + b"\x00" * 32)
    elif spoil == "symlink":
        os.symlink(tmp_path / "t/part-00000-abc.snappy.parquet", tmp_path / "t/part-00009-abc.snappy.parquet")
    elif spoil == "zero_byte":
        (tmp_path / "t/part-00005-abc.snappy.parquet").write_bytes(b"")
    elif spoil == "corrupt":
        (tmp_path / "t/part-00005-abc.snappy.parquet").write_bytes(b"PAR1 not really")
    elif spoil == "partition_subdir":
        part_table(tmp_path / "h/dt=1/extra")
    elif spoil == "root_file_in_hive":
        pq.write_table(table(3), tmp_path / "h/part-00009-abc.snappy.parquet")
    elif spoil == "excluded":
        config = load_config(overrides={"scan": {"profile": False, "exclude": ["t/part-00002-*"]}})
    st = LocalStorage()
    inv = Inventory(st, small_file_bytes=1 << 20, sniff_bytes=4096)
    got: dict[str, InventoryEntry] = {}
    base = parse(str(tmp_path))
    Crawler(st, CrawlRules.from_config(config),
            lambda c: got.setdefault(c.uri.relative_to(base), inv.build(c))).crawl(base)
    entry = got[target]
    assert entry.read_paths != [f"file:{tmp_path}/{target}"]
    assert entry.read_paths and all(p.startswith(f"file:{tmp_path}/{target}/") for p in entry.read_paths)
    assert all(p.endswith(".parquet") for p in entry.read_paths)
    healthy = entry.dataset.files - entry.dataset.zero_byte_files - len(
        [i for i in entry.issues if i.kind == "corrupt_file"])
    assert len(entry.read_paths) == healthy


def test_trivial_lake_keeps_exact_lists_only_where_needed(tmp_path: Path) -> None:
    build_trivial_lake(tmp_path)
    got = inventory(tmp_path)
    # orders holds a truncated file, events a zero-byte one: their healthy files are listed
    assert len(got["warehouse/orders"].read_paths) == 2
    assert len(got["warehouse/events"].read_paths) == 2
    # clean single-file tables name their directory
    assert got["warehouse/orc_table"].read_paths == [f"file:{tmp_path}/warehouse/orc_table"]
    assert got["tmp/scratch_sample"].read_paths == [f"file:{tmp_path}/tmp/scratch_sample"]
    # standalone files are one path anyway
    assert got["reference/one_row.parquet"].read_paths == [f"file:{tmp_path}/reference/one_row.parquet"]


def test_arrow_storage_matches_local_storage(tmp_path: Path) -> None:
    """The executor-side storage lists, stats and reads like the driver's (symlink-free tree)."""
    build_trivial_lake(tmp_path)
    for link in ("dangling_link", "outside_link", "loop_link"):
        os.unlink(tmp_path / "warehouse" / link)
    arrow = ArrowStorage(StorageSpec("file"))
    local = LocalStorage()
    root = parse(str(tmp_path))
    stack = [root]
    seen = 0
    while stack:
        d = stack.pop()
        a, b = arrow.list_dir(d), local.list_dir(d)
        assert [(e.uri, e.is_dir, e.size) for e in a] == [(e.uri, e.is_dir, e.size) for e in b]
        for ea, eb in zip(a, b, strict=True):
            if not ea.is_dir:
                assert ea.mtime == pytest.approx(eb.mtime, abs=1e-3)
                assert arrow.read_head(ea.uri, 64) == local.read_head(eb.uri, 64)
                seen += 1
        stack.extend(e.uri for e in a if e.is_dir)
    assert seen > 20
    assert arrow.stat(root.child("warehouse")).is_dir
    with pytest.raises(Exception) as exc:
        arrow.stat(root.child("no_such_thing"))
    assert type(exc.value).__name__ == "VanishedError"
    # the inventory through pyarrow equals the one through os
    assert {k: (v.dataset, v.read_paths) for k, v in inventory(tmp_path, arrow).items()} == {
        k: (v.dataset, v.read_paths) for k, v in inventory(tmp_path).items()}


def test_s3_spec_from_hadoop_settings() -> None:
    conf = {"fs.s3a.endpoint": "http://127.0.0.1:9000", "fs.s3a.path.style.access": "true",
            "fs.s3a.access.key": "AK", "fs.s3a.secret.key": "SK",
            "fs.s3a.bucket.other.endpoint": "minio.local:9001", "fs.s3a.connection.ssl.enabled": "false"}
    spec = s3_spec_from_hadoop(conf.get, "lake")
    assert spec.options == {"scheme": "http", "endpoint_override": "127.0.0.1:9000", "region": "us-east-1"}
    assert spec.secrets == {"access_key": "AK", "secret_key": "SK"}
    assert "SK" not in repr(spec)
    other = s3_spec_from_hadoop(conf.get, "other")
    assert other.options["endpoint_override"] == "minio.local:9001" and other.options["scheme"] == "http"
    # nothing set: pyarrow's own defaults and the AWS provider chain
    assert s3_spec_from_hadoop({}.get, "lake") == StorageSpec("s3a")
    assert s3_spec_from_hadoop({}.get, "lake").secrets == {}

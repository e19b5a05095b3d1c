"""The crawler over Hadoop's FileSystem (the path s3a/hdfs roots take) sees what the local one sees."""

from __future__ import annotations

from pathlib import Path

import pytest

from rotscan.config import load_config
from rotscan.crawl.discover import Crawler, CrawlRules
from rotscan.crawl.inventory import Inventory
from rotscan.errors import VanishedError
from rotscan.spark.hadoop_fs import HadoopStorage
from rotscan.storage.local import LocalStorage
from rotscan.uri import parse

from ..lakes import build_trivial_lake

pytestmark = pytest.mark.spark


def inventory(storage, root: Path):  # type: ignore[no-untyped-def]
    rules = CrawlRules.from_config(load_config())
    inv = Inventory(storage, small_file_bytes=1 << 20, sniff_bytes=4096)
    out = {}
    crawler = Crawler(storage, rules, lambda c: out.setdefault(str(c.uri), inv.build(c).dataset))
    crawler.crawl(parse(str(root)))
    items = {(str(i.uri), i.kind, i.bytes) for i in crawler.items}
    return out, items


def test_hadoop_and_local_storage_agree(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    build_trivial_lake(tmp_path)
    for link in ("dangling_link", "outside_link", "loop_link"):
        (tmp_path / "warehouse" / link).unlink()  # symlink semantics differ by design; compared elsewhere
    local, local_items = inventory(LocalStorage(), tmp_path)
    hadoop, hadoop_items = inventory(HadoopStorage(spark, "file"), tmp_path)
    assert local_items == hadoop_items
    assert set(local) == set(hadoop)
    for uri, ds in local.items():
        h = hadoop[uri]
        assert (h.format, h.layout, h.files, h.bytes, h.rows, h.schema) == \
            (ds.format, ds.layout, ds.files, ds.bytes, ds.rows, ds.schema), uri


def test_hadoop_storage_reads_ranges_and_reports_missing(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = bytes(range(256)) * 4096
    (tmp_path / "blob.bin").write_bytes(data)
    storage = HadoopStorage(spark, "file")
    with storage.open_read(parse(str(tmp_path / "blob.bin"))) as fh:
        fh.seek(-100, 2)
        assert fh.read() == data[-100:]
        fh.seek(1000)
        assert fh.read(5000) == data[1000:6000]
    with pytest.raises(VanishedError):
        storage.list_dir(parse(str(tmp_path / "missing")))

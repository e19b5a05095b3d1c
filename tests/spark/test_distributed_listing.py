"""Distributed listing: executors crawl sub-trees, the driver stitches per-dataset results — and the
outcome equals the driver's own crawl. Also: a table read by its directory (compact ``read_paths``)
profiles exactly like the same table read file by file."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from rotscan.config import load_config
from rotscan.crawl.discover import Crawler, CrawlRules
from rotscan.crawl.inventory import Inventory, InventoryEntry
from rotscan.runtime import Runtime
from rotscan.scan import run_scan
from rotscan.spark.listing import InventorySettings, distributed_crawl
from rotscan.storage.arrow import StorageSpec
from rotscan.storage.local import LocalStorage
from rotscan.uri import parse

from ..lakes import build_trivial_lake, table

pytestmark = pytest.mark.spark

AS_OF = datetime(2026, 6, 1, tzinfo=UTC)
CONFIG = load_config(overrides={"scan": {"profile": False}})


def parts(d: Path, n: int, rows: int = 10) -> None:
    d.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        pq.write_table(table(rows, offset=rows * i), d / f"part-0000{i}-abc.snappy.parquet")
    (d / "_SUCCESS").write_bytes(b"")


@pytest.fixture(scope="module")
def lake(spark, tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    """Delta, Hive-partitioned (written by Spark), part-files, standalone files, junk, zero-byte
    files, debris, debris-only directories at several depths, symlinks — spread over nested
    containers so the driver splits the tree at several levels."""
    from pyspark.sql import functions as F

    root = tmp_path_factory.mktemp("dlake")
    build_trivial_lake(root)
    spark.range(0, 60).write.format("delta").save(str(root / "warehouse/delta_t"))
    spark.range(0, 60).write.format("delta").mode("overwrite").save(str(root / "warehouse/delta_t"))
    spark.range(0, 40).withColumn("p", F.col("id") % 3).write.partitionBy("p").parquet(str(root / "marts/hive_t"))
    spark.range(0, 30).repartition(3).write.parquet(str(root / "marts/daily/spark_parts"))
    for a in range(3):
        for b in range(3):
            parts(root / f"domains/d{a}/s{b}/t", 2)
    (root / "domains/d1/s1/t/part-00009-abc.snappy.parquet").write_bytes(b"")  # zero-byte in a table
    (root / "domains/d2/Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0" + b"\x00" * 32)
    failed = root / "domains/d0/failed_run/_temporary/0"
    failed.mkdir(parents=True)
    pq.write_table(table(3), failed / "part-00000.parquet")  # a debris-only directory below a container
    (root / "jobs/old/_temporary").mkdir(parents=True)  # ... and one whose parent holds nothing else
    (root / "jobs/old/_temporary/x.parquet").write_bytes(b"PAR1")
    os.symlink(root / "domains/d0", root / "domains/link_to_d0")
    return root


def driver_listing(root: Path) -> tuple[list[InventoryEntry], list, list, int, int]:  # type: ignore[type-arg]
    storage = LocalStorage()
    inv = Inventory(storage, small_file_bytes=1 << 20, sniff_bytes=4096, as_of=AS_OF.timestamp())
    entries: list[InventoryEntry] = []
    crawler = Crawler(storage, CrawlRules.from_config(CONFIG), lambda c: entries.append(inv.build(c)))
    crawler.crawl(parse(str(root)))
    return entries, crawler.items, crawler.warnings, crawler.dirs_listed, crawler.files_seen


@pytest.mark.parametrize("subtrees", [1, 4, 1000])
def test_distributed_listing_equals_the_driver_crawl(spark, lake: Path, subtrees: int) -> None:  # type: ignore[no-untyped-def]
    entries, items, warnings, dirs, files = driver_listing(lake)
    out = distributed_crawl(spark, LocalStorage(), StorageSpec("file"), parse(str(lake)), CrawlRules.from_config(CONFIG),
                            InventorySettings(1 << 20, 4096, AS_OF.timestamp()), subtrees=subtrees)
    assert out.subtrees >= 1
    if subtrees == 1000:
        assert out.driver_dirs > 3  # the driver opened several levels before handing sub-trees out
    # the same datasets in the same order, every field equal (read paths, issues, warnings, fingerprints)
    assert [e.dataset.uri for e in out.entries] == [e.dataset.uri for e in entries]
    assert out.entries == entries
    assert out.items == items
    assert out.warnings == warnings
    assert (out.dirs_listed, out.files_seen) == (dirs, files)
    kinds = {i.kind for i in items}
    assert {"debris_only_dir", "write_debris", "junk_file", "orphan_crc"} <= kinds
    by_uri = {e.dataset.uri: e for e in entries}
    base = f"file:{lake}"
    assert by_uri[f"{base}/marts/hive_t"].read_paths == [f"{base}/marts/hive_t"]
    assert by_uri[f"{base}/domains/d0/s0/t"].read_paths == [f"{base}/domains/d0/s0/t"]
    assert len(by_uri[f"{base}/domains/d1/s1/t"].read_paths) == 2  # beside a zero-byte file: listed
    assert {w.code for w in warnings} >= {"symlink_skipped", "symlink_dangling"}


def test_scan_results_equal_in_both_listing_modes(spark, lake: Path) -> None:  # type: ignore[no-untyped-def]
    results = {}
    for mode in ("driver", "distributed"):
        cfg = load_config(overrides={"scan": {"profile": False, "listing": mode, "listing_subtrees": 3}})
        notes: list[str] = []
        ctx = Runtime(config=cfg, env={}, progress=notes.append, spark_factory=lambda _: spark)
        results[mode] = run_scan([str(lake)], ctx, as_of=AS_OF)
        assert any("executors" in n for n in notes) == (mode == "distributed"), notes
    a, b = results["driver"], results["distributed"]
    assert a.datasets == b.datasets
    assert a.findings == b.findings
    assert a.warnings == b.warnings
    assert not any(w.code == "listing_fallback" for w in b.warnings)


S3A_CHILD = r'''
import json, os, sys
from rotscan.config import load_config
from rotscan.crawl.discover import Crawler, CrawlRules
from rotscan.crawl.inventory import Inventory
from rotscan.spark.hadoop_fs import HadoopStorage
from rotscan.spark.listing import InventorySettings, distributed_crawl, storage_spec
from rotscan.spark.session import get_spark
from rotscan.uri import parse

cfg = load_config(sys.argv[1], overrides={"scan": {"profile": False}})
spark = get_spark(cfg, need_s3a=True, env=os.environ)
root = parse(sys.argv[2])
storage = HadoopStorage(spark, "s3a")
rules = CrawlRules.from_config(cfg)
inv = Inventory(storage, small_file_bytes=1 << 20, sniff_bytes=4096, as_of=1.79e9)
entries = []
crawler = Crawler(storage, rules, lambda c: entries.append(inv.build(c)))
crawler.crawl(root)
spec = storage_spec(spark, root)
out = distributed_crawl(spark, storage, spec, root, rules, InventorySettings(1 << 20, 4096, 1.79e9), subtrees=2)

def view(e):
    d = e.dataset
    return [d.uri, d.format, d.layout, d.files, d.bytes, d.rows, d.rows_source, str(d.modified_max),
            d.partition_columns, d.zero_byte_files, e.read_format, e.read_paths, e.base_path,
            [i.uri for i in e.issues], [w.code for w in e.warnings]]

print(json.dumps({"driver": [view(e) for e in entries], "distributed": [view(e) for e in out.entries],
                  "items": [[str(i.uri), i.kind, i.bytes, i.files] for i in crawler.items],
                  "items_distributed": [[str(i.uri), i.kind, i.bytes, i.files] for i in out.items],
                  "warnings": [[w.uri, w.code] for w in crawler.warnings],
                  "warnings_distributed": [[w.uri, w.code] for w in out.warnings],
                  "subtrees": out.subtrees, "spec_has_keys": bool(spec.secrets)}, default=str))
'''


def test_distributed_listing_on_s3a_equals_the_driver_crawl(tmp_path: Path) -> None:
    """An s3a lake on moto's S3 server: executors list it through pyarrow's S3 filesystem (endpoint,
    path-style access and keys from the driver's fs.s3a settings) and find what HadoopStorage finds."""
    import subprocess
    import sys

    from .test_s3a import BUCKET, LAKE, SECRET_KEY, child_env, moto_s3, parquet_bytes, write_config

    lake = dict(LAKE)
    for p in range(3):
        lake[f"lake/marts/hive_t/dt=2026-01-0{p + 1}/part-00000-h.snappy.parquet"] = parquet_bytes(table(20, offset=p))
    for d in range(3):
        lake[f"lake/domains/d{d}/t/part-00000-x.snappy.parquet"] = parquet_bytes(table(5, offset=d))
        lake[f"lake/domains/d{d}/t/_SUCCESS"] = b""
    lake["lake/domains/d1/t/part-00001-x.snappy.parquet"] = b""  # zero-byte beside a healthy file
    lake["lake/domains/d2/failed/_temporary/0/part-00000.parquet"] = parquet_bytes(table(2))
    with moto_s3(lake) as s3:
        config = write_config(tmp_path / "rotscan.toml", s3, keys_in_config=True)
        script = tmp_path / "child.py"
        script.write_text(S3A_CHILD)
        env = child_env(tmp_path, with_keys=False)
        env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[2]), env.get("PYTHONPATH", "")])
        done = subprocess.run([sys.executable, str(script), str(config), f"s3a://{BUCKET}/lake"],
                              env=env, cwd=tmp_path, capture_output=True,
                              text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    assert SECRET_KEY not in done.stdout + done.stderr
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["spec_has_keys"] and got["subtrees"] >= 2
    assert got["distributed"] == got["driver"]
    assert got["items_distributed"] == got["items"]
    assert got["warnings_distributed"] == got["warnings"]
    by_uri = {row[0]: row for row in got["driver"]}
    base = f"s3a://{BUCKET}/lake"
    assert by_uri[f"{base}/marts/hive_t"][11] == [f"{base}/marts/hive_t"]  # read by its directory
    assert by_uri[f"{base}/warehouse/orders_delta"][10] == "delta"
    assert len(by_uri[f"{base}/domains/d1/t"][11]) == 1  # the healthy file beside a zero-byte one
    assert [base + "/domains/d2/failed", "debris_only_dir"] in [row[:2] for row in got["items"]]


def test_a_table_read_by_its_directory_profiles_like_its_files(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from pyspark.sql import functions as F

    from rotscan.spark.profile import ProfileJob, profile, profile_many

    spark.range(0, 500).withColumn("k", F.col("id") % 4).write.partitionBy("k").parquet(str(tmp_path / "hive"))
    spark.range(0, 300).repartition(3).write.parquet(str(tmp_path / "flat"))
    (tmp_path / "csv").mkdir()
    for i in range(3):
        (tmp_path / f"csv/part-0000{i}.csv").write_text("a,b\n" + "".join(f"{j},{j * i}\n" for j in range(20)))
    (tmp_path / "csv/_SUCCESS").write_bytes(b"")
    storage = LocalStorage()
    inv = Inventory(storage, small_file_bytes=1 << 20, sniff_bytes=4096)
    got: dict[str, InventoryEntry] = {}
    base = parse(str(tmp_path))
    Crawler(storage, CrawlRules.from_config(CONFIG), lambda c: got.setdefault(c.uri.relative_to(base), inv.build(c))
            ).crawl(base)
    for name in ("hive", "flat", "csv"):
        e = got[name]
        assert e.read_paths == [f"file:{tmp_path}/{name}"], name
        files = [f"file:{p}" for p in sorted((tmp_path / name).rglob("*")) if p.is_file()
                 and not p.name.startswith(("_", "."))]
        assert len(files) == e.dataset.files
        by_dir = profile(spark, e.read_format or "", e.read_paths, e.base_path, columns=e.csv_header)
        by_file = profile(spark, e.read_format or "", files, e.base_path, columns=e.csv_header)
        assert by_dir == by_file, name
    # batched: small datasets read together by one reader and told apart by input_file_name
    one, two = tmp_path / "b1", tmp_path / "b2"
    parts(one, 2, rows=5)
    parts(two, 3, rows=5)
    jobs = [ProfileJob("parquet", [f"file:{d}"], None, 15, None, ("same",), files=n) for d, n in ((one, 2), (two, 3))]
    batched = profile_many(spark, jobs, k=64, sample_target=4096)
    singles = [profile(spark, "parquet", [f"file:{d}"], k=64, sample_target=4096, rows_estimate=15) for d in (one, two)]
    assert [p.rows for p in batched] == [10, 15]  # type: ignore[union-attr]
    assert [p.signature for p in batched] == [p.signature for p in singles]  # type: ignore[union-attr]

"""``small_files`` findings on a real local lake (metadata-only scans, no JVM): a directory of many
small Parquet files is flagged with its gain (files before → after) and action compact; a small
lookup table, a partitioned table with one file per partition, a table flagged by another rule
and a table holding junk are not; the evidence reads as words."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from rotscan.config import load_config
from rotscan.detect.small_files import SmallFileRules, detect_small_files
from rotscan.errors import ConfigError
from rotscan.models import Dataset
from rotscan.report.evidence import EvidenceContext, explain
from rotscan.runtime import Runtime
from rotscan.scan import run_scan

from .lakes import age, table


def _files(d: Path, n: int, rows: int = 10, offset: int = 0) -> None:
    d.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        pq.write_table(table(rows, offset=offset + i * rows), d / f"part-{i:05d}.parquet")


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("small") / "lake"
    _files(root / "events/streamed", 80)  # 80 small files -> 1
    for region in ("eu", "us"):
        _files(root / f"events/by_region/region={region}", 40, offset=10_000 if region == "eu" else 20_000)
    _files(root / "reference/countries", 12, offset=30_000)  # a small lookup table: too few files
    for day in range(70):  # one small file per partition: compaction cannot merge partitions
        _files(root / f"events/daily/day={day:03d}", 1, offset=40_000 + day * 10)
    _files(root / "raw/expired_small", 80, offset=50_000)  # flagged by a retention policy first
    _files(root / "events/with_junk", 80, offset=60_000)
    (root / "events/with_junk/.DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1" + b"\x00" * 16)
    age(root, 30)
    (root / "raw/expired_small").touch()
    age(root / "raw", 400)
    cfg = load_config(overrides={"scan": {"profile": False},
                                 "obsolete": {"retention": [{"glob": "raw/*", "max_age_days": 365}]}})
    result = run_scan([str(root)], Runtime(config=cfg))
    return root, result


def test_small_files_findings(scanned) -> None:  # type: ignore[no-untyped-def]
    root, result = scanned
    found = {f.uri.removeprefix(f"file:{root}/"): f for f in result.findings if f.kind == "small_files"}
    assert sorted(found) == ["events/by_region", "events/streamed"]
    f = found["events/streamed"]
    assert (f.category, f.action, f.reclaimable_bytes) == ("trivial", "compact", 0)
    assert f.evidence["files"] == 80 and f.evidence["files_after"] == 1 and f.evidence["small_files"] == 80
    assert "80 → 1 files" in f.explanation
    part = found["events/by_region"]
    assert part.evidence["files"] == 80 and part.evidence["files_after"] == 2  # one per partition at least
    assert part.evidence["partition_columns"] == ["region"]
    kinds = {f.uri.removeprefix(f"file:{root}/"): f.kind for f in result.findings}
    assert kinds["raw/expired_small"] == "expired"  # flagged for deletion: never proposed for compaction
    assert "events/with_junk" not in kinds and kinds["events/with_junk/.DS_Store"] == "junk_file"
    assert "reference/countries" not in kinds and not any(k.startswith("events/daily") for k in kinds)

    ctx = EvidenceContext(as_of=result.scan.as_of, datasets={d.uri: d for d in result.datasets},
                          display=lambda u: u.removeprefix(f"file:{root}/"))
    words = explain(part, ctx)
    assert words[0].startswith("80 files averaging") and "under the small-file size 8.0 MiB" in words[0]
    assert words[1] == ("Compaction would leave about 2 files (80 → 2) of up to 128.0 MiB, at least one per partition "
                        "(2 partitions); every row stays and no storage is freed.")


def _ds(files: int, nbytes: int, small: int, *, partitions: int = 0, fmt: str = "parquet",
        layout: str = "part_files") -> Dataset:
    return Dataset(uri="file:/lake/t", format=fmt, layout=layout, files=files, bytes=nbytes, small_files=small,
                   partitions=partitions, modified_max=datetime(2026, 1, 1, tzinfo=timezone.utc))


@pytest.mark.parametrize(("ds", "flagged"), [
    (_ds(64, 64 * 1000, 64), True),
    (_ds(63, 63 * 1000, 63), False),  # fewer than small_files_min_files
    (_ds(100, 100 * 9_000_000, 0), False),  # files not small
    (_ds(200, 200 * 1_000_000, 200, partitions=100), False),  # 200 -> 100: under the 4x reduction
    (_ds(400, 400 * 1_000_000, 400, partitions=100), True),  # 400 -> 100
    (_ds(100, 100 * 1000, 100, fmt="csv"), False),  # not a format compaction rewrites
    (_ds(100, 100 * 1000, 100, fmt="delta", layout="delta"), True),
])
def test_small_files_thresholds(ds: Dataset, flagged: bool) -> None:
    rules = SmallFileRules.from_config(load_config())
    assert bool(detect_small_files([ds], rules)) is flagged
    assert not detect_small_files([ds], rules, exclude=["file:/lake/t/part-0.parquet"])
    assert not detect_small_files([ds], rules, exclude=["file:/lake"])


def test_small_files_config_is_checked() -> None:
    with pytest.raises(ConfigError, match="small_files_min_reduction"):
        SmallFileRules.from_config(load_config(overrides={"trivial": {"small_files_min_reduction": 1.0}}))

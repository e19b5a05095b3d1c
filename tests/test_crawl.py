"""The crawler and the metadata inventory on real files, without a JVM."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from rotscan.config import load_config
from rotscan.crawl.discover import Crawler, CrawlRules, DatasetCandidate
from rotscan.crawl.inventory import Inventory
from rotscan.runtime import Runtime
from rotscan.scan import run_scan
from rotscan.storage.base import Entry
from rotscan.storage.local import LocalStorage
from rotscan.uri import Uri, parse

from .lakes import CLEAN, build_trivial_lake, table

METADATA_ONLY = load_config(overrides={"scan": {"profile": False}})


def crawl(root: Path, storage: LocalStorage | None = None) -> tuple[dict[str, DatasetCandidate], Crawler]:
    found: dict[str, DatasetCandidate] = {}
    crawler = Crawler(storage or LocalStorage(), CrawlRules.from_config(METADATA_ONLY),
                      lambda c: found.setdefault(c.uri.relative_to(parse(str(root))), c))
    crawler.crawl(parse(str(root)))
    return found, crawler


def rel_findings(result, root: Path) -> dict[str, str]:
    base = parse(str(root))
    return {parse(f.uri).relative_to(base): f.kind for f in result.findings}


def test_datasets_are_recognised(tmp_path: Path) -> None:
    build_trivial_lake(tmp_path)
    found, crawler = crawl(tmp_path)
    layouts = {rel: (c.layout, c.format) for rel, c in found.items()}
    assert layouts["warehouse/orders"] == ("part_files", "parquet")
    assert layouts["warehouse/events"] == ("hive_partitioned", "parquet")
    assert found["warehouse/events"].partition_columns == ("dt", "region")
    assert found["warehouse/events"].partitions == 2
    assert layouts["warehouse/orc_table"] == ("part_files", "orc")
    assert layouts["warehouse/avro_table"] == ("part_files", "avro")
    # a folder of unrelated exports: every file its own dataset
    for i in range(3):
        assert layouts[f"exports/export_{i}.csv"] == ("file", "csv")
    assert layouts["reference/one_row.parquet"] == ("file", "parquet")
    # debris, junk and hidden files are never data files of a dataset
    orders = {e.name for e in found["warehouse/orders"].files}
    assert orders == {"part-00000-1b2c.snappy.parquet", "part-00001-1b2c.snappy.parquet",
                      "part-00002-1b2c.snappy.parquet"}
    assert not any("staging" in rel for rel in found)


def test_symlinks_are_never_followed(tmp_path: Path) -> None:
    build_trivial_lake(tmp_path)
    _, crawler = crawl(tmp_path)
    codes = {Path(parse(w.uri or "").path).name: w.code for w in crawler.warnings if w.code.startswith("symlink")}
    assert codes == {"dangling_link": "symlink_dangling", "outside_link": "symlink_outside_root",
                     "loop_link": "symlink_skipped"}


def test_inventory_rows_from_metadata(tmp_path: Path) -> None:
    build_trivial_lake(tmp_path)
    found, _ = crawl(tmp_path)
    inv = Inventory(LocalStorage(), small_file_bytes=1 << 20, sniff_bytes=4096)
    orders = inv.build(found["warehouse/orders"])
    assert orders.dataset.rows == 600  # the truncated third file is set aside
    assert orders.dataset.rows_source == "footer"
    assert [c.name for c in orders.dataset.schema or ()] == ["id", "name", "amount"]
    assert len(orders.read_paths) == 2
    assert [i.kind for i in orders.issues] == ["corrupt_file"]
    assert inv.build(found["warehouse/orc_table"]).dataset.rows == 40
    assert inv.build(found["warehouse/avro_table"]).dataset.rows == 25
    events = inv.build(found["warehouse/events"])
    assert events.dataset.rows == 100
    assert events.dataset.zero_byte_files == 1
    assert events.base_path == str(parse(str(tmp_path / "warehouse/events")))
    binary = inv.build(found["exports/not_really.csv"])
    assert binary.read_format is None
    assert [w.code for w in binary.warnings] == ["binary_content"]


def test_inventory_guesses_json_columns_from_the_first_records(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    (raw / "events").mkdir(parents=True)
    records = [{"id": i, "Kind": "click", **({"extra": {"x": i}} if i == 1 else {})} for i in range(400)]
    (raw / "events" / "part-00000.json").write_text("".join(json.dumps(r) + "\n" for r in records))
    (raw / "events" / "part-00001.json").write_text('{"late": 1}\n')
    (raw / "notes.json").write_text('{\n  "pretty": "printed"\n}\n')  # not JSON lines: nothing to guess
    found, _ = crawl(tmp_path)
    inv = Inventory(LocalStorage(), small_file_bytes=1 << 20, sniff_bytes=512)
    events = inv.build(found["raw/events"])
    # the first file's head only (a record cut off at 512 bytes is skipped): Spark's read decides
    assert events.json_keys == ["id", "Kind", "extra"]
    assert inv.build(found["raw/notes.json"]).json_keys is None
    assert events.csv_header is None


def test_metadata_only_scan_finds_trivial_rot_without_false_flags(tmp_path: Path) -> None:
    planted = build_trivial_lake(tmp_path)
    result = run_scan([str(tmp_path)], Runtime(config=METADATA_ONLY))
    got = rel_findings(result, tmp_path)
    # A header-only CSV needs a row count from Spark; everything else is known from metadata.
    expected = {k: v for k, v in planted.items() if k != "exports/header_only.csv"}
    assert got == expected
    for clean in CLEAN:
        assert clean not in got
    for f in result.findings:
        assert f.explanation and 0 <= f.confidence <= 1 and f.reclaimable_bytes >= 0
    debris = next(f for f in result.findings if f.kind == "write_debris" and "orders" in f.uri)
    assert debris.action == "quarantine" and debris.reclaimable_bytes > 0


def test_recent_debris_is_only_for_review(tmp_path: Path) -> None:
    (tmp_path / "t/_temporary/0").mkdir(parents=True)
    (tmp_path / "t/_temporary/0/part-0.parquet").write_bytes(b"PAR1")
    result = run_scan([str(tmp_path)], Runtime(config=METADATA_ONLY))
    [f] = result.findings
    assert (f.kind, f.action) == ("write_debris", "review")
    assert parse(f.uri).relative_to(parse(str(tmp_path))) == "t"  # a dir holding only debris


def test_scratch_rule_never_flags_small_tables_elsewhere(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    for rel in ("warehouse/dim_country", "tmp/dim_country", "team/test_run/out", "scratchpad/t"):
        (tmp_path / rel).mkdir(parents=True)
        pq.write_table(table(5), tmp_path / rel / "part-00000.parquet")
    got = rel_findings(run_scan([str(tmp_path)], Runtime(config=METADATA_ONLY)), tmp_path)
    assert got == {"tmp/dim_country": "tiny", "team/test_run/out": "tiny"}


class VanishingStorage(LocalStorage):
    """Real local storage where a file is deleted right after its directory was listed, as a
    concurrent job would."""

    def __init__(self, victim: Path) -> None:
        self.victim = victim

    def list_dir(self, uri: Uri) -> list[Entry]:
        entries = super().list_dir(uri)
        if Path(uri.path) == self.victim.parent and self.victim.exists():
            self.victim.unlink()
        return entries


def test_a_file_vanishing_mid_scan_is_a_warning(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    (tmp_path / "t").mkdir()
    pq.write_table(table(20), tmp_path / "t/part-00000.parquet")
    pq.write_table(table(20), tmp_path / "t/part-00001.parquet")
    found, _ = crawl(tmp_path, VanishingStorage(tmp_path / "t/part-00001.parquet"))
    entry = Inventory(LocalStorage(), small_file_bytes=1, sniff_bytes=1).build(found["t"])
    assert entry.dataset.rows == 20
    assert [w.code for w in entry.warnings] == ["vanished"]


CRAWL_AS_NOBODY = """
import json, sys
from rotscan.config import load_config
from rotscan.runtime import Runtime
from rotscan.scan import run_scan
r = run_scan([sys.argv[1]], Runtime(config=load_config(overrides={"scan": {"profile": False}})))
print(json.dumps({"datasets": [d.uri for d in r.datasets], "warnings": [w.to_dict() for w in r.warnings]}))
"""


def test_permission_denied_directory_is_a_warning(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    lake = tmp_path / "lake"
    (lake / "open").mkdir(parents=True)
    (lake / "locked/inner").mkdir(parents=True)
    pq.write_table(table(20), lake / "open/part-00000.parquet")
    pq.write_table(table(20), lake / "locked/inner/part-00000.parquet")
    (lake / "locked").chmod(0o000)
    try:
        cmd = [sys.executable, "-c", CRAWL_AS_NOBODY, str(lake)]
        if os.geteuid() == 0:
            # root reads everything: drop the capabilities that bypass file permissions, so the scan
            # sees the lake as an unprivileged reader would
            caps = "-dac_override,-dac_read_search"
            cmd = ["setpriv", f"--inh-caps={caps}", f"--bounding-set={caps}", *cmd]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stderr
        out = json.loads(proc.stdout)
    finally:
        (lake / "locked").chmod(0o755)
    assert out["datasets"] == [str(parse(str(lake / "open")))]
    assert [(w["uri"], w["code"]) for w in out["warnings"]] == [(str(parse(str(lake / "locked"))),
                                                                 "permission_denied")]


def test_iceberg_table_is_one_dataset(tmp_path: Path) -> None:
    t = tmp_path / "ice/orders"
    (t / "metadata").mkdir(parents=True)
    (t / "data").mkdir()
    (t / "data/00000-0-abc.parquet").write_bytes(b"PAR1" + b"\x00" * 100)
    meta = {
        "format-version": 2, "table-uuid": "9c12d441-03fe-4693-9a96-a0705ddf69c1", "location": str(t),
        "last-updated-ms": 1767225600000, "current-schema-id": 0,
        "schemas": [{"schema-id": 0, "type": "struct", "fields": [
            {"id": 1, "name": "id", "required": True, "type": "long"}]}],
        "current-snapshot-id": 7,
        "snapshots": [{"snapshot-id": 7, "timestamp-ms": 1767225600000, "summary": {
            "operation": "append", "total-records": "1234", "total-data-files": "1", "total-files-size": "104"}}],
    }
    (t / "metadata/v1.metadata.json").write_text(json.dumps({**meta, "current-snapshot-id": -1, "snapshots": []}))
    (t / "metadata/v2.metadata.json").write_text(json.dumps(meta))
    result = run_scan([str(tmp_path)], Runtime(config=METADATA_ONLY))
    [ds] = result.datasets
    assert (ds.format, ds.rows, ds.files, ds.bytes) == ("iceberg", 1234, 1, 104)
    assert result.findings == ()


def test_several_hundred_csv_files_scan(tmp_path: Path) -> None:
    for i in range(400):
        d = tmp_path / f"drop/batch_{i // 50}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"export_{i:04d}.csv").write_text("id,value,note\n" + "".join(f"{j},{j * i},n{j}\n" for j in range(30)))
    result = run_scan([str(tmp_path)], Runtime(config=METADATA_ONLY))
    assert len(result.datasets) == 400
    assert result.findings == () and result.warnings == ()


def test_output_directory_inside_the_root_is_not_scanned(tmp_path: Path) -> None:
    import pyarrow.parquet as pq
    from click.testing import CliRunner

    from rotscan.cli import main

    (tmp_path / "t").mkdir()
    pq.write_table(table(20), tmp_path / "t/part-00000.parquet")
    for _ in range(2):  # the second scan would see the first one's output if it were not excluded
        r = CliRunner().invoke(main, ["scan", str(tmp_path), "--out", str(tmp_path / "reports"), "--no-profile", "-q"])
        assert r.exit_code == 0, r.output
    doc = json.loads((tmp_path / "reports/findings.json").read_text())
    assert [d["uri"] for d in doc["datasets"]] == [str(parse(str(tmp_path / "t")))]

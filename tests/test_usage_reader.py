"""read_usage: per-file format detection by content, directory walks, Spark 4 rolling/zstd event
logs, gzip, and bad files as warnings."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pyarrow as pa
import pytest

from rotscan.usage.reader import detect_format, read_usage, usage_summary

from .test_usage_access_logs import CLOUDTRAIL, HDFS_LINES, S3_DOC_LINE, s3_line
from .test_usage_sources import DELTA_SPARK_COMMITS, eventlog_lines, ol_event, write_log


def zstd(data: bytes) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.CompressedOutputStream(sink, "zstd") as out:
        out.write(data)
    return sink.getvalue().to_pybytes()


OL_LINE = json.dumps(ol_event("COMPLETE", "2026-11-20T06:00:00Z", "job", [{"namespace": "file", "name": "/lake/a"}],
                              [{"namespace": "file", "name": "/lake/b"}]))


@pytest.mark.parametrize("name,head,kind", [
    ("ol.jsonl", OL_LINE.encode(), "openlineage"),
    ("events.json", json.dumps([json.loads(OL_LINE)], indent=2).encode(), "openlineage"),
    ("local-1", "\n".join(eventlog_lines()).encode(), "spark_eventlog"),
    ("events_1_local-1.zstd", zstd("\n".join(eventlog_lines()).encode()), "spark_eventlog"),
    ("access-2026-11-26", S3_DOC_LINE.encode(), "s3_access_log"),
    ("trail.json", json.dumps(CLOUDTRAIL).encode(), "cloudtrail"),
    ("trail.json.gz", gzip.compress(json.dumps(CLOUDTRAIL).encode()), "cloudtrail"),
    ("hdfs-audit.log", "\n".join(HDFS_LINES).encode(), "hdfs_audit"),
    ("00000000000000000000.json", b'{"commitInfo":{"timestamp":1,"operation":"WRITE"}}\n', "delta_history"),
    ("lineage.csv", b"source_table_full_name,source_path,event_time\n", "audit_export"),
    ("export.bin", b"PAR1\x15\x04", "audit_export"),
    ("notes.txt", b"hello world\n", None),
    ("random.json", b'{"a": 1}', None),
    ("blob.bin", bytes(range(256)) * 4, None),
    ("empty", b"", None),
])
def test_detect_format_by_content(tmp_path: Path, name: str, head: bytes, kind: str | None) -> None:
    path = tmp_path / name
    path.write_bytes(head)
    assert detect_format(path, head[:8192]) == kind
    # the content decides, not the name: an S3 log named .json is still an S3 log
    if kind == "s3_access_log":
        assert detect_format(tmp_path / "x.json", head) == "s3_access_log"


def test_read_usage_walks_a_directory_of_mixed_sources(tmp_path: Path) -> None:
    root = tmp_path / "usage"
    (root / "lineage").mkdir(parents=True)
    (root / "lineage" / "ol.jsonl").write_text(OL_LINE + "\nnot json\n")
    app = "local-1795720329159"
    rolling = root / "spark-events" / f"eventlog_v2_{app}"
    rolling.mkdir(parents=True)
    lines = eventlog_lines()
    (rolling / f"events_1_{app}.zstd").write_bytes(zstd("\n".join(lines[:12]).encode() + b"\n"))
    (rolling / f"events_2_{app}.zstd").write_bytes(zstd("\n".join(lines[12:]).encode() + b"\n"))
    (rolling / f"appstatus_{app}").write_bytes(b"")
    (root / "spark-events" / "local-17").write_text("\n".join(lines) + "\n")  # the same app, plain
    (root / "s3").mkdir()
    (root / "s3" / "2026-11-26-09-00-00-ABCDEF").write_text(
        "\n".join([S3_DOC_LINE, s3_line("REST.PUT.OBJECT", "a/b.parquet"), "garbage"]) + "\n")
    (root / "trail").mkdir()
    (root / "trail" / "123_CloudTrail_eu-west-1_20261126T0900Z_abc.json.gz").write_bytes(
        gzip.compress(json.dumps(CLOUDTRAIL).encode()))
    (root / "hdfs-audit.log").write_text("\n".join(HDFS_LINES) + "\n")
    write_log(root / "tables" / "orders", DELTA_SPARK_COMMITS)
    (root / "tables" / "orders" / "part-0.parquet").write_bytes(b"PAR1 not really parquet PAR1")
    (root / "README.md").write_text("# notes\n")
    (root / "junk.bin").write_bytes(bytes(range(256)))
    (root / ".hidden").write_text("x")
    (root / "_SUCCESS").write_text("")

    data = read_usage([str(root), str(tmp_path / "missing"), f"file:{root}/hdfs-audit.log"],
                      hdfs_namenode="nn1:8020")
    kinds = sorted(c.kind for c in data.coverage)
    assert kinds == ["cloudtrail", "delta_history", "hdfs_audit", "openlineage", "s3_access_log",
                     "spark_eventlog", "spark_eventlog"]  # hdfs-audit.log given twice is read once
    by_path = {Path(c.path).name: c for c in data.coverage}
    assert by_path["ol.jsonl"].bad_lines == 1 and by_path["ol.jsonl"].events == 2
    rolled, plain = by_path[f"eventlog_v2_{app}"], by_path["local-17"]
    assert (rolled.events, rolled.bad_lines, rolled.start, rolled.end) == (plain.events, plain.bad_lines,
                                                                          plain.start, plain.end)
    assert rolled.events == 13
    assert by_path["2026-11-26-09-00-00-ABCDEF"].bad_lines == 1
    assert by_path["orders"].events == 2
    codes = sorted((Path(w.uri or "").name, w.code) for w in data.warnings)
    assert codes == [("README.md", "usage_unknown_format"), ("junk.bin", "usage_unknown_format"),
                     ("missing", "usage_missing"), ("part-0.parquet", "corrupt")]
    assert all(e.time.tzinfo is not None for e in data.events)
    assert [e.time for e in data.events] == sorted(e.time for e in data.events)
    hdfs = [e for e in data.events if e.source == "hdfs_audit"]
    assert hdfs and all(e.uri.startswith("hdfs://nn1:8020/") for e in hdfs)
    assert "spark_eventlog" in usage_summary(data)


def test_unreadable_and_odd_inputs_become_warnings(tmp_path: Path) -> None:
    (tmp_path / "corrupt.parquet").write_bytes(b"PAR1" + os.urandom(64))
    (tmp_path / "events_1_local-9.lz4").write_bytes(b"LZ4Block" + os.urandom(64))
    (tmp_path / "bad.zstd").write_bytes(b"\x28\xb5\x2f\xfd" + os.urandom(64))
    (tmp_path / "empty.log").write_text("")
    data = read_usage([str(tmp_path / "corrupt.parquet"), str(tmp_path / "events_1_local-9.lz4"),
                       str(tmp_path / "bad.zstd"), str(tmp_path / "empty.log")])
    assert len(data.warnings) == 4
    assert {w.code for w in data.warnings} >= {"corrupt", "usage_empty"}
    assert any("JVM-only stream format" in w.message for w in data.warnings)
    assert data.events == ()


def test_unreadable_file_is_a_warning(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads everything")
    path = tmp_path / "secret.log"
    path.write_text(S3_DOC_LINE)
    path.chmod(0)
    data = read_usage([str(path)])
    assert data.warnings and data.warnings[0].code == "usage_unreadable"

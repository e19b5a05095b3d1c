"""Property tests: no parser raises on arbitrary input, malformed lines are counted, and every
event a parser gives is well-formed (UTC time, read/write, canonical URI)."""

from __future__ import annotations

import gzip
import json
import string
from datetime import timezone
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rotscan.uri import canonical
from rotscan.usage.audit_export import csv_rows, parse_rows
from rotscan.usage.cloudtrail import parse_cloudtrail_text
from rotscan.usage.delta_history import parse_delta_commit_lines
from rotscan.usage.events import AccessEvent, ParsedSource, is_path_like, parse_time
from rotscan.usage.hdfs_audit import parse_hdfs_audit_lines
from rotscan.usage.mapping import DatasetIndex
from rotscan.usage.openlineage import parse_openlineage_lines, parse_openlineage_text
from rotscan.usage.reader import detect_format, read_usage
from rotscan.usage.s3_access import parse_s3_access_lines
from rotscan.usage.spark_eventlog import parse_spark_eventlog_lines

from .test_usage_access_logs import HDFS_LINES, S3_DOC_LINE, s3_line
from .test_usage_sources import eventlog_lines

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
lines = st.lists(st.text(max_size=200), max_size=12)
jsonish = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
                       lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
                           st.sampled_from(["eventTime", "eventType", "job", "run", "inputs", "outputs", "name",
                                            "namespace", "Records", "eventName", "requestParameters", "bucketName",
                                            "key", "commitInfo", "timestamp", "add", "dataChange", "Event",
                                            "executionId", "time", "sparkPlanInfo", "metadata", "Location",
                                            "children", "facets", "symlinks", "identifiers"]) | st.text(max_size=8),
                           inner, max_size=5), max_leaves=20)


def well_formed(source: ParsedSource) -> None:
    for e in source.events:
        assert isinstance(e, AccessEvent)
        assert e.kind in ("read", "write")
        assert e.time.tzinfo is not None and e.time.utcoffset() == timezone.utc.utcoffset(None)
        if is_path_like(e.uri) and "://" in e.uri or e.uri.startswith("file:"):
            assert canonical(e.uri) == e.uri
        assert all(canonical(i) == i for i in e.inputs)
    cov = source.coverage()
    assert cov.events == len(source.events)
    if cov.start is not None:
        assert cov.end is not None and cov.start <= cov.end


def mutate(base: list[str]) -> st.SearchStrategy[list[str]]:
    """Real lines, some cut short or with characters replaced, mixed with junk."""
    def damage(line: str, cut: int, junk: str) -> str:
        return line[: cut % (len(line) + 1)] + junk

    real = st.sampled_from(base)
    damaged = st.builds(damage, real, st.integers(0, 400), st.text(max_size=20))
    return st.lists(st.one_of(real, damaged, st.text(max_size=80)), max_size=15)


@SETTINGS
@given(mutate([S3_DOC_LINE, s3_line("REST.PUT.OBJECT", "a/b%20c.parquet"), s3_line("REST.GET.OBJECT", "x")]))
def test_s3_access_parser_never_raises(batch: list[str]) -> None:
    src = parse_s3_access_lines(batch, "p")
    well_formed(src)
    assert src.bad_lines + len(src.events) <= sum(1 for line in batch if line.strip())


@SETTINGS
@given(mutate(HDFS_LINES))
def test_hdfs_audit_parser_never_raises(batch: list[str]) -> None:
    src = parse_hdfs_audit_lines(batch, "p", hdfs_namenode="nn:8020")
    well_formed(src)
    assert src.bad_lines + len(src.events) <= sum(1 for line in batch if line.strip())


@SETTINGS
@given(mutate(eventlog_lines()))
def test_spark_eventlog_parser_never_raises(batch: list[str]) -> None:
    well_formed(parse_spark_eventlog_lines(batch, "p"))


@SETTINGS
@given(st.lists(jsonish, max_size=6))
def test_json_parsers_never_raise_on_arbitrary_json(objs: list[object]) -> None:
    text_lines = [json.dumps(o) for o in objs]
    well_formed(parse_openlineage_lines(text_lines, "p"))
    well_formed(parse_openlineage_text(json.dumps(objs), "p"))
    well_formed(parse_cloudtrail_text("\n".join(text_lines), "p"))
    well_formed(parse_cloudtrail_text(json.dumps({"Records": objs}), "p"))
    well_formed(parse_spark_eventlog_lines(text_lines, "p"))
    well_formed(parse_delta_commit_lines(text_lines, "p", table_uri="file:/t"))


@SETTINGS
@given(lines)
def test_line_parsers_count_every_non_json_line(batch: list[str]) -> None:
    non_json = [line for line in batch if line.strip() and not _is_json(line.strip())]
    assert parse_openlineage_lines(batch, "p").bad_lines >= len(non_json)
    assert parse_spark_eventlog_lines(batch, "p").bad_lines >= len(non_json)
    well_formed(parse_cloudtrail_text("\n".join(batch), "p"))
    src = parse_s3_access_lines(batch, "p")
    assert src.bad_lines == sum(1 for line in batch if line.strip())  # random text is never an S3 log line
    src = parse_hdfs_audit_lines(batch, "p")
    assert src.events == [] or all(e.uri.startswith("hdfs:") for e in src.events)


def _zstd(data: bytes) -> bytes:
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    with pa.CompressedOutputStream(sink, "zstd") as out:
        out.write(data)
    return sink.getvalue().to_pybytes()


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


@SETTINGS
@given(st.lists(st.dictionaries(st.sampled_from(["event_time", "source_path", "target_table_full_name",
                                                 "action_name", "request_params", "user_identity", "ts", "obj"]),
                                st.one_of(st.none(), st.text(max_size=30), st.integers(), jsonish), max_size=8),
                max_size=8))
def test_export_rows_never_raise(rows: list[dict]) -> None:
    columns = sorted({k for r in rows for k in r}) or ["event_time", "source_path"]
    well_formed(parse_rows(rows, columns, "p"))
    well_formed(parse_rows(rows, ["event_time", "action_name", "request_params"], "p"))
    well_formed(parse_rows(rows, ["ts", "obj"], "p", column_mapping={"time": "ts", "path": "obj"}))


@SETTINGS
@given(st.text(max_size=300))
def test_csv_rows_never_raise(text: str) -> None:
    header, rows = csv_rows(text)
    for row in rows:
        assert row is None or set(row) <= set(header)


@SETTINGS
@given(st.one_of(st.text(max_size=40), st.integers(), st.floats(allow_nan=True), st.none()))
def test_parse_time_never_raises(value: object) -> None:
    t = parse_time(value)
    assert t is None or t.tzinfo is not None


@SETTINGS
@given(st.text(alphabet=string.printable + "é%\x00", max_size=60))
def test_dataset_lookup_never_raises(text: str) -> None:
    index = DatasetIndex(["file:/lake/t", "s3a://b/t", "hdfs://nn:8020/t"], aliases={"db.t": "file:/lake/t"})
    found = index.lookup(text)
    assert found is None or found in {"file:/lake/t", "s3a://b/t", "hdfs://nn:8020/t"}
    index.lookup("/lake/t/" + text)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.binary(max_size=600),
                 st.builds(lambda b: gzip.compress(b), st.binary(max_size=300)),
                 st.builds(lambda t: gzip.compress(t.encode()), st.text(max_size=300)),
                 st.builds(lambda t: _zstd(t.encode()), st.text(max_size=300)),
                 st.builds(lambda t: _zstd(b'{"Event":"SparkListenerLogStart"}\n' + t.encode()), st.text(max_size=300))),
       st.sampled_from(["x.log", "events_1_app.zstd", "a.json.gz", "e.parquet", "b.csv"]))
def test_read_usage_never_raises_on_arbitrary_bytes(tmp_path: Path, data: bytes, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    detect_format(path, data)
    usage = read_usage([str(path)])
    # every event is accounted for by exactly one source's coverage, and is well-formed
    assert sum(c.events for c in usage.coverage) == len(usage.events)
    for e in usage.events:
        assert e.kind in ("read", "write") and e.time.utcoffset() == timezone.utc.utcoffset(None)
    for w in usage.warnings:
        assert w.code != "usage_unreadable" or "could not read" not in w.message, w.message  # no parser crashed


# -- a valid record among junk is always parsed back ---------------------------------------------
# Line parsers are line-local: parsing junk with one real record inserted anywhere gives exactly the
# record's events plus the junk's bad-line count — a parser that lost, duplicated or mis-dated the
# real record next to garbage (a torn line, a truncated file) fails here.

OL_EVENT = json.dumps({
    "eventType": "COMPLETE", "eventTime": "2026-11-26T18:09:21Z",
    "producer": "https://github.com/OpenLineage/OpenLineage/tree/1.52.0/integration/spark",
    "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
    "run": {"runId": "8d2c4a3e-8a51-4b6c-9d41-1f0b2c3d4e5f"}, "job": {"namespace": "ns", "name": "app.insert"},
    "inputs": [{"namespace": "file", "name": "/lake/raw/a"}],
    "outputs": [{"namespace": "s3://lake-prod", "name": "warehouse/b"}]})
TRAIL_LINE = json.dumps({"Records": [{"eventName": "GetObject", "eventTime": "2026-11-26T09:15:02Z",
                                      "userIdentity": {"arn": "arn:aws:iam::1:user/bi"},
                                      "requestParameters": {"bucketName": "lake-prod", "key": "t/part-0.parquet"}}]})
DELTA_LINES = [json.dumps({"commitInfo": {"timestamp": 1764148502000, "operation": "WRITE", "userName": "etl"}}),
               json.dumps({"add": {"path": "part-0.parquet", "size": 10, "modificationTime": 1764148502000,
                                   "dataChange": True}})]

# junk: printable text that is neither JSON nor a log line of any of these formats
junk_line = st.text(alphabet=string.ascii_letters + string.digits + " .,;:-_/()!?", max_size=60).filter(
    lambda t: not _is_json(t.strip()))
junk = st.lists(junk_line, max_size=10)


def _events(src: ParsedSource) -> list[tuple[str, str, str, str | None]]:
    return sorted((e.kind, e.uri, e.time.isoformat(), e.actor) for e in src.events)


def _check_embedded(parse, record: list[str], noise: list[str], at: int):  # type: ignore[no-untyped-def]
    at = at % (len(noise) + 1)
    alone, only_noise = parse(record), parse(noise)
    mixed = parse(noise[:at] + record + noise[at:])
    assert alone.events, "the real record must give events on its own"
    assert only_noise.events == []
    assert _events(mixed) == _events(alone)
    assert mixed.bad_lines == alone.bad_lines + only_noise.bad_lines
    assert only_noise.bad_lines == sum(1 for line in noise if line.strip())
    well_formed(mixed)
    return mixed


@SETTINGS
@given(junk, st.integers(0, 100))
def test_openlineage_event_among_junk_is_parsed_back(noise: list[str], at: int) -> None:
    mixed = _check_embedded(lambda ls: parse_openlineage_lines(ls, "p"), [OL_EVENT], noise, at)
    assert ("read", "file:/lake/raw/a") in {(e.kind, e.uri) for e in mixed.events}
    assert ("write", "s3a://lake-prod/warehouse/b") in {(e.kind, e.uri) for e in mixed.events}


@SETTINGS
@given(junk, st.integers(0, 100))
def test_cloudtrail_record_among_junk_is_parsed_back(noise: list[str], at: int) -> None:
    mixed = _check_embedded(lambda ls: parse_cloudtrail_text("\n".join(ls), "p"), [TRAIL_LINE], noise, at)
    assert [(e.kind, e.uri) for e in mixed.events] == [("read", "s3a://lake-prod/t/part-0.parquet")]


@SETTINGS
@given(junk, st.integers(0, 100))
def test_s3_access_line_among_junk_is_parsed_back(noise: list[str], at: int) -> None:
    line = s3_line("REST.GET.OBJECT", "warehouse/t/part-0.parquet")
    mixed = _check_embedded(lambda ls: parse_s3_access_lines(ls, "p"), [line], noise, at)
    assert [(e.kind, e.uri) for e in mixed.events] == [("read", "s3a://lake-prod/warehouse/t/part-0.parquet")]


@SETTINGS
@given(junk, st.integers(0, 100))
def test_hdfs_audit_line_among_junk_is_parsed_back(noise: list[str], at: int) -> None:
    mixed = _check_embedded(lambda ls: parse_hdfs_audit_lines(ls, "p", hdfs_namenode="nn:8020"), HDFS_LINES[:1],
                            noise, at)
    assert [(e.kind, e.uri) for e in mixed.events] == [("read", "hdfs://nn:8020/warehouse/orders/part-0.parquet")]


@SETTINGS
@given(junk, st.integers(0, 100))
def test_delta_commit_among_junk_is_parsed_back(noise: list[str], at: int) -> None:
    # a commit file is one commit: junk around (or between) its actions must not lose its write
    mixed = _check_embedded(lambda ls: parse_delta_commit_lines(ls, "p", table_uri="file:/lake/t"), DELTA_LINES,
                            noise, at)
    assert [(e.kind, e.uri, e.actor) for e in mixed.events] == [("write", "file:/lake/t", "etl")]


@SETTINGS
@given(junk, junk)
def test_spark_eventlog_among_junk_is_parsed_back(before: list[str], after: list[str]) -> None:
    # an event log is a sequence (the application start gives the user and time of what follows):
    # junk before and after the real log must not change what it says
    log = eventlog_lines()
    alone = parse_spark_eventlog_lines(log, "p")
    mixed = parse_spark_eventlog_lines(before + log + after, "p")
    assert alone.events
    assert _events(mixed) == _events(alone)
    assert mixed.bad_lines == alone.bad_lines + sum(1 for line in before + after if line.strip())

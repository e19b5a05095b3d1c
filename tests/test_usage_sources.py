"""OpenLineage events, Spark event logs, Delta history (delta-spark and delta-rs commitInfo) and
Unity Catalog / generic audit exports (CSV and Parquet)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from rotscan.usage.audit_export import read_audit_export
from rotscan.usage.delta_history import read_delta_history
from rotscan.usage.openlineage import dataset_uri, parse_openlineage_text
from rotscan.usage.spark_eventlog import parse_spark_eventlog_lines

T0 = datetime(2026, 11, 20, 6, 0, tzinfo=timezone.utc)
MS = int(T0.timestamp() * 1000)


# --- OpenLineage -------------------------------------------------------------------------------------

def ol_event(event_type: str, when: str, job: str, inputs: list[dict], outputs: list[dict], run: str = "r1",
             **run_facets: object) -> dict:
    return {"eventType": event_type, "eventTime": when, "producer": "https://github.com/OpenLineage/OpenLineage/tree/1.53.0/integration/spark",
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
            "run": {"runId": run, "facets": run_facets}, "job": {"namespace": "etl", "name": job},
            "inputs": inputs, "outputs": outputs}


def test_openlineage_naming_per_spec() -> None:
    assert dataset_uri("file", "/warehouse/loc") == ("file:/warehouse/loc", None)
    assert dataset_uri("s3://bucket", "warehouse/loc") == ("s3a://bucket/warehouse/loc", None)
    assert dataset_uri("s3a://bucket", "warehouse/loc/") == ("s3a://bucket/warehouse/loc", None)
    assert dataset_uri("hdfs://nn:8020", "/warehouse") == ("hdfs://nn:8020/warehouse", None)
    assert dataset_uri("gs://b", "x/y") == ("gs://b/x/y", None)
    assert dataset_uri("postgres://db:5432", "shop.public.orders") == ("postgres://db:5432/shop.public.orders",
                                                                       "shop.public.orders")
    assert dataset_uri("", "x") == (None, None)
    assert dataset_uri("file", 3) == (None, None)


def test_openlineage_events_lines_array_and_single_object() -> None:
    orders = {"namespace": "s3://lake", "name": "warehouse/orders",
              "facets": {"symlinks": {"identifiers": [{"namespace": "hive://ms:9083", "name": "sales.orders",
                                                        "type": "TABLE"}]}}}
    daily = {"namespace": "file", "name": "/lake/marts/daily"}
    app = {"spark_applicationDetails": {"userName": "etl-bot", "appName": "daily"}}
    parent = {"parent": {"run": {"runId": "app-run"}, "job": {"namespace": "etl", "name": "daily"}}}
    events = [
        ol_event("START", "2026-11-20T06:00:00Z", "daily", [], [], run="app-run", **app),
        ol_event("START", "2026-11-20T06:00:01Z", "daily.insert", [orders], [daily], run="r1", **parent),
        ol_event("RUNNING", "2026-11-20T06:00:02Z", "daily.insert", [orders], [daily], run="r1", **parent),
        ol_event("COMPLETE", "2026-11-20T06:00:03.5Z", "daily.insert", [orders], [daily], run="r1", **parent),
        ol_event("RUNNING", "2026-11-20T06:00:04Z", "daily.stream", [orders], [], run="r2"),  # no terminal: counts
        ol_event("FAIL", "2026-11-20T06:01:00+00:00", "daily.retry", [orders], [daily], run="r3"),
        {"eventTime": "2026-11-20T06:02:00Z", "dataset": {"namespace": "file", "name": "/x"}},  # DatasetEvent
        ol_event("COMPLETE", "not a time", "x", [], []),
    ]
    text = "\n".join(json.dumps(e) for e in events) + "\n{broken\n[1, 2]\n"
    src = parse_openlineage_text(text, "ol.jsonl")
    assert src.bad_lines == 3
    got = [(e.kind, e.uri, e.job, e.success, e.actor, e.table) for e in src.events]
    assert got == [
        ("read", "s3a://lake/warehouse/orders", "etl.daily.insert", True, "etl-bot", "sales.orders"),
        ("write", "file:/lake/marts/daily", "etl.daily.insert", True, "etl-bot", None),
        ("read", "s3a://lake/warehouse/orders", "etl.daily.stream", True, None, "sales.orders"),
        ("read", "s3a://lake/warehouse/orders", "etl.daily.retry", False, None, "sales.orders"),
        ("write", "file:/lake/marts/daily", "etl.daily.retry", False, None, None),
    ]
    assert src.events[1].inputs == ("s3a://lake/warehouse/orders",)
    assert src.events[1].time == datetime(2026, 11, 20, 6, 0, 3, 500000, tzinfo=timezone.utc)
    assert src.aliases == {"sales.orders": "s3a://lake/warehouse/orders"}
    cov = src.coverage()
    assert (cov.start, cov.end) == (T0, datetime(2026, 11, 20, 6, 2, tzinfo=timezone.utc))
    assert cov.notes == ("1 runs with only a START event (not counted as access; openlineage-spark emits these "
                         "for Spark's own file-listing jobs)",)

    as_array = parse_openlineage_text(json.dumps(events[:4]), "ol.json")
    assert [e.kind for e in as_array.events] == ["read", "write"]
    single = parse_openlineage_text(json.dumps(events[3], indent=2), "one.json")
    assert [e.kind for e in single.events] == ["read", "write"] and single.bad_lines == 0


def test_openlineage_merge_reading_its_own_target_is_no_read() -> None:
    target = {"namespace": "file", "name": "/lake/t"}
    src = parse_openlineage_text(json.dumps(ol_event("COMPLETE", "2026-11-20T06:00:00Z", "merge",
                                                     [target, {"namespace": "file", "name": "/lake/s"}], [target])),
                                 "ol.json")
    assert [(e.kind, e.uri, e.inputs) for e in src.events] == [
        ("read", "file:/lake/s", ()), ("write", "file:/lake/t", ("file:/lake/s",))]


# --- Spark event log (shapes as real Spark 4.2 / Delta 4.4 logs hold them) --------------------------

def scan(location: str) -> dict:
    return {"nodeName": "Scan parquet ", "simpleString": f"FileScan parquet [id#2L] Location: {location[:40]}...",
            "children": [], "metadata": {"Format": "Parquet", "Location": location}}


def exec_start(exec_id: int, root: int, t: int, plan: dict, description: str = "save at NativeMethodAccessorImpl.java:0",
               physical: str = "") -> str:
    return json.dumps({"Event": "org.apache.spark.sql.execution.ui.SparkListenerSQLExecutionStart", "executionId": exec_id,
                       "rootExecutionId": root, "description": description, "details": "",
                       "physicalPlanDescription": physical, "sparkPlanInfo": plan, "time": MS + t, "modifiedConfigs": {},
                       "jobTags": [], "queryId": "q"})


def exec_end(exec_id: int, t: int, error: str = "") -> str:
    return json.dumps({"Event": "org.apache.spark.sql.execution.ui.SparkListenerSQLExecutionEnd", "executionId": exec_id,
                       "time": MS + t, "errorMessage": error, "queryId": "q"})


def eventlog_lines() -> list[str]:
    insert = {"nodeName": "Execute InsertIntoHadoopFsRelationCommand",
              "simpleString": "Execute InsertIntoHadoopFsRelationCommand file:/lake/staging/b, false, Parquet, "
                              "[path=/lake/staging/b], ErrorIfExists, [id, k]",
              "children": [{"nodeName": "WriteFiles", "simpleString": "WriteFiles", "metadata": {},
                            "children": [scan("InMemoryFileIndex(1 paths)[file:/lake/raw/a]")]}], "metadata": {}}
    save = {"nodeName": "Execute SaveIntoDataSourceCommand", "simpleString": "Execute SaveIntoDataSourceCommand",
            "children": [], "metadata": {}}
    save_desc = ("== Physical Plan ==\nExecute SaveIntoDataSourceCommand (1)\n   +- SaveIntoDataSourceCommand (2)\n\n\n"
                 "(1) Execute SaveIntoDataSourceCommand\nOutput: []\n\n(2) SaveIntoDataSourceCommand\nArguments: "
                 "org.apache.spark.sql.delta.sources.DeltaDataSource@43d094f4, [path=/lake/warehouse/c], Append\n\n")
    merge_desc = ("(1) Execute MergeIntoCommand\nOutput: []\n\n(2) MergeIntoCommand\nArguments: SubqueryAlias s, "
                  "SubqueryAlias t, Delta[version=3, file:/lake/warehouse/c], (id#1L = id#2L)\n\n")
    overwrite = {"nodeName": "OverwriteByExpressionExecV1",
                 "simpleString": "OverwriteByExpressionExecV1 DeltaTableV2(org.apache.spark.sql.classic.SparkSession@1b,"
                                 "/lake/warehouse/d,None,None,None,Map()), Project [id#8L]", "children": [], "metadata": {}}
    overwrite_desc = ("(1) OverwriteByExpressionExecV1\nArguments: DeltaTableV2(org.apache.spark.sql.classic."
                      "SparkSession@1b,/lake/warehouse/d,None,None,None,Map()), Project [id#8L]\n\n")
    ctas_desc = ("(1) AtomicCreateTableAsSelect\nArguments: org.apache.spark.sql.delta.catalog.DeltaCatalog@3f, "
                 "sales.orders, Relation [id#461L,k#462L] parquet, TableSpec(Map(),Some(delta)), false\n\n")
    delta_state = {"nodeName": "Scan ExistingRDD Delta Table State #1 - file:///lake/warehouse/c/_delta_log",
                   "simpleString": "Scan ExistingRDD Delta Table State #1 - file:///lake/warehouse/c/_delta_log[txn#1]",
                   "children": [], "metadata": {}}
    log_replay = scan("DeltaLogFileIndex(5 paths)[file:/lake/warehouse/c/_delta_log/00000000000000000000.json, "
                      "file:/lake/warehouse/c/_delta_log/00000000000000000001.json, ...]")
    return [
        '{"Event":"SparkListenerLogStart","Spark Version":"4.2.0"}',
        json.dumps({"Event": "SparkListenerEnvironmentUpdate", "Hadoop Properties": {"fs.defaultFS": "file:///"},
                    "Spark Properties": {}}),
        json.dumps({"Event": "SparkListenerApplicationStart", "App Name": "nightly", "App ID": "local-17",
                    "Timestamp": MS, "User": "etl"}),
        '{"Event":"SparkListenerTaskStart","Stage ID":0,"Task Info":{"Task ID":0}}',
        exec_start(0, 0, 1000, insert), exec_end(0, 2000),
        exec_start(1, 1, 3000, save, physical=save_desc),
        exec_start(2, 1, 3100, scan("InMemoryFileIndex(1 paths)[file:/lake/staging/b]")), exec_end(2, 3500),
        exec_start(3, 3, 3200, {"nodeName": "Project", "simpleString": "Project", "metadata": {},
                                "children": [log_replay]}, description="Delta: Compute snapshot for version: 1"),
        exec_end(3, 3300), exec_end(1, 4000),
        exec_start(4, 4, 5000, {"nodeName": "LocalTableScan", "simpleString": "LocalTableScan", "children": [],
                                "metadata": {}}, description="count at NativeMethodAccessorImpl.java:0"),
        exec_start(5, 4, 5100, delta_state), exec_end(5, 5200), exec_end(4, 5300),
        exec_start(6, 6, 6000, scan("InMemoryFileIndex(3 paths)[file:/lake/raw/p/k=0, file:/lake/raw/p/k=1, ...]")),
        exec_end(6, 6100),
        exec_start(7, 7, 7000, {"nodeName": "Execute MergeIntoCommand", "simpleString": "Execute MergeIntoCommand",
                                "children": [], "metadata": {}}, physical=merge_desc),
        exec_start(8, 7, 7100, scan("InMemoryFileIndex(1 paths)[file:/lake/staging/b]")),
        exec_start(9, 7, 7200, scan("TahoeBatchFileIndex(1 paths)[file:/lake/warehouse/c]")),
        exec_end(8, 7300), exec_end(9, 7400), exec_end(7, 7500),
        exec_start(10, 10, 8000, overwrite, physical=overwrite_desc), exec_end(10, 8100, "[DELTA_X] failed"),
        exec_start(11, 11, 9000, {"nodeName": "AtomicCreateTableAsSelect", "simpleString": "AtomicCreateTableAsSelect",
                                  "children": [], "metadata": {}}, physical=ctas_desc),
        exec_start(12, 11, 9100, scan("InMemoryFileIndex(1 paths)[file:/lake/staging/b]")), exec_end(12, 9200),
        exec_end(11, 9300),
        exec_start(13, 13, 9500, scan("InMemoryFileIndex(1 paths)[file:/lake/raw/a]")),  # never ended
        "{\"Event\":\"SparkListenerTaskEnd\",\"Stage ID\":0,\"Task",  # cut off
        "not json at all",
        json.dumps({"Event": "SparkListenerApplicationEnd", "Timestamp": MS + 10_000}),
    ]


def test_spark_eventlog_reads_writes_lineage_and_success() -> None:
    src = parse_spark_eventlog_lines(eventlog_lines(), "eventlog")
    got = [(e.kind, e.uri, e.success, e.inputs, e.table) for e in src.events]
    assert got == [
        ("read", "file:/lake/raw/a", True, (), None),
        ("write", "file:/lake/staging/b", True, ("file:/lake/raw/a",), None),
        ("read", "file:/lake/staging/b", True, (), None),
        ("write", "file:/lake/warehouse/c", True, ("file:/lake/staging/b",), None),
        ("read", "file:/lake/warehouse/c", True, (), None),  # count() of the Delta table
        ("read", "file:/lake/raw/p/k=0", True, (), None),
        ("read", "file:/lake/raw/p/k=1", True, (), None),
        ("read", "file:/lake/staging/b", True, (), None),  # MERGE source; its own target is no read
        ("write", "file:/lake/warehouse/c", True, ("file:/lake/staging/b",), None),
        ("write", "file:/lake/warehouse/d", False, (), None),
        ("read", "file:/lake/staging/b", True, (), None),
        ("write", "sales.orders", True, ("file:/lake/staging/b",), "sales.orders"),
        ("read", "file:/lake/raw/a", False, (), None),
    ]
    assert {(e.job, e.actor, e.run_id) for e in src.events} == {("nightly", "etl", "local-17")}
    assert src.events[0].time == datetime.fromtimestamp((MS + 1000) / 1000, tz=timezone.utc)
    assert src.bad_lines == 2
    cov = src.coverage()
    assert cov.start == T0 and cov.end == datetime.fromtimestamp((MS + 10_000) / 1000, tz=timezone.utc)
    assert any("1 path lists truncated" in n for n in cov.notes)
    assert any("without an end event" in n for n in cov.notes)


def test_spark_eventlog_default_fs_qualifies_paths_without_scheme() -> None:
    lines = eventlog_lines()
    lines[1] = json.dumps({"Event": "SparkListenerEnvironmentUpdate",
                           "Hadoop Properties": {"fs.defaultFS": "hdfs://nn1:8020"}})
    src = parse_spark_eventlog_lines(lines, "eventlog")
    assert "hdfs://nn1:8020/lake/warehouse/d" in {e.uri for e in src.events}
    assert "file:/lake/raw/a" in {e.uri for e in src.events}  # qualified paths stay as they are


# --- Delta history ------------------------------------------------------------------------------------

DELTA_SPARK_COMMITS = [
    [{"commitInfo": {"timestamp": MS, "operation": "WRITE", "operationParameters": {"mode": "ErrorIfExists",
                     "partitionBy": "[]"}, "isolationLevel": "Serializable", "isBlindAppend": True,
                     "operationMetrics": {"numFiles": "2"}, "engineInfo": "Apache-Spark/4.2.0 Delta-Lake/4.4.0",
                     "txnId": "t0"}},
     {"protocol": {"minReaderVersion": 1, "minWriterVersion": 2}},
     {"add": {"path": "part-0.parquet", "size": 10, "modificationTime": MS, "dataChange": True}}],
    [{"commitInfo": {"timestamp": MS + 86_400_000, "userName": "alice@example.com", "operation": "MERGE",
                     "operationParameters": {"predicate": "[]"}, "readVersion": 0, "job": {"jobId": "42",
                     "jobName": "orders_merge", "runId": "777"}, "engineInfo": "Databricks-Runtime/15.4"}},
     {"remove": {"path": "part-0.parquet", "deletionTimestamp": MS, "dataChange": True}},
     {"add": {"path": "part-1.parquet", "size": 10, "modificationTime": MS, "dataChange": True}}],
    [{"commitInfo": {"timestamp": MS + 2 * 86_400_000, "operation": "OPTIMIZE",
                     "operationParameters": {"predicate": "[]", "zOrderBy": "[]"},
                     "engineInfo": "Apache-Spark/4.2.0 Delta-Lake/4.4.0"}},
     {"remove": {"path": "part-1.parquet", "dataChange": False}},
     {"add": {"path": "part-2.parquet", "size": 10, "modificationTime": MS, "dataChange": False}}],
]
# delta-rs (python deltalake): commitInfo built from the operation plus "clientVersion" (see
# delta-rs crates/core/src/operations/transaction: app_metadata "clientVersion" = "delta-rs.<version>").
DELTA_RS_COMMITS = [
    [{"protocol": {"minReaderVersion": 1, "minWriterVersion": 2}},
     {"metaData": {"id": "x", "format": {"provider": "parquet", "options": {}}, "schemaString": "{}",
                   "partitionColumns": [], "configuration": {}, "createdTime": MS}},
     {"add": {"path": "0-abc.parquet", "partitionValues": {}, "size": 5, "modificationTime": MS, "dataChange": True}},
     {"commitInfo": {"timestamp": MS + 60_000, "operation": "CREATE TABLE",
                     "operationParameters": {"mode": "ErrorIfExists", "location": "file:///lake/rs",
                                             "protocol": "{}", "metadata": "{}"},
                     "clientVersion": "delta-rs.0.22.3"}}],
    [{"add": {"path": "1-def.parquet", "partitionValues": {}, "size": 5, "modificationTime": MS, "dataChange": True}},
     {"commitInfo": {"timestamp": MS + 120_000, "operation": "WRITE",
                     "operationParameters": {"mode": "Append"}, "readVersion": 0,
                     "clientVersion": "delta-rs.0.22.3"}}],
]


def write_log(table: Path, commits: list[list[dict]], first_version: int = 0, extra: str = "") -> None:
    log = table / "_delta_log"
    log.mkdir(parents=True)
    for i, actions in enumerate(commits, start=first_version):
        text = "\n".join(json.dumps(a) for a in actions) + "\n" + extra
        (log / f"{i:020d}.json").write_text(text)
    (log / "_last_checkpoint").write_text("{}")


def test_delta_history_delta_spark_shape(tmp_path: Path) -> None:
    write_log(tmp_path / "orders", DELTA_SPARK_COMMITS)
    src = read_delta_history(tmp_path / "orders")
    got = [(e.kind, e.uri, e.job, e.actor, e.run_id) for e in src.events]
    table = f"file:{tmp_path}/orders"
    assert got == [("write", table, "Apache-Spark/4.2.0 Delta-Lake/4.4.0", None, "t0"),
                   ("write", table, "orders_merge", "alice@example.com", "777")]
    assert src.events[1].time == datetime.fromtimestamp(MS / 1000 + 86_400, tz=timezone.utc)
    cov = src.coverage()
    assert cov.end == datetime.fromtimestamp(MS / 1000 + 2 * 86_400, tz=timezone.utc)  # OPTIMIZE still covers
    assert any("OPTIMIZE" in n for n in cov.notes)


def test_delta_history_delta_rs_shape_and_log_retention(tmp_path: Path) -> None:
    write_log(tmp_path / "rs", DELTA_RS_COMMITS, first_version=7, extra="{torn line\n")
    src = read_delta_history(f"file:{tmp_path}/rs")
    assert [(e.job, e.time) for e in src.events] == [
        ("delta-rs.0.22.3", datetime.fromtimestamp(MS / 1000 + 60, tz=timezone.utc)),
        ("delta-rs.0.22.3", datetime.fromtimestamp(MS / 1000 + 120, tz=timezone.utc))]
    assert src.bad_lines == 2
    assert any("before version 7" in n for n in src.coverage().notes)
    assert read_delta_history(tmp_path / "missing").warnings


# --- audit exports ------------------------------------------------------------------------------------

LINEAGE_ROWS = [
    {"source_table_full_name": "main.raw.orders", "source_path": "s3://lake/raw/orders", "source_type": "TABLE",
     "target_table_full_name": "main.marts.daily", "target_path": "s3://lake/marts/daily", "target_type": "TABLE",
     "entity_type": "JOB", "entity_id": "1234", "entity_run_id": "99", "created_by": "etl@example.com",
     "event_time": "2026-11-20T06:00:00.000Z"},
    {"source_table_full_name": "main.marts.daily", "source_path": None, "source_type": "TABLE",
     "target_table_full_name": None, "target_path": None, "target_type": None,
     "entity_type": "NOTEBOOK", "entity_id": "55", "entity_run_id": None, "created_by": "bob@example.com",
     "event_time": "2026-11-21 09:30:00"},
    {"source_table_full_name": None, "source_path": None, "source_type": None,
     "target_table_full_name": None, "target_path": "s3://lake/exports/x", "target_type": "PATH",
     "entity_type": None, "entity_id": None, "entity_run_id": None, "created_by": "carol@example.com",
     "event_time": "2026-11-22T00:00:00Z"},
    {"source_table_full_name": "a.b.c", "source_path": None, "source_type": "TABLE", "target_table_full_name": None,
     "target_path": None, "target_type": None, "entity_type": "JOB", "entity_id": "1", "entity_run_id": None,
     "created_by": "x", "event_time": "yesterday"},
]


def check_lineage_export(src) -> None:  # type: ignore[no-untyped-def]
    got = [(e.kind, e.uri, e.table, e.job, e.actor, e.inputs) for e in src.events]
    assert got == [
        ("read", "s3a://lake/raw/orders", "main.raw.orders", "JOB:1234", "etl@example.com", ()),
        ("write", "s3a://lake/marts/daily", "main.marts.daily", "JOB:1234", "etl@example.com",
         ("s3a://lake/raw/orders",)),
        ("read", "main.marts.daily", "main.marts.daily", "NOTEBOOK:55", "bob@example.com", ()),
        ("write", "s3a://lake/exports/x", None, None, "carol@example.com", ()),
    ]
    assert src.events[0].run_id == "99"
    assert src.bad_lines == 1
    assert src.coverage().start == T0


def test_uc_table_lineage_csv_and_parquet(tmp_path: Path) -> None:
    import csv

    path = tmp_path / "table_lineage.csv"
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(LINEAGE_ROWS[0]))
        writer.writeheader()
        for row in LINEAGE_ROWS:
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
        fh.write("too,few,fields\n")
    src = read_audit_export(path)
    check_lineage_export_with_extra_bad(src)

    table = pa.Table.from_pylist([{**r, "event_time": _ts(r["event_time"])} for r in LINEAGE_ROWS])
    pq.write_table(table, tmp_path / "table_lineage.parquet")
    check_lineage_export(read_audit_export(tmp_path / "table_lineage.parquet"))


def check_lineage_export_with_extra_bad(src) -> None:  # type: ignore[no-untyped-def]
    assert src.bad_lines == 2  # "yesterday" and the short row
    src.bad_lines = 1
    check_lineage_export(src)


def _ts(text: str) -> datetime | None:
    from rotscan.usage.events import parse_time

    t = parse_time(text)
    return None if t is None else t.replace(tzinfo=None)  # a naive timestamp column, as Spark exports UTC


AUDIT_ROWS = [
    {"event_time": datetime(2026, 11, 20, 6, 0), "user_identity": {"email": "ann@example.com"},
     "service_name": "unityCatalog", "action_name": "getTable",
     "request_params": [("full_name_arg", "main.sales.orders"), ("workspace_id", "1")],
     "response": {"status_code": 200, "error_message": None}},
    {"event_time": datetime(2026, 11, 20, 7, 0), "user_identity": {"email": "ann@example.com"},
     "service_name": "unityCatalog", "action_name": "generateTemporaryPathCredential",
     "request_params": [("url", "s3://lake/landing/drop1"), ("operation", "PATH_READ_WRITE")],
     "response": {"status_code": 200, "error_message": None}},
    {"event_time": datetime(2026, 11, 20, 8, 0), "user_identity": {"email": "eve@example.com"},
     "service_name": "unityCatalog", "action_name": "getTable",
     "request_params": [("full_name_arg", "main.hr.salaries")],
     "response": {"status_code": 403, "error_message": "PERMISSION_DENIED"}},
    {"event_time": datetime(2026, 11, 20, 9, 0), "user_identity": {"email": "ann@example.com"},
     "service_name": "unityCatalog", "action_name": "listTables",
     "request_params": [("catalog_name", "main")], "response": {"status_code": 200, "error_message": None}},
]


def test_uc_audit_parquet_and_csv(tmp_path: Path) -> None:
    pq.write_table(pa.Table.from_pylist(AUDIT_ROWS, schema=pa.schema([
        ("event_time", pa.timestamp("us")), ("user_identity", pa.struct([("email", pa.string())])),
        ("service_name", pa.string()), ("action_name", pa.string()),
        ("request_params", pa.map_(pa.string(), pa.string())),
        ("response", pa.struct([("status_code", pa.int32()), ("error_message", pa.string())]))])),
        tmp_path / "audit.parquet")
    src = read_audit_export(tmp_path / "audit.parquet")
    got = [(e.kind, e.uri, e.actor, e.success, e.table) for e in src.events]
    assert got == [("read", "main.sales.orders", "ann@example.com", True, "main.sales.orders"),
                   ("write", "s3a://lake/landing/drop1", "ann@example.com", True, None),
                   ("read", "main.hr.salaries", "eve@example.com", False, "main.hr.salaries")]
    assert src.coverage().end == datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)

    csv_text = ("event_time,user_identity.email,service_name,action_name,request_params,response.statusCode\n"
                '2026-11-20T06:00:00Z,ann@example.com,unityCatalog,getTable,"{""full_name_arg"": ""main.sales.orders""}",200\n'
                "2026-11-20T06:00:00Z,ann@example.com,unityCatalog,getTable,{not json},200\n")
    (tmp_path / "audit.csv").write_text(csv_text)
    src = read_audit_export(tmp_path / "audit.csv")
    assert [(e.kind, e.uri, e.actor) for e in src.events] == [("read", "main.sales.orders", "ann@example.com")]


def test_generic_export_with_a_column_mapping(tmp_path: Path) -> None:
    (tmp_path / "access.csv").write_text(
        "ts,object,op,who,app\n"
        "2026-11-20 06:00:00,/lake/warehouse/orders/part-0.parquet,READ,ann,bi\n"
        "1795680000,s3://lake/x/y,REST.PUT.OBJECT,bob,loader\n"
        "2026-11-20 07:00:00,/lake/z,chmod,ann,ops\n"
        "nope,/lake/z,read,ann,ops\n")
    mapping = {"time": "ts", "path": "object", "kind": "op", "actor": "who", "job": "app"}
    src = read_audit_export(tmp_path / "access.csv", column_mapping=mapping)
    assert [(e.kind, e.uri, e.actor, e.job) for e in src.events] == [
        ("read", "file:/lake/warehouse/orders/part-0.parquet", "ann", "bi"),
        ("write", "s3a://lake/x/y", "bob", "loader")]
    assert src.events[1].time == datetime.fromtimestamp(1795680000, tz=timezone.utc)
    assert src.bad_lines == 2
    unknown = read_audit_export(tmp_path / "access.csv")
    assert not unknown.recognised and unknown.warnings


def test_openlineage_jar_group_is_optional() -> None:
    from rotscan.spark.jars import GROUPS, OPTIONAL_GROUPS, maven_coordinate

    assert maven_coordinate("openlineage") == "io.openlineage:openlineage-spark_2.13:1.53.0"
    assert "openlineage" in OPTIONAL_GROUPS and "openlineage" not in GROUPS  # never resolved/loaded by default

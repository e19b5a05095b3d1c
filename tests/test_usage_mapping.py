"""Mapping logged paths and table names to datasets, per-dataset usage stats and the lineage graph."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from rotscan.usage.events import AccessEvent, SourceCoverage
from rotscan.usage.mapping import DatasetIndex
from rotscan.usage.reader import UsageData
from rotscan.usage.stats import LineageEdge, LineageGraph, compute_usage, coverage_window

DATASETS = [
    "s3a://lake/warehouse/orders",  # a Delta table
    "s3a://lake/warehouse/events",  # Hive-partitioned
    "s3a://lake/warehouse/my table",
    "file:/data/lake/exports/report.csv",  # a standalone file
    "file:/data/lake/warehouse/orders",  # same path, other scheme: another dataset
    "hdfs://nn1:8020/warehouse/clicks",
    "hdfs://nn2:8020/warehouse/shared",
    "hdfs://nn3:8020/warehouse/shared",
]


def test_paths_map_to_the_dataset_that_holds_them() -> None:
    index = DatasetIndex(DATASETS)
    cases = {
        "s3a://lake/warehouse/orders": "s3a://lake/warehouse/orders",
        "s3://lake/warehouse/orders/": "s3a://lake/warehouse/orders",
        "s3n://lake/warehouse/orders/part-00000.snappy.parquet": "s3a://lake/warehouse/orders",
        "s3a://lake/warehouse/orders/_delta_log/00000000000000000003.json": "s3a://lake/warehouse/orders",
        "s3a://lake/warehouse/events/dt=2026-11-01/hour=03/part-1.parquet": "s3a://lake/warehouse/events",
        "s3a://lake/warehouse/events/dt=2026-11-01": "s3a://lake/warehouse/events",
        "s3a://lake/warehouse/my%20table/part-0.parquet": "s3a://lake/warehouse/my table",
        "s3a://lake//warehouse/./orders//x.parquet": "s3a://lake/warehouse/orders",
        "file:///data/lake/exports/report.csv": "file:/data/lake/exports/report.csv",
        "/data/lake/warehouse/orders/part-0.parquet": "file:/data/lake/warehouse/orders",
        "hdfs://nn1:8020/warehouse/clicks/part-0": "hdfs://nn1:8020/warehouse/clicks",
        "hdfs:///warehouse/clicks/part-0": "hdfs://nn1:8020/warehouse/clicks",  # audit log without namenode
    }
    for path, dataset in cases.items():
        assert index.lookup(path) == dataset, path
    for outside in ["s3a://lake/warehouse", "s3a://lake/warehouse/orders_v2/part-0", "s3a://other/warehouse/orders",
                    "file:/data/lake/exports/report.csv.bak", "hdfs://nn9:8020/warehouse/clicks",
                    "hdfs:///warehouse/shared/x",  # two namenodes have it: ambiguous, no match
                    "", "not a path", "gs://lake/warehouse/orders"]:
        assert index.lookup(outside) is None, outside
    assert len(index) == len(DATASETS)


def test_nested_datasets_take_the_longest_prefix() -> None:
    index = DatasetIndex(["file:/lake/t", "file:/lake/t/sub"])
    assert index.lookup("file:/lake/t/sub/part-0") == "file:/lake/t/sub"
    assert index.lookup("file:/lake/t/other/part-0") == "file:/lake/t"


def test_table_names_through_aliases() -> None:
    index = DatasetIndex(DATASETS, aliases={"sales.orders": "s3://lake/warehouse/orders/",
                                            "main.web.Events": "s3a://lake/warehouse/events",
                                            "gone.table": "s3a://lake/warehouse/dropped",
                                            "a.dup": "s3a://lake/warehouse/orders",
                                            "b.x.dup": "s3a://lake/warehouse/events"})
    assert index.lookup("sales.orders") == "s3a://lake/warehouse/orders"
    assert index.lookup("SALES.ORDERS") == "s3a://lake/warehouse/orders"
    assert index.lookup("`sales`.`orders`") == "s3a://lake/warehouse/orders"
    assert index.lookup("spark_catalog.sales.orders") == "s3a://lake/warehouse/orders"  # 2-part suffix
    assert index.lookup("main.web.events") == "s3a://lake/warehouse/events"
    assert index.lookup("web.events") == "s3a://lake/warehouse/events"
    assert index.lookup("gone.table") is None  # alias to no dataset
    assert index.lookup("orders") is None  # one part is too loose to match
    assert index.lookup("unknown.table") is None


NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)


def ev(kind: str, uri: str, days_ago: float, *, job: str | None = "job", actor: str | None = None,
       inputs: tuple[str, ...] = (), success: bool = True, table: str | None = None) -> AccessEvent:
    return AccessEvent(time=NOW - timedelta(days=days_ago), kind=kind, uri=uri, actor=actor, job=job,
                       source="openlineage", inputs=inputs, success=success, table=table)


def test_compute_usage_stats_lineage_and_unmatched() -> None:
    a, b, c = "file:/lake/raw/a", "file:/lake/staging/b", "file:/lake/warehouse/c"
    events = (
        ev("write", a, 400, job="ingest"),
        ev("read", a + "/part-0.parquet", 200, job="build_b"),
        ev("write", b, 200, job="build_b", inputs=(a + "/part-0.parquet",)),
        ev("read", b, 60, job="build_c"),
        ev("write", c, 60, job="build_c", inputs=(b, "s3a://old-bucket/dropped/table")),
        ev("write", c, 10, job="build_c", inputs=(b,)),
        ev("write", c, 5, job=None, actor="alice"),
        ev("write", c, 1, job="broken", success=False),
        ev("read", "sales.c", 20, job=None, actor="bi-user", table="sales.c"),
        ev("read", c + "/_delta_log/00000000000000000001.json", 100, job="auditor"),
        ev("read", "file:/elsewhere/x", 3),
        ev("read", "nobody.knows", 3, table="nobody.knows"),
    )
    data = UsageData(events=events, aliases={"sales.c": c})
    stats, graph, unmatched = compute_usage(data, DatasetIndex([a, b, c]), NOW)
    assert unmatched == 2
    sa, sb, sc = stats[a], stats[b], stats[c]
    assert sa.last_read == NOW - timedelta(days=200) and sa.last_written == NOW - timedelta(days=400)
    assert (sa.reads_30d, sa.reads_90d, sa.reads_365d) == (0, 0, 1)
    assert sa.readers == ("build_b",) and sa.writers == ("ingest",)
    assert sb.readers == ("build_c",) and (sb.reads_30d, sb.reads_90d) == (0, 1)
    assert sc.last_written == NOW - timedelta(days=5)  # the failed write does not count
    assert sc.writers == ("alice", "build_c")
    assert sc.last_write_by_job == {"build_c": NOW - timedelta(days=10), "alice": NOW - timedelta(days=5)}
    assert sc.readers == ("auditor", "bi-user") and (sc.reads_30d, sc.reads_365d) == (1, 2)
    assert sc.last_read == NOW - timedelta(days=20)

    assert graph.upstream(c) == {b, "s3a://old-bucket/dropped/table"}
    assert graph.upstream("file:/lake/warehouse/c/") == graph.upstream(c)
    assert graph.downstream(a) == {b} and graph.downstream(b) == {c} and graph.upstream(a) == set()
    edge = next(e for e in graph.edges if e.src == b)
    assert edge == LineageEdge(src=b, job="build_c", dst=c, last_seen=NOW - timedelta(days=10))
    assert graph.jobs_writing(c) == {"build_c"}

    doc = json.loads(json.dumps(graph.to_dict()))
    assert LineageGraph.from_dict(doc) == graph
    assert doc["version"] == 1 and doc["edges"][0]["last_seen"].endswith("Z")
    assert sc.to_dict()["last_write_by_job"]["alice"] == "2026-11-21T12:00:00Z"


def test_compute_usage_does_not_change_the_index() -> None:
    index = DatasetIndex(["file:/lake/t"])
    data = UsageData(events=(ev("read", "db.t", 1, table="db.t"),), aliases={"db.t": "file:/lake/t"})
    stats, _, unmatched = compute_usage(data, index, NOW)
    assert unmatched == 0 and stats["file:/lake/t"].reads_30d == 1
    assert index.lookup("db.t") is None


def test_coverage_window() -> None:
    def d(days: int) -> datetime:
        return NOW - timedelta(days=days)

    cov = [SourceCoverage("openlineage", "a", d(days=100), d(days=1), 5, 0),
           SourceCoverage("s3_access_log", "b", d(days=400), d(days=30), 9, 2),
           SourceCoverage("hdfs_audit", "c", None, None, 0, 7)]
    assert coverage_window(cov) == (d(days=400), d(days=1))
    assert coverage_window(cov, "openlineage") == (d(days=100), d(days=1))
    assert coverage_window(cov, "hdfs_audit") == (None, None)
    assert coverage_window([]) == (None, None)
    usage_source = cov[1].to_usage_source()
    assert usage_source.to_dict()["events"] == 9 and usage_source.to_dict()["from"].endswith("Z")


def test_a_directory_read_counts_for_the_datasets_inside_it() -> None:
    files = ["file:/lake/exports/a.csv", "file:/lake/exports/b.csv", "file:/lake/exports/sub/c.json"]
    index = DatasetIndex([*files, "file:/lake/exportsX/d.csv", "s3a://b/exports/e.csv"])
    assert index.contained("file:/lake/exports/") == tuple(files)
    assert index.contained("/lake/exports/a.csv") == ()
    assert index.contained("db.table") == ()
    spark_read = ev("read", "file:/lake/exports", 1, job="monthly_report")
    s3_probe = AccessEvent(time=NOW, kind="read", uri="s3a://b/exports", actor="scanner", job=None,
                           source="s3_access_log")
    stats, _, unmatched = compute_usage(UsageData(events=(spark_read, s3_probe)), index, NOW)
    assert sorted(stats) == files and all(s.readers == ("monthly_report",) for s in stats.values())
    assert unmatched == 1  # an object-level directory key is a probe, not a read of what is below

"""Usage and lineage from real Spark jobs: a separate Spark application (a child process, so the
shared ``spark`` fixture is untouched) runs with the OpenLineage listener (file transport) and
Spark event logging — once with a plain JSON event log, once with Spark 4's default rolling,
zstd-compressed one — over a small lake: parquet A → parquet B → Delta C (created, then appended
to), C read back, B saved as the catalog table ``sales.orders``, and a write that fails. rotscan
then reads what Spark wrote."""

from __future__ import annotations

import getpass
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from importlib import resources
from pathlib import Path

import pytest

from rotscan.config import load_config
from rotscan.spark.jars import cached_jars, resolve_jars
from rotscan.usage.delta_history import read_delta_history
from rotscan.usage.mapping import DatasetIndex
from rotscan.usage.reader import detect_format, read_usage
from rotscan.usage.stats import compute_usage

pytestmark = pytest.mark.spark

JOB = """\
import json, sys, time
launch = time.time()
from pyspark.sql import SparkSession
out, jars, mode, log4j = sys.argv[1:5]
lake = out + "/lake"
conf = {
    "spark.master": "local[2]", "spark.app.name": "usage-" + mode, "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "2", "spark.databricks.delta.snapshotPartitions": "2",
    "spark.jars": jars, "spark.sql.session.timeZone": "UTC",
    "spark.driver.extraJavaOptions": "-Dlog4j2.configurationFile=" + log4j,
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
    "spark.sql.warehouse.dir": out + "/warehouse",
    "spark.extraListeners": "io.openlineage.spark.agent.OpenLineageSparkListener",
    "spark.openlineage.transport.type": "file",
    "spark.openlineage.transport.location": out + "/ol.jsonl",
    "spark.openlineage.namespace": "rotscan-test",
    "spark.eventLog.enabled": "true", "spark.eventLog.dir": out + "/eventlog",
}
if mode == "plain":
    conf["spark.eventLog.compress"] = "false"
    conf["spark.eventLog.rolling.enabled"] = "false"
builder = SparkSession.builder
for key, value in conf.items():
    builder = builder.config(key, value)
spark = builder.getOrCreate()
marks = {"launch": launch, "start": time.time()}
spark.range(0, 200).selectExpr("id", "id % 5 AS k").write.parquet(lake + "/raw/a")
marks["wrote_a"] = time.time()
spark.read.parquet(lake + "/raw/a").filter("k > 0").write.parquet(lake + "/staging/b")
marks["wrote_b"] = time.time()
spark.read.parquet(lake + "/staging/b").write.format("delta").save(lake + "/warehouse/c")
spark.read.parquet(lake + "/staging/b").limit(10).write.format("delta").mode("append").save(lake + "/warehouse/c")
marks["wrote_c"] = time.time()
spark.read.format("delta").load(lake + "/warehouse/c").filter("id > 5").groupBy("k").count().collect()
marks["read_c"] = time.time()
spark.sql("CREATE DATABASE IF NOT EXISTS sales")
spark.read.parquet(lake + "/staging/b").write.format("delta").saveAsTable("sales.orders")
try:
    spark.read.parquet(lake + "/raw/a").selectExpr("id", "raise_error('boom') AS x").write.parquet(lake + "/staging/failed")
except Exception:
    pass
marks["end"] = time.time()
spark.stop()
with open(out + "/marks.json", "w") as fh:
    json.dump(marks, fh)
"""


def _jars() -> list[str]:
    config = load_config()
    jars = cached_jars(config, ["delta", "openlineage"], os.environ)
    if jars is None:
        missing = [g for g in ("delta", "openlineage") if cached_jars(config, [g], os.environ) is None]
        resolve_jars(config, missing, os.environ)
        jars = cached_jars(config, ["delta", "openlineage"], os.environ)
    assert jars, "the delta and openlineage jars could not be resolved into the jar cache"
    return jars


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, dict[str, datetime]]]:
    """Run the job twice in parallel child processes: plain and rolling/zstd event logs."""
    jars = ",".join(_jars())
    log4j = str(resources.files("rotscan.spark").joinpath("log4j2.properties"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYSPARK_GATEWAY", "PYSPARK_SUBMIT"))}
    env.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    procs = {}
    for mode in ("plain", "rolling"):
        out = tmp_path_factory.mktemp(f"usage-{mode}")
        (out / "eventlog").mkdir()
        log = (out / "job.log").open("w")
        procs[mode] = (out, log, subprocess.Popen([sys.executable, "-c", JOB, str(out), jars, mode, log4j],
                                                  stdout=log, stderr=subprocess.STDOUT, env=env))
    result = {}
    for mode, (out, log, proc) in procs.items():
        code = proc.wait(timeout=900)
        log.close()
        assert code == 0, (out / "job.log").read_text()[-4000:]
        marks = {k: datetime.fromtimestamp(v, tz=timezone.utc)
                 for k, v in json.loads((out / "marks.json").read_text()).items()}
        result[mode] = (out, marks)
    return result


def lake_uris(out: Path) -> dict[str, str]:
    base = f"file:{out.resolve()}"
    return {"a": f"{base}/lake/raw/a", "b": f"{base}/lake/staging/b", "c": f"{base}/lake/warehouse/c",
            "orders": f"{base}/warehouse/sales.db/orders", "failed": f"{base}/lake/staging/failed"}


def within(t: datetime, marks: dict[str, datetime], start: str = "launch", end: str = "end") -> bool:
    return marks[start] - timedelta(seconds=2) <= t <= marks[end] + timedelta(seconds=2)


def test_openlineage_events_of_real_jobs(runs) -> None:  # type: ignore[no-untyped-def]
    out, marks = runs["plain"]
    ol = out / "ol.jsonl"
    assert detect_format(ol, ol.read_bytes()[:8192]) == "openlineage"
    data = read_usage([str(ol)])
    assert not data.warnings
    [cov] = data.coverage
    assert cov.kind == "openlineage" and cov.bad_lines == 0 and cov.events == len(data.events) > 0
    assert within(cov.start, marks, end="wrote_a") and within(cov.end, marks)
    u = lake_uris(out)
    ok = [e for e in data.events if e.success]
    writes = {(e.uri, e.inputs) for e in ok if e.kind == "write"}
    assert (u["b"], (u["a"],)) in writes
    assert (u["c"], (u["b"],)) in writes
    assert sum(1 for e in ok if e.kind == "write" and e.uri == u["c"]) == 2  # created, then appended to
    assert (u["orders"], (u["b"],)) in writes
    reads = {e.uri for e in ok if e.kind == "read"}
    assert {u["a"], u["b"]} <= reads
    assert all(e.job and e.job.startswith("rotscan-test.usage_plain") for e in data.events)
    assert {e.actor for e in data.events} == {getpass.getuser()}
    assert all(within(e.time, marks) for e in data.events)
    assert data.aliases["sales.orders"] == u["orders"]  # from the symlinks facet
    [b_write] = [e for e in ok if e.kind == "write" and e.uri == u["b"]]
    assert within(b_write.time, marks, "wrote_a", "wrote_b")


@pytest.mark.parametrize("mode", ["plain", "rolling"])
def test_spark_event_logs_of_real_jobs(runs, mode: str) -> None:  # type: ignore[no-untyped-def]
    out, marks = runs[mode]
    logs = list((out / "eventlog").iterdir())
    assert len(logs) == 1
    if mode == "plain":
        assert logs[0].is_file() and not logs[0].name.endswith(".inprogress")
        assert detect_format(logs[0], logs[0].read_bytes()[:8192]) == "spark_eventlog"
    else:  # Spark 4's default: a rolling directory of zstd-compressed parts
        assert logs[0].is_dir() and logs[0].name.startswith("eventlog_v2_")
        parts = sorted(p.name for p in logs[0].iterdir())
        assert any(p.startswith("events_1_") and p.endswith(".zstd") for p in parts)
        assert any(p.startswith("appstatus_") for p in parts)
    data = read_usage([str(out / "eventlog")])
    assert not data.warnings
    [cov] = data.coverage
    assert cov.kind == "spark_eventlog" and cov.bad_lines == 0
    assert within(cov.start, marks, end="wrote_a") and cov.end >= marks["end"] - timedelta(seconds=2)
    u = lake_uris(out)
    events = data.events
    assert {(e.job, e.actor) for e in events} == {(f"usage-{mode}", getpass.getuser())}
    ok = [e for e in events if e.success]
    writes = [(e.uri, e.inputs) for e in ok if e.kind == "write"]
    assert (u["a"], ()) in writes
    assert (u["b"], (u["a"],)) in writes
    assert writes.count((u["c"], (u["b"],))) == 2
    assert ("sales.orders", (u["b"],)) in writes  # saveAsTable: the plan names the table, not its path
    reads = {e.uri for e in ok if e.kind == "read"}
    assert {u["a"], u["b"], u["c"]} <= reads
    [failed] = [e for e in events if e.kind == "write" and e.uri == u["failed"]]
    assert failed.success is False  # SQLExecutionEnd.errorMessage
    [read_c] = [e for e in ok if e.kind == "read" and e.uri == u["c"] and within(e.time, marks, "wrote_c", "read_c")]
    assert read_c.time >= marks["wrote_c"] - timedelta(seconds=1)


def test_usage_stats_and_lineage_of_real_jobs(runs) -> None:  # type: ignore[no-untyped-def]
    out, marks = runs["plain"]
    u = lake_uris(out)
    data = read_usage([str(out / "ol.jsonl"), str(out / "eventlog")])
    assert sorted(c.kind for c in data.coverage) == ["openlineage", "spark_eventlog"]
    index = DatasetIndex([u["a"], u["b"], u["c"], u["orders"]])
    as_of = marks["end"] + timedelta(days=1)
    stats, graph, unmatched = compute_usage(data, index, as_of)
    a, b, c, orders = stats[u["a"]], stats[u["b"]], stats[u["c"]], stats[u["orders"]]
    assert a.last_read is not None and a.reads_30d >= 2  # OpenLineage and the event log both saw it
    assert b.last_written is not None and b.last_read is not None and b.last_read >= b.last_written
    assert c.last_written is not None and within(c.last_written, marks, "wrote_b", "wrote_c")
    assert c.last_read is not None and within(c.last_read, marks, "wrote_c", "read_c")
    assert "usage-plain" in c.writers and any(w.startswith("rotscan-test.usage_plain") for w in c.writers)
    assert set(c.last_write_by_job) == set(c.writers)
    # the event log names sales.orders only by table; the OpenLineage symlink resolves it
    assert "usage-plain" in orders.writers
    assert graph.upstream(u["c"]) == {u["b"]}
    assert graph.upstream(u["b"]) == {u["a"]}
    assert graph.downstream(u["a"]) == {u["b"]}
    assert graph.downstream(u["b"]) == {u["c"], u["orders"]}
    assert unmatched > 0  # raw/a's failed sibling write to staging/failed is in no dataset of the index
    assert all(e.uri.startswith(f"file:{out.resolve()}") or not e.uri.startswith("file:") for e in data.events)


def test_delta_history_of_a_real_delta_spark_table(runs) -> None:  # type: ignore[no-untyped-def]
    out, marks = runs["rolling"]
    src = read_delta_history(out / "lake" / "warehouse" / "c")
    assert [e.kind for e in src.events] == ["write", "write"]
    assert all(e.job and e.job.startswith("Apache-Spark/") and "Delta-Lake/" in (e.job or "") for e in src.events)
    assert all(within(e.time, marks, "wrote_b", "wrote_c") for e in src.events)
    assert src.bad_lines == 0 and not src.warnings

"""The spark-submit job on a real Spark standalone cluster (master + one worker started from the
pyspark install, on 127.0.0.1) finds what a local ``rotscan scan`` of the same lake finds.

The package goes to the cluster as a wheel with ``--py-files``: the driver imports ``rotscan`` from
it (checked), and the executors get it on their path too. The scan's Spark work itself (row counts,
signatures) is pure Spark SQL, so executors run no Python for it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from rotscan.cli import main
from rotscan.config import load_config
from rotscan.spark.jars import cached_jars
from rotscan.uri import parse

from ..lakes import build_trivial_lake
from . import test_s3a as s3a_lake
from .test_s3a import _DRIVER_VARS, free_port

pytestmark = pytest.mark.spark

s3 = s3a_lake.s3  # moto's S3 with the s3a test lake uploaded (a module-scoped fixture)

REPO = Path(__file__).resolve().parents[2]


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


def spark_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _DRIVER_VARS}
    env.update(SPARK_HOME=str(spark_home()), SPARK_LOCAL_IP="127.0.0.1", PYSPARK_PYTHON=sys.executable,
               PYSPARK_DRIVER_PYTHON=sys.executable, **extra)
    return env


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop a daemon and everything it started (its own process group), even if it hangs."""
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _json(url: str) -> dict:  # type: ignore[type-arg]
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read().decode("utf-8"))  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Cluster:
    url: str  # spark://127.0.0.1:PORT
    ui: str  # the master's web UI, whose /json/ gives workers and applications
    work_dir: Path  # the worker's directory of executor sandboxes


@pytest.fixture(scope="module")
def cluster(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A standalone master and one worker (1 core, 1g), torn down whatever happens."""
    base = tmp_path_factory.mktemp("cluster")
    port, ui_port, worker_ui = free_port(), free_port(), free_port()
    env = spark_env(SPARK_LOG_DIR=str(base / "logs"), SPARK_WORKER_DIR=str(base / "work"))
    procs: list[subprocess.Popen[bytes]] = []

    def teardown() -> None:
        for p in reversed(procs):
            _stop(p)

    request.addfinalizer(teardown)
    spark_class = str(spark_home() / "bin" / "spark-class")

    def start(name: str, *args: str) -> None:
        with (base / f"{name}.log").open("wb") as log:
            procs.append(subprocess.Popen([spark_class, *args], env=env, cwd=base, stdin=subprocess.DEVNULL,
                                          stdout=log, stderr=subprocess.STDOUT, start_new_session=True))

    url, ui = f"spark://127.0.0.1:{port}", f"http://127.0.0.1:{ui_port}"
    start("master", "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
          "--webui-port", str(ui_port))
    start("worker", "org.apache.spark.deploy.worker.Worker", url, "--host", "127.0.0.1", "--cores", "1",
          "--memory", "1g", "--webui-port", str(worker_ui), "--work-dir", str(base / "work"))
    deadline = time.monotonic() + 120
    while True:
        dead = [p for p in procs if p.poll() is not None]
        assert not dead, f"a cluster daemon exited: see {base}/*.log"
        try:
            if [w for w in _json(f"{ui}/json/")["workers"] if w["state"] == "ALIVE"]:
                break
        except OSError:
            pass
        assert time.monotonic() < deadline, f"no worker registered within 120 s: see {base}/*.log"
        time.sleep(1)
    yield Cluster(url=url, ui=ui, work_dir=base / "work")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run(["bash", str(REPO / "scripts" / "build_wheel.sh"), str(out)], capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    return Path(done.stdout.strip().splitlines()[-1])


def write_copies(spark, root: Path) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """A Delta table, a Parquet copy and a Delta copy of it (the copies are exact duplicates)."""
    from pyspark.sql import functions as F

    sales = spark.range(0, 2000).select(F.col("id").alias("sale_id"), (F.col("id") % 5).alias("shop"),
                                        (F.col("id") * 2.5).alias("amount"))
    sales.write.format("delta").save(str(root / "warehouse/sales"))
    sales.coalesce(2).write.parquet(str(root / "backup/sales_parquet"))
    sales.repartition(3).write.format("delta").save(str(root / "backup/sales_delta"))
    return {"backup/sales_parquet": "exact_duplicate", "backup/sales_delta": "exact_duplicate"}


@pytest.fixture(scope="module")
def lake(spark, tmp_path_factory) -> tuple[Path, dict[str, str]]:  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("lake")
    planted = build_trivial_lake(root)
    planted.update(write_copies(spark, root))
    return root, planted


def summary(doc: dict, root: Path) -> tuple[set[tuple[str, str]], dict[str, tuple]]:  # type: ignore[type-arg]
    base = parse(str(root))
    findings = {(parse(f["uri"]).relative_to(base), f["kind"]) for f in doc["findings"]}
    datasets = {parse(d["uri"]).relative_to(base): (d["format"], d["files"], d["bytes"], d["rows"])
                for d in doc["datasets"]}
    return findings, datasets


LOG4J_LINE = re.compile(r"^\d\d/\d\d/\d\d \d\d:\d\d:\d\d (TRACE|DEBUG|INFO|WARN|ERROR) ")
RESULT_LINE = re.compile(r"^(\d+) datasets, (\d+) findings \(([\d,]+) bytes reclaimable\), (\d+) warnings -> ")


def test_spark_submit_on_standalone_cluster_matches_local_scan(cluster: Cluster, wheel: Path, lake, spark,  # type: ignore[no-untyped-def]
                                                               tmp_path: Path) -> None:
    root, planted = lake
    local_out = tmp_path / "local"
    t0 = time.monotonic()
    result = CliRunner().invoke(main, ["scan", str(root), "--out", str(local_out), "--quiet"])
    local_s = time.monotonic() - t0
    assert result.exit_code == 0, result.output
    local = json.loads((local_out / "findings.json").read_text())

    jars = cached_jars(load_config(), ("delta",), os.environ)
    assert jars, "the jar cache has no Delta jars (run `rotscan setup`)"
    cluster_out = tmp_path / "cluster"
    cmd = [str(spark_home() / "bin" / "spark-submit"), "--master", cluster.url, "--deploy-mode", "client",
           "--conf", "spark.sql.shuffle.partitions=2", "--conf", "spark.ui.enabled=false",
           "--jars", ",".join(jars), "--py-files", str(wheel),
           str(REPO / "jobs" / "rotscan_job.py"), "scan", str(root), "--out", str(cluster_out)]
    t0 = time.monotonic()
    done = subprocess.run(cmd, env=spark_env(), cwd=tmp_path, capture_output=True, text=True, timeout=900,
                          check=False)
    cluster_s = time.monotonic() - t0
    print(f"local scan {local_s:.1f}s, spark-submit on the standalone cluster {cluster_s:.1f}s")
    assert done.returncode == 0, done.stderr[-5000:]

    # spark-submit merges the Python driver's stderr (progress lines, Python warnings) into its own
    # stdout; the JVM's log4j lines go to stderr. The result line is found by its shape, exactly once.
    out_lines = done.stdout.splitlines()
    assert not [ln for ln in out_lines if LOG4J_LINE.match(ln)], done.stdout
    results = [m for m in map(RESULT_LINE.match, out_lines) if m]
    assert len(results) == 1, done.stdout
    doc = json.loads((cluster_out / "findings.json").read_text())
    assert (int(results[0][1]), int(results[0][2])) == (len(doc["datasets"]), len(doc["findings"]))

    # the job ran in the session spark-submit gave it, on the cluster, with rotscan from the wheel
    job_lines = [ln for ln in out_lines if ln.startswith("rotscan_job: ")]
    assert len(job_lines) == 1, done.stdout
    assert "session=provided" in job_lines[0] and f"master={cluster.url} " in job_lines[0], job_lines[0]
    assert f"rotscan={wheel}/rotscan/__init__.py" in job_lines[0], job_lines[0]
    apps = _json(f"{cluster.ui}/json/")["completedapps"]
    assert [a for a in apps if a["state"] == "FINISHED"], apps
    sandboxes = list(cluster.work_dir.glob("app-*/*/stderr"))
    assert sandboxes, "no executor ran on the worker"
    assert list(cluster.work_dir.glob(f"app-*/*/{wheel.name}")), "the wheel was not shipped to the executor"

    # the same findings and dataset rows as the local run
    local_findings, local_datasets = summary(local, root)
    cluster_findings, cluster_datasets = summary(doc, root)
    assert cluster_findings == local_findings
    assert cluster_datasets == local_datasets
    assert {(path, kind) for path, kind in planted.items()} <= cluster_findings
    assert cluster_datasets["warehouse/sales"] == ("delta", *cluster_datasets["warehouse/sales"][1:3], 2000)
    assert cluster_datasets["backup/sales_parquet"][3] == 2000
    assert {w["code"] for w in doc["warnings"]} == {w["code"] for w in local["warnings"]}


def test_distributed_listing_and_state_on_standalone_cluster(cluster: Cluster, wheel: Path, lake, spark,  # type: ignore[no-untyped-def]
                                                             tmp_path: Path) -> None:
    """The executors of the real cluster list the lake (the wheel brings the crawler to them) and a
    second submission reuses the scan state: both give the local run's findings."""
    root, planted = lake
    local_out = tmp_path / "local"
    result = CliRunner().invoke(main, ["scan", str(root), "--out", str(local_out), "--quiet"])
    assert result.exit_code == 0, result.output
    local_findings, local_datasets = summary(json.loads((local_out / "findings.json").read_text()), root)

    jars = cached_jars(load_config(), ("delta",), os.environ)
    state = tmp_path / "state"
    outs = []
    for run in ("first", "again"):
        out = tmp_path / run
        cmd = [str(spark_home() / "bin" / "spark-submit"), "--master", cluster.url, "--deploy-mode", "client",
               "--conf", "spark.sql.shuffle.partitions=2", "--conf", "spark.ui.enabled=false",
               "--jars", ",".join(jars), "--py-files", str(wheel),
               str(REPO / "jobs" / "rotscan_job.py"), "scan", str(root), "--out", str(out),
               "--listing", "distributed", "--state", str(state)]
        done = subprocess.run(cmd, env=spark_env(), cwd=tmp_path, capture_output=True, text=True, timeout=900,
                              check=False)
        assert done.returncode == 0, done.stderr[-5000:]
        assert "listed by the executors" in done.stdout, done.stdout
        outs.append((json.loads((out / "findings.json").read_text()), done.stdout))

    (first, _), (again, again_log) = outs
    assert first["scan"]["incremental"]["profiled"] > 0
    assert again["scan"]["incremental"]["profiled"] == 0, again_log
    assert again["scan"]["incremental"]["reused"] == first["scan"]["incremental"]["profiled"]
    for doc in (first, again):
        findings, datasets = summary(doc, root)
        assert findings == local_findings
        assert datasets == local_datasets
    assert {(path, kind) for path, kind in planted.items()} <= local_findings


def test_wheel_holds_the_package_data(wheel: Path) -> None:
    """What the job reads from inside the zipped package: defaults, log4j2 config, report templates."""
    import zipfile

    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"rotscan/defaults.toml", "rotscan/spark/log4j2.properties", "rotscan/report/templates/report.html.j2",
            "rotscan/py.typed"} <= names


def test_spark_submit_scans_s3a_on_the_cluster(cluster: Cluster, wheel: Path, s3: s3a_lake.S3, tmp_path: Path) -> None:
    """The job on the cluster with an s3a:// root (moto on 127.0.0.1) finds what a local s3a scan
    finds. The worker was started without any AWS settings: endpoint and keys reach the executors
    only through the session's Hadoop configuration (``spark.hadoop.*`` from rotscan's config file)."""
    local_tmp = tmp_path / "local"
    local_tmp.mkdir()
    local_done, local_out, local_s = s3a_lake.run_scan(local_tmp, s3, keys_in_config=True)
    assert local_done.returncode == 0, local_done.stdout + local_done.stderr[-5000:]

    config = s3a_lake.write_config(tmp_path / "rotscan.toml", s3, keys_in_config=True)
    delta = cached_jars(load_config(), ("delta",), os.environ)
    s3a = cached_jars(load_config(), ("s3a",), os.environ)
    assert delta and s3a, "the jar cache lacks the delta or s3a jars (run `rotscan setup`)"
    # the s3a jars are on this machine (every "node"): put them on the class paths rather than copy
    # the ~650 MB AWS SDK bundle into each executor's sandbox with --jars
    class_path = os.pathsep.join(s3a)
    out = tmp_path / "cluster"
    cmd = [str(spark_home() / "bin" / "spark-submit"), "--master", cluster.url, "--deploy-mode", "client",
           "--conf", "spark.sql.shuffle.partitions=2", "--conf", "spark.ui.enabled=false",
           "--conf", f"spark.driver.extraClassPath={class_path}",
           "--conf", f"spark.executor.extraClassPath={class_path}",
           "--jars", ",".join(delta), "--py-files", str(wheel),
           str(REPO / "jobs" / "rotscan_job.py"), "scan", f"s3a://{s3a_lake.BUCKET}/lake", "--out", str(out),
           "--config", str(config)]
    t0 = time.monotonic()
    done = subprocess.run(cmd, env=spark_env(), cwd=tmp_path, capture_output=True, text=True, timeout=900,
                          check=False)
    print(f"local s3a scan {local_s:.1f}s, spark-submit s3a scan on the standalone cluster "
          f"{time.monotonic() - t0:.1f}s")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    job_lines = [ln for ln in done.stdout.splitlines() if ln.startswith("rotscan_job: ")]
    assert len(job_lines) == 1 and "session=provided" in job_lines[0] and "s3a=True" in job_lines[0], done.stdout
    assert s3a_lake.SECRET_KEY not in done.stdout + done.stderr
    # the cluster's executors read the small CSV exports from the bucket with pyarrow (the wheel
    # brings rotscan.spark.arrow_profile to them), as a local scan's do
    assert "3 small CSV dataset(s) profiled with pyarrow on the executors" in done.stdout + done.stderr

    local = json.loads((local_out / "findings.json").read_text())
    remote = json.loads((out / "findings.json").read_text())
    for doc in (local, remote):
        assert all(f["uri"].startswith(f"s3a://{s3a_lake.BUCKET}/lake/") for f in doc["findings"])
    assert {(f["uri"], f["kind"]) for f in remote["findings"]} == {(f["uri"], f["kind"]) for f in local["findings"]}
    assert {d["uri"]: (d["format"], d["files"], d["bytes"], d["rows"]) for d in remote["datasets"]} == \
        {d["uri"]: (d["format"], d["files"], d["bytes"], d["rows"]) for d in local["datasets"]}
    assert len(remote["findings"]) == 4 and remote["warnings"] == local["warnings"] == []

"""Catalog tables with a real Hive metastore: Spark's own catalog with Hive support over an
embedded Derby metastore, and a standalone metastore service on 127.0.0.1 reached through
``hive.metastore.uris`` (what a shared metastore looks like).

Each runs in a child process (tests/spark/catalog_hive_job.py): a Hive-enabled session is fixed
when its JVM starts, and the suite's shared ``spark`` fixture has none. One run per metastore; the
tests below check its JSON record: the catalog read, the scan (tables named, unregistered data,
broken tables, owners, the keeper of copies), and cleanup (refusals, dropping only EXTERNAL table
entries with their DDL saved, restore re-creating them with the same rows)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.spark

REPO = Path(__file__).resolve().parents[2]
JOB = Path(__file__).with_name("catalog_hive_job.py")
METASTORE = Path(__file__).parent / "hive_metastore" / "LocalMetastore.java"
TIMEOUT = 1800


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYSPARK_GATEWAY", "PYSPARK_SUBMIT"))}
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    return env


def _run_job(out: Path, *args: str) -> dict[str, Any]:
    # cwd: Derby and Spark drop derby.log / spark-warehouse into the working directory
    proc = subprocess.run([sys.executable, str(JOB), str(out), *args], cwd=out.parent, capture_output=True,
                          text=True, timeout=TIMEOUT, env=_env())
    assert proc.returncode == 0, proc.stderr[-6000:]
    doc: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return doc


def rel(doc: dict[str, Any], uri: str) -> str:
    return uri.removeprefix("file:" + doc["lake"] + "/")


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _run_job(tmp_path_factory.mktemp("hive-embedded") / "out", "embedded")


def by_rel(doc: dict[str, Any], items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {rel(doc, x["uri"]): x for x in items}


def test_catalog_read_names_every_table_with_canonical_locations(embedded: dict[str, Any]) -> None:
    tables = {t["name"]: t for t in embedded["catalog"]}
    lake = "file:" + embedded["lake"]
    assert embedded["complete"]
    assert tables["sales.orders"]["location"] == f"{lake}/warehouse/orders"
    assert tables["sales.orders"]["properties"]["team"] == "sales-eng"
    assert (tables["sales.events"]["format"], tables["sales.customers"]["format"]) == ("delta", "csv")
    assert tables["sales.scratch_copy"]["table_type"] == "MANAGED"
    assert tables["sales.clicks"]["partitions"] == 3
    assert tables["sales.clicks"]["partition_locations"] == [f"{lake}/landing/clicks_d3"]  # the one outside it
    assert tables["sales.gone"]["location"] == f"{lake}/warehouse/gone"  # read although its location is gone
    assert tables["sales.big_orders"]["table_type"] == "VIEW" and tables["sales.big_orders"]["location"] is None
    assert tables["sales.orders"]["owner"] == embedded["user"]


def test_datasets_are_registered_or_not(embedded: dict[str, Any]) -> None:
    ds = by_rel(embedded, embedded["result"]["datasets"])
    assert (ds["warehouse/orders"]["table"], ds["warehouse/orders"]["registered"]) == ("sales.orders", True)
    assert (ds["warehouse/events"]["table"], ds["warehouse/events"]["registered"]) == ("sales.events", True)
    # a partition kept outside its table's directory is registered as that table
    assert (ds["landing/clicks_d3"]["table"], ds["landing/clicks_d3"]["registered"]) == ("sales.clicks", True)
    assert (ds["mirror/orders"]["table"], ds["mirror/orders"]["registered"]) == (None, False)
    assert ds["snapshots/orders_drift"]["registered"] is False
    cov = embedded["result"]["scan"]["catalog"]
    assert cov["read"] and cov["complete"] and cov["databases"] == ["default", "sales"]
    assert (cov["tables_outside_roots"], cov["tables_without_location"], cov["broken_tables"]) == (1, 1, 2)
    assert cov["unregistered_datasets"] == 2


def test_findings_name_tables_and_registration_is_evidence(embedded: dict[str, Any]) -> None:
    f = by_rel(embedded, embedded["result"]["findings"])
    mirror = f["mirror/orders"]
    assert mirror["kind"] == "exact_duplicate" and mirror["evidence"]["registered"] is False
    # the registered parquet table is kept over the unregistered Delta copy (format alone would keep Delta)
    assert rel(embedded, mirror["related"][0]) == "warehouse/orders"
    assert "registered as catalog table sales.orders, the copy is in no catalog table" in mirror["explanation"]
    backup = f["backup/orders_backup"]
    assert backup["table"] == "sales.orders_backup" and backup["evidence"]["registered"] is True
    assert f["warehouse/orders/.DS_Store"]["table"] == "sales.orders"  # a file inside a table names it
    near = f["snapshots/orders_drift"]
    assert near["kind"] == "near_duplicate" and near["evidence"]["registered"] is False
    raise_ = near["evidence"]["confidence_unregistered_raise"]
    assert 0 < raise_ <= 0.05 and near["explanation"].endswith("registered in no catalog table")
    assert "outside" not in json.dumps([x["uri"] for x in embedded["result"]["findings"]])


def test_broken_tables(embedded: dict[str, Any]) -> None:
    f = by_rel(embedded, embedded["result"]["findings"])
    gone, empty = f["warehouse/gone"], f["warehouse/empty_dir"]
    assert (gone["kind"], gone["category"], gone["action"], gone["table"]) == (
        "broken_table", "trivial", "review", "sales.gone")
    assert gone["reclaimable_bytes"] == 0 and gone["evidence"]["location_state"] == "missing"
    assert empty["kind"] == "broken_table" and empty["evidence"]["location_state"] == "empty"
    assert not any(x["kind"] == "broken_table" and x["table"] in ("sales.outside", "sales.orders", "sales.clicks")
                   for x in embedded["result"]["findings"])


def test_every_dataset_and_finding_has_its_owner(embedded: dict[str, Any]) -> None:
    ds = by_rel(embedded, embedded["result"]["datasets"])
    owners = {k: (v["owner"], v["owner_source"]) for k, v in ds.items()}
    assert owners["warehouse/orders"] == ("sales-eng", "catalog")  # table property
    assert owners["warehouse/events"] == ("events-team", "delta")  # Delta log property
    assert owners["mirror/orders"] == ("platform", "config")  # [owners.globs]
    assert owners["snapshots/orders_drift"] == ("team:analytics", "openlineage")  # ownership job facet
    assert owners["hive_wh/sales.db/scratch_copy"] == (embedded["user"], "catalog")  # metastore owner
    f = by_rel(embedded, embedded["result"]["findings"])
    assert (f["warehouse/orders/.DS_Store"]["owner"], f["mirror/orders"]["owner"]) == ("sales-eng", "platform")
    assert f["snapshots/orders_drift"]["evidence"]["owner_detail"].startswith("OpenLineage ownership facet of job")


def test_cleanup_refuses_registered_tables_without_the_option(embedded: dict[str, Any]) -> None:
    planned = {rel(embedded, k): v for k, v in embedded["planned"].items()}
    assert planned["backup/orders_backup"]["tables"] == ["sales.orders_backup"]
    assert embedded["plan_catalog"] is True
    first = {rel(embedded, k): v for k, v in embedded["first"].items()}
    assert first["backup/orders_backup"]["status"] == "skipped"
    assert "is the location of catalog table sales.orders_backup" in first["backup/orders_backup"]["reason"]
    assert "lies inside catalog table sales.customers" in first["warehouse/customers/part-1.csv"]["reason"]
    # unregistered data, and a hidden file the table's readers skip, are cleaned as usual
    assert first["mirror/orders"]["status"] == "done" and first["warehouse/orders/.DS_Store"]["status"] == "done"
    assert not any(g.startswith(("backup/", "warehouse/customers")) for g in embedded["first_gone"])
    # a plan from a scan that read the catalog, applied without one: every action refused
    no_cat = embedded["no_catalog_dry"]
    assert no_cat and all(v["status"] == "skipped" and "[catalog] is not enabled" in v["reason"]
                          for v in no_cat.values())


def test_drop_table_entries_then_restore_end_to_end(embedded: dict[str, Any]) -> None:
    second = {rel(embedded, k): v for k, v in embedded["second"].items()}
    for table, where in (("sales.orders_backup", "backup/orders_backup"), ("sales.clicks_old", "backup/clicks_old")):
        assert second[where]["status"] == "done", second[where]
        assert f"dropped the entry of catalog table(s) {table}" in second[where]["reason"]
        assert embedded["after_second"][table] is False  # the table entry is gone ...
        assert any(q.startswith(where + "/") for q in embedded["quarantined"])  # ... its files are in quarantine
    assert embedded["saved_ddl"] == ["sales.clicks_old.json", "sales.orders_backup.json"]
    ops = embedded["journal_ops"]
    assert ops.index("table_saved") < ops.index("table_dropped") < ops.index("intent")  # entry first, then files
    # a MANAGED table is never dropped (its DROP deletes data): refused, data and entry intact
    managed = second["hive_wh/sales.db/scratch_copy"]
    assert managed["status"] == "skipped" and "MANAGED" in managed["reason"]
    assert embedded["after_second"]["sales.scratch_copy"] is True
    assert embedded["rows_before"]["sales.scratch_copy"] == embedded["rows_after"]["sales.scratch_copy"]
    assert len(embedded["rows_before"]["sales.scratch_copy"]) == 300
    # restore: files back byte for byte, then the tables re-created from the saved DDL, same rows
    restore = {rel(embedded, k): v for k, v in embedded["restore"].items()}
    assert all(v["status"] == "done" for v in restore.values()), restore
    assert "re-created catalog table sales.clicks_old with 2 partition(s)" in restore["backup/clicks_old"]["reason"]
    assert embedded["tree_equal"]
    for table in ("sales.orders_backup", "sales.clicks_old"):
        assert embedded["rows_after"][table] == embedded["rows_before"][table] and embedded["rows_before"][table]
    assert embedded["clicks_old_partitions"] == ["day=d1", "day=d2"]


# -- a standalone metastore service, reached through hive.metastore.uris ---------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def metastore(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    """Hive 2.3's metastore service (pyspark's jars) on 127.0.0.1, with its own Derby database."""
    import pyspark

    base = tmp_path_factory.mktemp("hms")
    port = _free_port()
    jars = os.path.join(os.path.dirname(pyspark.__file__), "jars", "*")
    log = (base / "metastore.log").open("wb")
    proc = subprocess.Popen(["java", "-cp", jars, str(METASTORE), str(port), str(base)], cwd=base,
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 600
        while b"LISTENING" not in (base / "metastore.log").read_bytes():
            assert proc.poll() is None, (base / "metastore.log").read_text(errors="replace")[-4000:]
            assert time.monotonic() < deadline, "the metastore did not start in 600 s"
            time.sleep(1)
        yield port, base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_shared_metastore_through_thrift(metastore: tuple[int, Path], tmp_path: Path) -> None:
    """One process creates the tables through the metastore service (a team's job); `rotscan scan
    --metastore-uris` in another reads them: findings name the tables, broken ones are found."""
    port, hms_dir = metastore
    out = tmp_path / "out"
    doc = _run_job(out, "thrift", str(port))
    assert not doc["metastore_db_local"]  # no Derby of its own: the service holds the catalog
    # before any table existed: a catalog with no tables names nothing registered or unregistered
    assert doc["empty_catalog"] == {"read": False, "warnings": ["catalog_empty"]}
    assert (hms_dir / "metastore_db").is_dir()
    names = {t["name"] for t in doc["catalog"]}
    assert {"sales.orders", "sales.events", "sales.clicks", "sales.gone", "sales.outside"} <= names
    config = tmp_path / "rotscan.toml"
    config.write_text(f'[spark]\nmaster = "local[1]"\nshuffle_partitions = 1\n'
                      f'[catalog]\nconf = {{"spark.sql.warehouse.dir" = "{tmp_path / "wh"}"}}\n')
    scan_out = tmp_path / "scan"
    proc = subprocess.run([sys.executable, "-m", "rotscan", "scan", doc["lake"], "--out", str(scan_out), "--no-profile",
                           "--config", str(config), "--metastore-uris", f"thrift://127.0.0.1:{port}", "-q"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=TIMEOUT, env=_env())
    assert proc.returncode == 0, proc.stderr[-6000:]
    result = json.loads((scan_out / "findings.json").read_text())
    ds = by_rel(doc, result["datasets"])
    assert (ds["warehouse/orders"]["table"], ds["warehouse/orders"]["owner"]) == ("sales.orders", "sales-eng")
    assert ds["landing/clicks_d3"]["table"] == "sales.clicks"
    assert ds["warehouse/events"]["owner_source"] == "delta"
    f = by_rel(doc, result["findings"])
    assert f["warehouse/gone"]["kind"] == "broken_table" and f["warehouse/gone"]["table"] == "sales.gone"
    assert result["scan"]["catalog"]["source"] == f"Hive metastore thrift://127.0.0.1:{port}"
    assert not (tmp_path / "metastore_db").exists()

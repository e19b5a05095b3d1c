"""Issue #12's whole chain on one lake with metastore tables, every step the real thing a user runs:

``rotscan scan --config`` (a Hive-enabled session over an embedded Derby metastore) → the findings
name their tables and owners → a reviewer decides in ``report.html`` in headless Chromium (keeps one
copy and one junk file, approves another copy and a registered table's copy) and downloads the
decisions → ``rotscan decide OUT --import`` → ``rotscan run --json`` (dry: nothing changes) →
``rotscan run --execute`` applies only what the ``[run]`` policy allows unattended and what was
approved, never what was kept, and refuses the registered table → ``rotscan restore`` puts the lake
back byte for byte. Each CLI step is a subprocess (a Hive-enabled session is fixed when its JVM
starts; embedded Derby admits one JVM at a time, and these run one after another).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.browser_support import Chromium, ReportView, require_chromium
from tests.cleanup_support import tree
from tests.lakes import age

pytestmark = [pytest.mark.spark, pytest.mark.browser]

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 900

# Creates the catalog tables in the same metastore the CLI steps use (rotscan's own session, with
# the test's config: [catalog] enabled, embedded Derby).
CREATE_TABLES = textwrap.dedent("""
    import sys
    from rotscan.config import load_config
    from rotscan.spark.session import get_spark
    import os
    lake = sys.argv[2]
    spark = get_spark(load_config(sys.argv[1]), env=dict(os.environ))
    spark.sql("CREATE DATABASE sales")
    spark.sql(f"CREATE TABLE sales.orders (id BIGINT, amount BIGINT, note STRING) USING parquet "
              f"LOCATION '{lake}/warehouse/orders' TBLPROPERTIES ('team' = 'sales-eng')")
    spark.sql(f"CREATE TABLE sales.orders_backup (id BIGINT, amount BIGINT, note STRING) USING parquet "
              f"LOCATION '{lake}/backup/orders_backup'")
    spark.sql(f"CREATE TABLE sales.customers (id BIGINT, region STRING) USING parquet "
              f"LOCATION '{lake}/warehouse/customers' TBLPROPERTIES ('team' = 'crm')")
    print("tables:", sorted(r.tableName for r in spark.sql("SHOW TABLES IN sales").collect()))
    spark.stop()
""")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYSPARK_GATEWAY", "PYSPARK_SUBMIT"))}
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    return env


def _run(cwd: Path, *args: str, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT,
                          env=_env())
    assert proc.returncode in ok, f"{args[:3]} exited {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    return proc


def rotscan(cwd: Path, *args: str, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
    return _run(cwd, "-m", "rotscan", *args, ok=ok)


def _parquet(path: Path, data: dict[str, list[Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(data), path)


def build_lake(lake: Path) -> None:
    ids = list(range(2000))
    orders = {"id": ids, "amount": [i * 7 % 101 for i in ids], "note": [f"order {i}" for i in ids]}
    for where in ("warehouse/orders", "backup/orders_backup", "snapshots/orders_2023", "tmp/orders_scratch",
                  "mirror/orders_copy"):
        _parquet(lake / where / "part-00000.parquet", orders)
    # a registered reference table sharing the id key with orders, different rows: never a copy
    _parquet(lake / "warehouse" / "customers" / "part-00000.parquet",
             {"id": list(range(30000)), "region": [("north", "south", "east", "west")[i % 4] for i in range(30000)]})
    exports = lake / "exports"
    exports.mkdir()
    (exports / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1" + b"\x00" * 40)
    (exports / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 120)
    (exports / "empty.csv").write_bytes(b"")
    (exports / "summary.csv").write_text("region,total\n" + "".join(f"r{i},{i * 3}\n" for i in range(200)))


def config(out: Path, lake: Path) -> Path:
    derby = out / "metastore_db"
    path = out / "rotscan.toml"
    path.write_text(textwrap.dedent(f"""
        [spark]
        master = "local[2]"
        shuffle_partitions = 2

        [catalog]
        enabled = true
        conf = {{ "spark.sql.warehouse.dir" = "{out / 'hive_wh'}", "spark.hadoop.javax.jdo.option.ConnectionURL" = "jdbc:derby:;databaseName={derby};create=true" }}

        [owners.globs]
        "tmp/**" = "data-eng"
        "exports/**" = "bi"

        [run]
        auto_kinds = ["junk_file", "zero_byte"]
        max_lake_share = 0.9
    """), encoding="utf-8")
    return path


def rel(uri: str, lake: Path) -> str:
    return uri.removeprefix(f"file:{lake}/")


def decide_in_browser(report: Path, keep: list[str], approve: list[str], downloads: Path) -> Path:
    """Tick ``keep`` (with a reason) and ``approve`` in the report from file://, download the file."""
    with Chromium(require_chromium()) as browser, browser.page() as page:
        view = ReportView(page, report)
        view.load()
        page.evaluate("localStorage.clear(); true")
        view.load()
        for fid in keep:
            view.tick(fid)
        page.click("input[name='rotscan-decision'][value='keep']")
        view.fill("[data-reason]", "the 2023 year-end snapshot the auditors asked for")
        view.fill("[data-by]", "Ana Reviewer")
        page.click("[data-add]")
        assert view.text("[data-msg]").startswith(f"Recorded keep for {len(keep)} findings"), view.text("[data-msg]")
        for fid in approve:
            view.tick(fid)
        page.click("input[name='rotscan-decision'][value='approve']")
        view.fill("[data-reason]", "scratch and backup copies, not needed")
        page.click("[data-add]")
        assert view.text("[data-msg]").startswith(f"Recorded approve for {len(approve)} findings"), view.text("[data-msg]")
        browser.allow_downloads(downloads)
        since = len(browser.events)
        page.click("[data-download]")
        saved = browser.wait_for_download(downloads, since=since)
        view.assert_clean()
    return saved


def test_report_to_decisions_to_a_scheduled_run_on_a_lake_with_metastore_tables(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    lake = tmp_path / "lake"
    build_lake(lake)
    cfg = config(out, lake)
    made = _run(out, "-c", CREATE_TABLES, str(cfg), str(lake))
    assert "tables: ['customers', 'orders', 'orders_backup']" in made.stdout, made.stdout
    age(lake, 40)
    before = tree(lake)

    # 1. the scan names tables and owners
    scan_dir = out / "scan"
    rotscan(out, "scan", str(lake), "--out", str(scan_dir), "--config", str(cfg), "-q")
    doc = json.loads((scan_dir / "findings.json").read_text(encoding="utf-8"))
    assert tree(lake) == before, "a scan changed the lake"
    by_rel = {rel(f["uri"], lake): f for f in doc["findings"]}
    copies = {r: f for r, f in by_rel.items() if f["kind"] == "exact_duplicate"}
    assert set(copies) == {"backup/orders_backup", "snapshots/orders_2023", "tmp/orders_scratch",
                           "mirror/orders_copy"}, sorted(by_rel)
    assert all(rel(f["related"][0], lake) == "warehouse/orders" for f in copies.values()), copies
    assert copies["backup/orders_backup"]["table"] == "spark_catalog.sales.orders_backup" or \
        copies["backup/orders_backup"]["table"].endswith("sales.orders_backup"), copies["backup/orders_backup"]
    assert copies["tmp/orders_scratch"]["owner"] == "data-eng"
    assert copies["snapshots/orders_2023"]["owner"] is None  # unowned (README: null)
    datasets = {rel(d["uri"], lake): d for d in doc["datasets"]}
    assert datasets["warehouse/orders"]["owner"] == "sales-eng"
    assert datasets["warehouse/customers"]["table"].endswith("sales.customers")
    assert not any(r.startswith("warehouse/customers") for r in by_rel), "a reference table sharing a key was flagged"
    junk = {r: f for r, f in by_rel.items() if f["kind"] in ("junk_file", "zero_byte")}
    assert set(junk) == {"exports/.DS_Store", "exports/Thumbs.db", "exports/empty.csv"}, sorted(by_rel)
    assert all(f["owner"] == "bi" for f in junk.values())
    html = (scan_dir / "report.html").read_text(encoding="utf-8")
    assert "<strong>Catalog:</strong> 3 tables in 2 databases (default, sales)" in html
    assert "3 datasets registered, 5 in no table; 0 broken tables" in html

    # 2. decisions ticked in the report, downloaded, imported
    keep = [copies["snapshots/orders_2023"]["id"], junk["exports/Thumbs.db"]["id"]]
    approve = [copies["tmp/orders_scratch"]["id"], copies["backup/orders_backup"]["id"]]
    saved = decide_in_browser(scan_dir / "report.html", keep, approve, out / "downloads")
    exported = json.loads(saved.read_text(encoding="utf-8"))
    assert {d["finding_id"]: d["decision"] for d in exported["decisions"]} == {
        **{i: "keep" for i in keep}, **{i: "approve" for i in approve}}
    rotscan(out, "decide", str(scan_dir), "--import", str(saved), "--config", str(cfg))
    listed = json.loads(rotscan(out, "decide", str(scan_dir), "--list", "--json", "--config", str(cfg)).stdout)
    assert tree(lake) == before, "recording decisions changed the data"
    in_force = {f: (d["op"], d["status"]) for d in listed["decisions"] for f in d["findings"]}
    assert in_force == {**{i: ("keep", "applies") for i in keep}, **{i: ("approve", "applies") for i in approve}}, listed
    audit = [json.loads(line) for line in (lake / "_rotscan" / "audit.jsonl").read_text(encoding="utf-8").splitlines()]
    decided = {rel(r["uri"], lake): (r["decision"], r["by"], r["source"]) for r in audit if r.get("event") == "decision"}
    assert decided == {"snapshots/orders_2023": ("keep", "Ana Reviewer", "import"),
                       "exports/Thumbs.db": ("keep", "Ana Reviewer", "import"),
                       "tmp/orders_scratch": ("approve", "Ana Reviewer", "import"),
                       "backup/orders_backup": ("approve", "Ana Reviewer", "import")}, audit

    # 3. a scheduled dry run changes nothing and says what it would do
    work = out / "runs"
    dry = json.loads(rotscan(out, "run", str(lake), "--work", str(work), "--config", str(cfg), "--json", "-q").stdout)
    assert tree(lake) == before, "a dry run changed the lake"
    assert (dry["status"], dry["execute"], dry["apply"]["dry_run"], dry["apply"]["done"]) == ("ok", False, True, 3), dry

    # 4. the scheduled run acts: policy-allowed junk, the approved unregistered copy; never the kept
    #    ones, never the registered table's files, never the undecided copy
    ran = rotscan(out, "run", str(lake), "--work", str(work), "--config", str(cfg), "--execute", "--json", "-q",
                  ok=(0,))
    summary = json.loads(ran.stdout)
    assert (summary["status"], summary["exit_code"], summary["apply"]["done"]) == ("ok", 0, 3), summary
    after = tree(lake)
    gone = sorted(set(before) - set(after))
    assert gone == ["exports/.DS_Store", "exports/empty.csv", "tmp/orders_scratch/part-00000.parquet"], (gone, summary)
    assert all(after[p] == before[p] for p in after if p in before), "a kept file changed"
    applied = json.loads((Path(summary["dir"]) / "apply.json").read_text(encoding="utf-8"))
    status = {rel(a["uri"], lake): (a["status"], a["reason"]) for a in applied["actions"]}
    assert {r: s for r, (s, _) in status.items()} == {
        "exports/.DS_Store": "done", "exports/empty.csv": "done", "tmp/orders_scratch": "done",
        "backup/orders_backup": "skipped", "exports/Thumbs.db": "skipped", "snapshots/orders_2023": "skipped",
        "mirror/orders_copy": "skipped"}, status
    # approved, but the location of a registered table: refused by name, its files untouched
    assert status["backup/orders_backup"][1].startswith("refused: is the location of catalog table sales.orders_backup")
    assert status["exports/Thumbs.db"][1].startswith("not planned: kept by Ana Reviewer")  # kept beats auto policy
    assert status["snapshots/orders_2023"][1].startswith("not planned: kept by Ana Reviewer")
    assert "needs a reviewer's approval" in status["mirror/orders_copy"][1]
    assert [rel(h["uri"], lake) for h in summary["held"]] == ["mirror/orders_copy"]
    run_id = applied["run_id"]
    quarantined = [p for p in (lake / "_rotscan").rglob("*") if p.is_file() and run_id in str(p)
                   and p.name in ("part-00000.parquet", ".DS_Store", "empty.csv")]
    assert sorted(p.name for p in quarantined) == [".DS_Store", "empty.csv", "part-00000.parquet"], quarantined

    # 5. restore puts back every byte
    rotscan(out, "restore", run_id, "--root", str(lake), "--config", str(cfg), "-q")
    restored = tree(lake)
    assert {p: v[0] for p, v in restored.items()} == {p: v[0] for p, v in before.items()}

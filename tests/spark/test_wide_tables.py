"""Wide tables (100, 500, 1,000 columns) profile without code-generation failures, hash exactly as
the narrow path did, and Spark's log stays off the terminal (issue #11, item 2).

The tables are real Parquet and CSV files written by pyarrow with every kind of column the
canonical hash knows (integers, doubles, decimals, text, text that looks like a number, booleans,
timestamps, dates, nulls); the scans are real ``python -m rotscan scan`` processes.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import os
import re
import subprocess
import sys
from functools import reduce
from pathlib import Path
from typing import Any

import pytest

from rotscan.spark import logfile
from rotscan.spark.profile import WIDE_COLUMNS, column, load, profile, wide_plan, xor_all

pytestmark = pytest.mark.spark

ROWS = 300
CODEGEN_FAILURE = re.compile(r"Failed to compile|64 KB|grows beyond|StackOverflowError|CodeGenerator")


def wide_table(columns: int, rows: int = ROWS, seed: int = 0) -> Any:
    """A pyarrow table of ``columns`` mixed-type columns (nulls in every fifth row of some)."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    base = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
    out: dict[str, Any] = {}
    for j in range(columns):
        kind = j % 8
        nulls = (np.arange(rows) % 5 == j % 5) if j % 3 == 0 else None
        if kind == 0:
            a = pa.array(rng.integers(-1000, 1000, rows), mask=nulls)
        elif kind == 1:
            a = pa.array(rng.random(rows).round(4), mask=nulls)
        elif kind == 2:
            a = pa.array([f"v{x}" for x in rng.integers(0, 40, rows)], mask=nulls)
        elif kind == 3:
            a = pa.array(rng.random(rows) < 0.5, mask=nulls)
        elif kind == 4:
            a = pa.array([base + dt.timedelta(seconds=int(x)) for x in rng.integers(0, 10**8, rows)],
                         pa.timestamp("ms", tz="UTC"), mask=nulls)
        elif kind == 5:
            a = pa.array([base.date() + dt.timedelta(days=int(x)) for x in rng.integers(0, 5000, rows)], mask=nulls)
        elif kind == 6:
            a = pa.array([decimal.Decimal(int(x)).scaleb(-2) for x in rng.integers(0, 10**6, rows)],
                         pa.decimal128(10, 2), mask=nulls)
        else:  # text with leading zeros stays text, not the number
            a = pa.array([f"{x:04d}" for x in rng.integers(0, 500, rows)], mask=nulls)
        out[f"col_{j}"] = a
    return pa.table(out)


def write_parquet(table: Any, path: Path) -> Path:
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


def write_csv(table: Any, path: Path) -> Path:
    import pyarrow.csv as pcsv

    path.parent.mkdir(parents=True, exist_ok=True)
    pcsv.write_csv(table, path)
    return path


def log_errors(mark: logfile.LogMark) -> list[str]:
    found = logfile.errors_since(mark)
    assert found is not None, "the test session was started by rotscan, so Spark logs to a file"
    return found[1]


def log_text_since(mark: logfile.LogMark) -> str:
    path = logfile.current()
    assert path is not None
    if not path.exists():
        return ""
    data = path.read_bytes()
    return data[mark.offset if mark.path == path else 0:].decode("utf-8", errors="replace")


@pytest.mark.parametrize(("fmt", "width"), [("csv", 100), ("csv", 500), ("parquet", 100), ("parquet", 500),
                                            ("parquet", 1000)])
def test_wide_table_profiles_without_codegen_failure(spark, tmp_path: Path, fmt: str, width: int) -> None:  # type: ignore[no-untyped-def]
    """Before: a 100-column CSV logged "Failed to compile the generated Java code" (64 KB method
    limit) and fell back to slow code; 500 Parquet columns failed with StackOverflowError."""
    table = wide_table(width)
    path = (write_csv if fmt == "csv" else write_parquet)(table, tmp_path / f"t.{fmt}")
    mark = logfile.mark()
    got = profile(spark, fmt, [path.as_uri()], columns=list(table.column_names) if fmt == "csv" else None,
                  rows_estimate=ROWS)
    assert got.rows == ROWS and len(got.columns) == width
    assert got.signature is not None and got.signature.rows == ROWS
    text = log_text_since(mark)
    assert not CODEGEN_FAILURE.search(text), text[:3000]
    assert log_errors(mark) == []


def test_csv_and_parquet_copies_of_a_1000_column_table_hash_alike(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The signature of a 1,000-column table does not depend on the format it is stored in (the
    canonical hash on the wide path); the CSV is the heavier text-parsing expression."""
    table = wide_table(1000, rows=120)
    pq_path, csv_path = write_parquet(table, tmp_path / "t.parquet"), write_csv(table, tmp_path / "t.csv")
    mark = logfile.mark()
    a = profile(spark, "parquet", [pq_path.as_uri()], rows_estimate=120)
    b = profile(spark, "csv", [csv_path.as_uri()], columns=list(table.column_names), rows_estimate=120)
    assert a.signature is not None and b.signature is not None
    assert a.signature.checksum == b.signature.checksum and a.signature.mins == b.signature.mins
    assert not CODEGEN_FAILURE.search(log_text_since(mark))


def _left_fold(df: Any, names: list[str], text_source: bool) -> Any:
    """The row hash as it was built before wide tables: one left-deep XOR chain."""
    from rotscan.spark.canonical import value_hash

    types = {f.name: f.dataType for f in df.schema.fields}
    return reduce(lambda a, b: a.bitwiseXOR(b), [value_hash(column(n), n, types[n], text_source) for n in names])


def _new_hash(df: Any, names: list[str], text_source: bool) -> Any:
    from rotscan.spark.profile import _row_hash

    return _row_hash(df, names, text_source)[0]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_row_hash_equals_the_unchunked_left_fold_row_by_row(spark, tmp_path: Path, fmt: str) -> None:  # type: ignore[no-untyped-def]
    """Same values, row by row: a 50-column table hashed both ways (the old way still compiles at
    this width), and a 600-column table whose new hash equals the XOR of the old left folds over
    six 100-column projections of it (the old single fold over 600 columns overflows the stack)."""
    from pyspark.sql import functions as F

    for width, chunk in ((50, 50), (600, 100)):
        table = wide_table(width, rows=200, seed=width)
        path = (write_csv if fmt == "csv" else write_parquet)(table, tmp_path / f"w{width}.{fmt}")
        names = list(table.column_names)
        df = load(spark, fmt, [path.as_uri()], columns=names if fmt == "csv" else None)
        text = fmt == "csv"
        old = xor_all([_left_fold(df, names[i:i + chunk], text) for i in range(0, width, chunk)]) \
            if chunk < width else _left_fold(df, names, text)
        both = df.select(_new_hash(df, names, text).alias("new"), old.alias("old"))
        with wide_plan(spark, width):
            differ, rows = both.agg(F.sum((F.col("new") != F.col("old")).cast("int")), F.count(F.lit(1))).collect()[0]
        assert (differ, rows) == (0, 200), width


def test_wide_plan_restores_the_session_setting(spark) -> None:  # type: ignore[no-untyped-def]
    key = "spark.sql.codegen.wholeStage"
    before = spark.conf.get(key)
    with wide_plan(spark, WIDE_COLUMNS + 1):
        assert spark.conf.get(key) == "false"
    assert spark.conf.get(key) == before
    with wide_plan(spark, WIDE_COLUMNS):
        assert spark.conf.get(key) == before
    with pytest.raises(RuntimeError), wide_plan(spark, 1000):
        raise RuntimeError("an action failed")
    assert spark.conf.get(key) == before


def test_spark_errors_are_logged_to_the_file_and_named_in_the_scan_warnings(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """An ERROR logged by the JVM during a scan reaches the log file, not the terminal, and the
    scan's warnings name the file; a scan without Spark errors gets no such warning."""
    from rotscan.config import load_config
    from rotscan.runtime import Runtime
    from rotscan.scan import run_scan

    write_parquet(wide_table(40, rows=50), tmp_path / "lake" / "t.parquet")
    quiet = run_scan([str(tmp_path / "lake")], Runtime(config=load_config(), spark_factory=lambda _s3a: spark))
    assert not [w for w in quiet.warnings if w.code == "spark_log"]

    def progress_and_log(message: str) -> None:  # an error logged by the JVM while the scan runs
        spark._jvm.org.apache.logging.log4j.LogManager.getLogger("rotscan.test").error(f"planted test error: {message}")

    noisy = run_scan([str(tmp_path / "lake")],
                     Runtime(config=load_config(), spark_factory=lambda _s3a: spark, progress=progress_and_log))
    warned = [w for w in noisy.warnings if w.code == "spark_log"]
    path = logfile.current()
    assert path is not None and len(warned) == 1, noisy.warnings
    assert warned[0].uri == str(path) and str(path) in warned[0].message
    assert "planted test error" in warned[0].message
    assert "planted test error" in path.read_text(encoding="utf-8")


def test_scan_of_a_wide_lake_finds_the_csv_copy_and_keeps_the_terminal_quiet(tmp_path: Path) -> None:
    """A whole ``python -m rotscan scan`` of 100-, 500- and 1,000-column Parquet tables and a CSV
    copy of the 500-column one: the copy is found as an exact duplicate, stderr holds no Spark log
    line nor stack trace, and the process's Spark log file holds no code-generation failure."""
    from rotscan.config import load_config
    from rotscan.spark.jars import jar_cache_dir

    lake = tmp_path / "lake"
    for width in (100, 500, 1000):
        write_parquet(wide_table(width, seed=width), lake / "warehouse" / f"wide_{width}" / "part-0.parquet")
    write_csv(wide_table(500, seed=500), lake / "exports" / "wide_500.csv")
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen([sys.executable, "-m", "rotscan", "scan", str(lake), "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    stdout, stderr = proc.communicate(timeout=800)
    assert proc.returncode == 0, stdout[-3000:] + stderr[-5000:]
    assert not CODEGEN_FAILURE.search(stderr), stderr[-5000:]
    assert not re.search(r"^\s+at [\w.$]+\(|^\S+ (WARN|ERROR) \w+:|^\d\d:\d\d:\d\d (WARN|ERROR) ", stderr, re.M), \
        stderr[-5000:]
    findings = json.loads((out / "findings.json").read_text())
    copies = [{f["uri"].rsplit("/lake/", 1)[1], *(r.rsplit("/lake/", 1)[1] for r in f["related"])}
              for f in findings["findings"] if f["kind"] == "exact_duplicate"]
    assert copies == [{"exports/wide_500.csv", "warehouse/wide_500"}], findings["findings"]
    assert not [w for w in findings["warnings"] if w.get("code") == "spark_log"], findings["warnings"]
    logs = list((jar_cache_dir(load_config(), os.environ) / "logs").glob(f"spark-*-{proc.pid}.log"))
    assert len(logs) <= 1
    for log in logs:
        text = log.read_text(encoding="utf-8", errors="replace")
        assert not CODEGEN_FAILURE.search(text), text[:3000]

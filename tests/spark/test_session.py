"""The session get_spark builds: Delta works, settings are as documented, the jar cache is used,
and Java exceptions reach callers as rotscan errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rotscan.config import load_config
from rotscan.errors import ReadError, SparkSetupError
from rotscan.spark.errors import java_errors
from rotscan.spark.jars import cached_jars
from rotscan.spark.session import get_spark, session_info

pytestmark = pytest.mark.spark


def test_delta_write_read_and_history(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    table = str(tmp_path / "t")
    spark.range(10).selectExpr("id", "id % 3 AS k").write.format("delta").save(table)
    spark.range(10, 15).selectExpr("id", "id % 3 AS k").write.format("delta").mode("append").save(table)
    assert spark.read.format("delta").load(table).count() == 15
    history = spark.sql(f"DESCRIBE HISTORY delta.`{table}`").orderBy("version").collect()
    assert [r["operation"] for r in history] == ["WRITE", "WRITE"]
    # The Delta SQL extension is active: DML on a path table works.
    spark.sql(f"DELETE FROM delta.`{table}` WHERE k = 0")
    assert spark.read.format("delta").load(table).filter("k = 0").count() == 0


def test_session_settings(spark) -> None:  # type: ignore[no-untyped-def]
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    assert spark.sparkContext.uiWebUrl is None
    conf = spark.sparkContext.getConf()
    assert conf.get("spark.ui.enabled") == "false"
    assert conf.get("spark.ui.showConsoleProgress") == "false"
    assert conf.get("spark.sql.shuffle.partitions") == "2"
    assert "log4j2.configurationFile=" in conf.get("spark.driver.extraJavaOptions")


def test_session_uses_the_jar_cache_not_the_network(spark) -> None:  # type: ignore[no-untyped-def]
    conf = spark.sparkContext.getConf()
    assert conf.get("spark.jars.packages", None) is None
    delta = cached_jars(load_config(), ("delta",), os.environ)
    assert delta is not None  # get_spark resolves into the cache when set-up was not run
    used = [j.removeprefix("file:") for j in conf.get("spark.jars").split(",")]
    assert sorted(used) == sorted(delta)
    info = session_info()
    assert info is not None and info.mode == "embedded"


def test_get_spark_returns_the_running_session(spark) -> None:  # type: ignore[no-untyped-def]
    assert get_spark(load_config(), env=os.environ) is spark


def test_missing_path_becomes_read_error(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    missing = tmp_path / "nope"
    with pytest.raises(ReadError) as caught, java_errors(f"reading {missing}"):
        spark.read.parquet(str(missing))
    message = str(caught.value)
    assert message.startswith(f"reading {missing}: AnalysisException: [PATH_NOT_FOUND]")
    assert "\n" not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_corrupt_file_becomes_read_error_naming_the_cause(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"this is not parquet" * 8)

    @java_errors("counting")
    def count() -> int:
        return spark.read.parquet(str(bad)).count()

    with pytest.raises(ReadError) as caught:
        count()
    message = str(caught.value)
    assert "is not a Parquet file" in message and str(bad) in message
    assert "\n" not in message and "\tat " not in message


def test_missing_class_is_a_setup_error(spark) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SparkSetupError, match="ClassNotFoundException: no.such.Thing"), java_errors("loading"):
        spark.sparkContext._jvm.java.lang.Class.forName("no.such.Thing")


def test_non_spark_errors_pass_through() -> None:
    with pytest.raises(KeyError), java_errors("anything"):
        raise KeyError("x")

"""The jar cache without a JVM: coordinates from the installed versions, the manifest, idempotency."""

from __future__ import annotations

import importlib.metadata
import json
import time
import zipfile
from pathlib import Path

import pytest

from rotscan.config import load_config
from rotscan.errors import SparkSetupError
from rotscan.spark.jars import (
    GroupJars,
    cached_jars,
    jar_cache_dir,
    manifest_path,
    maven_coordinate,
    pyspark_jars_dir,
    read_manifest,
    resolve_jars,
    write_manifest,
)


def cache_config(tmp_path: Path):  # type: ignore[no-untyped-def]
    return load_config(overrides={"spark": {"jar_cache": str(tmp_path / "cache")}})


def test_delta_coordinate_is_the_one_delta_pip_utils_asks_for() -> None:
    from delta.pip_utils import configure_spark_with_delta_pip
    from pyspark.sql import SparkSession

    builder = configure_spark_with_delta_pip(SparkSession.builder)
    assert maven_coordinate("delta") == builder._options["spark.jars.packages"]  # type: ignore[attr-defined]
    assert maven_coordinate("delta").endswith(":" + importlib.metadata.version("delta-spark"))


def test_s3a_coordinate_matches_the_hadoop_pyspark_bundles() -> None:
    # The Hadoop version as Maven recorded it inside pyspark's own hadoop-client-api jar.
    jar = next(pyspark_jars_dir().glob("hadoop-client-api-*.jar"))
    with zipfile.ZipFile(jar) as zf:
        props = zf.read("META-INF/maven/org.apache.hadoop/hadoop-client-api/pom.properties").decode()
    version = dict(line.split("=", 1) for line in props.splitlines() if "=" in line and not line.startswith("#"))
    assert maven_coordinate("s3a") == f"org.apache.hadoop:hadoop-aws:{version['version'].strip()}"


def test_unknown_group_is_an_error() -> None:
    with pytest.raises(SparkSetupError, match="unknown jar group"):
        maven_coordinate("kafka")


def test_jar_cache_dir_precedence(tmp_path: Path) -> None:
    default = load_config()
    assert jar_cache_dir(cache_config(tmp_path), {"XDG_CACHE_HOME": "/x"}) == tmp_path / "cache"
    assert jar_cache_dir(default, {"XDG_CACHE_HOME": "/x", "HOME": "/h"}) == Path("/x/rotscan")
    assert jar_cache_dir(default, {"HOME": "/h"}) == Path("/h/.cache/rotscan")


def fake_group(tmp_path: Path, group: str, names: list[str]) -> GroupJars:
    jars = []
    for name in names:
        path = tmp_path / "jars" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"PK\x05\x06" + b"\0" * 18)
        jars.append(str(path))
    return GroupJars(group, maven_coordinate(group), "ivy", tuple(jars))


def test_manifest_round_trip_and_cached_jars(tmp_path: Path) -> None:
    config = cache_config(tmp_path)
    path = manifest_path(config)
    assert path.name == f"jars-{importlib.metadata.version('pyspark')}.json"
    assert cached_jars(config, ("delta",)) is None  # no manifest yet
    delta = fake_group(tmp_path, "delta", ["delta-spark.jar", "delta-storage.jar"])
    s3a = fake_group(tmp_path, "s3a", ["hadoop-aws.jar", "bundle.jar", "delta-storage.jar"])
    write_manifest(path, {"delta": delta, "s3a": s3a})
    assert read_manifest(path) == {"delta": delta, "s3a": s3a}
    assert json.loads(path.read_text())["groups"]["s3a"]["coordinate"] == maven_coordinate("s3a")
    assert cached_jars(config, ("delta",)) == list(delta.jars)
    both = cached_jars(config, ("delta", "s3a"))
    assert both is not None and len(both) == 4  # the shared jar once


def test_cached_jars_is_none_when_a_jar_is_missing(tmp_path: Path) -> None:
    config = cache_config(tmp_path)
    delta = fake_group(tmp_path, "delta", ["delta-spark.jar", "delta-storage.jar"])
    write_manifest(manifest_path(config), {"delta": delta})
    Path(delta.jars[1]).unlink()
    assert cached_jars(config, ("delta",)) is None


def test_cached_jars_is_none_for_other_versions(tmp_path: Path) -> None:
    config = cache_config(tmp_path)
    delta = fake_group(tmp_path, "delta", ["delta-spark.jar"])
    old = GroupJars("delta", "io.delta:delta-spark_4.1_2.13:4.0.0", "ivy", delta.jars)
    write_manifest(manifest_path(config), {"delta": old})
    assert cached_jars(config, ("delta",)) is None


def test_cached_jars_is_none_for_a_corrupt_manifest(tmp_path: Path) -> None:
    config = cache_config(tmp_path)
    manifest_path(config).parent.mkdir(parents=True)
    manifest_path(config).write_text("{not json")
    assert cached_jars(config, ("delta",)) is None


def test_resolve_jars_with_a_complete_manifest_returns_at_once(tmp_path: Path) -> None:
    config = cache_config(tmp_path)
    groups = {g: fake_group(tmp_path, g, [f"{g}.jar"]) for g in ("delta", "s3a")}
    write_manifest(manifest_path(config), groups)
    started = time.monotonic()
    result = resolve_jars(config, env={}, methods=("ivy",))
    assert time.monotonic() - started < 2  # no JVM, no resolver
    assert result.resolved == ()
    assert result.groups == (groups["delta"], groups["s3a"])
    assert not (tmp_path / "cache" / "setup.log").exists()
    assert "nothing to fetch" in str(result)


def test_resolve_jars_rejects_unknown_resolvers(tmp_path: Path) -> None:
    with pytest.raises(SparkSetupError, match="unknown resolver"):
        resolve_jars(cache_config(tmp_path), env={}, methods=("gradle",))

"""``rotscan doctor``: is this machine able to run a scan? Versions of Python, Java, pyspark,
delta-spark and Hadoop, the jar cache, and a real Delta write/read in a local session."""

from __future__ import annotations

import importlib.metadata
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rotscan.config import Config
from rotscan.errors import RotscanError
from rotscan.spark.jars import (
    GROUPS,
    bundled_hadoop_version,
    delta_version,
    manifest_path,
    maven_coordinate,
    pyspark_version,
    read_manifest,
)

MIN_JAVA = 17  # Spark 4 runs on Java 17 and 21


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def format_checks(checks: list[Check]) -> str:
    width = max((len(c.name) for c in checks), default=0)
    lines = [f"{'ok  ' if c.ok else 'FAIL'}  {c.name:<{width}}  {c.detail}" for c in checks]
    failed = sum(not c.ok for c in checks)
    lines.append(f"all {len(checks)} checks passed" if not failed else f"{failed} of {len(checks)} checks failed")
    return "\n".join(lines)


def run_doctor(config: Config, env: Mapping[str, str]) -> list[Check]:
    checks = [_python(), _java(env), _pyspark(), _delta(), _hadoop()]
    checks += [_jar_group(config, env, group) for group in GROUPS]
    if checks[1].ok and checks[2].ok:
        checks += _smoke_test(config, env)
    else:
        checks.append(Check("delta smoke test", False, "skipped: needs Java and pyspark"))
    return checks


def _python() -> Check:
    ok = sys.version_info >= (3, 10)
    return Check("python", ok, f"{platform.python_version()} ({sys.executable})" + ("" if ok else "; needs 3.10+"))


def java_version(java: str) -> str | None:
    """The version string ``java -version`` prints, e.g. ``17.0.15`` (``None`` if it cannot run)."""
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "([^"]+)"', out.stderr + out.stdout)
    return match.group(1) if match else None


def _java_major(version: str) -> int:
    """17 for ``17.0.15``, 8 for ``1.8.0_402``."""
    numbers = [int(n) for n in re.findall(r"\d+", version)]
    if not numbers:
        return 0
    return numbers[1] if numbers[0] == 1 and len(numbers) > 1 else numbers[0]


def _java(env: Mapping[str, str]) -> Check:
    home = env.get("JAVA_HOME", "").strip()
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java", path=env.get("PATH"))
    where = f"JAVA_HOME={home}" if home else "JAVA_HOME unset, java from PATH"
    if java is None:
        return Check("java", False, "no java on PATH and JAVA_HOME unset: install a JDK 17 or 21")
    version = java_version(java)
    if version is None:
        return Check("java", False, f"{java} -version failed ({where})")
    major = _java_major(version)
    ok = major >= MIN_JAVA
    return Check("java", ok, f"{version} at {java} ({where})" + ("" if ok else f"; Spark 4 needs Java {MIN_JAVA}+"))


def _pyspark() -> Check:
    try:
        return Check("pyspark", True, pyspark_version())
    except importlib.metadata.PackageNotFoundError:
        return Check("pyspark", False, "not installed")


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version.split("+")[0])[:3])


def satisfies(version: str, spec: str) -> bool | None:
    """Whether ``version`` meets a requirement like ``<=4.2.0,>=4.0.1`` (``None``: cannot tell)."""
    compare = {"<=": lambda a, b: a <= b, ">=": lambda a, b: a >= b, "<": lambda a, b: a < b,
               ">": lambda a, b: a > b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b}
    have = _version_tuple(version)
    for clause in filter(None, (c.strip() for c in spec.split(","))):
        match = re.fullmatch(r"(<=|>=|==|!=|<|>)\s*([\d.]+)", clause)
        if match is None:
            return None
        op, want = match.groups()
        w = _version_tuple(want)
        if not compare[op](have + (0,) * (len(w) - len(have)), w + (0,) * (len(have) - len(w))):
            return False
    return True


def _delta() -> Check:
    try:
        version = delta_version()
        spark = pyspark_version()
    except (RotscanError, importlib.metadata.PackageNotFoundError) as exc:
        return Check("delta-spark", False, str(exc) or "not installed")
    spec = ""
    for req in importlib.metadata.requires("delta-spark") or []:
        match = re.match(r"\s*pyspark\s*([^;]*)", req)
        if match:
            spec = match.group(1).strip().strip("()")
    verdict = satisfies(spark, spec) if spec else None
    if verdict is None:
        return Check("delta-spark", True, f"{version} (cannot read its pyspark requirement {spec!r})")
    detail = f"{version}, requires pyspark {spec}: pyspark {spark} {'fits' if verdict else 'does NOT fit'}"
    return Check("delta-spark", verdict, detail)


def _hadoop() -> Check:
    try:
        return Check("hadoop", True, f"{bundled_hadoop_version()} (bundled with pyspark)")
    except RotscanError as exc:
        return Check("hadoop", False, str(exc))


def _jar_group(config: Config, env: Mapping[str, str], group: str) -> Check:
    name = f"jar cache: {group}"
    path = manifest_path(config, env)
    try:
        coordinate = maven_coordinate(group)
    except RotscanError as exc:
        return Check(name, False, str(exc))
    entry = read_manifest(path).get(group)
    # s3a is optional: only s3a:// roots need it (`rotscan setup --no-s3a` leaves it out).
    optional = group == "s3a"
    if entry is None:
        return Check(name, optional, f"not in {path}: run `rotscan setup`"
                     + (" (needed only for s3a:// roots)" if optional else ""))
    if entry.coordinate != coordinate:
        return Check(name, optional, f"cached for {entry.coordinate}, installed versions need {coordinate}: "
                     "run `rotscan setup`")
    missing = entry.missing()
    if missing:
        return Check(name, False, f"{len(missing)} of {len(entry.jars)} jars missing (e.g. {missing[0]}): "
                     "run `rotscan setup`")
    return Check(name, True, f"{coordinate}: {len(entry.jars)} jars, {entry.total_bytes() / 1e6:.0f} MB "
                 f"(via {entry.method}) in {path.parent}")


def _smoke_test(config: Config, env: Mapping[str, str]) -> list[Check]:
    """Start the session and write and read a 10-row Delta table in a temp dir."""
    from rotscan.spark.errors import java_errors
    from rotscan.spark.session import get_spark, session_info, stop_spark

    ran_before = session_info() is not None
    started = time.monotonic()
    try:
        spark = get_spark(config, env=env)
        start_s = time.monotonic() - started
        info = session_info()
        with java_errors("Delta smoke test"), tempfile.TemporaryDirectory(prefix="rotscan-doctor-") as tmp:
            t0 = time.monotonic()
            table = str(Path(tmp) / "smoke")
            spark.range(10).selectExpr("id", "id * 2 AS twice").write.format("delta").save(table)
            rows = spark.read.format("delta").load(table).count()
            history = spark.sql(f"DESCRIBE HISTORY delta.`{table}`").count()
            jvm: Any = spark.sparkContext._jvm
            runtime_hadoop = str(jvm.org.apache.hadoop.util.VersionInfo.getVersion())
            io_s = time.monotonic() - t0
    except RotscanError as exc:
        return [Check("delta smoke test", False, str(exc))]
    finally:
        if not ran_before:
            stop_spark()
    bundled = bundled_hadoop_version()
    ok = rows == 10 and history == 1
    how = f"{info.mode} session, jars from {info.jars}" if info is not None else "session"
    return [
        Check("hadoop (runtime)", runtime_hadoop == bundled,
              f"{runtime_hadoop} in the JVM" + ("" if runtime_hadoop == bundled else f", but pyspark bundles {bundled}")),
        Check("delta smoke test", ok,
              f"session started in {start_s:.1f} s ({how}); wrote, read ({rows} rows) and listed the "
              f"history of a Delta table in {io_s:.1f} s"),
    ]

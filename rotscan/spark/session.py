"""The one place rotscan builds a SparkSession: :func:`get_spark`.

Two ways in:

* **provided** — under ``spark-submit`` (``PYSPARK_GATEWAY_PORT`` is set) or when a session is
  already active, the cluster decides master and jars; rotscan only asks for the Delta extension and
  checks that Delta's classes are there.
* **embedded** — otherwise rotscan starts a local JVM itself, with the jars of the cache manifest
  (``rotscan setup``), so no network is needed, and a log4j2 configuration that writes Spark's log
  to a file, never the terminal (``rotscan.spark.logfile``).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rotscan.config import Config
from rotscan.errors import SparkSetupError
from rotscan.spark import logfile
from rotscan.spark.errors import java_errors
from rotscan.spark.jars import cached_jars, jar_cache_dir, maven_coordinate, resolve_jars

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

DELTA_EXTENSION = "io.delta.sql.DeltaSparkSessionExtension"
DELTA_CATALOG = "org.apache.spark.sql.delta.catalog.DeltaCatalog"
S3A_FILESYSTEM = "org.apache.hadoop.fs.s3a.S3AFileSystem"

# Settings of every session rotscan creates (embedded or under spark-submit).
_SESSION_CONF = {
    "spark.sql.extensions": DELTA_EXTENSION,
    "spark.sql.catalog.spark_catalog": DELTA_CATALOG,
    "spark.sql.session.timeZone": "UTC",
}
# Settings that hold lists: the user's [spark] conf value is appended to rotscan's, not put instead.
_SEPARATORS = {"spark.jars": ",", "spark.sql.extensions": ",", "spark.driver.extraClassPath": os.pathsep,
               "spark.driver.extraJavaOptions": " "}

# Lines the JVM itself prints on stderr before any logging is set up. Spark's launcher always adds
# --add-modules=jdk.incubator.vector, and the JDK then warns unconditionally.
_JVM_NOISE = ("WARNING: Using incubator modules:",)


@dataclass(frozen=True)
class SessionInfo:
    """How the current session was built (``rotscan doctor`` reports it)."""

    mode: str  # "embedded" or "provided"
    jars: str  # where Delta/s3a came from, in words
    s3a: bool  # whether the s3a filesystem classes are loadable
    seconds: float  # time get_spark took to build it


_session: SparkSession | None = None
_info: SessionInfo | None = None
_lock = threading.Lock()


def session_info() -> SessionInfo | None:
    """How the running session was built, or ``None`` when there is none."""
    return _info if _session is not None else None


def stop_spark() -> None:
    """Stop the session :func:`get_spark` built (the JVM of the process stays up, as in pyspark)."""
    global _session, _info
    with _lock:
        if _session is not None:
            try:
                _session.stop()
            finally:
                _session, _info = None, None


def get_spark(config: Config, *, need_s3a: bool = False, env: Mapping[str, str] | None = None) -> SparkSession:
    """The process's SparkSession, built on first use and cached. ``need_s3a`` makes the s3a jars
    (hadoop-aws) required; ``env`` is the process environment, passed in by the CLI."""
    global _session, _info
    env = {} if env is None else env
    with _lock:
        if _session is not None and _alive(_session):
            if need_s3a and _info is not None and not _info.s3a:
                raise SparkSetupError(f"the Spark session of this process has no s3a support: {_s3a_hint(_info.mode)}")
            return _session
        started = time.monotonic()
        with java_errors("starting Spark", error=SparkSetupError):
            if _provided(env):
                spark, jars = _provided_session(config), "provided by spark-submit/the running session"
                mode = "provided"
            else:
                spark, jars = _embedded_session(config, need_s3a, env)
                mode = "embedded"
            _require_class(spark, DELTA_EXTENSION, _delta_hint(mode))
            s3a = _loadable(spark, S3A_FILESYSTEM)
        if need_s3a and not s3a:
            raise SparkSetupError(f"s3a:// needs hadoop-aws, which this Spark session lacks: {_s3a_hint(mode)}")
        _session = spark
        _info = SessionInfo(mode=mode, jars=jars, s3a=s3a, seconds=time.monotonic() - started)
        return spark


def _alive(spark: SparkSession) -> bool:
    return getattr(spark.sparkContext, "_jsc", None) is not None


def _provided(env: Mapping[str, str]) -> bool:
    from pyspark.sql import SparkSession

    return "PYSPARK_GATEWAY_PORT" in env or SparkSession.getActiveSession() is not None


def _provided_session(config: Config) -> SparkSession:
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        # Someone else's session (a notebook, a test harness): use it as it is.
        return active
    builder = SparkSession.builder.appName(str(config.get("spark", "app_name")))
    for key, value in _with_user_conf({**_SESSION_CONF, **_catalog_conf(config)}, config).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def _catalog_conf(config: Config) -> dict[str, str]:
    """Hive support and the metastore settings when ``[catalog] enabled`` (rotscan.catalog)."""
    from rotscan.catalog import CatalogSettings

    return CatalogSettings.from_config(config).spark_conf()


def _with_user_conf(conf: Mapping[str, str], config: Config) -> dict[str, str]:
    """``conf`` with the user's ``[spark] conf`` over it; list settings are appended to, not replaced."""
    out = dict(conf)
    for key, value in dict(config.get("spark", "conf")).items():
        key, value = str(key), str(value)
        out[key] = _SEPARATORS[key].join((out[key], value)) if key in _SEPARATORS and out.get(key) else value
    return out


def _embedded_session(config: Config, need_s3a: bool, env: Mapping[str, str]) -> tuple[SparkSession, str]:
    from pyspark import SparkConf, SparkContext
    from pyspark.java_gateway import launch_gateway
    from pyspark.sql import SparkSession

    master = str(config.get("spark", "master"))
    local = master.startswith("local")
    jar_conf, jars = _jar_conf(config, need_s3a, local, env)
    partitions = str(config.get("spark", "shuffle_partitions"))
    java_options = f"-Dlog4j2.configurationFile={_log4j_config(config, env).as_uri()}"
    launching = SparkContext._gateway is None
    if launching:  # the JVM of this process is ours: Spark's log goes to a file (rotscan.spark.logfile)
        java_options += f' "-D{logfile.PROPERTY}={logfile.new_log_file(jar_cache_dir(config, env) / "logs")}"'
    conf = {
        "spark.master": master,
        "spark.app.name": str(config.get("spark", "app_name")),
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": partitions,
        # Delta replays its log with 50 partitions by default: far too many for small local sessions.
        "spark.databricks.delta.snapshotPartitions": partitions,
        "spark.driver.memory": str(config.get("spark", "driver_memory")),
        "spark.driver.extraJavaOptions": java_options,
        **jar_conf,
        **_SESSION_CONF,
        **_catalog_conf(config),
    }
    conf = _with_user_conf(conf, config)
    spark_conf = SparkConf().setAll(list(conf.items()))
    if launching:  # first session of this process: start the JVM ourselves
        _prepare_launch_environment(env, local)
        read_end, write_end = os.pipe()
        pump = _forward_stderr(read_end)
        try:
            gateway = launch_gateway(spark_conf, popen_kwargs={"stderr": write_end})
        except BaseException:
            os.close(write_end)
            pump.join(timeout=5)  # let the JVM's last words (why it exited) reach stderr first
            raise
        os.close(write_end)
        SparkContext(conf=spark_conf, gateway=gateway)
    builder = SparkSession.builder
    for key, value in conf.items():
        builder = builder.config(key, value)
    return builder.getOrCreate(), jars


def _jar_conf(config: Config, need_s3a: bool, local: bool, env: Mapping[str, str]) -> tuple[dict[str, str], str]:
    """Spark settings that put the cached Delta (and s3a) jars on the classpath, and a description.

    Delta goes in ``spark.jars`` (a child class loader, so Spark's own copies of shared libraries win).
    In a local session the s3a jars go on the driver's class path instead: they share nothing with
    Spark's jars, and ``spark.jars`` would copy the 650 MB AWS SDK bundle into a temp dir at every
    start. They are added whenever cached (free then), and required with ``need_s3a``.
    """
    wanted = ["delta", "s3a"] if need_s3a else ["delta"]
    missing = [g for g in wanted if cached_jars(config, (g,), env) is None]
    if missing:
        log.warning("rotscan: the jar cache lacks %s (`rotscan setup` was not run); resolving it now from "
                    "Maven Central into %s", " and ".join(missing), jar_cache_dir(config, env))
        resolve_jars(config, missing, env)
    delta = cached_jars(config, ("delta",), env)
    s3a = cached_jars(config, ("s3a",), env) if (need_s3a or local) else None
    if delta is None:
        raise SparkSetupError("the Delta jars are not in the jar cache; run `rotscan setup`")
    conf = {"spark.jars": ",".join(delta)}
    if s3a is not None:
        if local:
            conf["spark.driver.extraClassPath"] = os.pathsep.join(s3a)
        else:
            conf["spark.jars"] += "," + ",".join(s3a)
    manifest = f"jar cache {jar_cache_dir(config, env)}"
    return conf, f"{manifest} (delta{', s3a' if s3a is not None else ''})"


def _log4j_config(config: Config, env: Mapping[str, str]) -> Path:
    """A real file path of the packaged log4j2.properties (copied to the cache if the package is zipped)."""
    packaged = resources.files("rotscan.spark").joinpath("log4j2.properties")
    if isinstance(packaged, Path) and packaged.is_file():
        return packaged
    target = jar_cache_dir(config, env) / "log4j2.properties"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(packaged.read_text(encoding="utf-8"), encoding="utf-8")
    return target


def _prepare_launch_environment(env: Mapping[str, str], local: bool) -> None:
    """Settings for the JVM about to be launched, put into ``os.environ``: pyspark builds the JVM's
    environment from it, and reads ``PYSPARK_PYTHON`` from it. The only place rotscan writes
    ``os.environ``, and only for variables ``env`` does not set already.

    * ``SPARK_LOCAL_IP=127.0.0.1`` for a local master: the driver then binds to loopback and does
      not warn that the host name resolves to a loopback address.
    * ``PYSPARK_PYTHON`` = this interpreter, so Python workers have the same packages.
    """
    if local and "SPARK_LOCAL_IP" not in env:
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    if "PYSPARK_PYTHON" not in env:
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)


def _forward_stderr(fd: int) -> threading.Thread:
    """Copy the JVM's stderr (the read end of a pipe) to ours, minus the JVM's own start-up noise,
    in a daemon thread."""

    def pump() -> None:
        with os.fdopen(fd, "rb") as stream:
            for raw in stream:
                line = raw.decode("utf-8", errors="replace")
                if line.startswith(_JVM_NOISE):
                    continue
                try:
                    sys.stderr.write(line)
                    sys.stderr.flush()
                except (ValueError, OSError):  # our stderr was closed or swapped (pytest capture)
                    if sys.__stderr__ is not None:
                        sys.__stderr__.write(line)

    thread = threading.Thread(target=pump, name="rotscan-jvm-stderr", daemon=True)
    thread.start()
    return thread


def _loadable(spark: SparkSession, class_name: str) -> bool:
    """Whether the driver can load ``class_name`` — through the context class loader, which also
    sees ``spark.jars``/``--packages`` jars (``Class.forName`` from Py4J would not)."""
    jvm: Any = spark.sparkContext._jvm
    try:
        loader = jvm.java.lang.Thread.currentThread().getContextClassLoader()
        jvm.java.lang.Class.forName(class_name, False, loader)
        return True
    except Exception:
        return False


def _require_class(spark: SparkSession, class_name: str, hint: str) -> None:
    if not _loadable(spark, class_name):
        raise SparkSetupError(f"Delta Lake is not on the Spark class path ({class_name} not found): {hint}")


def _s3a_hint(mode: str) -> str:
    if mode == "provided":
        return f"pass --packages {maven_coordinate('s3a')} to spark-submit"
    return "run `rotscan setup` (it caches the s3a jars), then start again"


def _delta_hint(mode: str) -> str:
    coordinate = maven_coordinate("delta")
    if mode == "provided":
        return f"pass --packages {coordinate} to spark-submit (or --jars with its jars)"
    return "run `rotscan setup` to fetch the jars again"

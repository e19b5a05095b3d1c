"""The jar cache: the Delta (and s3a) jars are resolved from Maven Central once, by ``rotscan setup``
(:func:`resolve_jars`), and recorded in a manifest; :func:`cached_jars` gives the local paths to the
session builder, so scans after set-up need no network.

Nothing here starts a JVM in this process: versions come from package metadata and jar file names,
and resolution runs in a throwaway child process.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from rotscan.config import Config
from rotscan.errors import SparkSetupError
from rotscan.models import iso, now_utc

GROUPS = ("delta", "s3a")
# Groups resolved only on request (never by default, never loaded by the session builder): the
# OpenLineage Spark listener, which the usage tests attach to a Spark run of their own.
OPTIONAL_GROUPS = ("openlineage",)
# 1.52.0 is not on Maven Central (its maven-metadata.xml lists 1.37.0, then 1.53.0).
OPENLINEAGE_VERSION = "1.53.0"
SCALA_VERSION = "2.13"
RESOLVE_TIMEOUT_S = 1800  # the s3a group pulls the ~650 MB AWS SDK bundle

Progress = Callable[[str], None]

# Resolution by Spark itself: a local session with spark.jars.packages makes spark-submit run Ivy,
# and the resolved jars end up in spark.jars. Run as a child process so its output can go to a log.
_IVY_SCRIPT = """\
import json, sys
from pyspark.sql import SparkSession
coordinate, ivy_dir, out = sys.argv[1:4]
spark = (SparkSession.builder.master("local[1]").appName("rotscan-setup")
         .config("spark.jars.packages", coordinate).config("spark.jars.ivy", ivy_dir)
         .config("spark.ui.enabled", "false").getOrCreate())
jars = spark.sparkContext.getConf().get("spark.jars", "")
spark.stop()
with open(out, "w", encoding="utf-8") as fh:
    json.dump([j for j in jars.split(",") if j], fh)
"""

_POM = """\
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>rotscan</groupId>
  <artifactId>rotscan-jars-{group}</artifactId>
  <version>0</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>{g}</groupId><artifactId>{a}</artifactId><version>{v}</version></dependency>
  </dependencies>
</project>
"""
_RESOLVERS = {"ivy": "Ivy (spark.jars.packages)", "maven": "Maven (mvn dependency:copy-dependencies)"}
_MAVEN_DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.6.1"


# --- versions and coordinates --------------------------------------------------------------------

def pyspark_version() -> str:
    return importlib.metadata.version("pyspark")


def delta_version() -> str:
    try:
        return importlib.metadata.version("delta-spark")
    except importlib.metadata.PackageNotFoundError as exc:
        raise SparkSetupError("delta-spark is not installed (pip install delta-spark)") from exc


def pyspark_jars_dir() -> Path:
    """``pyspark/jars`` of the installed pyspark (found without importing it)."""
    spec = importlib.util.find_spec("pyspark")
    if spec is None or spec.origin is None:
        raise SparkSetupError("pyspark is not installed (pip install pyspark)")
    return Path(spec.origin).parent / "jars"


def bundled_hadoop_version(jars_dir: Path | None = None) -> str:
    """The Hadoop version pyspark ships, read from its ``hadoop-client-api-<version>.jar``."""
    directory = pyspark_jars_dir() if jars_dir is None else jars_dir
    for jar in sorted(directory.glob("hadoop-client-api-*.jar")):
        return jar.name[len("hadoop-client-api-"):-len(".jar")]
    raise SparkSetupError(f"no hadoop-client-api-*.jar in {directory}: cannot tell pyspark's Hadoop version")


def maven_coordinate(group: str) -> str:
    """``group:artifact:version`` of a jar group, matching the installed pyspark and delta-spark."""
    if group == "delta":
        # As delta.pip_utils.configure_spark_with_delta_pip names it.
        spark_major_minor = ".".join(pyspark_version().split(".")[:2])
        return f"io.delta:delta-spark_{spark_major_minor}_{SCALA_VERSION}:{delta_version()}"
    if group == "s3a":
        return f"org.apache.hadoop:hadoop-aws:{bundled_hadoop_version()}"
    if group == "openlineage":
        return f"io.openlineage:openlineage-spark_{SCALA_VERSION}:{OPENLINEAGE_VERSION}"
    raise SparkSetupError(f"unknown jar group {group!r} (known: {', '.join(GROUPS + OPTIONAL_GROUPS)})")


# --- the cache and its manifest --------------------------------------------------------------------

def jar_cache_dir(config: Config, env: Mapping[str, str] | None = None) -> Path:
    """``[spark] jar_cache``, else ``$XDG_CACHE_HOME/rotscan``, else ``~/.cache/rotscan``."""
    configured = str(config.get("spark", "jar_cache")).strip()
    if configured:
        return Path(configured).expanduser()
    env = env or {}
    xdg = env.get("XDG_CACHE_HOME", "").strip()
    if xdg:
        return Path(xdg) / "rotscan"
    home = env.get("HOME", "").strip()
    return (Path(home) if home else Path.home()) / ".cache" / "rotscan"


def manifest_path(config: Config, env: Mapping[str, str] | None = None) -> Path:
    return jar_cache_dir(config, env) / f"jars-{pyspark_version()}.json"


@dataclass(frozen=True)
class GroupJars:
    """The local jars of one group, as resolved for one Maven coordinate."""

    group: str
    coordinate: str
    method: str  # "ivy" or "maven": which resolver fetched them
    jars: tuple[str, ...]

    def missing(self) -> list[str]:
        return [j for j in self.jars if not Path(j).is_file()]

    def total_bytes(self) -> int:
        return sum(Path(j).stat().st_size for j in self.jars if Path(j).is_file())

    def to_dict(self) -> dict[str, Any]:
        return {"coordinate": self.coordinate, "method": self.method, "jars": list(self.jars)}

    @classmethod
    def from_dict(cls, group: str, d: Mapping[str, Any]) -> GroupJars:
        return cls(group=group, coordinate=str(d["coordinate"]), method=str(d.get("method", "ivy")),
                   jars=tuple(str(j) for j in d["jars"]))


def read_manifest(path: Path) -> dict[str, GroupJars]:
    """The groups recorded in a manifest; empty when it is missing or unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {g: GroupJars.from_dict(g, d) for g, d in data["groups"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def write_manifest(path: Path, groups: Mapping[str, GroupJars]) -> None:
    data = {
        "spark_version": pyspark_version(),
        "written": iso(now_utc()),
        "groups": {g: groups[g].to_dict() for g in sorted(groups)},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def _usable(entry: GroupJars | None, group: str) -> bool:
    return (entry is not None and bool(entry.jars) and entry.coordinate == maven_coordinate(group)
            and not entry.missing())


def cached_jars(config: Config, groups: Sequence[str] = ("delta",),
                env: Mapping[str, str] | None = None) -> list[str] | None:
    """Local jar paths of ``groups`` from the manifest, or ``None`` unless every one is there
    (resolved for the installed versions, every file present)."""
    manifest = read_manifest(manifest_path(config, env))
    out: list[str] = []
    for group in groups:
        entry = manifest.get(group)
        if entry is None or not _usable(entry, group):
            return None
        out += [j for j in entry.jars if j not in out]
    return out


# --- resolution ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class JarResolution:
    """What :func:`resolve_jars` did; ``str()`` is the summary ``rotscan setup`` prints."""

    manifest: Path
    groups: tuple[GroupJars, ...]
    resolved: tuple[str, ...]  # groups fetched by this call; the others were already cached
    seconds: float
    log: Path
    notes: tuple[str, ...] = ()

    def __str__(self) -> str:
        lines = [f"jar cache: {self.manifest.parent}"]
        for g in self.groups:
            how = f"resolved now with {_RESOLVERS.get(g.method, g.method)}" if g.group in self.resolved \
                else "already cached"
            lines.append(f"  {g.group:<6} {g.coordinate}: {len(g.jars)} jars, "
                         f"{g.total_bytes() / 1e6:.1f} MB, {how}")
        lines += [f"  note: {n}" for n in self.notes]
        if self.resolved:
            lines.append(f"manifest {self.manifest.name} written in {self.seconds:.1f} s "
                         f"(resolver output: {self.log})")
        else:
            lines.append(f"manifest {self.manifest.name} is complete; nothing to fetch")
        return "\n".join(lines)


def _child_env(env: Mapping[str, str] | None) -> dict[str, str] | None:
    """Environment of a resolver child process: ``env`` when given (else the child inherits this
    process's own), without the variables that would attach it to a running Spark driver."""
    if env is None:
        return None
    drop = ("PYSPARK_GATEWAY_PORT", "PYSPARK_GATEWAY_SECRET", "PYSPARK_SUBMIT_ARGS", "SPARK_CONNECT_MODE_ENABLED",
            "SPARK_REMOTE")
    return {k: v for k, v in env.items() if k not in drop}


def _run_logged(cmd: list[str], log: Path, env: Mapping[str, str] | None) -> int:
    with log.open("a", encoding="utf-8") as fh:
        fh.write(f"\n=== {iso(now_utc())} $ {' '.join(cmd)}\n")
        fh.flush()
        try:
            return subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.STDOUT,
                                  env=_child_env(env), timeout=RESOLVE_TIMEOUT_S, check=False).returncode
        except subprocess.TimeoutExpired:
            fh.write(f"=== timed out after {RESOLVE_TIMEOUT_S} s\n")
            return -1
        except OSError as exc:
            fh.write(f"=== cannot run: {exc}\n")
            return -1


def _resolve_with_ivy(coordinate: str, cache: Path, log: Path, env: Mapping[str, str] | None) -> list[str]:
    with tempfile.TemporaryDirectory(prefix="rotscan-setup-") as tmp:
        out = Path(tmp) / "jars.json"
        code = _run_logged([sys.executable, "-c", _IVY_SCRIPT, coordinate, str(cache / "ivy"), str(out)], log, env)
        if code != 0 or not out.is_file():
            raise SparkSetupError(f"Ivy could not resolve {coordinate} (exit {code}; see {log})")
        uris = json.loads(out.read_text(encoding="utf-8"))
    return [unquote(urlparse(u).path) if u.startswith("file:") else u for u in uris]


def _resolve_with_maven(group: str, coordinate: str, cache: Path, log: Path,
                        env: Mapping[str, str] | None) -> list[str]:
    mvn = shutil.which("mvn", path=None if env is None else env.get("PATH"))
    if mvn is None:
        raise SparkSetupError("mvn is not installed")
    g, a, v = coordinate.split(":")
    target = cache / "maven" / f"{g}_{a}-{v}"
    if target.exists():
        shutil.rmtree(target)
    with tempfile.TemporaryDirectory(prefix="rotscan-setup-") as tmp:
        pom = Path(tmp) / "pom.xml"
        pom.write_text(_POM.format(group=group, g=g, a=a, v=v), encoding="utf-8")
        code = _run_logged([mvn, "-B", "-q", "-f", str(pom), f"-Dmaven.repo.local={cache / 'm2'}",
                            f"{_MAVEN_DEPENDENCY_PLUGIN}:copy-dependencies", f"-DoutputDirectory={target}",
                            # Spark provides these itself; Spark's own Ivy resolution leaves them out too.
                            "-DincludeScope=runtime", "-DexcludeGroupIds=org.scala-lang,org.apache.spark"],
                           log, env)
    jars = sorted(str(p) for p in target.glob("*.jar")) if target.is_dir() else []
    if code != 0 or not jars:
        raise SparkSetupError(f"Maven could not resolve {coordinate} (exit {code}; see {log})")
    return jars


@contextmanager
def _cache_lock(cache: Path, say: Progress) -> Iterator[None]:
    """Hold ``<cache>/resolve.lock`` so that concurrent resolutions (two first scans, parallel tests)
    do not download into the same Ivy directory at once."""
    try:
        import fcntl
    except ImportError:  # Windows: no lock
        yield
        return
    with (cache / "resolve.lock").open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say("another rotscan process is filling the jar cache; waiting for it")
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _resolve_group(group: str, methods: Sequence[str], cache: Path, log: Path, env: Mapping[str, str] | None,
                   say: Progress) -> tuple[GroupJars, str | None]:
    """Resolve one group with the first resolver that works; also a note when an earlier one failed."""
    coordinate = maven_coordinate(group)
    failures: list[str] = []
    for method in methods:
        say(f"resolving {coordinate} with {_RESOLVERS[method]} into {cache} "
            f"(needs Maven Central; output in {log.name})")
        try:
            if method == "ivy":
                jars = _resolve_with_ivy(coordinate, cache, log, env)
            else:
                jars = _resolve_with_maven(group, coordinate, cache, log, env)
        except SparkSetupError as exc:
            failures.append(str(exc))
            say(f"{method} failed: {exc}")
            continue
        missing = [j for j in jars if not Path(j).is_file()]
        if not jars or missing:
            failures.append(f"{method} reported jars that are not on disk: {missing[:3]}")
            continue
        note = f"{group}: {'; '.join(failures)} — used {method} instead" if failures else None
        return GroupJars(group, coordinate, method, tuple(jars)), note
    raise SparkSetupError(f"could not resolve the {group} jars ({coordinate}): {'; '.join(failures)}")


def resolve_jars(
    config: Config,
    groups: Sequence[str] = GROUPS,
    env: Mapping[str, str] | None = None,
    *,
    methods: Sequence[str] = ("ivy", "maven"),
    force: bool = False,
    progress: Progress | None = None,
) -> JarResolution:
    """Fetch the jars of ``groups`` into the cache once and record them in the manifest.

    Groups already in a complete manifest are not fetched again (``force`` re-fetches). Each missing
    group is resolved by Spark's own Ivy (a throwaway local session with ``spark.jars.packages``),
    else by ``mvn dependency:copy-dependencies``; resolver output goes to ``<cache>/setup.log``.
    """
    say = progress or (lambda _msg: None)
    for group in groups:
        maven_coordinate(group)  # validates the group name before any work
    unknown = [m for m in methods if m not in _RESOLVERS]
    if unknown or not methods:
        raise SparkSetupError(f"unknown resolver {unknown or methods!r} (known: {', '.join(_RESOLVERS)})")
    started = time.monotonic()
    cache = jar_cache_dir(config, env)
    path = manifest_path(config, env)
    log = cache / "setup.log"
    manifest = read_manifest(path)
    todo = [g for g in groups if force or not _usable(manifest.get(g), g)]
    notes: list[str] = []
    if todo:
        cache.mkdir(parents=True, exist_ok=True)
        with _cache_lock(cache, say):
            # Another process may have filled the cache while this one waited for the lock.
            manifest = read_manifest(path)
            todo = [g for g in groups if force or not _usable(manifest.get(g), g)]
            for group in todo:
                manifest[group], note = _resolve_group(group, methods, cache, log, env, say)
                write_manifest(path, manifest)
                notes += [note] if note else []
    return JarResolution(
        manifest=path,
        groups=tuple(manifest[g] for g in groups),
        resolved=tuple(todo),
        seconds=time.monotonic() - started,
        log=log,
        notes=tuple(notes),
    )

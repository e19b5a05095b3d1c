"""Java and PySpark exceptions become rotscan errors here, at the Spark boundary.

    with java_errors(f"reading {path}"):
        df = spark.read.parquet(path)

    @java_errors("starting Spark", error=SparkSetupError)
    def start() -> SparkSession: ...

The message is one line: what rotscan was doing, the Java exception class (the root cause's, which
names the real problem) and the first line of its message — never a Java stack trace.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rotscan.errors import ReadError, RotscanError, SparkSetupError

MAX_MESSAGE = 400

# Java exceptions that mean the session itself is broken, not the data being read.
_SETUP_CLASSES = ("ClassNotFoundException", "NoClassDefFoundError", "UnsatisfiedLinkError",
                  "ExceptionInInitializerError", "OutOfMemoryError")


def _first_line(text: str | None) -> str:
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()
    return ""


def _java_cause(throwable: Any) -> tuple[str, str] | None:
    """(simple class name, first message line) of the innermost cause that has a message."""
    try:
        chain = [throwable]
        while len(chain) < 32:
            cause = chain[-1].getCause()
            if cause is None or any(cause.equals(t) for t in chain):
                break
            chain.append(cause)
        for t in reversed(chain):
            message = _first_line(t.getMessage())
            if message:
                return str(t.getClass().getSimpleName()), message
        return str(chain[-1].getClass().getSimpleName()), ""
    except Exception:  # the JVM may be gone: fall back to the Python-side text
        return None


def translate(exc: BaseException, what: str, error: type[RotscanError] = ReadError) -> RotscanError | None:
    """The rotscan error for a Py4J/PySpark exception, or ``None`` if ``exc`` is neither."""
    from py4j.protocol import Py4JError, Py4JJavaError
    from pyspark.errors import PySparkException

    kind: type[RotscanError] = error
    throwable: Any = None
    if isinstance(exc, Py4JJavaError):
        throwable = exc.java_exception
        name, text = type(exc).__name__, _first_line(exc.errmsg)
    elif isinstance(exc, PySparkException):
        throwable = getattr(exc, "_origin", None)  # CapturedException: the Java exception
        name, text = type(exc).__name__, _first_line(str(exc))
        condition = exc.getCondition() or ""
        if throwable is None and ("GATEWAY" in condition or "JAVA" in condition):
            kind = SparkSetupError  # e.g. JAVA_GATEWAY_EXITED: Java is missing or failed to start
    elif isinstance(exc, Py4JError):
        name, text = type(exc).__name__, "the connection to the Spark JVM failed (did it exit?)"
        kind = SparkSetupError
    else:
        return None
    if throwable is not None:
        cause = _java_cause(throwable)
        if cause is not None:
            name, text = cause
    if name in _SETUP_CLASSES:
        kind = SparkSetupError
    message = f"{name}: {text}" if text else name
    if len(message) > MAX_MESSAGE:
        message = message[: MAX_MESSAGE - 1] + "…"
    return kind(f"{what}: {message}" if what else message)


@contextmanager
def java_errors(what: str, error: type[RotscanError] = ReadError) -> Iterator[None]:
    """Raise ``error`` (``ReadError`` by default; ``SparkSetupError`` when the session itself is
    broken) instead of a Py4J/PySpark exception. Usable as ``with`` block or decorator."""
    try:
        yield
    except RotscanError:
        raise
    except Exception as exc:
        translated = translate(exc, what, error)
        if translated is None:
            raise
        # ``from None``: the chained Py4J exception would print the whole Java stack trace.
        raise translated from None

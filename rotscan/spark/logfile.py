"""Where Spark's own log goes, and what a scan tells the user about it.

The driver JVM rotscan starts itself (``rotscan.spark.session``, embedded mode) logs through the
packaged ``log4j2.properties`` into one file per process — ``<jar cache>/logs/spark-<UTC time>-<pid>.log``
(``rotscan setup``'s cache directory: always writable, outside every lake, kept across scans) — and
never to the terminal: Spark's WARN/ERROR lines and Java stack traces are for diagnosis, the
user reads rotscan's own messages. The newest :data:`KEEP_FILES` files are kept.

A scan notes where the file ends when it starts (:func:`mark`); when it finishes,
:func:`warnings_since` turns the ERROR lines logged in between into one ``ScanWarning`` that
names the file, so an error is never silent just because it is not printed.

Under ``spark-submit`` (or a session someone else started) the cluster's own log configuration
applies and there is no file of rotscan's: :func:`mark` then records nothing.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from rotscan.models import ScanWarning

KEEP_FILES = 20
# the system property the packaged log4j2.properties reads the file name from
PROPERTY = "rotscan.spark.log"
# "2026-12-03 09:10:11.123 ERROR CodeGenerator: Failed to compile …" (the file appender's layout)
_ERROR_LINE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}[.,]\d{3} ERROR (.*)$")

_current: Path | None = None


def new_log_file(directory: Path) -> Path:
    """The log file of a JVM about to be started (this process's), in ``directory``, which is
    created — or, when it cannot be (a read-only jar cache), in ``rotscan-logs`` under the system's
    temporary directory; older files beyond the newest :data:`KEEP_FILES` are removed. Remembered
    as :func:`current`."""
    global _current
    try:
        directory.mkdir(parents=True, exist_ok=True)
        if not os.access(directory, os.W_OK):
            raise PermissionError(directory)
    except OSError:
        directory = Path(tempfile.gettempdir()) / "rotscan-logs"
        directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"spark-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{os.getpid()}.log"
    old = sorted(directory.glob("spark-*.log"))  # by name: by start time
    for stale in old[: max(0, len(old) - (KEEP_FILES - 1))]:
        if _writer_alive(stale):
            continue  # a long-running process (a scheduled scan, a notebook) still logs there
        with contextlib.suppress(OSError):  # another process's, just removed or not ours to remove
            stale.unlink()
    _current = path
    return path


def _writer_alive(path: Path) -> bool:
    """Whether the process named in ``spark-<time>-<pid>.log`` still runs on this host (the cache
    may be shared by many processes; pruning a live one's file would lose its errors)."""
    m = re.match(r"spark-\d{8}T\d{6}Z-(\d+)\.log$", path.name)
    if m is None:
        return False
    pid = int(m.group(1))
    if pid == os.getpid():
        return False  # this process's old file: its JVM is gone (a new one is starting)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    except OSError:
        return False
    return True


def current() -> Path | None:
    """The file this process's Spark driver logs to, or ``None`` (no JVM started by rotscan)."""
    return _current


@dataclass(frozen=True)
class LogMark:
    """Where Spark's log file ended at one moment (``path`` None: no JVM of rotscan's yet)."""

    path: Path | None
    offset: int


def mark() -> LogMark:
    path = current()
    if path is None:
        return LogMark(None, 0)
    try:
        return LogMark(path, path.stat().st_size)
    except OSError:  # created on the first event only
        return LogMark(path, 0)


def errors_since(since: LogMark) -> tuple[Path, list[str]] | None:
    """(the log file, the ERROR lines written to it after ``since``), or ``None`` when rotscan's
    JVM has no log file. A file started after the mark is read from its beginning."""
    path = current()
    if path is None:
        return None
    offset = since.offset if since.path == path else 0
    try:
        with path.open("rb") as stream:
            stream.seek(offset)
            text = stream.read().decode("utf-8", errors="replace")
    except FileNotFoundError:  # nothing was logged at all
        return path, []
    return path, [m.group(1) for line in text.splitlines() if (m := _ERROR_LINE.match(line))]


def warnings_since(since: LogMark) -> list[ScanWarning]:
    """One ``spark_log`` warning naming the log file when Spark logged errors after ``since``."""
    found = errors_since(since)
    if found is None or not found[1]:
        return []
    path, errors = found
    first = errors[0] if len(errors[0]) <= 200 else errors[0][:199] + "…"
    return [ScanWarning(str(path), f"Spark logged {len(errors):,} error(s) during this scan (first: {first}); "
                        f"the full text, with stack traces, is in {path}", "spark_log")]

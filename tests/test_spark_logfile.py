"""Spark's log file (rotscan.spark.logfile): where it goes, which lines count as errors, pruning."""

from __future__ import annotations

from pathlib import Path

import pytest

from rotscan.spark import logfile


@pytest.fixture(autouse=True)
def _no_current(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logfile, "_current", None)


def test_no_file_of_rotscans_means_no_warning() -> None:
    mark = logfile.mark()
    assert mark == logfile.LogMark(None, 0)
    assert logfile.errors_since(mark) is None and logfile.warnings_since(mark) == []


def test_only_errors_after_the_mark_become_one_warning_naming_the_file(tmp_path: Path) -> None:
    path = logfile.new_log_file(tmp_path / "logs")
    assert logfile.current() == path and path.parent.is_dir() and not path.exists()
    assert logfile.warnings_since(logfile.mark()) == []  # created on the first event only
    path.write_text("2026-12-03 09:10:36.049 ERROR CodeGenerator: before the scan\n", encoding="utf-8")
    mark = logfile.mark()
    with path.open("a", encoding="utf-8") as f:
        f.write("2026-12-03 09:10:37.001 WARN DAGScheduler: Broadcasting large task binary\n"
                "2026-12-03 09:10:38.002 ERROR Executor: Exception in task 0.0\n"
                "java.lang.IllegalStateException: ERROR in the message is not a line of its own\n"
                "\tat org.apache.spark.Foo.bar(Foo.scala:1)\n"
                "2026-12-03 09:10:39.003 ERROR CodeGenerator: Failed to compile the generated Java code.\n")
    assert logfile.errors_since(mark) == (path, ["Executor: Exception in task 0.0",
                                                 "CodeGenerator: Failed to compile the generated Java code."])
    (warning,) = logfile.warnings_since(mark)
    assert warning.code == "spark_log" and warning.uri == str(path)
    assert "2 error(s)" in warning.message and "Exception in task 0.0" in warning.message and str(path) in warning.message
    # a mark taken before the JVM (and its file) existed reads the file from its start
    assert len(logfile.errors_since(logfile.LogMark(None, 0))[1]) == 3  # type: ignore[index]


def _dead_pid() -> int:
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_old_log_files_are_pruned_to_the_newest(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    dead = _dead_pid()
    for i in range(logfile.KEEP_FILES + 5):
        (logs / f"spark-20260101T0000{i:02d}Z-{dead}.log").write_text("x", encoding="utf-8")
    (logs / "other.txt").write_text("not ours", encoding="utf-8")
    new = logfile.new_log_file(logs)
    new.write_text("y", encoding="utf-8")
    kept = sorted(p.name for p in logs.glob("spark-*.log"))
    assert len(kept) == logfile.KEEP_FILES and new.name in kept
    assert f"spark-20260101T000000Z-{dead}.log" not in kept and (logs / "other.txt").exists()


def test_the_file_of_a_process_still_running_is_never_pruned(tmp_path: Path) -> None:
    """A long scan (or a notebook) keeps its file however many later processes start and prune:
    its JVM still writes there, and the scan's warnings read it (a CI run of many processes
    sharing one cache lost its log this way)."""
    import subprocess
    import sys

    logs = tmp_path / "logs"
    logs.mkdir()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        oldest = logs / f"spark-20250101T000000Z-{live.pid}.log"
        oldest.write_text("2025-01-01 00:00:00.000 ERROR X: still being written\n", encoding="utf-8")
        dead = _dead_pid()
        for i in range(logfile.KEEP_FILES + 5):
            (logs / f"spark-20260101T0000{i:02d}Z-{dead}.log").write_text("x", encoding="utf-8")
        logfile.new_log_file(logs)
        assert oldest.exists()
        assert len(list(logs.glob(f"spark-*-{dead}.log"))) == logfile.KEEP_FILES - 1  # the live one is extra
    finally:
        live.kill()
        live.wait()
    logfile.new_log_file(logs)  # once it has ended, its file goes like any other
    assert not oldest.exists()


def test_an_unwritable_cache_puts_the_log_in_the_temp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("a file where the logs directory would go", encoding="utf-8")
    monkeypatch.setattr(logfile.tempfile, "gettempdir", lambda: str(tmp_path / "tmp"))
    path = logfile.new_log_file(blocked / "logs")
    assert path.parent == tmp_path / "tmp" / "rotscan-logs" and path.parent.is_dir()
    assert logfile.current() == path

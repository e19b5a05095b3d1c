"""The storage write operations cleanup relies on (local filesystem) and the run lock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rotscan.cleanup.lock import LockedError, RootLock
from rotscan.errors import StorageError, VanishedError
from rotscan.storage.local import LocalStorage
from rotscan.uri import parse


def u(p: Path):  # type: ignore[no-untyped-def]
    return parse(str(p))


def test_rename_never_replaces_and_keeps_content_and_mtime(tmp_path: Path) -> None:
    s = LocalStorage()
    (tmp_path / "a").write_bytes(b"alpha")
    os.utime(tmp_path / "a", (1_000_000_000.25, 1_000_000_000.25))
    (tmp_path / "b").write_bytes(b"beta")
    with pytest.raises(StorageError, match="exists"):
        s.rename(u(tmp_path / "a"), u(tmp_path / "b"))
    assert (tmp_path / "b").read_bytes() == b"beta"
    s.mkdirs(u(tmp_path / "q/deep"))
    s.rename(u(tmp_path / "a"), u(tmp_path / "q/deep/a"))
    assert not (tmp_path / "a").exists() and (tmp_path / "q/deep/a").read_bytes() == b"alpha"
    assert (tmp_path / "q/deep/a").stat().st_mtime == 1_000_000_000.25
    with pytest.raises(VanishedError):
        s.rename(u(tmp_path / "a"), u(tmp_path / "c"))


def test_copy_delete_sha256_write_append(tmp_path: Path) -> None:
    s = LocalStorage()
    data = os.urandom(3 << 20)
    (tmp_path / "big").write_bytes(data)
    assert s.copy(u(tmp_path / "big"), u(tmp_path / "big2")) == len(data)
    assert s.sha256(u(tmp_path / "big2")) == s.sha256(u(tmp_path / "big"))
    with pytest.raises(StorageError, match="exists"):
        s.copy(u(tmp_path / "big"), u(tmp_path / "big2"))
    (tmp_path / "d/e").mkdir(parents=True)
    (tmp_path / "d/e/f").write_text("x")
    with pytest.raises(StorageError):
        s.delete(u(tmp_path / "d"))  # not empty, not recursive
    s.delete(u(tmp_path / "d"), recursive=True)
    assert not (tmp_path / "d").exists()
    s.write_bytes(u(tmp_path / "w"), b"one")
    with pytest.raises(StorageError, match="exists"):
        s.write_bytes(u(tmp_path / "w"), b"two")
    s.write_bytes(u(tmp_path / "w"), b"two", overwrite=True)
    s.append_bytes(u(tmp_path / "w"), b"+three")
    assert (tmp_path / "w").read_bytes() == b"two+three"
    assert s.exists(u(tmp_path / "w")) and not s.exists(u(tmp_path / "nope"))
    assert s.set_mtime(u(tmp_path / "w"), 1234.5) and (tmp_path / "w").stat().st_mtime == 1234.5


def test_lock_excludes_a_second_run_and_is_taken_over_from_a_dead_process(tmp_path: Path) -> None:
    s = LocalStorage()
    first = RootLock(s, u(tmp_path), "run one", "host-a")
    first.acquire()
    with pytest.raises(LockedError, match="run one"):
        RootLock(s, u(tmp_path), "run two", "host-a").acquire()
    with pytest.raises(LockedError):
        RootLock(s, u(tmp_path), "run two", "host-b").acquire()
    first.release()
    assert not (tmp_path / "_rotscan/apply.lock").exists()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / "_rotscan/apply.lock").write_text(json.dumps({"owner": "killed", "host": "host-a",
                                                              "pid": int(dead.stdout)}))
    second = RootLock(s, u(tmp_path), "run two", "host-a")
    second.acquire()
    assert json.loads((tmp_path / "_rotscan/apply.lock").read_text())["owner"] == "run two"
    second.release()

"""Moving files into quarantine and back, crash-safe through the journal.

A move is: ``intent`` record (source, target, size, mtime, SHA-256) → the move → ``done`` record.
Where the storage renames atomically (local filesystem, HDFS) the move is a rename; elsewhere
(object stores) it is copy → verify size and SHA-256 → set mtime → delete the source. After a
crash, :func:`resolve_intent` decides from the storage what happened, so every file ends up either
where it was or in quarantine — never lost, never half-copied.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rotscan.cleanup.fingerprint import FileState, file_state
from rotscan.cleanup.journal import Journal
from rotscan.errors import StorageError, VanishedError
from rotscan.storage.base import WritableStorage
from rotscan.uri import Uri, parse

FaultHook = Callable[[str, int], None]


class Changed(Exception):
    """The file is not what the plan saw (changed, grown, vanished) — the action must not go on."""


def _noop(step: str, n: int) -> None:
    pass


def _verified(storage: WritableStorage, uri: Uri, size: int, sha: str) -> bool:
    try:
        st = file_state(storage, uri)
        return st is not None and st.size == size and storage.sha256(uri) == sha
    except StorageError:
        return False


@dataclass
class Mover:
    storage: WritableStorage
    journal: Journal
    force_copy: bool = False
    hook: FaultHook = _noop
    moves: int = 0

    @property
    def mode(self) -> str:
        return "rename" if self.storage.atomic_rename and not self.force_copy else "copy"

    def move(self, action_id: str, src: Uri, dst: Uri, expected: FileState) -> dict[str, Any]:
        """Move one file the plan saw as ``expected`` (size, mtime) from ``src`` to ``dst``."""
        now = file_state(self.storage, src)
        if now is None:
            raise Changed(f"{src.name} vanished")
        if not now.same(FileState("", expected.size, expected.mtime)):
            raise Changed(f"{src.name} changed (size {expected.size} -> {now.size})")
        exact_mtime = self.storage.stat(src).mtime  # unrounded, so a copy-mode move keeps it exactly
        sha = self.storage.sha256(src)
        if file_state(self.storage, src) != now:
            raise Changed(f"{src.name} changed while being read")
        self.storage.mkdirs(dst.parent)
        rec = self.journal.write("intent", action_id=action_id, src=str(src), dst=str(dst), size=now.size,
                                 mtime=exact_mtime, sha256=sha, mode=self.mode)
        n = rec["n"]
        self.hook("intent", self.moves + 1)
        transfer(self.storage, src, dst, now.size, exact_mtime, sha, self.mode, lambda step: self.hook(step, self.moves + 1))
        self.journal.write("done", seq=n, action_id=action_id)
        self.moves += 1
        self.hook("moved", self.moves)
        return rec


def transfer(storage: WritableStorage, src: Uri, dst: Uri, size: int, mtime: float, sha: str, mode: str,
             hook: Callable[[str], None] = lambda step: None) -> None:
    """Move ``src`` to ``dst`` (which must not exist): rename, or copy-verify-delete."""
    if mode == "rename":
        storage.rename(src, dst)
        return
    storage.copy(src, dst)
    hook("copied")
    if not _verified(storage, dst, size, sha):
        storage.delete(dst)
        raise StorageError(f"{dst}: copy does not verify (size/SHA-256); source kept")
    storage.set_mtime(dst, mtime)
    storage.delete(src)


def resolve_intent(storage: WritableStorage, rec: dict[str, Any]) -> tuple[str, str]:
    """Finish or undo a move that has an ``intent`` but no ``done`` record.

    Returns ("done", why) when the file is (now) in quarantine, ("rolled_back", why) when it is
    where it was, ("failed", why) when neither copy verifies (never expected; reported loudly)."""
    src, dst = parse(rec["src"]), parse(rec["dst"])
    size, sha = int(rec["size"]), str(rec["sha256"])
    src_ok = _verified(storage, src, size, sha)
    dst_exists = storage.exists(dst)
    dst_ok = dst_exists and _verified(storage, dst, size, sha)
    if dst_ok:
        if src_ok:
            if rec.get("mode") == "copy":
                storage.set_mtime(dst, float(rec["mtime"]))
            storage.delete(src)  # the copy verifies and the source is still the original: finish the move
            return "done", "copy verified; source removed"
        if rec.get("mode") == "copy":
            storage.set_mtime(dst, float(rec["mtime"]))
        return "done", "already moved"
    if dst_exists:
        storage.delete(dst)  # a partial copy: remove it; the source was never deleted
        return ("rolled_back", "partial copy removed") if src_ok else ("failed", "partial copy removed, source changed")
    if src_ok:
        return "rolled_back", "not moved"
    return "failed", "neither the source nor the quarantined copy verifies"


def move_back(storage: WritableStorage, rec: dict[str, Any], mode: str, journal: Journal | None = None,
              pending: bool = False) -> tuple[str, str]:
    """Put a quarantined file (a ``done`` move record) back where it was, byte for byte.

    ``pending``: an earlier restore of this file started and did not finish (so a file at the
    original path that does not verify is our own partial copy, not new data).
    Returns (status, reason) with status "done", "skipped" or "failed"."""
    src, dst = parse(rec["src"]), parse(rec["dst"])
    size, sha, mtime = int(rec["size"]), str(rec["sha256"]), float(rec["mtime"])
    if storage.exists(src):
        if _verified(storage, src, size, sha):
            if storage.exists(dst):
                if mode == "copy":
                    storage.set_mtime(src, mtime)  # an interrupted copy-mode restore may not have set it
                storage.delete(dst)
            return "done", "already in place"
        if pending and storage.exists(dst) and _verified(storage, dst, size, sha):
            storage.delete(src)  # our own partial copy from an interrupted restore
        else:
            return "skipped", "refused: the path now holds other data; not overwritten"
    if not storage.exists(dst):
        return "failed", "quarantined copy is missing (purged?)"
    if not _verified(storage, dst, size, sha):
        return "failed", "quarantined copy does not verify"
    storage.mkdirs(src.parent)
    seq = None
    if journal is not None:
        seq = journal.write("restore_intent", seq=rec["n"])["n"]
    try:
        transfer(storage, dst, src, size, mtime, sha, mode)
    except VanishedError as exc:
        return "failed", str(exc)
    if journal is not None:
        journal.write("restore_done", seq=rec["n"], intent=seq)
    return "done", "restored"

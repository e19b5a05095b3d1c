"""The storage interface the crawler and the cleanup code use."""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO, Protocol

from rotscan.uri import Uri


@dataclass(frozen=True)
class Entry:
    """One directory entry as listed (symlinks are reported, never followed)."""

    uri: Uri
    is_dir: bool
    size: int
    mtime: float  # epoch seconds
    is_symlink: bool = False
    # For symlinks: the resolved target, or None when the link dangles.
    link_target: Uri | None = None

    @property
    def name(self) -> str:
        return self.uri.name


class Storage(Protocol):
    """What rotscan needs from a filesystem. Errors are raised as ``rotscan.errors.StorageError``
    (``FileNotFoundError``-like conditions as :class:`Vanished`)."""

    scheme: str

    def list_dir(self, uri: Uri) -> list[Entry]:
        """Entries of a directory (not recursive), in name order."""
        ...

    def stat(self, uri: Uri) -> Entry:
        ...

    def open_read(self, uri: Uri) -> BinaryIO:
        """A seekable binary stream (used for sniffing, Parquet footers and the Delta log)."""
        ...

    def read_head(self, uri: Uri, n: int) -> bytes:
        ...

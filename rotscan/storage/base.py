"""The storage interface the crawler and the cleanup code use."""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO, Protocol, runtime_checkable

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


class WritableStorage(Storage, Protocol):
    """The write operations only the cleanup code (``rotscan.cleanup``) uses. Each is small and
    fails rather than overwrites: ``rename``, ``copy`` and ``write_bytes`` raise
    :class:`~rotscan.errors.StorageError` when the target exists."""

    @property
    def supports_append(self) -> bool:
        """True when ``append_bytes`` is durable and cheap (a local file); object stores have no append."""
        ...

    @property
    def atomic_rename(self) -> bool:
        """True when ``rename`` is an atomic metadata operation (local filesystem, HDFS); on object
        stores a "rename" is a copy and a delete, so the cleanup code copies, verifies and deletes."""
        ...

    def exists(self, uri: Uri) -> bool:
        ...

    def mkdirs(self, uri: Uri) -> None:
        """Create a directory and its parents (no error when it exists)."""
        ...

    def rename(self, src: Uri, dst: Uri) -> None:
        """Move a file within one filesystem; the target must not exist."""
        ...

    def copy(self, src: Uri, dst: Uri) -> int:
        """Stream a file to a new path (durably written; the target must not exist); bytes copied."""
        ...

    def delete(self, uri: Uri, recursive: bool = False) -> None:
        """Delete a file, or an empty directory; a non-empty directory only with ``recursive``."""
        ...

    def sha256(self, uri: Uri) -> str:
        """Hex SHA-256 of a file's content (streamed)."""
        ...

    def set_mtime(self, uri: Uri, mtime: float) -> bool:
        """Set a file's modification time; False where the store cannot (object stores)."""
        ...

    def write_bytes(self, uri: Uri, data: bytes, overwrite: bool = False) -> None:
        """Write a small file durably (state files: plans, manifests, journal records)."""
        ...

    def append_bytes(self, uri: Uri, data: bytes) -> None:
        """Append to a file and fsync it (only where ``supports_append``)."""
        ...


@dataclass(frozen=True)
class PendingUpload:
    """A multipart upload begun and neither completed nor aborted (object stores): no object is
    visible at ``uri``, yet the parts already uploaded are stored, and billed, until it is aborted."""

    uri: Uri
    upload_id: str
    initiated: str  # as the store reports it (ISO 8601)


@runtime_checkable
class MultipartStorage(Protocol):
    """Storages that can list and abort incomplete multipart uploads (``s3a``): what a process
    killed in the middle of a multi-part copy leaves behind."""

    def incomplete_uploads(self, prefix: Uri) -> list[PendingUpload]:
        """The incomplete uploads to keys under the directory ``prefix`` (empty where the store has none)."""
        ...

    def abort_upload(self, upload: PendingUpload) -> None:
        """Abort the upload: its parts are deleted; no object appears."""
        ...

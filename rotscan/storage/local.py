"""Local filesystem storage (``file:`` URIs) using plain ``os`` calls."""

from __future__ import annotations

import errno
import os
from typing import BinaryIO

from rotscan.errors import AccessDeniedError, StorageError, VanishedError
from rotscan.storage.base import Entry
from rotscan.uri import Uri


def _translate(exc: OSError, path: str) -> StorageError:
    if isinstance(exc, FileNotFoundError) or exc.errno == errno.ENOENT:
        return VanishedError(f"{path}: no longer exists")
    if isinstance(exc, PermissionError) or exc.errno in (errno.EACCES, errno.EPERM):
        return AccessDeniedError(f"{path}: permission denied")
    return StorageError(f"{path}: {exc.strerror or exc}")


class LocalStorage:
    scheme = "file"

    def _entry(self, uri: Uri, st: os.stat_result, is_symlink: bool) -> Entry:
        import stat as statmod

        target: Uri | None = None
        is_dir = statmod.S_ISDIR(st.st_mode)
        if is_symlink:
            real = os.path.realpath(uri.path)
            target = Uri("file", "", real) if os.path.exists(real) else None
            is_dir = target is not None and os.path.isdir(real)
        return Entry(uri=uri, is_dir=is_dir, size=0 if is_dir else int(st.st_size),
                     mtime=float(st.st_mtime), is_symlink=is_symlink, link_target=target)

    def list_dir(self, uri: Uri) -> list[Entry]:
        out: list[Entry] = []
        try:
            with os.scandir(uri.path) as it:
                for de in it:
                    child = uri.child(de.name)
                    try:
                        st = de.stat(follow_symlinks=False)
                        out.append(self._entry(child, st, de.is_symlink()))
                    except OSError as exc:
                        if isinstance(exc, FileNotFoundError):
                            continue  # vanished between readdir and stat: nothing to report on
                        raise _translate(exc, child.path) from exc
        except OSError as exc:
            raise _translate(exc, uri.path) from exc
        out.sort(key=lambda e: e.name)
        return out

    def stat(self, uri: Uri) -> Entry:
        try:
            st = os.lstat(uri.path)
        except OSError as exc:
            raise _translate(exc, uri.path) from exc
        import stat as statmod

        return self._entry(uri, st, statmod.S_ISLNK(st.st_mode))

    def open_read(self, uri: Uri) -> BinaryIO:
        try:
            return open(uri.path, "rb")  # noqa: SIM115 - the caller closes it
        except OSError as exc:
            raise _translate(exc, uri.path) from exc

    def read_head(self, uri: Uri, n: int) -> bytes:
        with self.open_read(uri) as fh:
            try:
                return fh.read(n)
            except OSError as exc:
                raise _translate(exc, uri.path) from exc

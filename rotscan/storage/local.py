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

    # -- write operations (used only by rotscan.cleanup) ------------------------------------------
    supports_append = True
    atomic_rename = True

    def exists(self, uri: Uri) -> bool:
        return os.path.lexists(uri.path)

    def mkdirs(self, uri: Uri) -> None:
        try:
            os.makedirs(uri.path, exist_ok=True)
        except OSError as exc:
            raise _translate(exc, uri.path) from exc

    def rename(self, src: Uri, dst: Uri) -> None:
        """Files: hard link then unlink (``link`` fails atomically when the target exists, and a
        crash in between leaves two names of one inode, never a partial file); directories and
        filesystems without hard links: check, then ``os.rename``."""
        if os.path.lexists(dst.path):
            raise StorageError(f"{dst.path}: target exists")
        try:
            if os.path.isfile(src.path) and not os.path.islink(src.path):
                try:
                    os.link(src.path, dst.path, follow_symlinks=False)
                except FileExistsError:
                    raise
                except OSError:
                    os.rename(src.path, dst.path)
                else:
                    os.unlink(src.path)
            else:
                os.rename(src.path, dst.path)
        except FileExistsError as exc:
            raise StorageError(f"{dst.path}: target exists") from exc
        except OSError as exc:
            raise _translate(exc, src.path) from exc
        _fsync_dir(os.path.dirname(dst.path))
        _fsync_dir(os.path.dirname(src.path))

    def copy(self, src: Uri, dst: Uri) -> int:
        copied = 0
        try:
            with open(src.path, "rb") as fin, open(dst.path, "xb") as fout:
                while chunk := fin.read(1 << 20):
                    fout.write(chunk)
                    copied += len(chunk)
                fout.flush()
                os.fsync(fout.fileno())
        except FileExistsError as exc:
            raise StorageError(f"{dst.path}: target exists") from exc
        except OSError as exc:
            raise _translate(exc, src.path) from exc
        _fsync_dir(os.path.dirname(dst.path))
        return copied

    def delete(self, uri: Uri, recursive: bool = False) -> None:
        import shutil

        try:
            if os.path.isdir(uri.path) and not os.path.islink(uri.path):
                if recursive:
                    shutil.rmtree(uri.path)
                else:
                    os.rmdir(uri.path)
            else:
                os.unlink(uri.path)
        except OSError as exc:
            raise _translate(exc, uri.path) from exc
        _fsync_dir(os.path.dirname(uri.path))

    def sha256(self, uri: Uri) -> str:
        import hashlib

        h = hashlib.sha256()
        with self.open_read(uri) as fh:
            try:
                while chunk := fh.read(1 << 20):
                    h.update(chunk)
            except OSError as exc:
                raise _translate(exc, uri.path) from exc
        return h.hexdigest()

    def set_mtime(self, uri: Uri, mtime: float) -> bool:
        try:
            os.utime(uri.path, (mtime, mtime), follow_symlinks=False)
        except OSError as exc:
            raise _translate(exc, uri.path) from exc
        return True

    def write_bytes(self, uri: Uri, data: bytes, overwrite: bool = False) -> None:
        tmp = f"{uri.path}.{os.getpid()}.tmp"
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            if overwrite:
                os.replace(tmp, uri.path)
            else:
                os.link(tmp, uri.path)
                os.unlink(tmp)
        except FileExistsError as exc:
            os.unlink(tmp)
            raise StorageError(f"{uri.path}: target exists") from exc
        except OSError as exc:
            raise _translate(exc, uri.path) from exc
        _fsync_dir(os.path.dirname(uri.path))

    def append_bytes(self, uri: Uri, data: bytes) -> None:
        try:
            fd = os.open(uri.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise _translate(exc, uri.path) from exc


def _fsync_dir(path: str) -> None:
    """Make a directory entry change (create, rename, unlink) durable."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

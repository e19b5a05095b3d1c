"""Storage through Hadoop's FileSystem in the Spark session's JVM, for every non-``file:`` scheme
(``s3a``, ``hdfs``, ``abfs``, ``gs`` …). It uses the session's Hadoop configuration, so credentials,
endpoints and Kerberos are whatever the cluster (or ``spark.hadoop.*`` settings) say — rotscan never
takes credentials itself."""

from __future__ import annotations

import contextlib
import io
import re
from typing import TYPE_CHECKING, Any, BinaryIO

from rotscan.errors import AccessDeniedError, StorageError, VanishedError
from rotscan.storage.base import Entry, PendingUpload
from rotscan.uri import Uri, parse

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def _translate(exc: Exception, path: str) -> StorageError:
    text = str(exc)
    if "NoAuthWithAWSException" in text:
        # s3a found no credentials anywhere in its provider chain: say so, not just "permission denied"
        chain = re.search(r"No AWS Credentials provided by ([\w ]+?)\s*:", text)
        return AccessDeniedError(f"{path}: permission denied: no AWS credentials from the provider chain"
                                 + (f" ({chain[1]})" if chain else ""))
    if "FileNotFoundException" in text:
        return VanishedError(f"{path}: no longer exists")
    if "AccessDeniedException" in text or "AccessControlException" in text or "Permission denied" in text:
        return AccessDeniedError(f"{path}: permission denied")
    if "UnknownStoreException" in text:
        return StorageError(f"{path}: the bucket does not exist")
    # py4j's first line ("An error occurred while calling o91.getFileStatus.") says nothing; the Java
    # exception's own message follows it
    lines = [ln.strip().lstrip(": ").strip() for ln in text.splitlines()]
    first = next((ln for ln in lines if ln and not ln.startswith("An error occurred while calling")), text)
    return StorageError(f"{path}: {first[:300]}")


class _HadoopInput(io.RawIOBase):
    """A seekable Python stream over an ``FSDataInputStream`` (reads through py4j)."""

    def __init__(self, jvm: Any, stream: Any, length: int, path: str) -> None:
        self._jvm = jvm
        self._stream = stream
        self._length = length
        self._pos = 0
        self._path = path

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence == 0:
            self._pos = offset
        elif whence == 1:
            self._pos += offset
        else:
            self._pos = self._length + offset
        self._pos = max(0, self._pos)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), max(0, self._length - self._pos))
        if n == 0:
            return 0
        try:
            self._stream.seek(self._pos)
            data = bytes(self._jvm.org.apache.commons.io.IOUtils.toByteArray(self._stream, n))
        except Exception as exc:  # py4j errors
            raise _translate(exc, self._path) from exc
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)

    def close(self) -> None:
        if not self.closed:
            try:
                self._stream.close()
            finally:
                super().close()


class HadoopStorage:
    def __init__(self, spark: SparkSession, scheme: str) -> None:
        self.scheme = scheme
        self._jvm: Any = spark.sparkContext._jvm  # type: ignore[attr-defined]
        self._conf = spark.sparkContext._jsc.hadoopConfiguration()  # type: ignore[union-attr]
        self._fs_cache: dict[str, Any] = {}

    def _path(self, uri: Uri) -> Any:
        return self._jvm.org.apache.hadoop.fs.Path(str(uri))

    def _fs(self, uri: Uri) -> Any:
        key = f"{uri.scheme}://{uri.authority}"
        fs = self._fs_cache.get(key)
        if fs is None:
            fs = self._path(uri).getFileSystem(self._conf)
            # Hadoop's local filesystem hides .crc files; look at the raw one underneath.
            if hasattr(fs, "getRawFileSystem") and uri.scheme == "file":
                fs = fs.getRawFileSystem()
            self._fs_cache[key] = fs
        return fs

    def _entry(self, status: Any, uri: Uri | None = None) -> Entry:
        u = uri or parse(str(status.getPath().toString()))
        is_dir = bool(status.isDirectory())
        return Entry(uri=u, is_dir=is_dir, size=0 if is_dir else int(status.getLen()),
                     mtime=int(status.getModificationTime()) / 1000.0, is_symlink=bool(status.isSymlink()))

    def list_dir(self, uri: Uri) -> list[Entry]:
        try:
            statuses = self._fs(uri).listStatus(self._path(uri))
            out = [self._entry(s) for s in statuses]
        except Exception as exc:
            raise _translate(exc, str(uri)) from exc
        # Object stores list a key "prefix/" under itself; drop it.
        out = [e for e in out if e.uri != uri]
        out.sort(key=lambda e: e.name)
        return out

    def stat(self, uri: Uri) -> Entry:
        try:
            return self._entry(self._fs(uri).getFileStatus(self._path(uri)), uri)
        except Exception as exc:
            raise _translate(exc, str(uri)) from exc

    def open_read(self, uri: Uri) -> BinaryIO:
        try:
            fs = self._fs(uri)
            length = int(fs.getFileStatus(self._path(uri)).getLen())
            stream = fs.open(self._path(uri))
        except Exception as exc:
            raise _translate(exc, str(uri)) from exc
        return io.BufferedReader(_HadoopInput(self._jvm, stream, length, str(uri)), buffer_size=1 << 20)  # type: ignore[return-value]

    def read_head(self, uri: Uri, n: int) -> bytes:
        with self.open_read(uri) as fh:
            return fh.read(n)

    # -- write operations (used only by rotscan.cleanup) ------------------------------------------
    supports_append = False  # object stores have no append: journals are written as one object a record

    @property
    def atomic_rename(self) -> bool:
        # s3a/gs/abfs "renames" copy and delete; the cleanup code does that itself, verified.
        return self.scheme in ("hdfs", "file", "viewfs")

    def exists(self, uri: Uri) -> bool:
        try:
            return bool(self._fs(uri).exists(self._path(uri)))
        except Exception as exc:
            raise _translate(exc, str(uri)) from exc

    def mkdirs(self, uri: Uri) -> None:
        try:
            self._fs(uri).mkdirs(self._path(uri))
        except Exception as exc:
            raise _translate(exc, str(uri)) from exc

    def rename(self, src: Uri, dst: Uri) -> None:
        if self.exists(dst):
            raise StorageError(f"{dst}: target exists")
        try:
            ok = bool(self._fs(src).rename(self._path(src), self._path(dst)))
        except Exception as exc:
            raise _translate(exc, str(src)) from exc
        if not ok:
            raise StorageError(f"{src}: rename to {dst} failed")

    def copy(self, src: Uri, dst: Uri) -> int:
        if self.exists(dst):
            raise StorageError(f"{dst}: target exists")
        try:
            fs_src, fs_dst = self._fs(src), self._fs(dst)
            ok = bool(self._jvm.org.apache.hadoop.fs.FileUtil.copy(  # type: ignore[union-attr]
                fs_src, self._path(src), fs_dst, self._path(dst), False, False, self._conf))
            if not ok:
                raise StorageError(f"{src}: copy to {dst} failed")
            return int(fs_dst.getFileStatus(self._path(dst)).getLen())
        except StorageError:
            raise
        except Exception as exc:
            raise _translate(exc, str(src)) from exc

    def delete(self, uri: Uri, recursive: bool = False) -> None:
        try:
            fs = self._fs(uri)
            path = self._path(uri)
            if not fs.exists(path):
                raise VanishedError(f"{uri}: no longer exists")
            if not recursive and fs.getFileStatus(path).isDirectory() and len(fs.listStatus(path)) > 0:
                raise StorageError(f"{uri}: directory not empty")
            if not bool(fs.delete(path, recursive)):
                raise StorageError(f"{uri}: delete failed")
        except StorageError:
            raise
        except Exception as exc:
            raise _translate(exc, str(uri)) from exc

    def sha256(self, uri: Uri) -> str:
        """The SHA-256 of the file, computed in the JVM as the file streams through it: no byte
        crosses py4j (through Python reads a multi-MB object costs seconds, twice a verified move)."""
        try:
            stream = self._fs(uri).open(self._path(uri))
        except Exception as exc:
            raise _translate(exc, str(uri)) from exc
        try:
            return str(self._jvm.org.apache.commons.codec.digest.DigestUtils.sha256Hex(stream))
        except Exception as exc:
            raise _translate(exc, str(uri)) from exc
        finally:
            with contextlib.suppress(Exception):  # the digest is complete; a failing close changes nothing
                stream.close()

    def set_mtime(self, uri: Uri, mtime: float) -> bool:
        try:
            self._fs(uri).setTimes(self._path(uri), int(mtime * 1000), -1)
        except Exception:
            return False  # object stores cannot set times
        return True

    def write_bytes(self, uri: Uri, data: bytes, overwrite: bool = False) -> None:
        try:
            out = self._fs(uri).create(self._path(uri), overwrite)
            try:
                out.write(bytearray(data))
                out.hflush()
            finally:
                out.close()
        except Exception as exc:
            if "FileAlreadyExistsException" in str(exc):
                raise StorageError(f"{uri}: target exists") from exc
            raise _translate(exc, str(uri)) from exc

    def append_bytes(self, uri: Uri, data: bytes) -> None:
        raise StorageError(f"{uri}: append is not supported on {self.scheme}")

    # -- incomplete multipart uploads (s3a) ------------------------------------------------------
    def incomplete_uploads(self, prefix: Uri) -> list[PendingUpload]:
        """S3AFileSystem's ``listUploads`` (every page of ListMultipartUploads) for the keys under
        the directory ``prefix`` — S3A adds the trailing ``/``. Other filesystems have none."""
        if self.scheme != "s3a":
            return []
        try:
            fs = self._fs(prefix)
            uploads = fs.listUploads(str(fs.pathToKey(self._path(prefix))))
            out = []
            while uploads.hasNext():
                u = uploads.next()
                out.append(PendingUpload(parse(f"s3a://{prefix.authority}/{u.key()}"), str(u.uploadId()),
                                         str(u.initiated())))
        except Exception as exc:
            raise _translate(exc, str(prefix)) from exc
        return sorted(out, key=lambda u: (str(u.uri), u.upload_id))

    def abort_upload(self, upload: PendingUpload) -> None:
        if self.scheme != "s3a":
            raise StorageError(f"{upload.uri}: {self.scheme} has no multipart uploads")
        try:
            fs = self._fs(upload.uri)
            fs.abortMultipartUpload(str(fs.pathToKey(self._path(upload.uri))), upload.upload_id)
        except Exception as exc:
            raise _translate(exc, str(upload.uri)) from exc

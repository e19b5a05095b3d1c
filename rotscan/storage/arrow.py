"""Read-only storage over ``pyarrow.fs``, for listing on Spark executors.

Python code running on an executor has no py4j gateway, so it cannot use
:class:`rotscan.spark.hadoop_fs.HadoopStorage`. This storage lists and reads through pyarrow's
native filesystems instead: ``S3FileSystem`` for ``s3a://`` (endpoint, path-style access and
credentials taken from the driver's ``fs.s3a.*`` Hadoop settings when they are set, else the
default AWS provider chain), ``HadoopFileSystem`` for ``hdfs://`` (needs libhdfs), and
``LocalFileSystem`` for ``file:``. It implements the read half of :class:`~rotscan.storage.base.Storage`
only — the crawler and the inventory need nothing else.

A :class:`StorageSpec` (a small picklable description) travels to the executors; each builds its
filesystem from it. Secrets in a spec live only in memory and in Spark's task closure, like
``spark.hadoop.*`` settings do; ``repr`` hides them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO

from rotscan.errors import AccessDeniedError, StorageError, VanishedError
from rotscan.storage.base import Entry
from rotscan.uri import Uri

if TYPE_CHECKING:
    import pyarrow.fs as pafs


def _translate(exc: Exception, path: str) -> StorageError:
    text = str(exc)
    if isinstance(exc, FileNotFoundError) or "NoSuchKey" in text or "does not exist" in text.lower():
        return VanishedError(f"{path}: no longer exists")
    if isinstance(exc, PermissionError) or "ACCESS_DENIED" in text or "AccessDenied" in text \
            or "Permission denied" in text:
        return AccessDeniedError(f"{path}: permission denied")
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), text)
    return StorageError(f"{path}: {first[:300]}")


@dataclass(frozen=True)
class StorageSpec:
    """How to build a pyarrow filesystem for one scheme (and, for HDFS, one namenode)."""

    scheme: str  # file, s3a, hdfs
    authority: str = ""  # hdfs: host:port
    options: dict[str, Any] = field(default_factory=dict, compare=False)
    secrets: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def filesystem(self) -> pafs.FileSystem:
        import pyarrow.fs as pafs

        if self.scheme == "file":
            return pafs.LocalFileSystem()
        if self.scheme == "s3a":
            return pafs.S3FileSystem(**self.options, **self.secrets)
        if self.scheme == "hdfs":
            host, _, port = self.authority.partition(":")
            return pafs.HadoopFileSystem(host or "default", int(port) if port else 0, **self.options)
        raise StorageError(f"no executor-side filesystem for {self.scheme}: URIs")


def _truthy(value: str | None) -> bool | None:
    if value is None or not value.strip():
        return None
    return value.strip().lower() in ("true", "1", "yes")


def s3_spec_from_hadoop(get: Any, bucket: str | None = None) -> StorageSpec:
    """A spec for ``s3a`` from Hadoop settings. ``get(key)`` returns a ``fs.s3a.*`` value or None
    (the driver passes its Hadoop configuration's ``get``). Per-bucket settings
    (``fs.s3a.bucket.<bucket>.<key>``) win over global ones, as in s3a. Unset values are left to
    pyarrow's defaults (the AWS provider chain: environment, profile, instance role)."""

    def conf(key: str) -> str | None:
        if bucket:
            v = get(f"fs.s3a.bucket.{bucket}.{key}")
            if v is not None and str(v).strip():
                return str(v).strip()
        v = get(f"fs.s3a.{key}")
        return str(v).strip() if v is not None and str(v).strip() else None

    options: dict[str, Any] = {}
    secrets: dict[str, str] = {}
    endpoint = conf("endpoint")
    ssl = _truthy(conf("connection.ssl.enabled"))
    if endpoint:
        scheme, sep, rest = endpoint.partition("://")
        if sep:
            options["scheme"] = scheme
            endpoint = rest
        elif ssl is not None:
            options["scheme"] = "https" if ssl else "http"
        options["endpoint_override"] = endpoint.rstrip("/")
    region = conf("endpoint.region") or conf("region")
    if region:
        options["region"] = region
    elif endpoint:
        options["region"] = "us-east-1"  # a custom endpoint (MinIO, moto, Ceph) ignores the region
    path_style = _truthy(conf("path.style.access"))
    if path_style is False and endpoint:
        options["force_virtual_addressing"] = True
    access, secret, token = conf("access.key"), conf("secret.key"), conf("session.token")
    if access and secret:
        secrets["access_key"] = access
        secrets["secret_key"] = secret
        if token:
            secrets["session_token"] = token
    return StorageSpec("s3a", options=options, secrets=secrets)


class ArrowStorage:
    """The read operations of :class:`~rotscan.storage.base.Storage` over a pyarrow filesystem.
    pyarrow follows symlinks and does not report them, so on ``file:`` the crawler's own
    :class:`~rotscan.storage.local.LocalStorage` is used instead (see :func:`executor_storage`)."""

    def __init__(self, spec: StorageSpec, fs: pafs.FileSystem | None = None) -> None:
        self.spec = spec
        self.scheme = spec.scheme
        self._fs = fs if fs is not None else spec.filesystem()

    def _path(self, uri: Uri) -> str:
        if uri.scheme == "s3a":
            return f"{uri.authority}{uri.path}".rstrip("/") or uri.authority
        return uri.path

    def _entry(self, info: Any, uri: Uri) -> Entry:
        import pyarrow.fs as pafs

        is_dir = info.type == pafs.FileType.Directory
        ns = info.mtime_ns
        # seconds as os.stat computes st_mtime (sec + nsec * 1e-9), so both storages agree exactly
        mtime = 0.0 if ns is None else divmod(ns, 10**9)[0] + divmod(ns, 10**9)[1] * 1e-9
        return Entry(uri=uri, is_dir=is_dir, size=0 if is_dir else int(info.size or 0), mtime=mtime)

    def list_dir(self, uri: Uri) -> list[Entry]:
        import pyarrow.fs as pafs

        path = self._path(uri)
        try:
            infos = self._fs.get_file_info(pafs.FileSelector(path, recursive=False))
        except Exception as exc:
            raise _translate(exc, str(uri)) from exc
        out = []
        for info in infos:
            name = info.path.rstrip("/").rsplit("/", 1)[-1]
            if not name or info.path.rstrip("/") == path:
                continue  # an object store's "prefix/" marker listed under itself
            out.append(self._entry(info, uri.child(name)))
        out.sort(key=lambda e: e.name)
        return out

    def stat(self, uri: Uri) -> Entry:
        import pyarrow.fs as pafs

        try:
            info = self._fs.get_file_info(self._path(uri))
        except Exception as exc:
            raise _translate(exc, str(uri)) from exc
        if info.type == pafs.FileType.NotFound:
            raise VanishedError(f"{uri}: no longer exists")
        return self._entry(info, uri)

    def open_read(self, uri: Uri) -> BinaryIO:
        try:
            return self._fs.open_input_file(self._path(uri))  # type: ignore[no-any-return]
        except Exception as exc:
            raise _translate(exc, str(uri)) from exc

    def read_head(self, uri: Uri, n: int) -> bytes:
        with self.open_read(uri) as fh:
            try:
                return bytes(fh.read(n))
            except Exception as exc:
                raise _translate(exc, str(uri)) from exc


def executor_storage(spec: StorageSpec) -> Any:
    """The storage an executor lists with: the plain local one for ``file:`` (exactly the driver's,
    symlinks included), pyarrow for the rest."""
    if spec.scheme == "file":
        from rotscan.storage.local import LocalStorage

        return LocalStorage()
    return ArrowStorage(spec)

"""S3 storage classes through s3a: a storage whose writes create objects in one class, and the class
an object is in now.

S3A sets the class of every object it creates from ``fs.s3a.create.storage.class``. That option is
read when a FileSystem instance is initialised, and Hadoop caches one instance per bucket, so
:class:`ClassedHadoopStorage` builds its own instances (``FileSystem.newInstance``) from a copy of
the session's Hadoop configuration with the class set — every other setting (endpoint,
credentials) stays the cluster's. An object's class is S3's ``x-amz-storage-class`` header, which
S3A exposes as the extended attribute ``header.x-amz-storage-class``; S3 leaves the header out for
STANDARD objects, so an object without it is in ``standard``.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from rotscan.spark.hadoop_fs import HadoopStorage, _translate
from rotscan.uri import Uri

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

STORAGE_CLASS_OPTION = "fs.s3a.create.storage.class"
STORAGE_CLASS_XATTR = "header.x-amz-storage-class"


class ClassedHadoopStorage(HadoopStorage):
    """A :class:`HadoopStorage` whose copies and writes create objects in ``storage_class`` (an S3A
    name: ``standard``, ``standard_ia``, ``onezone_ia``, ``intelligent_tiering``, ``glacier_ir`` …).
    Reading, listing and deleting behave as in the plain storage."""

    def __init__(self, spark: SparkSession, scheme: str, storage_class: str) -> None:
        super().__init__(spark, scheme)
        self.storage_class = storage_class
        conf = self._jvm.org.apache.hadoop.conf.Configuration(self._conf)
        conf.set(STORAGE_CLASS_OPTION, storage_class)
        self._conf = conf

    def _fs(self, uri: Uri) -> Any:
        key = f"{uri.scheme}://{uri.authority}"
        fs = self._fs_cache.get(key)
        if fs is None:
            try:
                fs = self._jvm.org.apache.hadoop.fs.FileSystem.newInstance(
                    self._jvm.java.net.URI(f"{uri.scheme}://{uri.authority}/"), self._conf)
            except Exception as exc:  # py4j errors
                raise _translate(exc, str(uri)) from exc
            self._fs_cache[key] = fs
        return fs

    def close(self) -> None:
        """Close the FileSystem instances this storage created (they are not in Hadoop's cache)."""
        for fs in self._fs_cache.values():
            with contextlib.suppress(Exception):  # closing is best effort
                fs.close()
        self._fs_cache.clear()


def storage_class_of(storage: Any, uri: Uri) -> str | None:
    """The S3 storage class of the object at ``uri`` (lower case, S3A's spelling: ``standard``,
    ``standard_ia`` …), or None where the storage has no storage classes (not s3a)."""
    if uri.scheme != "s3a" or not isinstance(storage, HadoopStorage):
        return None
    try:
        fs = storage._fs(uri)
        value = fs.getXAttr(storage._path(uri), STORAGE_CLASS_XATTR)
    except Exception as exc:  # py4j errors
        raise _translate(exc, str(uri)) from exc
    if value is None or len(value) == 0:
        return "standard"  # S3 omits the header for STANDARD objects
    return bytes(value).decode("ascii", "replace").strip().lower()

"""The runtime shared by scan and cleanup: configuration, the process environment (for Spark's
set-up), a way to report progress, and — created lazily, once each — the Spark session and one
storage per URI scheme (``file:`` through plain ``os`` calls, every other scheme through Hadoop's
FileSystem in the session's JVM). Nothing here starts a JVM until something asks for Spark.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rotscan.config import Config
from rotscan.storage.base import WritableStorage
from rotscan.uri import Uri

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

Progress = Callable[[str], None]


def silent(_: str) -> None:
    """The progress callback that says nothing."""


@dataclass
class Runtime:
    """What the library needs from outside: ``config``; ``env`` (the process environment, only for
    Spark's set-up); ``progress`` messages; and factories tests and embedders may pass instead of the
    defaults — ``spark_factory(need_s3a)`` for the session, ``storage_factory(uri)`` for storage."""

    config: Config
    env: Mapping[str, str] = field(default_factory=dict)
    progress: Progress = silent
    spark_factory: Callable[[bool], SparkSession] | None = None
    storage_factory: Callable[[Uri], WritableStorage] | None = None
    _spark: SparkSession | None = field(default=None, repr=False)
    _storages: dict[str, WritableStorage] = field(default_factory=dict, repr=False)

    def spark(self, need_s3a: bool = False) -> SparkSession:
        """The session (created on first use; ``need_s3a`` puts the s3a jars on it)."""
        if self._spark is None:
            if self.spark_factory is None:
                from rotscan.spark.session import get_spark

                self._spark = get_spark(self.config, need_s3a=need_s3a, env=self.env)
            else:
                self._spark = self.spark_factory(need_s3a)
        return self._spark

    def storage(self, uri: Uri) -> WritableStorage:
        """The storage for ``uri``'s scheme (one per scheme). Raises StorageError when it cannot be
        reached."""
        if self.storage_factory is not None:
            return self.storage_factory(uri)
        if uri.scheme not in self._storages:
            if uri.scheme == "file":
                from rotscan.storage.local import LocalStorage

                self._storages[uri.scheme] = LocalStorage()
            else:
                from rotscan.spark.hadoop_fs import HadoopStorage

                self._storages[uri.scheme] = HadoopStorage(self.spark(need_s3a=uri.scheme == "s3a"), uri.scheme)
        return self._storages[uri.scheme]

"""Storage access behind one small interface, chosen by URI scheme.

``file:`` roots use :class:`~rotscan.storage.local.LocalStorage` (plain ``os`` calls: no JVM, exact
symlink handling, and it sees Hadoop ``.crc`` files that Hadoop's checksummed local filesystem hides).
Every other scheme (``s3a``, ``hdfs``, ``abfs``, ``gs`` …) goes through Hadoop's FileSystem in the
Spark session's JVM (:class:`rotscan.spark.hadoop_fs.HadoopStorage`), so it honours the cluster's own
Hadoop configuration — credentials providers, endpoints, Kerberos — exactly as Spark does when it
reads the data. The crawler only ever talks to :class:`Storage`, so it has one code path for all.
"""

from __future__ import annotations

from rotscan.storage.base import Entry, Storage

__all__ = ["Entry", "Storage"]

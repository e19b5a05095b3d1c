"""Read an S3 Inventory report with Spark and turn it into the listing the crawler walks.

The data files (gzipped CSV without header, ORC or Parquet) are read by the executors; Spark keeps
the latest, non-delete-marker version of each object under the scanned root, URL-decodes CSV keys,
derives every directory entry (``parent``, ``name``) from the keys and sorts them. The sorted rows
stream to the driver (``toLocalIterator``, one partition at a time) into the on-disk index of
:class:`rotscan.crawl.s3_inventory.InventoryStorage` — no LIST call is made on the data bucket and
the driver's memory does not grow with the number of objects.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from rotscan.crawl.s3_inventory import (
    InventoryManifest,
    InventoryStorage,
    ListingRow,
    S3InventoryError,
    data_file_uris,
    read_manifest,
    staleness_warning,
)
from rotscan.errors import StorageError
from rotscan.models import ScanWarning
from rotscan.storage.base import Storage
from rotscan.storage.local import LocalStorage
from rotscan.uri import Uri, parse

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession


def _exists(storage: Storage) -> Callable[[Uri], bool]:
    def exists(uri: Uri) -> bool:
        try:
            return not storage.stat(uri).is_dir
        except StorageError:
            return False

    return exists


def read_objects(spark: SparkSession, manifest: InventoryManifest, paths: list[str], root: Uri) -> DataFrame:
    """The report's objects under ``root`` as (key, size, mtime epoch seconds)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import NumericType, StringType, StructField, StructType

    from rotscan.spark.errors import java_errors

    with java_errors(f"S3 inventory data files of {manifest.location} cannot be read", S3InventoryError):
        if manifest.file_format == "CSV":
            schema = StructType([StructField(c, StringType()) for c in manifest.schema])
            df = (spark.read.schema(schema).option("header", "false").option("quote", '"').option("escape", '"')
                  .option("mode", "FAILFAST").csv(paths))
        elif manifest.file_format == "ORC":
            df = spark.read.orc(paths)
        else:
            df = spark.read.parquet(*paths)

    def col(field: str) -> Column | None:
        name = manifest.column(field)
        if name is None:
            return None
        actual = {c.lower(): c for c in df.columns}.get(name.lower())
        if actual is None:
            raise S3InventoryError(f"S3 inventory data files of {manifest.location} have no column {name!r} "
                                   f"(columns: {', '.join(df.columns)})")
        return F.col(f"`{actual}`")

    key, size, modified = col("Key"), col("Size"), col("LastModifiedDate")
    assert key is not None and size is not None and modified is not None  # parse_manifest checked them
    if manifest.file_format == "CSV":
        # keys are URL-encoded, a space as "+" (java.net.URLDecoder's convention)
        key = F.when(key.rlike("[%+]"), F.expr(f"reflect('java.net.URLDecoder', 'decode', "
                                               f"`{manifest.column('Key')}`, 'UTF-8')")).otherwise(key)
        mtime = F.unix_micros(F.to_timestamp(modified)) / 1e6
    else:
        field = next(f for f in df.schema.fields if f.name.lower() == manifest.column("LastModifiedDate").lower())  # type: ignore[union-attr]
        mtime = modified.cast("double") / 1000 if isinstance(field.dataType, NumericType) else \
            F.unix_micros(modified.cast("timestamp")) / 1e6
    keep = F.lit(True)
    bucket, latest, deleted = col("Bucket"), col("IsLatest"), col("IsDeleteMarker")
    if bucket is not None:
        keep = keep & (bucket == root.authority)
    if latest is not None:
        keep = keep & (latest.isNull() | (F.lower(latest.cast("string")) != "false"))
    if deleted is not None:
        keep = keep & (deleted.isNull() | (F.lower(deleted.cast("string")) != "true"))
    prefix = root.path.strip("/")
    out = df.where(keep).select(key.alias("key"), F.coalesce(size.cast("long"), F.lit(0)).alias("size"),
                                F.coalesce(mtime, F.lit(0.0)).alias("mtime"))
    if prefix:
        out = out.where((F.col("key") == prefix) | F.col("key").startswith(prefix + "/"))
    return out


def listing(objects: DataFrame, root: Uri) -> DataFrame:
    """Every directory entry below ``root`` — (parent path, name, is_dir, size, mtime) — sorted by
    parent and name. A key ending in ``/`` is a directory marker (an empty "folder")."""
    from pyspark.sql import functions as F

    depth = len([p for p in root.path.split("/") if p])
    parts = F.filter(F.split(F.col("key"), "/"), lambda p: p != "")
    marker = F.col("key").endswith("/")
    df = objects.select(parts.alias("c"), marker.alias("marker"), "size", "mtime").where(F.size("c") > 0)

    def parent(j: Column) -> Column:
        return F.concat(F.lit("/"), F.array_join(F.slice("c", 1, j), "/"))

    m = F.size("c")
    files = df.where(~F.col("marker")).select(
        parent(m - 1).alias("parent"), F.element_at("c", m).alias("name"), F.lit(False).alias("is_dir"),
        "size", "mtime")
    last = m - 2 + F.col("marker").cast("int")  # index (0-based) of the deepest directory component
    dirs = (df.where(last >= depth)
            .select("c", F.explode(F.sequence(F.lit(depth), last)).alias("j"))
            .select(parent(F.col("j")).alias("parent"), F.element_at("c", F.col("j") + 1).alias("name"))
            .distinct()
            .select("parent", "name", F.lit(True).alias("is_dir"), F.lit(0).cast("long").alias("size"),
                    F.lit(0.0).alias("mtime")))
    return files.unionByName(dirs).orderBy("parent", "name")


def _rows(df: DataFrame) -> Iterator[ListingRow]:
    for r in df.toLocalIterator(prefetchPartitions=True):
        yield (r["parent"], r["name"], bool(r["is_dir"]), int(r["size"]), float(r["mtime"]))


def build_storage(spark: SparkSession, manifest: InventoryManifest, paths: list[str], root: Uri,
                  real: Storage) -> InventoryStorage:
    """Read the report's data files and index the listing of ``root``."""
    from rotscan.spark.errors import java_errors

    rows = listing(read_objects(spark, manifest, paths, root), root)
    # the data files are read here, as the rows stream in (a malformed CSV line fails the read)
    with java_errors(f"S3 inventory data files of {manifest.location} cannot be read", S3InventoryError):
        return InventoryStorage(real, root, _rows(rows), manifest=manifest)


def inventory_storage(spark: SparkSession, manifest_location: str, root: Uri, real: Storage, *,
                      as_of: datetime, max_age: timedelta, warnings: list[ScanWarning],
                      progress: Callable[[str], None]) -> InventoryStorage:
    """A storage for ``root`` that lists from the S3 Inventory report at ``manifest_location``
    (``s3a://…/manifest.json`` or a local copy) and reads through ``real``."""
    from rotscan.spark.hadoop_fs import HadoopStorage

    try:
        uri = parse(manifest_location)
    except ValueError as exc:
        raise S3InventoryError(f"invalid S3 inventory location {manifest_location!r}: {exc}") from exc
    if uri.scheme == "file" and os.path.isdir(uri.path):
        uri = uri.child("manifest.json")
    reader: Storage = LocalStorage() if uri.scheme == "file" else HadoopStorage(spark, uri.scheme)
    manifest = read_manifest(reader, uri)
    if manifest.source_bucket != root.authority:
        raise S3InventoryError(f"the S3 inventory {uri} lists bucket {manifest.source_bucket!r}, not the bucket "
                               f"of the root {root} ({root.authority!r})")
    stale = staleness_warning(manifest, as_of, max_age)
    if stale is not None:
        warnings.append(stale)
    paths = data_file_uris(manifest, uri, _exists(reader))
    progress(f"  listing {root} from the S3 inventory of {manifest.created:%Y-%m-%d %H:%M} UTC "
             f"({manifest.file_format}, {len(paths)} data file(s)); no LIST calls")
    t0 = time.monotonic()
    storage = build_storage(spark, manifest, paths, root, real)
    progress(f"  {storage.objects:,} object(s) under {root} in the inventory ({time.monotonic() - t0:.1f}s)")
    return storage

"""Delta VACUUM — the one cleanup action that needs Spark (imported only when it runs).

Two modes (``[cleanup] vacuum_mode``):

- ``"quarantine"`` (default): ask Delta which files VACUUM would delete (``VACUUM … RETAIN <table
  retention> HOURS DRY RUN``), then move exactly those files into quarantine through the journal,
  like any other action — reversible until purged. Files the current snapshot references and the
  ``_delta_log`` are never moved, whatever the dry run says.
- ``"delta"``: run ``VACUUM … RETAIN <table retention> HOURS`` itself, listing the table before and
  after so the journal and audit record what VACUUM deleted (Delta writes no such record). Not
  reversible.

The retention is always the table's own (``delta.deletedFileRetentionDuration``, default 7 days),
never less.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from rotscan.uri import Uri, parse

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def _table_ref(table: Uri) -> str:
    location = table.path if table.scheme == "file" else str(table)
    return "delta.`" + location.replace("`", "``") + "`"


def retain_hours(retention_hours: float) -> int:
    return int(math.ceil(retention_hours))


_LISTING_PARALLELISM = "spark.sql.sources.parallelPartitionDiscovery.parallelism"


@contextmanager
def _listing_parallelism(spark: SparkSession) -> Iterator[None]:
    """VACUUM lists the table with ``parallelPartitionDiscovery.parallelism`` tasks (10,000 by
    default): on a small cluster that alone takes minutes. Unless the user set it, use a few tasks
    per core while VACUUM runs."""
    sc = spark.sparkContext
    if sc.getConf().contains(_LISTING_PARALLELISM):
        yield
        return
    before = spark.conf.get(_LISTING_PARALLELISM, None)
    spark.conf.set(_LISTING_PARALLELISM, str(max(8, 4 * sc.defaultParallelism)))
    try:
        yield
    finally:
        if before is None:
            spark.conf.unset(_LISTING_PARALLELISM)
        else:
            spark.conf.set(_LISTING_PARALLELISM, before)


def vacuum_dry_run(spark: SparkSession, table: Uri, retention_hours: float) -> list[Uri]:
    """The files ``VACUUM`` with the table's retention would delete (nothing is changed)."""
    from rotscan.spark.errors import java_errors

    with java_errors(f"VACUUM DRY RUN {table}"), _listing_parallelism(spark):
        rows = spark.sql(f"VACUUM {_table_ref(table)} RETAIN {retain_hours(retention_hours)} HOURS DRY RUN").collect()
    return sorted({parse(str(r[0])) for r in rows}, key=str)


def vacuum(spark: SparkSession, table: Uri, retention_hours: float) -> None:
    from rotscan.spark.errors import java_errors

    with java_errors(f"VACUUM {table}"), _listing_parallelism(spark):
        spark.sql(f"VACUUM {_table_ref(table)} RETAIN {retain_hours(retention_hours)} HOURS").collect()


__all__ = ["retain_hours", "vacuum", "vacuum_dry_run"]

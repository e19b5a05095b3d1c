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
from typing import TYPE_CHECKING

from rotscan.uri import Uri, parse

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def _table_ref(table: Uri) -> str:
    location = table.path if table.scheme == "file" else str(table)
    return "delta.`" + location.replace("`", "``") + "`"


def retain_hours(retention_hours: float) -> int:
    return int(math.ceil(retention_hours))


def vacuum_dry_run(spark: SparkSession, table: Uri, retention_hours: float) -> list[Uri]:
    """The files ``VACUUM`` with the table's retention would delete (nothing is changed)."""
    from rotscan.spark.errors import java_errors

    with java_errors(f"VACUUM DRY RUN {table}"):
        rows = spark.sql(f"VACUUM {_table_ref(table)} RETAIN {retain_hours(retention_hours)} HOURS DRY RUN").collect()
    return sorted({parse(str(r[0])) for r in rows}, key=str)


def vacuum(spark: SparkSession, table: Uri, retention_hours: float) -> None:
    from rotscan.spark.errors import java_errors

    with java_errors(f"VACUUM {table}"):
        spark.sql(f"VACUUM {_table_ref(table)} RETAIN {retain_hours(retention_hours)} HOURS").collect()


__all__ = ["retain_hours", "vacuum", "vacuum_dry_run"]

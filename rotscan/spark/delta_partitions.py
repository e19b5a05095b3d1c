"""Delta partition deletes in the JVM: ``DELETE FROM delta.`<table>` WHERE <predicate>`` with the
commit tagged in ``userMetadata`` (:mod:`rotscan.cleanup.partitions` builds the predicate from
partition columns and quoted values only, and runs VACUUM and RESTORE through
:mod:`rotscan.cleanup.vacuum` and :mod:`rotscan.spark.compact`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rotscan.uri import Uri

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

_USER_METADATA = "spark.databricks.delta.commitInfo.userMetadata"


def _table(table: Uri) -> str:
    location = table.path if table.scheme == "file" else str(table)
    return "delta.`" + location.replace("`", "``") + "`"


def delete_where(spark: SparkSession, table: Uri, predicate: str, tag: str) -> int | None:
    """Run ``DELETE FROM`` the table ``WHERE predicate``; the commit carries ``tag``. Returns the
    number of rows Delta reports deleted (None when it does not say)."""
    from rotscan.spark.compact import _conf
    from rotscan.spark.errors import java_errors

    with java_errors(f"DELETE FROM {table}"), _conf(spark, _USER_METADATA, tag):
        rows = spark.sql(f"DELETE FROM {_table(table)} WHERE {predicate}").collect()
    if rows and "num_affected_rows" in rows[0].asDict():
        return int(rows[0]["num_affected_rows"])
    return None

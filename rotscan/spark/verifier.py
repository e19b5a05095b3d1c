"""The Spark side of copy verification (:class:`rotscan.detect.verify.Verifier`): re-hash a table
over some of its columns, and count a table's rows missing from another by an anti-join of row
hashes — both in the JVM (rotscan.spark.profile)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from rotscan.crawl.inventory import InventoryEntry

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from rotscan.redundancy.signature import Signature


class SparkVerifier:
    """``spark`` is called only when a check needs the data (a cached result needs no session)."""

    def __init__(self, spark: Callable[[], SparkSession]) -> None:
        self._spark = spark

    def projected_signature(self, whole: InventoryEntry, columns: tuple[str, ...], *, k: int,
                            sample_target: int) -> Signature:
        from rotscan.spark.profile import projected_signature

        return projected_signature(self._spark(), whole.read_format or whole.dataset.format, whole.read_paths,
                                   whole.base_path, columns, k=k, sample_target=sample_target,
                                   rows_estimate=whole.dataset.rows)

    def exact_containment(self, part: InventoryEntry, whole: InventoryEntry,
                          columns: tuple[str, ...]) -> tuple[int, int]:
        from rotscan.spark.profile import exact_containment

        return exact_containment(self._spark(), (part.read_format or "", part.read_paths, part.base_path),
                                 (whole.read_format or "", whole.read_paths, whole.base_path), columns)

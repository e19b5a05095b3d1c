"""The Spark side of copy verification (:class:`rotscan.detect.verify.Verifier`): re-hash a table
over some of its columns, and count a table's rows missing from another by an anti-join of row
hashes — both in the JVM (rotscan.spark.profile). Containment checks of small tables share Spark jobs
(:meth:`SparkVerifier.exact_containments`): their cost is the jobs' fixed cost, not the data."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from rotscan.crawl.inventory import InventoryEntry
from rotscan.errors import ReadError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from rotscan.redundancy.signature import Signature


# A batch of containment checks: at most this many checks, and this many bytes of tables in all
# (a table bigger than that is checked on its own — its read, not the job, is the cost).
BATCH_CHECKS = 64
BATCH_BYTES = 256 * 1024 * 1024
# A check alone in its batch whose two tables hold at most this many rows (exact, from the profile)
# counts on the driver (``rotscan.spark.profile.driver_containment``: 8 bytes a row through Arrow,
# about 1 GiB of driver memory at the limit with numpy's sort); a bigger one shuffles in Spark.
DRIVER_MAX_ROWS = 40_000_000


def _source(e: InventoryEntry) -> tuple[str, list[str], str | None]:
    return (e.read_format or "", e.read_paths, e.base_path)


def batches(checks: Sequence[tuple[InventoryEntry, InventoryEntry, tuple[str, ...]]], *,
            max_checks: int = BATCH_CHECKS, max_bytes: int = BATCH_BYTES) -> list[list[int]]:
    """Indexes of ``checks`` grouped into batches of at most ``max_checks`` checks whose distinct
    tables hold at most ``max_bytes`` together, in order; a check over more bytes is a batch alone."""
    out: list[list[int]] = []
    current: list[int] = []
    seen: set[str] = set()
    size = 0
    for i, (part, whole, _) in enumerate(checks):
        tables = {e.dataset.uri: e.dataset.bytes for e in (part, whole)}
        extra = sum(b for uri, b in tables.items() if uri not in seen)
        if current and (len(current) >= max_checks or size + extra > max_bytes):
            out.append(current)
            current, seen, size = [], set(), 0
            extra = sum(tables.values())
        current.append(i)
        seen |= set(tables)
        size += extra
    if current:
        out.append(current)
    return out


def on_driver(part: InventoryEntry, whole: InventoryEntry, *, max_rows: int = DRIVER_MAX_ROWS) -> bool:
    """Count a check alone on the driver: both row counts are known and hold at most ``max_rows``."""
    rows = (part.dataset.rows, whole.dataset.rows)
    return None not in rows and sum(r for r in rows if r is not None) <= max_rows


def driver_rows(spark: SparkSession) -> int:
    """:data:`DRIVER_MAX_ROWS`, or fewer when ``spark.driver.maxResultSize`` would refuse the row
    hashes (8 bytes a row, as Arrow batches; half the limit, for their overhead)."""
    limit = spark_bytes(spark.conf.get("spark.driver.maxResultSize", "1g") or "1g")
    return DRIVER_MAX_ROWS if limit == 0 else min(DRIVER_MAX_ROWS, max(0, limit) // 16)


def spark_bytes(text: str) -> int:
    """A Spark size (``1g``, ``512m``, ``2048k``, ``100b``, ``1024``: bytes) in bytes; -1 when it does
    not parse (then nothing goes to the driver)."""
    import re

    m = re.fullmatch(r"\s*(\d+)\s*([bkmgtp]?)b?\s*", text.lower())
    if not m:
        return -1
    return int(m.group(1)) << (10 * "bkmgtp".index(m.group(2) or "b"))


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

        return exact_containment(self._spark(), _source(part), _source(whole), columns)

    def exact_containments(self, checks: Sequence[tuple[InventoryEntry, InventoryEntry, tuple[str, ...]]],
                           ) -> list[tuple[int, int] | ReadError]:
        """:meth:`exact_containment` of every check, small ones sharing Spark jobs, a big one alone
        counted on the driver when its rows fit (:func:`on_driver`); a batch that fails is repeated
        check by check, so the error names the table and the other checks still count."""
        from rotscan.detect.verify import one_by_one
        from rotscan.spark.profile import driver_containment, exact_containments

        out: list[tuple[int, int] | ReadError] = []
        for batch in batches(checks):
            try:
                got: list[tuple[int, int] | ReadError] | None = None
                if len(batch) == 1 and on_driver(*checks[batch[0]][:2],
                                                 max_rows=driver_rows(self._spark())):
                    part, whole, columns = checks[batch[0]]
                    try:
                        got = [driver_containment(self._spark(), _source(part), _source(whole), columns)]
                    except ReadError:
                        got = None  # the driver could not take them (or a table is bad): Spark's way says which
                if got is None:
                    got = list(exact_containments(self._spark(), [
                        (_source(checks[i][0]), _source(checks[i][1]), checks[i][2]) for i in batch]))
            except ReadError as exc:
                got = [exc] if len(batch) == 1 else one_by_one(self, [checks[i] for i in batch])
            out += got
        return out

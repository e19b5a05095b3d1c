"""The partitions of a partitioned dataset, from metadata only: for a Hive-partitioned directory the
``key=value`` directories its files lie in, for a Delta table the ``partitionValues`` of its live
``add`` actions. Partition-level retention (:mod:`rotscan.detect.partition_retention`) dates each
partition by the value it holds, and cleanup drops exactly those partitions.

A :class:`PartitionStat` is one leaf partition: its values (unescaped, ``None`` for Hive's
``__HIVE_DEFAULT_PARTITION__`` or a Delta null), its directory relative to the dataset (Hive; Delta
tables need not lay partitions out as directories, so theirs is ``None``), and its files and bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import unquote

from rotscan.crawl import formats

HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"


@dataclass(frozen=True)
class PartitionStat:
    values: tuple[tuple[str, str | None], ...]  # (column, value) in partition-column order
    path: str | None  # Hive: "dt=2024-01-01/region=eu" (as on storage, escaped); Delta: None
    files: int
    bytes: int

    def value(self, column: str) -> str | None:
        return dict(self.values).get(column)


def hive_value(raw: str) -> str | None:
    """A Hive partition directory's value as the data holds it (Hive escapes ``/``, ``:``, ``=``,
    ``%`` … as ``%XX``); ``None`` for the default (null) partition."""
    return None if raw == HIVE_NULL else unquote(raw)


def hive_partition_path(rel: str) -> tuple[str, tuple[tuple[str, str | None], ...]] | None:
    """(the ``key=value`` directory prefix of a file's path relative to its dataset, its values), or
    None when the file lies in no partition directory (a loose file at the table's top)."""
    parts = rel.split("/")[:-1]
    dirs: list[str] = []
    values: list[tuple[str, str | None]] = []
    for part in parts:
        m = formats.PARTITION_DIR.match(part)
        if not m:
            break  # a plain subdirectory inside a partition: its files belong to that partition
        dirs.append(part)
        values.append((m.group(1), hive_value(m.group(2))))
    if not dirs:
        return None
    return "/".join(dirs), tuple(values)


def hive_partitions(files: Iterable[tuple[str, int]]) -> list[PartitionStat]:
    """Leaf partitions of a Hive-partitioned dataset from its files (path relative to the dataset,
    size), sorted by path."""
    acc: dict[str, tuple[tuple[tuple[str, str | None], ...], int, int]] = {}
    for rel, size in files:
        found = hive_partition_path(rel)
        if found is None:
            continue
        path, values = found
        _, n, b = acc.get(path, (values, 0, 0))
        acc[path] = (values, n + 1, b + size)
    return [PartitionStat(values=v, path=p, files=n, bytes=b) for p, (v, n, b) in sorted(acc.items())]


def delta_partitions(columns: tuple[str, ...],
                     adds: Iterable[tuple[Mapping[str, str | None], int]]) -> list[PartitionStat]:
    """Leaf partitions of a Delta table from its live adds (partitionValues, size), sorted by values."""
    acc: dict[tuple[tuple[str, str | None], ...], tuple[int, int]] = {}
    for pv, size in adds:
        key = tuple((c, pv.get(c)) for c in columns)
        n, b = acc.get(key, (0, 0))
        acc[key] = (n + 1, b + size)
    return [PartitionStat(values=k, path=None, files=n, bytes=b)
            for k, (n, b) in sorted(acc.items(), key=lambda kv: [(c, v or "") for c, v in kv[0]])]

"""``small_files``: a table stored as many files that each hold too little — the rows are worth
keeping, the layout is not. Every file costs a listing entry, an open and a footer read, and a
task; rewriting the table into fewer, larger files (``compact``) keeps every row and frees no
storage to speak of, so the finding claims no reclaimable bytes and states its gain as files:
``files before → after``.

Category ``trivial``: of the three, it is the one about what the bytes carry rather than whether the
data is a copy (redundant) or still used (obsolete) — here the many small files carry per-file
overhead and no information of their own.

A table is flagged when all of these hold (``[trivial]`` ``small_files_*``, ``[scan]``
``small_file_bytes``):

- it is a Delta table or a directory of Parquet/ORC part-files (Hive-partitioned or not) — the
  layouts ``compact`` can rewrite;
- at least ``small_files_min_files`` of its (live) data files are smaller than
  ``small_file_bytes``, and its average file is too;
- compaction into files of ``small_files_target_bytes`` (never merging partitions: at least one
  file per partition) would leave at most ``1 / small_files_min_reduction`` of the files — a
  partitioned table with one small file per partition, or a small lookup table, gains nothing and
  is never flagged;
- nothing else was found about it, above it or inside it: a table flagged for deletion,
  quarantine or archive is not compacted, nor one holding junk, debris or corrupt files (clean those
  first; a corrupt file would also break the rewrite).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rotscan.core.formatting import format_bytes
from rotscan.models import Dataset, Finding, iso

COMPACTABLE = {("parquet", "part_files"), ("parquet", "hive_partitioned"), ("orc", "part_files"),
               ("orc", "hive_partitioned"), ("delta", "delta")}


@dataclass(frozen=True)
class SmallFileRules:
    small_file_bytes: int = 8_388_608
    min_files: int = 64
    target_bytes: int = 134_217_728
    min_reduction: float = 4.0

    @classmethod
    def from_config(cls, config: Any) -> SmallFileRules:
        t: Mapping[str, Any] = config.section("trivial")
        rules = cls(small_file_bytes=int(config.section("scan")["small_file_bytes"]),
                    min_files=int(t["small_files_min_files"]), target_bytes=int(t["small_files_target_bytes"]),
                    min_reduction=float(t["small_files_min_reduction"]))
        from rotscan.errors import ConfigError

        if rules.min_files < 2 or rules.target_bytes <= 0 or rules.min_reduction <= 1:
            raise ConfigError("[trivial] small_files_min_files must be >= 2, small_files_target_bytes > 0 and "
                              "small_files_min_reduction > 1")
        return rules


def files_after(ds: Dataset, target_bytes: int) -> int:
    """How many files compaction leaves (an estimate: whole partitions, files of ``target_bytes``)."""
    return max(max(ds.partitions, 1), math.ceil(ds.bytes / target_bytes))


def _related(uri: str, flagged: Iterable[str]) -> bool:
    for other in flagged:
        if other == uri or other.startswith(uri + "/") or uri.startswith(other + "/"):
            return True
    return False


def detect_small_files(datasets: Iterable[Dataset], rules: SmallFileRules, *, exclude: Iterable[str] = ()
                       ) -> list[Finding]:
    """``exclude``: the uris of every other finding (a dataset at, above or below one is skipped)."""
    flagged = tuple(exclude)
    out: list[Finding] = []
    for ds in datasets:
        if (ds.format, ds.layout) not in COMPACTABLE or ds.files < rules.min_files or ds.bytes <= 0:
            continue
        avg = ds.bytes // ds.files
        if ds.small_files < rules.min_files or avg >= rules.small_file_bytes:
            continue
        after = files_after(ds, rules.target_bytes)
        if ds.files < after * rules.min_reduction:
            continue
        if _related(ds.uri, flagged):
            continue
        per_partition = f", at least one per partition ({ds.partitions:,})" if ds.partitions else ""
        out.append(Finding(
            uri=ds.uri, category="trivial", kind="small_files", action="compact", confidence=0.9,
            reclaimable_bytes=0,
            explanation=f"{ds.files:,} files averaging {format_bytes(avg)} ({ds.small_files:,} under "
                        f"{format_bytes(rules.small_file_bytes)}): compacting into files of up to "
                        f"{format_bytes(rules.target_bytes)}{per_partition} leaves about {after:,} "
                        f"({ds.files:,} → {after:,} files); the rows stay, no storage is freed",
            evidence={"files": ds.files, "small_files": ds.small_files, "bytes": ds.bytes, "avg_file_bytes": avg,
                      "small_file_bytes": rules.small_file_bytes, "files_after": after,
                      "target_file_bytes": rules.target_bytes, "partitions": ds.partitions,
                      "partition_columns": list(ds.partition_columns), "format": ds.format, "layout": ds.layout,
                      "rows": ds.rows, "modified": iso(ds.modified_max),
                      "delta_version": ds.delta.version if ds.delta is not None else None},
        ))
    return out

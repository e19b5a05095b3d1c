"""Usage and lineage: who reads and writes which dataset, and what each dataset is built from.

Pure Python (no Spark): parsers turn each access/lineage source into :class:`AccessEvent` records
(:mod:`rotscan.usage.reader` detects the format of every file by its content), a
:class:`DatasetIndex` maps each record's path to the dataset holding it, and :func:`compute_usage`
folds them into per-dataset :class:`UsageStats` and a :class:`LineageGraph`.
"""

from __future__ import annotations

from rotscan.usage.events import AccessEvent, SourceCoverage
from rotscan.usage.mapping import DatasetIndex
from rotscan.usage.reader import UsageData, detect_format, read_usage
from rotscan.usage.stats import LineageEdge, LineageGraph, UsageStats, compute_usage, coverage_window

__all__ = [
    "AccessEvent",
    "DatasetIndex",
    "LineageEdge",
    "LineageGraph",
    "SourceCoverage",
    "UsageData",
    "UsageStats",
    "compute_usage",
    "coverage_window",
    "detect_format",
    "read_usage",
]

"""Trivial-ROT rules on inventory records (pure Python)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from rotscan.config import load_config
from rotscan.detect.trivial import TrivialRules, detect_trivial, in_scratch
from rotscan.models import Column, Dataset, DeltaInfo

NOW = datetime(2026, 11, 26, tzinfo=timezone.utc)
RULES = TrivialRules.from_config(load_config())
SCHEMA = (Column("a", "string"), Column("b", "bigint"))


def ds(rel: str, **kw: object) -> Dataset:
    base = dict(uri=f"file:/lake/{rel}", format="parquet", layout="part_files", files=1, bytes=1000,
                rows=50, schema=SCHEMA, modified_max=NOW - timedelta(days=30), root="file:/lake",
                constant_columns=(), null_columns=())
    base.update(kw)
    return Dataset(**base)  # type: ignore[arg-type]


def kinds(*datasets: Dataset) -> dict[str, str]:
    return {f.uri.removeprefix("file:/lake/"): f.kind for f in detect_trivial(datasets, [], [], RULES, NOW)}


def test_constant_needs_every_column_and_enough_rows() -> None:
    assert kinds(ds("all_same", constant_columns=("a",), null_columns=("b",))) == {"all_same": "constant"}
    assert kinds(ds("one_varies", constant_columns=("a",))) == {}
    assert kinds(ds("config_row", rows=1, constant_columns=("a", "b"))) == {}
    assert kinds(ds("unprofiled", constant_columns=None, null_columns=None)) == {}


def test_partition_columns_do_not_hide_a_constant_table() -> None:
    schema = (*SCHEMA, Column("dt", "partition"))
    assert kinds(ds("p", schema=schema, constant_columns=("a", "b"))) == {"p": "constant"}


def test_empty_tables_and_young_ones() -> None:
    [old] = detect_trivial([ds("e", rows=0)], [], [], RULES, NOW)
    assert (old.kind, old.action) == ("empty", "quarantine")
    [young] = detect_trivial([ds("e", rows=0, modified_max=NOW - timedelta(hours=2))], [], [], RULES, NOW)
    assert (young.kind, young.action) == ("empty", "review")
    assert kinds(ds("unknown_rows", rows=None)) == {}


def test_empty_delta_table_reclaims_its_history_too() -> None:
    info = DeltaInfo(version=3, last_commit=NOW - timedelta(days=9), last_operation="DELETE", live_files=0,
                     live_bytes=0, time_travel_files=4, time_travel_bytes=4000, retention_hours=168,
                     num_records=0)
    [f] = detect_trivial([ds("d", format="delta", layout="delta", rows=0, bytes=0, delta=info)], [], [], RULES, NOW)
    assert f.reclaimable_bytes == 4000


def test_tiny_only_in_scratch() -> None:
    assert kinds(ds("warehouse/dim_status", rows=5)) == {}
    assert kinds(ds("scratch/x", rows=5)) == {"scratch/x": "tiny"}
    assert kinds(ds("scratch/big", rows=5000)) == {}
    assert in_scratch("team/TMP/x", RULES.scratch_globs) is not None
    assert in_scratch("temperature/readings", RULES.scratch_globs) is None
    assert in_scratch("attempts/x", RULES.scratch_globs) is None


def test_a_tiny_table_that_is_read_is_not_trivial() -> None:
    t = ds("scratch/x", rows=5)
    assert [f.kind for f in detect_trivial([t], [], [], RULES, NOW)] == ["tiny"]
    assert detect_trivial([t], [], [], RULES, NOW, recently_read={t.uri}) == []

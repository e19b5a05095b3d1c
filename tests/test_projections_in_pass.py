"""Which column sets the profile pass hashes a dataset over (from schemas, before any read), and when
a signature from the pass stands in for a re-read. No JVM."""

from __future__ import annotations

import random

from rotscan.crawl.inventory import InventoryEntry
from rotscan.detect.verify import _from_pass
from rotscan.models import Column, Dataset
from rotscan.profiling import ProfileSettings, schema_projections
from rotscan.redundancy.signature import sample_bits_for, signature_from_hashes

SETTINGS = ProfileSettings(max_bytes=0, signature_bins=64, sample_target=512)


def entry(rel: str, cols: list[str], rows: int | None, fmt: str = "parquet") -> InventoryEntry:
    ds = Dataset(uri=f"file:/lake/{rel}", format=fmt, layout="part_files", files=1, bytes=1000, rows=rows,
                 root="file:/lake", schema=tuple(Column(c, "string") for c in cols) if fmt != "csv" else None)
    return InventoryEntry(dataset=ds, read_format=fmt, read_paths=[ds.uri],
                          csv_header=cols if fmt == "csv" else None)


def test_column_sets_come_from_the_schemas_and_the_exact_row_rules() -> None:
    whole = entry("warehouse/customers", ["ID", "name", "country", "segment"], 1000)
    names = entry("mart/names", ["id", "Name"], 1000)
    export = entry("exports/names.csv", ["id", "name", "country"], None, fmt="csv")  # rows unknown: kept
    few = entry("mart/few", ["id", "country"], 10)  # exact counts: under the row ratio, never a candidate
    one = entry("mart/ids", ["id"], 1000)  # under projection_min_columns
    json_part = entry("raw/names.json", ["id", "name"], None, fmt="json")  # columns unknown before a read
    same = entry("backup/customers", ["id", "name", "country", "segment"], 1000)  # not a strict subset
    got = schema_projections([whole, names, export, few, one, json_part, same], SETTINGS)
    assert got[id(whole)] == (("country", "id", "name"), ("id", "name"))
    # a likely copy (same columns, same exact row count) is not hashed twice: only the one to keep
    assert id(same) not in got
    assert schema_projections([same, names], SETTINGS)[id(same)] == (("id", "name"),)
    assert got[id(export)] == (("country", "id"), ("id", "name"))  # its row count is unknown: few may fit
    assert id(names) not in got and id(one) not in got and id(json_part) not in got
    # too many sets: none in the pass (the checks re-read it afterwards, as before)
    assert schema_projections([whole, names, export], ProfileSettings(0, 64, 512, projections_in_pass=1)).get(
        id(whole)) is None
    assert schema_projections([whole, names], ProfileSettings(0, 64, 512, projections_in_pass=0)) == {}


def test_json_keys_from_the_inventory_plan_projections_both_ways() -> None:
    whole = entry("warehouse/customers", ["id", "name", "country"], 1000)
    raw = entry("raw/customers", [], None, fmt="json")
    raw.json_keys = ["ID", "Name", "country", "segment"]
    part = entry("raw/names", [], None, fmt="json")
    part.json_keys = ["id", "name"]
    got = schema_projections([whole, raw, part], SETTINGS)
    assert got[id(raw)] == (("country", "id", "name"), ("id", "name"))  # a JSON whole: hashed in its pass
    assert got[id(whole)] == (("id", "name"),)  # a JSON part: its wider table hashes its columns
    assert id(part) not in got
    # guessed sets come last: over the limit, the wider table keeps the sets of exact schemas
    names = entry("mart/names", ["id", "country"], 1000)
    capped = ProfileSettings(0, 64, 512, projections_in_pass=1)
    assert schema_projections([whole, names, part], capped)[id(whole)] == (("country", "id"),)
    assert schema_projections([whole, part], capped)[id(whole)] == (("id", "name"),)


def test_a_pass_signature_stands_in_only_on_the_scale_a_re_read_uses() -> None:
    rnd = random.Random(5)
    hashes = [rnd.getrandbits(64) - (1 << 63) for _ in range(6000)]
    whole = entry("warehouse/t", ["a", "b", "c"], 6000)
    cols = ("a", "b")
    exact_scale = signature_from_hashes(hashes, cols, k=64, sample_target=512)
    whole.projected = {cols: exact_scale}
    assert _from_pass(whole, cols, 64, 512) is exact_scale
    assert _from_pass(whole, cols, 128, 512) is None  # other bins
    assert _from_pass(whole, ("a",), 64, 512) is None
    # finer (an estimate of fewer rows): down-sampled to exactly what the re-read's scale gives
    finer = signature_from_hashes(hashes, cols, k=64, sample_target=512, rows_estimate=1000)
    assert finer.sample_bits < sample_bits_for(6000, 512)
    whole.projected = {cols: finer}
    assert _from_pass(whole, cols, 64, 512) == exact_scale
    # coarser (an over-estimate, as CSV's bytes/16): rows the re-read would sample are missing
    coarser = signature_from_hashes(hashes, cols, k=64, sample_target=512, rows_estimate=100_000)
    whole.projected = {cols: coarser}
    assert _from_pass(whole, cols, 64, 512) is None


def test_a_text_pass_samples_its_projections_finer_and_a_signature_is_only_ever_coarsened() -> None:
    import pytest

    from rotscan.spark.profile import PROJECTION_SLACK_BITS, projection_bits

    # CSV/JSON estimates come from bytes (16 a row): the projections go finer by the slack
    assert projection_bits(9, "csv") == 9 - PROJECTION_SLACK_BITS and projection_bits(2, "json") == 0
    assert projection_bits(9, "parquet") == 9 and projection_bits(9, "delta") == 9  # exact counts
    rnd = random.Random(7)
    hashes = [rnd.getrandbits(64) - (1 << 63) for _ in range(6000)]
    fine = signature_from_hashes(hashes, ("a",), k=64, sample_target=512, rows_estimate=600)
    bits = sample_bits_for(6000, 512)
    assert fine.coarsened(bits) == signature_from_hashes(hashes, ("a",), k=64, sample_target=512)
    assert fine.coarsened(fine.sample_bits) is fine
    with pytest.raises(ValueError, match="cannot refine"):
        fine.coarsened(bits).coarsened(fine.sample_bits)

"""Redundancy rules on signatures (pure Python; the Spark lane checks the signatures themselves)."""

from __future__ import annotations

import random
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rotscan.detect.redundant import RedundancyRules, choose_keeper, detect_redundant, projection_candidates
from rotscan.models import Dataset
from rotscan.redundancy.signature import Signature, overlap, signature_from_hashes

RULES = RedundancyRules()
COLS = ("amount", "id", "name")


def rows(n: int, seed: int) -> list[int]:
    rnd = random.Random(seed)
    return [rnd.getrandbits(64) - (1 << 63) for _ in range(n)]


def ds(rel: str, fmt: str = "parquet", **kw: object) -> Dataset:
    base = dict(uri=f"file:/lake/{rel}", format=fmt, layout="part_files", files=2, bytes=10_000, rows=1000,
                root="file:/lake", modified_max=datetime(2026, 1, 1, tzinfo=timezone.utc))
    base.update(kw)
    return Dataset(**base)  # type: ignore[arg-type]


def run(pairs: dict[str, tuple[Dataset, Signature]], **kw: object) -> dict[str, tuple[str, tuple[str, ...]]]:
    found = detect_redundant([d for d, _ in pairs.values()], {d.uri: s for d, s in pairs.values()}, RULES, **kw)  # type: ignore[arg-type]
    strip = lambda u: u.removeprefix("file:/lake/")  # noqa: E731
    return {strip(f.uri): (f.kind, tuple(strip(r) for r in f.related)) for f in found}


def test_exact_copies_cluster_and_the_managed_table_is_kept() -> None:
    base = rows(5000, 1)
    shuffled = base[:]
    random.Random(2).shuffle(shuffled)
    got = run({
        "csv": (ds("exports/orders.csv", "csv", layout="file"), signature_from_hashes(shuffled, COLS)),
        "delta": (ds("warehouse/orders", "delta", layout="delta"), signature_from_hashes(base, COLS)),
        "bak": (ds("backup/orders_bak"), signature_from_hashes(base[::-1], COLS)),
    })
    assert got == {"exports/orders.csv": ("exact_duplicate", ("warehouse/orders", "backup/orders_bak")),
                   "backup/orders_bak": ("exact_duplicate", ("warehouse/orders", "exports/orders.csv"))}


def test_near_duplicate_subset_and_negatives() -> None:
    base = rows(20000, 3)
    drifted = base[:19400] + rows(600, 4)  # 97% overlap
    got = run({
        "t": (ds("warehouse/events"), signature_from_hashes(base, COLS)),
        "snap": (ds("snapshots/events_2026_01"), signature_from_hashes(drifted, COLS)),
        "month": (ds("extracts/events_march"), signature_from_hashes(base[:1500], COLS)),
        "other_year": (ds("warehouse/events_2024"), signature_from_hashes(rows(20000, 5), COLS)),
        "tiny": (ds("lookup/first_rows"), signature_from_hashes(base[:20], COLS)),
        "tiny_other": (ds("lookup/other_rows"), signature_from_hashes(base[:10] + rows(10, 6), COLS)),
    })
    # 20 rows, all in the table: a small subset under min_rows (review); half of them in it: nothing
    assert got == {"snapshots/events_2026_01": ("near_duplicate", ("warehouse/events",)),
                   "extracts/events_march": ("subset", ("warehouse/events",)),
                   "lookup/first_rows": ("subset", ("warehouse/events",))}


def _small(found: list, rel: str):  # type: ignore[no-untyped-def]
    [f] = [f for f in found if f.uri == f"file:/lake/{rel}"]
    return f


def test_small_same_schema_subsets_under_min_rows_are_for_review() -> None:
    base = rows(800, 40)  # under the sample size: every comparison is exact
    pairs = {
        "t": (ds("warehouse/codes"), signature_from_hashes(base, COLS)),
        "five": (ds("exports/five_codes"), signature_from_hashes(base[100:105], COLS)),
        "four": (ds("exports/four_codes"), signature_from_hashes(base[200:204], COLS)),  # under 5 rows
        "one_missing": (ds("exports/almost"), signature_from_hashes(base[300:339] + rows(1, 41), COLS)),
        "one_col": (ds("exports/ids"), signature_from_hashes(base[400:420], ("id",))),
        "one_col_whole": (ds("warehouse/ids"), signature_from_hashes(base, ("id",))),
        # the same schema, different rows (a lookup table of its own): never a subset
        "other": (ds("lookup/regions"), signature_from_hashes(rows(30, 42), COLS)),
    }
    found = detect_redundant([d for d, _ in pairs.values()], {d.uri: s for d, s in pairs.values()}, RULES)
    assert {f.uri.removeprefix("file:/lake/"): f.kind for f in found} == {"exports/five_codes": "subset"}
    f = _small(found, "exports/five_codes")
    assert (f.action, f.confidence, f.related) == ("review", 0.6, ("file:/lake/warehouse/codes",))
    assert f.evidence["small_subset"] is True and f.evidence["min_rows"] == 100 and f.evidence["exact"] is True
    assert "fewer than 100 rows" in f.explanation and "review it" in f.explanation
    # a small table is never a near-duplicate or the whole of a subset of a bigger one
    assert detect_redundant([pairs["five"][0], pairs["four"][0]],
                            {pairs["five"][0].uri: pairs["five"][1], pairs["four"][0].uri: pairs["four"][1]},
                            RULES) == []
    # off with 0
    off = RedundancyRules(small_subset_min_rows=0)
    assert detect_redundant([d for d, _ in pairs.values()], {d.uri: s for d, s in pairs.values()}, off) == []


def test_a_small_subset_of_a_big_table_holds_only_when_the_exact_check_finds_every_row() -> None:
    from rotscan.crawl.inventory import InventoryEntry
    from rotscan.detect.verify import verify_sampled

    base = rows(50_000, 43)  # sampled: the comparison is an estimate until verified
    whole, part = ds("warehouse/events", bytes=1_000_000), ds("exports/few_events", bytes=2_000)
    sigs = {whole.uri: signature_from_hashes(base, COLS), part.uri: signature_from_hashes(base[:60], COLS)}
    [f] = detect_redundant([whole, part], sigs, RULES)
    assert (f.kind, f.action, f.evidence["small_subset"], f.evidence["exact"]) == ("subset", "review", True, False)

    class Exact:
        def __init__(self, missing: int) -> None:
            self.missing = missing

        def exact_containment(self, p, w, columns):  # type: ignore[no-untyped-def]
            return 60, self.missing

    entries = [InventoryEntry(dataset=whole, signature=sigs[whole.uri]), InventoryEntry(dataset=part, signature=sigs[part.uri])]
    [ok] = verify_sampled([f], entries, RULES, Exact(0), warnings=[])  # type: ignore[arg-type]
    assert (ok.action, ok.confidence, ok.evidence["exact"], ok.evidence["missing_rows"]) == ("review", 0.6, True, 0)
    # one row of 60 missing is 98% contained — a subset for a big table, but not for a small one
    assert verify_sampled([f], entries, RULES, Exact(1), warnings=[]) == []  # type: ignore[arg-type]


def test_different_columns_never_match() -> None:
    base = rows(3000, 6)
    got = run({
        "a": (ds("a"), signature_from_hashes(base, COLS)),
        "b": (ds("b"), signature_from_hashes(base, ("amount", "id", "note"))),
    })
    assert got == {}


def test_projection_candidates_and_verified_projection() -> None:
    whole = (ds("warehouse/customers"), signature_from_hashes(rows(4000, 7), ("country", "id", "name", "segment")))
    part = (ds("mart/customer_names"), signature_from_hashes(rows(4000, 8), ("id", "name")))
    key_only = (ds("mart/customer_ids"), signature_from_hashes(rows(4000, 9), ("id",)))
    lookup = (ds("mart/countries"), signature_from_hashes(rows(120, 10), ("country", "name")))
    sigs = {d.uri: s for d, s in (whole, part, key_only, lookup)}
    cands = projection_candidates([whole[0], part[0], key_only[0], lookup[0]], sigs, RULES)
    assert [(c.part, c.whole) for c in cands] == [(part[0].uri, whole[0].uri)]
    # the Spark adapter re-hashes the whole table over ("id", "name"): pretend it matched exactly
    found = detect_redundant([whole[0], part[0]], sigs, RULES, projections={(part[0].uri, whole[0].uri): sigs[part[0].uri]})
    [f] = found
    assert (f.kind, f.related, f.action) == ("projection", (whole[0].uri,), "quarantine")
    assert f.evidence["dropped_columns"] == ["country", "segment"]
    # and a projection that does not match is not reported
    assert detect_redundant([whole[0], part[0]], sigs, RULES,
                            projections={(part[0].uri, whole[0].uri): signature_from_hashes(rows(4000, 11), ("id", "name"))}) == []


def test_lsh_path_finds_the_same_as_pairwise() -> None:
    base = rows(20000, 12)
    pairs = {
        "t": (ds("warehouse/events"), signature_from_hashes(base, COLS)),
        "snap": (ds("snapshots/events"), signature_from_hashes(base[:19500] + rows(500, 13), COLS)),
        "month": (ds("extracts/events_march"), signature_from_hashes(base[:3000], COLS)),
    }
    for i in range(30):
        pairs[f"noise{i}"] = (ds(f"noise/t{i}"), signature_from_hashes(rows(2000, 100 + i), COLS))
    pairwise = run(pairs)
    rules_lsh = RedundancyRules(pairwise_max=0)
    found = detect_redundant([d for d, _ in pairs.values()], {d.uri: s for d, s in pairs.values()}, rules_lsh)
    assert {f.uri: f.kind for f in found} == {f"file:/lake/{k}": v[0] for k, v in pairwise.items()}
    assert set(pairwise) == {"snapshots/events", "extracts/events_march"}


def test_no_keep_cycles() -> None:
    base = rows(5000, 14)
    got = run({
        "a": (ds("x/a"), signature_from_hashes(base, COLS)),
        "b": (ds("x/b"), signature_from_hashes(base[:4900] + rows(100, 15), COLS)),
    })
    assert len(got) == 1


def test_keeper_evidence_order() -> None:
    tmp = ds("tmp/orders_copy", "delta")
    wh = ds("warehouse/orders", "parquet")
    assert choose_keeper([tmp, wh]) is tmp  # format first
    assert choose_keeper([ds("tmp/orders_copy"), wh]).uri == wh.uri  # then path
    assert choose_keeper([wh, tmp], readers={wh.uri: 3}) is wh  # usage beats everything


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(-(1 << 63), (1 << 63) - 1), min_size=1, max_size=300), st.randoms())
def test_signature_invariant_to_order_and_split(hashes: list[int], rnd: random.Random) -> None:
    shuffled = hashes[:]
    rnd.shuffle(shuffled)
    a = signature_from_hashes(hashes, COLS, k=32)
    b = signature_from_hashes(shuffled, COLS, k=32)
    assert a == b
    assert overlap(a, b).jaccard == 1.0
    assert a.minhash().jaccard(b.minhash()) == 1.0


@pytest.mark.parametrize("share", [0.1, 0.5, 0.9])
def test_sampled_estimates_within_bound(share: float) -> None:
    base = rows(200_000, 16)
    n = int(len(base) * share)
    a = signature_from_hashes(base[:n], COLS, sample_target=2048)
    b = signature_from_hashes(base, COLS, sample_target=2048)
    ov = overlap(a, b)
    assert not ov.exact
    assert abs(ov.containment_ab - 1.0) <= ov.error()
    assert abs(ov.jaccard - share) <= 0.05


def test_signatures_round_trip_through_parquet(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from rotscan.redundancy.signature import read_signatures, write_signatures

    sigs = {"file:/lake/a": signature_from_hashes(rows(5000, 20), COLS),
            "file:/lake/b": signature_from_hashes(rows(10, 21), COLS, k=16)}
    write_signatures(sigs, str(tmp_path / "s.parquet"))
    assert read_signatures(str(tmp_path / "s.parquet")) == sigs

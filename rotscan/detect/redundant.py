"""Redundant ROT: copies of data, found by content (pure Python over signatures).

- ``exact_duplicate``: the same multiset of rows (equal order-independent checksums over the same
  columns) — whatever the format, layout, row order or name;
- ``near_duplicate``: row-set Jaccard at or above ``near_threshold`` (snapshots that drifted);
- ``subset``: at least ``subset_threshold`` of A's distinct rows are in B, and B is larger
  (containment, not Jaccard: a 5% extract has a tiny Jaccard);
- ``projection``: A's columns are a strict subset of B's and A's rows are B's rows restricted to
  them (verified on a projected signature of B computed by the Spark adapter).

Candidates come from datasketch's ``MinHashLSH`` (Jaccard) over ``LeanMinHash`` objects rebuilt
from the Spark-computed one-permutation MinHash, and (containment) from an index of each dataset's
few smallest row hashes looked up in every coordinated sample; small groups of same-column datasets
are simply compared pairwise. Every candidate is then verified on the
coordinated samples, whose comparison is exact for tables up to the sample size and carries a
binomial error bound above it.

Not redundant by construction: tables with different columns never share row hashes (a shared key
column is not a copy); tables of the same schema with different rows have Jaccard ≈ 0; small
tables below ``min_rows`` are never called near-copies or projections, and subsets only when every
one of their rows (at least ``small_subset_min_rows``, over at least two columns) is in a larger table
of the same columns — then for review, with low confidence.
"""

from __future__ import annotations

import fnmatch
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rotscan.models import Dataset, Finding
from rotscan.redundancy.signature import Overlap, Signature, overlap

FORMAT_RANK = {"delta": 6, "iceberg": 6, "parquet": 4, "orc": 4, "avro": 3, "json": 2, "csv": 1, "text": 0}
COPY_WORDS = ("backup", "backups", "bak", "copy", "copies", "old", "tmp", "temp", "scratch", "sandbox",
              "export", "exports", "snapshot", "snapshots", "archive", "dump", "test", "staging", "clone")
CANONICAL_WORDS = ("warehouse", "gold", "silver", "curated", "prod", "production", "mart", "marts", "dwh", "core")


@dataclass(frozen=True)
class RedundancyRules:
    near_threshold: float = 0.85
    subset_threshold: float = 0.95
    min_rows: int = 100  # for near/subset/projection
    exact_min_rows: int = 1
    # below min_rows, a same-column table from this many rows on, all of whose distinct rows are in a
    # larger one, is still a subset (review, low confidence); 0 turns this off
    small_subset_min_rows: int = 5
    small_copy_rows: int = 100  # exact copies smaller than this are for review only
    projection_min_columns: int = 2
    projection_min_row_ratio: float = 0.5
    pairwise_max: int = 200  # same-column groups up to this size are compared pairwise, larger via LSH
    # sampled subset/projection estimates are checked exactly when both tables together are at most
    # this many bytes (rotscan.detect.verify); 0 disables the check
    verify_max_bytes: int = 2_147_483_648

    @classmethod
    def from_config(cls, config: Any) -> RedundancyRules:
        r: Mapping[str, Any] = config.section("redundancy")
        return cls(
            near_threshold=float(r["near_threshold"]), subset_threshold=float(r["subset_threshold"]),
            min_rows=int(r["min_rows"]), exact_min_rows=int(r["exact_min_rows"]),
            small_subset_min_rows=int(r["small_subset_min_rows"]),
            small_copy_rows=int(r["small_copy_rows"]), projection_min_columns=int(r["projection_min_columns"]),
            projection_min_row_ratio=float(r["projection_min_row_ratio"]), pairwise_max=int(r["pairwise_max"]),
            verify_max_bytes=int(r["verify_max_bytes"]),
        )


def _words(ds: Dataset) -> set[str]:
    import re

    return {w for part in ds.relative_path.lower().split("/") for w in re.split(r"[^a-z0-9]+", part) if w}


def keeper_score(ds: Dataset, readers: Mapping[str, int] | None = None) -> tuple[Any, ...]:
    """Which copy to keep, strongest evidence first: reads; registration in a catalog table (people
    query the registered copy by its table name; unknown when no catalog was read, then no copy
    gains); format; canonical-looking path; recency; the shorter path."""
    words = _words(ds)
    copyish = sum(1 for w in COPY_WORDS if w in words) + sum(
        1 for w in words if fnmatch.fnmatch(w, "v[0-9]*") or w.endswith(("bak", "backup", "copy", "old")))
    canonical = sum(1 for w in CANONICAL_WORDS if w in words)
    modified = ds.modified_max.timestamp() if ds.modified_max else 0.0
    reads = (readers or {}).get(ds.uri, 0)
    registered = 1 if ds.registered else 0
    return (reads, registered, FORMAT_RANK.get(ds.format, 0), canonical - 2 * copyish, modified, -len(ds.uri), ds.uri)


def keeper_reason(keeper: Dataset, other: Dataset, readers: Mapping[str, int] | None = None) -> str:
    k, o = keeper_score(keeper, readers), keeper_score(other, readers)
    if k[0] != o[0]:
        return f"it is read more ({k[0]} vs {o[0]} reads)"
    if k[1] != o[1]:
        copy = "is in no catalog table" if other.registered is False else "is not known to be registered"
        return (f"it is registered as catalog table {keeper.table}" if keeper.table
                else "it is registered in the catalog") + f", the copy {copy}"
    if k[2] != o[2]:
        kind = {"delta": "a managed Delta table", "iceberg": "a managed Iceberg table"}.get(
            keeper.format, f"{keeper.format} (typed, columnar)")
        return f"it is {kind}, the copy is {other.format} files"
    if k[3] != o[3]:
        return f"its path looks canonical, {other.relative_path!r} looks like a copy"
    if k[4] != o[4]:
        return "it was written more recently"
    return "shorter/first path (no stronger evidence either way)"


def choose_keeper(members: Iterable[Dataset], readers: Mapping[str, int] | None = None) -> Dataset:
    return max(members, key=lambda d: keeper_score(d, readers))


def _bytes(ds: Dataset) -> int:
    return ds.bytes + (ds.delta.time_travel_bytes if ds.delta else 0)


SMALL_SUBSET_CONFIDENCE = 0.6
SMALL_SUBSET_MIN_COLUMNS = 2  # a list of a few values in one column says nothing about copying


def is_small_subset(part: Signature, whole: Signature, ov: Overlap, rules: RedundancyRules) -> bool:
    """A same-column table under ``min_rows`` whose distinct rows (as far as the samples show) are
    all in a larger table: a subset for review only."""
    return (0 < rules.small_subset_min_rows <= part.rows < rules.min_rows and part.rows < whole.rows
            and len(part.columns) >= SMALL_SUBSET_MIN_COLUMNS and ov.sample_a > 0 and ov.containment_ab == 1.0)


def _rows(n: int) -> str:
    return f"{n:,} row" + ("" if n == 1 else "s")


@dataclass(frozen=True)
class ProjectionCandidate:
    part: str  # uri of the narrower dataset
    whole: str  # uri of the wider dataset
    columns: tuple[str, ...]  # canonical column names of the narrower one


def projection_candidates(datasets: Iterable[Dataset], signatures: Mapping[str, Signature],
                          rules: RedundancyRules, exclude: Iterable[str] = ()) -> list[ProjectionCandidate]:
    """Pairs (A, B) where A's columns are a strict subset of B's: B must be re-hashed on A's columns."""
    skip = set(exclude)
    items = [(d, signatures[d.uri]) for d in datasets if d.uri in signatures and d.uri not in skip
             and signatures[d.uri].rows >= rules.min_rows]
    # exact copies of one another are one candidate whole: re-hash only the copy to keep
    clusters: dict[tuple[tuple[str, ...], str], list[Dataset]] = defaultdict(list)
    for d, s in items:
        clusters[(s.columns, s.checksum)].append(d)
    keepers = {choose_keeper(members).uri for members in clusters.values()}
    out = []
    for a, sa in items:
        if len(sa.columns) < rules.projection_min_columns:
            continue
        cols = set(sa.columns)
        for b, sb in items:
            if a.uri == b.uri or b.uri not in keepers or not cols < set(sb.columns):
                continue
            if sa.rows > sb.rows or sa.rows < rules.projection_min_row_ratio * sb.rows:
                continue
            out.append(ProjectionCandidate(part=a.uri, whole=b.uri, columns=sa.columns))
    return out


class _Findings:
    """Collects at most one redundancy finding per dataset, never creating keep-chains that loop."""

    def __init__(self) -> None:
        self.by_uri: dict[str, Finding] = {}
        self.keeper_of: dict[str, str] = {}

    def _reaches(self, start: str, target: str) -> bool:
        seen = set()
        cur: str | None = start
        while cur is not None and cur not in seen:
            if cur == target:
                return True
            seen.add(cur)
            cur = self.keeper_of.get(cur)
        return False

    def add(self, finding: Finding, keeper: str) -> bool:
        if finding.uri in self.by_uri or self._reaches(keeper, finding.uri):
            return False
        self.by_uri[finding.uri] = finding
        self.keeper_of[finding.uri] = keeper
        return True


ANCHORS = 3  # smallest row hashes per dataset indexed for the containment candidate search


def _pairs(group: list[tuple[Dataset, Signature]], rules: RedundancyRules) -> Iterable[tuple[int, int]]:
    """Candidate pairs inside a group of datasets hashed over the same columns."""
    n = len(group)
    if n <= rules.pairwise_max:
        for i in range(n):
            for j in range(i + 1, n):
                yield i, j
        return
    from datasketch import MinHashLSH

    k = group[0][1].k
    seen: set[tuple[int, int]] = set()
    lsh = MinHashLSH(threshold=rules.near_threshold, num_perm=k)
    # query each MinHash against the ones before it, then insert it: every pair once, and no list of
    # all MinHashes held beside the index
    for i, (_, s) in enumerate(group):
        m = s.minhash()
        for j in lsh.query(m):
            if (j, i) not in seen:
                seen.add((j, i))
                yield j, i
        lsh.insert(i, m, check_duplication=False)
    # Containment candidates (every pair is verified on the samples). If A is (almost) contained in
    # B, A's smallest row hashes are rows of B, and B's coordinated sample holds every row hash of B
    # below its scale cut-off — so index each dataset's ANCHORS smallest hashes and look B's sample
    # values up to the largest anchor in that index: a miss needs all anchors among A's rows missing
    # from B (probability (1 - containment)^ANCHORS). A part too small for B's sample scale has no
    # anchor there, but its containment could not be estimated from the samples either. This
    # replaced datasketch's MinHashLSHEnsemble, whose 256-permutation index took ~15 ms a dataset
    # (benchmarks/bench_lsh.py: 1,000 signatures 34 s, 100,000 out of reach).
    anchors: dict[int, list[int]] = defaultdict(list)
    for i, (_, s) in enumerate(group):
        for h in s.sample[:ANCHORS]:
            anchors[h].append(i)
    top = max(anchors, default=-1)
    for j, (_, s) in enumerate(group):
        for h in s.sample[:bisect_right(s.sample, top)]:  # the sample is sorted
            for i in anchors.get(h, ()):
                pair = (min(i, j), max(i, j))
                if i != j and pair not in seen:
                    seen.add(pair)
                    yield pair


def detect_redundant(
    datasets: Iterable[Dataset],
    signatures: Mapping[str, Signature],
    rules: RedundancyRules,
    *,
    projections: Mapping[tuple[str, str], Signature] | None = None,
    exclude: Iterable[str] = (),
    readers: Mapping[str, int] | None = None,
) -> list[Finding]:
    """Findings for every copy; ``related`` names the copy to keep first. ``projections`` maps a
    :class:`ProjectionCandidate` ``(part, whole)`` to the whole's signature over the part's columns."""
    skip = set(exclude)
    by_uri = {d.uri: d for d in datasets if d.uri in signatures and d.uri not in skip}
    out = _Findings()

    # 1. exact duplicates: equal checksums over the same columns
    clusters: dict[tuple[tuple[str, ...], str], list[Dataset]] = defaultdict(list)
    for uri, ds in by_uri.items():
        sig = signatures[uri]
        if sig.rows >= rules.exact_min_rows:
            clusters[(sig.columns, sig.checksum)].append(ds)
    representatives: dict[str, Dataset] = {}
    for members in clusters.values():
        keeper = choose_keeper(members, readers)
        representatives[keeper.uri] = keeper
        others = sorted((m for m in members if m.uri != keeper.uri), key=lambda d: d.uri)
        for m in others:
            rows = signatures[m.uri].rows
            small = rows < rules.small_copy_rows
            formats = f"{m.format} copy of a {keeper.format} table" if m.format != keeper.format else m.format
            out.add(Finding(
                uri=m.uri, category="redundant", kind="exact_duplicate",
                action="review" if small else "quarantine", confidence=0.9 if small else 0.99,
                reclaimable_bytes=_bytes(m),
                related=(keeper.uri, *[o.uri for o in others if o.uri != m.uri]),
                explanation=f"same {_rows(rows)} as {keeper.relative_path} (order-independent checksum match, {formats}); "
                            f"keep {keeper.relative_path}: {keeper_reason(keeper, m, readers)}",
                evidence={"jaccard": 1.0, "containment": 1.0, "rows": rows, "checksum": signatures[m.uri].checksum,
                          "keeper": keeper.uri, "cluster_size": len(members), "method": "checksum"},
            ), keeper.uri)
    for uri, ds in by_uri.items():
        if uri not in out.by_uri:
            representatives.setdefault(uri, ds)

    # 2. near duplicates and subsets among same-column datasets
    groups: dict[tuple[str, ...], list[tuple[Dataset, Signature]]] = defaultdict(list)
    floor = min(rules.min_rows, rules.small_subset_min_rows or rules.min_rows)
    for uri, ds in representatives.items():
        sig = signatures[uri]
        if sig.rows >= floor:
            groups[sig.columns].append((ds, sig))
    near: list[tuple[float, Dataset, Dataset, Overlap]] = []
    subsets: list[tuple[float, Dataset, Dataset, Overlap]] = []
    for group in groups.values():
        for i, j in _pairs(group, rules):
            (a, sa), (b, sb) = group[i], group[j]
            ov = overlap(sa, sb)
            if min(sa.rows, sb.rows) < rules.min_rows:  # only a small subset, fully contained
                if is_small_subset(sa, sb, ov, rules):
                    subsets.append((1.0, a, b, ov))
                elif is_small_subset(sb, sa, _swap(ov), rules):
                    subsets.append((1.0, b, a, _swap(ov)))
            elif ov.jaccard >= rules.near_threshold:
                near.append((ov.jaccard, a, b, ov))
            elif ov.containment_ab >= rules.subset_threshold and ov.containment_ba < rules.subset_threshold:
                subsets.append((ov.containment_ab, a, b, ov))
            elif ov.containment_ba >= rules.subset_threshold and ov.containment_ab < rules.subset_threshold:
                subsets.append((ov.containment_ba, b, a, _swap(ov)))

    for jac, a, b, ov in sorted(near, key=lambda t: (-t[0], t[1].uri, t[2].uri)):
        keeper = choose_keeper([a, b], readers)
        other = b if keeper is a else a
        ov = ov if keeper is b else _swap(ov)  # containment_ab: of the copy in the keeper
        out.add(Finding(
            uri=other.uri, category="redundant", kind="near_duplicate", action="review",
            confidence=round(min(0.95, 0.6 + 0.35 * jac), 3), reclaimable_bytes=_bytes(other),
            related=(keeper.uri,),
            explanation=f"{jac:.0%} of the distinct rows are shared with {keeper.relative_path} (Jaccard"
                        f"{'' if ov.exact else f' ±{ov.error():.0%}'}); {ov.containment_ab:.0%} of this copy's rows "
                        f"are in {keeper.relative_path}; keep {keeper.relative_path}: {keeper_reason(keeper, other, readers)}",
            evidence=_evidence(ov, signatures[other.uri], signatures[keeper.uri], keeper.uri),
        ), keeper.uri)

    # a part contained in several tables is reported against the best one to keep: one that is not a
    # copy itself, then the strongest keeper evidence
    best: dict[str, tuple[float, Dataset, Dataset, Overlap]] = {}
    for cont, part, whole, ov in subsets:
        cur = best.get(part.uri)
        rank = (whole.uri not in out.by_uri, cont, keeper_score(whole, readers))
        if cur is None or rank > (cur[2].uri not in out.by_uri, cur[0], keeper_score(cur[2], readers)):
            best[part.uri] = (cont, part, whole, ov)
    for cont, part, whole, ov in sorted(best.values(), key=lambda t: (-t[0], t[1].uri)):
        exact = ov.exact and cont == 1.0
        small = signatures[part.uri].rows < rules.min_rows
        evidence = _evidence(ov, signatures[part.uri], signatures[whole.uri], whole.uri)
        explanation = (f"{cont:.0%} of its {_rows(signatures[part.uri].rows)} are contained in {whole.relative_path} "
                       f"({_rows(signatures[whole.uri].rows)}"
                       + ("; exact comparison" if ov.exact else f"; sampled estimate ±{ov.error():.0%}") + ")")
        if small:
            evidence["small_subset"] = True
            evidence["min_rows"] = rules.min_rows
            explanation += (f"; fewer than {rules.min_rows} rows, so a small extract or a lookup table whose rows "
                            "also appear there: review it")
        out.add(Finding(
            uri=part.uri, category="redundant", kind="subset",
            action="quarantine" if exact and not small else "review",
            confidence=SMALL_SUBSET_CONFIDENCE if small else 0.95 if exact else round(max(0.5, 0.9 - ov.error()), 3),
            reclaimable_bytes=_bytes(part), related=(whole.uri,), explanation=explanation, evidence=evidence,
        ), whole.uri)

    # 3. projections, verified on the wider table re-hashed over the narrower one's columns
    for (part_uri, whole_uri), projected in sorted((projections or {}).items()):
        if part_uri not in by_uri or whole_uri not in by_uri:
            continue
        part, whole = by_uri[part_uri], by_uri[whole_uri]
        sp = signatures[part_uri]
        ov = overlap(sp, projected)
        if ov.containment_ab < rules.subset_threshold:
            continue
        same = sp.checksum == projected.checksum
        extra = sorted(set(signatures[whole_uri].columns) - set(sp.columns))
        out.add(Finding(
            uri=part.uri, category="redundant", kind="projection",
            action="quarantine" if same or (ov.exact and ov.containment_ab == 1.0) else "review",
            confidence=0.97 if same else round(max(0.5, 0.9 - ov.error()), 3), reclaimable_bytes=_bytes(part),
            related=(whole.uri,),
            explanation=f"its {len(sp.columns)} columns are {whole.relative_path}'s without {', '.join(extra)}, and "
                        + (f"its {_rows(sp.rows)} are exactly that table's rows projected (checksum match)" if same
                           else f"{ov.containment_ab:.0%} of its rows are that table's rows projected"),
            evidence={**_evidence(ov, sp, projected, whole.uri), "columns": list(sp.columns),
                      "dropped_columns": extra, "checksum_match": same},
        ), whole.uri)
    return list(out.by_uri.values())


def _swap(ov: Overlap) -> Overlap:
    return Overlap(jaccard=ov.jaccard, containment_ab=ov.containment_ba, containment_ba=ov.containment_ab,
                   sample_a=ov.sample_b, sample_b=ov.sample_a, shared=ov.shared, exact=ov.exact)


def _evidence(ov: Overlap, mine: Signature, theirs: Signature, keeper: str) -> dict[str, Any]:
    return {
        "jaccard": round(ov.jaccard, 4),
        "containment": round(ov.containment_ab, 4),
        "containment_error": round(ov.error(), 4),
        "exact": ov.exact,
        "rows": mine.rows,
        "related_rows": theirs.rows,
        "sample_size": ov.sample_a,
        "shared_sample": ov.shared,
        "keeper": keeper,
        "method": "coordinated sample" if not ov.exact else "exact row-hash sets",
    }

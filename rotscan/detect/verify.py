"""Verification of copy candidates — the part of redundancy detection that needs the data again.

Two checks read tables beyond their signature: a wider table re-hashed over a narrower one's columns
(is the narrower one its projection?), and an exact anti-join of row hashes behind a sampled
subset/projection estimate. Both go through a :class:`Verifier` — implemented with Spark by
:class:`rotscan.spark.verifier.SparkVerifier` — and their results are kept in the incremental scan
state, keyed by the fingerprints of the tables involved, so an unchanged pair is never read twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Protocol

from rotscan.crawl.inventory import InventoryEntry
from rotscan.detect.redundant import RedundancyRules, projection_candidates
from rotscan.errors import ReadError
from rotscan.models import Finding, ScanWarning
from rotscan.redundancy.signature import Signature
from rotscan.state import ContainmentKey, ProjectionKey, StateTracker


class Verifier(Protocol):
    """Reads tables again for the checks a signature cannot settle. Raises ReadError."""

    def projected_signature(self, whole: InventoryEntry, columns: tuple[str, ...], *, k: int,
                            sample_target: int) -> Signature:
        """The signature of ``whole`` restricted to ``columns`` (canonical names), as a table
        holding only those columns would hash."""
        ...

    def exact_containment(self, part: InventoryEntry, whole: InventoryEntry,
                          columns: tuple[str, ...]) -> tuple[int, int]:
        """(distinct rows of ``part``, how many of them are missing from ``whole``) over ``columns``.
        A verifier may also offer ``exact_containments(checks)`` — the same for a list of (part,
        whole, columns), a ReadError in place of a failed check — to run many checks at once."""
        ...


def projections(entries: list[InventoryEntry], signatures: dict[str, Signature], exclude: Iterable[str],
                rules: RedundancyRules, verifier: Verifier, *, sample_target: int, warnings: list[ScanWarning],
                progress: Callable[[str], None], state: StateTracker | None = None,
                ) -> dict[tuple[str, str], Signature]:
    """Re-hash each wider table over the columns of a narrower one that may be its projection:
    ``(narrower uri, wider uri) -> the wider table's projected signature``."""
    by_uri = {e.dataset.uri: e for e in entries}
    candidates = projection_candidates([e.dataset for e in entries], signatures, rules, set(exclude))
    if not candidates:
        return {}
    out: dict[tuple[str, str], Signature] = {}
    reused = 0
    # narrower tables with the same columns (monthly extracts of one mart, say) share one re-hash
    # of the wider table: a projected signature depends on the wider table and the columns only
    done: dict[tuple[str, tuple[str, ...], int], Signature] = {}
    for c in candidates:
        whole = by_uri[c.whole]
        k = signatures[c.part].k
        memo = (c.whole, tuple(c.columns), k)
        if memo in done:
            out[(c.part, c.whole)] = done[memo]
            continue
        key = ProjectionKey(c.whole, whole.fingerprint or "", tuple(c.columns), k)
        cached = state.lookup_projection(key) if state is not None and whole.fingerprint else None
        if cached is not None:
            out[(c.part, c.whole)] = done[memo] = cached
            continue
        in_pass = _from_pass(whole, tuple(c.columns), k, sample_target)
        if in_pass is not None:
            out[(c.part, c.whole)] = done[memo] = in_pass
            reused += 1
            if state is not None and whole.fingerprint:
                state.record_projection(key, in_pass)
            continue
        try:
            out[(c.part, c.whole)] = verifier.projected_signature(whole, tuple(c.columns), k=k,
                                                                  sample_target=sample_target)
        except ReadError as exc:
            warnings.append(ScanWarning(c.whole, f"projection check failed: {exc}", "unreadable"))
            continue
        done[memo] = out[(c.part, c.whole)]
        if state is not None and whole.fingerprint:
            state.record_projection(key, out[(c.part, c.whole)])
    progress(f"verified {len(candidates)} projection candidate(s), {reused} from the profile pass")
    return out


def _from_pass(whole: InventoryEntry, columns: tuple[str, ...], k: int, sample_target: int) -> Signature | None:
    """The wider table's signature over ``columns`` if its profile pass computed it on the scale a
    re-read would use (the sample scale follows the exact row count, which the pass computed from an
    estimate): then it is the very signature :meth:`Verifier.projected_signature` would return."""
    from rotscan.redundancy.signature import sample_bits_for

    sig = whole.projected.get(columns)
    if sig is None or sig.k != k:
        return None
    bits = sample_bits_for(whole.dataset.rows, sample_target)
    if sig.sample_bits > bits:  # sampled more coarsely than a re-read would: rows it needs are missing
        return None
    return sig.coarsened(bits)  # a finer sample holds every row hash of the coarser one


def verify_sampled(findings: list[Finding], entries: list[InventoryEntry], rules: RedundancyRules,
                   verifier: Verifier, *, warnings: list[ScanWarning],
                   state: StateTracker | None = None) -> list[Finding]:
    """Replace sampled subset/projection estimates by an exact anti-join count where affordable
    (both tables within ``verify_max_bytes``); findings that do not hold up are dropped.

    The checks the state does not already hold are collected first and handed to the verifier
    together (``exact_containments`` when it has it: small checks then share Spark jobs)."""
    limit = rules.verify_max_bytes
    by_uri = {e.dataset.uri: e for e in entries}
    plan: list[tuple[Finding, ContainmentKey | None]] = []
    todo: dict[ContainmentKey, tuple[InventoryEntry, InventoryEntry, tuple[str, ...]]] = {}
    known: dict[ContainmentKey, tuple[int, int] | ReadError] = {}
    for f in findings:
        ev = f.evidence
        if f.kind not in ("subset", "projection") or ev.get("exact") or ev.get("checksum_match") or not f.related:
            plan.append((f, None))
            continue
        part, whole = by_uri[f.uri], by_uri[f.related[0]]
        if limit <= 0 or part.dataset.bytes + whole.dataset.bytes > limit:
            plan.append((f, None))
            continue
        columns = tuple(ev.get("columns") or (part.signature.columns if part.signature else ()))
        key = ContainmentKey(part.dataset.uri, part.fingerprint or "", whole.dataset.uri, whole.fingerprint or "",
                             columns)
        plan.append((f, key))
        if key in known or key in todo:
            continue
        cached = (state.lookup_containment(key) if state is not None and part.fingerprint and whole.fingerprint
                  else None)
        if cached is not None:
            known[key] = cached
        else:
            todo[key] = (part, whole, columns)
    for key, result in zip(todo, _containments(verifier, list(todo.values())), strict=True):
        known[key] = result
        if not isinstance(result, ReadError) and state is not None and key.part_fingerprint and key.whole_fingerprint:
            state.record_containment(key, *result)
    out: list[Finding] = []
    for f, maybe_key in plan:
        if maybe_key is None:
            out.append(f)
            continue
        result = known[maybe_key]
        if isinstance(result, ReadError):
            warnings.append(ScanWarning(f.uri, f"exact containment check failed: {result}", "unreadable"))
            out.append(f)
            continue
        verified = _verified(f, result, by_uri[f.related[0]], len(maybe_key.columns), rules)
        if verified is not None:
            out.append(verified)
    return out


def _containments(verifier: Verifier, checks: list[tuple[InventoryEntry, InventoryEntry, tuple[str, ...]]],
                  ) -> list[tuple[int, int] | ReadError]:
    if not checks:
        return []
    many = getattr(verifier, "exact_containments", None)
    return list(many(checks)) if many is not None else one_by_one(verifier, checks)


def one_by_one(verifier: Verifier, checks: Sequence[tuple[InventoryEntry, InventoryEntry, tuple[str, ...]]],
               ) -> list[tuple[int, int] | ReadError]:
    """``verifier.exact_containment`` of each check, a ReadError in place of a check that failed."""
    out: list[tuple[int, int] | ReadError] = []
    for part, whole, columns in checks:
        try:
            out.append(verifier.exact_containment(part, whole, columns))
        except ReadError as exc:
            out.append(exc)
    return out


def _verified(f: Finding, result: tuple[int, int], whole: InventoryEntry, width: int,
              rules: RedundancyRules) -> Finding | None:
    """The finding with its exact containment, or None when it does not hold up."""
    ev = f.evidence
    distinct, missing = result
    cont = 1.0 - missing / distinct if distinct else 0.0
    if cont < rules.subset_threshold:
        return None
    full = missing == 0
    small = bool(ev.get("small_subset"))
    if small and not full:  # a small subset holds only when every row is there
        return None
    return replace(
        f, action="review" if small or not full else "quarantine",
        confidence=f.confidence if small else 0.95 if full else 0.85,
        explanation=f"{cont:.0%} of its {distinct:,} distinct rows are "
        + (f"in {whole.dataset.relative_path}" if f.kind == "subset"
           else f"{whole.dataset.relative_path}'s rows projected on its {width} columns")
        + f" — verified exactly by an anti-join of row hashes ({missing:,} missing)",
        evidence={**ev, "containment": round(cont, 6), "containment_error": 0.0, "exact": True,
                  "method": "anti-join of row hashes", "missing_rows": missing, "distinct_rows": distinct},
    )

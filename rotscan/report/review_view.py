"""What the report shows of review: reviewers' decisions (kept and approved findings), owners, and
catalog tables — and the report for one owner (``rotscan report OUT --owner TEAM``).

The findings table gets an Owner column when any finding has an owner, and a Decision column when
any finding has a decision; their positions are computed here (:func:`finding_columns`) so the
template, the stylesheet and the page script agree. The Kept section lists every finding with a
keep decision — those that apply (not ROT, not counted) and those that no longer do (stale: the
data changed since the decision; expired: past its until-date), which count as ROT again.

Ticking findings in the page and downloading a decisions file is the page script's work
(``templates/_review.html.j2`` and ``_script.js.j2``); the file's format is
:mod:`rotscan.decisions_format`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from rotscan.errors import RotscanError
from rotscan.models import Decision, Finding, ScanResult
from rotscan.report.summary import UNOWNED, format_date, owner_label, owner_matches

OWNER_ROWS = 50  # owners listed in the summary; the rest are summed in one row
OWNERS_DIR = "owners"


class OwnerNotFoundError(RotscanError):
    """``--owner`` names an owner no finding or dataset has."""


@dataclass(frozen=True)
class Columns:
    """0-based positions of the findings table's cells; ``owner``/``decision`` are -1 when absent."""

    select: int
    category: int
    kind: int
    path: int
    owner: int
    action: int
    decision: int
    confidence: int
    reclaimable: int
    explanation: int

    def nth(self, name: str) -> int:
        """The 1-based position (CSS ``nth-child``)."""
        return int(getattr(self, name)) + 1


def finding_columns(has_owner: bool, has_decision: bool) -> Columns:
    names = ["select", "category", "kind", "path"] + (["owner"] if has_owner else []) + ["action"] + (
        ["decision"] if has_decision else []) + ["confidence", "reclaimable", "explanation"]
    pos = {n: i for i, n in enumerate(names)}
    return Columns(**{n: pos.get(n, -1) for n in Columns.__dataclass_fields__})


def decision_label(d: Decision | None) -> str:
    """The Decision cell: ``kept``, ``approved``, or what no longer applies (``keep · stale``)."""
    if d is None:
        return ""
    if d.applies:
        return "kept" if d.decision == "keep" else "approved"
    return f"{d.decision} · {'stale' if d.stale else 'expired'}"


def decision_class(d: Decision | None) -> str:
    if d is None:
        return ""
    if not d.applies:
        return "dx"
    return "dk" if d.decision == "keep" else "da"


STALE = "the data changed since the decision"


def decision_status(d: Decision) -> str:
    """One sentence on whether a decision applies (a row's detail)."""
    if d.stale:
        why = f" ({d.stale_reason})" if d.stale_reason and d.stale_reason != STALE else ""
        return f"stale: {STALE}{why} — not applied, counted as ROT again until re-decided"
    if d.expired:
        return f"expired on {format_date(d.until)} — not applied, counted as ROT again"
    if d.decision == "approve":
        return "approved for the next cleanup plan"
    if d.until is None:
        return "kept, no end date"
    return f"kept until {format_date(d.until)}"


def until_in(until: datetime | None, as_of: datetime) -> str:
    """``in 3 months`` (from the scan's as-of), ``passed`` when it is over."""
    from rotscan.report.summary import format_age

    if until is None:
        return ""
    left = until - as_of
    return "passed" if left.total_seconds() <= 0 else f"in {format_age(left)}"


def decision_facts(f: Finding) -> list[list[str]]:
    """The review facts of a finding's detail (only the ones known): decision, owner, table."""
    facts: list[list[str]] = []
    d = f.decision
    if d is not None:
        words = f"{d.decision} by {d.by or 'someone unnamed'} on {format_date(d.at)}"
        if d.reason:
            words += f": {d.reason}"
        facts.append(["decision", words])
        facts.append(["status", decision_status(d)])
        if d.match and d.match != f.id:
            facts.append(["decided for", d.match])
    if f.owner is not None:
        facts.append(["owner", f.owner + (f" (from {f.owner_source})" if f.owner_source else "")])
    if f.table is not None:
        facts.append(["table", f.table])
    return facts


def kept_rows(findings: Sequence[Finding]) -> list[Finding]:
    """Findings with a keep decision: those that no longer apply first (they need a look), then the
    largest."""
    keeps = [f for f in findings if f.decision is not None and f.decision.decision == "keep"]
    return sorted(keeps, key=lambda f: (f.kept, -f.reclaimable_bytes, f.uri, f.id))


def owner_names(result: ScanResult) -> list[str]:
    """Every owner named in the scan (findings and datasets), sorted; ``unowned`` last when some
    finding has no owner."""
    named = {f.owner for f in result.findings if f.owner is not None} | {
        d.owner for d in result.datasets if d.owner is not None}
    out = sorted(named)
    if any(f.owner is None for f in result.findings):
        out.append(UNOWNED)
    return out


def review_context(result: ScanResult, findings: Sequence[Finding], scope: dict[str, Any] | None) -> dict[str, Any]:
    """Context keys of the review parts of the page (``findings`` in row order)."""
    has_owner = any(f.owner is not None for f in findings)
    has_decision = any(f.decision is not None for f in findings)
    cols = finding_columns(has_owner, has_decision)
    scope = scope or {"owner": None, "lake_report": None, "lake_findings": "findings.json", "lake_total": None}
    return {
        "cols": cols,
        "has_owner": has_owner,
        "has_decision": has_decision,
        "has_table": any(f.table is not None for f in findings),
        "owner_filter": owner_names(result) if has_owner else [],
        "dataset_owners": any(d.owner is not None for d in result.datasets),
        "kept_rows": kept_rows(findings),
        "decision_label": decision_label,
        "decision_class": decision_class,
        "stale_words": STALE,
        "until_in": lambda ts: until_in(ts, result.scan.as_of),
        "owner_label": owner_label,
        "owner_rows": OWNER_ROWS,
        "scope": scope,
        # the decisions file names the scan and its roots; the page reads them from these attributes
        "review_roots": json.dumps(list(result.scan.roots), ensure_ascii=False),
        "review_key": result.scan.id + ("" if scope.get("owner") is None else f" owner={scope['owner']}"),
    }


# -- one owner's report ---------------------------------------------------------------------------

_UNSAFE = re.compile(r"[^A-Za-z0-9._@+-]+")


def owner_slug(owner: str) -> str:
    """A directory name for ``owner``: letters, digits and ``. _ @ + -`` kept, anything else ``_``."""
    slug = _UNSAFE.sub("_", owner).strip("._") or "_"
    return slug[:120]


def owner_result(result: ScanResult, owner: str) -> ScanResult:
    """The part of ``result`` that belongs to ``owner`` (``unowned``: no owner): its findings, its
    datasets, and the warnings about paths in them. Raises :class:`OwnerNotFoundError` when no
    finding or dataset has that owner."""
    findings = tuple(f for f in result.findings if owner_matches(f.owner, owner))
    datasets = tuple(d for d in result.datasets if owner_matches(d.owner, owner))
    if not findings and not datasets:
        known = owner_names(result) or [UNOWNED]
        raise OwnerNotFoundError(f"no finding or dataset has owner {owner!r} (owners in this scan: "
                                 f"{', '.join(known)})")
    mine = [u.rstrip("/") for u in {*(f.uri for f in findings), *(d.uri for d in datasets)}]

    def about_mine(uri: str | None) -> bool:
        return uri is not None and any(uri == m or uri.startswith(m + "/") for m in mine)

    warnings = tuple(w for w in result.warnings if about_mine(w.uri))
    return replace(result, findings=findings, datasets=datasets, warnings=warnings, lineage=result.lineage,
                   cleanup_history=())


def owner_scope(owner: str, out_dir: Path, lake_dir: Path, lake: ScanResult, mine: ScanResult) -> dict[str, Any]:
    """What the owner report says about its scope, with links back to the lake's report and
    findings.json relative to where it is written."""
    rel = Path(os.path.relpath(lake_dir.resolve(), out_dir.resolve()))
    return {"owner": owner, "lake_report": (rel / "report.html").as_posix(),
            "lake_findings": (rel / "findings.json").as_posix(), "lake_total": len(lake.findings),
            "warnings_left_out": len(lake.warnings) - len(mine.warnings)}

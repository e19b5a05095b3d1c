"""What the findings, copies and lineage sections of the report show, beyond the finding rows.

A report may hold 10,000+ findings, so each row in the page carries only what the table shows
(category, kind, path, action, confidence, bytes, explanation). The detail a row expands to — the
evidence in plain words (:func:`rotscan.report.evidence.explain`), the raw evidence, the related
datasets and the full URI — travels once as compact data: JSON, gzip-compressed, base64-encoded in a
``data-z`` attribute, unpacked by the page script (``DecompressionStream``) when a row is first
opened. Base64 cannot break out of an attribute, and the script builds the detail with
``textContent`` only, so no path is ever markup.
"""

from __future__ import annotations

import base64
import gzip
import json
import re
from collections.abc import Callable, Sequence
from typing import Any

from rotscan.models import Dataset, Finding, ScanResult
from rotscan.report.display import format_evidence_value
from rotscan.report.evidence import EvidenceContext, explain
from rotscan.report.lineage_svg import LineageIndex, parse_edges, render_svg
from rotscan.report.review_view import decision_facts

MAX_CLUSTERS = 50
CLUSTER_ROWS = 10
MAX_LINEAGE = 60  # obsolete findings drawn in the lineage section (largest first)
LINEAGE_HOPS = 2
LINEAGE_NODES = 12

# filter steps of the findings table: (label, bytes) and (label, confidence in percent)
SIZE_STEPS = (("≥ 1 MiB", 1 << 20), ("≥ 100 MiB", 100 << 20), ("≥ 1 GiB", 1 << 30), ("≥ 10 GiB", 10 << 30),
              ("≥ 100 GiB", 100 << 30), ("≥ 1 TiB", 1 << 40))
CONFIDENCE_STEPS = (("≥ 0.5", 50), ("≥ 0.7", 70), ("≥ 0.8", 80), ("≥ 0.9", 90), ("≥ 0.95", 95))


def evidence_payload(findings: Sequence[Finding], ctx: EvidenceContext, lineage_of: dict[str, str]) -> str:
    """One entry per finding, in row order: ``[uri, [sentences], [[key, value text]…], [related…],
    lineage anchor]`` (the id of the lineage figure of an obsolete finding's dataset, else ``""``),
    plus ``[[label, text]…]`` of review facts (decision, owner, table) only when the finding has
    any — JSON, gzip (mtime 0: the same scan renders the same bytes), base64."""
    rows = []
    for f in findings:
        row: list[Any] = [f.uri, explain(f, ctx), [[k, format_evidence_value(v)] for k, v in f.evidence.items()],
                          list(f.related), lineage_of.get(f.uri, "") if f.category == "obsolete" else ""]
        facts = decision_facts(f)
        if facts:
            row.append(facts)
        rows.append(row)
    raw = json.dumps(rows, ensure_ascii=False, separators=(",", ":"), default=str).encode()
    return base64.b64encode(gzip.compress(raw, compresslevel=9, mtime=0)).decode("ascii")


def decode_payload(blob: str) -> list[Any]:
    """The inverse of :func:`evidence_payload` (tests and tools)."""
    data: list[Any] = json.loads(gzip.decompress(base64.b64decode(blob)))
    return data


_KEEP = re.compile(r"; keep (?P<name>[^:;]+): (?P<why>.+)$")


def keeper_reason(f: Finding) -> str:
    """Why the detector chose the copy to keep, in its own words."""
    m = _KEEP.search(f.explanation)
    if m:
        return m["why"]
    if f.kind in ("subset", "projection"):
        return "it contains this copy's rows" + (" (and more columns)" if f.kind == "projection" else "")
    return "named by the detector as the copy to keep"


def copy_clusters(result: ScanResult) -> list[dict[str, Any]]:
    """Redundant findings grouped by the copy to keep (``related[0]``), largest clusters first, with
    the reason the keeper was chosen over each copy (by finding id)."""
    by_keeper: dict[str, list[Finding]] = {}
    for f in result.findings:
        if f.category == "redundant" and f.related:
            by_keeper.setdefault(f.related[0], []).append(f)
    datasets = {d.uri: d for d in result.datasets}
    clusters: list[dict[str, Any]] = []
    for keeper, members in by_keeper.items():
        members.sort(key=lambda f: (-f.reclaimable_bytes, f.uri))
        clusters.append({"keeper": keeper, "dataset": datasets.get(keeper), "members": members,
                         "bytes": sum(f.reclaimable_bytes for f in members),
                         "reasons": {f.id: keeper_reason(f) for f in members},
                         "kinds": sorted({f.kind for f in members})})
    clusters.sort(key=lambda c: (-c["bytes"], c["keeper"]))
    return clusters


def lineage_views(result: ScanResult, findings: Sequence[Finding], ctx: EvidenceContext) -> tuple[list[dict[str, Any]], int]:
    """SVG neighbourhoods of the obsolete findings whose dataset is in the lineage graph, the
    ``MAX_LINEAGE`` largest (``findings`` is already largest first), and how many were left out."""
    if not result.lineage:
        return [], 0
    index = LineageIndex(parse_edges(result.lineage))
    views: list[dict[str, Any]] = []
    left = 0
    seen: set[str] = set()
    for f in findings:
        if f.category != "obsolete" or f.uri not in index or f.uri in seen:
            continue
        if len(views) >= MAX_LINEAGE:
            left += 1
            continue
        seen.add(f.uri)
        hood = index.neighbourhood(f.uri, hops=LINEAGE_HOPS, max_nodes=LINEAGE_NODES)
        svg = render_svg(hood, datasets=ctx.datasets, as_of=ctx.as_of, display=ctx.display,
                         usage_known=ctx.usage_known, title=f"Lineage of {ctx.display(f.uri)} ({f.kind})")
        views.append({"finding": f, "svg": svg, "nodes": len(hood.nodes), "more": sum(hood.more.values())})
    return views, left


def findings_context(result: ScanResult, findings: Sequence[Finding], display: Callable[[str], str]) -> dict[str, Any]:
    """Context keys of the findings, copies and lineage partials (``findings`` in row order)."""
    from markupsafe import Markup

    datasets: dict[str, Dataset] = {d.uri: d for d in result.datasets}
    ctx = EvidenceContext(as_of=result.scan.as_of, datasets=datasets, display=display,
                          usage_known=bool(result.scan.usage_sources))
    views, left = lineage_views(result, findings, ctx)
    for v in views:
        v["svg"] = Markup(v["svg"])  # built with every label escaped (rotscan.report.lineage_svg)
    return {
        "evidence_blob": evidence_payload(findings, ctx, {v["finding"].uri: f"lin-{v['finding'].id}" for v in views})
        if findings else "",
        "size_steps": SIZE_STEPS,
        "confidence_steps": CONFIDENCE_STEPS,
        "clusters": copy_clusters(result),
        "max_clusters": MAX_CLUSTERS,
        "cluster_rows": CLUSTER_ROWS,
        "lineage_views": views,
        "lineage_left_out": left,
        "has_lineage": bool(result.lineage and result.lineage.get("edges")),
    }

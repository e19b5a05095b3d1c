"""A dataset's lineage neighbourhood as a small inline SVG, drawn in Python.

Input is the JSON form of :class:`rotscan.usage.stats.LineageGraph` (``lineage.json``: edges
``src --job--> dst`` with the time each was last seen). :func:`neighbourhood` takes the datasets up
to ``hops`` steps upstream and downstream of one dataset, at most ``max_nodes`` of them (the rest
are counted as "+N more" on the layer they belong to); :func:`render_svg` lays them out in layers
left to right (inputs, the dataset, outputs) with each node's last read and last write. Every label
is XML-escaped: a dataset named ``<script>`` is text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from rotscan.models import Dataset, parse_iso

NODE_W = 210
NODE_H = 46
COL_GAP = 56
ROW_GAP = 12
PAD = 8
LABEL_CHARS = 30


@dataclass(frozen=True)
class Edge:
    src: str
    dst: str
    job: str
    last_seen: datetime | None


@dataclass(frozen=True)
class Neighbourhood:
    center: str
    layers: dict[int, tuple[str, ...]]  # -hops..+hops -> node URIs shown in that layer
    more: dict[int, int]  # layer -> how many more nodes were left out
    edges: tuple[Edge, ...]  # between shown nodes

    @property
    def nodes(self) -> tuple[str, ...]:
        return tuple(u for k in sorted(self.layers) for u in self.layers[k])


def parse_edges(lineage: Mapping[str, Any] | None) -> list[Edge]:
    """Edges of a ``lineage.json`` document; malformed edges are skipped."""
    out = []
    for e in (lineage or {}).get("edges") or ():
        if not isinstance(e, Mapping) or not e.get("src") or not e.get("dst"):
            continue
        try:
            seen = parse_iso(e.get("last_seen")) if isinstance(e.get("last_seen"), str) else None
        except ValueError:
            seen = None
        out.append(Edge(src=str(e["src"]), dst=str(e["dst"]), job=str(e.get("job") or ""), last_seen=seen))
    return out


class LineageIndex:
    """Adjacency of a lineage graph, built once for every finding of a report."""

    def __init__(self, edges: list[Edge]) -> None:
        self.up: dict[str, list[Edge]] = {}
        self.down: dict[str, list[Edge]] = {}
        for e in edges:
            if e.src == e.dst:
                continue
            self.down.setdefault(e.src, []).append(e)
            self.up.setdefault(e.dst, []).append(e)

    def __contains__(self, uri: str) -> bool:
        return uri in self.up or uri in self.down

    def neighbourhood(self, center: str, *, hops: int = 2, max_nodes: int = 12) -> Neighbourhood:
        """Nodes up to ``hops`` steps away on each side (breadth first: nearer layers are kept first;
        within a layer sorted by URI; a full layer splits the room between both sides), at most
        ``max_nodes`` in all including the centre. Edges: those between shown nodes that run left to
        right; several jobs on one pair become one edge (jobs joined, the latest time)."""
        budget = max(1, max_nodes) - 1
        placed: dict[str, int] = {center: 0}
        layers: dict[int, tuple[str, ...]] = {0: (center,)}
        more: dict[int, int] = {}
        up_front, down_front = [center], [center]
        for step in range(1, max(1, hops) + 1):
            up = sorted({e.src for u in up_front for e in self.up.get(u, ())} - placed.keys())
            down = sorted({e.dst for u in down_front for e in self.down.get(u, ())} - placed.keys() - set(up))
            k_up = min(len(up), max(budget - budget // 2, budget - len(down)))
            k_down = min(len(down), budget - k_up)
            budget -= k_up + k_down
            for layer, found, keep in ((-step, up, k_up), (step, down, k_down)):
                kept = found[:keep]
                if len(found) > keep:
                    more[layer] = len(found) - keep
                if kept:
                    layers[layer] = tuple(kept)
                for u in kept:
                    placed[u] = layer
            up_front, down_front = up[:k_up], down[:k_down]
        merged: dict[tuple[str, str], Edge] = {}
        for u in placed:
            for e in self.down.get(u, ()):
                if e.dst not in placed or placed[e.dst] <= placed[u]:
                    continue
                old = merged.get((e.src, e.dst))
                if old is None:
                    merged[(e.src, e.dst)] = e
                else:
                    jobs = ", ".join(sorted({*old.job.split(", "), e.job} - {""}))
                    seen = max((t for t in (old.last_seen, e.last_seen) if t is not None), default=None)
                    merged[(e.src, e.dst)] = Edge(e.src, e.dst, jobs, seen)
        return Neighbourhood(center=center, layers=layers, more=more, edges=tuple(merged[k] for k in sorted(merged)))


def _clip(text: str, n: int = LABEL_CHARS) -> str:
    return text if len(text) <= n else "…" + text[-(n - 1):]


def _short_ago(ts: datetime | None, as_of: datetime) -> str:
    if ts is None:
        return "—"
    days = (as_of - ts).days
    if days < 0:
        return ts.strftime("%Y-%m-%d")
    if days < 2:
        return f"{int((as_of - ts).total_seconds() // 3600)} h ago"
    return f"{days:,} d ago"


def render_svg(
    hood: Neighbourhood,
    *,
    datasets: Mapping[str, Dataset],
    as_of: datetime,
    display: Callable[[str], str],
    usage_known: bool,
    title: str = "",
) -> str:
    """The neighbourhood as an SVG document fragment (``<svg …>…</svg>``), every label escaped."""
    cols = sorted(hood.layers)
    col_x = {k: PAD + i * (NODE_W + COL_GAP) for i, k in enumerate(cols)}
    rows = {k: len(hood.layers[k]) + (1 if hood.more.get(k) else 0) for k in cols}
    height = PAD * 2 + max(rows.values()) * (NODE_H + ROW_GAP) - ROW_GAP
    width = PAD * 2 + len(cols) * NODE_W + (len(cols) - 1) * COL_GAP
    pos: dict[str, tuple[int, int]] = {}
    for k in cols:
        n = rows[k]
        top = PAD + (height - 2 * PAD - (n * (NODE_H + ROW_GAP) - ROW_GAP)) // 2
        for i, u in enumerate(hood.layers[k]):
            pos[u] = (col_x[k], top + i * (NODE_H + ROW_GAP))
    label = title or f"Lineage of {display(hood.center)}"
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="lineage" role="img" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" aria-label={quoteattr(label)}>',
           f"<title>{escape(label)}</title>"]
    for e in hood.edges:
        (x1, y1), (x2, y2) = pos[e.src], pos[e.dst]
        sx, sy, ex, ey = x1 + NODE_W, y1 + NODE_H // 2, x2, y2 + NODE_H // 2
        mid = (sx + ex) // 2
        tip = f"{e.job or 'job unknown'}: {display(e.src)} → {display(e.dst)}"
        if e.last_seen is not None:
            tip += f", last seen {e.last_seen.strftime('%Y-%m-%d')}"
        out.append(f'<path class="edge" d="M{sx} {sy} C{mid} {sy} {mid} {ey} {ex - 4} {ey}">'
                   f"<title>{escape(tip)}</title></path>")
        out.append(f'<path class="arrow" d="M{ex - 6} {ey - 4} L{ex} {ey} L{ex - 6} {ey + 4} Z"/>')
    for u, (x, y) in pos.items():
        ds = datasets.get(u)
        name = display(u)
        if ds is None:
            info = "not in the inventory"
        else:
            read = ("none seen" if ds.last_read is None else _short_ago(ds.last_read, as_of)) if usage_known \
                else "unknown"
            modified = ds.last_written or ds.modified_max
            written = "unknown" if modified is None else _short_ago(modified, as_of)
            info = f"read {read} · written {written}"
        cls = "node center" if u == hood.center else ("node" if ds is not None else "node gone")
        out.append(f'<g class="{cls}"><title>{escape(u)}</title>'
                   f'<rect x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="5"/>'
                   f'<text x="{x + 8}" y="{y + 18}" class="name">{escape(_clip(name))}</text>'
                   f'<text x="{x + 8}" y="{y + 36}" class="info">{escape(info)}</text></g>')
    for k, n in hood.more.items():
        x = col_x[k]
        y = PAD + (rows[k] - 1) * (NODE_H + ROW_GAP) + (height - 2 * PAD - (rows[k] * (NODE_H + ROW_GAP) - ROW_GAP)) // 2
        side = "upstream" if k < 0 else "downstream"
        out.append(f'<text x="{x + 8}" y="{y + NODE_H // 2 + 4}" class="more">+{n:,} more {side}</text>')
    out.append("</svg>")
    return "".join(out)

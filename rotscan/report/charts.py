"""The report's charts as inline SVG, built in Python: no JavaScript chart library, no network.

Every function is pure (data in, markup out) and returns :class:`markupsafe.Markup` the template
inserts as is, so everything that goes into the markup is escaped here: every label, title and
attribute value passes through :func:`markupsafe.escape` (``& < > " '``), numbers are formatted by
this module. Each chart is an accessible image (``role="img"``, ``<title>`` and ``<desc>`` naming
every value it shows), carries its numbers as text labels (colour is never the only cue), draws
with fixed fills (prints as it shows), and stays small: at most ``top`` bars or one column per scan.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from rotscan.core.formatting import format_bytes
from rotscan.models import CATEGORIES, Dataset, Finding
from rotscan.report.history import Snapshot
from rotscan.report.summary import ReportSummary, counted_findings, format_date, format_percent

WIDTH = 600
FONT = 12
ROW = 24
LABEL_W = 210  # label column of horizontal bar charts
VALUE_W = 170  # room right of the longest bar for its value
MAX_LABEL = 30  # characters; longer labels keep their end ("…/a/b/table") with the full text in <title>

COLORS = {"redundant": "#2563eb", "obsolete": "#c2540a", "trivial": "#7c3aed", "total": "#cbd2db",
          "rot": "#b42318", "axis": "#5f6b7a", "ink": "#1d2430"}


def _e(value: object) -> str:
    return str(escape(str(value)))


def _num(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def shorten(label: str, limit: int = MAX_LABEL) -> str:
    """Keep the end of a long path (its most telling part): ``…ouse/sales/orders_2024``."""
    return label if len(label) <= limit else "…" + label[-(limit - 1):]


def _svg(chart_id: str, title: str, desc: str, height: float, body: list[str]) -> Markup:
    tid, did = f"{chart_id}-title", f"{chart_id}-desc"
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{_e(chart_id)}" role="img" '
        f'aria-labelledby="{_e(tid)} {_e(did)}" viewBox="0 0 {WIDTH} {_num(height)}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet" font-size="{FONT}" '
        f'font-family="system-ui, -apple-system, Segoe UI, Roboto, Arial, sans-serif">'
        f'<title id="{_e(tid)}">{_e(title)}</title><desc id="{_e(did)}">{_e(desc)}</desc>'
        + "".join(body) + "</svg>"
    )


def _text(x: float, y: float, text: str, *, anchor: str = "start", cls: str = "", fill: str = COLORS["ink"],
          bold: bool = False) -> str:
    weight = ' font-weight="600"' if bold else ""
    klass = f' class="{_e(cls)}"' if cls else ""
    return (f'<text x="{_num(x)}" y="{_num(y)}" text-anchor="{anchor}" fill="{fill}"{klass}{weight}>'
            f"{_e(text)}</text>")


def _rect(x: float, y: float, w: float, h: float, fill: str, tip: str, cls: str = "") -> str:
    klass = f' class="{_e(cls)}"' if cls else ""
    return (f'<rect x="{_num(x)}" y="{_num(y)}" width="{_num(max(w, 0.0))}" height="{_num(h)}" '
            f'fill="{fill}"{klass}><title>{_e(tip)}</title></rect>')


@dataclass(frozen=True)
class Bar:
    """One row of a horizontal bar chart: ``value`` drawn in ``color``; ``total`` (optional) drawn
    behind it in grey, for "part of a whole" rows."""

    label: str
    value: int
    color: str
    text: str  # the value as shown right of the bar
    total: int | None = None
    tip: str = ""


def hbar_chart(chart_id: str, title: str, desc: str, bars: Sequence[Bar]) -> Markup:
    """Horizontal bars, one per row: label left, bar, value text right. Scaled to the largest value
    (or total) so bars compare across rows."""
    scale_max = max([b.value for b in bars] + [b.total or 0 for b in bars] + [1])
    plot_w = WIDTH - LABEL_W - VALUE_W
    body: list[str] = []
    for i, b in enumerate(bars):
        y = 6 + i * ROW
        tip = b.tip or f"{b.label}: {b.text}"
        body.append(f'<g class="row">{_text(LABEL_W - 8, y + 15, shorten(b.label), anchor="end")}')
        if b.total is not None:
            body.append(_rect(LABEL_W, y + 3, plot_w * b.total / scale_max, ROW - 8, COLORS["total"], tip, "total"))
        w = plot_w * b.value / scale_max
        if b.value > 0:
            w = max(w, 1.5)  # a non-zero value never vanishes
        body.append(_rect(LABEL_W, y + 3, w, ROW - 8, b.color, tip))
        end = LABEL_W + plot_w * max(b.value, b.total or 0) / scale_max
        body.append(_text(end + 6, y + 15, b.text, fill=COLORS["axis"]) + "</g>")
    return _svg(chart_id, title, desc, 12 + len(bars) * ROW, body)


def category_chart(summary: ReportSummary, chart_id: str = "chart-categories") -> Markup:
    """ROT bytes by category, each with its share of the bytes scanned."""
    bars = [Bar(c.category.capitalize(), c.bytes, COLORS[c.category],
                f"{format_bytes(c.bytes)} · {format_percent(c.share)}",
                tip=f"{c.category}: {format_bytes(c.bytes)} in {c.findings:,} finding(s), "
                    f"{format_percent(c.share)} of the bytes scanned")
            for c in summary.by_category]
    desc = "; ".join(f"{c.category}: {format_bytes(c.bytes)} ({format_percent(c.share)} of "
                     f"{format_bytes(summary.bytes_scanned)} scanned, {c.findings:,} findings)"
                     for c in summary.by_category)
    return hbar_chart(chart_id, "Reclaimable bytes by category", desc, bars)


def offenders_chart(findings: Sequence[Finding], rel: Callable[[str], str], *, top: int = 10,
                    chart_id: str = "chart-offenders") -> Markup | None:
    """The ``top`` findings by reclaimable bytes (each byte counted once), labelled by relative path."""
    ranked = sorted((f for f in counted_findings(findings) if f.reclaimable_bytes > 0),
                    key=lambda f: (-f.reclaimable_bytes, f.uri, f.kind))[:top]
    if not ranked:
        return None
    bars = [Bar(rel(f.uri), f.reclaimable_bytes, COLORS[f.category], f"{format_bytes(f.reclaimable_bytes)} · {f.kind}",
                tip=f"{rel(f.uri)}: {format_bytes(f.reclaimable_bytes)}, {f.category} ({f.kind}), action {f.action}")
            for f in ranked]
    desc = f"The {len(ranked)} largest findings: " + "; ".join(
        f"{rel(f.uri)} {format_bytes(f.reclaimable_bytes)} ({f.category}, {f.kind})" for f in ranked)
    return hbar_chart(chart_id, f"Biggest offenders (top {len(ranked)} by reclaimable bytes)", desc, bars)


@dataclass(frozen=True)
class Area:
    label: str
    total: int  # bytes of the datasets in it
    rot: int  # counted ROT bytes of the findings in it


def _split(uri: str, roots: Sequence[str]) -> tuple[str, str] | None:
    """(root, first path component under it) of ``uri``; the longest root wins."""
    for root in roots:
        if uri.startswith(root + "/"):
            rest = uri[len(root) + 1:]
            head, slash, _ = rest.partition("/")
            return root, head if slash else "(files at the root)"
    return None


def areas(datasets: Sequence[Dataset], findings: Sequence[Finding], roots: Sequence[str], *,
          top: int = 12) -> list[Area]:
    """Bytes by top-level area (first path component under each root): dataset bytes and ROT bytes.
    The largest ``top`` areas, the rest summed as one "other" row."""
    ordered = sorted({r.rstrip("/") for r in roots if r.rstrip("/")}, key=len, reverse=True)
    multi = len(ordered) > 1
    total: Counter[str] = Counter()
    rot: Counter[str] = Counter()

    def key(uri: str) -> str:
        hit = _split(uri, ordered)
        if hit is None:
            return "(outside the roots)"
        root, head = hit
        return f"{root.rsplit('/', 1)[-1] or root}/{head}" if multi else head

    for d in datasets:
        total[key(d.uri)] += d.bytes
    for f in counted_findings(findings):
        rot[key(f.uri)] += f.reclaimable_bytes
    names = sorted(set(total) | set(rot), key=lambda n: (-max(total[n], rot[n]), n))
    out = [Area(n, total[n], rot[n]) for n in names[:top]]
    rest = names[top:]
    if rest:
        out.append(Area(f"other ({len(rest):,} areas)", sum(total[n] for n in rest), sum(rot[n] for n in rest)))
    return out


def areas_chart(datasets: Sequence[Dataset], findings: Sequence[Finding], roots: Sequence[str], *,
                top: int = 12, chart_id: str = "chart-areas") -> Markup | None:
    """Per top-level area: all bytes (grey) and the ROT among them (red), with both as text."""
    rows = areas(datasets, findings, roots, top=top)
    if not rows:
        return None
    bars = [Bar(a.label, a.rot, COLORS["rot"], f"ROT {format_bytes(a.rot)} of {format_bytes(a.total)}",
                total=a.total, tip=f"{a.label}: {format_bytes(a.total)} in datasets, {format_bytes(a.rot)} reclaimable")
            for a in rows]
    desc = "Bytes by top-level area, total and reclaimable: " + "; ".join(
        f"{a.label} {format_bytes(a.total)} total, {format_bytes(a.rot)} ROT" for a in rows)
    return hbar_chart(chart_id, "Bytes by top-level area: total (grey) and ROT (red)", desc, bars)


def trend_chart(points: Sequence[Snapshot], chart_id: str = "chart-trend") -> Markup | None:
    """ROT bytes per category per scan, oldest left: stacked columns, the total above each one
    (when there is room), dates below, and a legend in text."""
    if not points:
        return None
    left, right, top_pad, plot_h = 64, 12, 22, 170
    plot_w = WIDTH - left - right
    n = len(points)
    slot = plot_w / n
    bar_w = min(56.0, slot * 0.7)
    peak = max([p.rot_total for p in points] + [1])
    body: list[str] = [
        f'<line x1="{left}" y1="{top_pad + plot_h}" x2="{WIDTH - right}" y2="{top_pad + plot_h}" '
        f'stroke="{COLORS["axis"]}" stroke-width="1"/>',
        _text(left - 6, top_pad + 4, format_bytes(peak), anchor="end", fill=COLORS["axis"]),
        _text(left - 6, top_pad + plot_h, "0", anchor="end", fill=COLORS["axis"]),
        f'<line x1="{left}" y1="{top_pad}" x2="{WIDTH - right}" y2="{top_pad}" stroke="{COLORS["total"]}" '
        'stroke-dasharray="3 3" stroke-width="1"/>',
    ]
    label_every = max(1, -(-n // 10))
    for i, p in enumerate(points):
        x = left + i * slot + (slot - bar_w) / 2
        y: float = top_pad + plot_h
        body.append('<g class="col">')
        for cat in CATEGORIES:
            v = int(p.rot_bytes.get(cat, 0))
            h = plot_h * v / peak
            if v <= 0:
                continue
            y -= h
            body.append(_rect(x, y, bar_w, h, COLORS[cat], f"{format_date(p.as_of)} ({p.scan_id}): {cat} {format_bytes(v)}"))
        if n <= 16:
            body.append(_text(x + bar_w / 2, y - 4, format_bytes(p.rot_total), anchor="middle", fill=COLORS["axis"]))
        if i % label_every == 0 or i == n - 1:
            body.append(_text(x + bar_w / 2, top_pad + plot_h + 15, format_date(p.as_of), anchor="middle",
                              fill=COLORS["axis"]))
        body.append("</g>")
    ly = top_pad + plot_h + 36
    lx = float(left)
    for cat in CATEGORIES:
        body.append(f'<rect x="{_num(lx)}" y="{ly - 9}" width="10" height="10" fill="{COLORS[cat]}"/>')
        body.append(_text(lx + 14, ly, cat.capitalize()))
        lx += 100
    desc = (f"ROT bytes over {n} scan(s) of the same roots, oldest first: " + "; ".join(
        f"{format_date(p.as_of)} total {format_bytes(p.rot_total)} ("
        + ", ".join(f"{c} {format_bytes(int(p.rot_bytes.get(c, 0)))}" for c in CATEGORIES) + ")" for p in points))
    return _svg(chart_id, "ROT bytes per scan, by category", desc, ly + 8, body)

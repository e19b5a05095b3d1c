"""Render the review report: one self-contained HTML file (inline CSS and JS, no network fetches).

The template is ``templates/report.html.j2``; each section is a partial (``_summary.html.j2``,
``_findings.html.j2``, ...), so later sections (charts, clusters, lineage, trends) are a new
partial plus a new key in :func:`build_context`. Every value reaches the page through Jinja
autoescaping; no data is ever embedded as raw JS — the page script reads the DOM.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from rotscan.atomic import write_text_atomic
from rotscan.core.formatting import format_bytes, format_count
from rotscan.models import CATEGORIES, ScanResult
from rotscan.report import charts as report_charts
from rotscan.report import summary as fmt
from rotscan.report.display import (
    PathDisplay,
    dataset_order,
    finding_order,
    format_confidence,
    format_evidence_value,
)
from rotscan.report.export import write_findings_csv
from rotscan.report.findings_view import findings_context
from rotscan.report.history import ReportHistory, report_history
from rotscan.report.plan_view import PlanView
from rotscan.report.review_view import review_context
from rotscan.report.summary import Pricing, ReportSummary, summarize

# -- charts, scan history, diff and cleanup (the _charts and _diff partials) -----------------------

DIFF_ROWS = 50  # new / resolved findings listed in the diff; the rest is counted
CLEANUP_ROWS = 20  # newest cleanup runs listed; all of them are in findings.json


def history_context(result: ScanResult, summary: ReportSummary, history: ReportHistory | None) -> dict[str, Any]:
    """Context keys of the charts and the changes-since-last-scan sections."""
    history = history if history is not None else report_history(result)
    rel = PathDisplay(result.scan.roots)
    return {
        "history": history,
        "diff_rows": DIFF_ROWS,
        "cleanup_rows": CLEANUP_ROWS,
        "charts": {
            "categories": report_charts.category_chart(summary),
            "offenders": report_charts.offenders_chart(result.findings, rel),
            "areas": report_charts.areas_chart(result.datasets, result.findings, result.scan.roots),
            "trend": report_charts.trend_chart(history.trend) if len(history.trend) > 1 else None,
        },
    }

REPORT_FILENAME = "report.html"
PAGE_SIZE = 200


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("rotscan", "report/templates"),
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html", "htm", "xml", "j2"), default_for_string=True, default=True
        ),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        bytes=format_bytes,
        count=format_count,
        pct=fmt.format_percent,
        money=fmt.format_money,
        date=fmt.format_date,
        ts=fmt.format_timestamp,
        age=fmt.format_age,
        conf=format_confidence,
        evidence=format_evidence_value,
        epoch=_epoch,
    )
    return env


def _epoch(ts: datetime | None) -> str:
    return "" if ts is None else str(int(ts.timestamp()))


def _duration(result: ScanResult) -> str | None:
    scan = result.scan
    if scan.finished is None:
        return None
    return fmt.format_age(scan.finished.replace(microsecond=0) - scan.started.replace(microsecond=0))


def composition_bar(summary: ReportSummary) -> list[tuple[str, float]]:
    """Widths (percent of the bar) of each category's share of the lake, scaled to fit when findings
    outside the datasets make ROT exceed the bytes scanned."""
    shares = [(c.category, c.share or 0.0) for c in summary.by_category]
    total = sum(share for _, share in shares)
    scale = 1 / total if total > 1 else 1.0
    return [(name, round(share * scale * 100, 3)) for name, share in shares if share > 0]


def build_context(result: ScanResult, summary: ReportSummary, history: ReportHistory | None = None,
                  plan: PlanView | None = None, scope: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything the template sees. Extend here (and add a partial) for new report sections.
    ``scope`` says the report is one owner's (:func:`rotscan.report.review_view.owner_scope`)."""
    findings = sorted(result.findings, key=finding_order)
    datasets = sorted(result.datasets, key=dataset_order)
    return {
        "scan": result.scan,
        "summary": summary,
        "findings": findings,
        "datasets": datasets,
        "warnings": result.warnings,
        "rel": PathDisplay(result.scan.roots),
        "as_of": result.scan.as_of,
        "ago": lambda ts: fmt.format_ago(ts, result.scan.as_of),
        "duration": _duration(result),
        "bar": composition_bar(summary),
        "categories": CATEGORIES,
        "kinds": sorted({f.kind for f in findings}),
        "actions": sorted({f.action for f in findings}),
        "formats": sorted({d.format for d in datasets}),
        "warning_codes": sorted({w.code for w in result.warnings}),
        "has_delta": any(d.delta is not None for d in datasets),
        "show_last_read": bool(result.scan.usage_sources),
        **findings_context(result, findings, PathDisplay(result.scan.roots)),
        "plan": plan,
        "page_size": PAGE_SIZE,
        "high_confidence": fmt.HIGH_CONFIDENCE,
        **history_context(result, summary, history),
        **review_context(result, findings, scope),
    }


def render_report(result: ScanResult, *, price_per_gb_month: float, currency: str = "USD",
                  pricing: Pricing | None = None, history: ReportHistory | None = None,
                  plan: PlanView | None = None, scope: dict[str, Any] | None = None) -> str:
    """The review report of ``result`` as one self-contained HTML document. ``pricing`` (storage
    classes) overrides the flat ``price_per_gb_month``; ``history`` gives trend, diff and cleanup."""
    summary = summarize(result, price_per_gb_month=price_per_gb_month, currency=currency, pricing=pricing)
    template = environment().get_template("report.html.j2")
    return template.render(build_context(result, summary, history, plan, scope))


def write_report(
    result: ScanResult, out_dir: Path, *, price_per_gb_month: float, currency: str = "USD",
    pricing: Pricing | None = None, history: ReportHistory | None = None, plan: PlanView | None = None,
    scope: dict[str, Any] | None = None,
) -> Path:
    """Render and write ``out_dir/report.html`` atomically (temp file, then ``os.replace``)."""
    text = render_report(result, price_per_gb_month=price_per_gb_month, currency=currency, pricing=pricing,
                         history=history, plan=plan, scope=scope)
    out_dir = Path(out_dir)
    target = write_text_atomic(out_dir / REPORT_FILENAME, text)
    write_findings_csv(result, out_dir)  # findings.csv beside the report (linked from its header)
    return target

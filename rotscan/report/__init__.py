"""The review report: numbers (:mod:`rotscan.report.summary`) and the HTML page (:mod:`rotscan.report.html`)."""

from __future__ import annotations

from rotscan.core.formatting import format_bytes, format_count
from rotscan.report.html import REPORT_FILENAME, render_report, write_report
from rotscan.report.summary import (
    CategoryTotal,
    GroupTotal,
    ReportSummary,
    counted_findings,
    format_age,
    format_money,
    format_percent,
    kept_findings,
    rot_findings,
    summarize,
)

__all__ = [
    "REPORT_FILENAME",
    "CategoryTotal",
    "GroupTotal",
    "ReportSummary",
    "counted_findings",
    "format_age",
    "format_bytes",
    "format_count",
    "format_money",
    "format_percent",
    "kept_findings",
    "render_report",
    "rot_findings",
    "summarize",
    "write_report",
]

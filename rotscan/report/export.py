"""``findings.csv``: one row per finding, for spreadsheets and tickets, beside ``report.html``.

Columns: id, category, kind, action, uri, relative_path, reclaimable_bytes, confidence, related
(URIs joined by ``" | "``), explanation, then owner (``unowned`` when none is known), table (the
catalog table, empty when none) and decision (``kept``, ``approved``, ``keep · stale``, … — empty
when none). Rows are in the report's order (largest first). A cell a
spreadsheet would take for a formula (starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return) gets a leading ``'`` — numbers are written by rotscan itself and are never negative, so only
text from the lake (paths, explanations) is ever quoted.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path

from rotscan.atomic import write_text_atomic
from rotscan.models import Finding, ScanResult
from rotscan.report.display import PathDisplay, finding_order
from rotscan.report.review_view import decision_label
from rotscan.report.summary import owner_label

CSV_FILENAME = "findings.csv"
COLUMNS = ("id", "category", "kind", "action", "uri", "relative_path", "reclaimable_bytes", "confidence",
           "related", "explanation", "owner", "table", "decision")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(text: str) -> str:
    """``text`` as a spreadsheet shows it, never run: formula-like text gets a leading ``'``."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def finding_rows(result: ScanResult) -> Iterable[list[str]]:
    display = PathDisplay(result.scan.roots)
    for f in sorted(result.findings, key=finding_order):
        yield _row(f, display(f.uri))


def _row(f: Finding, rel: str) -> list[str]:
    cells = [f.id, f.category, f.kind, f.action, f.uri, rel, str(f.reclaimable_bytes), f"{f.confidence:.4g}",
             " | ".join(f.related), f.explanation, owner_label(f.owner), f.table or "", decision_label(f.decision)]
    return [safe_cell(c) for c in cells]


def findings_csv(result: ScanResult) -> str:
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows(finding_rows(result))
    return buf.getvalue()


def write_findings_csv(result: ScanResult, out_dir: Path) -> Path:
    """Write ``out_dir/findings.csv`` (UTF-8 with a BOM, so spreadsheet programs read the paths
    right) atomically."""
    out_dir = Path(out_dir)
    return write_text_atomic(out_dir / CSV_FILENAME, findings_csv(result), encoding="utf-8-sig", newline="")

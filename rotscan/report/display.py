"""How the report shows things, shared by the HTML page, the findings view and the CSV export:
paths relative to their scan root, the order of findings and datasets, evidence values as text."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from rotscan.models import Dataset, Finding


class PathDisplay:
    """Shows a uri relative to the scan root it lies under (the longest one); else in full."""

    def __init__(self, roots: Sequence[str]) -> None:
        self._roots = sorted({r.rstrip("/") for r in roots if r.rstrip("/")}, key=len, reverse=True)

    def __call__(self, uri: str) -> str:
        for root in self._roots:
            if uri.startswith(root + "/") and len(uri.rstrip("/")) > len(root):
                return uri[len(root) + 1 :]
        return uri


def finding_order(f: Finding) -> tuple[Any, ...]:
    return (-f.reclaimable_bytes, -round(f.confidence, 4), f.uri, f.kind, f.id)


def dataset_order(d: Dataset) -> tuple[Any, ...]:
    return (-d.bytes, d.uri)


def format_confidence(value: float) -> str:
    return f"{value * 100:.0f}%"


def format_evidence_value(value: Any) -> str:
    """Evidence values as text: numbers plainly, nested lists/dicts as compact JSON."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        text = f"{value:.6g}"
        return text if any(c in text for c in ".en") else text + ".0"
    if isinstance(value, (int, str)):
        return str(value)
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str, separators=(", ", ": "))

"""The files a scan writes beside each other in its output directory, and reading them back:
``findings.json`` (the contract), ``lineage.json`` (the lineage graph when usage sources were given)
and ``signatures.parquet`` (the content signatures, for later scans and tools)."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from rotscan.atomic import write_text_atomic
from rotscan.errors import FindingsFormatError
from rotscan.models import ScanResult


def write_findings(result: ScanResult, out_dir: Path) -> Path:
    text = json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n"
    return write_text_atomic(out_dir / "findings.json", text)


def write_signature_file(result: ScanResult, out_dir: Path) -> Path | None:
    from rotscan.redundancy.signature import write_signatures

    if not result.signatures:
        return None
    path = out_dir / "signatures.parquet"
    tmp = out_dir / f".signatures.parquet.{os.getpid()}.tmp"
    write_signatures(result.signatures, str(tmp))
    os.replace(tmp, path)
    return path


def write_lineage(result: ScanResult, out_dir: Path) -> Path | None:
    if result.lineage is None:
        return None
    return write_text_atomic(out_dir / "lineage.json", json.dumps(result.lineage, indent=2) + "\n")


def read_findings(out_dir: Path) -> ScanResult:
    path = out_dir / "findings.json" if out_dir.is_dir() else out_dir
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise FindingsFormatError(f"no findings.json in {out_dir}") from exc
    except (OSError, ValueError) as exc:
        raise FindingsFormatError(f"{path} is not readable JSON: {exc}") from exc
    try:
        result = ScanResult.from_dict(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise FindingsFormatError(f"{path} is not a rotscan findings file: {exc}") from exc
    return _with_lineage(result, path.parent / "lineage.json")


def _with_lineage(result: ScanResult, path: Path) -> ScanResult:
    """``result`` with the lineage graph written beside its findings.json (``write_lineage``), if any.
    The graph only adds context to the report: an unreadable lineage.json is left out, not an error."""
    try:
        lineage = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return result
    if not isinstance(lineage, dict) or not isinstance(lineage.get("edges"), list):
        return result
    return dataclasses.replace(result, lineage=lineage)

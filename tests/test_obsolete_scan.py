"""Obsolete data end to end: a lake, OpenLineage events with realistic timestamps over 400 days,
and a metadata-only scan (no JVM) — every obsolete dataset found with evidence, nothing healthy flagged,
and no usage claims without usage sources."""

from __future__ import annotations

import json
import os
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow.parquet as pq

from rotscan.config import load_config
from rotscan.runtime import Runtime
from rotscan.scan import run_scan
from rotscan.uri import parse

from .lakes import table

NOW = datetime.now(tz=timezone.utc).replace(microsecond=0)
CONFIG = load_config(overrides={"scan": {"profile": False}})


def _table(root: Path, rel: str, age_days: float, rows: int = 200) -> str:
    d = root / rel
    d.mkdir(parents=True)
    pq.write_table(table(rows), d / "part-00000.parquet")
    t = (NOW - timedelta(days=age_days)).timestamp()
    for p in (d, d / "part-00000.parquet"):
        os.utime(p, (t, t))
    return str(d)


def _event(when: datetime, job: str, inputs: list[str], outputs: list[str]) -> str:
    return json.dumps({
        "eventType": "COMPLETE", "eventTime": when.isoformat().replace("+00:00", "Z"),
        "producer": "https://github.com/OpenLineage/OpenLineage/tree/1.52.0/integration/spark",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": str(uuid.uuid4())}, "job": {"namespace": "prod", "name": job},
        "inputs": [{"namespace": "file", "name": p} for p in inputs],
        "outputs": [{"namespace": "file", "name": p} for p in outputs],
    })


def build(root: Path) -> tuple[Path, Path]:
    lake = root / "lake"
    countries = _table(lake, "reference/countries", 1100)
    staging = _table(lake, "staging/customer_sync", 300)
    v1 = _table(lake, "warehouse/orders_v1", 400)
    v2 = _table(lake, "warehouse/orders_v2", 130)
    report = _table(lake, "marts/report_2024", 200)
    _table(lake, "warehouse/forgotten", 700)
    daily = _table(lake, "warehouse/daily_metrics", 1)
    _table(lake, "warehouse/new_table", 10)
    lines = []
    for day in range(400, 0, -1):
        when = NOW - timedelta(days=day, hours=-3)
        lines.append(_event(when, "bi.refresh", [countries, v2 if day < 120 else v1], []))
        lines.append(_event(when + timedelta(minutes=5), "metrics.daily", [], [daily]))
        if day > 300:
            lines.append(_event(when, "crm.sync", [], [staging]))
        if 200 <= day <= 260:
            lines.append(_event(when, "report.build", [f"{lake}/raw/extract_2024"], [report]))
        if day == 50:
            lines.append(_event(when, "adhoc.notebook", [daily], []))
    lines.append("this line is not JSON")
    events = root / "lineage" / "ol.jsonl"
    events.parent.mkdir()
    events.write_text("\n".join(lines) + "\n")
    return lake, events


def test_obsolete_datasets_found_with_evidence(tmp_path: Path) -> None:
    lake, events = build(tmp_path)
    result = run_scan([str(lake)], Runtime(config=CONFIG), as_of=NOW, usage_paths=[str(events)])
    base = parse(str(lake))
    got = {parse(f.uri).relative_to(base): f for f in result.findings}
    assert {k: f.kind for k, f in got.items()} == {
        "staging/customer_sync": "producer_stopped",
        "warehouse/orders_v1": "superseded",
        "marts/report_2024": "orphaned_lineage",
        "warehouse/forgotten": "unread",
    }
    stopped = got["staging/customer_sync"]
    assert "crm.sync" in stopped.explanation and stopped.evidence["coverage_days"] >= 399
    assert got["marts/report_2024"].related == (str(parse(f"{lake}/raw/extract_2024")),)
    assert "last read" in got["warehouse/orders_v1"].explanation
    assert got["warehouse/forgotten"].evidence["last_read"] is None
    [source] = result.scan.usage_sources
    assert source.kind == "openlineage" and source.events > 0
    assert source.start is not None and (NOW - source.start).days >= 399
    by_uri = {parse(d.uri).relative_to(base): d for d in result.datasets}
    assert by_uri["reference/countries"].last_read is not None
    assert result.lineage is not None


def test_without_usage_sources_no_usage_claims(tmp_path: Path) -> None:
    lake, _ = build(tmp_path)
    result = run_scan([str(lake)], Runtime(config=CONFIG), as_of=NOW)
    kinds = {f.kind for f in result.findings}
    assert not kinds & {"unread", "producer_stopped", "orphaned_lineage"}
    superseded = [f for f in result.findings if f.kind == "superseded"]
    assert all(f.action == "review" and "reads unknown" in f.explanation for f in superseded)
    assert all(d.last_read is None for d in result.datasets)

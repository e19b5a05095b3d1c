"""Lakes and helpers for the cleanup tests (no JVM): a realistic lake scanned metadata-only."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from rotscan.config import Config, load_config
from rotscan.findings_io import write_findings
from rotscan.runtime import Runtime
from rotscan.scan import run_scan

from .lakes import age, build_trivial_lake, table


def write_fake_delta(path: Path, n_files: int = 2) -> None:
    """A small Delta table written by hand (protocol, metadata, adds) — enough for the log reader."""
    (path / "_delta_log").mkdir(parents=True)
    schema = json.dumps({"type": "struct", "fields": [
        {"name": "id", "type": "long", "nullable": True, "metadata": {}},
        {"name": "name", "type": "string", "nullable": True, "metadata": {}},
        {"name": "amount", "type": "double", "nullable": True, "metadata": {}}]})
    actions: list[dict[str, Any]] = [
        {"protocol": {"minReaderVersion": 1, "minWriterVersion": 2}},
        {"metaData": {"id": "t", "format": {"provider": "parquet", "options": {}}, "schemaString": schema,
                      "partitionColumns": [], "configuration": {}, "createdTime": 0}},
    ]
    for i in range(n_files):
        name = f"part-0000{i}-abc.snappy.parquet"
        pq.write_table(table(50, offset=i * 50), path / name)
        actions.append({"add": {"path": name, "partitionValues": {}, "size": (path / name).stat().st_size,
                                "modificationTime": 0, "dataChange": True,
                                "stats": json.dumps({"numRecords": 50})}})
    actions.append({"commitInfo": {"timestamp": 0, "operation": "WRITE"}})
    (path / "_delta_log/00000000000000000000.json").write_text("\n".join(json.dumps(a) for a in actions) + "\n")


def build_cleanup_lake(root: Path, bulk_files: int = 300) -> dict[str, str]:
    planted = build_trivial_lake(root)
    write_fake_delta(root / "warehouse/fake_delta")
    (root / "warehouse/fake_delta/.DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1" + b"\x00" * 16)
    bulk = root / "tmp/bulk_dump"
    for i in range(bulk_files):
        sub = bulk / f"batch={i % 5}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"part-{i:05d}.csv").write_text("a,b\n" + f"{i},{i * 7}\n" * (1 + i % 4))
    age(root, 10)
    return planted


def config(**cleanup: Any) -> Config:
    """Metadata-only scans; ``[cleanup]`` keys set directly (the keys this feature adds may not be in
    the packaged defaults yet, and the cleanup code reads them defensively)."""
    base = load_config(overrides={"scan": {"profile": False}})
    data = {k: dict(v) if isinstance(v, dict) else v for k, v in base.data.items()}
    data["cleanup"] = {**data["cleanup"], **cleanup}
    return Config(data, base.source)


def scan_lake(root: Path, out: Path) -> Path:
    result = run_scan([str(root)], Runtime(config=config()))
    write_findings(result, out)
    return out


def tree(root: Path, skip_state: bool = True) -> dict[str, tuple[str, int]]:
    """Every file below root (symlinks as their target text) -> (sha256, mtime_ns) — a tree snapshot."""
    out: dict[str, tuple[str, int]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        if skip_state and (rel_dir == "_rotscan" or rel_dir.startswith("_rotscan" + os.sep)):
            dirnames[:] = []
            continue
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            p = os.path.join(dirpath, name)
            rel = os.path.normpath(os.path.join(rel_dir, name))
            if os.path.islink(p):
                out[rel] = ("link:" + os.readlink(p), 0)
            else:
                out[rel] = (hashlib.sha256(Path(p).read_bytes()).hexdigest(), os.stat(p).st_mtime_ns // 1_000_000)
        for d in dirnames:
            p = os.path.join(dirpath, d)
            if not os.path.islink(p) and not os.listdir(p):
                out[os.path.normpath(os.path.join(rel_dir, d)) + "/"] = ("dir", 0)
    return out


def plan_and_load(out: Path, plan_path: Path, cfg: Config | None = None, **kw: Any):  # type: ignore[no-untyped-def]
    from rotscan.cleanup.archive import ArchiveSettings
    from rotscan.cleanup.context import CleanupContext
    from rotscan.cleanup.plan import build_plan, read_plan, write_plan
    from rotscan.cleanup.safety import SafetyRules
    from rotscan.findings_io import read_findings

    cfg = cfg or config()
    ctx = CleanupContext(config=cfg, user="tester")
    kw.setdefault("scan_dir", str(out.resolve()))
    kw.setdefault("archive", ArchiveSettings.from_config(cfg))
    plan = build_plan(read_findings(out), ctx.storage, SafetyRules.from_config(cfg), **kw)
    write_plan(plan, plan_path)
    return plan, read_plan(plan_path)


def context(cfg: Config | None = None, **kw: Any):  # type: ignore[no-untyped-def]
    from rotscan.cleanup.context import CleanupContext

    return CleanupContext(config=cfg or config(), user="tester", **kw)


def reseal(raw: dict[str, Any]) -> dict[str, Any]:
    """Recompute an edited action's checksum — what a tamperer who knows the format would do."""
    from rotscan.cleanup.plan import PlanAction

    resealed = PlanAction.from_dict(raw).to_dict()
    raw.clear()
    raw.update(resealed)
    return raw


def rel_of(uri: str, root: Path) -> str:
    from rotscan.uri import parse

    return parse(uri).relative_to(parse(str(root)))

"""A small per-user index of cleanup runs (run id -> roots), so ``rotscan restore RUN_ID`` finds a
run without ``--root``. The run's state itself lives with the lake; this file is only a pointer
(the CLI keeps it under ``$XDG_STATE_HOME/rotscan`` or ``~/.local/state/rotscan``)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from rotscan.models import iso, now_utc


def record_run(index: Path, run_id: str, roots: list[str]) -> None:
    try:
        index.parent.mkdir(parents=True, exist_ok=True)
        with index.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({"run_id": run_id, "roots": roots, "time": iso(now_utc())}) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
    except OSError:
        pass  # only a convenience: --root always works


def roots_of(index: Path, run_id: str | None = None) -> list[str]:
    """The roots of ``run_id`` (or of every indexed run when None)."""
    out: list[str] = []
    try:
        lines = index.read_text(encoding="utf-8").splitlines()
    except OSError:
        return out
    for line in lines:
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if run_id is None or rec.get("run_id") == run_id:
            out.extend(r for r in rec.get("roots", []) if r not in out)
    return out

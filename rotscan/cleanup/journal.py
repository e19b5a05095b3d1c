"""The write-ahead journal of a cleanup run and where a run's state lives in the lake.

``<root>/_rotscan/runs/<run_id>/journal.jsonl`` — one JSON record a line, appended and fsynced
before the step it announces (``intent``) and after it (``done``). On object stores, which cannot
append, each record is its own object ``journal/<seq>.json``. Reading tolerates a torn last line
(a crash mid-write): that record never happened, and its step is resolved from the storage itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from rotscan.cleanup.safety import STATE_DIR
from rotscan.core.jsonlines import parse_json_lines
from rotscan.errors import StorageError, VanishedError
from rotscan.models import iso, now_utc
from rotscan.storage.base import WritableStorage
from rotscan.uri import Uri


@dataclass(frozen=True)
class RunLayout:
    """Where one run's state and quarantined files live under one root."""

    root: Uri
    run_id: str

    @property
    def state(self) -> Uri:
        return self.root.child(STATE_DIR)

    @property
    def run_dir(self) -> Uri:
        return self.state.child("runs").child(self.run_id)

    @property
    def journal(self) -> Uri:
        return self.run_dir.child("journal.jsonl")

    @property
    def journal_dir(self) -> Uri:
        return self.run_dir.child("journal")

    @property
    def plan(self) -> Uri:
        return self.run_dir.child("plan.json")

    @property
    def manifest(self) -> Uri:
        return self.run_dir.child("manifest.json")

    @property
    def quarantine(self) -> Uri:
        return self.state.child("quarantine").child(self.run_id)

    def quarantined(self, rel: str) -> Uri:
        out = self.quarantine
        for part in rel.split("/"):
            out = out.child(part)
        return out


class Journal:
    """Append-only, durable records of one run under one root."""

    def __init__(self, storage: WritableStorage, layout: RunLayout) -> None:
        self.storage = storage
        self.layout = layout
        storage.mkdirs(layout.run_dir)
        if not storage.supports_append:
            storage.mkdirs(layout.journal_dir)
        self._seq = max((int(r.get("n", 0)) for r in read_journal(storage, layout)), default=0)
        if storage.supports_append and storage.exists(layout.journal):
            with storage.open_read(layout.journal) as fh:
                data = fh.read()
            if data and not data.endswith(b"\n"):
                storage.append_bytes(layout.journal, b"\n")  # end a torn last line before appending

    def write(self, op: str, **fields: Any) -> dict[str, Any]:
        self._seq += 1
        record = {"op": op, "n": self._seq, "time": iso(now_utc()), **fields}
        data = (json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n").encode()
        if self.storage.supports_append:
            self.storage.append_bytes(self.layout.journal, data)
        else:
            self.storage.write_bytes(self.layout.journal_dir.child(f"{self._seq:09d}.json"), data)
        return record


def read_journal(storage: WritableStorage, layout: RunLayout) -> list[dict[str, Any]]:
    if storage.supports_append:
        try:
            with storage.open_read(layout.journal) as fh:
                return parse_json_lines(fh.read())[0]
        except VanishedError:
            return []
    try:
        entries = storage.list_dir(layout.journal_dir)
    except VanishedError:
        return []
    out: list[dict[str, Any]] = []
    for e in sorted(entries, key=lambda e: e.name):
        try:
            with storage.open_read(e.uri) as fh:
                out.extend(parse_json_lines(fh.read())[0])
        except StorageError:
            continue
    return out


def list_runs(storage: WritableStorage, root: Uri) -> list[str]:
    try:
        return [e.name for e in storage.list_dir(root.child(STATE_DIR).child("runs")) if e.is_dir]
    except VanishedError:
        return []

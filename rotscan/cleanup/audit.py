"""The append-only audit trail kept with the lake: who, when, what, how many bytes, which run —
for every action, restore and purge (``<root>/_rotscan/audit.jsonl``; on object stores, which cannot
append, one object per record under ``<root>/_rotscan/audit/``)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from rotscan.cleanup.journal import _parse_lines
from rotscan.cleanup.safety import STATE_DIR
from rotscan.errors import VanishedError
from rotscan.models import iso, now_utc
from rotscan.storage.base import WritableStorage
from rotscan.uri import Uri


class AuditLog:
    def __init__(self, storage: WritableStorage, root: Uri, user: str, host: str = "") -> None:
        self.storage = storage
        self.root = root
        self.user = user
        self.host = host

    def record(self, event: str, *, run_id: str, uri: str | None, bytes: int = 0, status: str = "done",
               reason: str = "", **extra: Any) -> None:
        rec = {"time": iso(now_utc()), "user": self.user, "host": self.host, "event": event, "run_id": run_id,
               "uri": uri, "bytes": bytes, "status": status, "reason": reason, **extra}
        data = (json.dumps(rec, sort_keys=True, ensure_ascii=False) + "\n").encode()
        state = self.root.child(STATE_DIR)
        self.storage.mkdirs(state)
        if self.storage.supports_append:
            self.storage.append_bytes(state.child("audit.jsonl"), data)
        else:
            audit_dir = state.child("audit")
            self.storage.mkdirs(audit_dir)
            name = f"{rec['time']}-{run_id}-{uuid.uuid4().hex[:8]}.json".replace(":", "")
            self.storage.write_bytes(audit_dir.child(name), data)


def read_audit(storage: WritableStorage, root: Uri) -> list[dict[str, Any]]:
    state = root.child(STATE_DIR)
    if storage.supports_append:
        try:
            with storage.open_read(state.child("audit.jsonl")) as fh:
                return list(_parse_lines(fh.read()))
        except VanishedError:
            return []
    out: list[dict[str, Any]] = []
    try:
        entries = storage.list_dir(state.child("audit"))
    except VanishedError:
        return []
    for e in sorted(entries, key=lambda e: e.name):
        with storage.open_read(e.uri) as fh:
            out.extend(_parse_lines(fh.read()))
    return out

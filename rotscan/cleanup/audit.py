"""The append-only audit trail kept with the lake: who, when, what, how many bytes, which run —
for every action, restore, purge and review decision.

Its format lives here and only here. ``<root>/_rotscan/audit.jsonl`` (storages that can append:
one JSON record a line) and, on object stores that cannot append, one object per record under
``<root>/_rotscan/audit/``. A record: ``time, user, host, event, run_id, uri, bytes, status,
reason`` plus event-specific keys. :func:`read_audit` reads it strictly (cleanup); the scan reads it
with :func:`read_cleanup_history`, which turns what it cannot read into warnings.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from rotscan.cleanup.safety import STATE_DIR
from rotscan.core.jsonlines import parse_json_lines
from rotscan.errors import StorageError, VanishedError
from rotscan.models import CLEANUP_GROUPS, CleanupRun, ScanWarning, iso, now_utc, parse_iso
from rotscan.storage.base import Storage, WritableStorage
from rotscan.uri import Uri

LOG_FILE = "audit.jsonl"
LOG_DIR = "audit"


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
            self.storage.append_bytes(state.child(LOG_FILE), data)
        else:
            audit_dir = state.child(LOG_DIR)
            self.storage.mkdirs(audit_dir)
            name = f"{rec['time']}-{run_id}-{uuid.uuid4().hex[:8]}.json".replace(":", "")
            self.storage.write_bytes(audit_dir.child(name), data)


def _log_objects(storage: Storage, root: Uri) -> list[Uri]:
    """The objects holding the audit log of ``root``, in record order: the appended file, then the
    one-record objects (their names start with the record time). Raises StorageError."""
    state = root.child(STATE_DIR)
    objects = [state.child(LOG_FILE)]
    with contextlib.suppress(VanishedError):
        objects += sorted((e.uri for e in storage.list_dir(state.child(LOG_DIR)) if not e.is_dir), key=str)
    return objects


def _read(storage: Storage, uri: Uri) -> bytes | None:
    try:
        with storage.open_read(uri) as fh:
            data: bytes = fh.read()
            return data
    except VanishedError:
        return None


def read_audit(storage: Storage, root: Uri) -> list[dict[str, Any]]:
    """Every record of ``root``'s audit log (an unreadable log raises StorageError)."""
    out: list[dict[str, Any]] = []
    for uri in _log_objects(storage, root):
        data = _read(storage, uri)
        if data is not None:
            out.extend(parse_json_lines(data)[0])
    return out


def read_cleanup_history(storage: Storage, root: Uri, warnings: list[ScanWarning]) -> tuple[CleanupRun, ...]:
    """The cleanup runs recorded in ``root``'s audit log, summarized per run. Only reads. An
    unreadable log or malformed lines become warnings; the scan goes on."""
    try:
        objects = _log_objects(storage, root)
    except StorageError as exc:
        warnings.append(ScanWarning(str(root.child(STATE_DIR).child(LOG_DIR)),
                                    f"cannot list the cleanup audit log: {exc}", "audit_unreadable"))
        objects = [root.child(STATE_DIR).child(LOG_FILE)]
    records: list[dict[str, Any]] = []
    for uri in objects:
        try:
            data = _read(storage, uri)
        except StorageError as exc:
            warnings.append(ScanWarning(str(uri), f"cannot read the cleanup audit log: {exc}", "audit_unreadable"))
            continue
        if data is None:
            continue
        recs, bad = parse_audit_lines(data)
        records += recs
        if bad:
            warnings.append(ScanWarning(str(uri), f"{bad:,} malformed cleanup audit record(s) skipped",
                                        "audit_malformed"))
    return summarize_audit(records, str(root))


_GROUP_OF_EVENT = {"quarantine": "quarantined", "delete": "quarantined", "vacuum": "vacuumed",
                   "restore": "restored", "purge": "purged", "decision": "decided", "archive": "archived",
                   "compact": "compacted", "drop_partitions": "quarantined", "delete_partitions": "partitions_deleted"}
# a restore of an archive or a compaction is counted apart from restored quarantine
_GROUP_OF_RESTORED = {"archive": "unarchived", "compact": "uncompacted", "delete_partitions": "partitions_restored"}


def parse_audit_lines(data: bytes) -> tuple[list[dict[str, Any]], int]:
    """Audit records (JSON objects, one a line) and how many non-blank lines were not one."""
    parsed, bad = parse_json_lines(data)
    records = [r for r in parsed if isinstance(r.get("run_id"), str) and isinstance(r.get("event"), str)]
    return records, bad + len(parsed) - len(records)


def _int(value: Any) -> int:
    try:
        n = int(value)
    except (TypeError, ValueError):
        return 0
    return max(n, 0)


def summarize_audit(records: Iterable[dict[str, Any]], root: str) -> tuple[CleanupRun, ...]:
    """One :class:`CleanupRun` per run id, oldest first. An action done counts its bytes in its
    group (quarantine/delete → quarantined, vacuum, restore, purge, archive → archived, compact →
    compacted; a restore of an archive → unarchived, of a compaction → uncompacted); one skipped
    or failed counts under ``skipped``/``failed`` with no bytes."""
    runs: dict[str, dict[str, Any]] = {}
    for rec in records:
        run_id = rec["run_id"]
        run = runs.setdefault(run_id, {"first": None, "last": None, "users": [],
                                       "counts": dict.fromkeys(CLEANUP_GROUPS, 0),
                                       "bytes": dict.fromkeys(CLEANUP_GROUPS, 0), "saved": 0.0})
        try:
            ts = parse_iso(rec.get("time")) if isinstance(rec.get("time"), str) else None
        except ValueError:
            ts = None
        if ts is not None:
            run["first"] = ts if run["first"] is None else min(run["first"], ts)
            run["last"] = ts if run["last"] is None else max(run["last"], ts)
        user = rec.get("user")
        if isinstance(user, str) and user and user not in run["users"]:
            run["users"].append(user)
        status = rec.get("status", "done")
        if status in ("skipped", "failed"):
            run["counts"][status] += 1
            continue
        group = _GROUP_OF_EVENT.get(rec["event"])
        if rec["event"] == "restore":
            group = _GROUP_OF_RESTORED.get(str(rec.get("restored_action")), group)
        if group is None or status != "done":
            continue
        run["counts"][group] += 1
        run["bytes"][group] += _int(rec.get("bytes"))
        saved = rec.get("monthly_cost_saved")
        if isinstance(saved, (int, float)) and not isinstance(saved, bool):
            run["saved"] += float(saved) if group == "archived" else -float(saved) if group == "unarchived" else 0.0
    out = [CleanupRun(run_id=run_id, root=root, first=r["first"], last=r["last"], users=tuple(r["users"]),
                      counts=r["counts"], bytes=r["bytes"], monthly_saved=r["saved"]) for run_id, r in runs.items()]
    return tuple(sorted(out, key=lambda r: (r.first is None, r.first or datetime.min, r.run_id)))

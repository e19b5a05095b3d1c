"""``purge``: the only permanent deletion — quarantined runs older than a duration.

A run's age is the time it ended (its journal's ``end`` record). Unfinished runs are never purged
(resume or restore them first). The run's journal stays (it is small and is the record of what was
deleted); its quarantine directory goes, and the audit log records every purge with its bytes.
Every run's journal under the roots is verified (its hash chain) before anything is deleted: one
that fails refuses the purge whole (:class:`~rotscan.cleanup.journal.JournalTamperedError`), since
a forged ``end`` record could otherwise purge a run early. So does a due run's quarantine holding a
file no ``intent`` record names (records removed from the journal's end).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from rotscan.cleanup import fingerprint as fpmod
from rotscan.cleanup.audit import AuditLog
from rotscan.cleanup.context import ActionResult, CleanupContext
from rotscan.cleanup.journal import Journal, JournalTamperedError, RunLayout, list_runs, read_journal
from rotscan.cleanup.lock import RootLock
from rotscan.cleanup.runsteps import child
from rotscan.errors import ConfigError, VanishedError
from rotscan.models import iso, now_utc, parse_iso
from rotscan.uri import Uri, parse

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """``30d``, ``12h``, ``90m``, ``2w``, ``45s``."""
    m = _DURATION.match(text)
    if not m:
        raise ConfigError(f"invalid duration {text!r} (use e.g. 30d, 12h, 90m)")
    return timedelta(seconds=float(m.group(1)) * _UNIT[m.group(2).lower()])


@dataclass
class PurgeReport:
    dry_run: bool
    older_than: str
    runs: list[ActionResult] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run, "older_than": self.older_than, "runs": [r.to_dict() for r in self.runs]}


def purge(ctx: CleanupContext, roots: list[Uri], older_than: timedelta, *, dry_run: bool = False,
          label: str = "") -> PurgeReport:
    from rotscan.cleanup.journal_check import verify_chains

    now = now_utc()
    report = PurgeReport(dry_run=dry_run, older_than=label or str(older_than))
    verify_chains(ctx, roots, list_runs)
    for root in roots:
        _check_quarantines(ctx, root, older_than, now)
    for root in roots:
        storage = ctx.storage(root)
        lock = None
        if not dry_run and list_runs(storage, root):
            lock = RootLock(storage, root, "purge", ctx.host)
            lock.acquire()
        try:
            _purge_root(ctx, root, older_than, dry_run, now, report)
        finally:
            if lock is not None:
                lock.release()
    return report


def _has_end(records: list[dict[str, Any]]) -> bool:
    return any(r["op"] == "end" for r in records)


def _due(records: list[dict[str, Any]], older_than: timedelta, now: datetime) -> datetime | None:
    """When the run ended, if that is longer than ``older_than`` ago (None: not due, or unfinished)."""
    end = next((r for r in reversed(records) if r["op"] == "end"), None)
    ended = parse_iso(end["time"]) if end is not None else None
    return ended if ended is not None and now - ended >= older_than else None


def _check_quarantines(ctx: CleanupContext, root: Uri, older_than: timedelta, now: datetime) -> None:
    """Refuse the purge when the quarantine of a run it would delete holds a file no ``intent``
    record of the journal names: records were removed from the journal's end (which looks like a
    crash), so the journal no longer says what the quarantine holds or where it came from."""
    storage = ctx.storage(root)
    for run_id in list_runs(storage, root):
        layout = RunLayout(root, run_id)
        records = read_journal(storage, layout)
        if any(r["op"] == "purged" for r in records) or _due(records, older_than, now) is None:
            continue
        try:
            held = fpmod.take(storage, layout.quarantine)
        except VanishedError:
            continue
        recorded = {str(parse(str(r["dst"]))) for r in records if r["op"] == "intent"}
        unknown = [f.rel for f in held.files if str(child(layout.quarantine, f.rel)) not in recorded]
        if unknown:
            raise JournalTamperedError(run_id, root, "quarantine", f"holds {len(unknown):,} file(s) no journal "
                                       f"record names (e.g. {unknown[0]}): records were removed from the journal's "
                                       "end; nothing was purged — find where they came from before deleting them")


def _purge_root(ctx: CleanupContext, root: Uri, older_than: timedelta, dry_run: bool, now: datetime,
                report: PurgeReport) -> None:
    storage = ctx.storage(root)
    for run_id in list_runs(storage, root):
        layout = RunLayout(root, run_id)
        records = read_journal(storage, layout)
        where = str(layout.quarantine)
        if any(r["op"] == "purged" for r in records):
            continue
        if not _has_end(records):
            if records:
                report.runs.append(ActionResult(where, "skipped", "run not finished; resume or restore it first",
                                                0, "purge", run_id))
            continue
        ended = _due(records, older_than, now)
        if ended is None:
            continue
        done = {r["seq"] for r in records if r["op"] == "done"}
        restored = {r["seq"] for r in records if r["op"] == "restore_done"}
        # only what sits in the quarantine: an archive's files are at its archive location, a
        # compaction's new files in the dataset — purge never touches either
        held = [r for r in records if r["op"] == "intent" and r["n"] in done and r["n"] not in restored
                and parse(str(r["dst"])).is_within(layout.quarantine)]
        nbytes = sum(int(r["size"]) for r in held)
        if dry_run:
            report.runs.append(ActionResult(where, "done", f"dry run: would delete {len(held):,} quarantined "
                                            f"file(s) permanently (run ended {iso(ended)})", nbytes, "purge",
                                            run_id, len(held)))
            continue
        if storage.exists(layout.quarantine):
            storage.delete(layout.quarantine, recursive=True)
        Journal(storage, layout).write("purged", user=ctx.user, bytes=nbytes, files=len(held))
        reason = f"deleted {len(held):,} quarantined file(s) permanently (run ended {iso(ended)})"
        AuditLog(storage, root, ctx.user, ctx.host).record("purge", run_id=run_id, uri=where, bytes=nbytes,
                                                           reason=reason, files=len(held))
        report.runs.append(ActionResult(where, "done", reason, nbytes, "purge", run_id, len(held)))

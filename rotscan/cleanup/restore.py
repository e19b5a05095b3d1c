"""``restore``: put back, byte for byte, everything one run quarantined or archived.

The run's journal (kept with the lake under ``<root>/_rotscan/runs/<run_id>/``) lists every file
moved, with its size, mtime and SHA-256. Each is moved back and verified; a path that now holds
other data is refused for that file rather than overwritten. Restoring is idempotent and safe to
rerun after a crash (an interrupted restore is journaled too). Before anything moves, the run's
journals are verified under every root (hash chain; every path a record names is one the run's plan
covers): a tampered journal refuses the whole restore and changes nothing. Archived datasets are
copied back from their archive location in the storage class each file had
(:func:`rotscan.cleanup.archive.restore`);
a compaction is undone by :func:`rotscan.cleanup.compact.restore`. Catalog table entries the run
dropped (``--drop-table-entries``) are re-created from their saved DDL once all of their action's
files are back (:mod:`rotscan.cleanup.tables`; needs ``[catalog] enabled``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rotscan.cleanup.audit import AuditLog
from rotscan.cleanup.context import ActionResult, CleanupContext
from rotscan.cleanup.journal import Journal, RunLayout, read_journal
from rotscan.cleanup.tables import dropped_by, recreate_tables
from rotscan.errors import RotscanError
from rotscan.uri import Uri, parse


class RunNotFoundError(RotscanError):
    """No run with this id under the given roots."""


@dataclass
class RestoreReport:
    run_id: str
    actions: list[ActionResult] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "actions": [a.to_dict() for a in self.actions]}

    @property
    def ok(self) -> bool:
        return all(a.status == "done" for a in self.actions)


def find_run_roots(ctx: CleanupContext, roots: list[Uri], run_id: str) -> list[Uri]:
    out = [r for r in roots if ctx.storage(r).exists(RunLayout(r, run_id).run_dir)]
    if not out:
        raise RunNotFoundError(f"run {run_id} not found under {', '.join(str(r) for r in roots) or 'any root'}")
    return out


def restore_run(ctx: CleanupContext, roots: list[Uri], run_id: str) -> RestoreReport:
    """Restore run ``run_id`` under every root it acted on. Every root is locked and every journal
    of the run verified (:func:`rotscan.cleanup.journal_check.verify_run`) before anything moves: a
    tampered journal under any root raises :class:`~rotscan.cleanup.journal.JournalTamperedError`
    and no root is touched."""
    from rotscan.cleanup.journal_check import verify_run
    from rotscan.cleanup.lock import RootLock

    report = RestoreReport(run_id)
    run_roots = find_run_roots(ctx, roots, run_id)
    locks: list[RootLock] = []
    try:
        for root in run_roots:
            lock = RootLock(ctx.storage(root), root, f"restore of run {run_id}", ctx.host)
            lock.acquire()
            locks.append(lock)
        verify_run(ctx, run_roots, run_id)
        for root in run_roots:
            report.actions.extend(_restore_root(ctx, root, run_id))
    finally:
        for lock in reversed(locks):
            lock.release()
    return report


def _restore_root(ctx: CleanupContext, root: Uri, run_id: str) -> list[ActionResult]:
    storage = ctx.storage(root)
    layout = RunLayout(root, run_id)
    records = read_journal(storage, layout)
    purged = [r for r in records if r["op"] == "purged"]
    if purged and not any(r["op"] == "action" and r.get("action") == "archive" for r in records):
        raise RotscanError(f"run {run_id} under {root} was purged at {purged[0]['time']}; nothing left to restore")
    if records and not any(r["op"] == "end" for r in records):
        from rotscan.cleanup.recovery import load_run_plan, recover_run

        _, notes = recover_run(load_run_plan(ctx, [root], run_id), ctx, run_id)  # finish or undo half-done moves first
        for note in notes:
            ctx.progress(f"recovered: {note}")
        records = read_journal(storage, layout)
    journal = Journal(storage, layout)
    audit = AuditLog(storage, root, ctx.user, ctx.host)
    journal.write("restore_start", user=ctx.user)
    done = {r["seq"] for r in records if r["op"] == "done"}
    restored = {r["seq"] for r in records if r["op"] == "restore_done"}
    pending = {r["seq"] for r in records if r["op"] == "restore_intent"} - restored
    mode = "rename" if storage.atomic_rename else "copy"
    actions = {r["action_id"]: r for r in records if r["op"] == "action"}
    out: list[ActionResult] = []
    for action_id, act in actions.items():
        if purged and act.get("action") != "archive":  # archived data is not in the quarantine purge deleted
            out.append(ActionResult(act["uri"], "skipped", f"the run's quarantine was purged at {purged[0]['time']}; "
                                    "nothing left to restore", 0, act["action"], action_id))
            continue
        moves = [r for r in records if r["op"] == "intent" and r["n"] in done and r["action_id"] == action_id]
        if act.get("mode") == "delta":
            out.append(ActionResult(act["uri"], "skipped", "VACUUM deleted these files permanently "
                                    "(vacuum_mode = delta); nothing to restore", 0, act["action"], action_id))
            continue
        if act.get("action") == "drop_partitions" and act.get("mode") == "delete":
            from rotscan.cleanup import partitions

            out.append(partitions.restore_delta(ctx, storage, journal, audit, run_id, act, records))
            continue
        if act.get("is_dir"):
            base = parse(act["uri"])
            if act.get("action") != "vacuum":
                storage.mkdirs(base)
            for d in act.get("dirs") or ():
                target = base
                for part in d.split("/"):
                    target = target.child(part)
                storage.mkdirs(target)
        if act.get("action") == "archive":
            from rotscan.cleanup import archive

            out.append(archive.restore(ctx, storage, journal, audit, run_id, act, moves, restored, pending))
            continue
        if act.get("action") == "compact":
            from rotscan.cleanup import compact

            out.append(compact.restore(ctx, storage, journal, audit, run_id, act, records, moves, restored, pending))
            continue
        nbytes = 0
        problems: list[str] = []
        for rec in moves:
            if rec["n"] in restored:
                nbytes += int(rec["size"])
                continue
            status, why = _move_back(storage, rec, mode, journal, rec["n"] in pending)
            if status == "done":
                nbytes += int(rec["size"])
            else:
                problems.append(f"{parse(rec['src']).name}: {why}")
        tables = dropped_by(records, action_id)
        if problems:
            failed = any("missing" in p or "does not verify" in p for p in problems)
            status = "failed" if failed else "skipped"
            reason = f"{len(moves) - len(problems)} of {len(moves)} file(s) restored; " + "; ".join(problems[:3])
            if tables:
                reason += "; catalog table(s) " + ", ".join(r["table"] for r in tables) + " not re-created: not all " \
                          "of their files are back"
        else:
            status, reason = "done", f"restored {len(moves):,} file(s) byte for byte"
            if tables:
                remade, failures = recreate_tables(ctx.spark, journal, action_id, records, "table_restored")
                reason += "".join(f"; {m}" for m in remade + failures)
                if failures:
                    status = "failed"
        audit.record("restore", run_id=run_id, uri=act["uri"], bytes=nbytes, status=status, reason=reason)
        out.append(ActionResult(act["uri"], status, reason, nbytes, act["action"], action_id, len(moves)))
    journal.write("restore_end", user=ctx.user)
    return out


def _move_back(storage: Any, rec: dict[str, Any], mode: str, journal: Journal, pending: bool) -> tuple[str, str]:
    from rotscan.cleanup.quarantine import move_back

    return move_back(storage, rec, mode, journal, pending=pending)

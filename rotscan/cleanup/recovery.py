"""Recovery of an interrupted cleanup run (a crash, a kill, a lost connection): find the run of a
plan that started and never ended, resolve each journaled move that has no outcome from what the
storage holds now, and load the plan a run executed. ``apply`` resumes through it, ``restore``
finishes or undoes half-done moves through it before putting a run back.

A process killed in the middle of a multi-part copy (S3A writes objects above
``fs.s3a.multipart.threshold`` as multipart uploads) leaves an incomplete upload whose parts are
stored, and billed, with no object to show for them. Recovery aborts the run's own: uploads to keys
under this run's quarantine, run and staging directories of the root, and to the exact target of a
move the run had begun (an archive target may lie outside the root) — never anybody else's — and
says so in its notes.

Nothing is resolved before every journal of the run passed its checks (the hash chain, and
:func:`rotscan.cleanup.journal_check.verify_run`: every record names only paths the run's plan
covers): a tampered journal raises :class:`~rotscan.cleanup.journal.JournalTamperedError` and the
lake stays as it is.
"""

from __future__ import annotations

import json
from typing import Any

from rotscan.cleanup.context import CleanupContext
from rotscan.cleanup.journal import (
    Journal,
    JournalTamperedError,
    RunLayout,
    first_record,
    list_runs,
    read_journal,
)
from rotscan.cleanup.journal_check import verify_run
from rotscan.cleanup.plan import LoadedPlan, PlanError, load_plan_doc
from rotscan.cleanup.quarantine import resolve_intent
from rotscan.storage.base import MultipartStorage, PendingUpload, WritableStorage
from rotscan.uri import Uri, parse


def plan_roots(plan: LoadedPlan) -> list[Uri]:
    return [parse(r) for r in plan.roots]


def find_unfinished_run(plan: LoadedPlan, ctx: CleanupContext) -> str | None:
    """The id of a run of this plan that started and never ended, if any. A journal that fails its
    check is refused (:class:`JournalTamperedError`) unless its first record shows it is a run of
    another plan (which this apply neither resumes nor touches)."""
    for root in plan_roots(plan):
        storage = ctx.storage(root)
        for rid in sorted(list_runs(storage, root), reverse=True):
            layout = RunLayout(root, rid)
            try:
                records = read_journal(storage, layout)
            except JournalTamperedError:
                first = first_record(storage, layout)
                if first is not None and first.get("op") == "run" and first.get("plan_id") != plan.plan_id:
                    continue
                raise
            if not records:
                continue
            first = records[0]
            if first.get("op") == "run" and first.get("plan_id") == plan.plan_id and \
                    not any(r["op"] == "end" for r in records):
                return rid
    return None


def recover_run(plan: LoadedPlan, ctx: CleanupContext, run_id: str) -> tuple[dict[str, list[dict[str, Any]]], list[str]]:
    """Resolve every move of run ``run_id`` that has an intent and no outcome in the journal — from
    what the storage holds now (finished if the copy is complete, else rolled back) — and return
    the journal records of each root plus a note per resolved move. Every root's journal is
    verified first (:func:`verify_run`); a tampered one raises before anything is written."""
    state: dict[str, list[dict[str, Any]]] = {}
    notes: list[str] = []
    verified = verify_run(ctx, plan_roots(plan), run_id, plan.plan_id)
    for root in plan_roots(plan):
        storage = ctx.storage(root)
        layout = RunLayout(root, run_id)
        if str(root) not in verified:
            continue
        records = verified[str(root)].records
        resolved = {r["seq"] for r in records if r["op"] in ("done", "rolled_back", "intent_failed")}
        pending = [r for r in records if r["op"] == "intent" and r["n"] not in resolved]
        notes += abort_own_uploads(storage, layout, [parse(r["dst"]) for r in pending])
        if pending:
            j = Journal(storage, layout)
            for rec in pending:
                outcome, why = resolve_intent(storage, rec)
                op = {"done": "done", "rolled_back": "rolled_back"}.get(outcome, "intent_failed")
                j.write(op, seq=rec["n"], action_id=rec["action_id"], recovered=why)
                notes.append(f"{rec['src']}: {outcome} ({why})")
            records = read_journal(storage, layout)
        state[str(root)] = records
    return state, notes


def own_upload_dirs(layout: RunLayout) -> list[Uri]:
    """The directories only run ``layout.run_id`` writes to under its root."""
    return [layout.quarantine, layout.run_dir, layout.state.child("staging").child(layout.run_id)]


def abort_own_uploads(storage: WritableStorage, layout: RunLayout, targets: list[Uri]) -> list[str]:
    """Abort the incomplete multipart uploads an interrupted run left: those to keys under its own
    directories (:func:`own_upload_dirs`) and those to exactly one of ``targets`` (the moves it had
    begun). A note per upload aborted. Nothing on storages without multipart uploads."""
    if not isinstance(storage, MultipartStorage):
        return []
    dirs = own_upload_dirs(layout)
    found: dict[tuple[str, str], PendingUpload] = {}
    for d in dirs:
        for u in storage.incomplete_uploads(d):
            found[(str(u.uri), u.upload_id)] = u
    outside = {str(t) for t in targets if not any(t.is_within(d) for d in dirs)}
    for parent in sorted({str(parse(t).parent) for t in outside}):
        for u in storage.incomplete_uploads(parse(parent)):
            if str(u.uri) in outside:
                found[(str(u.uri), u.upload_id)] = u
    notes = []
    for u in sorted(found.values(), key=lambda u: (str(u.uri), u.upload_id)):
        storage.abort_upload(u)
        notes.append(f"{u.uri}: aborted the incomplete multipart upload begun {u.initiated} "
                     "(its parts were stored and billed with no object to show for them)")
    return notes


def load_run_plan(ctx: CleanupContext, roots: list[Uri], run_id: str) -> LoadedPlan:
    """The plan a run executed, from the copy kept in its run directory."""
    for root in roots:
        storage = ctx.storage(root)
        layout = RunLayout(root, run_id)
        if storage.exists(layout.plan):
            with storage.open_read(layout.plan) as fh:
                return load_plan_doc(json.loads(fh.read()))
    raise PlanError(f"run {run_id} not found under {', '.join(str(r) for r in roots)}")

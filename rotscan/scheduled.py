"""``rotscan run``: one scheduled cleanup run — scan → plan (with the review decisions) → select what
the policy lets run unattended (:mod:`rotscan.cleanup.policy`) → apply — for cron, Airflow or a
Kubernetes CronJob.

Every run keeps its output in its own directory ``WORK/<run>/`` — ``scan/`` (findings.json and the
report), ``plan.json`` (the full plan), ``selected-plan.json`` (what the policy let through),
``apply.json`` (the apply result, with the run id ``rotscan restore`` takes) and ``run.json`` (the
summary, with the exit code) — and the newest runs are kept (``[run] keep_runs``). An executing run
holds ``<root>/_rotscan/run.lock`` on every root for its whole length, so two runs never overlap,
from one machine or several. The exit code tells a scheduler what happened (:class:`Exit`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any

from rotscan.atomic import write_text_atomic
from rotscan.cleanup.apply import apply_plan
from rotscan.cleanup.context import CleanupContext
from rotscan.cleanup.lock import LockedError, RootLock
from rotscan.cleanup.plan import build_plan, read_plan, write_plan
from rotscan.cleanup.policy import RunPolicy, select
from rotscan.cleanup.safety import SafetyRules
from rotscan.decisions import DecisionSettings, apply_decisions, read_decisions
from rotscan.errors import RotscanError, StorageError
from rotscan.findings_io import read_findings
from rotscan.models import iso, now_utc
from rotscan.scan import resolve_roots
from rotscan.uri import parse

RUN_LOCK = "run.lock"


class Exit(IntEnum):
    """Exit codes of ``rotscan run``, for schedulers."""

    OK = 0  # finished; every selected action done (or skipped by a safety check, with its reason)
    ERROR = 1  # the run could not be made: bad configuration, a root that cannot be read, a failed scan
    FAILED_ACTIONS = 3  # finished, but at least one action failed (see apply.json); retry later
    STOPPED = 4  # the policy stopped the run before it acted (too much at once): a person must look
    LOCKED = 75  # another run holds a root (EX_TEMPFAIL): nothing was done; try again later


@dataclass(frozen=True)
class RunSettings:
    keep_runs: int  # run directories kept in WORK (0: all)

    @classmethod
    def from_config(cls, config: Any) -> RunSettings:
        return cls(keep_runs=int(config.get("run", "keep_runs")))


@dataclass
class RunReport:
    run: str
    dir: Path
    roots: list[str]
    execute: bool
    exit: Exit = Exit.OK
    message: str = ""
    summary: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"run": self.run, "dir": str(self.dir), "roots": self.roots, "execute": self.execute,
                "exit_code": int(self.exit), "status": self.exit.name.lower(), "message": self.message,
                **self.summary}


def new_run_name() -> str:
    """Sortable by start time (to the millisecond), unique across runs started together."""
    now = now_utc()
    return f"{now:%Y%m%dT%H%M%S}.{now.microsecond // 1000:03d}Z-{uuid.uuid4().hex[:6]}"


def scheduled_run(roots: Sequence[str], work: Path, ctx: CleanupContext, *, execute: bool,
                  scan: Callable[[Path], None], run: str | None = None,
                  only: frozenset[str] | None = None) -> RunReport:
    """One run. ``scan(out_dir)`` scans ``roots`` into ``out_dir`` (the CLI runs ``rotscan scan``
    there, with the same options a person would give); ``only`` narrows the policy to these action
    types. Never raises for what a scheduler should act on: the report's ``exit`` says it, and
    ``run.json`` is always written."""
    name = run or new_run_name()
    step = work / name
    step.mkdir(parents=True, exist_ok=False)
    report = RunReport(name, step, list(roots), execute)
    locks: list[RootLock] = []
    try:
        policy = RunPolicy.from_config(ctx.config)
        if only is not None:
            policy = dataclasses.replace(policy, auto_actions=tuple(a for a in policy.auto_actions if a in only),
                                         approved_actions=tuple(a for a in policy.approved_actions if a in only))
        uris = resolve_roots(roots)
        report.roots = [str(u) for u in uris]
        if execute:
            for root in sorted(uris, key=str):
                lock = RootLock(ctx.storage(root), root, f"rotscan run {name}", ctx.host, name=RUN_LOCK)
                lock.acquire()
                locks.append(lock)
        _run(report, ctx, policy, scan)
    except LockedError as exc:
        report.exit, report.message = Exit.LOCKED, f"another run holds the lake: {exc}"
    except RotscanError as exc:
        report.exit, report.message = Exit.ERROR, str(exc)
    except BaseException as exc:  # a bug or an interrupt: on the record as an error, then raised
        report.exit, report.message = Exit.ERROR, f"run interrupted: {type(exc).__name__}: {exc}"
        raise
    finally:
        for lock in reversed(locks):
            try:
                lock.release()
            except StorageError as exc:  # the run's outcome stands; the lock stays until a person removes it
                report.message += f"; could not release {lock.path} ({exc}): remove it before the next run"
        write_text_atomic(step / "run.json", json.dumps(report.to_dict(), indent=1, ensure_ascii=False) + "\n")
        _prune(work, RunSettings.from_config(ctx.config).keep_runs)
    return report


def _run(report: RunReport, ctx: CleanupContext, policy: RunPolicy, scan: Callable[[Path], None]) -> None:
    step = report.dir
    started = now_utc()
    ctx.progress(f"run {report.run}: scanning {', '.join(report.roots)}")
    scan(step / "scan")
    result = read_findings(step / "scan")
    decisions = apply_decisions(result, read_decisions([parse(r) for r in result.scan.roots], ctx.storage,
                                                       DecisionSettings.from_config(ctx.config)))
    digest = hashlib.sha256((step / "scan" / "findings.json").read_bytes()).hexdigest()
    plan = build_plan(result, ctx.storage, SafetyRules.from_config(ctx.config), scan_dir=str((step / "scan").resolve()),
                      findings_sha256=digest, decisions=decisions)
    write_plan(plan, step / "plan.json")
    lake_bytes = sum(d.bytes for d in result.datasets)
    chosen = select(plan, {f.id: f for f in decisions.findings}, policy, lake_bytes)
    write_plan(chosen.plan, step / "selected-plan.json")
    report.summary = {
        "started": iso(started),
        "scan": {"dir": str(step / "scan"), "id": result.scan.id, "datasets": len(result.datasets),
                 "findings": len(result.findings), "kept": sum(1 for f in decisions.findings if f.kept),
                 "warnings": len(result.warnings), "lake_bytes": lake_bytes},
        "plan": {"actions": len(plan.actions), "selected": len(chosen.plan.actions),
                 "selected_bytes": sum(a.bytes for a in chosen.plan.actions), "held_by_policy": len(chosen.held),
                 "needs_review": len(plan.needs_review), "not_planned": len(plan.not_planned)},
        "held": list(chosen.held),
        "approve_with": f"rotscan decide {step / 'scan'} --approve FINDING_ID --reason '…'",
    }
    ctx.progress(f"plan: {len(plan.actions)} action(s); the policy selects {len(chosen.plan.actions)}, "
                 f"holds back {len(chosen.held)}; {len(plan.needs_review)} need review")
    if chosen.stop:
        report.exit, report.message = Exit.STOPPED, chosen.stop
        return
    applied = apply_plan(read_plan(step / "selected-plan.json"), ctx, execute=report.execute)
    doc = applied.to_dict()
    write_text_atomic(step / "apply.json", json.dumps(doc, ensure_ascii=False) + "\n")
    statuses = [a.status for a in applied.planned]
    report.summary["apply"] = {"run_id": applied.run_id, "dry_run": applied.dry_run,
                               "done": statuses.count("done"), "skipped": statuses.count("skipped"),
                               "failed": statuses.count("failed"),
                               "bytes": sum(a.bytes for a in applied.planned if a.status == "done")}
    if "failed" in statuses:
        report.exit = Exit.FAILED_ACTIONS
        report.message = f"{statuses.count('failed')} action(s) failed; see {step / 'apply.json'}"
    else:
        verb = "done" if report.execute else "would be done (dry run)"
        report.message = f"{statuses.count('done')} action(s) {verb}"
        if report.execute and statuses.count("done"):
            report.message += f"; undo with: rotscan restore {applied.run_id}"


def _prune(work: Path, keep: int) -> None:
    """Keep the newest ``keep`` run directories (names sort by time); the others go."""
    if keep <= 0:
        return
    runs = sorted(p for p in work.iterdir() if p.is_dir() and (p / "run.json").exists())
    for old in runs[:-keep]:
        shutil.rmtree(old, ignore_errors=True)

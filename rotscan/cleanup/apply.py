"""``apply``: carry out a plan — dry run by default, revalidating every action just before acting.

For each action, in plan order: the safety rules again (:mod:`rotscan.cleanup.safety`), then the
path is compared with the plan's fingerprint (anything new, changed or missing → skipped), then the
minimum age and the run's blast-radius limits. ``quarantine`` and ``delete`` move the files into
``<root>/_rotscan/quarantine/<run_id>/<relative path>`` (``delete`` is final only after ``purge``);
``vacuum`` goes through Delta (:mod:`rotscan.cleanup.vacuum`); ``archive`` moves the files to the
configured archive location (:mod:`rotscan.cleanup.archive`); ``compact`` rewrites small files
(:mod:`rotscan.cleanup.compact`: Delta OPTIMIZE, or a verified Spark rewrite and swap). With
``[catalog] enabled`` every action is checked against the catalog's tables too, and a registered
table's entry is dropped (its DDL saved) only with ``drop_table_entries``
(:mod:`rotscan.cleanup.tables`). Every file move is journaled; a run interrupted at any point is
finished (or its half-done action rolled back) by running apply again on the same plan, or with
``resume``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rotscan.catalog import CatalogTable
from rotscan.cleanup import archive, compact, partitions
from rotscan.cleanup import fingerprint as fpmod
from rotscan.cleanup.audit import AuditLog
from rotscan.cleanup.context import ActionResult, CleanupContext
from rotscan.cleanup.journal import Journal, RunLayout, read_journal
from rotscan.cleanup.journal_check import plan_sha256
from rotscan.cleanup.plan import LoadedPlan, PlanAction, PlanError, check_kept
from rotscan.cleanup.quarantine import Changed, Mover, move_back
from rotscan.cleanup.recovery import find_unfinished_run, plan_roots, recover_run
from rotscan.cleanup.safety import (
    Refused,
    SafetyRules,
    check_age,
    check_delta,
    check_protect,
    check_symlinks,
    locate,
)
from rotscan.cleanup.tables import (
    TABLES_DIR,
    TableGuard,
    describe,
    drop_table_entries,
    dropped_by,
    recreate_tables,
)
from rotscan.cleanup.usage_check import UsageSince, recorded_sources, scan_as_of, usage_since
from rotscan.decisions import DecisionSettings, KeepRule, read_decisions, standing_keeps
from rotscan.errors import RotscanError, StorageError, VanishedError
from rotscan.models import now_utc
from rotscan.storage.base import WritableStorage
from rotscan.uri import Uri, parse
from rotscan.usage.aggregate import UsageSettings

NOT_IMPLEMENTED: tuple[str, ...] = ()


def new_run_id() -> str:
    return f"{now_utc().strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:8]}"


@dataclass
class ApplyReport:
    run_id: str
    dry_run: bool
    actions: list[ActionResult]
    resumed: bool = False
    recovered: list[str] = field(default_factory=list)  # what resuming an interrupted run did

    @property
    def planned(self) -> list[ActionResult]:
        """The results of the plan's actions (without its not-planned entries)."""
        return [a for a in self.actions if a.planned]

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "dry_run": self.dry_run, "actions": [a.to_dict() for a in self.actions],
                "resumed": self.resumed, "recovered": list(self.recovered)}


class _Run:
    """The state of one executing run across the roots it touches."""

    def __init__(self, plan: LoadedPlan, ctx: CleanupContext, run_id: str) -> None:
        self.plan = plan
        self.ctx = ctx
        self.run_id = run_id
        self.journals: dict[str, Journal] = {}
        self.audits: dict[str, AuditLog] = {}
        self.movers: dict[str, Mover] = {}
        self.moves = 0

    def journal(self, root: Uri) -> Journal:
        key = str(root)
        if key not in self.journals:
            storage = self.ctx.storage(root)
            layout = RunLayout(root, self.run_id)
            existing = read_journal(storage, layout)
            j = Journal(storage, layout)
            if not existing:
                storage.write_bytes(layout.plan, (json.dumps(self.plan.doc, indent=1) + "\n").encode(), overwrite=True)
                j.write("run", run_id=self.run_id, plan_id=self.plan.plan_id, user=self.ctx.user, host=self.ctx.host,
                        roots=list(self.plan.roots), plan_sha256=plan_sha256(self.plan.doc))
            self.journals[key] = j
            self.audits[key] = AuditLog(storage, root, self.ctx.user, self.ctx.host)
        return self.journals[key]

    def audit(self, root: Uri) -> AuditLog:
        self.journal(root)
        return self.audits[str(root)]

    def mover(self, root: Uri) -> Mover:
        key = str(root)
        if key not in self.movers:
            j = self.journal(root)
            self.movers[key] = Mover(j.storage, j, force_copy=self.ctx.force_copy, hook=self._hook)
        return self.movers[key]

    def mover_with(self, root: Uri, storage: WritableStorage, *, force_copy: bool) -> Mover:
        """A mover that journals under ``root`` and moves through ``storage`` (archive targets)."""
        return Mover(storage, self.journal(root), force_copy=force_copy or self.ctx.force_copy, hook=self._hook)

    def _hook(self, step: str, n: int) -> None:
        if step == "moved":
            self.moves += 1
            self.ctx.fault_hook(step, self.moves)
        else:
            self.ctx.fault_hook(step, self.moves + 1)

    def finish(self) -> None:
        for j in self.journals.values():
            j.write("end")
            _write_manifest(j)


def _write_manifest(j: Journal) -> None:
    """A readable summary of what the run quarantined under this root (the journal is the truth)."""
    records = read_journal(j.storage, j.layout)
    done = {r["seq"] for r in records if r["op"] == "done"}
    files = [{"uri": r["src"], "quarantined": r["dst"], "size": r["size"], "mtime": r["mtime"], "sha256": r["sha256"],
              "action_id": r["action_id"]} for r in records if r["op"] == "intent" and r["n"] in done]
    doc = {"run_id": j.layout.run_id, "root": str(j.layout.root), "files": files,
           "bytes": sum(f["size"] for f in files)}
    j.storage.write_bytes(j.layout.manifest, (json.dumps(doc, indent=1) + "\n").encode(), overwrite=True)


def _child(uri: Uri, rel: str) -> Uri:
    for part in rel.split("/"):
        if part:
            uri = uri.child(part)
    return uri


def _rel_join(a: str, b: str) -> str:
    return f"{a}/{b}" if a and b else (a or b)


@dataclass
class _Checked:
    uri: Uri
    root: Uri
    storage: WritableStorage
    fp: fpmod.Fingerprint | None
    version: int | None = None  # drop_partitions on Delta: the table version the partitions were checked at


def _keeps_now(plan: LoadedPlan, ctx: CleanupContext, now: float) -> tuple[KeepRule, ...]:
    """The review keeps in force for the plan's roots as they are recorded now (a keep made after the
    plan still stops an action; so does a tampered decision record)."""
    from datetime import datetime, timezone

    decisions = read_decisions([parse(r) for r in plan.roots], ctx.storage, DecisionSettings.from_config(ctx.config))
    return standing_keeps(decisions, plan.roots, datetime.fromtimestamp(now, tz=timezone.utc).date())


def _revalidate(a: PlanAction, plan: LoadedPlan, ctx: CleanupContext, rules: SafetyRules, now: float,
                moved: frozenset[str] = frozenset(), keeps: tuple[KeepRule, ...] = (),
                ours: frozenset[str] = frozenset()) -> _Checked:
    """Raise :class:`Refused` or :class:`Changed` unless the action may go ahead now.

    ``moved``: files of this action an interrupted run already quarantined (resume). ``keeps``: the
    review keeps in force (:func:`_keeps_now`). ``ours``: files the action already put into the path
    (a compaction's rewritten files), not compared with the plan."""
    uri, root, rel = locate(a.uri, plan.roots)
    if str(root) != a.root or rel != a.rel:
        raise Refused(f"the action's root/relative path ({a.root}, {a.rel}) do not match its path")
    storage = ctx.storage(uri)
    try:
        fp: fpmod.Fingerprint | None = fpmod.take(storage, uri)
    except VanishedError:
        fp = None
    if fp is not None and ours:
        fp = fpmod.Fingerprint(is_dir=fp.is_dir, files=tuple(f for f in fp.files if f.rel not in ours), dirs=fp.dirs,
                               symlinks=fp.symlinks, delta_version=fp.delta_version, nested_tables=fp.nested_tables)
    if fp is not None:
        check_symlinks(fp)
    check_protect(rel, uri, fp, rules.protect)
    kept = next((k for k in keeps if k.root == str(root) and k.covers(rel)), None)
    if kept is not None:
        raise Refused(kept.label)
    check_kept(rel, str(root), fp, keeps)
    check_delta(storage, uri, root, a.action, fp if fp is not None else a.fingerprint)
    if a.action == "vacuum":
        if fp is None:
            raise Changed("the table no longer exists")
        if fp.delta_version != a.fingerprint.delta_version:
            raise Changed(f"Delta version {a.fingerprint.delta_version} -> {fp.delta_version} since the plan")
        return _Checked(uri, root, storage, fp)
    if a.action == partitions.ACTION:  # the expired partitions only (rotscan.cleanup.partitions)
        partitions.check_still_expired(a, now, _scan_findings(plan))
        version = partitions.revalidate(a, storage, uri, moved, now, rules.min_age_hours)
        return _Checked(uri, root, storage, fp, version)
    expected = a.fingerprint
    if moved:
        expected = fpmod.Fingerprint(is_dir=expected.is_dir, files=tuple(f for f in expected.files if f.rel not in moved),
                                     dirs=expected.dirs, symlinks=expected.symlinks,
                                     delta_version=None, nested_tables=expected.nested_tables)
        if fp is not None:
            fp = fpmod.Fingerprint(is_dir=fp.is_dir, files=fp.files, dirs=fp.dirs, symlinks=fp.symlinks,
                                   delta_version=None, nested_tables=fp.nested_tables)
    if fp is None:
        if moved and not expected.files:
            return _Checked(uri, root, storage, None)
        raise Changed("no longer exists")
    diffs = fpmod.differences(expected, fp)
    if diffs:
        raise Changed("; ".join(diffs))
    check_age(fp, now, rules.min_age_hours)
    if a.related:
        keeper = a.related[0]
        try:
            k_uri, _, _ = locate(keeper, plan.roots)
            if not ctx.storage(k_uri).exists(k_uri):
                raise Changed(f"the copy to keep ({keeper}) no longer exists")
        except Refused:
            pass  # the keeper is outside the roots: nothing to check it with
    return _Checked(uri, root, storage, fp)


_SCAN_FINDINGS: dict[tuple[str, float], tuple[Any, ...]] = {}


def _scan_findings(plan: LoadedPlan) -> tuple[Any, ...] | None:
    """The findings of the scan the plan was made from, when its findings.json is still where the
    plan says (None otherwise; read once per file version)."""
    from pathlib import Path

    from rotscan.errors import FindingsFormatError
    from rotscan.findings_io import read_findings

    scan_dir = (plan.header.get("scan") or {}).get("dir")
    if not scan_dir:
        return None
    path = Path(scan_dir) / "findings.json"
    try:
        key = (str(path), path.stat().st_mtime)
    except OSError:
        return None
    if key not in _SCAN_FINDINGS:
        try:
            _SCAN_FINDINGS.clear()
            _SCAN_FINDINGS[key] = read_findings(Path(scan_dir)).findings
        except (OSError, ValueError, FindingsFormatError):
            return None
    return _SCAN_FINDINGS[key]


def _what(a: PlanAction) -> str:
    n = len(a.fingerprint.files)
    return f"{n:,} file(s), {a.bytes:,} bytes"


def apply_plan(plan: LoadedPlan, ctx: CleanupContext, *, execute: bool, run_id: str | None = None,
               now: float | None = None, only: frozenset[str] | None = None,
               usage_paths: Sequence[str] = ()) -> ApplyReport:
    """Dry run (``execute=False``: revalidates and reports, changes nothing) or execute the plan.

    ``only``: the action types a policy allows (e.g. ``{"delete", "quarantine"}``); other actions
    are reported as skipped. ``usage_paths``: usage sources to check for reads and writes since the
    scan, besides those the plan's scan read (:mod:`rotscan.cleanup.usage_check`).

    When executing and an interrupted run of the same plan exists under the roots, that run is
    resumed (its half-done moves finished or rolled back) instead of starting a new one."""
    check_roots_against_scan(plan)
    recent = _usage_since(plan, ctx, usage_paths)
    if not execute:
        return _apply(plan, ctx, execute=False, run_id=run_id, now=now, only=only, recent=recent)
    from rotscan.cleanup.lock import RootLock

    locks = [RootLock(ctx.storage(r), r, f"apply of plan {plan.plan_id}", ctx.host) for r in plan_roots(plan)]
    try:
        for lock in locks:
            lock.acquire()
        return _apply(plan, ctx, execute=True, run_id=run_id, now=now, only=only, recent=recent)
    finally:
        for lock in locks:
            lock.release()


def check_roots_against_scan(plan: LoadedPlan) -> None:
    """The plan's roots must be the scan's (when its findings.json is still where the plan says):
    a plan whose roots were widened, checksum recomputed or not, is refused whole."""
    scan = plan.header.get("scan") or {}
    scan_dir = scan.get("dir")
    if not scan_dir:
        return
    from pathlib import Path

    findings = Path(scan_dir) / "findings.json"
    try:
        roots = json.loads(findings.read_text(encoding="utf-8"))["scan"]["roots"]
    except (OSError, ValueError, KeyError, TypeError):
        return  # the scan output is gone: the plan's own checksums and the safety rules still hold
    if sorted(str(parse(r)) for r in roots) != sorted(str(parse(r)) for r in plan.roots):
        raise PlanError(f"the plan's roots ({', '.join(plan.roots)}) are not the roots of the scan it was made "
                        f"from ({', '.join(roots)} in {findings}); make a new plan")


def _usage_since(plan: LoadedPlan, ctx: CleanupContext, extra: Sequence[str]) -> UsageSince | None:
    """What the usage sources saw on the planned paths since the scan (None: nothing to check)."""
    if not SafetyRules.from_config(ctx.config).revalidate_usage:
        return None
    paths = [*recorded_sources(plan.header), *extra]
    since = scan_as_of(plan.header)
    if not paths or since is None:
        return None
    planned = [la.action.uri for la in plan.actions if la.action is not None]
    recent = usage_since(paths, since, planned, UsageSettings.from_config(ctx.config))
    for w in recent.warnings:
        ctx.progress(f"warning: usage since the scan: {w}")
    ctx.progress(f"checked {len(paths)} usage source(s) for reads and writes since the scan: "
                 f"{len(recent.latest):,} planned path(s) used since")
    return recent


def _apply(plan: LoadedPlan, ctx: CleanupContext, *, execute: bool, run_id: str | None, now: float | None,
           only: frozenset[str] | None, recent: UsageSince | None = None) -> ApplyReport:
    rules = SafetyRules.from_config(ctx.config)
    archiving = archive.ArchiveSettings.from_config(ctx.config)
    now = time.time() if now is None else now
    keeps = _keeps_now(plan, ctx, now)
    journal_state: dict[str, list[dict[str, Any]]] = {}
    resumed = False
    recovered: list[str] = []
    if execute:
        if run_id is None:
            run_id = find_unfinished_run(plan, ctx)
        if run_id is not None:
            journal_state, recovered = recover_run(plan, ctx, run_id)
            resumed = True
    run_id = run_id or new_run_id()
    run = _Run(plan, ctx, run_id) if execute else None

    ended: dict[str, dict[str, Any]] = {}
    started: set[str] = set()
    moved_by_action: dict[str, list[dict[str, Any]]] = {}
    for records in journal_state.values():
        done = {r["seq"] for r in records if r["op"] == "done"}
        restored = {r["seq"] for r in records if r["op"] == "restore_done"}
        for r in records:
            if r["op"] == "action_end":
                ended[r["action_id"]] = r
            elif r["op"] == "action":
                started.add(r["action_id"])
            elif r["op"] == "intent" and r["n"] in done and r["n"] not in restored:
                moved_by_action.setdefault(r["action_id"], []).append(r)

    results: list[ActionResult] = []
    unaudited: list[ActionResult] = []

    def _skip(res: ActionResult) -> None:
        results.append(res)
        unaudited.append(res)

    n_actions = 0
    n_bytes = 0
    guard: TableGuard | None = None  # the catalog, read when the first action needs checking
    for la in plan.actions:
        if la.tampered or la.action is None:
            _skip(ActionResult(la.uri, "skipped", f"refused: {la.tampered}", 0,
                                        str(la.raw.get("action", "")), str(la.raw.get("id", ""))))
            continue
        a = la.action
        if a.id in ended:
            r = ended[a.id]
            results.append(ActionResult(a.uri, r["status"], r["reason"], int(r.get("bytes", 0)), a.action, a.id,
                                        int(r.get("files", 0))))
            continue
        if only is not None and a.action not in only:
            _skip(ActionResult(a.uri, "skipped", f"not selected: policy allows only {', '.join(sorted(only))}",
                                        0, a.action, a.id))
            continue
        if a.action in NOT_IMPLEMENTED:
            _skip(ActionResult(a.uri, "skipped", "not implemented in this version", 0, a.action, a.id))
            continue
        moved_recs = moved_by_action.get(a.id, [])
        moved = frozenset(_moved_rel(a, r) for r in moved_recs)
        ours: frozenset[str] = frozenset()
        action_records = [r for recs in journal_state.values() for r in recs if r.get("action_id") == a.id]
        if a.action == "compact":
            moved, ours = compact.split_moves(a, moved_recs)
            if run is not None and a.id in started and not moved_recs:
                finished = compact.resume_delta(run, a, parse(a.root), action_records)
                if finished is not None:  # an interrupted OPTIMIZE that did commit
                    results.append(finished)
                    continue
        if a.action == partitions.ACTION and run is not None and a.id in started and not moved_recs:
            finished = partitions.resume_delta(run, a, parse(a.root), action_records)
            if finished is not None:  # an interrupted Delta DELETE that did commit
                results.append(finished)
                continue
        try:
            checked = _revalidate(a, plan, ctx, rules, now, moved, keeps, ours)
            if guard is None:
                guard = TableGuard.open(ctx, plan)
            drops = (partitions.check_catalog(guard, a, checked.uri) if a.action == partitions.ACTION
                     else guard.check(a.action, checked.uri))
        except Refused as exc:
            res = ActionResult(a.uri, "skipped", f"refused: {exc}", 0, a.action, a.id)
            if run is not None and moved_recs:
                results.append(_roll_back(run, a, moved_recs, f"refused on resume: {exc}"))
            else:
                _skip(res)
            continue
        except Changed as exc:
            res = ActionResult(a.uri, "skipped", f"changed since the plan: {exc}", 0, a.action, a.id)
            if run is not None and moved_recs:
                results.append(_roll_back(run, a, moved_recs, f"changed during the interrupted run: {exc}"))
            else:
                _skip(res)
            continue
        except StorageError as exc:
            _skip(ActionResult(a.uri, "failed", f"cannot check: {exc}", 0, a.action, a.id))
            continue
        used = recent.reason(a.uri) if recent is not None else None
        if used is not None:
            if run is not None and moved_recs:
                results.append(_roll_back(run, a, moved_recs, f"used during the interrupted run: {used}"))
            else:
                _skip(ActionResult(a.uri, "skipped", f"used since the scan: {used}", 0, a.action, a.id))
            continue
        if a.id not in started:
            if n_actions + 1 > rules.max_actions_per_run:
                _skip(ActionResult(a.uri, "skipped", f"over the run's limit of {rules.max_actions_per_run} "
                                            "actions (max_actions_per_run)", 0, a.action, a.id))
                continue
            if n_bytes + a.bytes > rules.max_bytes_per_run:
                _skip(ActionResult(a.uri, "skipped", f"over the run's limit of {rules.max_bytes_per_run:,} "
                                            "bytes (max_bytes_per_run)", 0, a.action, a.id))
                continue
        n_actions += 1
        n_bytes += a.bytes
        if run is None:
            try:
                if a.action == "archive":
                    results.append(archive.dry_run(a, checked.storage, plan_roots(plan), archiving))
                elif a.action == "compact":
                    results.append(compact.dry_run(a))
                elif a.action == partitions.ACTION:
                    results.append(partitions.dry_run(a))
                else:
                    res = _dry_run(a, checked, ctx, rules)
                    if drops:
                        res.reason += (f"; would first save the DDL of catalog table(s) {describe(drops)} and drop "
                                       "their entries (restore re-creates them)")
                    results.append(res)
            except Refused as exc:
                results.append(ActionResult(a.uri, "skipped", f"refused: {exc}", 0, a.action, a.id))
            except RotscanError as exc:
                results.append(ActionResult(a.uri, "failed", str(exc), 0, a.action, a.id))
            continue
        try:
            if a.action == "vacuum":
                res = _vacuum(run, a, checked, rules, resumed_moves=moved_recs)
            elif a.action == "archive":
                res = archive.execute(run, a, uri=checked.uri, root=checked.root, storage=checked.storage,
                                      roots=plan_roots(plan), settings=archiving, already=moved_recs)
            elif a.action == "compact":
                res = compact.execute(run, a, uri=checked.uri, root=checked.root, storage=checked.storage,
                                      already=moved_recs, records=action_records)
            elif a.action == partitions.ACTION:
                res = partitions.execute(run, a, uri=checked.uri, root=checked.root, storage=checked.storage,
                                         already=moved_recs, records=action_records, version=checked.version)
            else:
                res = _quarantine(run, a, checked, moved, already=moved_recs, drops=drops)
        except Refused as exc:
            res = ActionResult(a.uri, "skipped", f"refused: {exc}", 0, a.action, a.id)
            run.audit(checked.root).record(a.action, run_id=run.run_id, uri=a.uri, status="skipped",
                                           reason=res.reason)
        except RotscanError as exc:
            res = ActionResult(a.uri, "failed", str(exc), 0, a.action, a.id)
            j = run.journal(checked.root)
            j.write("action_end", action_id=a.id, status="failed", reason=str(exc), bytes=0, files=0)
            run.audit(checked.root).record(a.action, run_id=run.run_id, uri=a.uri, status="failed", reason=str(exc))
        results.append(res)
        ctx.progress(f"{res.status}: {a.action} {a.uri} ({res.reason})")
    # What the plan could not make an action of (changed since the scan, protected, refused) is
    # reported as skipped too, so a concurrent writer between scan and plan shows up here as well.
    for item in plan.doc.get("not_planned") or []:
        if isinstance(item, dict) and "uri" in item:
            _skip(ActionResult(str(item["uri"]), "skipped", f"not planned: {item.get('reason', '')}", 0,
                               planned=False))
    if run is not None:
        roots = plan_roots(plan)
        for res in unaudited:  # what was not done is on the record too
            try:
                where = parse(res.uri)
                root = next((r for r in roots if where.is_within(r)), roots[0])
            except ValueError:
                root = roots[0]
            run.audit(root).record(res.action or ("not_planned" if not res.planned else "unknown"), run_id=run.run_id, uri=res.uri, status=res.status,
                                   reason=res.reason)
        run.finish()
    return ApplyReport(run_id=run_id, dry_run=not execute, actions=results, resumed=resumed, recovered=recovered)


def _moved_rel(a: PlanAction, rec: dict[str, Any]) -> str:
    src = parse(rec["src"])
    base = parse(a.uri)
    return src.relative_to(base) if src.is_within(base) else str(src)


def _dry_run(a: PlanAction, checked: _Checked, ctx: CleanupContext, rules: SafetyRules) -> ActionResult:
    if a.action == "vacuum":
        files, nbytes = _vacuum_candidates(ctx, checked)
        how = "move to quarantine" if rules.vacuum_mode == "quarantine" else "let VACUUM delete"
        return ActionResult(a.uri, "done", f"dry run: would {how} {len(files):,} file(s) VACUUM lists "
                            f"({nbytes:,} bytes; VACUUM DRY RUN, retention {_retention(ctx, checked):g} h)",
                            nbytes, a.action, a.id, len(files))
    verb = "move to quarantine" if a.action == "quarantine" else "delete (via quarantine)"
    return ActionResult(a.uri, "done", f"dry run: would {verb} {_what(a)}", a.bytes, a.action, a.id,
                        len(a.fingerprint.files))


def _quarantine(run: _Run, a: PlanAction, checked: _Checked, moved: frozenset[str],
                already: list[dict[str, Any]], drops: Sequence[CatalogTable] = ()) -> ActionResult:
    j = run.journal(checked.root)
    mover = run.mover(checked.root)
    storage = checked.storage
    uri = checked.uri
    if not already:
        j.write("action", action_id=a.id, uri=a.uri, action=a.action, kinds=list(a.kinds), rel=a.rel,
                is_dir=a.fingerprint.is_dir, dirs=list(a.fingerprint.dirs), bytes=a.bytes)
    dropped: list[str] = []
    if drops:  # the table entries go first (their DDL saved): no table ever points at quarantined files
        try:
            dropped = drop_table_entries(run.ctx.spark(), j, a.id, drops, read_journal(j.storage, j.layout))
        except RotscanError as exc:
            return _roll_back(run, a, list(already), f"catalog table entry not dropped: {exc}", root=checked.root,
                              status_if_put_back="failed")
    done_recs = list(already)
    for f in a.fingerprint.files:
        if f.rel in moved:
            continue
        src = _child(uri, f.rel)
        dst = _child(j.layout.quarantine, _rel_join(a.rel, f.rel))
        try:
            done_recs.append(mover.move(a.id, src, dst, f))
        except Changed as exc:
            return _roll_back(run, a, done_recs, f"changed while moving: {exc}", root=checked.root)
        except StorageError as exc:
            return _roll_back(run, a, done_recs, f"storage error while moving: {exc}", root=checked.root,
                              status_if_put_back="failed")
    # Remove the emptied directories, deepest first; a directory that is not empty now holds new data.
    left = []
    if a.fingerprint.is_dir:
        for d in sorted(a.fingerprint.dirs, key=lambda d: -d.count("/")) + [""]:
            target = _child(uri, d)
            try:
                storage.delete(target)
            except VanishedError:
                pass
            except StorageError:
                left.append(d or ".")
    nbytes = sum(int(r["size"]) for r in done_recs)
    reason = "moved to quarantine" if a.action == "quarantine" else "moved to quarantine (deleted for good by purge)"
    if dropped:
        reason += (f"; dropped the entry of catalog table(s) {', '.join(dropped)} (DDL saved in the run's "
                   f"{TABLES_DIR}/; restore re-creates them)")
    if left:
        reason += f"; directories left in place because new files appeared: {', '.join(left[:3])}"
    j.write("action_end", action_id=a.id, status="done", reason=reason, bytes=nbytes, files=len(done_recs))
    run.audit(checked.root).record(a.action, run_id=run.run_id, uri=a.uri, bytes=nbytes, status="done", reason=reason,
                                   files=len(done_recs), kinds=list(a.kinds), finding_ids=list(a.finding_ids),
                                   quarantine=str(_child(j.layout.quarantine, a.rel)),
                                   **({"tables_dropped": dropped} if dropped else {}))
    return ActionResult(a.uri, "done", reason, nbytes, a.action, a.id, len(done_recs))


def _roll_back(run: _Run, a: PlanAction, done_recs: list[dict[str, Any]], why: str,
               root: Uri | None = None, status_if_put_back: str = "skipped") -> ActionResult:
    """Put back the files of a half-done action (it is then as if it never started)."""
    root = root or parse(a.root)
    j = run.journal(root)
    failed = 0
    for rec in reversed(done_recs):
        status, _ = move_back(j.storage, rec, run.mover(root).mode, j)
        failed += status != "done"
    if failed:
        reason = f"{why}; {failed} file(s) could not be moved back and stay in quarantine (see `rotscan restore`)"
        status = "failed"
    else:
        reason = f"{why}; {len(done_recs)} file(s) already moved were put back" if done_recs else why
        status = status_if_put_back
        records = read_journal(j.storage, j.layout)
        if dropped_by(records, a.id):  # the files are back: so are the table entries this action dropped
            remade, problems = recreate_tables(run.ctx.spark, j, a.id, records, "table_recreated")
            reason += "".join(f"; {m}" for m in remade + problems)
            if problems:
                status = "failed"
    # the directories of the action were never removed (that happens only after every file moved)
    j.write("action_end", action_id=a.id, status=status, reason=reason, bytes=0, files=0)
    run.audit(root).record(a.action, run_id=run.run_id, uri=a.uri, status=status, reason=reason)
    return ActionResult(a.uri, status, reason, 0, a.action, a.id)


def _retention(ctx: CleanupContext, checked: _Checked) -> float:
    from rotscan.crawl.delta_log import read_snapshot

    return read_snapshot(checked.storage, checked.uri).retention_hours


def _vacuum_candidates(ctx: CleanupContext, checked: _Checked) -> tuple[list[fpmod.FileState], int]:
    """The files VACUUM (DRY RUN, table retention) lists, minus anything live or in the log."""
    from rotscan.cleanup.vacuum import vacuum_dry_run
    from rotscan.crawl.delta_log import read_snapshot

    snap = read_snapshot(checked.storage, checked.uri)
    listed = vacuum_dry_run(ctx.spark(need_s3a=checked.uri.scheme == "s3a"), checked.uri, snap.retention_hours)
    out: list[fpmod.FileState] = []
    for u in listed:
        if not u.is_within(checked.uri) or u == checked.uri:
            continue
        rel = u.relative_to(checked.uri)
        live = {str(a.path) for a in snap.adds.values()}
        if str(u) in live or rel.startswith(fpmod.DELTA_LOG + "/") or rel == fpmod.DELTA_LOG:
            continue  # never move a live file or the log, whatever a dry run says
        st = fpmod.file_state(checked.storage, u)
        if st is not None:
            out.append(fpmod.FileState(rel, st.size, st.mtime))
    return out, sum(f.size for f in out)


def _vacuum(run: _Run, a: PlanAction, checked: _Checked, rules: SafetyRules,
            resumed_moves: list[dict[str, Any]]) -> ActionResult:
    j = run.journal(checked.root)
    ctx = run.ctx
    retention = _retention(ctx, checked)
    if rules.vacuum_mode == "delta":
        from rotscan.cleanup.vacuum import vacuum

        before = fpmod.take(checked.storage, checked.uri)
        j.write("action", action_id=a.id, uri=a.uri, action=a.action, kinds=list(a.kinds), rel=a.rel,
                mode="delta", retention_hours=retention)
        vacuum(ctx.spark(need_s3a=checked.uri.scheme == "s3a"), checked.uri, retention)
        after = fpmod.take(checked.storage, checked.uri)
        remaining = {f.rel for f in after.files}
        gone = [f for f in before.files if f.rel not in remaining]
        gone = [f for f in gone if not f.rel.startswith(fpmod.DELTA_LOG + "/")]
        nbytes = sum(f.size for f in gone)
        reason = f"VACUUM (retention {retention:g} h) deleted {len(gone):,} file(s) permanently"
        j.write("vacuum_deleted", action_id=a.id, files=[f.to_list() for f in gone], bytes=nbytes)
        j.write("action_end", action_id=a.id, status="done", reason=reason, bytes=nbytes, files=len(gone))
        run.audit(checked.root).record("vacuum", run_id=run.run_id, uri=a.uri, bytes=nbytes, reason=reason,
                                       deleted=[f.rel for f in gone], retention_hours=retention)
        return ActionResult(a.uri, "done", reason, nbytes, a.action, a.id, len(gone))
    moved = frozenset(_moved_rel(a, r) for r in resumed_moves)
    files, _ = _vacuum_candidates(ctx, checked)
    if not resumed_moves:
        j.write("action", action_id=a.id, uri=a.uri, action=a.action, kinds=list(a.kinds), rel=a.rel,
                mode="quarantine", retention_hours=retention, dirs=[], is_dir=True,
                listed=[f.to_list() for f in files])
    mover = run.mover(checked.root)
    done_recs = list(resumed_moves)
    for f in files:
        if f.rel in moved:
            continue
        try:
            done_recs.append(mover.move(a.id, _child(checked.uri, f.rel),
                                        _child(j.layout.quarantine, _rel_join(a.rel, f.rel)), f))
        except Changed:
            continue  # a file VACUUM listed changed or vanished: leave it alone
    nbytes = sum(int(r["size"]) for r in done_recs)
    reason = (f"moved the {len(done_recs):,} file(s) VACUUM (retention {retention:g} h) would delete to quarantine")
    j.write("action_end", action_id=a.id, status="done", reason=reason, bytes=nbytes, files=len(done_recs))
    run.audit(checked.root).record("vacuum", run_id=run.run_id, uri=a.uri, bytes=nbytes, reason=reason,
                                   files=len(done_recs), retention_hours=retention)
    return ActionResult(a.uri, "done", reason, nbytes, a.action, a.id, len(done_recs))

"""What a run's journal may say: checked before resume, restore or purge act on it.

The hash chain (:mod:`rotscan.cleanup.journal`) shows a journal is as rotscan wrote it, to anyone
who does not recompute it. This module checks what the records *say*, against the run's own copy
of its plan (``plan.json`` in the run directory, itself checksummed, and bound to the journal by
the ``run`` record's ``plan_sha256``): every record must be one rotscan writes, for an action of
that plan, naming only the paths that action moves. So a journal edited by someone who recomputes
the chain, copied from another run, or written by a bug still cannot make recovery delete a live
file as a "partial copy", or restore write over live data or outside the root:

* the first record is the ``run`` record of this run id, of the plan the copy holds, for roots
  that include this one; there is one;
* every op is a known one; every ``action`` record names an action of the plan under this root,
  with the plan's path and action type (an archive's target is the plan's target, a compaction's
  staging directory is this run's, a compaction's or partition drop's mode the plan's table's);
* every move (``intent``) belongs to an action started earlier and is exactly one the action makes:
  a quarantine, delete, Hive ``drop_partitions`` or compaction moves a file of the plan's
  fingerprint to the same relative path in this run's quarantine (a Delta compaction or partition
  DELETE moves none); vacuum a file below the table (never its ``_delta_log``) that
  VACUUM listed; an archive a file of the fingerprint to the same relative path under its target;
  a compaction moves its rewritten files (listed by its ``compact_staged`` record) from this run's
  staging directory into the table; sizes, modification times and SHA-256s are well-formed;
* outcomes (``done``, ``rolled_back``, ``intent_failed``, ``restore_intent``, ``restore_done``)
  refer to earlier moves of the same action, at most one outcome per move; saved table DDL lies in
  the run's ``tables/`` directory.

Any violation raises :class:`~rotscan.cleanup.journal.JournalTamperedError` naming the run, the
line (or object) and what is wrong. Nothing is written before these checks pass.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from rotscan.cleanup import fingerprint as fpmod
from rotscan.cleanup.compact import originals, staging_dir
from rotscan.cleanup.journal import JournalRead, JournalTamperedError, RunLayout, canonical_json, load_journal
from rotscan.cleanup.plan import LoadedPlan, PlanAction, PlanError, load_plan_doc
from rotscan.cleanup.runsteps import child, rel_join
from rotscan.errors import StorageError, VanishedError
from rotscan.storage.base import WritableStorage
from rotscan.uri import Uri, parse

if TYPE_CHECKING:
    from rotscan.cleanup.context import CleanupContext

TABLES_DIR = "tables"  # rotscan.cleanup.tables.TABLES_DIR (not imported: that module needs the catalog)
OUTCOMES = ("done", "rolled_back", "intent_failed")
KNOWN_OPS = frozenset({
    "run", "action", "action_end", "intent", *OUTCOMES, "restore_start", "restore_end", "restore_intent",
    "restore_done", "compact_staged", "optimized", "delta_restore_intent", "delta_restored", "table_saved",
    "table_dropped", "table_restored", "table_recreated", "vacuum_deleted", "partitions_deleted",
    "partitions_vacuumed", "end", "purged",
})
DROP_PARTITIONS = "drop_partitions"  # rotscan.cleanup.partitions.ACTION
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def plan_sha256(doc: dict[str, Any]) -> str:
    """What the ``run`` record holds of the plan copy it was written with."""
    import hashlib

    return hashlib.sha256(canonical_json(doc)).hexdigest()


def run_plan(storage: WritableStorage, layout: RunLayout) -> LoadedPlan:
    """The run's copy of its plan, checked (a copy that is missing or edited is refused)."""
    def refuse(problem: str) -> JournalTamperedError:
        return JournalTamperedError(layout.run_id, layout.root, "plan.json", problem)

    try:
        with storage.open_read(layout.plan) as fh:
            doc = json.loads(fh.read())
    except VanishedError:
        raise refuse("the run's copy of its plan is missing, so the paths its journal names cannot be checked") \
            from None
    except ValueError as exc:
        raise refuse(f"the run's copy of its plan is not JSON ({exc})") from None
    except StorageError as exc:
        raise StorageError(f"cannot read {layout.plan}: {exc}") from exc
    if not isinstance(doc, dict):
        raise refuse("the run's copy of its plan is not a plan")
    try:
        return load_plan_doc(doc)
    except PlanError as exc:
        raise refuse(f"the run's copy of its plan: {exc}") from None


def verify_run(ctx: CleanupContext, roots: Sequence[Uri], run_id: str, plan_id: str | None = None
               ) -> dict[str, JournalRead]:
    """Every journal of run ``run_id`` under ``roots``, verified (chain, plan copy, paths) before
    anything acts on it; keyed by root. ``plan_id``: the plan the caller means to resume (a run of
    another plan is refused)."""
    out: dict[str, JournalRead] = {}
    for root in roots:
        storage = ctx.storage(root)
        layout = RunLayout(root, run_id)
        read = load_journal(storage, layout)
        if not read.records:
            continue
        plan = run_plan(storage, layout)
        if plan_id is not None and plan.plan_id != plan_id:
            raise PlanError(f"run {run_id} under {root} executed plan {plan.plan_id}, not the plan given "
                            f"({plan_id}); resume it with its own plan (or without PLAN: `rotscan apply --resume "
                            f"{run_id} --execute`)")
        check_journal(read, layout, plan)
        out[str(root)] = read
    return out


def verify_chains(ctx: CleanupContext, roots: Sequence[Uri], runs: Callable[[WritableStorage, Uri], list[str]]
                  ) -> None:
    """The hash chain of every run's journal under ``roots`` (purge: before anything is deleted)."""
    for root in roots:
        storage = ctx.storage(root)
        for run_id in runs(storage, root):
            load_journal(storage, RunLayout(root, run_id))


def _canon(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return str(parse(value))
    except ValueError:
        return None


def _safe_rel(rel: Any) -> bool:
    """A relative path of plain names (no ``.``/``..``, not absolute)."""
    return isinstance(rel, str) and (rel == "" or all(p not in ("", ".", "..") for p in rel.split("/")))


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


class _Checker:
    """Walks one root's records in order, keeping what each later record may refer to."""

    def __init__(self, read: JournalRead, layout: RunLayout, plan: LoadedPlan) -> None:
        self.read = read
        self.layout = layout
        self.plan = plan
        self.actions: dict[str, PlanAction] = {la.action.id: la.action for la in plan.actions
                                               if la.action is not None and la.tampered is None}
        self.started: dict[str, dict[str, Any]] = {}  # action id -> its latest action record
        self.intents: dict[int, dict[str, Any]] = {}
        self.outcome: dict[int, str] = {}
        self.restore_intents: dict[int, int] = {}  # restore_intent n -> the move it restores
        self.staged: dict[str, set[str]] = {}  # compaction -> rewritten files (relative)
        self._files: dict[tuple[str, bool], dict[str, str]] = {}
        self._listed_cache: dict[tuple[str, int], set[str]] = {}

    def fail(self, rec: dict[str, Any], problem: str) -> JournalTamperedError:
        return JournalTamperedError(self.layout.run_id, self.layout.root, self.read.location(rec),
                                    f"{rec.get('op')} record {rec.get('n')}: {problem}")

    def check(self) -> None:
        records = self.read.records
        if records and records[0].get("op") != "run":
            raise self.fail(records[0], "the first record must be the run record")
        for rec in records:
            op = rec["op"]
            if op not in KNOWN_OPS:
                raise self.fail(rec, f"unknown op {op!r} (not one rotscan writes)")
            if not isinstance(rec.get("time"), str):
                raise self.fail(rec, "no time")
            getattr(self, f"_{op}", self._plain)(rec)

    # -- records --------------------------------------------------------------------------------

    def _plain(self, rec: dict[str, Any]) -> None:
        """end, restore_start, restore_end, purged: nothing they say is acted on but their presence."""

    def _run(self, rec: dict[str, Any]) -> None:
        if rec["n"] != 1:
            raise self.fail(rec, "a second run record")
        if rec.get("run_id") != self.layout.run_id:
            raise self.fail(rec, f"names run {rec.get('run_id')!r}, but it is the journal of run {self.layout.run_id}")
        if rec.get("plan_id") != self.plan.plan_id:
            raise self.fail(rec, f"names plan {rec.get('plan_id')!r}, but the run's plan copy is plan "
                            f"{self.plan.plan_id}")
        roots = rec.get("roots")
        plan_roots = sorted(_canon(r) or "" for r in self.plan.roots)
        if not isinstance(roots, list) or sorted(_canon(r) or "?" for r in roots) != plan_roots:
            raise self.fail(rec, f"names roots {roots!r}, not the plan's ({', '.join(self.plan.roots)})")
        if str(self.layout.root) not in plan_roots:
            raise self.fail(rec, f"the run's plan does not cover the root {self.layout.root} this journal lies under")
        sealed = rec.get("plan_sha256")
        if sealed is not None and sealed != plan_sha256(self.plan.doc):
            raise self.fail(rec, "the run's plan copy (plan.json) is not the plan the run was started with "
                            "(plan_sha256 does not match)")

    def _action_of(self, rec: dict[str, Any], *, started: bool = True) -> PlanAction:
        aid = rec.get("action_id")
        a = self.actions.get(aid) if isinstance(aid, str) else None
        if a is None:
            raise self.fail(rec, f"names action {aid!r}, which is not an action of the run's plan")
        if started and aid not in self.started:
            raise self.fail(rec, f"refers to action {aid} before its action record")
        return a

    def _action(self, rec: dict[str, Any]) -> None:
        a = self._action_of(rec, started=False)
        if _canon(rec.get("uri")) != _canon(a.uri) or rec.get("action") != a.action or rec.get("rel") != a.rel:
            raise self.fail(rec, f"says {rec.get('action')!r} of {rec.get('uri')!r}, but the plan's action {a.id} is "
                            f"{a.action} of {a.uri}")
        if _canon(a.root) != str(self.layout.root):
            raise self.fail(rec, f"action {a.id} lies under the root {a.root}, not under {self.layout.root}")
        fp = a.fingerprint
        dirs = rec.get("dirs") or []
        if not isinstance(dirs, list) or any(not _safe_rel(d) or d not in fp.dirs for d in dirs):
            raise self.fail(rec, "lists directories the plan's fingerprint does not have")
        if "is_dir" in rec and a.action != "vacuum" and rec["is_dir"] is not fp.is_dir:
            raise self.fail(rec, "says the path is a " + ("directory" if rec["is_dir"] else "file")
                            + ", unlike the plan's fingerprint")
        mode = rec.get("mode")
        if a.action == "vacuum":
            if mode not in ("quarantine", "delta"):
                raise self.fail(rec, f"unknown vacuum mode {mode!r}")
            listed = rec.get("listed") or []
            if not isinstance(listed, list) or any(not isinstance(f, list) or not f or not _safe_rel(f[0]) or not f[0]
                                                   for f in listed):
                raise self.fail(rec, "lists files VACUUM would delete that are not relative paths")
        elif a.action == "archive":
            planned = a.details.get("target")
            if planned is None or _canon(rec.get("target")) != _canon(str(planned)):
                raise self.fail(rec, f"archive target {rec.get('target')!r} is not the plan's ({planned})")
        elif a.action == "compact":
            want = "optimize" if fp.delta_version is not None else "files"
            if mode != want:
                raise self.fail(rec, f"compaction mode {mode!r}, but the plan's table needs {want!r}")
            if want == "files" and _canon(rec.get("staging")) != str(staging_dir(self.layout.root, self.layout.run_id,
                                                                                  a.id)):
                raise self.fail(rec, f"staging directory {rec.get('staging')!r} is not this run's")
        elif a.action == DROP_PARTITIONS:
            wanted = {"hive": "hive", "delta": "delete"}.get(str(a.details.get("mode")))
            if wanted is None or mode != wanted:
                raise self.fail(rec, f"partition mode {mode!r}, but the plan's partitions need {wanted!r}")
        elif mode is not None:
            raise self.fail(rec, f"a {a.action} action has no mode {mode!r}")
        self.started[a.id] = rec

    def _intent(self, rec: dict[str, Any]) -> None:
        a = self._action_of(rec)
        if rec.get("mode") not in ("rename", "copy"):
            raise self.fail(rec, f"unknown move mode {rec.get('mode')!r}")
        size, mtime, sha = rec.get("size"), rec.get("mtime"), rec.get("sha256")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0 or not isinstance(mtime, (int, float)) \
                or isinstance(mtime, bool) or not isinstance(sha, str) or not _SHA256.match(sha):
            raise self.fail(rec, "size, mtime or sha256 is malformed")
        src, dst = _canon(rec.get("src")), _canon(rec.get("dst"))
        if src is None or dst is None:
            raise self.fail(rec, "src or dst is not a path")
        problem = self._move_problem(a, self.started[a.id], src, dst)
        if problem:
            raise self.fail(rec, problem)
        self.intents[rec["n"]] = rec

    def _move_problem(self, a: PlanAction, act: dict[str, Any], src: str, dst: str) -> str | None:
        """Why the move ``src`` -> ``dst`` is not one action ``a`` makes (None: it is)."""
        uri = parse(a.uri)
        files = self._files_of(a)

        def to_quarantine(rel: str) -> str:
            return str(child(self.layout.quarantine, rel_join(a.rel, rel)))

        if a.action == DROP_PARTITIONS and act.get("mode") != "hive":
            return "a Delta partition DELETE moves no files"
        if a.action in ("quarantine", "delete", DROP_PARTITIONS):
            rel = files.get(src)
            if rel is None:
                return f"moves {src}, which is not a file of the plan's {a.action} of {a.uri}"
            if dst != to_quarantine(rel):
                return f"moves {src} to {dst}, not to its place in this run's quarantine ({to_quarantine(rel)})"
            return None
        if a.action == "vacuum":
            s = parse(src)
            rel = s.relative_to(uri) if s.is_within(uri) and s != uri else None
            if rel is None or rel == fpmod.DELTA_LOG or rel.startswith(fpmod.DELTA_LOG + "/"):
                return f"moves {src}, which is not a file of the table {a.uri} VACUUM may remove"
            listed = act.get("listed")
            if listed is not None and rel not in self._listed(act):
                return f"moves {src}, which VACUUM did not list"
            if dst != to_quarantine(rel):
                return f"moves {src} to {dst}, not to its place in this run's quarantine ({to_quarantine(rel)})"
            return None
        if a.action == "archive":
            rel = files.get(src)
            if rel is None:
                return f"moves {src}, which is not a file of the plan's archive of {a.uri}"
            target = child(parse(str(act["target"])), rel)
            if dst != str(target):
                return f"moves {src} to {dst}, not to its place under the archive target ({target})"
            return None
        if a.action == "compact":
            if act.get("mode") != "files":
                return "a Delta compaction (OPTIMIZE) moves no files"
            old = self._files_of(a, only_originals=True)
            if src in old:
                if dst != to_quarantine(old[src]):
                    return f"moves {src} to {dst}, not to its place in this run's quarantine"
                return None
            staging = staging_dir(self.layout.root, self.layout.run_id, a.id)
            s = parse(src)
            rel = s.relative_to(staging) if s.is_within(staging) and s != staging else None
            if rel is None or rel not in self.staged.get(a.id, set()):
                return f"moves {src}, which is neither an original file of {a.uri} nor a file the compaction staged"
            if dst != str(child(uri, rel)):
                return f"moves the rewritten file {src} to {dst}, not into the table ({child(uri, rel)})"
            return None
        return f"a {a.action} action moves no files"

    def _files_of(self, a: PlanAction, only_originals: bool = False) -> dict[str, str]:
        """The canonical URI -> relative path of the plan's files of ``a`` (a compaction's
        originals), computed once per action: a run moves thousands of files of one action."""
        key = (a.id, only_originals)
        if key not in self._files:
            uri = parse(a.uri)
            states = originals(a.fingerprint) if only_originals else a.fingerprint.files
            self._files[key] = {str(child(uri, f.rel)): f.rel for f in states}
        return self._files[key]

    def _listed(self, act: dict[str, Any]) -> set[str]:
        key = ("listed", act["n"])
        if key not in self._listed_cache:
            self._listed_cache[key] = {f[0] for f in act.get("listed") or ()}
        return self._listed_cache[key]

    def _move_of(self, rec: dict[str, Any], *, done: bool) -> dict[str, Any]:
        seq = rec.get("seq")
        intent = self.intents.get(seq) if isinstance(seq, int) and not isinstance(seq, bool) else None
        if intent is None or not isinstance(seq, int):
            raise self.fail(rec, f"refers to move {seq!r}, which is no earlier intent record")
        if "action_id" in rec and rec["action_id"] != intent["action_id"]:
            raise self.fail(rec, f"says action {rec['action_id']!r} for a move of action {intent['action_id']}")
        if done and self.outcome.get(seq) != "done":
            raise self.fail(rec, f"restores move {seq}, which never finished")
        return intent

    def _outcome(self, rec: dict[str, Any]) -> None:
        intent = self._move_of(rec, done=False)
        if intent["n"] in self.outcome:
            raise self.fail(rec, f"a second outcome for move {intent['n']} (already {self.outcome[intent['n']]})")
        self.outcome[intent["n"]] = rec["op"]

    _done = _rolled_back = _intent_failed = _outcome

    def _restore_intent(self, rec: dict[str, Any]) -> None:
        self.restore_intents[rec["n"]] = self._move_of(rec, done=True)["n"]

    def _restore_done(self, rec: dict[str, Any]) -> None:
        seq = self._move_of(rec, done=True)["n"]
        ref = rec.get("intent")
        if ref is not None and self.restore_intents.get(ref) != seq:
            raise self.fail(rec, f"refers to restore intent {ref!r}, which is not one for move {seq}")

    def _action_end(self, rec: dict[str, Any]) -> None:
        self._action_of(rec, started=False)
        if rec.get("status") not in ("done", "skipped", "failed"):
            raise self.fail(rec, f"unknown status {rec.get('status')!r}")

    def _compact_staged(self, rec: dict[str, Any]) -> None:
        a = self._action_of(rec)
        files = rec.get("files")
        if self.started[a.id].get("mode") != "files" or not isinstance(files, list) or any(
                not isinstance(f, list) or len(f) != 3 or not _safe_rel(f[0]) or not f[0] or not _is_int(f[1])
                for f in files):
            raise self.fail(rec, "is not a list of rewritten files (relative path, size, mtime)")
        self.staged.setdefault(a.id, set()).update(f[0] for f in files)

    def _delta(self, rec: dict[str, Any], modes: tuple[str, ...] = ("optimize", "delete")) -> None:
        a = self._action_of(rec)
        if self.started[a.id].get("mode") not in modes:
            raise self.fail(rec, f"action {a.id} is no Delta compaction or partition DELETE")

    _delta_restore_intent = _delta_restored = _delta

    def _optimized(self, rec: dict[str, Any]) -> None:
        self._delta(rec, ("optimize",))

    def _partitions_deleted(self, rec: dict[str, Any]) -> None:
        self._delta(rec, ("delete",))

    _partitions_vacuumed = _partitions_deleted

    def _table_saved(self, rec: dict[str, Any]) -> None:
        self._action_of(rec)
        path = _canon(rec.get("path"))
        tables = self.layout.run_dir.child(TABLES_DIR)
        if path is None or not parse(path).is_within(tables) or parse(path) == tables \
                or not isinstance(rec.get("table"), str):
            raise self.fail(rec, f"saved table DDL at {rec.get('path')!r}, outside the run's {TABLES_DIR}/ directory")

    def _table_event(self, rec: dict[str, Any]) -> None:
        self._action_of(rec)
        if not isinstance(rec.get("table"), str):
            raise self.fail(rec, "names no table")

    _table_dropped = _table_restored = _table_recreated = _table_event

    def _vacuum_deleted(self, rec: dict[str, Any]) -> None:
        self._action_of(rec)


def check_journal(read: JournalRead, layout: RunLayout, plan: LoadedPlan) -> None:
    """Raise :class:`JournalTamperedError` unless every record of ``read`` is one the run's plan
    allows (see the module docstring)."""
    _Checker(read, layout, plan).check()

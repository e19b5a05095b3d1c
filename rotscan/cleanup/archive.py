"""``archive``: move a dataset to the archive location configured for its part of the lake, and on
S3 optionally into a colder storage class — journaled like quarantine, restorable byte for byte.

Where archived data goes is configuration, never the plan's say (``[cleanup.archive]``): a prefix
(a scanned root or a path below one) maps to a target URI on the same filesystem scheme (another
prefix or bucket), optionally with an S3 storage class to write the archived objects in::

    [cleanup.archive]
    "s3a://lake/raw" = { target = "s3a://lake-archive/raw", storage_class = "glacier_ir" }
    "/data/lake" = "/archive/lake"

A dataset ``<prefix>/<rel>`` goes to ``<target>/<rel>`` (the longest matching prefix wins). Each file
is moved like a quarantined file on an object store — ``intent`` (size, mtime, SHA-256) → copy,
written in the storage class → verify size and checksum → delete the source → ``done`` — whatever
the filesystem, so a kill at any point is resumed or rolled back from the journal and no file is
ever lost or half-copied. ``restore`` copies every file back, in the storage class it had before
(recorded per file when the run started), and verifies it.

Refused (the action is skipped with the reason, nothing moves): a path with no configured archive
location; a plan whose target is not where the configuration sends the path now; a target on
another scheme, overlapping the data, inside a scanned root (it would be scanned as data again)
unless under the root's ``_rotscan/``, inside a live Delta or Iceberg table, or already holding
data. Classes whose objects cannot be read without a restore request (``glacier``,
``deep_archive``) are refused in the configuration: rotscan reads every archived copy back to
verify it, and restore must be able to read it.

An archive frees no storage; it moves bytes to a cheaper class. It is reported with the monthly
cost it saves (the price difference of the classes, :class:`~rotscan.core.pricing.Pricing`), and
the audit log counts archived bytes on their own (``archived``), never as reclaimed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rotscan.cleanup import fingerprint as fpmod
from rotscan.cleanup.audit import AuditLog
from rotscan.cleanup.context import ActionResult, CleanupContext
from rotscan.cleanup.journal import Journal
from rotscan.cleanup.quarantine import Changed, move_back
from rotscan.cleanup.runsteps import PlannedAction, RunSteps, child
from rotscan.cleanup.safety import STATE_DIR, Refused, enclosing_table
from rotscan.core.pricing import DEFAULT_PRICES, Pricing, monthly_cost
from rotscan.errors import ConfigError, StorageError, VanishedError
from rotscan.storage.base import WritableStorage
from rotscan.uri import Uri, parse

# S3A's storage-class names whose objects can be read at once (rotscan reads every archived copy
# back to verify it, and restore reads it again). glacier and deep_archive need a restore request
# (hours) before any read: refused.
ARCHIVE_CLASSES = ("standard", "standard_ia", "onezone_ia", "intelligent_tiering", "glacier_ir",
                   "reduced_redundancy")
UNREADABLE_CLASSES = ("glacier", "deep_archive")


@dataclass(frozen=True)
class ArchiveLocation:
    """Where the datasets under ``prefix`` are archived: ``target``, in ``storage_class`` (S3 only;
    None: whatever the target's default is)."""

    prefix: Uri
    target: Uri
    storage_class: str | None = None

    def target_of(self, uri: Uri) -> Uri:
        return child(self.target, uri.relative_to(self.prefix))


@dataclass(frozen=True)
class ArchiveSettings:
    """The archive locations, and the prices that say what an archive saves (``[report]``)."""

    locations: tuple[ArchiveLocation, ...] = ()
    pricing: Pricing = field(default_factory=lambda: Pricing.flat(DEFAULT_PRICES["standard"]))
    currency: str = "USD"

    @classmethod
    def from_config(cls, config: Any) -> ArchiveSettings:
        """``[cleanup.archive]``: prefix -> target URI, or -> {target = …, storage_class = …}."""
        try:
            section: Mapping[str, Any] = config.section("cleanup").get("archive") or {}
        except (KeyError, AttributeError):
            section = {}
        if not isinstance(section, Mapping):
            raise ConfigError("[cleanup.archive] must be a table: prefix = target URI (or {target, storage_class})")
        out = []
        for key, value in section.items():
            where = f"[cleanup.archive] {key!r}"
            prefix = _absolute(str(key), where)
            if isinstance(value, str):
                target_text, klass = value, None
            elif isinstance(value, Mapping):
                unknown = set(value) - {"target", "storage_class"}
                if unknown or not isinstance(value.get("target"), str):
                    raise ConfigError(f"{where}: give a target URI, or {{target = \"URI\", storage_class = \"…\"}}"
                                      + (f" (unknown keys: {', '.join(sorted(unknown))})" if unknown else ""))
                target_text = value["target"]
                klass = value.get("storage_class")
                if klass is not None and not isinstance(klass, str):
                    raise ConfigError(f"{where}: storage_class must be a string, got {klass!r}")
            else:
                raise ConfigError(f"{where}: give a target URI, or {{target = \"URI\", storage_class = \"…\"}}; "
                                  f"got {value!r}")
            target = _absolute(target_text, f"{where} target")
            if target.scheme != prefix.scheme:
                raise ConfigError(f"{where}: the target {target} is on another filesystem ({target.scheme}:) than the "
                                  f"data ({prefix.scheme}:); archive within one scheme (another prefix or bucket)")
            if target.is_within(prefix) and STATE_DIR not in target.relative_to(prefix).split("/") or \
                    prefix.is_within(target):
                raise ConfigError(f"{where}: the target {target} overlaps the data it archives ({prefix}); "
                                  f"use another prefix or bucket, or a path under a root's {STATE_DIR}/")
            if klass is not None:
                klass = klass.strip().lower()
                if target.scheme != "s3a":
                    raise ConfigError(f"{where}: storage_class is an S3 feature; the target {target} is not on S3")
                if klass in UNREADABLE_CLASSES:
                    raise ConfigError(f"{where}: storage class {klass!r} cannot be read without a restore request, "
                                      "so an archived copy could be neither verified nor restored; use one of "
                                      + ", ".join(ARCHIVE_CLASSES))
                if klass not in ARCHIVE_CLASSES:
                    raise ConfigError(f"{where}: unknown storage class {klass!r} (one of {', '.join(ARCHIVE_CLASSES)})")
            out.append(ArchiveLocation(prefix, target, klass))
        report = config.section("report")
        return cls(tuple(sorted(out, key=lambda loc: (-len(loc.prefix.path), str(loc.prefix)))),
                   Pricing.from_config(config), str(report.get("currency", "USD")))

    def location_for(self, uri: Uri) -> ArchiveLocation | None:
        """The longest configured prefix ``uri`` lies under (or is)."""
        return next((loc for loc in self.locations if uri.is_within(loc.prefix)), None)


def _absolute(text: str, where: str) -> Uri:
    if not ("://" in text or text.startswith("file:") or text.startswith("/")):
        raise ConfigError(f"{where}: {text!r} is not an absolute path or URI")
    try:
        return parse(text)
    except ValueError as exc:
        raise ConfigError(f"{where}: {text!r} is not a path or URI: {exc}") from exc


def target_for(uri: Uri, settings: ArchiveSettings) -> tuple[ArchiveLocation, Uri]:
    """Where ``uri`` is archived, or :class:`Refused` when no archive location covers it."""
    loc = settings.location_for(uri)
    if loc is None:
        raise Refused("no archive location is configured for this path ([cleanup.archive])")
    return loc, loc.target_of(uri)


def check_target(storage: WritableStorage, target: Uri, source: Uri, roots: Sequence[Uri],
                 ours: frozenset[str] = frozenset()) -> None:
    """Refuse an archive target that is not a safe, empty place for ``source``'s data. ``ours``:
    files this action already archived there (an interrupted run being resumed)."""
    if target.scheme != source.scheme:
        raise Refused(f"the archive target {target} is on another filesystem than the data")
    if target.is_within(source) or source.is_within(target):
        raise Refused(f"the archive target {target} overlaps the data it archives")
    for root in roots:
        if root.is_within(target):
            raise Refused(f"the archive target {target} contains the scanned root {root}")
        if target.is_within(root) and not target.is_within(root.child(STATE_DIR)):
            raise Refused(f"the archive target {target} lies inside the scanned root {root}: it would be scanned as "
                          f"data again (archive outside the roots, or under {root.child(STATE_DIR)}/)")
    top = type(target)(target.scheme, target.authority, "/")
    try:
        found = enclosing_table(storage, target, top)
    except StorageError as exc:
        raise Refused(f"cannot check the archive target {target}: {exc}") from exc
    if found is not None:
        kind, table = found
        raise Refused(f"the archive target {target} lies inside the live {kind} table {table}")
    try:
        fp = fpmod.take(storage, target)
    except VanishedError:
        return
    except StorageError as exc:
        raise Refused(f"cannot check the archive target {target}: {exc}") from exc
    foreign = [f.rel or target.name for f in fp.files if str(child(target, f.rel)) not in ours]
    if foreign or fp.symlinks:
        what = f"{len(foreign):,} file(s), e.g. {foreign[0]}" if foreign else "a symlink"
        raise Refused(f"the archive target {target} already holds data ({what}); rotscan never archives over data")


def planned_target(a: PlannedAction, settings: ArchiveSettings, roots: Sequence[Uri]) -> tuple[ArchiveLocation, Uri]:
    """The target the configuration gives the action's path now; refused when the plan names
    another one (the configuration changed, or the plan was rewritten)."""
    loc, target = target_for(parse(a.uri), settings)
    recorded = a.details.get("target")
    if recorded is not None and str(parse(str(recorded))) != str(target):
        raise Refused(f"the plan's archive target {recorded} is not under any configured archive location for this "
                      f"path ([cleanup.archive] sends it to {target}); make a new plan")
    return loc, target


# -- cost -----------------------------------------------------------------------------------------

def monthly_saved(sizes_by_class: Mapping[str, int], target_class: str, pricing: Pricing) -> float | None:
    """What moving these bytes (by their current class) into ``target_class`` saves per month; None
    when a class has no price ([report.prices])."""
    try:
        to = pricing.price(target_class)
        return sum(monthly_cost(n, pricing.price(c) - to) for c, n in sizes_by_class.items())
    except KeyError:
        return None


def cost_details(uri: Uri, target: Uri, loc: ArchiveLocation, nbytes: int, pricing: Pricing, currency: str,
                 source_classes: Mapping[str, int] | None = None) -> dict[str, Any]:
    """The plan's/result's description of an archive: target, classes, monthly cost saved.
    ``source_classes``: bytes per actual storage class of the data (else the priced class of its path)."""
    source = dict(source_classes) if source_classes else {pricing.class_of(str(uri)): nbytes}
    target_class = loc.storage_class or pricing.class_of(str(target))
    saved = monthly_saved(source, target_class, pricing)
    return {"target": str(target), "storage_class": loc.storage_class, "target_class": target_class,
            "source_class": max(source, key=lambda c: source[c]) if source else None,
            "source_classes": source, "monthly_cost_saved": saved, "currency": currency}


def _saving_text(d: Mapping[str, Any]) -> str:
    saved = d.get("monthly_cost_saved")
    if saved is None:
        return f"monthly saving unknown (no price for {d.get('target_class')} or {d.get('source_class')})"
    return f"saves {saved:,.2f} {d.get('currency', '')}/month ({d.get('source_class')} -> {d.get('target_class')})"


def plan_details(uri: Uri, nbytes: int, storage: WritableStorage, settings: ArchiveSettings,
                 roots: Sequence[Uri]) -> dict[str, Any]:
    """What a plan records for an archive action (raises :class:`Refused`)."""
    loc, target = target_for(uri, settings)
    check_target(storage, target, uri, roots)
    return cost_details(uri, target, loc, nbytes, settings.pricing, settings.currency)


# -- apply ----------------------------------------------------------------------------------------

def _storage_in_class(ctx: CleanupContext, uri: Uri, storage_class: str | None) -> WritableStorage:
    """The storage that writes ``uri`` in ``storage_class`` (the plain one when there is none)."""
    if storage_class is None or uri.scheme != "s3a":
        return ctx.storage(uri)
    from rotscan.spark.storage_class import ClassedHadoopStorage

    return ClassedHadoopStorage(ctx.spark(need_s3a=True), uri.scheme, storage_class)


def _close(storage: WritableStorage, plain: WritableStorage) -> None:
    if storage is not plain and hasattr(storage, "close"):
        storage.close()


def _class_of(storage: WritableStorage, uri: Uri) -> str | None:
    if uri.scheme != "s3a":
        return None
    from rotscan.spark.storage_class import storage_class_of

    return storage_class_of(storage, uri)


def dry_run(a: PlannedAction, storage: WritableStorage, roots: Sequence[Uri], settings: ArchiveSettings
            ) -> ActionResult:
    uri = parse(a.uri)
    loc, target = planned_target(a, settings, roots)
    check_target(storage, target, uri, roots)
    d = cost_details(uri, target, loc, a.bytes, settings.pricing, settings.currency)
    klass = f" in storage class {loc.storage_class}" if loc.storage_class else ""
    return ActionResult(a.uri, "done", f"dry run: would archive {len(a.fingerprint.files):,} file(s), {a.bytes:,} "
                        f"bytes to {target}{klass} (copy, verify, delete); {_saving_text(d)}", a.bytes, a.action,
                        a.id, len(a.fingerprint.files), details=d)


def execute(run: RunSteps, a: PlannedAction, *, uri: Uri, root: Uri, storage: WritableStorage, roots: Sequence[Uri],
            settings: ArchiveSettings, already: list[dict[str, Any]]) -> ActionResult:
    """Archive the action's files (``already``: the moves an interrupted run of it finished)."""
    pricing, currency = settings.pricing, settings.currency
    ctx = run.ctx
    j = run.journal(root)
    prior = _action_record(j, a.id)
    try:
        loc, target = planned_target(a, settings, roots)
        check_target(storage, target, uri, roots, frozenset(str(parse(r["dst"])) for r in already))
    except Refused as exc:
        if not already:
            raise
        classes_then = dict((prior or {}).get("source_classes") or {})
        return _roll_back(run, a, root, uri, already, classes_then, f"refused on resume: {exc}")
    moved = {parse(r["src"]).relative_to(uri) for r in already if parse(r["src"]).is_within(uri)}
    if prior is not None and already:
        classes: dict[str, str | None] = dict(prior.get("source_classes") or {})
    else:
        classes = {f.rel: _class_of(storage, child(uri, f.rel)) for f in a.fingerprint.files} \
            if uri.scheme == "s3a" else {}
        j.write("action", action_id=a.id, uri=a.uri, action=a.action, kinds=list(a.kinds), rel=a.rel,
                is_dir=a.fingerprint.is_dir, dirs=list(a.fingerprint.dirs), bytes=a.bytes, target=str(target),
                storage_class=loc.storage_class, source_classes=classes)
    writer = _storage_in_class(ctx, target, loc.storage_class)
    try:
        mover = run.mover_with(root, writer, force_copy=True)
        done_recs = list(already)
        for f in a.fingerprint.files:
            if f.rel in moved:
                continue
            try:
                done_recs.append(mover.move(a.id, child(uri, f.rel), child(target, f.rel), f))
            except Changed as exc:
                return _roll_back(run, a, root, uri, done_recs, classes, f"changed while archiving: {exc}")
            except StorageError as exc:
                return _roll_back(run, a, root, uri, done_recs, classes, f"storage error while archiving: {exc}",
                                  status_if_put_back="failed")
        noted = ""
        if loc.storage_class is not None and done_recs:
            first = parse(done_recs[0]["dst"])
            actual = _class_of(storage, first)
            if actual is not None and actual != loc.storage_class:
                noted = f"; the store reports storage class {actual} for {first.name}, not {loc.storage_class}"
    finally:
        _close(writer, storage)
    left = _remove_empty_dirs(storage, uri, a.fingerprint) if a.fingerprint.is_dir else []
    nbytes = sum(int(r["size"]) for r in done_recs)
    by_class: dict[str, int] = {}
    for r in done_recs:
        src = parse(r["src"])
        rel = src.relative_to(uri) if src.is_within(uri) else ""
        c = classes.get(rel) or pricing.class_of(str(src))
        by_class[c] = by_class.get(c, 0) + int(r["size"])
    d = cost_details(uri, target, loc, nbytes, pricing, currency, by_class)
    reason = f"archived {len(done_recs):,} file(s) to {target}" + (
        f" in storage class {loc.storage_class}" if loc.storage_class else "") + f"; {_saving_text(d)}" + noted
    if left:
        reason += f"; directories left in place because new files appeared: {', '.join(left[:3])}"
    j.write("action_end", action_id=a.id, status="done", reason=reason, bytes=nbytes, files=len(done_recs),
            details=d)
    run.audit(root).record("archive", run_id=run.run_id, uri=a.uri, bytes=nbytes, status="done", reason=reason,
                           files=len(done_recs), kinds=list(a.kinds), finding_ids=list(a.finding_ids),
                           target=str(target), storage_class=loc.storage_class,
                           monthly_cost_saved=d["monthly_cost_saved"], currency=currency)
    return ActionResult(a.uri, "done", reason, nbytes, a.action, a.id, len(done_recs), details=d)


def _action_record(j: Journal, action_id: str) -> dict[str, Any] | None:
    from rotscan.cleanup.journal import read_journal

    recs = [r for r in read_journal(j.storage, j.layout) if r.get("op") == "action" and r.get("action_id") == action_id]
    return recs[-1] if recs else None


def _remove_empty_dirs(storage: WritableStorage, base: Uri, fp: fpmod.Fingerprint) -> list[str]:
    """Remove the emptied directories of ``base`` (deepest first); those that hold new files stay."""
    left = []
    for d in sorted(fp.dirs, key=lambda d: -d.count("/")) + [""]:
        try:
            storage.delete(child(base, d))
        except VanishedError:
            pass
        except StorageError:
            left.append(d or ".")
    return left


def _put_back(ctx: CleanupContext, storage: WritableStorage, base: Uri, recs: list[dict[str, Any]],
              classes: Mapping[str, str | None], journal: Journal, pending: frozenset[int] = frozenset()
              ) -> list[tuple[dict[str, Any], str, str]]:
    """Copy archived files back to where they were, each in the storage class it had; (record,
    status, why) per file."""
    writers: dict[str | None, WritableStorage] = {}
    out = []
    try:
        for rec in recs:
            src = parse(rec["src"])
            rel = src.relative_to(base) if src.is_within(base) else ""
            klass = classes.get(rel)
            if klass not in writers:
                writers[klass] = _storage_in_class(ctx, src, klass)
            status, why = move_back(writers[klass], rec, "copy", journal, pending=rec["n"] in pending)
            out.append((rec, status, why))
    finally:
        for w in writers.values():
            _close(w, storage)
    return out


def _roll_back(run: RunSteps, a: PlannedAction, root: Uri, uri: Uri, done_recs: list[dict[str, Any]],
               classes: Mapping[str, str | None], why: str, status_if_put_back: str = "skipped") -> ActionResult:
    j = run.journal(root)
    results = _put_back(run.ctx, run.ctx.storage(uri), uri, list(reversed(done_recs)), classes, j)
    failed = sum(1 for _, status, _ in results if status != "done")
    if failed:
        reason = f"{why}; {failed} file(s) could not be copied back and stay in the archive (see `rotscan restore`)"
        status = "failed"
    else:
        reason = f"{why}; {len(done_recs)} file(s) already archived were put back" if done_recs else why
        status = status_if_put_back
    j.write("action_end", action_id=a.id, status=status, reason=reason, bytes=0, files=0)
    run.audit(root).record(a.action, run_id=run.run_id, uri=a.uri, status=status, reason=reason)
    return ActionResult(a.uri, status, reason, 0, a.action, a.id)


# -- restore --------------------------------------------------------------------------------------

def restore(ctx: CleanupContext, storage: WritableStorage, journal: Journal, audit: AuditLog, run_id: str,
            act: dict[str, Any], moves: list[dict[str, Any]], restored: set[int], pending: set[int]) -> ActionResult:
    """Put an archived dataset back where it was, byte for byte and in its storage classes, and
    remove the directories the archive created at the target when they are empty."""
    base = parse(act["uri"])
    todo = [r for r in moves if r["n"] not in restored]
    nbytes = sum(int(r["size"]) for r in moves if r["n"] in restored)
    problems: list[str] = []
    for rec, status, why in _put_back(ctx, storage, base, todo, act.get("source_classes") or {}, journal,
                                      frozenset(pending)):
        if status == "done":
            nbytes += int(rec["size"])
        else:
            problems.append(f"{parse(rec['src']).name}: {why}")
    if act.get("target") and not problems:
        target = parse(str(act["target"]))
        with contextlib.suppress(StorageError):
            fp = fpmod.take(storage, target)
            if not fp.files:
                _remove_empty_dirs(storage, target, fp)
    if problems:
        failed = any("missing" in p or "does not verify" in p for p in problems)
        status = "failed" if failed else "skipped"
        reason = f"{len(moves) - len(problems)} of {len(moves)} archived file(s) restored; " + "; ".join(problems[:3])
    else:
        status = "done"
        reason = f"restored {len(moves):,} archived file(s) byte for byte from {act.get('target')}" + (
            " in their original storage class" if act.get("source_classes") else "")
    # the saving the archive recorded, in the share of its bytes put back
    from rotscan.cleanup.journal import read_journal

    end = next((r for r in reversed(read_journal(journal.storage, journal.layout))
                if r.get("op") == "action_end" and r.get("action_id") == act["action_id"]), None)
    saved = ((end or {}).get("details") or {}).get("monthly_cost_saved")
    total = sum(int(r["size"]) for r in moves)
    undone = None if saved is None or not total else float(saved) * nbytes / total
    audit.record("restore", run_id=run_id, uri=act["uri"], bytes=nbytes, status=status, reason=reason,
                 restored_action="archive", target=act.get("target"), monthly_cost_saved=undone)
    return ActionResult(act["uri"], status, reason, nbytes, act["action"], act["action_id"], len(moves),
                        details={"target": act.get("target")})

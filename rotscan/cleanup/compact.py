"""``compact``: rewrite a table of many small files into fewer, larger ones — every row kept,
verified, and undone by ``restore``.

**Delta tables** go through Delta itself: ``OPTIMIZE`` (bin-packing) commits one new version whose
files replace the small ones. The journal records the version before and after and the files
removed and added; the commit carries ``rotscan <run_id> <action_id>`` as its ``userMetadata``, so
a run killed during ``OPTIMIZE`` tells from the log whether its commit happened. OPTIMIZE deletes
nothing: the replaced files stay in the table directory for time travel until a VACUUM past the
table's retention. ``restore`` runs ``RESTORE TABLE … TO VERSION AS OF <version before>``: a new
commit whose live files are exactly the original small files (the same paths, the same bytes); the
compacted files stay in the directory, no longer referenced, until VACUUM. It is refused when the
table has commits after the compaction (RESTORE would undo them) and fails, with Delta's message,
when a VACUUM has removed the original files since.

**Parquet/ORC directories** (Hive-partitioned or not) are rewritten with Spark
(:func:`rotscan.spark.compact.rewrite`) into ``<root>/_rotscan/staging/<run_id>/<action_id>/``,
files of about ``target_file_bytes``, partition by partition (the same ``key=value`` directory
names). The rewritten files are read back: same schema, and the same row multiset (rotscan's
order-independent checksum over every column) as the originals, else nothing is swapped. Then:

1. the directory is fingerprinted again — a file added, changed or removed since the plan (a
   concurrent writer) aborts the compaction: the rewritten files are removed, the originals left;
2. the originals (the data files Spark read, with their ``.crc`` siblings) move to the run's
   quarantine, journaled like any quarantine (each checked unchanged just before it moves);
3. the directory must then hold nothing new — a file that appeared meanwhile rolls the originals
   back;
4. the rewritten files move in, journaled the same way; the staging directory goes.

A reader that lists the directory during steps 2–4 (seconds) sees part of the data: compact when no
job reads the table. A kill at any step is resumed from the journal (finishing the swap, or, before
any original moved, starting the rewrite again). ``restore`` checks that the compacted files are
still the ones it wrote (size and SHA-256), moves them out of the directory, puts the originals
back byte for byte, and removes the staging directory: the directory is as it was.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from typing import Any

from rotscan.cleanup import fingerprint as fpmod
from rotscan.cleanup.audit import AuditLog
from rotscan.cleanup.context import ActionResult, CleanupContext
from rotscan.cleanup.journal import Journal, RunLayout
from rotscan.cleanup.quarantine import Changed, move_back
from rotscan.cleanup.runsteps import PlannedAction, RunSteps, child, rel_join
from rotscan.cleanup.safety import STATE_DIR, Refused
from rotscan.errors import RotscanError, StorageError, VanishedError
from rotscan.storage.base import WritableStorage
from rotscan.uri import Uri, parse

SUMMARY_FILES = ("_metadata", "_common_metadata")
DEFAULT_TARGET_BYTES = 134_217_728


def staging_dir(root: Uri, run_id: str, action_id: str) -> Uri:
    return root.child(STATE_DIR).child("staging").child(run_id).child(action_id)


def _hidden(rel: str) -> bool:
    return any(part.startswith(("_", ".")) for part in rel.split("/"))


def originals(fp: fpmod.Fingerprint) -> list[fpmod.FileState]:
    """The files a compaction replaces: the data files (no path part starting with ``_`` or ``.``,
    Spark's rule for hidden files) and the Hadoop ``.crc`` checksum file of each."""
    by_rel = {f.rel: f for f in fp.files}
    out = []
    for f in fp.files:
        if _hidden(f.rel):
            continue
        out.append(f)
        head, _, name = f.rel.rpartition("/")
        crc = rel_join(head, f".{name}.crc")
        if crc in by_rel:
            out.append(by_rel[crc])
    return out


def mode_of(a: PlannedAction) -> str:
    return "delta" if a.fingerprint.delta_version is not None else "files"


def check_compactable(a: PlannedAction) -> None:
    """Refuse what compaction cannot rewrite safely."""
    fp = a.fingerprint
    if not fp.is_dir:
        raise Refused("compaction needs a table directory")
    if mode_of(a) == "delta":
        return
    fmt = str(a.details.get("format") or "")
    if fmt not in ("parquet", "orc"):
        raise Refused(f"compaction rewrites Parquet/ORC directories and Delta tables, not {fmt or 'this format'}")
    summaries = [f.rel for f in fp.files if f.rel.rsplit("/", 1)[-1] in SUMMARY_FILES]
    if summaries:
        raise Refused(f"holds Parquet summary files ({summaries[0]}) describing the current files")
    if len([f for f in originals(fp) if not f.rel.endswith(".crc")]) < 2:
        raise Refused("fewer than two data files: nothing to compact")


def plan_details(evidence: dict[str, Any], fmt: str, partition_columns: Sequence[str]) -> dict[str, Any]:
    """What a plan records for a compaction: the format, partition columns, the file size aimed at
    and the estimate of files before and after (from the small_files finding)."""
    return {"format": fmt, "partition_columns": list(partition_columns),
            "target_file_bytes": int(evidence.get("target_file_bytes") or DEFAULT_TARGET_BYTES),
            "files_before": evidence.get("files"), "files_after": evidence.get("files_after")}


def split_moves(a: PlannedAction, moved_recs: list[dict[str, Any]]) -> tuple[frozenset[str], frozenset[str]]:
    """(originals already moved to quarantine, rewritten files already moved in) — relative to the
    action's path — from the moves an interrupted run finished."""
    base = parse(a.uri)
    out_, in_ = set(), set()
    for r in moved_recs:
        src, dst = parse(r["src"]), parse(r["dst"])
        if src.is_within(base) and src != base:
            out_.add(src.relative_to(base))
        elif dst.is_within(base) and dst != base:
            in_.add(dst.relative_to(base))
    return frozenset(out_), frozenset(in_)


def dry_run(a: PlannedAction) -> ActionResult:
    check_compactable(a)
    d = dict(a.details)
    before, after = d.get("files_before") or len(a.fingerprint.files), d.get("files_after")
    if mode_of(a) == "delta":
        how = (f"run Delta OPTIMIZE on version {a.fingerprint.delta_version} ({before:,} live files -> about "
               f"{after if after is not None else '?'}); undone by restore with RESTORE TABLE TO VERSION")
    else:
        how = (f"rewrite {len(originals(a.fingerprint)):,} file(s) with Spark into about "
               f"{after if after is not None else '?'} (row multiset checked equal before the swap; originals to "
               "quarantine)")
    return ActionResult(a.uri, "done", f"dry run: would {how}", a.bytes, a.action, a.id, len(a.fingerprint.files),
                        details=d)


def _tag(run_id: str, action_id: str) -> str:
    return f"rotscan {run_id} {action_id}"


def _commit_info(storage: WritableStorage, table: Uri, version: int) -> dict[str, Any] | None:
    """The ``commitInfo`` of one Delta version (None when the commit is missing)."""
    import json

    name = f"{version:020d}.json"
    try:
        with storage.open_read(table.child(fpmod.DELTA_LOG).child(name)) as fh:
            for line in fh.read().decode("utf-8").splitlines():
                if '"commitInfo"' in line:
                    info = json.loads(line).get("commitInfo")
                    return dict(info) if isinstance(info, dict) else {}
    except VanishedError:
        return None
    return {}


def _end(run: RunSteps, a: PlannedAction, root: Uri, status: str, reason: str, nbytes: int = 0, files: int = 0,
         details: dict[str, Any] | None = None) -> ActionResult:
    run.journal(root).write("action_end", action_id=a.id, status=status, reason=reason, bytes=nbytes, files=files,
                            details=details)
    run.audit(root).record("compact", run_id=run.run_id, uri=a.uri, bytes=nbytes if status == "done" else 0,
                           status=status, reason=reason, files=files, kinds=list(a.kinds),
                           finding_ids=list(a.finding_ids), details=details)
    return ActionResult(a.uri, status, reason, nbytes, a.action, a.id, files, details=details)


# -- Delta ----------------------------------------------------------------------------------------

def _find_tagged(storage: WritableStorage, table: Uri, after: int, tag: str) -> tuple[int | None, int]:
    """(the version in ``(after, latest]`` whose commit carries ``tag`` or None, the latest version)."""
    from rotscan.crawl.delta_log import read_snapshot

    latest = read_snapshot(storage, table).version
    for v in range(after + 1, latest + 1):
        if (_commit_info(storage, table, v) or {}).get("userMetadata") == tag:
            return v, latest
    return None, latest


def resume_delta(run: RunSteps, a: PlannedAction, root: Uri, records: list[dict[str, Any]]) -> ActionResult | None:
    """An interrupted Delta compaction: done when its OPTIMIZE commit is in the log (finish the
    record), None when it never committed and the table is as planned (the action starts again)."""
    acts = [r for r in records if r.get("op") == "action" and r.get("action_id") == a.id and r.get("mode") == "optimize"]
    if not acts:
        return None
    before = int(acts[-1]["version_before"])
    uri = parse(a.uri)
    ours, latest = _find_tagged(run.ctx.storage(uri), uri, before, _tag(run.run_id, a.id))
    if ours is not None:
        return _finish_delta(run, a, root, before, ours, {"recovered": True})
    if latest == before:
        return None  # OPTIMIZE never committed
    return _end(run, a, root, "skipped", f"changed since the plan: Delta version {before} -> {latest} by another "
                "writer; not compacted")


def _finish_delta(run: RunSteps, a: PlannedAction, root: Uri, before: int, after: int,
                  metrics: dict[str, Any]) -> ActionResult:
    from rotscan.crawl.delta_log import read_snapshot

    uri = parse(a.uri)
    snap = read_snapshot(run.ctx.storage(uri), uri)
    files_after = len(snap.adds)
    files_before = int(a.details.get("files_before") or 0) or None
    details = {**a.details, "mode": "delta", "version_before": before, "version_after": after,
               "files_before": files_before, "files_after": files_after,
               "files_removed": metrics.get("numFilesRemoved"), "files_added": metrics.get("numFilesAdded"),
               "restore": f"RESTORE TABLE TO VERSION AS OF {before}"}
    run.journal(root).write("optimized", action_id=a.id, version_before=before, version_after=after,
                            files_after=files_after, metrics=metrics)
    reason = (f"Delta OPTIMIZE: version {before} -> {after}, {files_before if files_before is not None else '?'} -> "
              f"{files_after:,} live files (the replaced files stay for time travel until VACUUM; restore runs "
              f"RESTORE TABLE TO VERSION AS OF {before})")
    return _end(run, a, root, "done", reason, a.bytes, files_after, details)


def _execute_delta(run: RunSteps, a: PlannedAction, uri: Uri, root: Uri) -> ActionResult:
    from rotscan.spark.compact import optimize

    before = a.fingerprint.delta_version
    assert before is not None
    j = run.journal(root)
    j.write("action", action_id=a.id, uri=a.uri, action=a.action, kinds=list(a.kinds), rel=a.rel, mode="optimize",
            version_before=before, is_dir=True, dirs=[])
    run.ctx.fault_hook("optimize", 1)
    metrics = optimize(run.ctx.spark(need_s3a=uri.scheme == "s3a"), uri, _tag(run.run_id, a.id))
    run.ctx.fault_hook("optimized", 1)
    ours, _ = _find_tagged(run.ctx.storage(uri), uri, before, _tag(run.run_id, a.id))
    if ours is None:
        return _end(run, a, root, "done", f"Delta OPTIMIZE found nothing to compact at version {before}",
                    0, 0, {**a.details, "mode": "delta", "version_before": before, "version_after": before})
    return _finish_delta(run, a, root, before, ours, metrics)


# -- Parquet / ORC --------------------------------------------------------------------------------

def _data_files(storage: WritableStorage, where: Uri) -> list[fpmod.FileState]:
    try:
        fp = fpmod.take(storage, where)
    except VanishedError:
        return []
    return [f for f in fp.files if not _hidden(f.rel)]


def _discard(storage: WritableStorage, where: Uri) -> None:
    """Remove a staging directory, and its run's directory once that is empty."""
    with contextlib.suppress(VanishedError):
        storage.delete(where, recursive=True)
    for d in (where.parent, where.parent.parent):  # staging/<run_id>, then staging/
        if d.name == STATE_DIR:
            break
        with contextlib.suppress(StorageError):
            storage.delete(d)  # only when empty


def execute(run: RunSteps, a: PlannedAction, *, uri: Uri, root: Uri, storage: WritableStorage,
            already: list[dict[str, Any]], records: list[dict[str, Any]]) -> ActionResult:
    """Compact the action's table (``already``: moves an interrupted run of it finished;
    ``records``: that run's journal records of this action)."""
    check_compactable(a)
    if mode_of(a) == "delta":
        return _execute_delta(run, a, uri, root)
    j = run.journal(root)
    staging = staging_dir(root, run.run_id, a.id)
    staged_recs = [r for r in records if r.get("op") == "compact_staged" and r.get("action_id") == a.id]
    moved_out, moved_in = split_moves(a, already)
    old = originals(a.fingerprint)
    fmt = str(a.details["format"])
    parts = tuple(str(c) for c in a.details.get("partition_columns") or ())
    target = int(a.details.get("target_file_bytes") or DEFAULT_TARGET_BYTES)
    staged: dict[str, Any]
    if staged_recs and (already or _staged_intact(storage, staging, staged_recs[-1])):
        staged = staged_recs[-1]
    else:
        # nothing moved yet: (re)write the compacted files from the start
        _discard(storage, staging)
        j.write("action", action_id=a.id, uri=a.uri, action=a.action, kinds=list(a.kinds), rel=a.rel, mode="files",
                is_dir=True, dirs=list(a.fingerprint.dirs), bytes=a.bytes, staging=str(staging), format=fmt,
                partition_columns=list(parts), originals=[f.rel for f in old])
        made = _stage(run, a, uri, root, storage, staging, old, fmt, parts, target)
        if isinstance(made, ActionResult):
            return made
        staged = made
    new_files = [fpmod.FileState(str(rel), int(size), float(mtime)) for rel, size, mtime in staged["files"]]
    if not already:
        now = fpmod.take(storage, uri)
        diffs = fpmod.differences(a.fingerprint, now)
        collide = sorted({f.rel for f in new_files} & {f.rel for f in now.files})
        if diffs or collide:
            _discard(storage, staging)
            why = "; ".join(diffs) if diffs else f"a rewritten file's name is taken ({collide[0]})"
            return _end(run, a, root, "skipped", f"changed while compacting (a concurrent writer?): {why}; "
                        "compaction aborted: the originals are untouched, the rewritten files removed")
    mover = run.mover(root)
    quarantine = RunLayout(root, run.run_id).quarantine
    done = list(already)
    try:
        for f in old:
            if f.rel in moved_out:
                continue
            done.append(mover.move(a.id, child(uri, f.rel), child(quarantine, rel_join(a.rel, f.rel)), f))
        foreign = _foreign(storage, uri, a.fingerprint, {f.rel for f in old}, moved_in)
        if foreign:
            raise Changed(f"{len(foreign):,} new file(s) appeared while compacting, e.g. {foreign[0]}")
        run.ctx.fault_hook("swapped_out", 1)
        for f in new_files:
            if f.rel in moved_in:
                continue
            st = fpmod.file_state(storage, child(staging, f.rel))
            if st is None or st.size != f.size:
                raise StorageError(f"the rewritten file {f.rel} is missing or changed in staging")
            done.append(mover.move(a.id, child(staging, f.rel), child(uri, f.rel), fpmod.FileState(f.rel, st.size,
                                                                                                      st.mtime)))
    except (Changed, StorageError) as exc:
        return _roll_back(run, a, root, storage, staging, done, f"compaction aborted: {exc}",
                          "skipped" if isinstance(exc, Changed) else "failed")
    _discard(storage, staging)
    before, after = len([f for f in old if not f.rel.endswith(".crc")]), len(new_files)
    details = {**a.details, "mode": "files", "files_before": before, "files_after": after,
               "rows": staged["rows"], "checksum": staged["checksum"],
               "restore": "puts the original files back and removes the compacted ones"}
    nbytes = sum(f.size for f in old)
    reason = (f"compacted {before:,} -> {after:,} file(s), {staged['rows']:,} rows, row multiset checksum equal "
              f"({staged['checksum']}); originals in quarantine")
    return _end(run, a, root, "done", reason, nbytes, after, details)


def _staged_intact(storage: WritableStorage, staging: Uri, rec: dict[str, Any]) -> bool:
    have = {f.rel: f.size for f in _data_files(storage, staging)}
    return have == {str(r): int(s) for r, s, _ in rec["files"]}


def _stage(run: RunSteps, a: PlannedAction, uri: Uri, root: Uri, storage: WritableStorage, staging: Uri,
           old: list[fpmod.FileState], fmt: str, parts: tuple[str, ...], target: int) -> dict[str, Any] | ActionResult:
    from rotscan.spark.compact import RewriteMismatch, rewrite

    data = [f for f in old if not f.rel.endswith(".crc")]
    try:
        out = rewrite(run.ctx.spark(need_s3a=uri.scheme == "s3a"), fmt, uri, staging, parts,
                      sum(f.size for f in data), target)
    except (RewriteMismatch, RotscanError) as exc:
        _discard(storage, staging)
        status = "skipped" if isinstance(exc, RewriteMismatch) else "failed"
        return _end(run, a, root, status, f"not compacted: {exc}; the originals are untouched")
    read = {str(parse(u)) for u in out.input_files}
    expected = {str(child(uri, f.rel)) for f in data}
    if read != expected:
        _discard(storage, staging)
        extra = sorted(read - expected) or sorted(expected - read)
        return _end(run, a, root, "skipped", f"not compacted: Spark reads other files than the plan's data files "
                    f"(e.g. {extra[0]}); the originals are untouched")
    files = _data_files(storage, staging)
    rec = run.journal(root).write("compact_staged", action_id=a.id, rows=out.rows, checksum=out.checksum,
                                  files=[f.to_list() for f in files], schema=[list(c) for c in out.schema])
    run.ctx.fault_hook("staged", 1)
    return rec


def _foreign(storage: WritableStorage, uri: Uri, fp: fpmod.Fingerprint, old: set[str], ours: frozenset[str]
             ) -> list[str]:
    """Files in the directory now that are neither kept from the plan's fingerprint nor ours."""
    kept = {f.rel for f in fp.files} - old
    try:
        now = fpmod.take(storage, uri)
    except VanishedError:
        return []
    return sorted(f.rel for f in now.files if f.rel not in kept and f.rel not in ours)


def _roll_back(run: RunSteps, a: PlannedAction, root: Uri, storage: WritableStorage, staging: Uri,
               done: list[dict[str, Any]], why: str, status_if_put_back: str) -> ActionResult:
    """Undo a half-done swap: the rewritten files back to staging, the originals back in place, the
    staging directory removed."""
    j = run.journal(root)
    mode = run.mover(root).mode
    failed = 0
    for rec in reversed(done):
        status, _ = move_back(storage, rec, mode, j)
        failed += status != "done"
    if failed:
        return _end(run, a, root, "failed", f"{why}; {failed} file(s) could not be moved back (see `rotscan restore`)")
    _discard(storage, staging)
    return _end(run, a, root, status_if_put_back, f"{why}; the originals are back in place, the rewritten files "
                "removed")


# -- restore --------------------------------------------------------------------------------------

def restore(ctx: CleanupContext, storage: WritableStorage, journal: Journal, audit: AuditLog, run_id: str,
            act: dict[str, Any], records: list[dict[str, Any]], moves: list[dict[str, Any]], restored: set[int],
            pending: set[int]) -> ActionResult:
    """Undo one compaction of run ``run_id`` (see the module docstring)."""
    if act.get("mode") == "optimize":
        res = _restore_delta(ctx, storage, journal, run_id, act, records)
    else:
        res = _restore_files(ctx, storage, journal, act, moves, restored, pending)
    audit.record("restore", run_id=run_id, uri=act["uri"], bytes=res.bytes, status=res.status, reason=res.reason,
                 restored_action="compact", details=res.details)
    return res


def _restore_delta(ctx: CleanupContext, storage: WritableStorage, journal: Journal, run_id: str,
                   act: dict[str, Any], records: list[dict[str, Any]]) -> ActionResult:
    from rotscan.crawl.delta_log import read_snapshot

    table = parse(act["uri"])
    aid = act["action_id"]
    opt = next((r for r in reversed(records) if r.get("op") == "optimized" and r.get("action_id") == aid), None)
    if opt is None:
        return ActionResult(act["uri"], "done", "the compaction did not commit: nothing to restore", 0, "compact", aid)
    before, after = int(opt["version_before"]), int(opt["version_after"])
    if before == after:
        return ActionResult(act["uri"], "done", "OPTIMIZE changed nothing: nothing to restore", 0, "compact", aid)
    tag = f"rotscan restore {run_id} {aid}"
    version = read_snapshot(storage, table).version
    details = {"version_before": before, "version_after": after}
    if version > after:
        info = _commit_info(storage, table, after + 1) or {}
        if version == after + 1 and info.get("userMetadata") == tag:
            return ActionResult(act["uri"], "done", f"already restored: version {version} is RESTORE TO VERSION AS OF "
                                f"{before}", 0, "compact", aid, details={**details, "version_restored": version})
        return ActionResult(act["uri"], "skipped", f"refused: the table has {version - after:,} commit(s) after the "
                            f"compaction (version {after}); RESTORE TO VERSION AS OF {before} would undo them", 0,
                            "compact", aid, details=details)
    from rotscan.spark.compact import restore_version

    journal.write("delta_restore_intent", action_id=aid, to_version=before)
    try:
        restore_version(ctx.spark(need_s3a=table.scheme == "s3a"), table, before, tag)
    except RotscanError as exc:
        return ActionResult(act["uri"], "failed", f"RESTORE TABLE TO VERSION AS OF {before} failed (were the "
                            f"original files vacuumed?): {exc}", 0, "compact", aid, details=details)
    now = read_snapshot(storage, table)
    journal.write("delta_restored", action_id=aid, to_version=before, version=now.version)
    return ActionResult(act["uri"], "done", f"RESTORE TABLE TO VERSION AS OF {before}: version {now.version} holds the "
                        f"{len(now.adds):,} original files again (the compacted files stay unreferenced until VACUUM)",
                        now.live_bytes, "compact", aid, len(now.adds), details={**details, "version_restored": now.version})


def _restore_files(ctx: CleanupContext, storage: WritableStorage, journal: Journal, act: dict[str, Any],
                   moves: list[dict[str, Any]], restored: set[int], pending: set[int]) -> ActionResult:
    base = parse(act["uri"])
    aid = act["action_id"]
    compacted = [r for r in moves if parse(r["dst"]).is_within(base)]
    small = [r for r in moves if parse(r["src"]).is_within(base)]
    # the compacted files must still be the ones this run wrote: else putting the originals back
    # would double or lose rows
    for rec in compacted:
        if rec["n"] in restored:
            continue
        dst = parse(rec["dst"])
        st = fpmod.file_state(storage, dst)
        if st is None:
            if fpmod.file_state(storage, parse(rec["src"])) is not None:
                continue  # already moved out by an interrupted restore
            return ActionResult(act["uri"], "skipped", f"refused: the compacted file {dst.name} is gone; putting the "
                                "originals back could double or lose rows", 0, "compact", aid)
        if st.size != int(rec["size"]) or storage.sha256(dst) != rec["sha256"]:
            return ActionResult(act["uri"], "skipped", f"refused: the compacted file {dst.name} changed since the "
                                "compaction; putting the originals back could double or lose rows", 0, "compact", aid)
    mode = "rename" if storage.atomic_rename else "copy"
    problems = []
    for rec in [*compacted, *small]:
        if rec["n"] in restored:
            continue
        status, why = move_back(storage, rec, mode, journal, pending=rec["n"] in pending)
        if status != "done":
            problems.append(f"{parse(rec['src']).name}: {why}")
    if problems:
        return ActionResult(act["uri"], "failed", f"{len(problems)} file(s) not restored: " + "; ".join(problems[:3]), 0,
                            "compact", aid)
    if act.get("staging"):
        _discard(storage, parse(str(act["staging"])))
    nbytes = sum(int(r["size"]) for r in small)
    return ActionResult(act["uri"], "done", f"restored the {len(small):,} original file(s) byte for byte and removed the "
                        f"{len(compacted):,} compacted one(s)", nbytes, "compact", aid, len(small),
                        details={"files_restored": len(small), "files_removed": len(compacted)})


def estimate_after(nbytes: int, partitions: int, target: int) -> int:
    return max(max(partitions, 1), math.ceil(nbytes / target))

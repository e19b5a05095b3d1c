"""``drop_partitions``: take the expired partitions of an ``expired_partitions`` finding
(:mod:`rotscan.detect.partition_retention`) out of their dataset — and nothing else of it.

**Hive-partitioned directories** (Parquet, ORC, CSV…): each expired partition directory
(``dt=2024-01-31``, or ``region=eu/dt=2024-01-31``) is moved file by file into the run's quarantine
through the journaled :class:`~rotscan.cleanup.quarantine.Mover`, exactly like a quarantined
dataset (``<root>/_rotscan/quarantine/<run_id>/<dataset>/<partition>/…``); the emptied directories
are removed. ``rotscan restore`` puts every file back byte for byte (the generic quarantine restore);
``purge`` deletes them for good.

**Delta tables**: one ``DELETE FROM delta.`<table>` WHERE <predicate>`` whose predicate names only
the partition columns the policy dates by (``dt IN ('2024-01-30', '2024-01-31')``; split columns as
``(year = '2024' AND month = '1') OR …``; identifiers back-quoted, values quoted and escaped), so
Delta removes whole files from the live snapshot and rewrites none. The commit carries
``rotscan <run_id> <action_id>`` as its ``userMetadata`` (a run killed during DELETE tells from the
log whether it committed), and the removed files are checked against the plan's. Then ``VACUUM``
at the table's own retention (``delta.deletedFileRetentionDuration``, never below it, never with
the retention check turned off): the deleted partitions' files stay in storage for time travel and
go only when a VACUUM runs after the retention has passed. The journal records the version before,
the DELETE's version, what VACUUM deleted and the version after. ``restore`` runs ``RESTORE TABLE …
TO VERSION AS OF <the DELETE's version - 1>`` — the table just before the DELETE, including any
commit that came between apply's check and the DELETE — refused when the table has other commits
since the DELETE, which it would undo (VACUUM's own log entries are not such commits).

What a plan says is checked again at apply time whatever its checksums say: every partition must
be a ``key=value`` path of the dataset's own partition columns (never ``..``, never outside the
dataset), the planned files must lie inside the planned partitions, the Delta predicate is rebuilt
from the values (the plan's text is for reviewers), and each partition must still hold exactly the
files the plan saw (a partition written since is a change: the action is skipped, nothing moved).
Partitions the policy keeps may change freely — a live table gets today's partition every day.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any, Protocol

from rotscan.cleanup import fingerprint as fpmod
from rotscan.cleanup.audit import AuditLog
from rotscan.cleanup.context import ActionResult, CleanupContext
from rotscan.cleanup.journal import Journal, RunLayout
from rotscan.cleanup.quarantine import Changed, move_back
from rotscan.cleanup.runsteps import PlannedAction, RunSteps, child, rel_join
from rotscan.cleanup.safety import STATE_DIR, Refused, check_age
from rotscan.crawl import formats
from rotscan.errors import RotscanError, StorageError, VanishedError
from rotscan.models import Dataset, Finding
from rotscan.storage.base import WritableStorage
from rotscan.uri import Uri, parse

ACTION = "drop_partitions"
KIND = "expired_partitions"
AUDIT_HIVE = "drop_partitions"  # counted as quarantined
AUDIT_DELTA = "delete_partitions"  # counted as partitions_deleted
_SHOWN = 3


class StalePartitions(Exception):
    """A partition is not what the scan saw (files added, removed or changed since)."""


# -- what a plan may say -------------------------------------------------------------------------

def _hidden(rel: str) -> bool:
    """Spark's rule: a path part starting with ``_`` or ``.`` is no data (``.crc``, ``_SUCCESS``)."""
    return any(part.startswith(("_", ".")) for part in rel.split("/"))


def check_partition_path(path: Any, columns: Sequence[str]) -> str:
    """A Hive partition path of the plan, validated: ``key=value`` segments only, keys among the
    dataset's partition ``columns`` in their order, nothing that leaves the dataset."""
    if not isinstance(path, str) or not path or path.startswith("/") or "\\" in path or "\x00" in path:
        raise Refused(f"partition path {path!r} is not a relative key=value path of the dataset")
    keys = []
    for seg in path.split("/"):
        m = formats.PARTITION_DIR.match(seg)
        if seg in ("", ".", "..") or m is None or seg.startswith((".", "_")) or seg == STATE_DIR:
            raise Refused(f"partition path {path!r} is not a relative key=value path of the dataset")
        keys.append(m.group(1))
    if keys != list(columns[: len(keys)]):
        raise Refused(f"partition path {path!r} does not follow the dataset's partition columns "
                      f"({', '.join(columns)})")
    return path


def _values(raw: Any, columns: Sequence[str]) -> dict[str, str]:
    """A Delta partition's values from the plan: exactly the policy's columns, each a string."""
    if not isinstance(raw, Mapping) or sorted(raw) != sorted(columns) or \
            not all(isinstance(v, str) for v in raw.values()):
        raise Refused(f"partition values {raw!r} are not a value for each of the columns {', '.join(columns)}")
    return {c: str(raw[c]) for c in columns}


def quote_identifier(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def quote_literal(value: str) -> str:
    """A Spark SQL string literal (Spark unescapes backslash sequences in literals)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def predicate(columns: Sequence[str], partitions: Sequence[Mapping[str, str]]) -> str:
    """The DELETE predicate over exactly ``columns`` selecting ``partitions`` (values per column)."""
    if not partitions:
        raise Refused("no partition to delete")
    if len(columns) == 1:
        col = columns[0]
        values = sorted({str(p[col]) for p in partitions})
        return f"{quote_identifier(col)} IN ({', '.join(quote_literal(v) for v in values)})"
    terms = sorted({"(" + " AND ".join(f"{quote_identifier(c)} = {quote_literal(str(p[c]))}" for c in columns) + ")"
                    for p in partitions})
    return " OR ".join(terms)


def _columns(a: PlannedAction) -> tuple[str, ...]:
    cols = a.details.get("partition_columns")
    if not isinstance(cols, list) or not cols or not all(isinstance(c, str) and c for c in cols):
        raise Refused("the plan names no partition columns")
    return tuple(cols)


def _partitions(a: PlannedAction) -> list[dict[str, Any]]:
    parts = a.details.get("partitions")
    if not isinstance(parts, list) or not parts or not all(isinstance(p, dict) for p in parts):
        raise Refused("the plan lists no partitions")
    return parts


def _mode(a: PlannedAction) -> str:
    mode = a.details.get("mode")
    if mode not in ("hive", "delta"):
        raise Refused(f"unknown partition layout {mode!r}")
    return str(mode)


def _label(p: Mapping[str, Any]) -> str:
    if p.get("path"):
        return str(p["path"])
    vals = p.get("values") or {}
    return ", ".join(f"{c}={v}" for c, v in vals.items()) if isinstance(vals, Mapping) else "?"


def _some(parts: Sequence[Mapping[str, Any]]) -> str:
    shown = ", ".join(_label(p) for p in parts[:_SHOWN])
    return shown + (f" and {len(parts) - _SHOWN:,} more" if len(parts) > _SHOWN else "")


def covers(a: PlannedAction, uri: Uri) -> bool:
    """True when ``a`` (a drop_partitions action) takes ``uri`` out: it lies in an expired Hive
    partition (a Delta table's paths all stay; its DELETE removes rows)."""
    if a.details.get("mode") != "hive":
        return False
    base = parse(a.uri)
    return any(uri.is_within(child(base, str(p.get("path") or ""))) and p.get("path")
               for p in a.details.get("partitions") or () if isinstance(p, dict))


class _Guard(Protocol):
    def check(self, action: str, uri: Uri) -> list[Any]: ...


def check_catalog(guard: _Guard, a: PlannedAction, uri: Uri) -> list[Any]:
    """The catalog check of a drop_partitions action (:class:`rotscan.cleanup.tables.TableGuard`):
    a Delta table registered in the catalog stays what its entry says — DELETE is a commit of the
    table, its location and files stay — so it is checked like VACUUM; a registered Hive-partitioned
    table is refused (its metastore partitions would point at quarantined directories). Never any
    table entry to drop (returns [])."""
    if a.details.get("mode") == "delta":
        return list(guard.check("vacuum", uri))
    try:
        guard.check("drop_partitions", uri)
    except Refused as exc:
        raise Refused(f"{exc}; rotscan does not drop partitions of a registered Hive table (the metastore's "
                      "partitions would point at quarantined directories): use ALTER TABLE … DROP PARTITION") from exc
    return []


# -- plan ----------------------------------------------------------------------------------------

def _finding(findings: Sequence[Finding]) -> Finding:
    f = next((f for f in findings if f.kind == KIND), None)
    if f is None:
        raise Refused("no expired_partitions finding for this path")
    return f


def plan_details(findings: Sequence[Finding], storage: WritableStorage, uri: Uri, ds: Dataset | None,
                 scan_started: float) -> tuple[dict[str, Any], fpmod.Fingerprint]:
    """The details and fingerprint a ``drop_partitions`` action records: every expired partition of
    the finding with its files as they are now — raises :class:`StalePartitions` when one is not
    what the scan saw, :class:`Refused` when the finding names something that is no partition."""
    f = _finding(findings)
    e = f.evidence
    columns = tuple(str(c) for c in e.get("partition_columns") or ())
    expired = e.get("expired")
    if not columns or not isinstance(expired, list) or not expired:
        raise Refused("the finding lists no expired partitions")
    if ds is None:
        raise Refused("the dataset is not in the scan's inventory")
    base = {"partition_columns": list(columns), "policy": e.get("policy"), "max_age_days": e.get("max_age_days"),
            "date_format": e.get("date_format"), "all_expired": bool(e.get("all_expired")),
            "partitions_in_dataset": e.get("partitions"), "dataset_partition_columns": list(ds.partition_columns)}
    if ds.layout == "delta":
        return _plan_delta(storage, uri, ds, columns, expired, base)
    if ds.layout != "hive_partitioned":
        raise Refused(f"partitions are dropped from Hive-partitioned directories and Delta tables, not {ds.layout}")
    files: list[fpmod.FileState] = []
    dirs: list[str] = []
    links: list[str] = []
    parts = []
    for u in expired:
        path = check_partition_path(u.get("path"), ds.partition_columns)
        try:
            fp = fpmod.take(storage, child(uri, path))
        except VanishedError:
            raise StalePartitions(f"partition {path} no longer exists") from None
        if not fp.is_dir:
            raise Refused(f"partition {path} is not a directory")
        # the scan counted the data files; the partition also holds checksums, markers, junk — all moved
        data = [x for x in fp.files if not _hidden(x.rel)]
        nbytes = sum(x.size for x in data)
        if len(data) < int(u.get("files", 0)) or nbytes < int(u.get("bytes", 0)):
            raise StalePartitions(f"partition {path} holds {len(data):,} data files / {nbytes:,} bytes, fewer than the "
                                  f"scan's {u.get('files')} / {u.get('bytes')}")
        newest = fp.newest_mtime
        if newest is not None and newest >= scan_started:
            raise StalePartitions(f"partition {path} was modified after the scan")
        files += [fpmod.FileState(rel_join(path, x.rel), x.size, x.mtime) for x in fp.files]
        dirs += [path] + [rel_join(path, d) for d in fp.dirs]
        links += [rel_join(path, s) for s in fp.symlinks]
        parts.append({"path": path, "values": u.get("values"), "date": u.get("date"), "files": len(fp.files),
                      "bytes": fp.bytes})
    fp_all = fpmod.Fingerprint(is_dir=True, files=tuple(sorted(files, key=lambda x: x.rel)), dirs=tuple(sorted(dirs)),
                               symlinks=tuple(sorted(links)))
    return {**base, "mode": "hive", "partitions": parts}, fp_all


def _delta_files(storage: WritableStorage, uri: Uri, columns: Sequence[str],
                 wanted: Sequence[Mapping[str, str]]) -> tuple[Any, dict[int, list[fpmod.FileState]]]:
    """(the table's snapshot now, the live files of each wanted partition by index)."""
    from rotscan.crawl.delta_log import DeltaLogError, read_snapshot

    try:
        snap = read_snapshot(storage, uri)
    except DeltaLogError as exc:
        raise Refused(f"the Delta log cannot be read: {exc}") from exc
    missing = [c for c in columns if c not in snap.partition_columns]
    if missing:
        raise Refused(f"{', '.join(missing)} is not a partition column of the table now "
                      f"({', '.join(snap.partition_columns) or 'not partitioned'})")
    index = {tuple(p[c] for c in columns): i for i, p in enumerate(wanted)}
    out: dict[int, list[fpmod.FileState]] = {i: [] for i in range(len(wanted))}
    for add in snap.adds.values():
        key = tuple(add.partition_values.get(c) for c in columns)
        i = index.get(key)  # type: ignore[arg-type]
        if i is None:
            continue
        if not add.path.is_within(uri):
            raise Refused(f"the live file {add.path} of partition {key} lies outside the table")
        mtime = add.modification_time if add.modification_time is not None else 0.0
        out[i].append(fpmod.FileState(add.path.relative_to(uri), add.size, round(mtime, 3)))
    return snap, out


def _plan_delta(storage: WritableStorage, uri: Uri, ds: Dataset, columns: tuple[str, ...], expired: list[Any],
                base: dict[str, Any]) -> tuple[dict[str, Any], fpmod.Fingerprint]:
    wanted = [_values(u.get("values"), columns) for u in expired]
    snap, live = _delta_files(storage, uri, columns, wanted)
    files: list[fpmod.FileState] = []
    parts = []
    for i, u in enumerate(expired):
        mine = live[i]
        nbytes = sum(x.size for x in mine)
        if (len(mine), nbytes) != (int(u.get("files", -1)), int(u.get("bytes", -1))):
            raise StalePartitions(f"partition {_label(u)} holds {len(mine):,} live files / {nbytes:,} bytes, the scan "
                                  f"saw {u.get('files')} / {u.get('bytes')}")
        files += mine
        parts.append({"values": wanted[i], "date": u.get("date"), "files": len(mine), "bytes": nbytes})
    fp = fpmod.Fingerprint(is_dir=True, files=tuple(sorted(files, key=lambda x: x.rel)), delta_version=snap.version)
    return {**base, "mode": "delta", "partitions": parts, "predicate": predicate(columns, wanted),
            "retention_hours": snap.retention_hours}, fp


# -- apply: revalidation and dry run -------------------------------------------------------------

def _check_files_inside(a: PlannedAction, paths: Sequence[str]) -> None:
    for f in a.fingerprint.files:
        if not any(f.rel.startswith(p + "/") for p in paths):
            raise Refused(f"the plan lists the file {f.rel!r}, which lies in none of its partitions")


def revalidate(a: PlannedAction, storage: WritableStorage, uri: Uri, moved: frozenset[str], now: float,
               min_age_hours: float) -> int | None:
    """Raise :class:`Refused` or :class:`Changed` unless every planned partition is still exactly
    what the plan saw (``moved``: files an interrupted run already quarantined). Returns the Delta
    version checked (None for Hive)."""
    columns = _columns(a)
    parts = _partitions(a)
    if _mode(a) == "delta":
        wanted = [_values(p.get("values"), columns) for p in parts]
        snap, live = _delta_files(storage, uri, columns, wanted)
        now_files = sorted((f for fs in live.values() for f in fs), key=lambda x: x.rel)
        expected = {(f.rel, f.size) for f in a.fingerprint.files}
        have = {(f.rel, f.size) for f in now_files}
        if have != expected:
            gone, new = sorted(expected - have), sorted(have - expected)
            what = [f"{len(new):,} new file(s) (e.g. {new[0][0]})"] if new else []
            what += [f"{len(gone):,} file(s) no longer live (e.g. {gone[0][0]})"] if gone else []
            raise Changed("the expired partitions changed since the plan: " + "; ".join(what))
        check_age(fpmod.Fingerprint(is_dir=True, files=tuple(now_files)), now, min_age_hours)
        return int(snap.version)
    listed = a.details.get("dataset_partition_columns")
    cols = tuple(listed) if isinstance(listed, list) and all(isinstance(c, str) for c in listed) else columns
    paths = [check_partition_path(p.get("path"), cols) for p in parts]
    if not set(columns) <= {seg.split("=", 1)[0] for p in paths for seg in p.split("/")}:
        raise Refused("a planned partition path does not hold the policy's date column(s)")
    for p in paths:
        if any(q != p and (q.startswith(p + "/") or p.startswith(q + "/")) for q in paths):
            raise Refused(f"partition {p} is listed inside another planned partition")
    _check_files_inside(a, paths)
    current: list[fpmod.FileState] = []
    for p in paths:
        try:
            fp = fpmod.take(storage, child(uri, p))
        except VanishedError:
            continue  # every file of it moved already (resume), or gone: compared below
        if fp.symlinks:
            raise Refused(f"partition {p} holds a symlink ({fp.symlinks[0]}); rotscan never moves symlinks")
        current += [fpmod.FileState(rel_join(p, f.rel), f.size, f.mtime) for f in fp.files]
    expected_fp = fpmod.Fingerprint(is_dir=True, files=tuple(f for f in a.fingerprint.files if f.rel not in moved))
    now_fp = fpmod.Fingerprint(is_dir=True, files=tuple(sorted(current, key=lambda x: x.rel)))
    diffs = fpmod.differences(expected_fp, now_fp)
    if diffs:
        raise Changed("; ".join(diffs))
    check_age(now_fp, now, min_age_hours)
    return None


def _key(values: Any) -> tuple[tuple[str, str | None], ...] | None:
    if not isinstance(values, Mapping):
        return None
    return tuple(sorted((str(k), None if v is None else str(v)) for k, v in values.items()))


def check_still_expired(a: PlannedAction, now: float, scan_findings: Sequence[Finding] | None) -> None:
    """Every planned partition must still be past the policy now (its values dated in the plan's
    format), and — when the scan's findings.json is still there — one the scan found expired in the
    findings the action names. A plan edited to name a kept partition is refused either way."""
    from datetime import datetime, timezone

    from rotscan.detect.partition_retention import DATE_FORMATS, period

    columns = _columns(a)
    fmt = a.details.get("date_format")
    fmt = "YYYY-MM-DD" if fmt == "split" else fmt
    if fmt not in DATE_FORMATS:
        raise Refused(f"unknown date format {fmt!r} in the plan")
    try:
        max_age = float(a.details.get("max_age_days"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise Refused("the plan gives no max_age_days") from None
    as_of = datetime.fromtimestamp(now, tz=timezone.utc)
    for p in _partitions(a):
        values = p.get("values")
        if not isinstance(values, Mapping):
            raise Refused(f"partition {_label(p)} has no values in the plan")
        span = period([values.get(c) for c in columns], str(fmt))
        if span is None:
            raise Refused(f"partition {_label(p)} holds no date in {', '.join(columns)}: never expired")
        end = datetime(span[1].year, span[1].month, span[1].day, tzinfo=timezone.utc)
        if as_of - end <= timedelta(days=max_age):
            raise Refused(f"partition {_label(p)} is not past the policy's {max_age:g} days")
    if scan_findings is None:
        return
    found = [f for f in scan_findings if f.id in a.finding_ids and f.kind == KIND and f.uri == a.uri]
    if not found:
        raise Refused("the scan's findings.json holds no expired_partitions finding of this action for this path")
    expired = {_key(u.get("values")) for f in found for u in f.evidence.get("expired") or () if isinstance(u, dict)}
    for p in _partitions(a):
        if _key(p.get("values")) not in expired:
            raise Refused(f"partition {_label(p)} is not one the scan found expired")


def dry_run(a: PlannedAction) -> ActionResult:
    parts = _partitions(a)
    n, nbytes = len(a.fingerprint.files), a.bytes
    every = "; every partition of the dataset is expired: it would be left empty" if a.details.get("all_expired") else ""
    if _mode(a) == "delta":
        hours = a.details.get("retention_hours")
        how = (f"DELETE FROM the Delta table WHERE {predicate(_columns(a), [_values(p['values'], _columns(a)) for p in parts])} "
               f"({len(parts):,} partition(s): {_some(parts)}; {n:,} live file(s), {nbytes:,} bytes), then VACUUM at the "
               f"table's {hours if hours is not None else '?'} h retention (the files go only after it; until then "
               "restore runs RESTORE TABLE TO VERSION AS OF the version before)")
    else:
        how = f"move {len(parts):,} partition(s) to quarantine ({_some(parts)}; {n:,} file(s), {nbytes:,} bytes)"
    return ActionResult(a.uri, "done", f"dry run: would {how}{every}", nbytes, a.action, a.id, n,
                        details={"mode": a.details.get("mode"), "partitions": len(parts)})


# -- execute: Hive ---------------------------------------------------------------------------------

def _end(run: RunSteps, a: PlannedAction, root: Uri, status: str, reason: str, event: str, nbytes: int = 0,
         files: int = 0, details: dict[str, Any] | None = None) -> ActionResult:
    run.journal(root).write("action_end", action_id=a.id, status=status, reason=reason, bytes=nbytes, files=files,
                            details=details)
    run.audit(root).record(event, run_id=run.run_id, uri=a.uri, bytes=nbytes if status == "done" else 0,
                           status=status, reason=reason, files=files, kinds=list(a.kinds),
                           finding_ids=list(a.finding_ids), details=details)
    return ActionResult(a.uri, status, reason, nbytes if status == "done" else 0, a.action, a.id, files,
                        details=details)


def execute(run: RunSteps, a: PlannedAction, *, uri: Uri, root: Uri, storage: WritableStorage,
            already: list[dict[str, Any]], records: list[dict[str, Any]], version: int | None) -> ActionResult:
    """Drop the action's partitions (``already``: moves an interrupted run of it finished;
    ``version``: the Delta version :func:`revalidate` checked)."""
    if _mode(a) == "delta":
        assert version is not None
        return _execute_delta(run, a, uri, root, version)
    j = run.journal(root)
    parts = _partitions(a)
    paths = [str(p["path"]) for p in parts]
    if not already:
        j.write("action", action_id=a.id, uri=a.uri, action=a.action, kinds=list(a.kinds), rel=a.rel, mode="hive",
                is_dir=True, dirs=list(a.fingerprint.dirs), bytes=a.bytes, partitions=paths)
    moved = {parse(r["src"]).relative_to(uri) for r in already if parse(r["src"]).is_within(uri)}
    mover = run.mover(root)
    quarantine = RunLayout(root, run.run_id).quarantine
    done = list(already)
    for f in a.fingerprint.files:
        if f.rel in moved:
            continue
        try:
            done.append(mover.move(a.id, child(uri, f.rel), child(quarantine, rel_join(a.rel, f.rel)), f))
        except (Changed, StorageError) as exc:
            return _roll_back(run, a, root, storage, done, f"partitions not dropped: {exc}",
                              "skipped" if isinstance(exc, Changed) else "failed")
    left = []
    for d in sorted(a.fingerprint.dirs, key=lambda d: -d.count("/")):
        try:
            storage.delete(child(uri, d))
        except VanishedError:
            pass
        except StorageError:
            left.append(d)
    nbytes = sum(int(r["size"]) for r in done)
    reason = (f"moved {len(parts):,} expired partition(s) to quarantine ({_some(parts)}; {len(done):,} file(s)); "
              "restore puts them back")
    if a.details.get("all_expired"):
        reason += "; every partition was expired: the dataset directory holds no partition now"
    if left:
        reason += f"; directories left in place because new files appeared: {', '.join(left[:3])}"
    details = {"mode": "hive", "partitions": paths, "quarantine": str(child(quarantine, a.rel))}
    return _end(run, a, root, "done", reason, AUDIT_HIVE, nbytes, len(done), details)


def _roll_back(run: RunSteps, a: PlannedAction, root: Uri, storage: WritableStorage, done: list[dict[str, Any]],
               why: str, status_if_put_back: str) -> ActionResult:
    j = run.journal(root)
    mode = run.mover(root).mode
    failed = sum(move_back(storage, rec, mode, j)[0] != "done" for rec in reversed(done))
    if failed:
        return _end(run, a, root, "failed", f"{why}; {failed} file(s) could not be moved back and stay in "
                    "quarantine (see `rotscan restore`)", AUDIT_HIVE)
    back = f"; the {len(done):,} file(s) already moved were put back" if done else ""
    return _end(run, a, root, status_if_put_back, why + back, AUDIT_HIVE)


# -- execute: Delta ------------------------------------------------------------------------------

def _tag(run_id: str, action_id: str) -> str:
    return f"rotscan {run_id} {action_id}"


def _commit(storage: WritableStorage, table: Uri, version: int) -> list[dict[str, Any]]:
    name = f"{version:020d}.json"
    try:
        with storage.open_read(table.child(fpmod.DELTA_LOG).child(name)) as fh:
            return [json.loads(line) for line in fh.read().decode("utf-8").splitlines() if line.strip()]
    except VanishedError:
        return []


def _commit_info(actions: list[dict[str, Any]]) -> dict[str, Any]:
    return next((dict(x["commitInfo"]) for x in actions if isinstance(x.get("commitInfo"), dict)), {})


def _find_tagged(storage: WritableStorage, table: Uri, after: int, tag: str) -> tuple[int | None, int]:
    from rotscan.crawl.delta_log import read_snapshot

    latest = read_snapshot(storage, table).version
    for v in range(after + 1, latest + 1):
        if _commit_info(_commit(storage, table, v)).get("userMetadata") == tag:
            return v, latest
    return None, latest


def _removed(storage: WritableStorage, table: Uri, version: int) -> set[str]:
    from urllib.parse import unquote

    out = set()
    for x in _commit(storage, table, version):
        rm = x.get("remove")
        if isinstance(rm, dict) and rm.get("path"):
            p = str(rm["path"])
            u = parse(p) if "://" in p or p.startswith("file:") else child(table, unquote(p))
            out.add(u.relative_to(table) if u.is_within(table) else str(u))
    return out


def _execute_delta(run: RunSteps, a: PlannedAction, uri: Uri, root: Uri, version: int) -> ActionResult:
    from rotscan.spark.delta_partitions import delete_where

    columns = _columns(a)
    parts = _partitions(a)
    pred = predicate(columns, [_values(p.get("values"), columns) for p in parts])
    j = run.journal(root)
    j.write("action", action_id=a.id, uri=a.uri, action=a.action, kinds=list(a.kinds), rel=a.rel, mode="delete",
            version_before=version, predicate=pred, partitions=[p.get("values") for p in parts], is_dir=True, dirs=[])
    run.ctx.fault_hook("delete", 1)
    delete_where(run.ctx.spark(need_s3a=uri.scheme == "s3a"), uri, pred, _tag(run.run_id, a.id))
    run.ctx.fault_hook("deleted", 1)
    ours, _ = _find_tagged(run.ctx.storage(uri), uri, version, _tag(run.run_id, a.id))
    if ours is None:
        return _end(run, a, root, "done", f"Delta DELETE found no rows in the expired partitions at version {version}",
                    AUDIT_DELTA, 0, 0, {"mode": "delta", "version_before": version, "version_deleted": None})
    return _finish_delta(run, a, uri, root, version, ours)


def resume_delta(run: RunSteps, a: PlannedAction, root: Uri, records: list[dict[str, Any]]) -> ActionResult | None:
    """An interrupted Delta partition delete: finished (VACUUM and the record) when its DELETE
    commit is in the log; None when it never committed (the action starts again, revalidated)."""
    acts = [r for r in records if r.get("op") == "action" and r.get("action_id") == a.id and r.get("mode") == "delete"]
    if not acts:
        return None
    before = int(acts[-1]["version_before"])
    uri = parse(a.uri)
    ours, _ = _find_tagged(run.ctx.storage(uri), uri, before, _tag(run.run_id, a.id))
    if ours is None:
        return None
    return _finish_delta(run, a, uri, root, before, ours, recovered=True)


def _finish_delta(run: RunSteps, a: PlannedAction, uri: Uri, root: Uri, before: int, deleted: int,
                  recovered: bool = False) -> ActionResult:
    from rotscan.cleanup.vacuum import vacuum
    from rotscan.crawl.delta_log import read_snapshot

    storage = run.ctx.storage(uri)
    j = run.journal(root)
    parts = _partitions(a)
    removed = _removed(storage, uri, deleted)
    planned = {f.rel for f in a.fingerprint.files}
    sizes = {f.rel: f.size for f in a.fingerprint.files}
    extra = sorted(removed - planned)
    nbytes = sum(sizes.get(r, 0) for r in removed & planned)
    j.write("partitions_deleted", action_id=a.id, version_before=before, version_deleted=deleted,
            removed=sorted(removed), bytes=nbytes, extra=extra, recovered=recovered)
    snap = read_snapshot(storage, uri)
    retention = snap.retention_hours
    listed = fpmod.take(storage, uri)
    run.ctx.fault_hook("vacuum", 1)
    try:
        vacuum(run.ctx.spark(need_s3a=uri.scheme == "s3a"), uri, retention)
        vacuum_error = None
    except RotscanError as exc:
        vacuum_error = str(exc)
    after = fpmod.take(storage, uri)
    remaining = {f.rel for f in after.files}
    gone = [f for f in listed.files if f.rel not in remaining and not f.rel.startswith(fpmod.DELTA_LOG + "/")]
    version_after = read_snapshot(storage, uri).version
    j.write("partitions_vacuumed", action_id=a.id, retention_hours=retention, files=[f.to_list() for f in gone],
            bytes=sum(f.size for f in gone), version_after=version_after, error=vacuum_error)
    details = {"mode": "delta", "version_before": before, "version_deleted": deleted, "version_after": version_after,
               "partitions": [p.get("values") for p in parts], "files_removed": len(removed),
               "retention_hours": retention, "vacuum_deleted_files": len(gone),
               "vacuum_deleted_bytes": sum(f.size for f in gone),
               "restore": f"RESTORE TABLE TO VERSION AS OF {deleted - 1}"}
    reason = (f"Delta DELETE of {len(parts):,} expired partition(s) ({_some(parts)}) committed version {deleted} "
              f"(before: {before}), {len(removed):,} file(s), {nbytes:,} bytes out of the live table; ")
    if vacuum_error is None:
        reason += (f"VACUUM at the table's {retention:g} h retention deleted {len(gone):,} older file(s); the deleted "
                   f"partitions' files stay for time travel until a VACUUM after {retention:g} h (restore until then: "
                   f"RESTORE TABLE TO VERSION AS OF {deleted - 1})")
    else:
        reason += f"VACUUM failed ({vacuum_error}); the files stay for time travel until a later VACUUM"
    if extra:
        reason += (f"; the DELETE also removed {len(extra):,} file(s) written into those partitions after the check "
                   f"(e.g. {extra[0]}); restore brings them back")
    if a.details.get("all_expired"):
        reason += "; every partition was expired: the table holds no rows of them now"
    return _end(run, a, root, "done", reason, AUDIT_DELTA, nbytes, len(removed), details)


# -- restore (Delta; Hive partitions come back through the generic quarantine restore) ------------

def restore_delta(ctx: CleanupContext, storage: WritableStorage, journal: Journal, audit: AuditLog, run_id: str,
                  act: dict[str, Any], records: list[dict[str, Any]]) -> ActionResult:
    """``RESTORE TABLE … TO VERSION AS OF`` the version before the partition delete — refused
    when the table has commits since, other than VACUUM's own log entries and this restore."""
    res = _restore_delta(ctx, storage, journal, run_id, act, records)
    audit.record("restore", run_id=run_id, uri=act["uri"], bytes=res.bytes, status=res.status, reason=res.reason,
                 restored_action=AUDIT_DELTA, details=res.details)
    return res


_DATA_NEUTRAL = ("VACUUM START", "VACUUM END")


def _restore_delta(ctx: CleanupContext, storage: WritableStorage, journal: Journal, run_id: str,
                   act: dict[str, Any], records: list[dict[str, Any]]) -> ActionResult:
    from rotscan.crawl.delta_log import read_snapshot

    table = parse(act["uri"])
    aid = act["action_id"]
    rec = next((r for r in reversed(records) if r.get("op") == "partitions_deleted" and r.get("action_id") == aid),
               None)
    if rec is None:
        return ActionResult(act["uri"], "done", "the partition delete did not commit: nothing to restore", 0, ACTION,
                            aid)
    # the version the DELETE read: the table just before it, with any commit that came between
    # apply's check and the DELETE (RESTORE to the checked version would undo those)
    deleted = int(rec["version_deleted"])
    before = deleted - 1
    tag = f"rotscan restore {run_id} {aid}"
    details = {"version_before": int(rec["version_before"]), "version_deleted": deleted, "restored_to": before}
    latest = read_snapshot(storage, table).version
    for v in range(deleted + 1, latest + 1):
        info = _commit_info(_commit(storage, table, v))
        if info.get("userMetadata") == tag:
            return ActionResult(act["uri"], "done", f"already restored: version {v} is RESTORE TO VERSION AS OF "
                                f"{before}", 0, ACTION, aid, details={**details, "version_restored": v})
        if str(info.get("operation") or "") not in _DATA_NEUTRAL:
            later = sum(1 for w in range(v, latest + 1)
                        if str(_commit_info(_commit(storage, table, w)).get("operation") or "") not in _DATA_NEUTRAL)
            return ActionResult(act["uri"], "skipped", f"refused: the table has {later:,} commit(s) after the partition "
                                f"delete (version {deleted}), e.g. version {v} ({info.get('operation')}); RESTORE TO "
                                f"VERSION AS OF {before} would undo them", 0, ACTION, aid, details=details)
    from rotscan.spark.compact import restore_version

    journal.write("delta_restore_intent", action_id=aid, to_version=before)
    try:
        restore_version(ctx.spark(need_s3a=table.scheme == "s3a"), table, before, tag)
    except RotscanError as exc:
        return ActionResult(act["uri"], "failed", f"RESTORE TABLE TO VERSION AS OF {before} failed (were the deleted "
                            f"partitions' files vacuumed after the retention?): {exc}", 0, ACTION, aid, details=details)
    now = read_snapshot(storage, table)
    journal.write("delta_restored", action_id=aid, to_version=before, version=now.version)
    nbytes = int(rec.get("bytes") or 0)
    return ActionResult(act["uri"], "done", f"RESTORE TABLE TO VERSION AS OF {before}: version {now.version} holds the "
                        f"deleted partitions' {len(rec.get('removed') or ()):,} file(s) again", nbytes, ACTION, aid,
                        len(rec.get("removed") or ()), details={**details, "version_restored": now.version})


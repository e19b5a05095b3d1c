"""``CleanupPlan``: the reviewable, editable list of actions ``rotscan apply`` may take.

A plan is built from a scan's ``findings.json`` and the storage as it is at plan time: one action
per path, each with its reason, finding ids, bytes and the fingerprint of what is there
(:mod:`rotscan.cleanup.fingerprint`). A person may delete actions from the file; each action carries
its own SHA-256 over its fields, so removing actions is fine but editing one is detected and the
action refused. The header (plan id, scan, roots) has its own checksum. The checksums detect edits,
not an adversary who recomputes them: the safety rules are enforced again at apply time whatever
the plan says.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rotscan import __version__
from rotscan.cleanup import fingerprint as fpmod
from rotscan.cleanup.archive import ArchiveSettings
from rotscan.cleanup.archive import plan_details as plan_archive
from rotscan.cleanup.compact import check_compactable
from rotscan.cleanup.compact import plan_details as plan_compact
from rotscan.cleanup.partitions import ACTION as DROP_PARTITIONS
from rotscan.cleanup.partitions import KIND as PARTITIONS_KIND
from rotscan.cleanup.partitions import StalePartitions
from rotscan.cleanup.partitions import covers as covers_partition
from rotscan.cleanup.partitions import plan_details as plan_partitions
from rotscan.cleanup.safety import (
    Refused,
    SafetyRules,
    check_delta,
    check_protect,
    check_symlinks,
    locate,
)
from rotscan.decisions import Applied, KeepRule, keep_label
from rotscan.errors import RotscanError, StorageError, VanishedError
from rotscan.models import Dataset, Finding, ScanResult, iso, now_utc, utc_from_epoch
from rotscan.storage.base import WritableStorage
from rotscan.uri import Uri, parse

PLAN_VERSION = 1
ACTIONABLE = ("quarantine", "delete", "vacuum", "compact", "archive")
# When one path has several findings with different actions, the least destructive wins.
# (drop_partitions: what an expired_partitions finding's quarantine/delete becomes — the expired
# partitions only, never the whole dataset; :mod:`rotscan.cleanup.partitions`.)
_PRIORITY = {"compact": 0, "vacuum": 1, DROP_PARTITIONS: 1.5, "archive": 2, "quarantine": 3, "delete": 4}
_REDUNDANT_KINDS = ("exact_duplicate", "near_duplicate", "subset", "projection")
# What a review-level finding becomes once a reviewer approved it (``rotscan decide --approve``).
# Every one is quarantined — moved into the root's quarantine, restorable until purged — because
# for none of them is a more destructive action safe without a person: a near-duplicate, a sampled
# subset or projection, a small exact copy, a recently written unread table, a superseded snapshot
# without usage data, a young empty table or young write debris, a constant table, an unreadable
# (corrupt) file, or a retention policy whose action is "review". A kind not listed is quarantined too.
APPROVED_ACTION: dict[str, str] = {
    "near_duplicate": "quarantine", "subset": "quarantine", "projection": "quarantine",
    "exact_duplicate": "quarantine", "unread": "quarantine", "superseded": "quarantine", "expired": "quarantine",
    "empty": "quarantine", "constant": "quarantine", "write_debris": "quarantine", "corrupt_file": "quarantine",
    PARTITIONS_KIND: DROP_PARTITIONS,
}


class PlanError(RotscanError):
    """A plan file is missing, unreadable, or its header was edited."""


def canonical_json(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sha256_of(obj: Any) -> str:
    return hashlib.sha256(canonical_json(obj)).hexdigest()


@dataclass(frozen=True)
class PlanAction:
    id: str
    uri: str
    root: str
    rel: str
    action: str
    kinds: tuple[str, ...]
    reason: str
    finding_ids: tuple[str, ...]
    bytes: int
    fingerprint: fpmod.Fingerprint
    related: tuple[str, ...] = ()
    # vacuum: what the scan said VACUUM would remove (Delta log view); bytes is that figure
    details: dict[str, Any] = field(default_factory=dict)

    def fields(self) -> dict[str, Any]:
        return {
            "id": self.id, "uri": self.uri, "root": self.root, "rel": self.rel, "action": self.action,
            "kinds": list(self.kinds), "reason": self.reason, "finding_ids": list(self.finding_ids),
            "bytes": self.bytes, "files": len(self.fingerprint.files),
            "newest_mtime": iso(utc_from_epoch(self.fingerprint.newest_mtime)),
            "related": list(self.related), "details": self.details,
            "fingerprint": self.fingerprint.to_dict(),
        }

    @property
    def checksum(self) -> str:
        return sha256_of(self.fields())

    def to_dict(self) -> dict[str, Any]:
        return {**self.fields(), "checksum": self.checksum}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PlanAction:
        return cls(
            id=str(d["id"]), uri=str(d["uri"]), root=str(d["root"]), rel=str(d["rel"]), action=str(d["action"]),
            kinds=tuple(d.get("kinds") or ()), reason=str(d.get("reason", "")),
            finding_ids=tuple(d.get("finding_ids") or ()), bytes=int(d.get("bytes", 0)),
            fingerprint=fpmod.Fingerprint.from_dict(d["fingerprint"]), related=tuple(d.get("related") or ()),
            details=dict(d.get("details") or {}),
        )


@dataclass(frozen=True)
class LoadedAction:
    """An action as read from a plan file: ``action`` is None when it cannot be parsed, and
    ``tampered`` says why it must be refused (checksum mismatch, malformed)."""

    raw: dict[str, Any]
    action: PlanAction | None
    tampered: str | None

    @property
    def uri(self) -> str:
        return str(self.raw.get("uri", "?"))


@dataclass(frozen=True)
class CleanupPlan:
    plan_id: str
    created: str
    tool_version: str
    scan: dict[str, Any]
    roots: tuple[str, ...]
    actions: tuple[PlanAction, ...]
    needs_review: tuple[dict[str, Any], ...] = ()
    not_planned: tuple[dict[str, Any], ...] = ()

    def header(self) -> dict[str, Any]:
        return {"plan_id": self.plan_id, "created": self.created, "tool_version": self.tool_version,
                "scan": self.scan, "roots": list(self.roots)}

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": PLAN_VERSION,
            "kind": "rotscan-cleanup-plan",
            **self.header(),
            "header_checksum": sha256_of(self.header()),
            "summary": {"actions": len(self.actions), "bytes": sum(a.bytes for a in self.actions),
                        "needs_review": len(self.needs_review), "not_planned": len(self.not_planned)},
            "actions": [a.to_dict() for a in self.actions],
            "needs_review": list(self.needs_review),
            "not_planned": list(self.not_planned),
        }

    @property
    def checksum(self) -> str:
        """Identifies the plan as planned (its header and every action's checksum)."""
        return sha256_of({"header": self.header(), "actions": [a.checksum for a in self.actions]})


@dataclass(frozen=True)
class LoadedPlan:
    header: dict[str, Any]
    roots: tuple[str, ...]
    actions: tuple[LoadedAction, ...]
    doc: dict[str, Any]

    @property
    def plan_id(self) -> str:
        return str(self.header["plan_id"])


def write_plan(plan: CleanupPlan, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(plan.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def load_plan_doc(doc: dict[str, Any]) -> LoadedPlan:
    if doc.get("kind") != "rotscan-cleanup-plan" or doc.get("version") != PLAN_VERSION:
        raise PlanError("not a rotscan cleanup plan (version 1)")
    try:
        header = {k: doc[k] for k in ("plan_id", "created", "tool_version", "scan", "roots")}
    except KeyError as exc:
        raise PlanError(f"plan header lacks {exc}") from exc
    if sha256_of(header) != doc.get("header_checksum"):
        raise PlanError("plan header (id, scan or roots) was edited after planning: header_checksum does not match; "
                        "make a new plan with `rotscan plan`")
    loaded = []
    for raw in doc.get("actions") or []:
        if not isinstance(raw, dict):
            loaded.append(LoadedAction({"uri": repr(raw)}, None, "malformed action"))
            continue
        try:
            act = PlanAction.from_dict(raw)
        except (KeyError, TypeError, ValueError) as exc:
            loaded.append(LoadedAction(raw, None, f"malformed action ({exc})"))
            continue
        if act.checksum != raw.get("checksum"):
            loaded.append(LoadedAction(raw, act, "action was edited after planning (checksum mismatch)"))
        else:
            loaded.append(LoadedAction(raw, act, None))
    return LoadedPlan(header=header, roots=tuple(header["roots"]), actions=tuple(loaded), doc=doc)


def read_plan(path: Path) -> LoadedPlan:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise PlanError(f"no plan file {path}") from exc
    except (OSError, ValueError) as exc:
        raise PlanError(f"{path} is not readable JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise PlanError(f"{path} is not a rotscan cleanup plan")
    return load_plan_doc(doc)


def _action_id(action: str, uri: str) -> str:
    return hashlib.sha1(f"{action}\x00{uri}".encode()).hexdigest()[:12]


def _stale(fp: fpmod.Fingerprint, findings: Sequence[Finding], ds: Dataset | None, scan_started: float) -> str | None:
    """Why the storage no longer matches what the scan saw, if it does not."""
    newest = fp.newest_mtime
    # findings.json keeps whole seconds: a file written in the second the scan started may be newer
    # than what the scan saw, so it counts as modified after the scan (the conservative side)
    if newest is not None and newest >= scan_started:
        return "modified after the scan"
    if ds is not None:
        if ds.delta is not None:
            if fp.delta_version != ds.delta.version:
                return f"Delta version is {fp.delta_version}, the scan saw {ds.delta.version}"
        elif ds.layout == "file":
            if fp.bytes != ds.bytes:
                return f"size is {fp.bytes:,} bytes, the scan saw {ds.bytes:,}"
        elif fp.bytes < ds.bytes or len(fp.files) < ds.files:
            return f"holds {len(fp.files):,} files / {fp.bytes:,} bytes, fewer than the scan's {ds.files:,} / {ds.bytes:,}"
    elif all(f.action != "vacuum" for f in findings):
        claimed = max(f.reclaimable_bytes for f in findings)
        if fp.bytes < claimed:
            return f"holds {fp.bytes:,} bytes, fewer than the {claimed:,} the scan saw"
    return None


@dataclass(frozen=True)
class _Verdict:
    """What the review decisions on one path's findings say: ``skip`` it (``why``), leave it for
    ``review``, or plan it (``None``) — with the review-level findings that were ``approved``."""

    verdict: str | None
    why: str = ""
    approved: tuple[Finding, ...] = ()


def _decided(findings: Sequence[Finding], blocked: Mapping[str, str], include_review: bool) -> _Verdict:
    for f in findings:
        d = f.decision
        if d is not None and d.decision == "keep" and (f.kept or (d.stale and not d.expired)):
            return _Verdict("skip", keep_label(d))  # a keep that went stale is still not undone by a plan
    for f in findings:
        if f.id in blocked:
            return _Verdict("skip", f"refused: {blocked[f.id]}")
    for f in findings:
        d = f.decision
        if d is not None and d.decision == "approve" and d.stale and f.action == "review":
            return _Verdict("skip", f"approval by {d.by} is stale: {d.stale_reason}; decide again")
    review = [f for f in findings if f.action == "review"]
    if review and not include_review and not all(f.approved for f in review):
        return _Verdict("review", "; ".join(f"{f.kind}: {f.explanation}" for f in findings))
    return _Verdict(None, approved=tuple(f for f in review if f.approved))


def build_plan(scan: ScanResult, storage_for: Callable[[Uri], WritableStorage], rules: SafetyRules, *,
               include_review: bool = False, scan_dir: str | None = None, findings_sha256: str | None = None,
               now: float | None = None, decisions: Applied | None = None,
               archive: ArchiveSettings | None = None) -> CleanupPlan:
    """One action per path from ``scan``'s findings, checked against the storage as it is now.

    Review decisions (``decisions``: the roots' decisions applied to the scan, see
    :func:`rotscan.decisions.apply_decisions`; without it, the decisions the findings carry): a kept
    finding is never planned, nor is any path holding kept data; an approved review-level finding
    is planned as :data:`APPROVED_ACTION` says; a stale approval is not planned.

    ``archive``: the archive locations (``[cleanup.archive]``) — an ``archive`` action records its
    target, storage class and the monthly cost it saves; a path no location covers, or whose target
    is refused, is not planned."""
    now = time.time() if now is None else now
    archive = archive or ArchiveSettings()
    roots = scan.scan.roots
    started = scan.scan.started.timestamp()
    datasets = {d.uri: d for d in scan.datasets}
    all_findings = scan.findings if decisions is None else decisions.findings
    blocked: Mapping[str, str] = {} if decisions is None else decisions.blocked
    keeps = keep_rules(scan) if decisions is None else decisions.keeps
    by_uri: dict[str, list[Finding]] = {}
    for f in all_findings:
        by_uri.setdefault(f.uri, []).append(f)

    needs_review: list[dict[str, Any]] = []
    not_planned: list[dict[str, Any]] = []
    candidates: list[PlanAction] = []
    for uri_text, findings in sorted(by_uri.items()):
        kinds = tuple(dict.fromkeys(f.kind for f in findings))
        ids = tuple(f.id for f in findings)
        actions = [f.action for f in findings]

        def skip(reason: str, uri_text: str = uri_text, kinds: tuple[str, ...] = kinds) -> None:
            not_planned.append({"uri": uri_text, "kinds": list(kinds), "reason": reason})

        verdict = _decided(findings, blocked, include_review)
        if verdict.verdict == "skip":
            skip(verdict.why)
            continue
        if verdict.verdict == "review":
            needs_review.append({"uri": uri_text, "kinds": list(kinds), "finding_ids": list(ids),
                                 "reason": verdict.why})
            continue
        approved = verdict.approved
        chosen = [DROP_PARTITIONS if f.kind == PARTITIONS_KIND and a in ("quarantine", "delete") else a
                  for f, a in zip(findings, actions, strict=True) if a in ACTIONABLE]
        chosen += [APPROVED_ACTION.get(f.kind, "quarantine") for f in approved]
        action = min(chosen or ["quarantine"], key=lambda a: _PRIORITY[a])

        try:
            uri, root, rel = locate(uri_text, roots)
            kept = next((k for k in keeps if k.root == str(root) and k.covers(rel)), None)
            if kept is not None:
                skip(kept.label)
                continue
            storage = storage_for(uri)
            fp = fpmod.take(storage, uri)
            check_symlinks(fp)
            check_protect(rel, uri, fp, rules.protect)
            check_kept(rel, str(root), fp, keeps)
            check_delta(storage, uri, root, action, fp)
        except Refused as exc:
            skip(f"refused: {exc}")
            continue
        except VanishedError:
            skip("no longer exists")
            continue
        except StorageError as exc:
            skip(f"cannot read: {exc}")
            continue
        partition_details: dict[str, Any] | None = None
        if action == DROP_PARTITIONS:
            # only the expired partitions: the rest of a live table may change freely
            try:
                partition_details, fp = plan_partitions(findings, storage, uri, datasets.get(str(uri)), started)
            except Refused as exc:
                skip(f"refused: {exc}")
                continue
            except StalePartitions as exc:
                skip(f"stale scan: {exc}; scan again before planning")
                continue
            except StorageError as exc:
                skip(f"cannot read: {exc}")
                continue
        else:
            stale = _stale(fp, findings, datasets.get(str(uri)), started)
            if stale:
                skip(f"stale scan: {stale}; scan again before planning")
                continue
        related = tuple(dict.fromkeys(r for f in findings for r in f.related))
        details: dict[str, Any] = partition_details or {}
        nbytes = fp.bytes
        if action == "archive":
            try:
                details = plan_archive(uri, fp.bytes, storage, archive, [parse(r) for r in roots])
            except Refused as exc:
                skip(f"refused: {exc}")
                continue
        if action == "compact":
            ds = datasets.get(str(uri))
            evidence = next((f.evidence for f in findings if f.action == "compact"), {})
            details = plan_compact(evidence, ds.format if ds is not None else str(evidence.get("format") or ""),
                                   ds.partition_columns if ds is not None else ())
        if action == "vacuum":
            nbytes = max(f.reclaimable_bytes for f in findings)
            ds = datasets.get(str(uri))
            if ds is not None and ds.delta is not None:
                details = {"retention_hours": ds.delta.retention_hours, "vacuumable_files": ds.delta.vacuumable_files}
        reason = "; ".join(f"{f.kind}: {f.explanation}" for f in findings)
        tables = sorted({f.table for f in findings if f.table})
        if tables:
            details = {**details, "tables": tables}  # catalog tables the scan saw registered here
        if approved:
            details = {**details, "approved": [
                {"finding_id": f.id, "decision_id": f.decision.id, "by": f.decision.by, "at": iso(f.decision.at),
                 "reason": f.decision.reason} for f in approved if f.decision is not None]}
            reason += "; " + "; ".join(f"approved by {f.decision.by}" + (f": {f.decision.reason}" if f.decision.reason
                                                                          else "")
                                       for f in approved if f.decision is not None)
        candidate = PlanAction(
            id=_action_id(action, str(uri)), uri=str(uri), root=str(root), rel=rel, action=action, kinds=kinds,
            reason=reason, finding_ids=ids, bytes=nbytes, fingerprint=fp,
            related=related if any(k in _REDUNDANT_KINDS for k in kinds) else (), details=details)
        if action == "compact":
            try:
                check_compactable(candidate)
            except Refused as exc:
                skip(f"refused: {exc}")
                continue
        candidates.append(candidate)

    # One action per path: an action inside another action's path is covered by it.
    paths = [fpmod_uri(a) for a in candidates]
    final: list[PlanAction] = []
    for a, p in zip(candidates, paths, strict=True):
        outer = next((b for b, q in zip(candidates, paths, strict=True) if b is not a and p != q and p.is_within(q)
                      and (b.action != DROP_PARTITIONS or covers_partition(b, p))), None)
        if outer is not None:
            not_planned.append({"uri": a.uri, "kinds": list(a.kinds), "reason": f"covered by the action on {outer.uri}"})
            continue
        final.append(a)

    created = now_utc()
    scan_info: dict[str, Any] = {"id": scan.scan.id, "dir": scan_dir, "findings_sha256": findings_sha256,
                                 "started": iso(scan.scan.started), "as_of": iso(scan.scan.as_of),
                                 # what apply reads again to skip paths used since the scan (rotscan.cleanup.usage_check)
                                 "usage_sources": [{"kind": u.kind, "path": u.path} for u in scan.scan.usage_sources]}
    if scan.scan.catalog and scan.scan.catalog.get("read"):
        scan_info["catalog"] = True  # apply then checks every action against the catalog again
    return CleanupPlan(
        plan_id=f"{created.strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:8]}", created=iso(created) or "",
        tool_version=__version__, scan=scan_info, roots=tuple(roots), actions=tuple(final),
        needs_review=tuple(needs_review), not_planned=tuple(not_planned))


def keep_rules(scan: ScanResult) -> tuple[KeepRule, ...]:
    """The paths of the findings ``scan`` says are kept (when no decisions were read for the plan)."""
    out = []
    for f in scan.findings:
        d = f.decision
        if d is None or d.decision != "keep" or d.expired:
            continue
        try:
            _, root, rel = locate(f.uri, scan.scan.roots)
        except Refused:
            continue
        out.append(KeepRule(str(root), rel, keep_label(d), exact=True))
    return tuple(out)


def check_kept(rel: str, root: str, fp: fpmod.Fingerprint | None, keeps: Sequence[KeepRule]) -> None:
    """Refuse a path that holds data a reviewer kept (a file or directory below it)."""
    mine = [k for k in keeps if k.root == root]
    if not mine or fp is None:
        return
    for sub in [*(f.rel for f in fp.files), *fp.dirs, *fp.symlinks]:
        if not sub:
            continue
        hit = next((k for k in mine if k.covers(f"{rel}/{sub}")), None)
        if hit is not None:
            raise Refused(f"contains {sub}, {hit.label}")


def fpmod_uri(a: PlanAction) -> Uri:
    from rotscan.uri import parse

    return parse(a.uri)

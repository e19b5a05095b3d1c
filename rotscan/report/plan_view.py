"""The cleanup plan as the report shows it: what will happen, what is protected, what was skipped.

The plan is read with the cleanup module's own loader (:func:`rotscan.cleanup.plan.read_plan`), so
the report sees it exactly as ``rotscan apply`` will: an action whose checksum does not match is
shown as refused, and a plan that cannot be loaded at all (corrupt JSON, an edited header) becomes a
warning in the report — rendering never fails because of a plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rotscan.models import ScanResult

PLAN_FILENAME = "plan.json"
MAX_PLAN_ROWS = 200  # per list; the counts and bytes always cover everything


@dataclass(frozen=True)
class PlanRow:
    uri: str
    action: str
    bytes: int
    files: int
    kinds: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class ActionTotal:
    action: str
    count: int
    bytes: int


@dataclass(frozen=True)
class PlanView:
    path: str
    error: str | None = None
    plan_id: str = ""
    created: str = ""
    scan_id: str = ""
    matches_scan: bool = True
    roots: tuple[str, ...] = ()
    by_action: tuple[ActionTotal, ...] = ()
    actions: tuple[PlanRow, ...] = ()
    refused: tuple[PlanRow, ...] = ()  # tampered or malformed actions: apply refuses them
    protected: tuple[PlanRow, ...] = ()
    skipped: tuple[PlanRow, ...] = ()  # not planned for another reason
    needs_review: tuple[PlanRow, ...] = ()
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total_bytes(self) -> int:
        return sum(t.bytes for t in self.by_action)

    @property
    def total_actions(self) -> int:
        return sum(t.count for t in self.by_action)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _skip_row(entry: Any) -> PlanRow:
    if not isinstance(entry, dict):
        return PlanRow(uri=repr(entry), action="", bytes=0, files=0, kinds=(), reason="malformed entry")
    kinds = entry.get("kinds") or ()
    return PlanRow(uri=_text(entry.get("uri", "?")), action="", bytes=0, files=0,
                   kinds=tuple(str(k) for k in kinds) if isinstance(kinds, (list, tuple)) else (),
                   reason=_text(entry.get("reason")))


def is_protected(reason: str) -> bool:
    """A ``not_planned`` reason that comes from the ``[cleanup] protect`` globs."""
    return "[cleanup] protect" in reason


def plan_view(path: Path, result: ScanResult) -> PlanView:
    """The plan at ``path`` for the report of ``result``; any problem becomes ``error``."""
    from rotscan.cleanup.plan import read_plan
    from rotscan.errors import RotscanError

    try:
        loaded = read_plan(path)
    except RotscanError as exc:
        return PlanView(path=str(path), error=str(exc))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:  # a shape the loader did not foresee
        return PlanView(path=str(path), error=f"{path} is not a usable rotscan cleanup plan: {exc}")

    doc = loaded.doc
    actions: list[PlanRow] = []
    refused: list[PlanRow] = []
    totals: dict[str, list[int]] = {}
    for la in loaded.actions:
        a = la.action
        if a is None or la.tampered:
            raw = la.raw
            refused.append(PlanRow(uri=la.uri, action=_text(raw.get("action")), bytes=a.bytes if a else 0,
                                   files=len(a.fingerprint.files) if a else 0, kinds=a.kinds if a else (),
                                   reason=f"refused at apply: {la.tampered}"))
            continue
        row = PlanRow(uri=a.uri, action=a.action, bytes=a.bytes, files=len(a.fingerprint.files), kinds=a.kinds,
                      reason=a.reason)
        actions.append(row)
        t = totals.setdefault(a.action, [0, 0])
        t[0] += 1
        t[1] += a.bytes
    not_planned = [_skip_row(e) for e in doc.get("not_planned") or [] if e is not None]
    review = [_skip_row(e) for e in doc.get("needs_review") or [] if e is not None]
    protected = [r for r in not_planned if is_protected(r.reason)]
    skipped = [r for r in not_planned if not is_protected(r.reason)]
    actions.sort(key=lambda r: (-r.bytes, r.uri))
    scan = loaded.header.get("scan") or {}
    scan_id = _text(scan.get("id")) if isinstance(scan, dict) else ""
    return PlanView(
        path=str(path),
        plan_id=loaded.plan_id,
        created=_text(loaded.header.get("created")),
        scan_id=scan_id,
        matches_scan=scan_id == result.scan.id,
        roots=tuple(str(r) for r in loaded.roots),
        by_action=tuple(ActionTotal(k, v[0], v[1]) for k, v in sorted(totals.items(), key=lambda kv: (-kv[1][1], kv[0]))),
        actions=tuple(actions[:MAX_PLAN_ROWS]),
        refused=tuple(refused[:MAX_PLAN_ROWS]),
        protected=tuple(protected[:MAX_PLAN_ROWS]),
        skipped=tuple(skipped[:MAX_PLAN_ROWS]),
        needs_review=tuple(review[:MAX_PLAN_ROWS]),
        counts={"actions": len(actions), "refused": len(refused), "protected": len(protected),
                "skipped": len(skipped), "needs_review": len(review)},
    )


def find_plan(out_dir: Path, explicit: Path | None, result: ScanResult) -> PlanView | None:
    """The plan to show: ``explicit`` if given, else ``out_dir/plan.json`` if it exists, else none."""
    if explicit is not None:
        return plan_view(Path(explicit), result)
    default = Path(out_dir) / PLAN_FILENAME
    if default.is_file():
        return plan_view(default, result)
    return None

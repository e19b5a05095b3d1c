"""The policy of unattended cleanup (``rotscan run``): which actions of a plan a scheduled run may
apply without a person, which need a reviewer's approval first, and when a run must stop before
acting because it would take out more of the lake than anyone would expect of a routine run.

A finding may be applied by a scheduled run when either
- a reviewer approved it (``rotscan decide --approve``, or ticked in the report) and its action is one
  of ``approved_actions``, or
- its kind is one of ``auto_kinds`` (by default only OS/editor junk and zero-byte files), its
  confidence is at least ``auto_min_confidence`` and its action one of ``auto_actions``.
An action of the plan goes ahead only when every finding behind it may be applied; the others are
not planned, each with the reason. Kept findings never reach the plan in the first place.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rotscan.cleanup.plan import CleanupPlan, PlanAction
from rotscan.config import Config
from rotscan.errors import ConfigError
from rotscan.models import ACTIONS, Finding

# the plan's action types: the findings' (less review) and drop_partitions (expired_partitions findings)
_ACTIONABLE = (*(a for a in ACTIONS if a != "review"), "drop_partitions")


@dataclass(frozen=True)
class RunPolicy:
    auto_kinds: tuple[str, ...] = ("junk_file", "zero_byte")
    auto_min_confidence: float = 0.9
    auto_actions: tuple[str, ...] = ("delete", "quarantine")
    approved_actions: tuple[str, ...] = ("delete", "quarantine", "vacuum", "archive", "compact")
    # a run whose selected actions would take out more than this share of the lake's bytes stops
    # before acting (0: no such limit)
    max_lake_share: float = 0.25

    @classmethod
    def from_config(cls, config: Config) -> RunPolicy:
        r: Mapping[str, Any] = config.section("run")
        policy = cls(auto_kinds=tuple(r["auto_kinds"]), auto_min_confidence=float(r["auto_min_confidence"]),
                     auto_actions=tuple(r["auto_actions"]), approved_actions=tuple(r["approved_actions"]),
                     max_lake_share=float(r["max_lake_share"]))
        for key in ("auto_actions", "approved_actions"):
            bad = sorted(set(getattr(policy, key)) - set(_ACTIONABLE))
            if bad:
                raise ConfigError(f"[run] {key}: unknown action(s) {', '.join(bad)} (one of {', '.join(_ACTIONABLE)})")
        if not 0.0 <= policy.auto_min_confidence <= 1.0:
            raise ConfigError("[run] auto_min_confidence must be between 0 and 1")
        if not 0.0 <= policy.max_lake_share <= 1.0:
            raise ConfigError("[run] max_lake_share must be between 0 and 1 (0: no limit)")
        return policy

    def why_not(self, f: Finding, action: str) -> str | None:
        """None when a scheduled run may apply ``action`` for finding ``f``; else the reason."""
        if f.approved:
            if action in self.approved_actions:
                return None
            return f"policy: approved, but {action} is not among [run] approved_actions"
        if f.kind in self.auto_kinds and f.confidence >= self.auto_min_confidence and action in self.auto_actions:
            return None
        if f.kind in self.auto_kinds:
            if f.confidence < self.auto_min_confidence:
                return (f"policy: confidence {f.confidence:.2f} below [run] auto_min_confidence "
                        f"{self.auto_min_confidence:.2f}; needs a reviewer's approval of finding {f.id}")
            return f"policy: {action} is not among [run] auto_actions; needs a reviewer's approval of finding {f.id}"
        return f"policy: {f.kind} needs a reviewer's approval of finding {f.id}"


@dataclass(frozen=True)
class Selection:
    """What a scheduled run may do with a plan: the plan it applies (the allowed actions only) and
    the lake's bytes the stop rule was judged against; ``stop`` says why it must not act at all."""

    plan: CleanupPlan
    held: tuple[dict[str, Any], ...]  # actions of the full plan the policy holds back, with reasons
    lake_bytes: int
    stop: str | None = None


def select(plan: CleanupPlan, findings: Mapping[str, Finding], policy: RunPolicy, lake_bytes: int) -> Selection:
    """The plan restricted to what ``policy`` lets a scheduled run apply. ``findings``: by id, with
    their review decisions applied."""
    allowed: list[PlanAction] = []
    held: list[dict[str, Any]] = []
    for a in plan.actions:
        reasons = []
        for fid in a.finding_ids:
            f = findings.get(fid)
            why = f"policy: finding {fid} is not in the scan" if f is None else policy.why_not(f, a.action)
            if why is not None:
                reasons.append(why)
        if reasons:
            held.append({"uri": a.uri, "kinds": list(a.kinds), "reason": "; ".join(dict.fromkeys(reasons))})
        else:
            allowed.append(a)
    selected = dataclasses.replace(plan, actions=tuple(allowed), not_planned=(*plan.not_planned, *held))
    total = sum(a.bytes for a in allowed)
    stop = None
    if policy.max_lake_share and lake_bytes > 0 and total > policy.max_lake_share * lake_bytes:
        stop = (f"the run would take out {total:,} bytes, {total / lake_bytes:.0%} of the lake's {lake_bytes:,} "
                f"(more than [run] max_lake_share {policy.max_lake_share:.0%}); nothing was done — review the "
                "plan and apply it by hand, or raise the limit")
    return Selection(selected, tuple(held), lake_bytes, stop)

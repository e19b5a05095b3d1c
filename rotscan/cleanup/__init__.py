"""Safe cleanup: the only part of rotscan that changes a lake.

``plan`` turns a scan's findings into a reviewable :class:`~rotscan.cleanup.plan.CleanupPlan`;
``apply`` revalidates each action just before acting and moves data into a quarantine kept with the
lake (dry run by default), under a write-ahead journal and an append-only audit log; ``restore`` puts
a run back byte for byte; ``purge`` is the only permanent deletion. See ``docs/cleanup.md``.
"""

from __future__ import annotations

from rotscan.cleanup.apply import ApplyReport, apply_plan
from rotscan.cleanup.context import ActionResult, CleanupContext
from rotscan.cleanup.plan import CleanupPlan, PlanAction, build_plan, read_plan, write_plan
from rotscan.cleanup.purge import parse_duration, purge
from rotscan.cleanup.restore import restore_run
from rotscan.cleanup.safety import SafetyRules

__all__ = [
    "ActionResult", "ApplyReport", "CleanupContext", "CleanupPlan", "PlanAction", "SafetyRules", "apply_plan",
    "build_plan", "parse_duration", "purge", "read_plan", "restore_run", "write_plan",
]

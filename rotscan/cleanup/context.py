"""What the cleanup commands (apply, restore, purge) run in — the shared :class:`~rotscan.runtime.Runtime`
plus who runs them — and the per-action result they report."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import Any

from rotscan.cleanup.quarantine import FaultHook
from rotscan.runtime import Runtime


def _no_fault(step: str, n: int) -> None:
    pass


@dataclass
class CleanupContext(Runtime):
    """The runtime of a cleanup command, and who runs it (recorded in the journal and audit log).

    ``fault_hook`` is for tests only (called after each journaled step with the step name and the
    move count; a test makes it kill the process). ``force_copy`` makes local moves copy, verify and
    delete as they do on object stores."""

    user: str = "unknown"
    host: str = field(default_factory=socket.gethostname)
    fault_hook: FaultHook = _no_fault
    force_copy: bool = False


@dataclass
class ActionResult:
    uri: str
    status: str  # done | skipped | failed
    reason: str
    bytes: int
    action: str = ""
    id: str = ""
    files: int = 0
    planned: bool = True  # False: an entry of the plan's not_planned list, reported as skipped
    # What an archive or compact action did beyond its bytes (target, storage classes, monthly cost
    # saved; files before/after, Delta versions); None for the other actions
    details: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"uri": self.uri, "status": self.status, "reason": self.reason, "bytes": self.bytes,
                "action": self.action, "id": self.id, "files": self.files, "planned": self.planned,
                "details": self.details}

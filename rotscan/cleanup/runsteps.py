"""What an action module (archive, compact) gets from the executing run: its journal, audit log and
movers per root, the runtime and the run id — as a protocol, so the action modules do not import
:mod:`rotscan.cleanup.apply` (which dispatches to them)."""

from __future__ import annotations

from typing import Any, Protocol

from rotscan.cleanup.audit import AuditLog
from rotscan.cleanup.context import CleanupContext
from rotscan.cleanup.fingerprint import Fingerprint
from rotscan.cleanup.journal import Journal
from rotscan.cleanup.quarantine import Mover
from rotscan.storage.base import WritableStorage
from rotscan.uri import Uri


class PlannedAction(Protocol):
    """What the action modules read of a plan's action (:class:`rotscan.cleanup.plan.PlanAction`,
    which imports them)."""

    @property
    def id(self) -> str: ...
    @property
    def uri(self) -> str: ...
    @property
    def root(self) -> str: ...
    @property
    def rel(self) -> str: ...
    @property
    def action(self) -> str: ...
    @property
    def kinds(self) -> tuple[str, ...]: ...
    @property
    def finding_ids(self) -> tuple[str, ...]: ...
    @property
    def bytes(self) -> int: ...
    @property
    def fingerprint(self) -> Fingerprint: ...
    @property
    def details(self) -> dict[str, Any]: ...


class RunSteps(Protocol):
    run_id: str
    ctx: CleanupContext

    def journal(self, root: Uri) -> Journal:
        ...

    def audit(self, root: Uri) -> AuditLog:
        ...

    def mover(self, root: Uri) -> Mover:
        """The run's mover under ``root`` (quarantine moves)."""
        ...

    def mover_with(self, root: Uri, storage: WritableStorage, *, force_copy: bool) -> Mover:
        """A mover journaling under ``root`` that moves files through ``storage`` (e.g. one writing
        a storage class), with the run's fault hook."""
        ...


def child(uri: Uri, rel: str) -> Uri:
    """``uri`` joined with a relative path ("" is ``uri`` itself)."""
    for part in rel.split("/"):
        if part:
            uri = uri.child(part)
    return uri


def rel_join(a: str, b: str) -> str:
    return f"{a}/{b}" if a and b else (a or b)

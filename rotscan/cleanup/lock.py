"""One executing apply (or restore, or purge) per root at a time: ``<root>/_rotscan/apply.lock``,
created atomically (it fails when the file exists). A lock left by a process that died (``kill -9``)
on this host is taken over; a lock held from another host must be removed by a person. A scheduled
``rotscan run`` holds ``<root>/_rotscan/run.lock`` the same way for its whole scan → plan → apply."""

from __future__ import annotations

import json
import os
from typing import Any

from rotscan.cleanup.safety import STATE_DIR
from rotscan.errors import RotscanError, StorageError, VanishedError
from rotscan.models import iso, now_utc
from rotscan.storage.base import WritableStorage
from rotscan.uri import Uri


class LockedError(RotscanError):
    """Another cleanup run holds the root."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RootLock:
    def __init__(self, storage: WritableStorage, root: Uri, owner: str, host: str, name: str = "apply.lock") -> None:
        self.storage = storage
        self.root = root
        self.path = root.child(STATE_DIR).child(name)
        self.record = {"owner": owner, "host": host, "pid": os.getpid(), "time": iso(now_utc())}
        self.held = False

    def _holder(self) -> dict[str, Any] | None:
        try:
            with self.storage.open_read(self.path) as fh:
                data = json.loads(fh.read() or b"{}")
        except (VanishedError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def acquire(self) -> None:
        self.storage.mkdirs(self.path.parent)
        payload = json.dumps(self.record).encode()
        for _ in range(2):
            try:
                self.storage.write_bytes(self.path, payload, overwrite=False)
                self.held = True
                return
            except StorageError:
                holder = self._holder()
                if holder is None:
                    continue
                if holder.get("host") == self.record["host"] and not _alive(int(holder.get("pid", 0))):
                    self.storage.delete(self.path)  # left by a process that died on this host
                    continue
                raise LockedError(f"{self.root} is being cleaned by {holder.get('owner')} (host {holder.get('host')}, "
                                  f"pid {holder.get('pid')}, since {holder.get('time')}); if that process is gone, "
                                  f"delete {self.path}") from None
        raise LockedError(f"cannot take the lock {self.path}")

    def release(self) -> None:
        if self.held:
            holder = self._holder()
            if holder is not None and holder.get("pid") == self.record["pid"] and holder.get("owner") == self.record["owner"]:
                self.storage.delete(self.path)
            self.held = False

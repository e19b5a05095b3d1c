"""The safety rules every action passes at plan time and again immediately before apply acts.

Each check returns ``None`` when the action may proceed, else the reason it is refused. Paths are
compared only after canonicalisation (:func:`rotscan.uri.parse`: scheme aliases, percent-encoding,
``.``/``..``) and, for local paths, after resolving symlinks (``realpath``) — the spellings through
which other cleanup tools deleted live data.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rotscan.cleanup.fingerprint import DELTA_LOG, Fingerprint
from rotscan.errors import StorageError
from rotscan.storage.base import Storage, WritableStorage
from rotscan.uri import Uri, parse

STATE_DIR = "_rotscan"

DEFAULTS: dict[str, Any] = {
    "protect": [],
    "min_age_hours": 24.0,
    "max_bytes_per_run": 1_099_511_627_776,  # 1 TiB
    "max_actions_per_run": 1000,
    "vacuum_mode": "quarantine",
    "revalidate_usage": True,
    "drop_table_entries": False,  # read by rotscan.cleanup.tables
}


@dataclass(frozen=True)
class SafetyRules:
    protect: tuple[str, ...] = ()
    min_age_hours: float = 24.0
    max_bytes_per_run: int = DEFAULTS["max_bytes_per_run"]
    max_actions_per_run: int = DEFAULTS["max_actions_per_run"]
    vacuum_mode: str = "quarantine"  # "quarantine": move what VACUUM DRY RUN lists; "delta": run VACUUM
    revalidate_usage: bool = True  # skip a path the usage sources saw read or written since the scan

    @classmethod
    def from_config(cls, config: Any) -> SafetyRules:
        """Read ``[cleanup]``; keys not yet in the packaged defaults fall back to :data:`DEFAULTS`."""
        section: Mapping[str, Any] = {}
        try:
            section = config.section("cleanup")
        except (KeyError, AttributeError):
            section = {}

        def get(key: str) -> Any:
            return section.get(key, DEFAULTS[key])

        mode = str(get("vacuum_mode"))
        if mode not in ("quarantine", "delta"):
            from rotscan.errors import ConfigError

            raise ConfigError(f"[cleanup] vacuum_mode must be 'quarantine' or 'delta', got {mode!r}")
        return cls(protect=tuple(get("protect")), min_age_hours=float(get("min_age_hours")),
                   max_bytes_per_run=int(get("max_bytes_per_run")),
                   max_actions_per_run=int(get("max_actions_per_run")), vacuum_mode=mode,
                   revalidate_usage=bool(get("revalidate_usage")))


def locate(uri_text: str, roots: Sequence[str]) -> tuple[Uri, Uri, str]:
    """(canonical uri, its root, path relative to the root), or :class:`Refused`."""
    try:
        uri = parse(uri_text)
    except ValueError as exc:
        raise Refused(f"not a valid path: {exc}") from exc
    if "://" not in uri_text and not uri_text.startswith("file:"):
        raise Refused("not an absolute URI")
    matches = [parse(r) for r in roots if uri.is_within(parse(r))]
    if not matches:
        raise Refused("outside the scanned roots")
    root = max(matches, key=lambda r: len(r.path))
    rel = uri.relative_to(root)
    if not rel:
        raise Refused("is a scanned root itself")
    if rel == STATE_DIR or rel.startswith(STATE_DIR + "/"):
        raise Refused("inside rotscan's own state directory")
    if uri.scheme == "file":
        real_root = os.path.realpath(root.path)
        real = os.path.realpath(uri.path)
        if real != os.path.join(real_root, rel):
            # a symlink somewhere below the root: the path is not where its name says
            if real != real_root and not real.startswith(real_root + os.sep):
                raise Refused(f"resolves outside the root through a symlink (to {real})")
            raise Refused(f"goes through a symlink (resolves to {real})")
    return uri, root, rel


class Refused(Exception):
    """An action a safety rule forbids (reported as skipped with the reason; never acted on)."""


def protected(rel: str, uri: Uri, globs: Sequence[str]) -> str | None:
    """The protect glob matching ``rel`` (root-relative) or the absolute ``uri``, if any."""
    for g in globs:
        pattern = g.rstrip("/")
        target = str(uri) if ("://" in g or g.startswith("file:")) else (uri.path if g.startswith("/") else rel)
        if "://" in g or g.startswith("file:"):
            pattern = str(parse(pattern)) if "*" not in pattern else pattern
        if fnmatch.fnmatchcase(target, pattern) or fnmatch.fnmatchcase(target, pattern + "/*"):
            return g
    return None


def check_protect(rel: str, uri: Uri, fp: Fingerprint | None, globs: Sequence[str]) -> None:
    if not globs:
        return
    hit = protected(rel, uri, globs)
    if hit:
        raise Refused(f"protected by [cleanup] protect {hit!r}")
    if fp is not None:
        for sub in [*(f.rel for f in fp.files), *fp.dirs, *fp.symlinks]:
            if sub and (hit := protected(f"{rel}/{sub}", uri.child(sub), globs)):
                raise Refused(f"contains {sub}, protected by [cleanup] protect {hit!r}")


def _is_iceberg(storage: Storage, d: Uri) -> bool:
    try:
        return any(e.name.endswith(".metadata.json") for e in storage.list_dir(d.child("metadata")))
    except StorageError:
        return False


def enclosing_table(storage: WritableStorage, uri: Uri, root: Uri) -> tuple[str, Uri] | None:
    """The Delta or Iceberg table strictly above ``uri`` (up to and including the root), if any."""
    d = uri.parent
    while d.is_within(root):
        try:
            if storage.exists(d.child(DELTA_LOG)):
                return "Delta", d
        except StorageError:
            pass
        if _is_iceberg(storage, d):
            return "Iceberg", d
        if d == root:
            break
        d = d.parent
    return None


def check_delta(storage: WritableStorage, uri: Uri, root: Uri, action: str, fp: Fingerprint | None) -> None:
    found = enclosing_table(storage, uri, root)
    if found is not None:
        kind, table = found
        raise Refused(f"inside the live {kind} table {table} (its files belong to its "
                      f"{'log' if kind == 'Delta' else 'metadata'}; only a whole-table action"
                      f"{' or VACUUM' if kind == 'Delta' else ''} may touch them)")
    if fp is not None and fp.nested_tables:
        raise Refused(f"contains the Delta table(s) {', '.join(fp.nested_tables[:3])}, which this action is not about")
    if action == "vacuum" and (fp is None or fp.delta_version is None):
        raise Refused("vacuum needs a Delta table and this path is not one")


def check_age(fp: Fingerprint, now: float, min_age_hours: float) -> None:
    newest = fp.newest_mtime
    if newest is not None and now - newest < min_age_hours * 3600:
        hours = (now - newest) / 3600
        raise Refused(f"modified {hours:.1f} h ago, younger than min_age_hours ({min_age_hours:g})")


def check_symlinks(fp: Fingerprint) -> None:
    if fp.symlinks:
        where = fp.symlinks[0] or "the path itself"
        raise Refused(f"holds a symlink ({where}); rotscan never moves symlinks")

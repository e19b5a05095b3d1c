"""The write-ahead journal of a cleanup run and where a run's state lives in the lake.

``<root>/_rotscan/runs/<run_id>/journal.jsonl`` — one JSON record a line, appended and fsynced
before the step it announces (``intent``) and after it (``done``). On object stores, which cannot
append, each record is its own object ``journal/<seq>.json``.

Every record carries its sequence number ``n`` (1, 2, 3, … with no gap) and a hash chain: ``prev``
is the previous record's ``hash`` (None for the first), ``hash`` the SHA-256 of the record's
canonical JSON (sorted keys, no spaces) without ``hash`` itself. Reading verifies both, so an edited,
reordered, inserted or deleted-in-the-middle record is detected (:class:`JournalTamperedError`) —
by anyone who does not recompute the chain; :mod:`rotscan.cleanup.journal_check` then checks every
path a record names against the run's root, quarantine and plan, so a recomputed chain still cannot
point a step at live data.

A torn last line (a crash mid-write) is tolerated as before: that record never happened, and its
step is resolved from the storage itself. The next record written lists the SHA-256 of each torn
line it found (``torn``), so a line that does not parse in the middle of a journal is accepted only
when the record after it accounts for it. Journals written before the chain (records without
``prev``/``hash``) still load: their sequence numbers are checked (no gap, no repeat) but an edit
that keeps them cannot be detected; the path checks apply to them in full.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from rotscan.cleanup.safety import STATE_DIR
from rotscan.errors import RotscanError, StorageError, VanishedError
from rotscan.models import iso, now_utc
from rotscan.storage.base import WritableStorage
from rotscan.uri import Uri

CHAIN_FIELDS = ("prev", "hash", "torn")
_OBJECT_NAME = re.compile(r"^(\d{9})\.json$")


class JournalTamperedError(RotscanError):
    """A run's journal fails its integrity or path checks: the run is refused and nothing changes."""

    def __init__(self, run_id: str, root: Uri | str, where: str, problem: str) -> None:
        self.run_id = run_id
        self.root = str(root)
        self.where = where
        self.problem = problem
        super().__init__(f"the journal of run {run_id} under {root} was tampered with or is corrupt "
                         f"({where}: {problem}); refused, nothing was changed — inspect "
                         f"{root}/{STATE_DIR}/runs/{run_id}/ (restore from a backup of it, or move the run "
                         "directory away to give up on the run)")


@dataclass(frozen=True)
class RunLayout:
    """Where one run's state and quarantined files live under one root."""

    root: Uri
    run_id: str

    @property
    def state(self) -> Uri:
        return self.root.child(STATE_DIR)

    @property
    def run_dir(self) -> Uri:
        return self.state.child("runs").child(self.run_id)

    @property
    def journal(self) -> Uri:
        return self.run_dir.child("journal.jsonl")

    @property
    def journal_dir(self) -> Uri:
        return self.run_dir.child("journal")

    @property
    def plan(self) -> Uri:
        return self.run_dir.child("plan.json")

    @property
    def manifest(self) -> Uri:
        return self.run_dir.child("manifest.json")

    @property
    def quarantine(self) -> Uri:
        return self.state.child("quarantine").child(self.run_id)

    def quarantined(self, rel: str) -> Uri:
        out = self.quarantine
        for part in rel.split("/"):
            out = out.child(part)
        return out


def canonical_json(obj: Any) -> bytes:
    """The bytes a record's hash is taken over (the plan's canonical form: sorted keys, no spaces)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def record_hash(record: dict[str, Any]) -> str:
    """The SHA-256 of a record without its own ``hash`` field."""
    return hashlib.sha256(canonical_json({k: v for k, v in record.items() if k != "hash"})).hexdigest()


def link_of(record: dict[str, Any]) -> str:
    """What the next record's ``prev`` must be: the record's hash (a record written before the
    chain existed is linked by the hash of its content)."""
    h = record.get("hash")
    return h if isinstance(h, str) else hashlib.sha256(canonical_json(record)).hexdigest()


def _line_sha(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


@dataclass
class JournalRead:
    """A verified journal: its records in order, where each was read (for messages), and what the
    next record must link to."""

    records: list[dict[str, Any]] = field(default_factory=list)
    where: dict[int, str] = field(default_factory=dict)  # record n -> "line 7" / "object 000000007.json"
    chained: bool = False  # the records carry the hash chain (else: written before it)
    torn: list[bytes] = field(default_factory=list)  # torn lines after the last record, not yet accounted for
    needs_newline: bool = False  # the file does not end with a newline (a torn last write)

    @property
    def last_n(self) -> int:
        return int(self.records[-1]["n"]) if self.records else 0

    @property
    def last_link(self) -> str | None:
        return link_of(self.records[-1]) if self.records else None

    def location(self, rec: dict[str, Any]) -> str:
        n = rec.get("n")
        return self.where.get(n, "a record") if isinstance(n, int) else "a record"


def _parse_record(raw: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _verify(layout: RunLayout, items: list[tuple[str, bytes, dict[str, Any] | None]], *, tail_ok: bool
            ) -> JournalRead:
    """Check the sequence numbers and the hash chain of ``items`` ((where, raw bytes, record or
    None when unparseable), in order). ``tail_ok``: unparseable items after the last record are a
    torn last write (only on storages that append, and only when the file does not end in a newline)."""
    out = JournalRead()

    def refuse(where: str, problem: str) -> JournalTamperedError:
        return JournalTamperedError(layout.run_id, layout.root, where, problem)

    bad: list[tuple[str, bytes]] = []  # unparseable items since the last record
    for where, raw, rec in items:
        if rec is None:
            bad.append((where, raw))
            continue
        n = rec.get("n")
        expected = out.last_n + 1
        if bad and (n != expected or rec.get("torn") != [_line_sha(r) for _, r in bad]) and \
                ("hash" in rec or "prev" in rec or n != expected):
            # a torn write never ends a complete record: the one after it reuses its number (and,
            # once chained, accounts for it)
            raise refuse(bad[0][0], "not a journal record (corrupt JSON) and not a torn write the next record "
                         "accounts for")
        if not isinstance(n, int) or isinstance(n, bool) or n != expected:
            raise refuse(where, f"record number {n!r} where {expected} was expected (a record was deleted, inserted "
                         "or reordered)")
        if not isinstance(rec.get("op"), str):
            raise refuse(where, "the record has no op")
        chained = "hash" in rec or "prev" in rec
        if chained:
            if rec.get("hash") != record_hash(rec):
                raise refuse(where, f"{rec['op']} record {n}: its hash does not match its content (the record was "
                             "edited)")
            if rec.get("prev") != out.last_link:
                raise refuse(where, f"{rec['op']} record {n} does not follow the record before it (prev hash "
                             "mismatch: a record before it was edited, removed, inserted or reordered)")
            accounted = rec.get("torn") or []
            found = [_line_sha(r) for _, r in bad]
            if accounted != found:
                if bad:
                    raise refuse(bad[0][0], "not a journal record (corrupt JSON) and not a torn write the next "
                                 "record accounts for")
                raise refuse(where, f"{rec['op']} record {n} accounts for torn lines that are not there")
            out.chained = True
        elif out.chained:
            raise refuse(where, f"{rec['op']} record {n} lacks the hash chain the records before it carry (a "
                         "record was inserted or edited)")
        # before the chain: a line that does not parse is a torn write an older rotscan ended with a
        # newline; the unbroken record numbers show that no complete record was lost
        bad = []
        out.records.append(rec)
        out.where[n] = where
    if bad:
        if out.chained and not tail_ok:
            raise refuse(bad[0][0], "not a journal record (corrupt JSON); only a torn last write (no newline at "
                         "the end) is tolerated")
        out.torn = [r for _, r in bad]
    return out


def load_journal(storage: WritableStorage, layout: RunLayout) -> JournalRead:
    """The run's journal under one root, verified (raises :class:`JournalTamperedError`); empty
    when the run has no journal there."""
    if storage.supports_append:
        try:
            with storage.open_read(layout.journal) as fh:
                data: bytes = fh.read()
        except VanishedError:
            return JournalRead()
        lines = data.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        items = [(f"line {i}", raw, _parse_record(raw)) for i, raw in enumerate(lines, 1) if raw.strip()]
        read = _verify(layout, items, tail_ok=not data.endswith(b"\n"))
        read.needs_newline = bool(data) and not data.endswith(b"\n")
        return read
    try:
        entries = storage.list_dir(layout.journal_dir)
    except VanishedError:
        return JournalRead()
    items = []
    for e in sorted(entries, key=lambda e: e.name):
        if e.name.startswith("."):
            continue  # a filesystem's hidden checksum or temporary file, never read
        m = _OBJECT_NAME.match(e.name)
        if e.is_dir or m is None:
            raise JournalTamperedError(layout.run_id, layout.root, f"object {e.name}",
                                       "not a journal record object (expected NNNNNNNNN.json)")
        try:
            with storage.open_read(e.uri) as fh:
                raw = fh.read().strip()
        except StorageError as exc:
            raise StorageError(f"cannot read journal object {e.uri}: {exc}") from exc
        rec = _parse_record(raw)
        if rec is not None and rec.get("n") != int(m.group(1)):
            raise JournalTamperedError(layout.run_id, layout.root, f"object {e.name}",
                                       f"holds record number {rec.get('n')!r}, not {int(m.group(1))}")
        items.append((f"object {e.name}", raw, rec))
    return _verify(layout, items, tail_ok=False)


class Journal:
    """Append-only, durable, hash-chained records of one run under one root. Opening it verifies
    what is there (a tampered journal raises before anything is written)."""

    def __init__(self, storage: WritableStorage, layout: RunLayout) -> None:
        self.storage = storage
        self.layout = layout
        read = load_journal(storage, layout)
        storage.mkdirs(layout.run_dir)
        if not storage.supports_append:
            storage.mkdirs(layout.journal_dir)
        self._seq = read.last_n
        self._last = read.last_link
        self._torn = [_line_sha(r) for r in read.torn]
        self._needs_newline = read.needs_newline

    def write(self, op: str, **fields: Any) -> dict[str, Any]:
        if any(k in fields for k in ("op", "n", "time", *CHAIN_FIELDS)):
            raise ValueError(f"journal record fields may not be named op, n, time, {', '.join(CHAIN_FIELDS)}")
        record: dict[str, Any] = {"op": op, "n": self._seq + 1, "time": iso(now_utc()), **fields, "prev": self._last}
        if self._torn:
            record["torn"] = list(self._torn)
        record = json.loads(json.dumps(record, ensure_ascii=False))  # hashed as it will be read back
        record["hash"] = record_hash(record)
        data = (json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n").encode()
        if self.storage.supports_append:
            # a torn last line is ended in the same write as the record after it, so a line that
            # does not parse is always either the file's unterminated end or accounted for
            prefix = b"\n" if self._needs_newline else b""
            self.storage.append_bytes(self.layout.journal, prefix + data)
        else:
            self.storage.write_bytes(self.layout.journal_dir.child(f"{record['n']:09d}.json"), data)
        self._seq += 1
        self._last = record["hash"]
        self._torn = []
        self._needs_newline = False
        return record


def read_journal(storage: WritableStorage, layout: RunLayout) -> list[dict[str, Any]]:
    """The run's verified records under one root (raises :class:`JournalTamperedError`)."""
    return load_journal(storage, layout).records


def first_record(storage: WritableStorage, layout: RunLayout) -> dict[str, Any] | None:
    """The run's first record when it verifies on its own (its hash, or a record written before
    the chain) — to tell whose run a journal that fails verification further on belongs to."""
    try:
        if storage.supports_append:
            with storage.open_read(layout.journal) as fh:
                raw = fh.read().split(b"\n", 1)[0]
        else:
            with storage.open_read(layout.journal_dir.child(f"{1:09d}.json")) as fh:
                raw = fh.read().strip()
    except StorageError:
        return None
    rec = _parse_record(raw)
    if rec is None or rec.get("n") != 1:
        return None
    if ("hash" in rec or "prev" in rec) and (rec.get("hash") != record_hash(rec) or rec.get("prev") is not None):
        return None
    return rec


def list_runs(storage: WritableStorage, root: Uri) -> list[str]:
    try:
        return [e.name for e in storage.list_dir(root.child(STATE_DIR).child("runs")) if e.is_dir]
    except VanishedError:
        return []

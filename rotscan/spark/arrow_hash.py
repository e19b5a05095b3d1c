"""Spark's ``xxhash64`` and rotscan's canonical text hashes, vectorised over Arrow columns with numpy.

The hashing half of the pyarrow profile path (``rotscan.spark.arrow_profile``: executors read small
CSV files with pyarrow and hash them here instead of in the JVM; ``benchmarks/bench_small.py``
measures both). What is here is exact where it claims to be:

- :func:`hash_long`, :func:`hash_int`, :func:`hash_bytes` are Spark's ``XxHash64`` (``XXH64`` with
  the running hash as seed, seed 42 for the first argument) for a bigint, an int/boolean and UTF-8
  bytes — element-wise over numpy arrays, wrapping uint64 arithmetic;
- :func:`text_column_hash` is ``canonical.value_hash`` of a CSV/JSON string column for the values
  whose text form it can type without Spark's parser (number text, booleans, plain text, nulls,
  ``YYYY-MM-DD`` dates and ISO timestamps that Arrow parses); it returns a mask of the values it
  could not decide, so a caller routes those files to the JVM.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from rotscan.spark.canonical import DATE_TEXT, NUMBER_TEXT, TIMESTAMP_TEXT

P1 = np.uint64(11400714785074694791)
P2 = np.uint64(14029467366897019727)
P3 = np.uint64(1609587929392839161)
P4 = np.uint64(9650029242287828579)
P5 = np.uint64(2870177450012600261)
SEED = 42


def _rotl(x: np.ndarray, r: int) -> np.ndarray:
    return (x << np.uint64(r)) | (x >> np.uint64(64 - r))


def _fmix(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint64(33))
    h = h * P2
    h = h ^ (h >> np.uint64(29))
    h = h * P3
    return h ^ (h >> np.uint64(32))


def _u64(x: Any) -> np.ndarray:
    return np.asarray(x).astype(np.int64, copy=False).view(np.uint64) if np.asarray(x).dtype != np.uint64 \
        else np.asarray(x)


def hash_long(values: Any, seed: Any) -> np.ndarray:
    """Spark ``XXH64.hashLong`` (int64 values, per-element or scalar uint64/int64 seeds) → uint64."""
    with np.errstate(over="ignore"):
        v, s = _u64(values), _u64(seed)
        h = s + P5 + np.uint64(8)
        h = h ^ (_rotl(v * P2, 31) * P1)
        h = _rotl(h, 27) * P1 + P4
        return _fmix(h)


def hash_int(values: Any, seed: Any) -> np.ndarray:
    """Spark ``XXH64.hashInt`` (int32 values; booleans hash as 1/0) → uint64."""
    with np.errstate(over="ignore"):
        v = np.asarray(values).astype(np.int32).view(np.uint32).astype(np.uint64)
        h = _u64(seed) + P5 + np.uint64(4)
        h = h ^ (v * P1)
        h = _rotl(h, 23) * P2 + P3
        return _fmix(h)


def hash_bytes(data: np.ndarray, starts: np.ndarray, lengths: np.ndarray, seed: Any) -> np.ndarray:
    """Spark ``XXH64.hashUnsafeBytes`` of ``data[starts[i] : starts[i] + lengths[i]]`` for every i."""
    n = len(starts)
    buf = np.zeros(len(data) + 8, np.uint8)
    buf[: len(data)] = data
    # unaligned little-endian reads at any byte offset: a uint64/uint32 view with a 1-byte stride
    words8 = np.ndarray((len(buf) - 7,), dtype="<u8", buffer=buf, strides=(1,))
    words4 = np.ndarray((len(buf) - 3,), dtype="<u4", buffer=buf, strides=(1,))
    starts = starts.astype(np.int64)
    lengths = lengths.astype(np.int64)
    s = np.broadcast_to(_u64(seed), (n,)).copy()
    with np.errstate(over="ignore"):
        h = s + P5
        long_ = np.flatnonzero(lengths >= 32)
        pos = starts.copy()
        if len(long_):
            ls = s[long_]
            v = [ls + P1 + P2, ls + P2, ls.copy(), ls - P1]
            p = starts[long_].copy()
            limit = starts[long_] + lengths[long_] - 32
            active = np.ones(len(long_), bool)
            while active.any():
                a = np.flatnonzero(active)
                for j in range(4):
                    w = words8[p[a] + 8 * j]
                    v[j][a] = _rotl(v[j][a] + w * P2, 31) * P1
                p[a] += 32
                active = p <= limit
            hl = _rotl(v[0], 1) + _rotl(v[1], 7) + _rotl(v[2], 12) + _rotl(v[3], 18)
            for j in range(4):
                hl = (hl ^ (_rotl(v[j] * P2, 31) * P1)) * P1 + P4
            h[long_] = hl
            pos[long_] = p
        h = h + lengths.astype(np.uint64)
        end = starts + lengths
        active = pos + 8 <= end
        while active.any():
            a = np.flatnonzero(active)
            h[a] = _rotl(h[a] ^ (_rotl(words8[pos[a]] * P2, 31) * P1), 27) * P1 + P4
            pos[a] += 8
            active = pos + 8 <= end
        a = np.flatnonzero(pos + 4 <= end)
        if len(a):
            h[a] = _rotl(h[a] ^ (words4[pos[a]].astype(np.uint64) * P1), 23) * P2 + P3
            pos[a] += 4
        active = pos < end
        while active.any():
            a = np.flatnonzero(active)
            h[a] = _rotl(h[a] ^ (buf[pos[a]].astype(np.uint64) * P5), 11) * P1
            pos[a] += 1
            active = pos < end
        return _fmix(h)


@functools.lru_cache(maxsize=65536)
def salt_seed(salt: int) -> np.uint64:
    """The running hash after ``xxhash64``'s first argument, the column's salt (a bigint)."""
    return np.uint64(hash_long(np.array([salt], np.int64), np.uint64(SEED))[0])


def _string_parts(arr: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(data bytes, starts, lengths) of a pyarrow string array without nulls."""
    import pyarrow as pa

    arr = arr.cast(pa.large_string()) if arr.type != pa.large_string() else arr
    _, offsets, data = arr.buffers()
    off = np.frombuffer(offsets, np.int64)[arr.offset: arr.offset + len(arr) + 1]
    raw = np.frombuffer(data, np.uint8) if data is not None else np.zeros(0, np.uint8)
    return raw, off[:-1], np.diff(off)


# BOOL_TEXT without ``(?i)``: RE2's case folding is Unicode's (``"falſe"`` would match), Java's is ASCII
_BOOL_ASCII = r"^([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee])\z"
DATE_PREFIX = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"


def text_column_hash(arr: Any, salt: int, *, timestamps: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``canonical.value_hash`` of a text-source string column (a pyarrow array), as uint64, and
    the mask of values it left undecided (timestamp-like or date-like text Arrow does not parse the
    way Spark's ``try_to_timestamp``/``try_to_date`` might). ``timestamps=False`` leaves every
    timestamp-like value undecided (zone-less text means the session's zone, known UTC only)."""
    return text_hash(arr, np.full(len(arr), salt_seed(salt), np.uint64), timestamps=timestamps)


def text_hash(arr: Any, seeds: np.ndarray, *, timestamps: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """:func:`text_column_hash` of values with a seed each (``salt_seed`` of their column's salt):
    the columns of a whole table hashed at once, one regular-expression pass per form."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    n = len(arr)
    out = seeds.copy()  # null: the hash of the salt alone
    undecided = np.zeros(n, bool)
    valid = np.asarray(arr.is_valid())
    if not valid.any():
        return out, undecided

    def mask(where: np.ndarray, pattern: str) -> np.ndarray:
        """``where`` narrowed to the values matching ``pattern`` (only those values are matched)."""
        idx = np.flatnonzero(where)
        hit = np.zeros(n, bool)
        if len(idx):
            sub = arr if len(idx) == n else arr.take(pa.array(idx))
            hit[idx] = np.asarray(pc.fill_null(pc.match_substring_regex(sub, pattern), False))
        return hit

    num = mask(valid, NUMBER_TEXT)
    rest = valid & ~num
    dated = mask(rest, DATE_PREFIX)  # both date and timestamp text start so
    ts = mask(dated, TIMESTAMP_TEXT)
    date = mask(dated & ~ts, DATE_TEXT)
    rest &= ~(ts | date)
    boolean = mask(rest, _BOOL_ASCII)
    rest &= ~boolean
    if num.any():
        idx = np.flatnonzero(num)
        d = np.asarray(pc.cast(arr.take(pa.array(idx)), pa.float64())) + 0.0
        out[idx] = hash_long(d.view(np.int64), seeds[idx])
    if ts.any() and not timestamps:
        undecided |= ts
    elif ts.any():
        idx = np.flatnonzero(ts)
        parsed = _try_timestamp(arr.take(pa.array(idx)))
        ok = np.asarray(parsed.is_valid())
        micros = np.asarray(parsed.fill_null(0).cast(pa.int64()))
        millis = np.floor_divide(micros, 1000)
        out[idx[ok]] = hash_long(millis[ok], seeds[idx[ok]])
        undecided[idx[~ok]] = True
    if date.any():
        idx = np.flatnonzero(date)
        parsed = _try_date(arr.take(pa.array(idx)))
        ok = np.asarray(parsed.is_valid())
        days = np.asarray(parsed.fill_null(0).cast(pa.int32()))
        out[idx[ok]] = hash_int(days[ok], seeds[idx[ok]])
        undecided[idx[~ok]] = True
    if boolean.any():
        idx = np.flatnonzero(boolean)
        b = np.asarray(pc.equal(pc.utf8_lower(arr.take(pa.array(idx))), "true")).astype(np.int32)
        out[idx] = hash_int(b, seeds[idx])
    if rest.any():
        idx = np.flatnonzero(rest)
        data, starts, lengths = _string_parts(arr.take(pa.array(idx)))
        out[idx] = hash_bytes(data, starts, lengths, seeds[idx])
    return out, undecided


def _try_timestamp(arr: Any) -> Any:
    """Microseconds since the epoch of ISO timestamp text, null where Arrow cannot parse it. Text
    with a zone or offset is cast as such; zone-less text as UTC wall time (Spark's reading in a UTC
    session — :func:`text_hash` is told whether the session is, ``timestamps``)."""
    import pyarrow as pa

    for target in (pa.timestamp("us", "UTC"), pa.timestamp("us")):
        try:
            return arr.cast(target).cast(pa.int64())  # every value parses one way: one cast
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    out = []
    for v in arr.to_pylist():  # mixed or unparseable values only: rare in real data
        value = None
        for target in (pa.timestamp("us", "UTC"), pa.timestamp("us")):
            try:
                value = pa.scalar(v).cast(target).value
                break
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                continue
        out.append(value)
    return pa.array(out, pa.int64())


def _try_date(arr: Any) -> Any:
    import pyarrow as pa

    try:
        return arr.cast(pa.date32()).cast(pa.int32())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    out = []
    for v in arr.to_pylist():
        try:
            out.append(pa.scalar(v).cast(pa.date32()).cast(pa.int32()).as_py())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            out.append(None)
    return pa.array(out, pa.int32())

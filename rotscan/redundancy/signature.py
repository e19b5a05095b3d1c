"""Content signatures of datasets and the estimates drawn from them (pure Python).

A signature is computed in one Spark pass (``rotscan.spark.profile``). Every row gets one 64-bit
hash: the XOR over its columns of ``xxhash64(salt(column name), canonical value)`` — independent of
column order, file layout, row order and source format. From the row hashes the pass keeps:

- a one-permutation MinHash: ``k`` bins by ``pmod(h, k)``, the minimum hash per bin (empty bins are
  filled on the driver by rotation densification) — rebuilt as a datasketch ``LeanMinHash`` for LSH;
- an order-independent multiset checksum: row count, wrapping sums of both 32-bit halves, XOR;
- a hash-coordinated sample: the distinct row hashes whose top ``sample_bits`` bits are zero
  (FracMinHash). Every dataset samples the same rows of the same content, so samples of two
  datasets compared at the coarser of their two scales give Jaccard and containment directly,
  with a binomial error bound. Tables up to the sample target are kept whole (``sample_bits = 0``),
  which makes their comparisons exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import cached_property

MASK64 = (1 << 64) - 1
MINHASH_SEED = 1
MINHASH_SCHEME = "affine64"


def unsigned(h: int) -> int:
    return h & MASK64


def sample_bits_for(rows_estimate: int | None, target: int) -> int:
    """Smallest ``b`` so that ``rows / 2**b`` is at most the target sample size."""
    if not rows_estimate or rows_estimate <= target:
        return 0
    return max(0, math.ceil(math.log2(rows_estimate / target)))


def _in_scale(h: int, bits: int) -> bool:
    return bits == 0 or (h >> (64 - bits)) == 0


@dataclass(frozen=True)
class Signature:
    columns: tuple[str, ...]  # canonical (lower-case, sorted) column names hashed
    rows: int
    checksum: str
    k: int
    mins: tuple[int | None, ...]  # unsigned 64-bit minimum per bin, None when the bin is empty
    sample_bits: int
    sample: tuple[int, ...]  # sorted distinct unsigned row hashes with the top sample_bits bits zero

    @cached_property
    def sample_set(self) -> frozenset[int]:
        return frozenset(self.sample)

    @property
    def distinct_estimate(self) -> int:
        return len(self.sample) << self.sample_bits

    @property
    def exact_sample(self) -> bool:
        return self.sample_bits == 0

    def coarsened(self, bits: int) -> Signature:
        """This signature on the coarser sample scale ``bits`` (``>= sample_bits``): the sampled
        hashes in that scale. The bin minima, row count and checksum are over all rows whatever the
        scale, so it is the very signature a pass on scale ``bits`` computes."""
        if bits < self.sample_bits:
            raise ValueError(f"cannot refine a sample of scale {self.sample_bits} to {bits}")
        if bits == self.sample_bits:
            return self
        return replace(self, sample_bits=bits, sample=tuple(h for h in self.sample if _in_scale(h, bits)))

    def densified(self) -> list[int]:
        """Fill empty bins from the next non-empty bin to the right (rotation densification,
        Shrivastava 2017), offsetting by the distance so that filled values stay distinct."""
        k = self.k
        values = list(self.mins)
        if all(v is None for v in values):
            return [MASK64] * k
        out: list[int] = []
        for i in range(k):
            j, dist = i, 0
            while values[j] is None:
                j = (j + 1) % k
                dist += 1
            v = values[j]
            assert v is not None
            out.append(v if dist == 0 else (v + dist * 0x9E3779B97F4A7C15) & MASK64)
        return out

    def minhash(self):  # type: ignore[no-untyped-def]
        from datasketch import LeanMinHash

        return LeanMinHash(seed=MINHASH_SEED, hashvalues=self.densified(), scheme=MINHASH_SCHEME)

    def to_dict(self) -> dict[str, object]:
        return {"columns": list(self.columns), "rows": self.rows, "checksum": self.checksum, "k": self.k,
                "mins": list(self.mins), "sample_bits": self.sample_bits, "sample": list(self.sample)}

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> Signature:
        return cls(columns=tuple(d["columns"]), rows=int(d["rows"]), checksum=str(d["checksum"]),  # type: ignore[arg-type,call-overload]
                   k=int(d["k"]), mins=tuple(d["mins"]), sample_bits=int(d["sample_bits"]),  # type: ignore[arg-type,call-overload]
                   sample=tuple(d["sample"]))  # type: ignore[arg-type,call-overload]


@dataclass(frozen=True)
class Overlap:
    """Similarity of two datasets' row sets, estimated from their coordinated samples."""

    jaccard: float
    containment_ab: float  # share of A's distinct rows found in B
    containment_ba: float
    sample_a: int  # sample sizes at the common scale
    sample_b: int
    shared: int
    exact: bool  # both samples were the whole tables

    def error(self, which: str = "ab", z: float = 3.0) -> float:
        """A ``z``-sigma binomial error bound of a containment estimate (0 when exact)."""
        if self.exact:
            return 0.0
        c, n = (self.containment_ab, self.sample_a) if which == "ab" else (self.containment_ba, self.sample_b)
        if n == 0:
            return 1.0
        return min(1.0, z * math.sqrt(max(c * (1 - c), 1.0 / n) / n))


def overlap(a: Signature, b: Signature) -> Overlap:
    bits = max(a.sample_bits, b.sample_bits)
    sa = a.sample_set if a.sample_bits == bits else frozenset(h for h in a.sample if _in_scale(h, bits))
    sb = b.sample_set if b.sample_bits == bits else frozenset(h for h in b.sample if _in_scale(h, bits))
    shared = len(sa & sb)
    union = len(sa) + len(sb) - shared
    return Overlap(
        jaccard=shared / union if union else 1.0,
        containment_ab=shared / len(sa) if sa else 0.0,
        containment_ba=shared / len(sb) if sb else 0.0,
        sample_a=len(sa), sample_b=len(sb), shared=shared, exact=bits == 0,
    )


def merge_checksum(rows: int, sum_lo: int, sum_hi: int, xor: int) -> str:
    """The order-independent multiset checksum of a table's row hashes."""
    return f"{rows}:{sum_lo & MASK64:016x}:{sum_hi & MASK64:016x}:{xor & MASK64:016x}"


def signature_from_hashes(hashes: list[int], columns: tuple[str, ...], *, k: int = 256,
                          sample_target: int = 4096, rows_estimate: int | None = None) -> Signature:
    """The signature the Spark pass computes, from signed 64-bit row hashes given in Python (used by
    benchmarks and tests of the pure core; scans compute it in the JVM)."""
    bits = sample_bits_for(rows_estimate if rows_estimate is not None else len(hashes), sample_target)
    mins: list[int | None] = [None] * k
    lo = hi = x = 0
    sample: set[int] = set()
    for h in hashes:
        b = h % k  # Python's % is Spark's pmod for a positive k
        if mins[b] is None or h < mins[b]:  # type: ignore[operator]
            mins[b] = h
        lo += h & 0xFFFFFFFF
        hi += h >> 32
        x ^= h
        u = unsigned(h)
        if _in_scale(u, bits):
            sample.add(u)
    return Signature(columns=tuple(sorted(columns)), rows=len(hashes), checksum=merge_checksum(len(hashes), lo, hi, x),
                     k=k, mins=tuple(None if m is None else unsigned(m) for m in mins), sample_bits=bits,
                     sample=tuple(sorted(sample)))


def write_signatures(signatures: dict[str, Signature], path: str) -> None:
    """Store signatures as Parquet (one row per dataset; hash values as unsigned 64-bit integers)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    uris = sorted(signatures)
    sigs = [signatures[u] for u in uris]
    table = pa.table({
        "uri": pa.array(uris, pa.string()),
        "columns": pa.array([list(s.columns) for s in sigs], pa.list_(pa.string())),
        "rows": pa.array([s.rows for s in sigs], pa.int64()),
        "checksum": pa.array([s.checksum for s in sigs], pa.string()),
        "k": pa.array([s.k for s in sigs], pa.int32()),
        "mins": pa.array([list(s.mins) for s in sigs], pa.list_(pa.uint64())),
        "sample_bits": pa.array([s.sample_bits for s in sigs], pa.int32()),
        "sample": pa.array([list(s.sample) for s in sigs], pa.list_(pa.uint64())),
    })
    pq.write_table(table, path)


def read_signatures(path: str) -> dict[str, Signature]:
    import pyarrow.parquet as pq

    out: dict[str, Signature] = {}
    for row in pq.read_table(path).to_pylist():
        out[row["uri"]] = Signature(columns=tuple(row["columns"]), rows=row["rows"], checksum=row["checksum"],
                                    k=row["k"], mins=tuple(row["mins"]), sample_bits=row["sample_bits"],
                                    sample=tuple(row["sample"]))
    return out

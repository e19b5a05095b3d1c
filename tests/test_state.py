"""Scan state for incremental scans, without a JVM: fingerprints, the Parquet round trip, what
invalidates a state, and a rescan that reuses every profile with a Spark factory that must not run."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from rotscan.config import load_config
from rotscan.crawl.discover import Crawler, CrawlRules
from rotscan.crawl.inventory import Inventory, InventoryEntry
from rotscan.redundancy.signature import signature_from_hashes, write_signatures
from rotscan.runtime import Runtime
from rotscan.scan import run_scan
from rotscan.state import (
    STATE_FILE,
    ContainmentKey,
    ProfileOutcome,
    ProjectionKey,
    ScanState,
    StateFormatError,
    StateTracker,
    decode_state,
    encode_state,
    files_fingerprint,
    read_state,
    settings_fingerprint,
    write_state,
)
from rotscan.storage.local import LocalStorage
from rotscan.uri import parse
from tests.cleanup_support import write_fake_delta
from tests.lakes import table


def inventory(root: Path) -> dict[str, InventoryEntry]:
    storage = LocalStorage()
    inv = Inventory(storage, small_file_bytes=1 << 20, sniff_bytes=4096)
    out: dict[str, InventoryEntry] = {}
    Crawler(storage, CrawlRules.from_config(load_config()),
            lambda c: out.__setitem__(parse(str(c.uri)).relative_to(parse(str(root))), inv.build(c))).crawl(parse(str(root)))
    return out


def small_lake(root: Path) -> None:
    (root / "a").mkdir(parents=True)
    pq.write_table(table(50), root / "a/part-00000.parquet")
    pq.write_table(table(50, offset=50), root / "a/part-00001.parquet")
    (root / "b.csv").write_text("x,y\n1,2\n3,4\n")
    write_fake_delta(root / "d")


def sig(n: int, k: int = 16):  # type: ignore[no-untyped-def]
    return signature_from_hashes([(i * 0x9E3779B97F4A7C15 + 7) % (1 << 63) for i in range(n)], ("id", "name"), k=k)


def test_files_fingerprint_sees_every_change() -> None:
    base = [("p0", 10, 1.5), ("p1", 20, 2.5)]
    fp = files_fingerprint(base)
    assert fp == files_fingerprint(list(reversed(base)))  # order of listing does not matter
    assert fp.startswith("files n=2 bytes=30 mtime=2.5 ")
    for changed in ([("p0", 11, 1.5), ("p1", 20, 2.5)], [("p0", 10, 1.6), ("p1", 20, 2.5)],
                    [("p2", 10, 1.5), ("p1", 20, 2.5)], [*base, ("p3", 0, 0.0)], base[:1]):
        assert files_fingerprint(changed) != fp


def test_inventory_fingerprints_are_stable_and_change_with_content(tmp_path: Path) -> None:
    small_lake(tmp_path)
    first = inventory(tmp_path)
    assert set(first) == {"a", "b.csv", "d"}
    assert all(e.fingerprint for e in first.values())
    assert first["d"].fingerprint.startswith("delta v=0 files=2 ")  # type: ignore[union-attr]
    again = inventory(tmp_path)
    assert {k: e.fingerprint for k, e in again.items()} == {k: e.fingerprint for k, e in first.items()}

    # overwrite a Parquet file with other rows of the same size class; append a CSV row; a Delta commit
    pq.write_table(table(50, offset=1000), tmp_path / "a/part-00001.parquet")
    with open(tmp_path / "b.csv", "a") as fh:
        fh.write("5,6\n")
    (tmp_path / "d/_delta_log/00000000000000000001.json").write_text(json.dumps(
        {"remove": {"path": "part-00001-abc.snappy.parquet", "deletionTimestamp": 1, "dataChange": True}}) + "\n")
    changed = inventory(tmp_path)
    for name in ("a", "b.csv", "d"):
        assert changed[name].fingerprint != first[name].fingerprint, name
    assert changed["d"].fingerprint.startswith("delta v=1 files=1 ")  # type: ignore[union-attr]


def test_same_listing_with_a_file_the_profile_cannot_read_is_a_change(tmp_path: Path) -> None:
    (tmp_path / "t").mkdir()
    pq.write_table(table(10), tmp_path / "t/part-0.parquet")
    good = tmp_path / "t/part-1.parquet"
    pq.write_table(table(10, offset=10), good)
    st = good.stat()
    fp = inventory(tmp_path)["t"].fingerprint
    data = good.read_bytes()
    good.write_bytes(b"\x00" * len(data))  # same size and mtime, but now corrupt: left out of the read
    os.utime(good, ns=(st.st_atime_ns, st.st_mtime_ns))
    broken = inventory(tmp_path)["t"]
    assert len(broken.read_paths) == 1
    assert broken.fingerprint != fp


def full_state() -> ScanState:
    st = ScanState(settings="s1")
    st.profiles["file:/l/a"] = ("fa", ProfileOutcome(rows=100, corrupt_records=2, schema=(("id", "bigint"),),
                                                     constant_columns=None, null_columns=None, signature=sig(100)))
    st.profiles["file:/l/c"] = ("fc", ProfileOutcome(rows=5, schema=(("x", "string"),), constant_columns=("x",),
                                                     null_columns=(), signature=sig(1)))
    st.profiles["file:/l/bad"] = ("fb", ProfileOutcome.from_error("corrupt footer"))
    st.projections[ProjectionKey("file:/l/a", "fa", ("id",), 16)] = sig(60)
    st.containment[ContainmentKey("file:/l/c", "fc", "file:/l/a", "fa", ("id", "name"))] = (5, 0)
    return st


def test_state_round_trip() -> None:
    st = full_state()
    back = decode_state(encode_state(st, {"signature_bins": 16}))
    assert back == st
    assert back.profiles["file:/l/a"][1].signature.mins == st.profiles["file:/l/a"][1].signature.mins  # type: ignore[union-attr]


def test_unusable_state_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(StateFormatError, match="not a readable Parquet"):
        decode_state(b"PAR1 garbage")
    with pytest.raises(StateFormatError, match="not a readable Parquet"):
        decode_state(encode_state(full_state())[:-40])  # truncated write
    write_signatures({"file:/x": sig(5)}, str(tmp_path / "sigs.parquet"))  # a foreign Parquet file
    with pytest.raises(StateFormatError, match="not a rotscan scan state"):
        decode_state((tmp_path / "sigs.parquet").read_bytes())
    data = encode_state(full_state())
    table_ = pq.read_table(__import__("io").BytesIO(data))
    meta = json.loads(table_.schema.metadata[b"rotscan.state"])
    meta["version"] = 99
    pq.write_table(table_.replace_schema_metadata({b"rotscan.state": json.dumps(meta)}), tmp_path / "v99.parquet")
    with pytest.raises(StateFormatError, match="version 99"):
        decode_state((tmp_path / "v99.parquet").read_bytes())


def test_write_replaces_and_read_back(tmp_path: Path) -> None:
    storage, loc = LocalStorage(), parse(str(tmp_path / "state"))
    assert read_state(storage, loc) is None  # first scan: no state yet
    write_state(storage, loc, full_state())
    st2 = ScanState(settings="s2")
    write_state(storage, loc, st2)
    assert read_state(storage, loc) == st2
    assert sorted(os.listdir(tmp_path / "state")) == [STATE_FILE]  # no temporary file left behind


def test_tracker_reuses_only_matching_fingerprints_and_settings() -> None:
    prev = full_state()
    t = StateTracker("file:/state", "s1", prev)
    assert t.lookup_profile("file:/l/a", "fa") == prev.profiles["file:/l/a"][1]
    assert t.lookup_profile("file:/l/c", "changed") is None
    assert t.lookup_profile("file:/l/new", "fn") is None
    assert t.lookup_profile("file:/l/bad", None) is None  # no fingerprint: never reused
    assert t.lookup_projection(ProjectionKey("file:/l/a", "fa", ("id",), 16)) == sig(60)
    assert t.lookup_projection(ProjectionKey("file:/l/a", "fa", ("id",), 32)) is None
    assert t.lookup_containment(ContainmentKey("file:/l/c", "fc2", "file:/l/a", "fa", ("id", "name"))) is None
    t.record_profile("file:/l/c", "changed", ProfileOutcome(rows=6, signature=sig(6)))
    assert (t.reused, t.profiled, t.pairwise_reused) == (1, 1, 1)
    out = t.result([parse("file:/l")])
    # "bad" was not seen by this scan of file:/l: gone from the lake, dropped; the stale containment too
    assert set(out.profiles) == {"file:/l/a", "file:/l/c"}
    assert out.profiles["file:/l/c"][0] == "changed"
    assert out.containment == {}
    # a scan of another root keeps what it did not scan
    other = StateTracker("file:/state", "s1", prev).result([parse("file:/elsewhere")])
    assert set(other.profiles) == set(prev.profiles)

    stale = StateTracker("file:/state", "s-other", prev)  # other settings: nothing reused
    assert stale.invalidated and stale.lookup_profile("file:/l/a", "fa") is None


def test_settings_fingerprint_covers_signature_settings() -> None:
    base, detail = settings_fingerprint(load_config(), {"TZ": "UTC"})
    assert detail["signature_bins"] == 256 and detail["code"]
    assert settings_fingerprint(load_config(), {"TZ": "UTC"})[0] == base
    for overrides in ({"redundancy": {"signature_bins": 128}}, {"redundancy": {"sample_target": 1024}},
                      {"spark": {"conf": {"spark.sql.session.timeZone": "Asia/Tokyo"}}}):
        assert settings_fingerprint(load_config(overrides=overrides), {"TZ": "UTC"})[0] != base, overrides
    assert settings_fingerprint(load_config(), {"TZ": "Europe/Berlin"})[0] != base


def _no_spark(need_s3a: bool):  # type: ignore[no-untyped-def]
    raise AssertionError("Spark was requested but everything should have come from the scan state")


def test_rescan_from_state_needs_no_spark(tmp_path: Path) -> None:
    """The scan wiring without a JVM: a state holding the profiles of the lake's datasets (as a
    Spark scan would have written them) lets a rescan run with a Spark factory that fails."""
    lake = tmp_path / "lake"
    (lake / "orders").mkdir(parents=True)
    (lake / "backup").mkdir(parents=True)
    for d in ("orders", "backup"):
        pq.write_table(table(500), lake / d / "part-00000.parquet")
    state_dir = tmp_path / "state"
    entries = inventory(lake)
    config = load_config(overrides={"scan": {"state": str(state_dir)}})
    settings, detail = settings_fingerprint(config, {"TZ": "UTC"})
    st = ScanState(settings=settings)
    same = sig(500)
    for name in ("orders", "backup"):
        st.profiles[entries[name].dataset.uri] = (entries[name].fingerprint, ProfileOutcome(  # type: ignore[assignment]
            rows=500, schema=(("id", "bigint"), ("name", "string"), ("amount", "double")), signature=same))
    write_state(LocalStorage(), parse(str(state_dir)), st, detail)

    ctx = Runtime(config=config, env={"TZ": "UTC"}, spark_factory=_no_spark)
    result = run_scan([str(lake)], ctx)
    assert result.scan.incremental is not None
    assert (result.scan.incremental["reused"], result.scan.incremental["profiled"]) == (2, 0)
    dup = [f for f in result.findings if f.kind == "exact_duplicate"]
    assert len(dup) == 1 and dup[0].evidence["method"] == "checksum"
    assert {d.rows_source for d in result.datasets} == {"footer"}
    # the state was written back, and findings.json carries the counts (and old files still load)
    from rotscan.models import ScanInfo

    assert ScanInfo.from_dict(result.scan.to_dict()).incremental == result.scan.incremental
    old = result.scan.to_dict()
    del old["incremental"]
    assert ScanInfo.from_dict(old).incremental is None
    assert set(read_state(LocalStorage(), parse(str(state_dir))).profiles) == {  # type: ignore[union-attr]
        entries["orders"].dataset.uri, entries["backup"].dataset.uri}

    # a changed dataset would need Spark: the failing factory proves the state is not reused for it
    pq.write_table(table(501), lake / "backup/part-00000.parquet")
    with pytest.raises(AssertionError, match="Spark was requested"):
        run_scan([str(lake)], Runtime(config=config, env={"TZ": "UTC"}, spark_factory=_no_spark))


def test_corrupt_state_is_a_warning_and_a_full_scan(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    lake.mkdir()
    (lake / "empty.csv").write_bytes(b"")  # nothing to profile: the scan needs no Spark either way
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    (state_dir / STATE_FILE).write_bytes(b"this is not parquet")
    config = load_config(overrides={"scan": {"state": str(state_dir)}})
    result = run_scan([str(lake)], Runtime(config=config, env={"TZ": "UTC"}, spark_factory=_no_spark))
    codes = [w.code for w in result.warnings]
    assert "state_ignored" in codes
    assert result.scan.incremental is not None and result.scan.incremental["reused"] == 0
    # and the broken file was replaced by a good (empty) state
    assert read_state(LocalStorage(), parse(str(state_dir))) is not None


def test_state_inside_a_root_is_not_scanned(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    lake.mkdir()
    pq.write_table(table(10), lake / "t.parquet")
    write_state(LocalStorage(), parse(str(lake / "state")), full_state())
    config = load_config(overrides={"scan": {"state": str(lake / "state"), "profile": False}})
    result = run_scan([str(lake)], Runtime(config=config, spark_factory=_no_spark))
    assert [d.uri for d in result.datasets] == [str(parse(str(lake / "t.parquet")))]
    assert result.scan.incremental is None  # metadata-only: the state is neither read nor written

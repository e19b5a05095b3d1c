"""The README's quick start on the demo lake, and batched profiling of many small files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from rotscan.cli import main
from rotscan.errors import ReadError
from rotscan.spark.profile import Profile, ProfileJob, profile, profile_many

pytestmark = pytest.mark.spark


def test_readme_quick_start_on_the_demo_lake(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    lake, out = tmp_path / "demo-lake", tmp_path / "reports"
    r = CliRunner().invoke(main, ["demo-lake", str(lake)])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["scan", str(lake), "--out", str(out), "--quiet"])
    assert r.exit_code == 0, r.output
    manifest = json.loads((lake / "_demo_manifest.json").read_text())
    doc = json.loads((out / "findings.json").read_text())
    got = {f["uri"].removeprefix(f"file:{lake}/"): f["kind"] for f in doc["findings"]}
    assert got == manifest["planted"]
    assert not set(manifest["clean"]) & set(got)
    # with the demo's usage events, the obsolete data is found too, and nothing healthy
    r = CliRunner().invoke(main, ["scan", str(lake), "--out", str(out), "--quiet",
                                  "--lineage", str(lake / "_usage/openlineage.jsonl")])
    assert r.exit_code == 0, r.output
    doc = json.loads((out / "findings.json").read_text())
    got = {f["uri"].removeprefix(f"file:{lake}/"): f["kind"] for f in doc["findings"]}
    assert got == {**manifest["planted"], **manifest["planted_with_usage"]}
    assert doc["scan"]["usage_sources"][0]["kind"] == "openlineage"
    assert (out / "lineage.json").exists()
    # the demo refuses to overwrite a directory that is not a demo lake
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine/data.csv").write_text("a\n1\n")
    r = CliRunner().invoke(main, ["demo-lake", str(tmp_path / "mine"), "--force"])
    assert r.exit_code == 1 and "not a rotscan demo lake" in r.output
    assert (tmp_path / "mine/data.csv").exists()


def test_batched_profiles_equal_single_ones_and_a_bad_file_is_isolated(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    jobs = []
    for i in range(40):
        f = tmp_path / f"export_{i:03d}.csv"
        f.write_text("id,amount,day\n" + "".join(f"{j},{j * i}.5,2026-01-{j % 28 + 1:02d}\n" for j in range(25)))
        jobs.append(ProfileJob("csv", [f"file:{f}"], None, 25, ["id", "amount", "day"], ("id", "amount", "day")))
    jobs.insert(17, ProfileJob("csv", [f"file:{tmp_path}/vanished.csv"], None, 25, ["id", "amount", "day"],
                               ("id", "amount", "day")))
    results = profile_many(spark, jobs)
    assert isinstance(results[17], ReadError)
    good = [r for i, r in enumerate(results) if i != 17]
    assert all(isinstance(r, Profile) and r.rows == 25 for r in good)
    for job, batched in list(zip(jobs, results, strict=True))[:5]:
        alone = profile(spark, "csv", job.paths, rows_estimate=25, columns=job.columns)
        assert isinstance(batched, Profile) and batched.signature == alone.signature


def test_several_hundred_csv_files_scan_with_profiling(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    lake = tmp_path / "drops"
    for i in range(300):
        d = lake / f"batch_{i // 60}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"export_{i:04d}.csv").write_text("id,value\n" + "".join(f"{j},{j * i + 1}\n" for j in range(30)))
    (lake / "batch_0/copy_of_export_0007.csv").write_bytes((lake / "batch_0/export_0007.csv").read_bytes())
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["scan", str(lake), "--out", str(out), "--quiet"])
    assert r.exit_code == 0, r.output
    doc = json.loads((out / "findings.json").read_text())
    assert len(doc["datasets"]) == 301
    assert all(d["rows"] == 30 for d in doc["datasets"])
    [f] = doc["findings"]
    assert f["kind"] == "exact_duplicate"
    assert {f["uri"], f["related"][0]} == {f"file:{lake}/batch_0/copy_of_export_0007.csv",
                                           f"file:{lake}/batch_0/export_0007.csv"}

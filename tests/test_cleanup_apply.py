"""apply / restore / purge on a real local lake (no JVM): dry run changes nothing, execute then
restore gives the identical tree, revalidation skips what changed, the CLI's JSON contract."""

from __future__ import annotations

import json
import os
import time
from datetime import timedelta
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from rotscan.cleanup.apply import apply_plan
from rotscan.cleanup.audit import read_audit
from rotscan.cleanup.journal import RunLayout, read_journal
from rotscan.cleanup.plan import read_plan
from rotscan.cleanup.purge import parse_duration, purge
from rotscan.cleanup.restore import restore_run
from rotscan.errors import ConfigError, RotscanError
from rotscan.storage.local import LocalStorage
from rotscan.uri import parse

from .cleanup_support import build_cleanup_lake, context, plan_and_load, rel_of, reseal, scan_lake, tree


@pytest.fixture()
def planned(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "lake"
    root.mkdir()
    build_cleanup_lake(root, bulk_files=60)
    out = scan_lake(root, tmp_path / "scan")
    plan_and_load(out, tmp_path / "plan.json")
    return root, tmp_path / "plan.json"


def test_dry_run_changes_nothing(planned) -> None:  # type: ignore[no-untyped-def]
    root, path = planned
    before = tree(root, skip_state=False)
    report = apply_plan(read_plan(path), context(), execute=False)
    assert report.dry_run and report.planned
    assert all(a.status == "done" and a.reason.startswith("dry run") for a in report.planned)
    assert tree(root, skip_state=False) == before
    assert not (root / "_rotscan").exists()


def test_execute_then_restore_gives_the_identical_tree(planned) -> None:  # type: ignore[no-untyped-def]
    root, path = planned
    before = tree(root)
    report = apply_plan(read_plan(path), context(), execute=True)
    assert all(a.status == "done" for a in report.planned), [a.to_dict() for a in report.planned if a.status != "done"]
    moved = {rel_of(a.uri, root) for a in report.planned}
    assert not (root / "tmp/bulk_dump").exists() and not (root / "exports/.DS_Store").exists()
    q = root / "_rotscan/quarantine" / report.run_id
    assert (q / "tmp/bulk_dump/batch=0/part-00000.csv").read_text().startswith("a,b")
    after = tree(root)
    assert all(not any(k == m or k.startswith(m + "/") for m in moved) for k in after)
    manifest = json.loads((root / "_rotscan/runs" / report.run_id / "manifest.json").read_text())
    assert len(manifest["files"]) == sum(a.files for a in report.planned)
    assert all(len(f["sha256"]) == 64 for f in manifest["files"])
    audit = read_audit(LocalStorage(), parse(str(root)))
    assert {(r["event"], r["uri"]) for r in audit if r["status"] == "done"} == {(a.action, a.uri) for a in report.planned}
    assert {r["uri"] for r in audit if r["event"] == "not_planned"} == {f"file:{root}/warehouse/fake_delta/.DS_Store"}
    assert all(r["user"] == "tester" and r["run_id"] == report.run_id for r in audit)

    restored = restore_run(context(), [parse(str(root))], report.run_id)
    assert restored.ok
    assert tree(root) == before
    assert [r["event"] for r in read_audit(LocalStorage(), parse(str(root)))].count("restore") == len(report.planned)
    again = restore_run(context(), [parse(str(root))], report.run_id)  # idempotent
    assert again.ok and tree(root) == before


def test_copy_mode_moves_verify_and_restore_exactly(planned) -> None:  # type: ignore[no-untyped-def]
    root, path = planned
    before = tree(root)
    report = apply_plan(read_plan(path), context(force_copy=True), execute=True)
    assert all(a.status == "done" for a in report.planned)
    records = read_journal(LocalStorage(), RunLayout(parse(str(root)), report.run_id))
    assert {r["mode"] for r in records if r["op"] == "intent"} == {"copy"}
    assert restore_run(context(force_copy=True), [parse(str(root))], report.run_id).ok
    assert tree(root) == before


def test_changes_after_the_plan_are_skipped(planned) -> None:  # type: ignore[no-untyped-def]
    root, path = planned
    (root / "tmp/bulk_dump/batch=1/part-new.csv").write_text("a,b\n9,9\n")  # a concurrent writer adds a file
    (root / "tmp/scratch_sample/part-00000.parquet").write_bytes(b"rewritten")  # ... or rewrites one
    os.utime(root / "exports/Thumbs.db", (time.time() - 86400 * 30,) * 2)  # ... or touches one
    report = apply_plan(read_plan(path), context(), execute=True)
    by_rel = {rel_of(a.uri, root): a for a in report.planned}
    for rel in ("tmp/bulk_dump", "tmp/scratch_sample", "exports/Thumbs.db"):
        assert by_rel[rel].status == "skipped" and by_rel[rel].reason.startswith("changed since the plan"), rel
    assert (root / "tmp/bulk_dump/batch=1/part-new.csv").exists()
    assert len(list((root / "tmp/bulk_dump").rglob("*.csv"))) == 61
    assert by_rel["exports/.DS_Store"].status == "done"


def test_a_writer_during_the_move_stops_the_action_and_puts_back_what_moved(planned) -> None:  # type: ignore[no-untyped-def]
    root, path = planned
    victim = root / "tmp/bulk_dump/batch=4/part-00059.csv"

    def writer(step: str, n: int) -> None:
        if step == "moved" and n == 3:
            victim.write_text("a,b\nnew,data\n")

    before = tree(root)
    plan = read_plan(path)
    plan = type(plan)(plan.header, plan.roots, tuple(la for la in plan.actions
                                                      if la.action and la.action.rel == "tmp/bulk_dump"), plan.doc)
    report = apply_plan(plan, context(fault_hook=writer), execute=True)
    (result,) = report.planned
    assert result.status == "skipped" and "changed while moving" in result.reason and "put back" in result.reason
    after = tree(root)
    rel = "tmp/bulk_dump/batch=4/part-00059.csv"
    assert {k: v for k, v in after.items() if k != rel} == {k: v for k, v in before.items() if k != rel}
    assert victim.read_text() == "a,b\nnew,data\n"


def test_applying_an_executed_plan_again_does_nothing(planned) -> None:  # type: ignore[no-untyped-def]
    root, path = planned
    apply_plan(read_plan(path), context(), execute=True)
    snapshot = tree(root)
    second = apply_plan(read_plan(path), context(), execute=True)
    assert all(a.status == "skipped" for a in second.planned)
    assert tree(root) == snapshot


def test_restore_refuses_to_overwrite_new_data(planned) -> None:  # type: ignore[no-untyped-def]
    root, path = planned
    report = apply_plan(read_plan(path), context(), execute=True)
    (root / "exports/.DS_Store").write_bytes(b"a new finder file")
    result = restore_run(context(), [parse(str(root))], report.run_id)
    by_rel = {rel_of(a.uri, root): a for a in result.actions}
    assert by_rel["exports/.DS_Store"].status == "skipped" and "not overwritten" in by_rel["exports/.DS_Store"].reason
    assert (root / "exports/.DS_Store").read_bytes() == b"a new finder file"
    assert by_rel["tmp/bulk_dump"].status == "done"
    assert any(p.name == ".DS_Store" for p in (root / "_rotscan/quarantine").rglob(".DS_Store"))


def test_archive_without_an_archive_location_is_refused(planned) -> None:  # type: ignore[no-untyped-def]
    root, path = planned
    doc = json.loads(path.read_text())
    doc["actions"] = [reseal({**doc["actions"][0], "action": "archive"})]
    path.write_text(json.dumps(doc))
    before = tree(root)
    (result,) = apply_plan(read_plan(path), context(), execute=True).planned
    assert (result.status, result.reason) == ("skipped", "refused: no archive location is configured for this path "
                                                         "([cleanup.archive])")
    assert tree(root) == before


def test_purge(planned) -> None:  # type: ignore[no-untyped-def]
    root, path = planned
    roots = [parse(str(root))]
    report = apply_plan(read_plan(path), context(), execute=True)
    assert purge(context(), roots, timedelta(days=30)).runs == []  # too young
    listed = purge(context(), roots, timedelta(0), dry_run=True)
    assert [r.status for r in listed.runs] == ["done"] and (root / "_rotscan/quarantine" / report.run_id).exists()
    done = purge(context(), roots, timedelta(0))
    assert done.runs[0].bytes == sum(a.bytes for a in report.planned)
    assert not (root / "_rotscan/quarantine" / report.run_id).exists()
    assert read_audit(LocalStorage(), roots[0])[-1]["event"] == "purge"
    with pytest.raises(RotscanError, match="purged"):
        restore_run(context(), roots, report.run_id)
    assert parse_duration("30d") == timedelta(days=30) and parse_duration("12h") == timedelta(hours=12)
    with pytest.raises(ConfigError):
        parse_duration("soon")


def _cli() -> click.Group:
    from rotscan.cli import main
    from rotscan.cli_cleanup import register

    register(main)
    register(main)  # idempotent
    return main


def test_cli_plan_apply_json_restore_purge(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    root.mkdir()
    build_cleanup_lake(root, bulk_files=10)
    out = scan_lake(root, tmp_path / "scan")
    before = tree(root)
    env = {"XDG_STATE_HOME": str(tmp_path / "state"), "USER": "alice",
           "ROTSCAN_SCAN__PROFILE": "false"}
    runner = CliRunner()
    main = _cli()
    r = runner.invoke(main, ["plan", str(out), "--out", str(tmp_path / "plan.json")], env=env)
    assert r.exit_code == 0, r.output
    r = runner.invoke(main, ["apply", str(tmp_path / "plan.json"), "--json"], env=env)
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert set(doc) >= {"run_id", "dry_run", "actions"} and doc["dry_run"] is True
    assert all(set(a) >= {"uri", "status", "reason", "bytes"} for a in doc["actions"])
    assert tree(root) == before
    r = runner.invoke(main, ["apply", str(tmp_path / "plan.json"), "--execute", "--json"], env=env)
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["dry_run"] is False and all(a["status"] == "done" for a in doc["actions"] if a["planned"])
    assert json.loads((root / "_rotscan/audit.jsonl").read_text().splitlines()[0])["user"] == "alice"
    r = runner.invoke(main, ["restore", doc["run_id"]], env=env)  # root found through the runs index
    assert r.exit_code == 0, r.output
    assert tree(root) == before
    r = runner.invoke(main, ["purge", "--older-than", "0s", "--json"], env=env)
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["runs"][0]["status"] == "done"
    r = runner.invoke(main, ["restore", "nonexistent-run", "--root", str(root)], env=env)
    assert r.exit_code == 1 and "not found" in r.output
    for name in ("plan", "apply", "restore", "purge"):
        assert "Example" in main.commands[name].help  # type: ignore[operator]


def test_a_copy_is_not_removed_when_the_copy_to_keep_is_gone(planned) -> None:  # type: ignore[no-untyped-def]
    root, path = planned
    doc = json.loads(path.read_text())
    action = next(a for a in doc["actions"] if rel_of(a["uri"], root) == "tmp/scratch_sample")
    action["kinds"] = ["exact_duplicate"]
    action["related"] = [f"file:{root}/reference/one_row.parquet"]
    doc["actions"] = [reseal(action)]
    path.write_text(json.dumps(doc))
    (root / "reference/one_row.parquet").unlink()
    (result,) = apply_plan(read_plan(path), context(), execute=True).planned
    assert result.status == "skipped" and "copy to keep" in result.reason
    assert (root / "tmp/scratch_sample/part-00000.parquet").exists()


def test_a_second_apply_on_a_locked_root_is_refused(planned) -> None:  # type: ignore[no-untyped-def]
    from rotscan.cleanup.lock import LockedError, RootLock

    root, path = planned
    lock = RootLock(LocalStorage(), parse(str(root)), "someone else", "another-host")
    lock.acquire()
    with pytest.raises(LockedError, match="someone else"):
        apply_plan(read_plan(path), context(), execute=True)
    assert apply_plan(read_plan(path), context(), execute=False).dry_run  # a dry run needs no lock
    lock.release()


def test_a_writer_between_scan_and_plan_shows_up_as_skipped_in_apply(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    root.mkdir()
    build_cleanup_lake(root, bulk_files=10)
    out = scan_lake(root, tmp_path / "scan")
    late = root / "tmp/bulk_dump/batch=0/late.csv"
    late.write_text("a,b\n1,1\n")
    os.utime(late, (time.time() + 5,) * 2)
    plan_and_load(out, tmp_path / "plan.json")
    report = apply_plan(read_plan(tmp_path / "plan.json"), context(), execute=True)
    by_rel = {rel_of(a.uri, root): a for a in report.actions}
    assert not by_rel["tmp/bulk_dump"].planned
    assert by_rel["tmp/bulk_dump"].status == "skipped" and "stale scan" in by_rel["tmp/bulk_dump"].reason
    assert late.exists() and (root / "tmp/bulk_dump/batch=0/part-00000.csv").exists()

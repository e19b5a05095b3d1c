"""A tampered cleanup journal is refused with a clear message and changes nothing (issue #13).

Real runs on a real local lake: executed to the end, or interrupted at a fault point — ``kill -9``
in a subprocess for the regression tests; for the tamper matrix the fault hook raises a
``BaseException`` no rotscan code catches, which leaves the journal and the lake exactly as a kill
there would (every record is fsynced before the hook runs; only the lock is released on the way
out). Then the journal is edited the ways a person, a script or a bug could — a move's target
pointed at live data, a source outside the root, lines deleted, reordered, inserted, forged,
unknown ops, corrupt JSON, the chain recomputed after the edit — and resume, restore and purge
must refuse, naming the run and line, with every file of the lake, its quarantine and rotscan's
state byte-identical to before the attempt.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rotscan.cleanup.apply import apply_plan
from rotscan.cleanup.journal import (
    CHAIN_FIELDS,
    JournalTamperedError,
    RunLayout,
    link_of,
    load_journal,
    read_journal,
    record_hash,
)
from rotscan.cleanup.plan import read_plan
from rotscan.cleanup.purge import purge
from rotscan.cleanup.restore import restore_run
from rotscan.storage.local import LocalStorage
from rotscan.uri import parse

from .cleanup_support import build_cleanup_lake, context, plan_and_load, reseal, scan_lake, tree

REPO = Path(__file__).resolve().parents[1]
LIVE = "warehouse/orders/part-00000-1b2c.snappy.parquet"  # a live file no plan touches

RUNNER = """
import os, signal, sys
from pathlib import Path
from rotscan.cleanup.apply import apply_plan
from rotscan.cleanup.plan import read_plan
from tests.cleanup_support import context

plan, step, n = sys.argv[1], sys.argv[2], int(sys.argv[3])

def hook(s, k):
    if s == step and k == n:
        os.kill(os.getpid(), signal.SIGKILL)

apply_plan(read_plan(Path(plan)), context(fault_hook=hook, force_copy=True), execute=True)
print("finished without being killed")
"""


class Killed(BaseException):
    """Raised from the fault hook: escapes every handler, like a kill at that instruction."""


class Run:
    """One run on its own copy of the lake: where it is, its plan, and the tree before it."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.root = base / "lake"
        self.plan = base / "plan.json"
        self.outside = base / "outside"
        self.outside.mkdir(exist_ok=True)
        (self.outside / "precious.txt").write_text("not rotscan's to touch\n")
        self.before = tree(self.root)
        self.run_id = ""

    @property
    def uri(self) -> Any:
        return parse(str(self.root))

    @property
    def layout(self) -> RunLayout:
        return RunLayout(self.uri, self.run_id)

    @property
    def journal(self) -> Path:
        return Path(self.layout.journal.path)

    def lines(self) -> list[bytes]:
        return self.journal.read_bytes().split(b"\n")[:-1]

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines()]

    def write(self, records: list[dict[str, Any] | bytes]) -> None:
        self.journal.write_bytes(b"".join((r if isinstance(r, bytes) else
                                           json.dumps(r, sort_keys=True).encode()) + b"\n" for r in records))

    def snapshot(self) -> dict[str, Any]:
        """Every byte under the root (rotscan's state included) and next to it."""
        return {"lake": tree(self.root, skip_state=False), "outside": tree(self.outside)}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("pristine")
    root = base / "lake"
    root.mkdir()
    build_cleanup_lake(root, bulk_files=24)
    return root, scan_lake(root, base / "scan")


def _new_run(pristine: tuple[Path, Path], base: Path) -> Run:
    src_root, out = pristine
    subprocess.run(["cp", "-a", str(src_root), str(base / "lake")], check=True)
    scan = json.loads((out / "findings.json").read_text().replace(str(src_root), str(base / "lake")))
    (base / "scan").mkdir()
    (base / "scan/findings.json").write_text(json.dumps(scan))
    plan_and_load(base / "scan", base / "plan.json")
    return Run(base)


def _only_run(run: Run) -> str:
    (run_id,) = [p.name for p in (run.root / "_rotscan/runs").iterdir()]
    return run_id


@pytest.fixture()
def finished(pristine, tmp_path: Path) -> Run:  # type: ignore[no-untyped-def]
    run = _new_run(pristine, tmp_path)
    report = apply_plan(read_plan(run.plan), context(), execute=True)
    assert all(a.status == "done" for a in report.planned)
    run.run_id = report.run_id
    return run


@pytest.fixture()
def killed(pristine, tmp_path: Path) -> Run:  # type: ignore[no-untyped-def]
    """Interrupted in copy mode after the 12th file was copied, before it was verified: the
    journal ends with that file's intent, the copy sits in the quarantine."""
    run = _new_run(pristine, tmp_path)

    def hook(step: str, n: int) -> None:
        if step == "copied" and n == 12:
            raise Killed

    with pytest.raises(Killed):
        apply_plan(read_plan(run.plan), context(fault_hook=hook, force_copy=True), execute=True)
    run.run_id = _only_run(run)
    assert run.records()[-1]["op"] == "intent"
    return run


def _rechain(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Number the records 1, 2, … and recompute the hash chain — what a tamperer who knows the
    format would do after an edit."""
    prev = None
    out = []
    for i, rec in enumerate(records, 1):
        rec = {k: v for k, v in rec.items() if k not in ("hash",)}
        rec["n"], rec["prev"] = i, prev
        rec["hash"] = record_hash(rec)
        prev = rec["hash"]
        out.append(rec)
    return out


def _strip_chain(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The journal as a rotscan from before the hash chain wrote it."""
    return [{k: v for k, v in r.items() if k not in (*CHAIN_FIELDS, "plan_sha256")} for r in records]


def _intents(recs: list[dict[str, Any]], done: bool) -> list[int]:
    finished = {r["seq"] for r in recs if r["op"] == "done"}
    return [i for i, r in enumerate(recs) if r["op"] == "intent" and (r["n"] in finished) == done]


# -- the tampers: (records, run) -> new journal content, and the refusal they must get ------------

Tamper = Callable[[list[dict[str, Any]], Run], list[Any]]


def _set(recs: list[dict[str, Any]], i: int, **fields: Any) -> list[dict[str, Any]]:
    recs = [dict(r) for r in recs]
    recs[i].update(fields)
    return recs


def dst_to_live(recs: list[dict[str, Any]], run: Run) -> list[Any]:
    """The last move's target pointed at a live file (recovery would delete it as a partial copy)."""
    return _set(recs, _intents(recs, done=False)[-1] if _intents(recs, False) else _intents(recs, True)[-1],
                dst=str(run.uri.child(LIVE)))


def dst_to_live_rechained(recs: list[dict[str, Any]], run: Run) -> list[Any]:
    return _rechain(dst_to_live(recs, run))


def src_outside_rechained(recs: list[dict[str, Any]], run: Run) -> list[Any]:
    """A finished move's source pointed outside the root (restore would write there)."""
    return _rechain(_set(recs, _intents(recs, done=True)[0], src=str(parse(str(run.outside / "planted.bin")))))


def src_to_live_rechained(recs: list[dict[str, Any]], run: Run) -> list[Any]:
    return _rechain(_set(recs, _intents(recs, done=True)[1], src=str(run.uri.child(LIVE))))


def src_dotdot_rechained(recs: list[dict[str, Any]], run: Run) -> list[Any]:
    """A source spelled through ``..`` so its text starts inside the root."""
    return _rechain(_set(recs, _intents(recs, done=True)[0],
                         src=str(run.uri) + "/tmp/../../outside/planted.bin"))


def delete_middle(recs: list[dict[str, Any]], run: Run) -> list[Any]:
    return recs[:5] + recs[6:]


def reorder(recs: list[dict[str, Any]], run: Run) -> list[Any]:
    return recs[:4] + [recs[5], recs[4]] + recs[6:]


def insert_forged(recs: list[dict[str, Any]], run: Run) -> list[Any]:
    """A forged outcome copied from a real one, inserted in the middle."""
    forged = dict(recs[_intents(recs, done=True)[0] + 1])
    return recs[:7] + [forged] + recs[7:]


def append_forged_rechained(recs: list[dict[str, Any]], run: Run) -> list[Any]:
    """A forged move of a live file appended with a valid chain."""
    i = _intents(recs, done=True)[0]
    forged = {**recs[i], "src": str(run.uri.child(LIVE)), "dst": str(run.layout.quarantine.child(LIVE))}
    return _rechain([*recs, forged])


def unknown_op(recs: list[dict[str, Any]], run: Run) -> list[Any]:
    return _set(recs, 6, op="frobnicate")


def unknown_op_rechained(recs: list[dict[str, Any]], run: Run) -> list[Any]:
    return _rechain(unknown_op(recs, run))


def corrupt_middle(recs: list[dict[str, Any]], run: Run) -> list[Any]:
    """A complete line in the middle made unparseable (it looks like a torn write)."""
    line = json.dumps(recs[6], sort_keys=True).encode()
    return [*recs[:6], line[: len(line) // 2], *recs[7:]]


def outcome_for_other_action_rechained(recs: list[dict[str, Any]], run: Run) -> list[Any]:
    """An outcome record that names another move than its own action's."""
    i = _intents(recs, done=True)[-1]
    return _rechain(_set(recs, i + 1, seq=recs[_intents(recs, done=True)[0]]["n"]))


def legacy_src_outside(recs: list[dict[str, Any]], run: Run) -> list[Any]:
    """Chain fields stripped (an old journal) and a source edited: the path checks still refuse."""
    return _set(_strip_chain(recs), _intents(recs, done=True)[0], src=str(parse(str(run.outside / "planted.bin"))))


TAMPERS: list[tuple[Tamper, str]] = [
    (dst_to_live, r"line \d+: intent record \d+: its hash does not match its content"),
    (dst_to_live_rechained, r"not to its place in this run's quarantine"),
    (src_outside_rechained, r"outside/planted.bin, which is not a file of the plan's"),
    (src_to_live_rechained, r"part-00000-1b2c.snappy.parquet, which is not a file of the plan's"),
    (src_dotdot_rechained, r"outside/planted.bin, which is not a file of the plan's"),
    (delete_middle, r"line 6: .*record number 7 where 6 was expected"),
    (reorder, r"line 5: .*record number 6 where 5 was expected"),
    (insert_forged, r"line 8: .*record number \d+ where 8 was expected"),
    (append_forged_rechained, r"part-00000-1b2c.snappy.parquet, which is not a file of the plan's"),
    (unknown_op, r"line 7: frobnicate record 7: its hash does not match"),
    (unknown_op_rechained, r"line 7: frobnicate record 7: unknown op 'frobnicate'"),
    (corrupt_middle, r"line 7: not a journal record \(corrupt JSON\)"),
    (outcome_for_other_action_rechained, r"a second outcome for move|says action"),
    (legacy_src_outside, r"outside/planted.bin, which is not a file of the plan's"),
]
IDS = [t.__name__ for t, _ in TAMPERS]


def _assert_refused(run: Run, attempt: Callable[[], Any], match: str) -> None:
    before = run.snapshot()
    with pytest.raises(JournalTamperedError, match=match) as err:
        attempt()
    assert f"run {run.run_id}" in str(err.value) and "nothing was changed" in str(err.value)
    assert run.snapshot() == before, "a refused attempt changed the lake, its quarantine or rotscan's state"
    assert not (run.outside / "planted.bin").exists()


@pytest.mark.parametrize(("tamper", "match"), TAMPERS, ids=IDS)
def test_resume_of_a_tampered_killed_run_is_refused(killed: Run, tamper: Tamper, match: str) -> None:
    run = killed
    run.write(tamper(run.records(), run))
    live = (run.root / LIVE).read_bytes()
    _assert_refused(run, lambda: apply_plan(read_plan(run.plan), context(force_copy=True), execute=True), match)
    _assert_refused(run, lambda: restore_run(context(force_copy=True), [run.uri], run.run_id), match)
    assert (run.root / LIVE).read_bytes() == live


@pytest.mark.parametrize(("tamper", "match"), TAMPERS, ids=IDS)
def test_restore_of_a_tampered_finished_run_is_refused(finished: Run, tamper: Tamper, match: str) -> None:
    run = finished
    run.write(tamper(run.records(), run))
    _assert_refused(run, lambda: restore_run(context(), [run.uri], run.run_id), match)


def test_an_edited_plan_copy_is_refused(finished: Run) -> None:
    """The run's plan copy (what the journal's paths are checked against) widened by a tamperer
    who recomputes the action's checksum: the run record's plan_sha256 no longer matches."""
    run = finished
    copy = Path(run.layout.plan.path)
    doc = json.loads(copy.read_text())
    doc["actions"][0]["uri"] = str(run.uri.child(LIVE))
    reseal(doc["actions"][0])
    copy.write_text(json.dumps(doc, indent=1))
    _assert_refused(run, lambda: restore_run(context(), [run.uri], run.run_id),
                    r"plan.json.*not the plan the run was started with")


def test_a_missing_plan_copy_is_refused(finished: Run) -> None:
    run = finished
    Path(run.layout.plan.path).unlink()
    _assert_refused(run, lambda: restore_run(context(), [run.uri], run.run_id), r"copy of its plan is missing")


def test_purge_refuses_a_forged_end(finished: Run) -> None:
    """An ``end`` record back-dated to make the run purgeable now: the whole purge is refused."""
    from datetime import timedelta

    run = finished
    recs = run.records()
    run.write([*recs[:-1], {**recs[-1], "time": "2020-01-01T00:00:00Z"}])
    _assert_refused(run, lambda: purge(context(), [run.uri], timedelta(days=30)), r"end record \d+: its hash")
    _assert_refused(run, lambda: purge(context(), [run.uri], timedelta(days=30), dry_run=True), r"its hash")


def test_cli_restore_of_a_tampered_run_exits_non_zero_with_the_message(finished: Run, tmp_path: Path) -> None:
    from rotscan.cli import main

    run = finished
    run.write(delete_middle(run.records(), run))
    before = run.snapshot()
    r = CliRunner().invoke(main, ["restore", run.run_id, "--root", str(run.root)],
                           env={"XDG_STATE_HOME": str(tmp_path / "state")})
    assert r.exit_code == 1
    assert f"the journal of run {run.run_id} under {run.uri} was tampered with or is corrupt (line 6:" in r.output
    assert "Traceback" not in r.output
    assert run.snapshot() == before


def test_another_plans_tampered_run_does_not_block_a_new_apply(finished: Run) -> None:
    """Apply looks at every run under the root for one of its plan to resume: a tampered journal
    of another plan's run is left alone (restore and purge refuse it), one of its own plan's run
    refuses the apply."""
    run = finished
    run.write(delete_middle(run.records(), run))
    plan_and_load(run.base / "scan", run.base / "plan2.json")
    report = apply_plan(read_plan(run.base / "plan2.json"), context(), execute=True)
    assert report.run_id != run.run_id and not report.resumed
    _assert_refused(run, lambda: apply_plan(read_plan(run.plan), context(), execute=True), r"line 6: ")


def test_resume_with_another_plans_run_id_is_refused(killed: Run) -> None:
    """``apply PLAN --resume RUN_ID`` where the run executed another plan."""
    from rotscan.cleanup.plan import PlanError

    run = killed
    plan_and_load(run.base / "scan", run.base / "plan2.json")
    before = run.snapshot()
    with pytest.raises(PlanError, match=f"run {run.run_id} under .* executed plan .*not the plan given"):
        apply_plan(read_plan(run.base / "plan2.json"), context(force_copy=True), execute=True, run_id=run.run_id)
    assert run.snapshot() == before


# -- what must keep working ------------------------------------------------------------------------

def test_a_killed_run_with_a_torn_last_line_still_resumes_and_restores(pristine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """kill -9 mid-copy, a torn last journal line: resume works, the next record accounts for the
    torn line, and a later edit of that line is refused."""
    run = _new_run(pristine, tmp_path)
    proc = subprocess.run([sys.executable, "-c", RUNNER, str(run.plan), "copied", "9"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stdout + proc.stderr
    run.run_id = _only_run(run)
    torn = b'{"op": "done", "se'
    with open(run.journal, "ab") as fh:
        fh.write(torn)
    assert read_journal(LocalStorage(), run.layout)[-1]["op"] == "intent"  # the torn line never happened

    report = apply_plan(read_plan(run.plan), context(force_copy=True), execute=True)
    assert report.resumed and report.run_id == run.run_id
    assert all(a.status == "done" for a in report.planned), [a.to_dict() for a in report.planned]
    lines = run.lines()
    k = lines.index(torn)
    after = json.loads(lines[k + 1])
    assert after["torn"] == [__import__("hashlib").sha256(torn).hexdigest()]
    assert len(load_journal(LocalStorage(), run.layout).records) == len(lines) - 1

    saved = run.journal.read_bytes()
    lines[k] = b'{"op": "done", "sx'
    run.journal.write_bytes(b"\n".join(lines) + b"\n")
    _assert_refused(run, lambda: restore_run(context(), [run.uri], run.run_id), rf"line {k + 1}: not a journal record")
    run.journal.write_bytes(saved)
    assert restore_run(context(), [run.uri], run.run_id).ok
    assert tree(run.root) == run.before


def test_a_complete_unterminated_last_record_is_kept(finished: Run) -> None:
    """A record whose newline was not written (the crash after its last byte) is a record."""
    run = finished
    data = run.journal.read_bytes()
    run.journal.write_bytes(data[:-1])
    assert read_journal(LocalStorage(), run.layout)[-1]["op"] == "end"
    assert restore_run(context(), [run.uri], run.run_id).ok
    assert tree(run.root) == run.before


def test_a_terminated_corrupt_last_line_is_refused(finished: Run) -> None:
    """Only a torn write (no newline at the end) is forgiven at the end of a chained journal."""
    run = finished
    recs = run.records()
    line = json.dumps(recs[-1], sort_keys=True).encode()
    run.write([*recs[:-1], line[:-3]])
    _assert_refused(run, lambda: restore_run(context(), [run.uri], run.run_id),
                    rf"line {len(recs)}: not a journal record \(corrupt JSON\); only a torn last write")


def test_an_old_format_journal_still_restores(finished: Run) -> None:
    run = finished
    run.write(_strip_chain(run.records()))  # type: ignore[arg-type]
    assert not any("hash" in r for r in read_journal(LocalStorage(), run.layout))
    assert restore_run(context(), [run.uri], run.run_id).ok
    assert tree(run.root) == run.before
    recs = read_journal(LocalStorage(), run.layout)  # the restore's records chain onto the old ones
    first_new = next(i for i, r in enumerate(recs) if "hash" in r)
    assert recs[first_new]["op"] == "restore_start" and recs[first_new]["prev"] == link_of(recs[first_new - 1])


def test_an_old_format_killed_run_resumes_and_restores(killed: Run) -> None:
    run = killed
    run.write(_strip_chain(run.records()))  # type: ignore[arg-type]
    report = apply_plan(read_plan(run.plan), context(force_copy=True), execute=True)
    assert report.resumed and all(a.status == "done" for a in report.planned)
    assert restore_run(context(), [run.uri], run.run_id).ok
    assert tree(run.root) == run.before


def test_old_format_deleted_line_is_still_caught_by_the_numbers(finished: Run) -> None:
    run = finished
    run.write(delete_middle(_strip_chain(run.records()), run))  # type: ignore[arg-type]
    _assert_refused(run, lambda: restore_run(context(), [run.uri], run.run_id), r"record number 7 where 6")


def test_an_untampered_killed_run_resumes_and_restores(killed: Run) -> None:
    run = killed
    report = apply_plan(read_plan(run.plan), context(force_copy=True), execute=True)
    assert report.resumed and report.run_id == run.run_id
    assert all(a.status == "done" for a in report.planned), [a.to_dict() for a in report.planned]
    assert restore_run(context(), [run.uri], run.run_id).ok
    assert tree(run.root) == run.before


# -- object stores: one journal object per record ----------------------------------------------------

class ObjectLikeStorage(LocalStorage):
    """The local filesystem used the way rotscan uses an object store's journal (no append)."""

    supports_append = False  # type: ignore[assignment]


def _object_ctx(**kw: Any) -> Any:
    storage = ObjectLikeStorage()
    return context(storage_factory=lambda _u: storage, **kw)


def test_object_store_journal_is_verified_too(pristine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run = _new_run(pristine, tmp_path)
    report = apply_plan(read_plan(run.plan), _object_ctx(force_copy=True), execute=True)
    assert all(a.status == "done" for a in report.planned)
    run.run_id = report.run_id
    objects = Path(run.layout.journal_dir.path)
    assert not run.journal.exists() and len(list(objects.iterdir())) > 10
    sixth = objects / "000000006.json"
    saved = sixth.read_bytes()
    sixth.unlink()
    _assert_refused(run, lambda: restore_run(_object_ctx(), [run.uri], run.run_id),
                    r"object 000000007.json: .*record number 7 where 6 was expected")
    sixth.write_bytes(saved.replace(b'"n": 6', b'"n": 60'))
    _assert_refused(run, lambda: restore_run(_object_ctx(), [run.uri], run.run_id),
                    r"object 000000006.json: holds record number 60")
    (objects / "000000006.json").write_bytes(saved)
    (objects / "extra.json").write_bytes(saved)
    _assert_refused(run, lambda: restore_run(_object_ctx(), [run.uri], run.run_id), r"object extra.json: not a journal")
    (objects / "extra.json").unlink()
    assert restore_run(_object_ctx(), [run.uri], run.run_id).ok
    assert tree(run.root) == run.before


# -- any single-byte edit of a complete record is caught ----------------------------------------------

@pytest.fixture(scope="module")
def journal_bytes(pristine, tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, list[dict[str, Any]]]:  # type: ignore[no-untyped-def]
    run = _new_run(pristine, tmp_path_factory.mktemp("journal"))
    run.run_id = apply_plan(read_plan(run.plan), context(), execute=True).run_id
    data = run.journal.read_bytes()
    return data, load_journal(LocalStorage(), run.layout).records


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pick=st.integers(min_value=0), value=st.integers(min_value=0, max_value=255))
def test_any_single_byte_edit_is_detected_or_changes_nothing(journal_bytes, tmp_path: Path, pick: int,
                                                              value: int) -> None:  # type: ignore[no-untyped-def]
    """Replace one byte anywhere before the last line: the journal is refused, or it still reads
    as exactly the same records (the edit only touched insignificant whitespace)."""
    data, records = journal_bytes
    last_start = data.rstrip(b"\n").rfind(b"\n") + 1
    at = pick % last_start
    edited = data[:at] + bytes([value]) + data[at + 1:]
    layout = RunLayout(parse(str(tmp_path)), "r")
    path = Path(layout.journal.path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(edited)
    try:
        got = load_journal(LocalStorage(), layout).records
    except JournalTamperedError:
        return
    assert got == records, f"byte {at} set to {value!r} went undetected"


def test_purge_refuses_a_quarantine_holding_files_the_journal_does_not_name(finished: Run) -> None:
    """Records cut off the journal's end look like a crash: the run is resumed and ends, but the
    file whose move records were cut sits in the quarantine unrecorded — purge refuses to delete it."""
    from datetime import timedelta

    run = finished
    recs = run.records()
    last = _intents(recs, done=True)[-1]
    run.write(recs[:last])
    moved = Path(recs[last]["dst"].removeprefix("file:"))
    assert moved.exists()
    report = apply_plan(read_plan(run.plan), context(), execute=True)
    assert report.resumed and report.run_id == run.run_id
    _assert_refused(run, lambda: purge(context(), [run.uri], timedelta(0)),
                    rf"quarantine: holds 1 file\(s\) no journal record names \(e.g. .*{moved.name}\)")
    assert moved.exists()


# -- archive: the journal's targets are the plan's ------------------------------------------------------

def _archived(tmp_path: Path) -> tuple[Path, Path, Any, str]:
    from .test_cleanup_archive import archive_config, build_lake, scan_and_plan

    root, cold = tmp_path / "lake", tmp_path / "cold"
    root.mkdir()
    cold.mkdir()
    build_lake(root)
    cfg = archive_config(root, {str(root): str(cold / "lake")})
    _, path = scan_and_plan(root, tmp_path, cfg)
    report = apply_plan(read_plan(path), context(cfg), execute=True)
    assert report.planned and all(a.status == "done" for a in report.planned)
    return root, cold, cfg, report.run_id


@pytest.mark.parametrize(("edit", "match"), [
    ("dst_into_root", r"not to its place under the archive target"),
    ("target_into_root", r"archive target .* is not the plan's"),
])
def test_restore_of_a_tampered_archive_run_is_refused(tmp_path: Path, edit: str, match: str) -> None:
    """An archive move's copy pointed at live data in the lake, or the action's target pointed into
    the lake (restore removes the target's emptied directories), both with the chain recomputed."""
    root, cold, cfg, run_id = _archived(tmp_path)
    layout = RunLayout(parse(str(root)), run_id)
    journal = Path(layout.journal.path)
    recs = [json.loads(line) for line in journal.read_text().splitlines()]
    if edit == "dst_into_root":
        i = next(i for i, r in enumerate(recs) if r["op"] == "intent")
        recs[i]["dst"] = str(parse(str(root / "warehouse/orders/part-00000.parquet")))
    else:
        i = next(i for i, r in enumerate(recs) if r["op"] == "action")
        recs[i]["target"] = str(parse(str(root / "warehouse")))
    journal.write_text("".join(json.dumps(r) + "\n" for r in _rechain(recs)))
    before = {"lake": tree(root, skip_state=False), "cold": tree(cold)}
    with pytest.raises(JournalTamperedError, match=match):
        restore_run(context(cfg), [parse(str(root))], run_id)
    assert {"lake": tree(root, skip_state=False), "cold": tree(cold)} == before

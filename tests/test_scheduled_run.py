"""``rotscan run`` (scheduled cleanup) on a real lake: the policy applies only junk and zero-byte
files unattended, a reviewer's approval lets a finding through on the next run, a kept one never
goes, two runs never overlap, a run that would take out too much stops before acting, and the exit
codes say what happened. Metadata-only scans (no JVM); the CLI runs in subprocesses where two
processes must meet (the lock) and through click's runner elsewhere."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from rotscan.cleanup.lock import LockedError, RootLock
from rotscan.cleanup.policy import RunPolicy, select
from rotscan.cli import main
from rotscan.config import load_config
from rotscan.errors import ConfigError, StorageError
from rotscan.models import Decision, Finding, now_utc
from rotscan.scheduled import Exit, scheduled_run
from rotscan.storage.local import LocalStorage
from rotscan.uri import Uri, parse

from .cleanup_support import build_cleanup_lake, tree

REPO = Path(__file__).resolve().parents[1]
ENV = {"ROTSCAN_SCAN__PROFILE": "false"}
AUTO = {"junk_file", "zero_byte"}


@pytest.fixture()
def lake(tmp_path: Path) -> Path:
    root = tmp_path / "lake"
    root.mkdir()
    build_cleanup_lake(root, bulk_files=10)
    return root


def run(root: Path, work: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    r = CliRunner().invoke(main, ["run", str(root), "--work", str(work), "--json", *args], env={**ENV, **(env or {})})
    assert r.exception is None or isinstance(r.exception, SystemExit), r.output
    doc = json.loads(r.stdout.strip().splitlines()[-1])
    return r.exit_code, doc


def data(root: Path) -> dict[str, tuple[str, int]]:
    """The lake's data: every file and directory but rotscan's own state (locks, journals, decisions)."""
    return {k: v for k, v in tree(root).items() if not k.startswith("_rotscan")}


def selected_kinds(doc: dict[str, Any]) -> set[str]:
    plan = json.loads((Path(doc["dir"]) / "selected-plan.json").read_text())
    return {k for a in plan["actions"] for k in a["kinds"]}


def test_dry_run_changes_nothing_and_keeps_every_step(lake: Path, tmp_path: Path) -> None:
    before = tree(lake)
    code, doc = run(lake, tmp_path / "work")
    assert code == 0 and doc["status"] == "ok" and doc["execute"] is False
    assert tree(lake) == before
    step = Path(doc["dir"])
    assert {p.name for p in step.iterdir()} == {"scan", "plan.json", "selected-plan.json", "apply.json", "run.json"}
    assert json.loads((step / "run.json").read_text()) == doc
    assert json.loads((step / "apply.json").read_text())["dry_run"] is True
    assert selected_kinds(doc) == AUTO
    assert doc["plan"]["selected"] < doc["plan"]["actions"] and doc["plan"]["held_by_policy"] > 0
    assert all("needs a reviewer's approval" in h["reason"] for h in doc["held"])


def test_policy_then_approval_then_keep_across_runs(lake: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    code, first = run(lake, work, "--execute")
    assert code == 0 and first["apply"]["done"] == first["plan"]["selected"] > 0 and first["apply"]["failed"] == 0
    for rel in ("exports/.DS_Store", "exports/Thumbs.db", "exports/blank.csv"):
        assert not (lake / rel).exists(), rel  # junk and zero-byte files went (to quarantine)
    for rel in ("tmp/scratch_sample", "tmp/bulk_dump", "staging/nightly_load"):
        assert (lake / rel).exists(), rel  # everything else waits for a reviewer

    scan_dir = Path(first["dir"]) / "scan"
    findings = {f["uri"]: f for f in json.loads((scan_dir / "findings.json").read_text())["findings"]}
    sample, bulk = findings[f"file:{lake}/tmp/scratch_sample"], findings[f"file:{lake}/tmp/bulk_dump"]
    r = CliRunner().invoke(main, ["decide", str(scan_dir), "--approve", sample["id"], "--by", "alice",
                                  "--reason", "a scratch sample nobody needs"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["decide", str(scan_dir), "--keep", bulk["id"], "--by", "bob",
                                  "--reason", "evidence for ticket 42"])
    assert r.exit_code == 0, r.output

    code, second = run(lake, work, "--execute")
    assert code == 0 and second["apply"]["done"] == 1, second
    assert not (lake / "tmp/scratch_sample").exists()  # approved: applied
    assert (lake / "tmp/bulk_dump").exists() and second["scan"]["kept"] == 1  # kept: never applied
    plan = json.loads((Path(second["dir"]) / "plan.json").read_text())
    assert any(n["uri"].endswith("tmp/bulk_dump") and "kept" in n["reason"] for n in plan["not_planned"])

    code, third = run(lake, work, "--execute")  # nothing new: a quiet run
    assert code == 0 and third["apply"]["done"] == 0
    assert (lake / "tmp/bulk_dump").exists()


def test_only_narrows_the_policy(lake: Path, tmp_path: Path) -> None:
    code, doc = run(lake, tmp_path / "work", "--only", "quarantine")
    assert code == 0
    plan = json.loads((Path(doc["dir"]) / "selected-plan.json").read_text())
    assert {a["action"] for a in plan["actions"]} <= {"quarantine"}
    assert any("not among [run] auto_actions" in h["reason"] for h in doc["held"])


def test_a_run_that_would_take_out_too_much_stops_before_acting(lake: Path, tmp_path: Path) -> None:
    before = data(lake)
    code, doc = run(lake, tmp_path / "work", "--execute", env={"ROTSCAN_RUN__MAX_LAKE_SHARE": "0.0001"})
    assert code == Exit.STOPPED == 4 and doc["status"] == "stopped"
    assert "max_lake_share" in doc["message"] and "apply" not in doc
    assert data(lake) == before
    assert not (Path(doc["dir"]) / "apply.json").exists()


def test_two_runs_never_overlap(lake: Path, tmp_path: Path) -> None:
    # another process holds the lake: the run does nothing and says "try later" (EX_TEMPFAIL)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import socket, sys, time\n"
        "from rotscan.cleanup.lock import RootLock\n"
        "from rotscan.storage.local import LocalStorage\n"
        "from rotscan.uri import parse\n"
        f"lock = RootLock(LocalStorage(), parse({str(lake)!r}), 'other run', socket.gethostname(), name='run.lock')\n"
        "lock.acquire()\n"
        "print('held', flush=True)\n"
        "sys.stdin.read()\n"
        "lock.release()\n")], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        before = data(lake)
        out = subprocess.run([sys.executable, "-m", "rotscan", "run", str(lake), "--work", str(tmp_path / "work"),
                              "--execute", "--json", "-q"], capture_output=True, text=True, timeout=300, cwd=REPO,
                             env={**os.environ, **ENV, "PYTHONPATH": str(REPO)})
        assert out.returncode == Exit.LOCKED == 75, out.stderr
        doc = json.loads(out.stdout)
        assert doc["status"] == "locked" and "other run" in doc["message"] and "scan" not in doc
        assert data(lake) == before
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
    # the lock is gone with its holder: the next run goes ahead
    code, doc = run(lake, tmp_path / "work", "--execute")
    assert code == 0 and doc["apply"]["done"] > 0


def test_a_lock_left_by_a_dead_run_is_taken_over(lake: Path, tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (lake / "_rotscan").mkdir(exist_ok=True)
    (lake / "_rotscan/run.lock").write_text(json.dumps({"owner": "rotscan run x", "host": socket.gethostname(),
                                                        "pid": int(dead.stdout), "time": "2026-01-01T00:00:00Z"}))
    code, doc = run(lake, tmp_path / "work", "--execute")
    assert code == 0 and doc["apply"]["done"] > 0
    assert not (lake / "_rotscan/run.lock").exists()  # released at the end


class FailingMoves(LocalStorage):
    """Local storage on which moving the lake's data fails (a storage outage in the middle of a run);
    rotscan's own state (lock, journal) still works."""

    def rename(self, src: Uri, dst: Uri) -> None:
        if "/_rotscan/" not in src.path:
            raise StorageError(f"{src}: injected outage")
        super().rename(src, dst)


def test_failed_actions_give_exit_3_and_the_record(lake: Path, tmp_path: Path) -> None:
    from rotscan.cleanup.context import CleanupContext
    from rotscan.findings_io import write_findings
    from rotscan.runtime import Runtime
    from rotscan.scan import run_scan

    cfg = load_config(overrides={"scan": {"profile": False}})
    ctx = CleanupContext(config=cfg, user="tester", storage_factory=lambda _u: FailingMoves())

    def scan(out: Path) -> None:
        write_findings(run_scan([str(lake)], Runtime(config=cfg)), out)

    report = scheduled_run([str(lake)], tmp_path / "work", ctx, execute=True, scan=scan)
    assert report.exit == Exit.FAILED_ACTIONS == 3, report.to_dict()
    doc = json.loads((report.dir / "run.json").read_text())
    assert doc["exit_code"] == 3 and doc["apply"]["failed"] > 0
    assert "failed" in doc["message"]
    assert (lake / "exports/.DS_Store").exists()  # a failed move leaves the data where it was
    assert not (lake / "_rotscan/run.lock").exists()


def test_errors_are_exit_1_with_the_record(lake: Path, tmp_path: Path) -> None:
    code, doc = run(tmp_path / "no-such-lake", tmp_path / "work")
    assert code == 1 and doc["status"] == "error" and "does not exist" in doc["message"]
    assert (Path(doc["dir"]) / "run.json").exists()
    code, doc = run(lake, tmp_path / "work", env={"ROTSCAN_RUN__AUTO_ACTIONS": '["shred"]'})
    assert code == 1 and "unknown action(s) shred" in doc["message"]


def test_old_run_directories_are_pruned(lake: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    names = [run(lake, work, env={"ROTSCAN_RUN__KEEP_RUNS": "2"})[1]["run"] for _ in range(3)]
    assert sorted(p.name for p in work.iterdir()) == sorted(names[1:])


# -- the policy itself ---------------------------------------------------------------------------

def _finding(kind: str, action: str, confidence: float = 0.99, decision: str | None = None) -> Finding:
    d = None if decision is None else Decision(decision, "alice", now_utc(), "ok")
    return Finding(uri=f"file:/lake/{kind}", category="trivial", kind=kind, action=action, confidence=confidence,
                   reclaimable_bytes=10, explanation="x", decision=d)


def test_policy_rules() -> None:
    p = RunPolicy()
    assert p.why_not(_finding("junk_file", "delete"), "delete") is None
    assert "confidence 0.50" in (p.why_not(_finding("junk_file", "delete", 0.5), "delete") or "")
    assert "needs a reviewer's approval" in (p.why_not(_finding("exact_duplicate", "quarantine"), "quarantine") or "")
    assert p.why_not(_finding("exact_duplicate", "quarantine", decision="approve"), "quarantine") is None
    assert p.why_not(_finding("near_duplicate", "review", decision="approve"), "quarantine") is None
    assert "approved_actions" in (RunPolicy(approved_actions=("delete",)).why_not(
        _finding("unread", "quarantine", decision="approve"), "quarantine") or "")
    # a keep is no approval
    assert p.why_not(_finding("junk_file", "delete", decision="keep"), "delete") is None  # never planned anyway
    assert p.why_not(_finding("tiny", "quarantine", decision="keep"), "quarantine") is not None


def test_policy_config_is_checked() -> None:
    assert RunPolicy.from_config(load_config()) == RunPolicy()
    with pytest.raises(ConfigError, match="auto_min_confidence"):
        RunPolicy.from_config(load_config(overrides={"run": {"auto_min_confidence": 2.0}}))


def test_select_holds_an_action_unless_every_finding_may_go(lake: Path, tmp_path: Path) -> None:
    from rotscan.cleanup.plan import build_plan
    from rotscan.cleanup.safety import SafetyRules
    from rotscan.runtime import Runtime
    from rotscan.scan import run_scan

    cfg = load_config(overrides={"scan": {"profile": False}})
    result = run_scan([str(lake)], Runtime(config=cfg))
    plan = build_plan(result, lambda _u: LocalStorage(), SafetyRules.from_config(cfg))
    by_id = {f.id: f for f in result.findings}
    chosen = select(plan, by_id, RunPolicy(), sum(d.bytes for d in result.datasets))
    assert chosen.stop is None
    for a in chosen.plan.actions:
        assert all(by_id[i].kind in AUTO for i in a.finding_ids)
    assert len(chosen.plan.actions) + len(chosen.held) == len(plan.actions)
    assert len(chosen.plan.not_planned) == len(plan.not_planned) + len(chosen.held)
    nothing = select(plan, {}, RunPolicy(), 1)
    assert nothing.plan.actions == () and all("not in the scan" in h["reason"] for h in nothing.held)


def test_root_lock_names_are_independent(tmp_path: Path) -> None:
    root = parse(str(tmp_path))
    run_lock = RootLock(LocalStorage(), root, "run", socket.gethostname(), name="run.lock")
    run_lock.acquire()
    try:
        apply_lock = RootLock(LocalStorage(), root, "apply", socket.gethostname())
        apply_lock.acquire()  # a run's own apply takes the apply lock inside the run lock
        apply_lock.release()
        with pytest.raises(LockedError, match="run"):
            RootLock(LocalStorage(), root, "second run", "other-host", name="run.lock").acquire()
    finally:
        run_lock.release()


# -- the scheduler integrations in docs/ and jobs/ -------------------------------------------------

def _cron_ok(expr: str) -> bool:
    ranges = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]
    fields = expr.split()
    if len(fields) != 5:
        return False
    for text, (lo, hi) in zip(fields, ranges, strict=True):
        for part in text.split(","):
            base, _, step = part.partition("/")
            if step and not step.isdigit():
                return False
            if base == "*":
                continue
            ends = base.split("-")
            if len(ends) > 2 or not all(e.isdigit() and lo <= int(e) <= hi for e in ends):
                return False
    return True


def _parse_cli(args: list[str]) -> None:
    """Parse a `rotscan …` command line with the real CLI (unknown options or a bad value raise)."""
    name, rest = args[0], args[1:]
    cmd = main.commands[name]
    cmd.make_context(name, list(rest))


def test_cron_lines_in_the_docs_are_valid_and_their_commands_parse() -> None:
    import re
    import shlex

    text = (REPO / "docs/scheduling.md").read_text()
    blocks = re.findall(r"```cron\n(.*?)```", text, flags=re.S)
    lines = [ln for b in blocks for ln in b.splitlines() if ln.strip() and not ln.startswith("#")]
    assert len(lines) >= 4
    for line in lines:
        words = shlex.split(line)
        assert _cron_ok(" ".join(words[:5])), line
        command = words[5:]
        if command[0] == "rotscan":
            _parse_cli(command[1:])
        else:
            assert command[0] == "spark-submit"
            job = next(i for i, w in enumerate(command) if w.endswith("jobs/rotscan_cleanup_job.py"))
            _parse_cli(["run", *command[job + 1:]])
    assert not _cron_ok("61 2 * * *") and not _cron_ok("30 2 * *")


def test_airflow_dag_is_valid_python_whose_run_arguments_parse() -> None:
    import ast

    source = (REPO / "jobs/airflow_rotscan_dag.py").read_text()
    tree_ = ast.parse(source)
    compile(tree_, "airflow_rotscan_dag.py", "exec")
    ns: dict[str, Any] = {}
    for node in tree_.body:  # the module's constants, evaluated without importing Airflow
        if isinstance(node, ast.Assign) and not isinstance(node.value, ast.Call):
            exec(compile(ast.Module([node], []), "dag", "exec"), ns)  # noqa: S102 - our own file
    _parse_cli(["run", *ns["RUN_ARGS"]])
    _parse_cli(ns["PURGE_COMMAND"].split()[1:])
    assert ns["JOB"].endswith("jobs/rotscan_cleanup_job.py")
    calls = [n for n in ast.walk(tree_) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
    dags = [c for c in calls if c.func.id == "DAG"]  # type: ignore[attr-defined]
    assert len(dags) == 2
    for dag in dags:
        kw = {k.arg: k.value for k in dag.keywords}
        assert _cron_ok(ast.literal_eval(kw["schedule"]))
        assert ast.literal_eval(kw["max_active_runs"]) == 1
    (submit,) = [c for c in calls if c.func.id == "SparkSubmitOperator"]  # type: ignore[attr-defined]
    kw = {k.arg: k.value for k in submit.keywords}
    assert isinstance(kw["application_args"], ast.Name) and kw["application_args"].id == "RUN_ARGS"


def test_kubernetes_manifests_parse_and_run_rotscan_run() -> None:
    import yaml

    cron = yaml.safe_load((REPO / "docs/k8s/rotscan-cronjob.yaml").read_text())
    assert cron["kind"] == "CronJob" and cron["spec"]["concurrencyPolicy"] == "Forbid"
    assert _cron_ok(cron["spec"]["schedule"])
    (container,) = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["rotscan", "run"]
    _parse_cli(["run", *container["args"]])

    app = yaml.safe_load((REPO / "docs/k8s/rotscan-scheduled-sparkapplication.yaml").read_text())
    assert app["kind"] == "ScheduledSparkApplication" and app["spec"]["concurrencyPolicy"] == "Forbid"
    assert _cron_ok(app["spec"]["schedule"])
    template = app["spec"]["template"]
    assert template["mainApplicationFile"].endswith("jobs/rotscan_cleanup_job.py")
    _parse_cli(["run", *template["arguments"]])

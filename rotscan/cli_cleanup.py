"""The cleanup commands — ``plan``, ``apply``, ``restore``, ``purge`` — as a thin click layer over
:mod:`rotscan.cleanup`. ``register(main)`` adds them to the ``rotscan`` group (idempotent).

Only this layer reads the environment: the user recorded in the audit log (``$USER``/``$LOGNAME``)
and where the per-user runs index lives (``$XDG_STATE_HOME`` or ``~/.local/state``).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import click

from rotscan.cli_common import config_option, handle_errors, load, progress_printer


def _user() -> str:
    for var in ("USER", "LOGNAME", "USERNAME"):
        if os.environ.get(var):
            return os.environ[var]
    try:
        import getpass

        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name is not an error
        return "unknown"


def _index_path() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "rotscan" / "runs.jsonl"


def _context(config_path: Path | None, quiet: bool, overrides: dict[str, dict[str, Any]] | None = None) -> Any:
    from rotscan.cleanup.context import CleanupContext

    config = load(config_path, overrides)
    return CleanupContext(config=config, user=_user(), progress=progress_printer(quiet), env=dict(os.environ))


def _roots(given: tuple[str, ...], run_id: str | None) -> list[Any]:
    from rotscan.cleanup.index import roots_of
    from rotscan.uri import parse

    texts = list(given) or roots_of(_index_path(), run_id)
    if not texts:
        what = f"run {run_id}" if run_id else "any run"
        raise click.ClickException(f"no root known for {what}: give --root ROOT (the scanned root the run acted on)")
    return [parse(t) for t in texts]


def _fmt(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def _print_actions(actions: list[Any], header: str) -> None:
    click.echo(header)
    for a in actions:
        click.echo(f"  [{a.status:7}] {a.action or '':10} {a.uri}  ({_fmt(a.bytes)}) — {a.reason}")


root_option = click.option("--root", "roots", multiple=True, metavar="ROOT",
                           help="A scanned root the run acted on (repeatable). Default: from the local runs index.")
json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
quiet_option = click.option("-q", "--quiet", is_flag=True, help="No progress messages.")


@click.command("plan")
@click.argument("scan_dir", type=click.Path(exists=True, path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the plan (JSON).")
@config_option("conf/cleanup.example.toml")
@click.option("--include-review", is_flag=True,
              help="Also plan findings whose action is 'review' (as quarantine). Default: listed as needs review.")
@handle_errors
def plan_cmd(scan_dir: Path, out: Path, config_path: Path | None, include_review: bool) -> None:
    """Turn SCAN_DIR/findings.json into a reviewable cleanup plan: one action per path, with its
    reason, finding ids, bytes and the fingerprint of what is there now.

    Review it; delete actions you do not want (editing an action makes apply refuse it).

    \b
    Example:
      rotscan plan reports/lake --out plan.json && rotscan apply plan.json
    """
    from rotscan.cleanup.archive import ArchiveSettings
    from rotscan.cleanup.context import CleanupContext
    from rotscan.cleanup.plan import build_plan, write_plan
    from rotscan.cleanup.safety import SafetyRules
    from rotscan.decisions import DecisionSettings, apply_decisions, read_decisions
    from rotscan.findings_io import read_findings
    from rotscan.uri import parse

    config = load(config_path)
    result = read_findings(scan_dir)
    findings_file = scan_dir / "findings.json" if scan_dir.is_dir() else scan_dir
    digest = hashlib.sha256(findings_file.read_bytes()).hexdigest()
    ctx = CleanupContext(config=config, user=_user(), env=dict(os.environ))
    # the review decisions as they are now (made since the scan too), judged against the scan's data
    decisions = apply_decisions(result, read_decisions([parse(r) for r in result.scan.roots], ctx.storage,
                                                       DecisionSettings.from_config(config)))
    for w in decisions.warnings:
        click.echo(f"warning: {w.uri}: {w.message}", err=True)
    plan = build_plan(result, ctx.storage, SafetyRules.from_config(config), include_review=include_review,
                      scan_dir=str(scan_dir.resolve()), findings_sha256=digest, decisions=decisions,
                      archive=ArchiveSettings.from_config(config))
    write_plan(plan, out)
    total = sum(a.bytes for a in plan.actions)
    kept = sum(1 for f in decisions.findings if f.kept)
    approved = sum(1 for a in plan.actions if a.details.get("approved"))
    click.echo(f"{len(plan.actions)} action(s), {_fmt(total)}; {len(plan.needs_review)} need review; "
               f"{len(plan.not_planned)} not planned -> {out}"
               + (f" ({kept} finding(s) kept, {approved} action(s) approved by review decisions)"
                  if kept or approved else ""))
    for item in plan.not_planned:
        click.echo(f"  not planned: {item['uri']} — {item['reason']}")


@click.command("apply")
@click.argument("plan_path", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--execute", is_flag=True, help="Act. Without it, a dry run: nothing changes.")
@json_option
@config_option("conf/cleanup.example.toml")
@click.option("--resume", "resume", metavar="RUN_ID", default=None,
              help="Finish (or roll back) an interrupted run. PLAN is optional then (the run keeps a copy).")
@root_option
@click.option("--only", "only", multiple=True, type=click.Choice(["quarantine", "delete", "vacuum", "compact", "archive", "drop_partitions"]),
              help="Apply only actions of this type (repeatable); the others are reported as skipped.")
@click.option("--lineage", "lineage", multiple=True, metavar="PATH",
              help="Also check these OpenLineage events for reads/writes since the scan (besides the scan's sources).")
@click.option("--access-log", "access_logs", multiple=True, metavar="PATH",
              help="Also check these access/audit logs for reads/writes since the scan. Repeatable.")
@click.option("--drop-table-entries", "drop_table_entries", is_flag=True,
              help="An action on a registered EXTERNAL catalog table's location: save the table's DDL in the run's "
                   "journal directory and drop only its entry (restore re-creates it) instead of refusing "
                   "(config [cleanup] drop_table_entries; needs [catalog] enabled).")
@quiet_option
@handle_errors
def apply_cmd(plan_path: Path | None, execute: bool, as_json: bool, config_path: Path | None, resume: str | None,
              roots: tuple[str, ...], only: tuple[str, ...], lineage: tuple[str, ...], access_logs: tuple[str, ...],
              quiet: bool, drop_table_entries: bool = False) -> None:
    """Carry out PLAN — a dry run unless --execute. Every action is revalidated just before acting
    (the path is still what the plan saw) and moved into quarantine under the root's _rotscan/, so it
    can be restored until purged.

    \b
    Example:
      rotscan apply plan.json                  # dry run: what would happen
      rotscan apply plan.json --execute --json # act; one JSON object with run_id on stdout
      rotscan apply --resume RUN_ID --execute --root /data/lake
    """
    from rotscan.cleanup.apply import apply_plan
    from rotscan.cleanup.index import record_run
    from rotscan.cleanup.plan import read_plan
    from rotscan.cleanup.recovery import load_run_plan

    ctx = _context(config_path, quiet or as_json,
                   {"cleanup": {"drop_table_entries": True}} if drop_table_entries else None)
    if plan_path is not None:
        plan = read_plan(plan_path)
    elif resume:
        plan = load_run_plan(ctx, _roots(roots, resume), resume)
    else:
        raise click.UsageError("give PLAN, or --resume RUN_ID")
    if resume and not execute:
        raise click.UsageError("--resume acts: give --execute")
    report = apply_plan(plan, ctx, execute=execute, run_id=resume, only=frozenset(only) if only else None,
                        usage_paths=(*lineage, *access_logs))
    if execute:
        record_run(_index_path(), report.run_id, list(plan.roots))
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        mode = "dry run (nothing changed; --execute to act)" if report.dry_run else "executed"
        if report.resumed:
            mode += f", resumed run {report.run_id}"
        _print_actions(report.actions, f"run {report.run_id}: {mode}")
        for note in report.recovered:
            click.echo(f"  recovered: {note}")
        done = [a for a in report.actions if a.status == "done"]
        click.echo(f"{len(done)} of {len(report.actions)} action(s) {'would be ' if report.dry_run else ''}done, "
                   f"{_fmt(sum(a.bytes for a in done))}" + ("" if report.dry_run else
                                                             f"; undo with: rotscan restore {report.run_id}"))
    if any(a.status == "failed" for a in report.actions):
        raise SystemExit(1)


@click.command("restore")
@click.argument("run_id")
@root_option
@json_option
@config_option("conf/cleanup.example.toml")
@quiet_option
@handle_errors
def restore_cmd(run_id: str, roots: tuple[str, ...], as_json: bool, config_path: Path | None, quiet: bool) -> None:
    """Put back, byte for byte, everything run RUN_ID of `apply --execute` quarantined. A path that
    now holds other data is refused for that file, never overwritten.

    \b
    Example:
      rotscan restore 20261126T101500Z-1a2b3c4d --root /data/lake
    """
    from rotscan.cleanup.restore import restore_run

    ctx = _context(config_path, quiet or as_json)
    report = restore_run(ctx, _roots(roots, run_id), run_id)
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        _print_actions(report.actions, f"restore of run {run_id}:")
    if not report.ok:
        raise SystemExit(1)


@click.command("purge")
@click.option("--older-than", "older_than", required=True, metavar="DURATION",
              help="Delete quarantined runs that ended longer ago than this (30d, 12h, 90m).")
@root_option
@click.option("--dry-run", is_flag=True, help="Only list what would be deleted.")
@json_option
@config_option("conf/cleanup.example.toml")
@quiet_option
@handle_errors
def purge_cmd(older_than: str, roots: tuple[str, ...], dry_run: bool, as_json: bool, config_path: Path | None,
              quiet: bool) -> None:
    """Permanently delete quarantined data older than DURATION — the only command that deletes
    for good. Every purge is recorded in the root's audit log.

    \b
    Example:
      rotscan purge --older-than 30d --root /data/lake --dry-run
    """
    from rotscan.cleanup.purge import parse_duration, purge

    age = parse_duration(older_than)
    ctx = _context(config_path, quiet or as_json)
    report = purge(ctx, _roots(roots, None), age, dry_run=dry_run, label=older_than)
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        _print_actions(report.runs, f"purge of quarantine older than {older_than}"
                       + (" (dry run)" if dry_run else "") + f": {len(report.runs)} run(s)")


COMMANDS = (plan_cmd, apply_cmd, restore_cmd, purge_cmd)


def register(main: click.Group) -> click.Group:
    """Add plan/apply/restore/purge to ``main`` (a second call changes nothing)."""
    for cmd in COMMANDS:
        if cmd.name not in main.commands:
            main.add_command(cmd)
    return main

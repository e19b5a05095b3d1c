"""``rotscan run`` — scheduled cleanup as one command (a thin click layer over
:mod:`rotscan.scheduled`). ``register(main)`` adds it to the ``rotscan`` group (idempotent)."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from rotscan.cli_common import config_option, handle_errors, load, progress_printer
from rotscan.errors import RotscanError


class ScanFailed(RotscanError):
    """The scan step of a run failed."""


@click.command("run")
@click.argument("roots", nargs=-1, required=True)
@click.option("--work", "work", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory for each run's output (WORK/<run>/: scan/, plan.json, apply.json, run.json).")
@config_option("conf/cleanup.example.toml")
@click.option("--execute", is_flag=True, help="Act. Without it, scan, plan and a dry run: nothing changes.")
@click.option("--lineage", "lineage", multiple=True, metavar="PATH", help="As for `rotscan scan`. Repeatable.")
@click.option("--access-log", "access_logs", multiple=True, metavar="PATH", help="As for `rotscan scan`. Repeatable.")
@click.option("--master", default=None, help="Spark master for the scan (default: config [spark] master).")
@click.option("--state", "state", default=None, metavar="DIR_OR_URI", help="Incremental scan state, as for `rotscan scan`.")
@click.option("--only", "only", multiple=True, type=click.Choice(["delete", "quarantine", "vacuum", "archive", "compact", "drop_partitions"]),
              help="Allow only these action types in this run (repeatable), on top of the [run] policy.")
@click.option("--json", "as_json", is_flag=True, help="Print the run summary (run.json) on stdout.")
@click.option("-q", "--quiet", is_flag=True, help="No progress messages.")
@handle_errors
def run_cmd(roots: tuple[str, ...], work: Path, config_path: Path | None, execute: bool, lineage: tuple[str, ...],
            access_logs: tuple[str, ...], master: str | None, state: str | None, only: tuple[str, ...], as_json: bool,
            quiet: bool) -> None:
    """Scheduled cleanup: scan ROOT(s), plan with the review decisions, and apply what the [run] policy
    allows unattended (by default junk and zero-byte files, and findings a reviewer approved).

    Exit codes: 0 done; 1 error (config, roots, scan); 3 some actions failed; 4 stopped by the policy
    before acting (it would take out more than [run] max_lake_share of the lake); 75 another run holds
    the lake (nothing done; try later). Without --execute it only scans, plans and dry-runs.

    \b
    Example (cron, nightly at 02:30):
      30 2 * * *  rotscan run /data/lake --work /var/lib/rotscan/runs --config /etc/rotscan/cleanup.toml --execute -q
    """
    from rotscan.cleanup.context import CleanupContext
    from rotscan.cli_cleanup import _user
    from rotscan.scheduled import scheduled_run

    config = load(config_path)
    progress = progress_printer(quiet or as_json)
    ctx = CleanupContext(config=config, user=_user(), progress=progress, env=dict(os.environ))
    group = click.get_current_context().find_root().command
    scan_args = [*(["--config", str(config_path)] if config_path else []), *(f"--lineage={p}" for p in lineage),
                 *(f"--access-log={p}" for p in access_logs), *(["--master", master] if master else []),
                 *(["--state", state] if state else [])]

    def scan(out: Path) -> None:
        # the very `rotscan scan` a person would run; its summary line goes to stderr
        with contextlib.redirect_stdout(sys.stderr):
            try:
                group.main(["scan", *roots, "--out", str(out), "--quiet", *scan_args], standalone_mode=False)
            except click.ClickException as exc:
                raise ScanFailed(f"scan failed: {exc.format_message()}") from exc

    report = scheduled_run(roots, work, ctx, execute=execute, scan=scan, only=frozenset(only) or None)
    doc: dict[str, Any] = report.to_dict()
    if as_json:
        click.echo(json.dumps(doc, ensure_ascii=False))
    else:
        plan = doc.get("plan") or {}
        applied = doc.get("apply") or {}
        click.echo(f"run {report.run} ({'executed' if execute else 'dry run'}): {report.exit.name.lower()} — "
                   f"{report.message}")
        if plan:
            click.echo(f"  plan: {plan['actions']} action(s), {plan['selected']} selected by the policy "
                       f"({plan['selected_bytes']:,} bytes), {plan['held_by_policy']} held for approval, "
                       f"{plan['needs_review']} need review")
        if applied:
            click.echo(f"  apply: {applied['done']} done, {applied['skipped']} skipped, {applied['failed']} failed "
                       f"({applied['bytes']:,} bytes); output in {report.dir}")
    if report.exit:
        raise SystemExit(int(report.exit))


def register(main: click.Group) -> click.Group:
    """Add ``run`` to ``main`` (a second call changes nothing)."""
    if run_cmd.name not in main.commands:
        main.add_command(run_cmd)
    return main

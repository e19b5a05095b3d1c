"""``rotscan decide``: record review decisions (keep / approve / revoke, or a report's decisions
file) against a scan, or list them — a thin click layer over :mod:`rotscan.decisions`.

Only this layer reads the clock and the environment: who decides (``--by``, default the OS user)
and when.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from rotscan.cli_common import config_option, handle_errors, load


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else "…" + text[-(width - 1):]


def _rel(uri: str, roots: tuple[str, ...]) -> str:
    for r in sorted(roots, key=len, reverse=True):
        if uri.startswith(r.rstrip("/") + "/"):
            return uri[len(r.rstrip("/")) + 1:]
    return uri


@click.command("decide")
@click.argument("out_dir", type=click.Path(exists=True, path_type=Path))
@click.option("--keep", "keep", multiple=True, metavar="ID_OR_GLOB",
              help="Keep this finding (its id) or everything under this path glob (relative to a root, e.g. "
                   "'audit/**', or absolute): not counted as ROT, never planned. Needs --reason. Repeatable.")
@click.option("--approve", "approve", multiple=True, metavar="ID_OR_GLOB",
              help="Approve this review-level finding (or the findings under a glob) for the next `rotscan plan`. "
                   "Repeatable.")
@click.option("--revoke", "revoke", multiple=True, metavar="ID_OR_GLOB",
              help="Withdraw the decision in force for this finding id or glob. Repeatable.")
@click.option("--import", "import_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Take in the decisions file downloaded from OUT/report.html.")
@click.option("--list", "list_only", is_flag=True, help="List the decisions in force and what they do in this scan.")
@click.option("--reason", default="", help="Why (required for --keep).")
@click.option("--until", default=None, metavar="YYYY-MM-DD", help="Keep only through this day (UTC).")
@click.option("--by", "by", default=None, metavar="NAME", help="Who decides (default: the OS user).")
@click.option("--root", "root", default=None, metavar="ROOT",
              help="The root a relative glob is under, when the scan has several.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@config_option()
@handle_errors
def decide_cmd(out_dir: Path, keep: tuple[str, ...], approve: tuple[str, ...], revoke: tuple[str, ...],
               import_path: Path | None, list_only: bool, reason: str, until: str | None, by: str | None,
               root: str | None, as_json: bool, config_path: Path | None) -> None:
    """Record review decisions for the scan in OUT (a directory with findings.json): keep a finding
    (not ROT, never cleaned up), approve a review-level finding for the next plan, or revoke either.
    Decisions are validated against the scan and written all or nothing to each root's
    _rotscan/decisions.jsonl, and recorded in its audit log.

    \b
    Example:
      rotscan decide reports/lake --keep 'audit/**' --reason "audit copies" --until 2027-06-30
      rotscan decide reports/lake --approve 3f2a9c0d1e4b5a67
      rotscan decide reports/lake --import ~/Downloads/rotscan-decisions.json
      rotscan decide reports/lake --list --json
    """
    from rotscan.cli_cleanup import _user
    from rotscan.decisions import (
        DecisionSettings,
        Request,
        build_records,
        list_decisions,
        parse_export,
        read_decisions,
        record,
    )
    from rotscan.findings_io import read_findings
    from rotscan.models import now_utc
    from rotscan.uri import parse

    requests = [Request("keep", t, reason, until, by, where=f"--keep {t}") for t in keep]
    requests += [Request("approve", t, reason, until, by, where=f"--approve {t}") for t in approve]
    requests += [Request("revoke", t, reason, until, by, where=f"--revoke {t}") for t in revoke]
    if not requests and import_path is None and not list_only:
        raise click.UsageError("give --keep, --approve, --revoke, --import FILE or --list")
    if list_only and (requests or import_path is not None):
        raise click.UsageError("--list only lists; give it alone")
    config = load(config_path)
    settings = DecisionSettings.from_config(config)
    result = read_findings(out_dir)
    ctx = _cleanup_context(config)
    existing = read_decisions([parse(r) for r in result.scan.roots], ctx.storage, settings)

    if list_only:
        _print_list(result, existing, list_decisions(result, existing), as_json)
        return
    if import_path is not None:
        try:
            data = import_path.read_bytes()
        except OSError as exc:
            raise click.ClickException(f"cannot read {import_path}: {exc.strerror or exc}") from exc
        requests += [Request(r.op, r.target, r.reason, r.until, r.by or by, r.uri, r.kind,
                             where=f"{import_path.name} {r.where}")
                     for r in parse_export(data, result, where=str(import_path))]
    now = now_utc()
    who = by if by is not None else _user()
    records = build_records(result, existing, requests, by=who, now=now, today=now.date(),
                            root=root, source="import" if import_path is not None else "cli")
    done = record(records, ctx.storage, settings, user=_user(), host=ctx.host)
    if as_json:
        click.echo(json.dumps({"scan_id": result.scan.id, "batch": records[0].batch,
                               "written": list(done.written), "recorded": [r.to_dict() for r in records]},
                              ensure_ascii=False))
        return
    verbs = {"keep": "kept", "approve": "approved", "revoke": "revoked"}
    for r in records:
        what = r.pattern + " (glob)" if r.is_glob else f"{_rel(r.uri or r.match, result.scan.roots)} ({r.kind})"
        extra = f" — {r.reason}" if r.reason else ""
        if r.until is not None:
            extra += f" (until {r.until.isoformat()})"
        if r.is_glob and r.op == "approve":
            extra += f" [{len(r.fingerprints):,} finding(s)]"
        click.echo(f"  {verbs[r.op]:9} {_short(what)}{extra}")
    click.echo(f"{len(records)} decision(s) by {records[0].by} recorded in {', '.join(done.written)} "
               f"(batch {records[0].batch}); the next scan and `rotscan plan` use them")


def _cleanup_context(config: Any) -> Any:
    import os

    from rotscan.cleanup.context import CleanupContext

    return CleanupContext(config=config, user="", env=dict(os.environ))


def _print_list(result: Any, decisions: Any, listed: list[Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({
            "scan_id": result.scan.id,
            "decisions": [x.to_dict() for x in listed],
            "tampered": [{"location": t.location, "line": t.line, "record_id": t.record_id, "match": t.match,
                          "root": t.root, "reason": t.reason} for t in decisions.tampered],
            "malformed": [{"location": m.location, "line": m.line, "reason": m.reason} for m in decisions.malformed],
            "unreadable": [{"location": loc, "reason": why} for loc, why in decisions.unreadable],
        }, ensure_ascii=False))
        return
    if not listed:
        click.echo(f"no decisions in force for the roots of scan {result.scan.id}")
    for x in listed:
        r = x.stored.record
        what = r.pattern + " (glob)" if r.is_glob else f"{_rel(r.uri or r.match, result.scan.roots)} ({r.kind})"
        until = f" until {r.until.isoformat()}" if r.until else ""
        detail = f" — {x.detail}" if x.detail else ""
        click.echo(f"  [{x.status:8}] {r.op:7} {_short(what)} by {r.by} at {r.at.isoformat(timespec='seconds')}"
                   f"{until}: {r.reason or '(no reason)'}; {len(x.findings):,} finding(s){detail}  [{r.id}]")
    for t in decisions.tampered:
        click.echo(f"  [tampered] {t.location} line {t.line}: record {t.record_id} ({t.match}) {t.reason}; not applied")
    for m in decisions.malformed:
        click.echo(f"  [skipped ] {m.location} line {m.line}: {m.reason}")
    for loc, why in decisions.unreadable:
        click.echo(f"  [unreadable] {loc}: {why}")
    counts: dict[str, int] = {}
    for x in listed:
        counts[x.status] = counts.get(x.status, 0) + 1
    click.echo(f"{len(listed)} decision(s) in force" + (": " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
                                                        if counts else ""))


COMMANDS = (decide_cmd,)


def register(main: click.Group) -> click.Group:
    for cmd in COMMANDS:
        if cmd.name not in main.commands:
            main.add_command(cmd)
    return main

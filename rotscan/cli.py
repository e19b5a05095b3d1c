"""The ``rotscan`` command line: a thin click layer over the library.

Library errors (:class:`rotscan.errors.RotscanError`) become a one-line message and exit code 1;
usage errors exit 2 (click's convention). Importing this module starts no JVM.
"""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from rotscan import __version__
from rotscan.cli_common import config_option, handle_errors, load, progress_printer


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rotscan")
def main() -> None:
    """rotscan finds Redundant, Obsolete and Trivial data in a data lake, shows the evidence, and
    cleans it up safely.

    \b
    First run:
      rotscan demo-lake /tmp/demo-lake
      rotscan scan /tmp/demo-lake --out reports/demo
    """


@main.command()
@click.argument("roots", nargs=-1, required=True)
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory for findings.json and report.html.")
@config_option()
@click.option("--lineage", "lineage", multiple=True, metavar="PATH",
              help="OpenLineage RunEvents (.json/.jsonl file or a directory). Repeatable.")
@click.option("--access-log", "access_logs", multiple=True, metavar="PATH",
              help="Access/audit log file or directory; format detected per file. Repeatable.")
@click.option("--no-profile", is_flag=True, help="Metadata-only scan: no Spark read of the data.")
@click.option("--master", default=None, help="Spark master (default: config [spark] master, local[*]).")
@click.option("--state", "state", default=None, metavar="DIR_OR_URI",
              help="Scan state for incremental scans: reuse the profiles of unchanged datasets from "
                   "the last scan and record this one's (config [scan] state).")
@click.option("--s3-inventory", "s3_inventory", default=None, metavar="MANIFEST",
              help="List s3a:// roots from this S3 Inventory report (its manifest.json, s3a:// or a local "
                   "copy) instead of LIST calls (config [scan] s3_inventory).")
@click.option("--listing", "listing", type=click.Choice(["driver", "distributed", "auto"]), default=None,
              help="Who lists the roots: the driver, the Spark executors in parallel, or auto "
                   "(config [scan] listing).")
@click.option("--catalog", "catalog", is_flag=True,
              help="Read the Hive metastore's tables through Spark (config [catalog] enabled).")
@click.option("--metastore-uris", "metastore_uris", default=None, metavar="THRIFT_URI",
              help="A shared Hive metastore, thrift://host:port (config [catalog] metastore_uris); implies --catalog.")
@click.option("-q", "--quiet", is_flag=True, help="No progress messages.")
@handle_errors
def scan(roots: tuple[str, ...], out_dir: Path, config_path: Path | None, lineage: tuple[str, ...],
         access_logs: tuple[str, ...], no_profile: bool, master: str | None, state: str | None,
         quiet: bool,
         s3_inventory: str | None = None, listing: str | None = None, catalog: bool = False,
         metastore_uris: str | None = None) -> None:
    """Crawl ROOT(s), detect ROT, write OUT/findings.json and OUT/report.html.

    ROOT is a path or URI: /data/lake, file:/data/lake, s3a://bucket/prefix.

    \b
    Example:
      rotscan scan /data/lake --out reports/lake --config conf/rotscan.example.toml
    """
    from rotscan.findings_io import write_findings, write_lineage, write_signature_file
    from rotscan.report.html import write_report
    from rotscan.runtime import Runtime
    from rotscan.scan import run_scan

    overrides: dict[str, dict[str, Any]] = {}
    if no_profile:
        overrides.setdefault("scan", {})["profile"] = False
    if master:
        overrides.setdefault("spark", {})["master"] = master
    if state:
        overrides.setdefault("scan", {})["state"] = state
    if s3_inventory:
        overrides.setdefault("scan", {})["s3_inventory"] = s3_inventory
    if listing:
        overrides.setdefault("scan", {})["listing"] = listing
    if catalog or metastore_uris:
        overrides.setdefault("catalog", {})["enabled"] = True
    if metastore_uris:
        overrides["catalog"]["metastore_uris"] = metastore_uris
    config = load(config_path, overrides)
    pricing = _pricing(config, None)  # a bad [report] price or storage class fails before the scan
    progress = progress_printer(quiet)
    ctx = Runtime(config=config, env=dict(os.environ), progress=progress)
    for path in (*lineage, *access_logs):
        if not os.path.exists(path) and "://" not in path:
            raise click.ClickException(f"usage source does not exist: {path}")
    result = run_scan(roots, ctx, usage_paths=(*lineage, *access_logs),
                      exclude=(str(out_dir.resolve()), *[os.path.abspath(p) for p in (*lineage, *access_logs)]))
    result = replace(result, scan=replace(result.scan, pricing=pricing.to_dict()))
    findings_path = write_findings(result, out_dir)
    write_lineage(result, out_dir)
    write_signature_file(result, out_dir)
    history = _scan_history(result, out_dir, config, progress)
    report_path = write_report(result, out_dir, price_per_gb_month=float(config.get("report", "price_per_gb_month")),
                               currency=str(config.get("report", "currency")), pricing=pricing,
                               history=history)
    from rotscan.report.summary import counted_findings, kept_findings, rot_bytes

    progress(f"wrote {findings_path} and {report_path}")
    click.echo(f"{len(result.datasets)} datasets, {len(result.findings)} findings "
               f"({rot_bytes(result.findings):,} bytes reclaimable), {len(result.warnings)} warnings -> {report_path}")
    kept = kept_findings(result.findings)
    if kept:
        kept_bytes = sum(f.reclaimable_bytes for f in counted_findings(kept, kept=True))
        click.echo(f"{len(kept)} finding(s) kept by review decisions ({kept_bytes:,} bytes, not counted as ROT)")


def _pricing(config: Any, recorded_price: float | None, recorded: dict[str, Any] | None = None) -> Any:
    """The config's pricing; a re-render without ``--config`` keeps what the scan recorded."""
    from rotscan.report.summary import Pricing

    if recorded is not None:
        return Pricing.from_dict(recorded)
    return Pricing.from_config(config, default_price=recorded_price)


def _scan_history(result: Any, out_dir: Path, config: Any, progress: Any) -> Any:
    """Save this scan's snapshot in OUT/history/ and load the history for the report's trend and diff."""
    from rotscan.report.history import load_history, report_history, write_snapshot

    keep = int(config.get("report", "history_keep"))
    _, pruned = write_snapshot(result, out_dir, keep=keep)
    if pruned:
        progress(f"pruned {len(pruned)} old scan snapshot(s) (history_keep = {keep})")
    snapshots, warnings = load_history(out_dir)
    for w in warnings:
        progress(f"warning: {w.uri}: {w.message}")
    return report_history(result, snapshots, warnings=warnings)


@main.command()
@click.argument("out_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@config_option()
@click.option("--previous", "previous_path", type=click.Path(exists=True, path_type=Path), default=None,
              help="Compare with this scan: a findings.json (or its directory) or an OUT/history/*.json "
                   "snapshot. Default: the latest earlier scan of the same roots in OUT_DIR/history.")
@click.option("--plan", "plan_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Show this cleanup plan (from `rotscan plan`) in the report. Default: OUT_DIR/plan.json "
                   "if it exists. A plan that cannot be loaded is shown as a warning.")
@click.option("--owner", "owners", multiple=True, metavar="TEAM",
              help="Write a report of this owner's findings only (\"unowned\": findings without an owner), "
                   "with this owner's totals, to OUT_DIR/owners/<TEAM>/report.html. Repeatable.")
@click.option("--out", "owner_out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="With one --owner: write that report to this directory instead.")
@click.option("--decisions-as-scanned", "as_scanned", is_flag=True,
              help="Show the review decisions findings.json holds, without reading the decisions recorded "
                   "since (by default, as `rotscan plan` does, the report reads them from local roots and "
                   "[decisions] file).")
@handle_errors
def report(out_dir: Path, config_path: Path | None, previous_path: Path | None, plan_path: Path | None,
           owners: tuple[str, ...] = (), owner_out: Path | None = None, as_scanned: bool = False) -> None:
    """Re-render OUT_DIR/report.html from OUT_DIR/findings.json and OUT_DIR/history (no Spark needed).

    \b
    Example:
      rotscan report reports/lake
      rotscan report reports/lake --previous reports/lake-last-month/findings.json
      rotscan report reports/lake --plan plan.json
      rotscan report reports/lake --owner team-sales --owner unowned

    Also writes OUT_DIR/findings.csv (one row per finding). With --owner, writes only the owner
    reports (each with its own findings.csv), not OUT_DIR/report.html. Review decisions recorded
    since the scan (`rotscan decide`, also a report's decisions file imported) are shown as they are
    now; findings.json is not changed.
    """
    from rotscan.findings_io import read_findings
    from rotscan.report.history import load_history, load_previous, report_history
    from rotscan.report.html import write_report
    from rotscan.report.plan_view import find_plan

    if owner_out is not None and len(owners) != 1:
        raise click.UsageError("--out needs exactly one --owner")
    config = load(config_path)
    result = read_findings(out_dir)
    if not as_scanned:
        result = _current_decisions(result, config)
    price = result.scan.price_per_gb_month
    if config_path is not None or price is None:
        price = float(config.get("report", "price_per_gb_month"))
    if owners:
        _owner_reports(result, out_dir, owners, owner_out, price, config, config_path)
        return
    snapshots, warnings = load_history(out_dir)
    for w in warnings:
        click.echo(f"warning: {w.uri}: {w.message}", err=True)
    previous = None if previous_path is None else load_previous(previous_path)
    history = report_history(result, snapshots, previous=previous, warnings=warnings)
    plan = find_plan(out_dir, plan_path, result)
    if plan is not None and plan.error:
        click.echo(f"warning: cleanup plan not shown: {plan.error}", err=True)
    path = write_report(result, out_dir, price_per_gb_month=price, currency=str(config.get("report", "currency")),
                        pricing=_pricing(config, price, None if config_path is not None else result.scan.pricing),
                        history=history, plan=plan)
    click.echo(f"wrote {path}")


def _current_decisions(result: Any, config: Any) -> Any:
    """``result`` with the review decisions as they are now — read from the roots' ``_rotscan/`` and
    the ``[decisions] file``, judged against the scan's data, as ``rotscan plan`` reads them. Only
    local roots are read (no Spark for a report); otherwise, or when a root's decisions cannot be
    read, the findings keep the decisions findings.json holds, and a warning says so."""
    from rotscan.decisions import DecisionSettings, read_decisions, with_decisions
    from rotscan.storage.local import LocalStorage
    from rotscan.uri import parse

    roots = [parse(r) for r in result.scan.roots]
    remote = [str(r) for r in roots if r.scheme != "file"]
    if remote:
        click.echo(f"warning: review decisions not re-read ({', '.join(remote)} needs Spark): the report shows "
                   "the decisions findings.json holds", err=True)
        return result
    away = [str(r) for r in roots if not os.path.isdir(r.path)]
    if away:  # findings.json away from its lake (copied elsewhere): its decisions are all there is
        click.echo(f"warning: review decisions not re-read ({', '.join(away)} is not here): the report shows "
                   "the decisions findings.json holds", err=True)
        return result
    local = LocalStorage()
    decisions = read_decisions(roots, lambda _uri: local, DecisionSettings.from_config(config))
    if decisions.unreadable:
        for where, why in decisions.unreadable:
            click.echo(f"warning: review decisions not readable at {where}: {why}", err=True)
        click.echo("warning: the report shows the decisions findings.json holds", err=True)
        return result
    # the scan's own decision warnings are replaced by the ones the decisions raise now
    result = replace(result, warnings=tuple(w for w in result.warnings if not w.code.startswith("decision_")))
    updated, applied = with_decisions(result, decisions)
    for w in applied.warnings:
        click.echo(f"warning: {w.uri}: {w.message}", err=True)
    return updated


def _owner_reports(result: Any, out_dir: Path, owners: tuple[str, ...], owner_out: Path | None, price: float,
                   config: Any, config_path: Path | None) -> None:
    """One report per owner: that owner's findings, datasets and warnings, with that owner's totals."""
    from rotscan.report.html import write_report
    from rotscan.report.review_view import OWNERS_DIR, owner_result, owner_scope, owner_slug

    pricing = _pricing(config, price, None if config_path is not None else result.scan.pricing)
    parts = [(owner, owner_result(result, owner)) for owner in owners]  # every owner checked before writing
    for owner, mine in parts:
        target = owner_out if owner_out is not None else out_dir / OWNERS_DIR / owner_slug(owner)
        path = write_report(mine, target, price_per_gb_month=price, currency=str(config.get("report", "currency")),
                            pricing=pricing, scope=owner_scope(owner, target, out_dir, result, mine))
        click.echo(f"wrote {path} ({len(mine.findings)} of {len(result.findings)} findings, owner {owner})")


@main.command("demo-lake")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace DIRECTORY if it exists.")
@config_option()
@handle_errors
def demo_lake(directory: Path, force: bool, config_path: Path | None) -> None:
    """Write a small demo lake (real Parquet, Delta, CSV, JSON) with planted ROT into DIRECTORY.

    \b
    Example:
      rotscan demo-lake /tmp/demo-lake && rotscan scan /tmp/demo-lake --out reports/demo
    """
    from rotscan.demo import build_demo_lake

    config = load(config_path)
    progress = progress_printer(False)
    manifest = build_demo_lake(directory, config, env=dict(os.environ), force=force, progress=progress)
    click.echo(f"demo lake written to {directory}: {len(manifest.planted) + len(manifest.planted_with_usage)} "
               f"planted ROT items and {len(manifest.clean)} traps that must stay clean (listed in {directory}/_DEMO.md);"
               f" its usage events: {directory}/_usage/openlineage.jsonl")


@main.command()
@config_option()
@click.option("--no-s3a", is_flag=True, help="Do not fetch the s3a (hadoop-aws) jars.")
@handle_errors
def setup(config_path: Path | None, no_s3a: bool) -> None:
    """Resolve the Delta (and s3a) jars from Maven Central once into the local cache, so later
    scans start without the network."""
    from rotscan.spark.jars import resolve_jars

    config = load(config_path)
    groups = ("delta",) if no_s3a else ("delta", "s3a")
    manifest = resolve_jars(config, groups=groups, env=os.environ, progress=progress_printer(False))
    click.echo(str(manifest))


@main.command()
@config_option()
@handle_errors
def doctor(config_path: Path | None) -> None:
    """Check Java, Spark, Delta and Hadoop versions, the jar cache, and run a Delta smoke test."""
    from rotscan.spark.doctor import format_checks, run_doctor

    config = load(config_path)
    checks = run_doctor(config, env=os.environ)
    click.echo(format_checks(checks))
    if not all(c.ok for c in checks):
        sys.exit(1)


def _register_cleanup() -> None:
    from rotscan.cli_cleanup import register

    register(main)


_register_cleanup()


def _register_decide() -> None:
    from rotscan.cli_decide import register

    register(main)


_register_decide()


def _register_run() -> None:
    from rotscan.cli_run import register

    register(main)


_register_run()
# Run as ``rotscan …`` or ``python -m rotscan …`` (rotscan/__main__.py).

"""spark-submit entry point for periodic cleanup: scan → plan → apply, under a policy.

Thin by design: it runs the same `rotscan` commands a person would, one after another, inside the
session spark-submit gives. The policy is the `[cleanup]` table of --config (protect globs, minimum
age, blast-radius limits, vacuum mode) plus --only (the action types allowed to run unattended).
Without --execute it only plans and dry-runs. Every step's output is kept under --work:

    WORK/<stamp>/scan/findings.json, report.html   the scan
    WORK/<stamp>/plan.json                          the plan (reviewable afterwards)
    WORK/<stamp>/apply.json                         the apply --json result (run_id for restore)

    spark-submit --packages io.delta:delta-spark_4.2_2.13:4.4.0 --py-files dist/rotscan-0.1.0-py3-none-any.whl \\
        jobs/rotscan_cleanup_job.py s3a://bucket/lake --work /shared/rotscan/cleanup \\
        --config /etc/rotscan/cleanup.toml --only delete --only quarantine --execute
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import time
from pathlib import Path

from rotscan.cli import main
from rotscan.cli_cleanup import register


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="rotscan_cleanup_job", description=__doc__.split("\n\n")[0])
    parser.add_argument("roots", nargs="+")
    parser.add_argument("--work", required=True, type=Path, help="directory for scan, plan and apply output")
    parser.add_argument("--config", default=None, help="TOML config; its [cleanup] table is the policy")
    parser.add_argument("--only", action="append", default=[], help="action type allowed (repeatable)")
    parser.add_argument("--execute", action="store_true", help="act (default: plan and dry run only)")
    args = parser.parse_args(argv)

    register(main)
    step = args.work / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    config = ["--config", args.config] if args.config else []
    with contextlib.redirect_stdout(sys.stderr):  # stdout carries only apply's JSON
        main(["scan", *args.roots, "--out", str(step / "scan"), "--quiet", *config], standalone_mode=False)
        main(["plan", str(step / "scan"), "--out", str(step / "plan.json"), *config], standalone_mode=False)
    apply_args = ["apply", str(step / "plan.json"), "--json", *config, *(f"--only={o}" for o in args.only)]
    if args.execute:
        apply_args.append("--execute")
    out = io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out):
        try:
            main(apply_args, standalone_mode=False)
        except SystemExit as exc:  # apply exits 1 when an action failed; keep its JSON anyway
            code = int(exc.code or 0)
    (step / "apply.json").write_text(out.getvalue())
    print(out.getvalue(), end="")
    return code


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))

"""spark-submit entry point for scheduled cleanup: ``rotscan run`` (scan → plan with the review
decisions → apply what the [run] policy allows) inside the session spark-submit gives.

Thin by design: the arguments are those of ``rotscan run`` (see ``rotscan run --help`` and
docs/scheduling.md); stdout carries the run summary as one JSON object (``WORK/<run>/run.json``), and
the exit code is the run's (0 done, 1 error, 3 actions failed, 4 stopped by the policy, 75 another
run holds the lake). Without --execute it only scans, plans and dry-runs.

    spark-submit --packages io.delta:delta-spark_4.2_2.13:4.4.0 --py-files dist/rotscan-0.1.0-py3-none-any.whl \\
        jobs/rotscan_cleanup_job.py s3a://bucket/lake --work /shared/rotscan/runs \\
        --config /etc/rotscan/cleanup.toml --execute
"""

from __future__ import annotations

import sys

from rotscan.cli import main


def run(argv: list[str]) -> int:
    try:
        main(["run", *argv, *([] if "--json" in argv else ["--json"])], standalone_mode=False)
    except SystemExit as exc:  # the run's exit code (its summary is already on stdout)
        return int(exc.code or 0)
    return 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))

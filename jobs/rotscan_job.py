"""spark-submit entry point: the same commands and options as the ``rotscan`` CLI, run inside the
session spark-submit gives (its master, its jars, its Hadoop configuration).

    spark-submit --packages io.delta:delta-spark_4.2_2.13:4.4.0 \\
        --py-files dist/rotscan-0.1.0-py3-none-any.whl \\
        jobs/rotscan_job.py scan s3a://bucket/lake --out /shared/reports/lake

The command's own output is unchanged (its result line on stdout, progress on stderr); at exit one
``rotscan_job:`` line on stderr says which session ran it and where ``rotscan`` was imported from.
"""

from __future__ import annotations

import sys

import rotscan
from rotscan.cli import main
from rotscan.spark.session import session_info


def _report_session() -> None:
    info = session_info()
    if info is not None:
        from pyspark.sql import SparkSession

        active = SparkSession.getActiveSession()
        master = active.sparkContext.master if active is not None else "?"
        print(f"rotscan_job: session={info.mode} master={master} s3a={info.s3a} rotscan={rotscan.__file__}",
              file=sys.stderr)


if __name__ == "__main__":
    try:
        main(args=sys.argv[1:], prog_name="rotscan_job")
    finally:
        _report_session()

"""spark-submit entry point: the same commands and options as the ``rotscan`` CLI, run inside the
session spark-submit gives (its master, its jars, its Hadoop configuration).

    spark-submit --packages io.delta:delta-spark_4.2_2.13:4.4.0 \\
        --py-files dist/rotscan-0.1.0-py3-none-any.whl \\
        jobs/rotscan_job.py scan s3a://bucket/lake --out /shared/reports/lake
"""

from __future__ import annotations

import sys

from rotscan.cli import main

if __name__ == "__main__":
    sys.exit(main(args=sys.argv[1:], prog_name="rotscan_job"))

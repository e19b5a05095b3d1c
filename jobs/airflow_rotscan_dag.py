"""Airflow DAGs for scheduled rotscan cleanup: a nightly `rotscan run` on the cluster through
SparkSubmitOperator, and a monthly purge of quarantine older than 30 days.

Copy this file into your DAGs folder and adjust the paths and the connection. The run's exit code
is the task's: 0 succeeds; any other code fails the task — 3 (some actions failed) and 4 (the policy
stopped the run: it would take out too much at once) need a person, 75 (another run, started
elsewhere, holds the lake) is retried after `retry_delay`. `max_active_runs=1` keeps Airflow itself
from overlapping runs; rotscan's lock (`<root>/_rotscan/run.lock`) covers runs started elsewhere.
Requires apache-airflow-providers-apache-spark; rotscan itself never imports this file.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow import DAG
from airflow.operators.bash import BashOperator
from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

LAKE = "s3a://lake-bucket/warehouse"
WORK = "/shared/rotscan/runs"
CONFIG = "/etc/rotscan/cleanup.toml"
WHEEL = "/opt/rotscan/rotscan-0.1.0-py3-none-any.whl"
JOB = "/opt/rotscan/jobs/rotscan_cleanup_job.py"

# The arguments of `rotscan run` (tests/test_scheduled_run.py parses them with the real CLI).
RUN_ARGS = [LAKE, "--work", WORK, "--config", CONFIG, "--access-log", "s3a://lake-logs/s3-access/", "--execute"]
PURGE_COMMAND = f"rotscan purge --older-than 30d --root {LAKE} --config {CONFIG}"

with DAG(
    dag_id="rotscan_cleanup",
    schedule="30 2 * * *",
    start_date=datetime(2026, 12, 1),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 1, "retry_delay": timedelta(minutes=30)},
    tags=["data-platform", "rotscan"],
) as cleanup_dag:
    SparkSubmitOperator(
        task_id="rotscan_run",
        conn_id="spark_default",
        application=JOB,
        py_files=WHEEL,
        packages="io.delta:delta-spark_4.2_2.13:4.4.0,org.apache.hadoop:hadoop-aws:3.5.0",
        application_args=RUN_ARGS,
        name="rotscan-cleanup",
        deploy_mode="client",  # the task gets the driver's exit code
    )

with DAG(
    dag_id="rotscan_purge",
    schedule="0 4 1 * *",  # the first of the month
    start_date=datetime(2026, 12, 1),
    catchup=False,
    max_active_runs=1,
    tags=["data-platform", "rotscan"],
) as purge_dag:
    BashOperator(task_id="rotscan_purge", bash_command=PURGE_COMMAND)

"""Shared fixtures."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """One real local SparkSession with Delta for the whole test run (built by rotscan's get_spark)."""
    from rotscan.config import load_config
    from rotscan.spark.session import get_spark, stop_spark

    session = get_spark(load_config(overrides={"spark": {"master": "local[2]", "shuffle_partitions": 2}}),
                        env=os.environ)
    yield session
    stop_spark()

"""A catalog that cannot be read, on the suite's shared session (which has no Hive support): the
scan goes on and claims nothing about registration; apply refuses every action."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rotscan.catalog import CatalogSettings
from rotscan.cleanup.context import CleanupContext
from rotscan.cleanup.plan import LoadedPlan
from rotscan.cleanup.safety import Refused
from rotscan.cleanup.tables import TableGuard
from rotscan.config import load_config
from rotscan.models import Dataset, ScanWarning
from rotscan.registration import coverage, read_catalog_step, register
from rotscan.uri import parse

pytestmark = pytest.mark.spark


def test_no_hive_support_is_a_warning_and_nothing_is_claimed(spark: Any, tmp_path: Path) -> None:
    warnings: list[ScanWarning] = []
    settings = CatalogSettings(enabled=True)
    step = read_catalog_step(settings, lambda: spark, lambda _: None, warnings)
    assert not step.read
    (w,) = warnings
    assert w.code == "catalog_unreadable" and "needs a Spark session with Hive support" in w.message
    ds = register([Dataset("file:/lake/t", "parquet", "part_files", 1, 10)], step)
    assert ds[0].registered is None and ds[0].table is None
    assert coverage(step, [parse("file:/lake")], ds, [])["read"] is False  # type: ignore[index]

    ctx = CleanupContext(config=load_config(overrides={"catalog": {"enabled": True}}),
                         spark_factory=lambda _s3a: spark)
    plan = LoadedPlan(header={"plan_id": "p", "scan": {"id": "s"}, "roots": ["file:/lake"]}, roots=("file:/lake",),
                      actions=(), doc={})
    guard = TableGuard.open(ctx, plan)
    with pytest.raises(Refused, match="the catalog cannot be read"):
        guard.check("quarantine", parse("file:/lake/t"))

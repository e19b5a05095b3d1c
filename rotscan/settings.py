"""Typed settings of a scan, read once from the configuration (``[scan]`` and the keys the scan
itself needs from other sections). Each layer has its own: :class:`~rotscan.crawl.discover.CrawlRules`,
:class:`~rotscan.profiling.ProfileSettings`, :class:`~rotscan.detect.redundant.RedundancyRules`,
:class:`~rotscan.usage.aggregate.UsageSettings` and so on — so a bad setting fails before any work
is done, and no step reads raw configuration keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from rotscan.config import Config
from rotscan.errors import ConfigError
from rotscan.uri import Uri, parse

LISTING_MODES = ("driver", "distributed", "auto")


@dataclass(frozen=True)
class ScanSettings:
    profile: bool  # False: metadata-only scan
    small_file_bytes: int
    sniff_bytes: int
    s3_inventory: str  # manifest of an S3 Inventory report to list s3a roots from; "" lists with LIST
    s3_inventory_max_age: timedelta
    listing: str  # driver | distributed | auto
    listing_subtrees: int  # 0: four per executor core
    state: Uri | None  # where the incremental scan state lives; None: off
    price_per_gb_month: float

    @classmethod
    def from_config(cls, config: Config) -> ScanSettings:
        s = config.section("scan")
        listing = str(s["listing"])
        if listing not in LISTING_MODES:
            raise ConfigError(f"[scan] listing must be driver, distributed or auto, not {listing!r}")
        return cls(
            profile=bool(s["profile"]),
            small_file_bytes=int(s["small_file_bytes"]),
            sniff_bytes=int(s["sniff_bytes"]),
            s3_inventory=str(s["s3_inventory"]),
            s3_inventory_max_age=timedelta(days=float(s["s3_inventory_max_age_days"])),
            listing=listing,
            listing_subtrees=int(s["listing_subtrees"]),
            state=_state_location(str(s["state"] or "")),
            price_per_gb_month=float(config.get("report", "price_per_gb_month")),
        )


def _state_location(text: str) -> Uri | None:
    text = text.strip()
    if not text:
        return None
    try:
        return parse(text)
    except ValueError as exc:
        raise ConfigError(f"[scan] state: invalid location {text!r}: {exc}") from exc

"""Storage prices per class: what a GB-month costs where (``[report]`` ``storage_class``,
``[report.prices]``, ``[report.storage_classes]``). The report prices ROT with it; cleanup prices
what an archive saves. Decimal gigabytes (GB = 10^9 bytes), as storage is billed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from rotscan.errors import ConfigError

if TYPE_CHECKING:
    from rotscan.config import Config

BYTES_PER_GB = 10**9


# List prices in USD per GB-month (AWS S3, us-east-1, first 50 TB tier) used for a storage class
# that ``[report.prices]`` does not name. The default class is priced by ``price_per_gb_month``.
DEFAULT_PRICES: Mapping[str, float] = MappingProxyType({
    "standard": 0.023,  # S3 Standard
    "standard_ia": 0.0125,  # S3 Standard-Infrequent Access
    "onezone_ia": 0.01,  # S3 One Zone-Infrequent Access
    "glacier_ir": 0.004,  # S3 Glacier Instant Retrieval
    "glacier": 0.0036,  # S3 Glacier Flexible Retrieval
    "deep_archive": 0.00099,  # S3 Glacier Deep Archive
})


@dataclass(frozen=True)
class Pricing:
    """What a GB-month costs where: a default storage class, a price per class, and prefixes (URIs)
    whose bytes sit in another class (``[report.storage_classes]``, longest prefix wins)."""

    default_class: str
    prices: Mapping[str, float]
    classes: tuple[tuple[str, str], ...] = ()  # (canonical prefix uri, class), longest prefix first

    def __post_init__(self) -> None:
        for name, price in self.prices.items():
            if price < 0:
                raise ConfigError(f"[report.prices] {name!r}: a price cannot be negative ({price})")
        for prefix, name in ((None, self.default_class), *self.classes):
            if name not in self.prices:
                where = "[report] storage_class" if prefix is None else f"[report.storage_classes] {prefix!r}"
                raise ConfigError(f"{where}: unknown storage class {name!r} (priced: {', '.join(sorted(self.prices))}"
                                  "; add it to [report.prices])")

    @classmethod
    def flat(cls, price_per_gb_month: float, storage_class: str = "standard") -> Pricing:
        return cls(storage_class, {**DEFAULT_PRICES, storage_class: float(price_per_gb_month)})

    @classmethod
    def from_config(cls, config: Config, *, default_price: float | None = None) -> Pricing:
        """``[report]``: ``storage_class`` is priced by ``[report.prices]`` when listed there, else by
        ``price_per_gb_month`` (or ``default_price``, the price a scan recorded); other classes by
        ``[report.prices]`` over :data:`DEFAULT_PRICES`."""
        from rotscan.uri import parse

        section = config.section("report")
        default_class = str(section.get("storage_class", "standard")).strip()
        if not default_class:
            raise ConfigError("[report] storage_class must not be empty")
        given: dict[str, Any] = dict(section.get("prices") or {})
        prices: dict[str, float] = dict(DEFAULT_PRICES)
        prices[default_class] = float(section["price_per_gb_month"] if default_price is None else default_price)
        for name, value in given.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"[report.prices] {name!r} must be a number (price per GB-month), got {value!r}")
            prices[str(name)] = float(value)
        classes: list[tuple[str, str]] = []
        for prefix, name in dict(section.get("storage_classes") or {}).items():
            if not isinstance(name, str):
                raise ConfigError(f"[report.storage_classes] {prefix!r} must name a storage class, got {name!r}")
            try:
                uri = str(parse(str(prefix))).rstrip("/") or "/"
            except ValueError as exc:
                raise ConfigError(f"[report.storage_classes] {prefix!r} is not a path or URI: {exc}") from exc
            classes.append((uri, name))
        classes.sort(key=lambda pc: (-len(pc[0]), pc[0]))
        return cls(default_class, MappingProxyType(prices), tuple(classes))

    def to_dict(self) -> dict[str, Any]:
        return {"storage_class": self.default_class, "prices": dict(self.prices),
                "storage_classes": dict(self.classes)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Pricing:
        """The pricing a scan recorded (``scan.pricing`` in findings.json)."""
        try:
            prices = {str(k): float(v) for k, v in dict(d["prices"]).items()}
            classes = sorted(((str(k), str(v)) for k, v in dict(d.get("storage_classes") or {}).items()),
                             key=lambda pc: (-len(pc[0]), pc[0]))
            return cls(str(d["storage_class"]), MappingProxyType(prices), tuple(classes))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"recorded pricing is not valid: {exc}") from exc

    def class_of(self, uri: str) -> str:
        for prefix, name in self.classes:
            if uri == prefix or uri.startswith(prefix if prefix.endswith("/") else prefix + "/"):
                return name
        return self.default_class

    def price(self, storage_class: str) -> float:
        return self.prices[storage_class]


def monthly_cost(nbytes: int, price_per_gb_month: float) -> float:
    """What ``nbytes`` cost per month at ``price_per_gb_month``."""
    return nbytes / BYTES_PER_GB * price_per_gb_month

"""Human formatting of sizes and counts, shared by warnings, explanations and the report."""

from __future__ import annotations

_IEC_UNITS = ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def format_bytes(n: int | None) -> str:
    """Binary units, one decimal: ``1.2 MiB``; below 1 KiB exact: ``512 B``."""
    if n is None:
        return "—"
    if n < 1024:
        return f"{n:,} B"
    value = n / 1024
    unit = 0
    # promote while the rounded figure would read 1024.0 or more
    while round(value, 1) >= 1024 and unit < len(_IEC_UNITS) - 1:
        value /= 1024
        unit += 1
    return f"{value:,.1f} {_IEC_UNITS[unit]}"


def format_count(n: int | None) -> str:
    return "—" if n is None else f"{n:,}"

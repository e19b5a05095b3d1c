"""rotscan: find Redundant, Obsolete and Trivial data in a data lake, prove it, clean it up safely."""

from __future__ import annotations

__version__ = "0.1.0"

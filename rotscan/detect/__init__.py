"""Detectors: pure functions from the inventory (and later usage) to findings. They never touch data."""

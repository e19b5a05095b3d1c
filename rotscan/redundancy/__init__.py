"""Redundancy: content signatures and the copies they reveal."""

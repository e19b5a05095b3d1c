"""JSON lines: one JSON value a line, blank lines ignored, a line that does not parse counted and
skipped (a torn last line is a record that was never completely written). Used by the usage
parsers, the cleanup journal and audit log, and the decisions file."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any


def json_values(lines: Iterable[str], bad: Callable[[], None]) -> Iterator[Any]:
    """Each non-blank line parsed as JSON; for a line that is not JSON, ``bad()`` is called."""
    for line in lines:
        line = line.strip()
        if not line:
            continue
        try:
            yield json.loads(line)
        except ValueError:
            bad()


def json_objects(lines: Iterable[str], bad: Callable[[], None]) -> Iterator[dict[str, Any]]:
    """The JSON objects among the lines; a line that is not a JSON object calls ``bad()``."""
    for value in json_values(lines, bad):
        if isinstance(value, dict):
            yield value
        else:
            bad()


def parse_json_lines(data: bytes) -> tuple[list[dict[str, Any]], int]:
    """The JSON objects of a JSON-lines file, and how many non-blank lines were not one."""
    bad = 0

    def count() -> None:
        nonlocal bad
        bad += 1

    records = list(json_objects(data.decode("utf-8", errors="replace").splitlines(), count))
    return records, bad

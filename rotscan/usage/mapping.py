"""Which dataset a logged path (or table name) belongs to.

A dataset is a table directory or a standalone file of the inventory. A path maps to the dataset
that is the longest prefix of it on canonical URIs (:mod:`rotscan.uri`): files inside a table
directory, partition directories (``t/k=1/part-0.parquet``), ``_delta_log`` entries all map to
``t``. Canonical URIs make ``s3``/``s3n``/``s3a``, percent-encoding (``%20``), ``.``/``..`` and
trailing or doubled slashes compare equal.

Lenient on purpose where a miss would be unsafe: an HDFS path logged without its namenode
(``hdfs:///warehouse/t``, what an HDFS audit log gives when no namenode is configured) matches a
dataset on any namenode with that path — a missed read would make a used dataset look unread — but
only when exactly one dataset fits; otherwise it matches none.

Table names (``db.table``, ``catalog.db.table``; case-insensitive, backticks ignored) are resolved
through aliases (table → URI, e.g. from OpenLineage ``symlinks`` facets). A name also matches an
alias that shares its last two parts (``spark_catalog.sales.orders`` ~ ``sales.orders``) when that
is unambiguous.
"""

from __future__ import annotations

import bisect
import posixpath
from collections.abc import Iterable, Mapping

from rotscan.uri import Uri, parse
from rotscan.usage.events import is_path_like


def _parse(text: str) -> Uri | None:
    try:
        if not is_path_like(text):
            return None
        return parse(text)
    except ValueError:
        return None


def _name_parts(name: str) -> tuple[str, ...]:
    cleaned = name.strip().replace("`", "").replace('"', "").lower()
    return tuple(p for p in cleaned.split(".") if p)


class DatasetIndex:
    """Maps paths and table names to dataset URIs (see the module docstring)."""

    def __init__(self, dataset_uris: Iterable[str], aliases: Mapping[str, str] | None = None) -> None:
        self._by_root: dict[tuple[str, str], dict[str, str]] = {}
        for text in dataset_uris:
            uri = _parse(text)
            if uri is None:
                continue
            self._by_root.setdefault((uri.scheme, uri.authority), {})[uri.path] = str(uri)
        self._sorted: dict[tuple[str, str], list[str]] = {}
        self._aliases: dict[tuple[str, ...], str] = {}
        self._short: dict[tuple[str, ...], set[str]] = {}
        for name, target in (aliases or {}).items():
            self.add_alias(name, target)

    def add_alias(self, name: str, target: str) -> None:
        parts = _name_parts(name)
        if not parts:
            return
        self._aliases[parts] = target
        if len(parts) >= 2:
            self._short.setdefault(parts[-2:], set()).add(target)

    def __len__(self) -> int:
        return sum(len(paths) for paths in self._by_root.values())

    def lookup(self, uri_or_table: str) -> str | None:
        """The dataset URI holding ``uri_or_table`` (a path/URI or a table name), or ``None``."""
        if not isinstance(uri_or_table, str) or not uri_or_table.strip():
            return None
        text = uri_or_table.strip()
        if is_path_like(text):
            return self._lookup_path(text)
        return self._lookup_table(text)

    def resolve_table(self, name: str) -> str | None:
        """The URI an alias gives for a table name (not yet mapped to a dataset), or ``None``."""
        parts = _name_parts(name)
        if not parts:
            return None
        target = self._aliases.get(parts)
        if target is None and len(parts) >= 2:
            candidates = self._short.get(parts[-2:], set())
            if len(candidates) == 1:
                target = next(iter(candidates))
        return target if target is not None and is_path_like(target) else None

    def _lookup_table(self, name: str) -> str | None:
        target = self.resolve_table(name)
        return None if target is None else self._lookup_path(target)

    def _lookup_path(self, text: str) -> str | None:
        uri = _parse(text)
        if uri is None:
            return None
        if uri.scheme != "file" and not uri.authority:
            found = {hit for (scheme, _), paths in self._by_root.items() if scheme == uri.scheme
                     for hit in [self._longest(paths, uri.path)] if hit is not None}
            return found.pop() if len(found) == 1 else None
        paths = self._by_root.get((uri.scheme, uri.authority))
        return None if paths is None else self._longest(paths, uri.path)

    def contained(self, uri: str) -> tuple[str, ...]:
        """The datasets that lie strictly below a directory path (a read of ``/lake/exports`` reads
        every standalone file dataset in it), sorted; ``()`` for a table name or a non-path."""
        parsed = _parse(uri) if isinstance(uri, str) and uri.strip() else None
        if parsed is None:
            return ()
        prefix = parsed.path.rstrip("/") + "/"
        roots = [(parsed.scheme, parsed.authority)] if parsed.scheme == "file" or parsed.authority else \
            [r for r in self._by_root if r[0] == parsed.scheme]
        found: set[str] = set()
        for root in roots:
            paths = self._sorted_paths(root)
            i = bisect.bisect_left(paths, prefix)
            while i < len(paths) and paths[i].startswith(prefix):
                found.add(self._by_root[root][paths[i]])
                i += 1
        return tuple(sorted(found))

    def _sorted_paths(self, root: tuple[str, str]) -> list[str]:
        cached = self._sorted.get(root)
        if cached is None:
            cached = self._sorted[root] = sorted(self._by_root.get(root, {}))
        return cached

    @staticmethod
    def _longest(paths: Mapping[str, str], path: str) -> str | None:
        current = path
        while True:
            hit = paths.get(current)
            if hit is not None:
                return hit
            if current == "/":
                return None
            current = posixpath.dirname(current) or "/"

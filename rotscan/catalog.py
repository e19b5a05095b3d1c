"""Catalog tables: which paths of the lake a metastore has registered as tables, as plain data.

The Spark adapter (:mod:`rotscan.spark.catalog`) reads a Hive metastore through Spark's session
catalog into a :class:`CatalogSnapshot`; everything here is pure Python over it:

* :class:`CatalogTable` — one table (``db.table``), its location as a canonical rotscan URI (the
  spellings of :mod:`rotscan.uri`: ``s3``/``s3n`` = ``s3a``, ``file:``/``file:///``, percent-encoding,
  trailing slashes), format, owner, properties and the locations of partitions kept outside it;
* :class:`CatalogIndex` — path lookups: the table a path is registered as (its location or a
  partition location equals or contains the path), the tables a path contains, and whether a path
  is registered at all — ``None`` when that cannot be known (no catalog read, or a database of it
  unreadable), never a guess;
* :class:`CatalogSettings` — the ``[catalog]`` configuration and the Spark settings it implies.

A table is registered at its location and at each partition location; a path "is registered"
when it is such a location, lies inside one, or contains one.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rotscan.errors import ConfigError, RotscanError
from rotscan.uri import Uri, parse

KINDS = ("hive",)
# Schemes whose authority has several spellings (an HDFS namenode host:port or its HA nameservice):
# a table location there on another authority, same path, may be the very same file.
AMBIGUOUS_AUTHORITY = ("hdfs", "viewfs")
MANAGED = "MANAGED"
EXTERNAL = "EXTERNAL"
VIEW = "VIEW"


class CatalogError(RotscanError):
    """The catalog could not be read (no Hive support in the session, metastore unreachable, ...)."""


def canonical_location(text: str | None, default_fs: str | None = None) -> str | None:
    """A metastore location as a canonical rotscan URI, or ``None`` when it has none.

    Locations are URIs (``file:/w/t``, ``file:///w/t``, ``s3://b/t/``, ``hdfs://nn:8020/w/t``); one
    without a scheme (``/w/t``) is on the default file system, ``default_fs`` (Hadoop's
    ``fs.defaultFS``: ``file:///`` unless the cluster sets it)."""
    if text is None or not str(text).strip():
        return None
    text = str(text).strip()
    if "://" not in text and not text.startswith("file:"):
        if not text.startswith("/"):
            return None  # a relative location names nothing we can compare
        fs = (default_fs or "file:///").rstrip("/")
        text = fs + text if "://" in fs else "file:" + text
    try:
        return str(parse(text))
    except ValueError:
        return None


@dataclass(frozen=True)
class CatalogTable:
    """One table of the catalog. ``location`` and ``partition_locations`` are canonical URIs;
    ``partition_locations`` holds only partitions that lie outside ``location`` (those inside are
    covered by it)."""

    name: str  # "db.table"
    location: str | None
    format: str | None = None  # provider: delta, parquet, csv, orc, json, hive, ...
    table_type: str = EXTERNAL  # EXTERNAL | MANAGED | VIEW
    owner: str | None = None  # the metastore's owner (the user who created the table)
    properties: Mapping[str, str] = field(default_factory=dict)
    partition_columns: tuple[str, ...] = ()
    partitions: int = 0
    partition_locations: tuple[str, ...] = ()

    @property
    def database(self) -> str:
        return self.name.rsplit(".", 1)[0] if "." in self.name else ""

    @property
    def managed(self) -> bool:
        return self.table_type.upper() == MANAGED

    @property
    def locations(self) -> tuple[str, ...]:
        """Every location the table is registered at: its own, then its outside partitions'."""
        return ((self.location,) if self.location else ()) + self.partition_locations

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "location": self.location, "format": self.format, "table_type": self.table_type,
                "owner": self.owner, "properties": dict(self.properties),
                "partition_columns": list(self.partition_columns), "partitions": self.partitions,
                "partition_locations": list(self.partition_locations)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CatalogTable:
        return cls(name=str(d["name"]), location=d.get("location"), format=d.get("format"),
                   table_type=str(d.get("table_type") or EXTERNAL), owner=d.get("owner"),
                   properties={str(k): str(v) for k, v in (d.get("properties") or {}).items()},
                   partition_columns=tuple(d.get("partition_columns") or ()), partitions=int(d.get("partitions", 0)),
                   partition_locations=tuple(d.get("partition_locations") or ()))


@dataclass(frozen=True)
class CatalogSnapshot:
    """What one read of the catalog saw. ``complete``: every database asked for was listed and
    every table of them read; when not, ``errors`` says what was missed, and no path can be called
    unregistered (it may be registered in what could not be read)."""

    source: str  # where it was read from, in words ("Hive metastore thrift://...")
    databases: tuple[str, ...]
    tables: tuple[CatalogTable, ...]
    complete: bool = True
    errors: tuple[str, ...] = ()

    def index(self) -> CatalogIndex:
        return CatalogIndex(self.tables, complete=self.complete)


_Key = tuple[str, str]  # (scheme, authority)


class CatalogIndex:
    """Path lookups over the tables' locations (canonical URIs), each in O(depth + log n)."""

    def __init__(self, tables: Iterable[CatalogTable], *, complete: bool = True) -> None:
        self.complete = complete
        self.tables = tuple(tables)
        self._at: dict[Uri, list[CatalogTable]] = {}
        paths: dict[_Key, list[str]] = {}
        for t in self.tables:
            for loc in t.locations:
                u = parse(loc)
                self._at.setdefault(u, [])
                if t not in self._at[u]:
                    self._at[u].append(t)
                paths.setdefault((u.scheme, u.authority), []).append(u.path)
        self._sorted = {k: sorted(set(v)) for k, v in paths.items()}
        self._authorities: dict[str, set[str]] = {}
        for scheme, authority in self._sorted:
            self._authorities.setdefault(scheme, set()).add(authority)

    def __len__(self) -> int:
        return len(self.tables)

    def at(self, uri: Uri) -> list[CatalogTable]:
        """Tables registered exactly at ``uri``."""
        return list(self._at.get(uri, ()))

    def enclosing(self, uri: Uri) -> tuple[CatalogTable, Uri] | None:
        """The table registered at ``uri`` or at the nearest location above it, with that location."""
        cur = uri
        while True:
            hits = self._at.get(cur)
            if hits:
                return sorted(hits, key=lambda t: t.name)[0], cur
            if cur.path == "/":
                return None
            cur = cur.parent

    def locations_above(self, uri: Uri) -> list[Uri]:
        """Every table location at or above ``uri``."""
        out = []
        cur = uri
        while True:
            if cur in self._at:
                out.append(cur)
            if cur.path == "/":
                return out
            cur = cur.parent

    def table_for(self, uri: Uri) -> CatalogTable | None:
        """The table ``uri`` belongs to: registered at it or at a location containing it."""
        hit = self.enclosing(uri)
        return None if hit is None else hit[0]

    def within(self, uri: Uri) -> list[tuple[CatalogTable, Uri]]:
        """Tables registered strictly below ``uri``, with the location that is."""
        paths = self._sorted.get((uri.scheme, uri.authority), [])
        prefix = uri.path.rstrip("/") + "/"
        out: list[tuple[CatalogTable, Uri]] = []
        i = bisect.bisect_left(paths, prefix)
        while i < len(paths) and paths[i].startswith(prefix):
            loc = Uri(uri.scheme, uri.authority, paths[i])
            out += [(t, loc) for t in self._at.get(loc, ())]
            i += 1
        return out

    def elsewhere(self, uri: Uri) -> list[tuple[CatalogTable, Uri]]:
        """Tables at, above or below ``uri``'s path on another authority of an HDFS-like scheme
        (``hdfs://nameservice1/w`` against ``hdfs://nn:8020/w``): maybe the same files, maybe not."""
        if uri.scheme not in AMBIGUOUS_AUTHORITY:
            return []
        out: list[tuple[CatalogTable, Uri]] = []
        for authority in sorted(self._authorities.get(uri.scheme, ())):
            if authority == uri.authority:
                continue
            other = Uri(uri.scheme, authority, uri.path)
            hit = self.enclosing(other)
            if hit is not None:
                out.append(hit)
            out += self.within(other)
        return out

    def registered(self, uri: Uri) -> bool | None:
        """True when ``uri`` is, lies inside or contains a table location; False when the catalog
        was read completely and it is none of these; None when that cannot be known (part of the
        catalog unread, or a table at the same path on another spelling of the file system)."""
        if self.enclosing(uri) is not None or self.within(uri):
            return True
        if self.elsewhere(uri):
            return None
        return False if self.complete else None


@dataclass(frozen=True)
class CatalogSettings:
    """The ``[catalog]`` section. ``spark_conf`` is what a session needs to read it."""

    enabled: bool = False
    kind: str = "hive"
    metastore_uris: str = ""
    databases: tuple[str, ...] = ()
    conf: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: Any) -> CatalogSettings:
        try:
            section: Mapping[str, Any] = config.section("catalog")
        except (KeyError, AttributeError):
            return cls()
        kind = str(section.get("kind", "hive"))
        if kind not in KINDS:
            raise ConfigError(f"[catalog] kind must be one of {', '.join(KINDS)}, got {kind!r}")
        uris = str(section.get("metastore_uris", "")).strip()
        for u in filter(None, (x.strip() for x in uris.split(","))):
            if not u.startswith("thrift://"):
                raise ConfigError(f"[catalog] metastore_uris: {u!r} is not a thrift://host:port URI")
        dbs = section.get("databases", [])
        if not isinstance(dbs, list) or not all(isinstance(d, str) and d.strip() for d in dbs):
            raise ConfigError(f"[catalog] databases must be a list of database names, got {dbs!r}")
        conf = section.get("conf", {})
        return cls(enabled=bool(section.get("enabled", False)), kind=kind, metastore_uris=uris,
                   databases=tuple(d.strip().lower() for d in dbs),
                   conf={str(k): str(v) for k, v in dict(conf).items()})

    def spark_conf(self) -> dict[str, str]:
        """Spark settings of a session that reads this catalog (empty when it is off)."""
        if not self.enabled:
            return {}
        out = {"spark.sql.catalogImplementation": "hive"}
        if self.metastore_uris:
            out["spark.hadoop.hive.metastore.uris"] = self.metastore_uris
        out.update(self.conf)
        return out

    def describe(self) -> str:
        if self.metastore_uris:
            return f"Hive metastore {self.metastore_uris}"
        return "the Spark session's Hive metastore (hive-site.xml or an embedded Derby metastore)"

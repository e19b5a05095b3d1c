"""Owners: who a dataset (and every finding on it) belongs to, and where that came from.

Claims are taken in this order; the first one found wins, and ``owner_source`` says which source
it came from (``catalog``, ``delta``, ``openlineage``, ``config``):

1. ``catalog`` — a property of the catalog table registered at the dataset, the first key of
   ``[owners] property_keys`` it has (``owner``, ``team``, ``data_owner``);
2. ``delta`` — the same keys in the Delta table's properties (``metaData.configuration`` of its log);
3. ``openlineage`` — the dataset's ``ownership`` facet (``owners[0].name``) in the latest OpenLineage
   event naming it, else the ``ownership`` job facet of the job that last wrote it;
4. ``config`` — the first ``[owners.globs]`` glob matching the dataset's path (relative to its root,
   or absolute);
5. ``catalog`` — the metastore's owner of the table (the user who created it: often a service
   account, hence below the explicit claims; ``[owners] metastore_owner = false`` turns it off);
6. ``openlineage`` — the namespace of the job that last wrote it (``default``, openlineage-spark's
   namespace when none is set, never counts; ``[owners] job_namespace = false`` turns it off).

Declared owners (table or Delta properties, ownership facets) come before the operator's globs
because they are more specific: one table's own statement against a pattern over many paths. Names
in ``[owners] ignore`` are never taken. Nothing found: the owner is ``None`` ("unowned").

A finding gets the owner of the dataset it is about: the dataset at its path, else the nearest one
containing it (a junk file inside a table: the table's owner); a path in no dataset is resolved by
its own path (the catalog table containing it, the globs).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from rotscan.catalog import CatalogIndex, CatalogTable
from rotscan.errors import ConfigError
from rotscan.models import Dataset, Finding
from rotscan.uri import Uri, parse

SOURCES = ("catalog", "delta", "openlineage", "config")
LINEAGE_KINDS = ("dataset_facet", "job_facet", "job_namespace")
DEFAULT_NAMESPACE = "default"  # openlineage-spark's job namespace when spark.openlineage.namespace is unset


@dataclass(frozen=True)
class OwnerRules:
    property_keys: tuple[str, ...] = ("owner", "team", "data_owner")
    globs: tuple[tuple[str, str], ...] = ()  # (glob, owner), first match wins
    metastore_owner: bool = True
    job_namespace: bool = True
    ignore: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, config: Any) -> OwnerRules:
        try:
            section: Mapping[str, Any] = config.section("owners")
        except (KeyError, AttributeError):
            return cls()
        keys = section.get("property_keys", list(cls.property_keys))
        if not isinstance(keys, list) or not all(isinstance(k, str) and k.strip() for k in keys):
            raise ConfigError(f"[owners] property_keys must be a list of property names, got {keys!r}")
        globs = section.get("globs", {})
        if not isinstance(globs, Mapping):
            raise ConfigError("[owners] globs must be a table of \"glob\" = \"owner\"")
        pairs = []
        for g, owner in globs.items():
            if not isinstance(owner, str) or not owner.strip() or not str(g).strip():
                raise ConfigError(f"[owners.globs] {g!r} must name an owner (a non-empty string), got {owner!r}")
            pairs.append((str(g).strip(), owner.strip()))
        ignore = section.get("ignore", [])
        if not isinstance(ignore, list) or not all(isinstance(x, str) for x in ignore):
            raise ConfigError(f"[owners] ignore must be a list of owner names, got {ignore!r}")
        return cls(property_keys=tuple(k.strip() for k in keys), globs=tuple(pairs),
                   metastore_owner=bool(section.get("metastore_owner", True)),
                   job_namespace=bool(section.get("job_namespace", True)),
                   ignore=tuple(x.strip().lower() for x in ignore if x.strip()))

    def usable(self, name: str | None) -> str | None:
        if name is None or not str(name).strip():
            return None
        name = str(name).strip()
        return None if name.lower() in self.ignore else name


@dataclass(frozen=True)
class LineageOwner:
    """An owner an OpenLineage event declares for a dataset (the latest of its kind)."""

    owner: str
    kind: str  # dataset_facet | job_facet | job_namespace
    time: datetime
    job: str | None = None


@dataclass(frozen=True)
class Ownership:
    owner: str
    source: str  # one of SOURCES
    detail: str  # where exactly, in words


def lineage_owners(events: Iterable[Any], lookup: Callable[[str], str | None]) -> dict[str, dict[str, LineageOwner]]:
    """Per dataset URI and kind of claim, the latest owner the usage events declare.

    ``events`` are :class:`rotscan.usage.events.AccessEvent`; ``lookup`` maps an event's path or
    table to the dataset it touches (``DatasetIndex.lookup``). Failed runs claim nothing."""
    out: dict[str, dict[str, LineageOwner]] = {}
    for ev in events:
        owner, kind = getattr(ev, "owner", None), getattr(ev, "owner_from", None)
        if not owner or kind not in LINEAGE_KINDS or not ev.success:
            continue
        dataset = lookup(ev.uri)
        if dataset is None:
            continue
        claims = out.setdefault(dataset, {})
        cur = claims.get(kind)
        if cur is None or ev.time >= cur.time:
            claims[kind] = LineageOwner(owner=str(owner), kind=kind, time=ev.time, job=ev.job)
    return out


def _property(props: Mapping[str, str] | None, keys: Iterable[str]) -> tuple[str, str] | None:
    if not props:
        return None
    lower = {str(k).lower(): v for k, v in props.items()}
    for key in keys:
        value = lower.get(key.lower())
        if isinstance(value, str) and value.strip():
            return key, value.strip()
    return None


def glob_owner(rules: OwnerRules, uri: Uri, rel: str) -> tuple[str, str] | None:
    """(glob, owner) of the first ``[owners.globs]`` entry matching the path, if any. A glob is
    relative to the scanned root (``finance/**``), an absolute path (``/lake/finance/*``) or a URI;
    it matches the path itself or anything below what it names."""
    for g, owner in rules.globs:
        pattern = g.rstrip("/")
        if "://" in g or g.startswith("file:"):
            target = str(uri)
            pattern = str(parse(pattern)) if not any(c in pattern for c in "*?[") else _uri_pattern(pattern)
        elif g.startswith("/"):
            target = uri.path
        else:
            target = rel
        if target and (fnmatch.fnmatchcase(target, pattern) or fnmatch.fnmatchcase(target, pattern + "/*")):
            return g, owner
    return None


def _uri_pattern(pattern: str) -> str:
    """A URI glob in rotscan's spelling: scheme aliases (``s3``/``s3n`` → ``s3a``), ``file:///`` → ``file:/``."""
    from rotscan.uri import SCHEME_ALIASES

    if pattern.startswith("file:"):
        return "file:/" + pattern[len("file:"):].lstrip("/")
    scheme, _, rest = pattern.partition("://")
    return f"{SCHEME_ALIASES.get(scheme.lower(), scheme.lower())}://{rest}"


def resolve_owner(rules: OwnerRules, *, uri: Uri, rel: str, table: CatalogTable | None = None,
                  delta_properties: Mapping[str, str] | None = None,
                  lineage: Mapping[str, LineageOwner] | None = None) -> Ownership | None:
    """The owner of the data at ``uri`` by the precedence of this module's docstring, or None."""
    if table is not None and (hit := _property(table.properties, rules.property_keys)) \
            and (name := rules.usable(hit[1])):
        return Ownership(name, "catalog", f"table property {hit[0]!r} of {table.name}")
    if (hit := _property(delta_properties, rules.property_keys)) and (name := rules.usable(hit[1])):
        return Ownership(name, "delta", f"Delta table property {hit[0]!r}")
    lineage = lineage or {}
    if (c := lineage.get("dataset_facet")) and (name := rules.usable(c.owner)):
        return Ownership(name, "openlineage", "OpenLineage ownership facet of the dataset"
                         + (f" (job {c.job})" if c.job else ""))
    if (c := lineage.get("job_facet")) and (name := rules.usable(c.owner)):
        return Ownership(name, "openlineage", f"OpenLineage ownership facet of job {c.job}, its last writer")
    if (g := glob_owner(rules, uri, rel)) and (name := rules.usable(g[1])):
        return Ownership(name, "config", f"[owners.globs] {g[0]!r}")
    if rules.metastore_owner and table is not None and (name := rules.usable(table.owner)):
        return Ownership(name, "catalog", f"metastore owner of {table.name}")
    if rules.job_namespace and (c := lineage.get("job_namespace")) and c.owner.lower() != DEFAULT_NAMESPACE \
            and (name := rules.usable(c.owner)):
        return Ownership(name, "openlineage", f"namespace of OpenLineage job {c.job}, its last writer")
    return None


def _rel(uri: Uri, root: str | None, roots: Iterable[Uri]) -> str:
    candidates = [parse(root)] if root else list(roots)
    for r in candidates:
        if uri.is_within(r) and uri != r:
            return uri.relative_to(r)
    return ""


def assign_owners(datasets: Iterable[Dataset], findings: Iterable[Finding], rules: OwnerRules, *,
                  roots: Iterable[Uri] = (), catalog: CatalogIndex | None = None,
                  delta_properties: Mapping[str, Mapping[str, str]] | None = None,
                  lineage: Mapping[str, Mapping[str, LineageOwner]] | None = None,
                  ) -> tuple[list[Dataset], list[Finding]]:
    """Datasets with ``owner``/``owner_source`` set, and findings with their dataset's owner (and,
    when there is one, evidence ``owner_detail``: where exactly it came from)."""
    roots = list(roots)
    delta_properties = delta_properties or {}
    lineage = lineage or {}
    out_ds: list[Dataset] = []
    by_uri: dict[Uri, tuple[Dataset, Ownership | None]] = {}
    for ds in datasets:
        u = parse(ds.uri)
        table = catalog.table_for(u) if catalog is not None else None
        o = resolve_owner(rules, uri=u, rel=_rel(u, ds.root, roots), table=table,
                          delta_properties=delta_properties.get(ds.uri), lineage=lineage.get(ds.uri))
        ds = replace(ds, owner=o.owner if o else None, owner_source=o.source if o else None)
        out_ds.append(ds)
        by_uri[u] = (ds, o)
    out_f: list[Finding] = []
    for f in findings:
        u = parse(f.uri)
        hit = _containing(by_uri, u)
        if hit is not None:
            o = hit[1]
        else:
            table = catalog.table_for(u) if catalog is not None else None
            o = resolve_owner(rules, uri=u, rel=_rel(u, None, roots), table=table)
        if o is None:
            out_f.append(replace(f, owner=None, owner_source=None))
        else:
            out_f.append(replace(f, owner=o.owner, owner_source=o.source,
                                 evidence={**f.evidence, "owner_detail": o.detail}))
    return out_ds, out_f


def _containing(by_uri: Mapping[Uri, tuple[Dataset, Ownership | None]],
                uri: Uri) -> tuple[Dataset, Ownership | None] | None:
    cur = uri
    while True:
        if cur in by_uri:
            return by_uri[cur]
        if cur.path == "/":
            return None
        cur = cur.parent

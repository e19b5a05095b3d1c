"""Cleanup never leaves a registered catalog table pointing at quarantined files.

With ``[catalog] enabled``, ``apply`` reads the catalog once (the live one, not the scan's view of
it) and checks every action's path against the tables' locations and partition locations:

* a path that **is** a table location or **contains** one is refused ("is the location of catalog
  table sales.orders"), unless ``--drop-table-entries`` / ``[cleanup] drop_table_entries``: then,
  before any file moves, the table's DDL (``SHOW CREATE TABLE``; for Delta ``CREATE TABLE … USING
  delta LOCATION``) and its partitions with their locations are saved in the run's journal directory
  (``<root>/_rotscan/runs/<run_id>/tables/<db.table>.json``, journaled as ``table_saved``), and only
  the table's entry is dropped (``table_dropped``); its files are then quarantined like any others.
  ``rotscan restore RUN_ID`` puts the files back first and then re-creates the table from the saved
  DDL, partitions included (``table_restored``). An action that is rolled back re-creates them too.
  A **MANAGED** table is always refused: its ``DROP TABLE`` deletes its data. So is a table of
  which the path holds only a partition location (dropping the whole table for one partition).
* a path that lies **inside** a table location is refused whatever the option (quarantining part of
  a table's files changes the table under its readers) — except paths the table's readers skip: a
  path component starting with ``_`` or ``.`` (Hadoop's hidden-file rule that Hive and Spark follow:
  ``.DS_Store``, ``_temporary``, ``.spark-staging-…``), ``_delta_log`` excepted;
* table entries are dropped for ``quarantine`` and ``delete`` actions only (an ``archive`` of a
  table location is refused);
* ``vacuum`` is checked against nothing here: it moves only files the Delta table's current
  version no longer references (VACUUM's own contract), so the table stays whole.

Apply fails closed: when the plan's scan read a catalog but this apply's configuration has none, or
the catalog cannot be read completely now, every action is refused with the reason.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from rotscan.catalog import CatalogError, CatalogIndex, CatalogSettings, CatalogTable
from rotscan.cleanup.safety import Refused
from rotscan.errors import RotscanError, SparkSetupError
from rotscan.uri import Uri, parse

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from rotscan.cleanup.context import CleanupContext
    from rotscan.cleanup.journal import Journal
    from rotscan.cleanup.plan import LoadedPlan

TABLES_DIR = "tables"
HINT = ("--drop-table-entries saves its DDL in the run's journal directory, drops only the table entry, and "
        "`rotscan restore` re-creates it")


def drop_entries_enabled(config: Any) -> bool:
    from rotscan.cleanup.safety import DEFAULTS

    try:
        return bool(config.section("cleanup").get("drop_table_entries", DEFAULTS["drop_table_entries"]))
    except (KeyError, AttributeError):
        return False


def _hidden_for_readers(rel: str) -> bool:
    parts = [p for p in rel.split("/") if p]
    return any(p.startswith(("_", ".")) and p != "_delta_log" for p in parts)


class TableGuard:
    """The catalog as one apply sees it. ``index`` None: no catalog to check against (then
    ``refuse_all``, when set, refuses every action)."""

    def __init__(self, index: CatalogIndex | None, *, drop_entries: bool = False, refuse_all: str | None = None,
                 source: str = "") -> None:
        self.index = index
        self.drop_entries = drop_entries
        self.refuse_all = refuse_all
        self.source = source

    @classmethod
    def open(cls, ctx: CleanupContext, plan: LoadedPlan) -> TableGuard:
        settings = CatalogSettings.from_config(ctx.config)
        drop = drop_entries_enabled(ctx.config)
        scan_read = bool((plan.header.get("scan") or {}).get("catalog"))
        if not settings.enabled:
            if scan_read:
                return cls(None, refuse_all="the scan this plan comes from read catalog tables, but [catalog] is "
                                            "not enabled for apply: enable it (the scan's --config) so every action is "
                                            "checked against the registered tables again")
            if drop:
                return cls(None, refuse_all="--drop-table-entries needs [catalog] enabled")
            return cls(None)
        from rotscan.spark.catalog import read_catalog

        try:
            snapshot = read_catalog(ctx.spark(), settings, ctx.progress)
        except (CatalogError, SparkSetupError) as exc:
            return cls(None, refuse_all=f"the catalog cannot be read, so no action is checked against its tables: {exc}")
        if not snapshot.complete:
            return cls(None, refuse_all="part of the catalog cannot be read (" + "; ".join(snapshot.errors[:3])
                                        + "), so no action can be checked against all its tables")
        return cls(snapshot.index(), drop_entries=drop, source=snapshot.source)

    def check(self, action: str, uri: Uri) -> list[CatalogTable]:
        """The tables whose entries must be dropped before ``action`` on ``uri``; raises
        :class:`Refused` when the action may not go ahead."""
        if self.refuse_all:
            raise Refused(self.refuse_all)
        if self.index is None or action in ("vacuum", "compact"):
            return []  # the data stays where the table says (compact keeps the partition directories)
        other = self.index.elsewhere(uri)
        if other:
            table, loc = other[0]
            raise Refused(f"catalog table {table.name} is registered at {loc}: the same path on another "
                          f"authority of {uri.scheme}://, which may be this very file system; rotscan cannot tell, "
                          "so it does not act (scan with the authority the metastore uses)")
        above = self.index.enclosing(uri.parent) if uri.path != "/" else None
        if above is not None:
            table, loc = above
            if not _hidden_for_readers(uri.relative_to(loc)):
                raise Refused(f"lies inside catalog table {table.name} ({loc}): quarantining part of a table's "
                              "files would change the table under its readers")
        hits = [(t, uri) for t in self.index.at(uri)] + self.index.within(uri)
        if not hits:
            return []
        names = sorted({t.name for t, _ in hits})
        what = (f"is the location of catalog table {names[0]}" if any(loc == uri for _, loc in hits)
                and len(names) == 1 else f"contains catalog table(s) {', '.join(names)}")
        if not self.drop_entries:
            raise Refused(f"{what}; {HINT}")
        if action not in ("quarantine", "delete"):
            raise Refused(f"{what}; table entries are dropped (and re-created by restore) for quarantine and delete "
                          f"actions only, not {action}")
        tables: dict[str, CatalogTable] = {}
        for t, loc in hits:
            if t.managed:
                raise Refused(f"catalog table {t.name} is MANAGED: its DROP TABLE deletes its data, so its entry is "
                              "never dropped (make it EXTERNAL first if its data should be cleaned up)")
            if t.table_type.upper() != "EXTERNAL":
                raise Refused(f"catalog table {t.name} is {t.table_type}: only EXTERNAL table entries are dropped")
            if t.location is None or not parse(t.location).is_within(uri):
                raise Refused(f"holds partition location {loc} of catalog table {t.name}, whose own location "
                              f"({t.location}) is not part of this action: the whole table would be dropped")
            tables[t.name] = t
        return [tables[n] for n in sorted(tables)]


def describe(tables: Sequence[CatalogTable]) -> str:
    return ", ".join(t.name for t in tables)


def _table_file(journal: Journal, name: str) -> Uri:
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in name)
    return journal.layout.run_dir.child(TABLES_DIR).child(f"{safe}.json")


def dropped_by(records: Iterable[dict[str, Any]], action_id: str) -> list[dict[str, Any]]:
    """The ``table_saved`` records of an action whose table was not re-created since."""
    records = list(records)
    back = {r["table"] for r in records if r.get("op") in ("table_restored", "table_recreated")
            and r.get("action_id") == action_id}
    return [r for r in records if r.get("op") == "table_saved" and r.get("action_id") == action_id
            and r["table"] not in back]


def drop_table_entries(spark: SparkSession, journal: Journal, action_id: str, tables: Sequence[CatalogTable],
                       already: Iterable[dict[str, Any]] = ()) -> list[str]:
    """Save each table's DDL into the run directory, then drop its entry (journaled before and
    after). Tables this action dropped already (an interrupted run) are skipped."""
    from rotscan.spark.catalog import drop_table_entry, table_ddl

    done = {r["table"] for r in already if r.get("op") == "table_dropped" and r.get("action_id") == action_id}
    out = []
    for t in tables:
        if t.name in done:
            continue
        saved = table_ddl(spark, t.name)
        path = _table_file(journal, t.name)
        journal.storage.mkdirs(path.parent)
        journal.storage.write_bytes(path, (json.dumps(saved, indent=1) + "\n").encode(), overwrite=True)
        journal.write("table_saved", action_id=action_id, table=t.name, path=str(path), ddl=saved["ddl"],
                      partitions=len(saved["partitions"]))
        drop_table_entry(spark, t.name)
        journal.write("table_dropped", action_id=action_id, table=t.name)
        out.append(t.name)
    return out


def recreate_tables(spark: Callable[[], SparkSession], journal: Journal, action_id: str,
                    records: Iterable[dict[str, Any]], op: str) -> tuple[list[str], list[str]]:
    """Re-create the tables an action dropped, from their saved DDL (``op``: the journal record,
    ``table_restored`` or ``table_recreated``). Returns (what was done, what could not be)."""
    from rotscan.spark.catalog import recreate_table

    done: list[str] = []
    problems: list[str] = []
    for rec in dropped_by(records, action_id):
        try:
            with journal.storage.open_read(parse(rec["path"])) as fh:
                saved = json.loads(fh.read())
            done.append(recreate_table(spark(), saved))
            journal.write(op, action_id=action_id, table=rec["table"])
        except (CatalogError, SparkSetupError, OSError, ValueError) as exc:
            problems.append(f"catalog table {rec['table']} not re-created ({exc}); its DDL is in {rec['path']}")
        except RotscanError as exc:  # a storage error reading the saved DDL
            problems.append(f"catalog table {rec['table']} not re-created ({exc}); its DDL is in {rec['path']}")
    return done, problems

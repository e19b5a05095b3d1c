"""The catalog adapter: a Hive metastore read through Spark's session catalog into
:class:`rotscan.catalog.CatalogSnapshot`, and the table-entry operations cleanup needs (save a
table's DDL, drop only its entry, re-create it).

The session must have Hive support (``spark.sql.catalogImplementation=hive``, set by
:func:`rotscan.spark.session.get_spark` when ``[catalog] enabled``); the metastore is whatever it is
configured with: ``hive.metastore.uris`` (a shared metastore service), else ``hive-site.xml`` or an
embedded Derby metastore.

Tables are read through the external catalog API (``listDatabases``, ``listTables``,
``getTablesByName`` in batches, ``listPartitions`` for partitioned tables): one metastore call per
database and batch, none of which opens a table's files — a Delta table is not loaded, and a table
whose location is gone reads like any other. Java errors become :class:`rotscan.catalog.CatalogError`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from rotscan.catalog import (
    VIEW,
    CatalogError,
    CatalogSettings,
    CatalogSnapshot,
    CatalogTable,
    canonical_location,
)
from rotscan.spark.errors import java_errors
from rotscan.uri import parse

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

BATCH = 200  # tables per getTablesByName call

_INPUT_FORMATS = (("parquet", "parquet"), ("orc", "orc"), ("avro", "avro"), ("textinputformat", "text"),
                  ("sequencefile", "sequencefile"))


def _silent(_: str) -> None:
    pass


def require_hive(spark: SparkSession) -> None:
    impl = spark.conf.get("spark.sql.catalogImplementation", "in-memory")
    if impl != "hive":
        raise CatalogError("[catalog] needs a Spark session with Hive support, but this one has "
                           f"spark.sql.catalogImplementation={impl} (it is fixed when the session starts: under "
                           "spark-submit pass --conf spark.sql.catalogImplementation=hive)")


def _external(spark: SparkSession) -> Any:
    require_hive(spark)
    return spark._jsparkSession.sharedState().externalCatalog()


def _jvm(spark: SparkSession) -> Any:
    return spark.sparkContext._jvm


def _seq(spark: SparkSession, items: Iterable[str]) -> Any:
    jvm = _jvm(spark)
    lst = jvm.java.util.ArrayList()
    for x in items:
        lst.add(x)
    return jvm.scala.jdk.javaapi.CollectionConverters.asScala(lst).toSeq()


def _py_list(spark: SparkSession, seq: Any) -> list[Any]:
    return list(_jvm(spark).scala.jdk.javaapi.CollectionConverters.asJava(seq))


def _py_map(spark: SparkSession, scala_map: Any) -> dict[str, str]:
    java = _jvm(spark).scala.jdk.javaapi.CollectionConverters.asJava(scala_map)
    return {str(k): str(java.get(k)) for k in java.keySet()}


def _opt(option: Any) -> Any:
    return option.get() if option is not None and option.isDefined() else None


def _format(provider: str | None, input_format: str | None) -> str | None:
    if provider and provider.lower() != "hive":
        return provider.lower()
    low = (input_format or "").lower()
    for needle, name in _INPUT_FORMATS:
        if needle in low:
            return name
    return provider.lower() if provider else None


def _table(spark: SparkSession, ext: Any, jt: Any, default_fs: str | None) -> CatalogTable:
    ident = jt.identifier()
    db = str(_opt(ident.database()) or "")
    name = str(ident.table())
    table_type = str(jt.tableType().name())
    storage = jt.storage()
    loc = _opt(storage.locationUri())
    location = canonical_location(str(loc), default_fs) if loc is not None else None
    provider = _opt(jt.provider())
    input_format = _opt(storage.inputFormat())
    partition_columns = tuple(str(c) for c in _py_list(spark, jt.partitionColumnNames()))
    partitions = 0
    outside: list[str] = []
    if partition_columns and table_type != VIEW and str(provider or "").lower() != "delta":
        base = parse(location) if location else None
        for p in _py_list(spark, ext.listPartitions(db, name, _jvm(spark).scala.Option.apply(None))):
            partitions += 1
            ploc = _opt(p.storage().locationUri())
            canon = canonical_location(str(ploc), default_fs) if ploc is not None else None
            if canon and (base is None or not parse(canon).is_within(base)):
                outside.append(canon)
    return CatalogTable(
        name=f"{db}.{name}" if db else name, location=location,
        format=None if table_type == VIEW else _format(str(provider) if provider is not None else None,
                                                      str(input_format) if input_format is not None else None),
        table_type=table_type, owner=str(jt.owner()) if jt.owner() else None,
        properties=_py_map(spark, jt.properties()),
        partition_columns=partition_columns, partitions=partitions, partition_locations=tuple(sorted(set(outside))))


def read_catalog(spark: SparkSession, settings: CatalogSettings,
                 progress: Callable[[str], None] = _silent) -> CatalogSnapshot:
    """Every table of the databases ``settings`` names (all when it names none). A database or
    batch that cannot be read is recorded in ``errors`` (the snapshot is then not ``complete``);
    not reaching the metastore at all is a :class:`CatalogError`."""
    ext = _external(spark)
    default_fs = spark.sparkContext._jsc.hadoopConfiguration().get("fs.defaultFS")
    with java_errors(f"reading the catalog ({settings.describe()})", error=CatalogError):
        present = [str(d) for d in _py_list(spark, ext.listDatabases())]
    errors: list[str] = []
    if settings.databases:
        known = {d.lower() for d in present}
        databases = [d for d in settings.databases if d.lower() in known]
        errors += [f"database {d} does not exist" for d in settings.databases if d.lower() not in known]
    else:
        databases = present
    tables: list[CatalogTable] = []
    for db in databases:
        try:
            with java_errors(f"listing the tables of database {db}", error=CatalogError):
                names = [str(n) for n in _py_list(spark, ext.listTables(db))]
        except CatalogError as exc:
            errors.append(str(exc))
            continue
        for i in range(0, len(names), BATCH):
            batch = names[i:i + BATCH]
            try:
                with java_errors(f"reading tables of database {db}", error=CatalogError):
                    for jt in _py_list(spark, ext.getTablesByName(db, _seq(spark, batch))):
                        tables.append(_table(spark, ext, jt, default_fs))
            except CatalogError as exc:
                errors.append(str(exc))
        progress(f"  catalog: {db}: {len(names):,} table(s)")
    return CatalogSnapshot(source=settings.describe(), databases=tuple(databases), tables=tuple(tables),
                           complete=not errors, errors=tuple(errors))


# -- table entries, for cleanup ----------------------------------------------------------------------

def _split(name: str) -> tuple[str, str]:
    db, _, table = name.rpartition(".")
    return db, table


def quoted(name: str) -> str:
    db, table = _split(name)
    q = "`" + table.replace("`", "``") + "`"
    return ("`" + db.replace("`", "``") + "`." + q) if db else q


def _literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def get_table(spark: SparkSession, name: str) -> CatalogTable | None:
    """The table as the metastore has it now, or None when it does not exist."""
    ext = _external(spark)
    db, table = _split(name)
    default_fs = spark.sparkContext._jsc.hadoopConfiguration().get("fs.defaultFS")
    with java_errors(f"reading catalog table {name}", error=CatalogError):
        if not ext.tableExists(db, table):
            return None
        return _table(spark, ext, ext.getTable(db, table), default_fs)


def table_ddl(spark: SparkSession, name: str) -> dict[str, Any]:
    """What re-creates the entry of table ``name``: its DDL and its partitions with their locations.

    * Delta: ``CREATE TABLE … USING delta LOCATION …`` — schema, partitioning and properties live
      in the table's ``_delta_log``, which stays with the data (``SHOW CREATE TABLE`` does not
      support Delta tables).
    * Hive-format tables: ``SHOW CREATE TABLE … AS SERDE`` (keeps the SerDe and input format).
    * Data source tables: ``SHOW CREATE TABLE``.

    Partitions are saved one by one (spec and location) and added back explicitly: a re-created
    partitioned table has none until then."""
    ext = _external(spark)
    db, table = _split(name)
    t = get_table(spark, name)
    if t is None:
        raise CatalogError(f"catalog table {name} does not exist")
    if t.format == "delta":
        if not t.location:
            raise CatalogError(f"catalog table {name} has no location")
        ddl = f"CREATE TABLE {quoted(name)} USING delta LOCATION {_literal(t.location)}"
    else:
        provider = ""
        with java_errors(f"reading catalog table {name}", error=CatalogError):
            provider = str(_opt(ext.getTable(db, table).provider()) or "")
        serde = " AS SERDE" if provider.lower() == "hive" else ""
        with java_errors(f"SHOW CREATE TABLE {name}", error=CatalogError):
            ddl = str(spark.sql(f"SHOW CREATE TABLE {quoted(name)}{serde}").collect()[0][0])
    partitions: list[dict[str, Any]] = []
    if t.partition_columns and t.format != "delta":
        default_fs = spark.sparkContext._jsc.hadoopConfiguration().get("fs.defaultFS")
        with java_errors(f"listing the partitions of {name}", error=CatalogError):
            for p in _py_list(spark, ext.listPartitions(db, table, _jvm(spark).scala.Option.apply(None))):
                loc = _opt(p.storage().locationUri())
                partitions.append({"spec": _py_map(spark, p.spec()),
                                   "location": canonical_location(str(loc), default_fs) if loc is not None else None,
                                   "raw_location": str(loc) if loc is not None else None})
    return {"name": name, "ddl": ddl, "format": t.format, "table_type": t.table_type, "location": t.location,
            "owner": t.owner, "properties": dict(t.properties), "partition_columns": list(t.partition_columns),
            "partitions": partitions}


def drop_table_entry(spark: SparkSession, name: str) -> None:
    """Drop the catalog entry of an EXTERNAL table (its files stay where they are). A MANAGED
    table is refused: its DROP TABLE deletes the data."""
    t = get_table(spark, name)
    if t is None:
        return
    if t.table_type != "EXTERNAL":
        raise CatalogError(f"catalog table {name} is {t.table_type}: dropping it would delete its data; "
                           "only the entries of EXTERNAL tables are dropped")
    with java_errors(f"DROP TABLE {name}", error=CatalogError):
        spark.sql(f"DROP TABLE IF EXISTS {quoted(name)}")


def _spec(spec: Mapping[str, str]) -> str:
    return ", ".join(f"`{k.replace('`', '``')}` = {_literal(str(v))}" for k, v in spec.items())


def recreate_table(spark: SparkSession, saved: Mapping[str, Any]) -> str:
    """Re-create a table entry from :func:`table_ddl`'s record (after its files are back). Returns
    what was done, in words; a table of that name that exists already is left alone."""
    name = str(saved["name"])
    if get_table(spark, name) is not None:
        return f"catalog table {name} exists already; left as it is"
    db, _ = _split(name)
    with java_errors(f"re-creating catalog table {name}", error=CatalogError):
        if db:
            spark.sql(f"CREATE DATABASE IF NOT EXISTS `{db.replace('`', '``')}`")
        spark.sql(str(saved["ddl"]))
        parts = saved.get("partitions") or []
        for p in parts:
            where = f" LOCATION {_literal(str(p['raw_location'] or p['location']))}" if p.get("location") else ""
            spark.sql(f"ALTER TABLE {quoted(name)} ADD IF NOT EXISTS PARTITION ({_spec(p['spec'])}){where}")
    return f"re-created catalog table {name}" + (f" with {len(parts):,} partition(s)" if parts else "")

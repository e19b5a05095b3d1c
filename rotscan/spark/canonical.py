"""Canonical value hashes as Spark SQL expressions: the same data hashes the same whether it was
read from CSV, JSON, Parquet, ORC or Delta.

Per column, ``xxhash64(salt, canonical(value))`` where ``salt`` is a fixed hash of the lower-cased
column name (so the XOR of a row's column hashes is independent of column order, and a projection
of a table hashes as the table's rows restricted to those columns would). Canonical forms:

- every number (integer, decimal, float, double, and a text value in plain decimal notation) → the
  double it denotes (``1`` = ``1.0`` = ``"1.00"``; floats go through their shortest decimal text so
  ``0.1f`` = ``0.1``); text with leading zeros (``"007"``) stays text;
- timestamps (and ISO-8601 text) → UTC milliseconds since the epoch (one precision, as a CSV
  export keeps it); dates (and ``YYYY-MM-DD`` text) → days since the epoch;
- booleans (and ``true``/``false`` text) → boolean; other text → itself;
- null → the hash of the salt alone (one null value per column);
- nested values → their JSON text.

Text-to-typed parsing is applied only to string columns of text sources (CSV, JSON), where the
type was lost; strings read from typed formats are hashed as they are.
"""

from __future__ import annotations

import hashlib
from typing import Any

# anchored with \z, not $: Java's $ also matches before a final line terminator ("12\u2028"), whose
# CAST AS DOUBLE then fails the whole read under ANSI mode; \z means the same in Java and RE2
NUMBER_TEXT = r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?\z"
TIMESTAMP_TEXT = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}"
DATE_TEXT = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\z"
BOOL_TEXT = r"^(?i)(true|false)\z"


def canonical_name(name: str) -> str:
    return name.strip().lower()


def salt(name: str) -> int:
    """A stable signed 64-bit salt per canonical column name (never Python's salted hash())."""
    digest = hashlib.blake2b(canonical_name(name).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _typed(col: Any, dtype: Any) -> Any:
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    if isinstance(dtype, (T.ByteType, T.ShortType, T.IntegerType, T.LongType, T.DecimalType)):
        return col.cast("double")  # integers and decimals have no negative zero
    if isinstance(dtype, T.DoubleType):
        return col + F.lit(0.0)  # + 0.0 folds -0.0 into 0.0
    if isinstance(dtype, T.FloatType):
        return col.cast("string").cast("double") + F.lit(0.0)
    if isinstance(dtype, (T.TimestampType, T.TimestampNTZType)):
        return F.unix_millis(col.cast("timestamp"))
    if isinstance(dtype, T.DateType):
        return F.unix_date(col)
    if isinstance(dtype, (T.BooleanType, T.BinaryType)):
        return col
    if isinstance(dtype, T.StringType):
        return col
    if isinstance(dtype, (T.ArrayType, T.StructType, T.MapType)):
        return F.to_json(col)
    return col.cast("string")


def value_hash(col: Any, name: str, dtype: Any, text_source: bool, *, salt_column: Any = None) -> Any:
    """The salted canonical hash (bigint) of one column, null-safe. ``salt_column`` (a bigint
    column) replaces the literal ``salt(name)``: ``xxhash64`` hashes both alike (the bulk path
    reads each file's salts from a lookup, ``rotscan.spark.bulk``)."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    s = F.lit(salt(name)) if salt_column is None else salt_column
    if text_source and isinstance(dtype, T.StringType):
        return (F.when(col.rlike(NUMBER_TEXT), F.xxhash64(s, col.cast("double") + F.lit(0.0)))
                .when(col.rlike(TIMESTAMP_TEXT) & F.try_to_timestamp(col).isNotNull(),
                      F.xxhash64(s, F.unix_millis(F.try_to_timestamp(col))))
                .when(col.rlike(DATE_TEXT) & F.try_to_date(col).isNotNull(),
                      F.xxhash64(s, F.unix_date(F.try_to_date(col))))
                .when(col.rlike(BOOL_TEXT), F.xxhash64(s, F.lower(col) == F.lit("true")))
                .otherwise(F.xxhash64(s, col)))
    return F.xxhash64(s, _typed(col, dtype))

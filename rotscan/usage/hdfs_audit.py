"""HDFS NameNode audit logs (``FSNamesystem.audit``): a log4j prefix, then tab-separated
``key=value`` fields (also read when the tabs became spaces)::

    2019-02-18 18:14:35,396 INFO FSNamesystem.audit: allowed=true	ugi=hive (auth:SIMPLE)	ip=/10.0.0.151	cmd=open	src=/warehouse/orders/part-0.parquet	dst=null	perm=null	proto=rpc

* Reads: ``cmd=open`` (of ``src``). Writes: ``create``, ``append``, ``truncate``, ``concat`` (of
  ``src``) and ``rename`` (of ``dst`` — how Hive and Spark commit output into a table; a move is
  not lineage, so ``src`` is not an input). ``mkdirs``, ``delete``, ``listStatus``, ``getfileinfo``… only widen the
  covered window. ``allowed=false`` → ``success=False``.
* ``actor``: the user of ``ugi`` (the proxied user for ``alice (auth:PROXY) via hive``);
  ``job``: ``callerContext`` when present (Spark and Hive put their application/job id there).
* Paths: the log has no namenode. With ``hdfs_namenode="nn:8020"`` a path becomes
  ``hdfs://nn:8020/path``; without it, ``hdfs:///path`` (no authority), which
  :class:`rotscan.usage.mapping.DatasetIndex` matches against a dataset on any namenode when that
  is unambiguous.
* Times: the NameNode's local time without a zone; read as UTC unless ``utc_offset_minutes`` says
  otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from functools import lru_cache

from rotscan.usage.events import AccessEvent, ParsedSource, to_uri

SOURCE = "hdfs_audit"
WRITE_CMDS = {"create", "append", "truncate", "concat"}
_PREFIX = re.compile(r"^(\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d)(?:[,.](\d{1,6}))?\b.*?\ballowed=")
_KEYS = ("allowed", "ugi", "ip", "cmd", "src", "dst", "perm", "proto", "callerContext")
_KEY_SET = frozenset(_KEYS)
_FIELD_SPLIT = re.compile(r"\t|\s+(?=(?:" + "|".join(_KEYS) + r")=)")
HEAD_PATTERN = re.compile(r"\ballowed=(?:true|false)\s+ugi=\S")


def _fields(line: str) -> dict[str, str]:
    rest = line[line.find("allowed="):]
    # Tab-separated as the NameNode writes it; else (tabs became spaces) split before each known key.
    parts = rest.split("\t") if "\t" in rest else _FIELD_SPLIT.split(rest)
    out: dict[str, str] = {}
    for part in parts:
        key, sep, value = part.partition("=")
        if sep and key in _KEY_SET:
            out[key] = value.strip()
    return out


def _user(ugi: str) -> str | None:
    if not ugi or ugi == "null":
        return None
    return ugi.split(" ", 1)[0] or None


@lru_cache(maxsize=4096)
def _second(text: str, offset_minutes: int) -> datetime | None:
    try:
        local = datetime.fromisoformat(text.replace(" ", "T"))
    except ValueError:
        return None
    return local.replace(tzinfo=timezone(timedelta(minutes=offset_minutes))).astimezone(timezone.utc)


@lru_cache(maxsize=65536)
def _path_uri(base: str, path: str | None) -> str | None:
    if not path or path == "null" or not path.startswith("/"):
        return None
    return to_uri(base + path)


def parse_hdfs_audit_lines(lines: Iterable[str], path: str, *, hdfs_namenode: str | None = None,
                           utc_offset_minutes: int = 0) -> ParsedSource:
    source = ParsedSource(kind=SOURCE, path=path)
    base = f"hdfs://{hdfs_namenode.strip().strip('/')}" if hdfs_namenode else "hdfs://"
    for line in lines:
        line = line.strip()
        if not line:
            continue
        m = _PREFIX.match(line)
        when = _second(m.group(1), utc_offset_minutes) if m else None
        if m is None or when is None:
            source.bad_lines += 1
            continue
        if m.group(2):
            when = when.replace(microsecond=int((m.group(2) + "000000")[:6]))
        fields = _fields(line)
        cmd, src = fields.get("cmd"), fields.get("src")
        if not cmd or src is None or fields.get("allowed") not in ("true", "false"):
            source.bad_lines += 1
            continue
        source.observe(when)
        if cmd != "open" and cmd != "rename" and cmd not in WRITE_CMDS:
            continue
        success = fields["allowed"] == "true"
        actor = _user(fields.get("ugi", ""))
        context = fields.get("callerContext")
        job = context if context and context != "null" else None
        if cmd == "open":
            uri = _path_uri(base, src)
            if uri:
                source.add(AccessEvent(time=when, kind="read", uri=uri, actor=actor, job=job, source=SOURCE,
                                       success=success))
            continue
        # a rename moves data, it does not derive it: its src is no lineage input
        target = _path_uri(base, fields.get("dst") if cmd == "rename" else src)
        if target:
            source.add(AccessEvent(time=when, kind="write", uri=target, actor=actor, job=job, source=SOURCE,
                                   success=success))
    return source

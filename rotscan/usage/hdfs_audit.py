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

from rotscan.usage.events import AccessEvent, ParsedSource, to_uri

SOURCE = "hdfs_audit"
WRITE_CMDS = {"create", "append", "truncate", "concat"}
_PREFIX = re.compile(r"^(\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d)(?:[,.](\d{1,6}))?\b.*?\ballowed=")
_KEYS = ("allowed", "ugi", "ip", "cmd", "src", "dst", "perm", "proto", "callerContext")
_FIELD_SPLIT = re.compile(r"\t|\s+(?=(?:" + "|".join(_KEYS) + r")=)")
HEAD_PATTERN = re.compile(r"\ballowed=(?:true|false)\s+ugi=\S")


def _fields(line: str) -> dict[str, str]:
    start = line.find("allowed=")
    out: dict[str, str] = {}
    for part in _FIELD_SPLIT.split(line[start:]):
        key, sep, value = part.partition("=")
        if sep and key.strip() in _KEYS:
            out[key.strip()] = value.strip()
    return out


def _user(ugi: str) -> str | None:
    if not ugi or ugi == "null":
        return None
    return ugi.split(" ", 1)[0] or None


def parse_hdfs_audit_lines(lines: Iterable[str], path: str, *, hdfs_namenode: str | None = None,
                           utc_offset_minutes: int = 0) -> ParsedSource:
    source = ParsedSource(kind=SOURCE, path=path)
    zone = timezone(timedelta(minutes=utc_offset_minutes))
    base = f"hdfs://{hdfs_namenode.strip().strip('/')}" if hdfs_namenode else "hdfs://"
    for line in lines:
        line = line.strip()
        if not line:
            continue
        m = _PREFIX.match(line)
        if not m:
            source.bad_lines += 1
            continue
        try:
            when = datetime.fromisoformat(m.group(1).replace(" ", "T")).replace(tzinfo=zone)
            if m.group(2):
                when = when.replace(microsecond=int((m.group(2) + "000000")[:6]))
        except ValueError:
            source.bad_lines += 1
            continue
        when = when.astimezone(timezone.utc)
        fields = _fields(line)
        cmd, src = fields.get("cmd"), fields.get("src")
        if not cmd or src is None or fields.get("allowed") not in ("true", "false"):
            source.bad_lines += 1
            continue
        source.observe(when)
        success = fields["allowed"] == "true"
        actor = _user(fields.get("ugi", ""))
        context = fields.get("callerContext")
        job = context if context and context != "null" else None

        def uri_of(p: str | None) -> str | None:
            if not p or p == "null" or not p.startswith("/"):
                return None
            return to_uri(base + p)

        if cmd == "open":
            uri = uri_of(src)
            if uri:
                source.add(AccessEvent(time=when, kind="read", uri=uri, actor=actor, job=job, source=SOURCE,
                                       success=success))
        elif cmd in WRITE_CMDS or cmd == "rename":
            target = uri_of(fields.get("dst")) if cmd == "rename" else uri_of(src)
            if target:  # a rename moves data, it does not derive it: no lineage input
                source.add(AccessEvent(time=when, kind="write", uri=target, actor=actor, job=job, source=SOURCE,
                                       success=success))
    return source

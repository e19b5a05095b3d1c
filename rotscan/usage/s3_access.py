"""Amazon S3 server access logs (the space-delimited format delivered to a bucket; AWS
"Amazon S3 server access log format"): ``BucketOwner Bucket [Time] RemoteIP Requester RequestID
Operation Key "Request-URI" HTTPStatus ErrorCode BytesSent ObjectSize TotalTime TurnAroundTime
"Referer" "UserAgent" VersionId HostId SigV CipherSuite AuthType HostHeader TLSVersion …``.
Any field may be ``-``; newer fields are appended at the end, so only the first ten are required.

* Reads: ``REST.GET.OBJECT``, ``REST.HEAD.OBJECT``, ``REST.COPY.OBJECT_GET`` (the source side of a
  copy); writes: ``REST.PUT.OBJECT``, ``REST.COPY.OBJECT``, ``REST.POST.UPLOAD``
  (CompleteMultipartUpload). Other operations (listings, ACLs, deletes, upload parts) are valid
  records that only widen the covered window.
* ``uri`` = ``s3a://<bucket>/<key>`` (the key is URL-encoded in the log; canonical URIs decode it);
  ``actor`` = Requester (``-`` → ``None``); ``success`` = HTTP status 2xx or 304.

Not handled: the JSON format of access logs delivered to CloudWatch Logs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from functools import lru_cache

from rotscan.usage.events import AccessEvent, ParsedSource, to_uri

SOURCE = "s3_access_log"
READ_OPS = {"REST.GET.OBJECT", "REST.HEAD.OBJECT", "REST.COPY.OBJECT_GET"}
WRITE_OPS = {"REST.PUT.OBJECT", "REST.COPY.OBJECT", "REST.POST.UPLOAD"}
# The ten leading fields (newer fields are appended after them): BucketOwner Bucket [Time] RemoteIP
# Requester RequestID Operation Key "Request-URI" HTTPStatus.
_PREFIX = re.compile(r'(\S+) (\S+) (\[[^\]]*\]) (\S+) (\S+) (\S+) (\S+) (\S+) ("(?:[^"\\]|\\.)*"|-) (\S+)(?: |$)')
_OPERATION = re.compile(r"[A-Z0-9_]+(\.[A-Z0-9_]+)+")
_TIME = re.compile(r"\[(\d{2})/(\w{3})/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})\]")
_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                                       "Dec"), start=1)}
HEAD_PATTERN = re.compile(r"^\S+ \S+ \[\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\] \S+ \S+ \S+ [A-Z]+\.")


@lru_cache(maxsize=4096)
def _time(token: str) -> datetime | None:
    m = _TIME.fullmatch(token)
    if not m:
        return None
    day, mon, year, hh, mm, ss, sign, oh, om = m.groups()
    month = _MONTHS.get(mon)
    if month is None:
        return None
    try:
        offset = timedelta(hours=int(oh), minutes=int(om)) * (1 if sign == "+" else -1)
        local = datetime(int(year), month, int(day), int(hh), int(mm), int(ss), tzinfo=timezone(offset))
    except ValueError:
        return None
    return local.astimezone(timezone.utc)


@lru_cache(maxsize=65536)
def _object_uri(bucket: str, key: str) -> str | None:
    return to_uri(f"s3a://{bucket}/{key}")


def parse_s3_access_lines(lines: Iterable[str], path: str) -> ParsedSource:
    source = ParsedSource(kind=SOURCE, path=path)
    for line in lines:
        line = line.strip()
        if not line:
            continue
        m = _PREFIX.match(line)
        if m is None:
            source.bad_lines += 1
            continue
        bucket, time_token, requester, request_id, operation, key, status = m.group(2, 3, 5, 6, 7, 8, 10)
        when = _time(time_token)
        if when is None or not _OPERATION.fullmatch(operation) or "/" in bucket:
            source.bad_lines += 1
            continue
        source.observe(when)
        kind = "read" if operation in READ_OPS else "write" if operation in WRITE_OPS else None
        if kind is None or key == "-":
            continue
        uri = _object_uri(bucket, key)
        if uri is None:
            source.bad_lines += 1
            continue
        success = status.isdigit() and (200 <= int(status) < 300 or int(status) == 304)
        source.add(AccessEvent(time=when, kind=kind, uri=uri, actor=None if requester == "-" else requester,
                               job=None, source=SOURCE, run_id=None if request_id == "-" else request_id,
                               success=success))
    return source

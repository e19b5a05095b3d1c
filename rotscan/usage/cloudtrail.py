"""AWS CloudTrail S3 data events: the JSON files CloudTrail delivers (``{"Records": [...]}``,
often gzipped — the reader decompresses), a JSON array of records, or one record per line.

* Reads: ``GetObject``, ``HeadObject``, ``SelectObjectContent`` and the source of ``CopyObject``;
  writes: ``PutObject``, ``CopyObject``, ``CompleteMultipartUpload``. Other records (listings,
  deletes, management events) only widen the covered window.
* ``uri`` = ``s3a://<requestParameters.bucketName>/<requestParameters.key>`` (else from the
  ``resources`` object ARN); ``actor`` = ``userIdentity.arn`` (else principalId / invokedBy);
  ``run_id`` = ``requestID``; ``success`` = no ``errorCode``. A ``CopyObject`` write lists its
  source (``x-amz-copy-source``) as input.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import unquote

from rotscan.core.jsonlines import json_values
from rotscan.usage.events import AccessEvent, ParsedSource, dict_at, first_str, parse_time, str_at, to_uri

SOURCE = "cloudtrail"
READ_EVENTS = {"GetObject", "HeadObject", "SelectObjectContent"}
WRITE_EVENTS = {"PutObject", "CopyObject", "CompleteMultipartUpload"}


def _records(text: str, source: ParsedSource) -> Iterator[Any]:
    stripped = text.strip()
    if not stripped:
        return
    try:
        whole = json.loads(stripped)
    except ValueError:
        whole = None
        lines: Iterable[str] = stripped.splitlines()
    else:
        lines = ()
    if whole is not None:
        yield from _unwrap(whole, source)
        return
    for obj in json_values(lines, source.bad_line):
        yield from _unwrap(obj, source)


def _unwrap(obj: Any, source: ParsedSource) -> Iterator[Any]:
    if isinstance(obj, dict) and isinstance(obj.get("Records"), list):
        yield from obj["Records"]
    elif isinstance(obj, list):
        yield from obj
    elif isinstance(obj, dict):
        yield obj
    else:
        source.bad_lines += 1


def _object(bucket: Any, key: Any) -> str | None:
    if not isinstance(bucket, str) or not isinstance(key, str) or not bucket or not key or "/" in bucket:
        return None
    return to_uri(f"s3a://{bucket}/{key}")


def _actor(identity: Any) -> str | None:
    if not isinstance(identity, dict):
        return None
    return first_str(identity, "arn", "principalId", "invokedBy", "accountId")


def parse_cloudtrail_text(text: str, path: str) -> ParsedSource:
    source = ParsedSource(kind=SOURCE, path=path)
    for record in _records(text, source):
        if not isinstance(record, dict):
            source.bad_lines += 1
            continue
        when = parse_time(record.get("eventTime"))
        name = record.get("eventName")
        if when is None or not isinstance(name, str):
            source.bad_lines += 1
            continue
        source.observe(when)
        kind = "read" if name in READ_EVENTS else "write" if name in WRITE_EVENTS else None
        if kind is None:
            continue
        params = dict_at(record, "requestParameters")
        uri = _object(params.get("bucketName"), params.get("key"))
        if uri is None:
            uri = _from_resources(record.get("resources"))
        if uri is None:
            source.bad_lines += 1
            continue
        actor = _actor(record.get("userIdentity"))
        success = not record.get("errorCode")
        run_id = str_at(record, "requestID")
        inputs: tuple[str, ...] = ()
        copy_source = params.get("x-amz-copy-source")
        if name == "CopyObject" and isinstance(copy_source, str):
            bucket, _, key = unquote(copy_source.split("?", 1)[0]).lstrip("/").partition("/")
            src = _object(bucket, key)
            if src is not None:
                inputs = (src,)
                source.add(AccessEvent(time=when, kind="read", uri=src, actor=actor, job=None, source=SOURCE,
                                       run_id=run_id, success=success))
        source.add(AccessEvent(time=when, kind=kind, uri=uri, actor=actor, job=None, source=SOURCE, run_id=run_id,
                               inputs=inputs, success=success))
    return source


def _from_resources(resources: Any) -> str | None:
    if not isinstance(resources, list):
        return None
    for res in resources:
        if isinstance(res, dict) and res.get("type") == "AWS::S3::Object" and isinstance(res.get("ARN"), str):
            arn = res["ARN"]
            if arn.startswith("arn:") and ":::" in arn:
                bucket, _, key = arn.split(":::", 1)[1].partition("/")
                return _object(bucket, key)
    return None

"""S3 server access logs, CloudTrail S3 data events and HDFS audit logs (synthetic logs in the real
formats, with realistic timestamps)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from rotscan.usage.cloudtrail import parse_cloudtrail_text
from rotscan.usage.hdfs_audit import parse_hdfs_audit_lines
from rotscan.usage.s3_access import parse_s3_access_lines

OWNER = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"
# The example line of formats.md (AWS documentation), with a data-lake key.
S3_DOC_LINE = (
    f"{OWNER} amzn-s3-demo-bucket1 [06/Feb/2019:00:00:38 +0000] 192.0.2.3 {OWNER} 3E57427F3EXAMPLE "
    'REST.GET.OBJECT lake/t/part-0.parquet "GET /amzn-s3-demo-bucket1/lake/t/part-0.parquet HTTP/1.1" 200 - 113 113 '
    '7 - "-" "aws-sdk-java/2.24" - s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234= SigV4 '
    "ECDHE-RSA-AES128-GCM-SHA256 AuthHeader amzn-s3-demo-bucket1.s3.us-west-1.amazonaws.com TLSV1.2 - - us-east-1"
)


def s3_line(op: str, key: str, *, when: str = "26/Nov/2026:09:15:02 +0000", requester: str = "arn:aws:iam::123456789012:user/etl",
            status: str = "200", agent: str = '"Hadoop 3.5.0, aws-sdk-java/2.24.6 Linux/6.1 OpenJDK_64-Bit_Server_VM/17"',
            bucket: str = "lake-prod") -> str:
    return (f"{OWNER} {bucket} [{when}] 10.0.3.7 {requester} 8E2B1A2C3D4E5F60 {op} {key} "
            f'"{op.split(".")[1]} /{bucket}/{key} HTTP/1.1" {status} - 4096 4096 21 20 "-" {agent} - '
            "hostid= SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader lake-prod.s3.eu-west-1.amazonaws.com TLSv1.3 - -")


def test_s3_documentation_example_is_a_read() -> None:
    src = parse_s3_access_lines([S3_DOC_LINE], "access.log")
    assert src.bad_lines == 0
    [event] = src.events
    assert (event.kind, event.uri, event.actor, event.success) == (
        "read", "s3a://amzn-s3-demo-bucket1/lake/t/part-0.parquet", OWNER, True)
    assert event.time == datetime(2019, 2, 6, 0, 0, 38, tzinfo=timezone.utc)
    assert event.source == "s3_access_log"


def test_s3_operations_quoting_encoding_offsets_and_malformed_lines() -> None:
    lines = [
        s3_line("REST.GET.OBJECT", "warehouse/orders/dt%3D2026-11-01/part-00000.snappy.parquet"),
        s3_line("REST.HEAD.OBJECT", "warehouse/my%20table/part-0.parquet", requester="-"),
        s3_line("REST.PUT.OBJECT", "staging/daily/part-0.parquet", when="26/Nov/2026:10:15:02 +0100"),
        s3_line("REST.POST.UPLOAD", "staging/daily/part-1.parquet"),
        s3_line("REST.PUT.PART", "staging/daily/part-1.parquet"),  # a part: not yet a write
        s3_line("REST.GET.BUCKET", "-"),  # a listing: no object access, but a dated record
        s3_line("REST.GET.OBJECT", "warehouse/orders/part-9.parquet", status="403"),
        s3_line("REST.COPY.OBJECT_GET", "raw/a.csv"),
        "",
        "this is not an access log line",
        f"{OWNER} lake-prod [31/Foo/2026:10:00:00 +0000] 10.0.0.1 - ID REST.GET.OBJECT k \"GET /k HTTP/1.1\" 200",
        S3_DOC_LINE[:60],  # cut off
    ]
    src = parse_s3_access_lines(lines, "access.log")
    assert src.bad_lines == 3
    got = [(e.kind, e.uri, e.success) for e in src.events]
    assert got == [
        ("read", "s3a://lake-prod/warehouse/orders/dt=2026-11-01/part-00000.snappy.parquet", True),
        ("read", "s3a://lake-prod/warehouse/my table/part-0.parquet", True),
        ("write", "s3a://lake-prod/staging/daily/part-0.parquet", True),
        ("write", "s3a://lake-prod/staging/daily/part-1.parquet", True),
        ("read", "s3a://lake-prod/warehouse/orders/part-9.parquet", False),
        ("read", "s3a://lake-prod/raw/a.csv", True),
    ]
    assert src.events[1].actor is None
    assert src.events[2].time == datetime(2026, 11, 26, 9, 15, 2, tzinfo=timezone.utc)  # +0100 → UTC
    cov = src.coverage()
    assert cov.events == 6 and cov.bad_lines == 3
    assert cov.start == datetime(2026, 11, 26, 9, 15, 2, tzinfo=timezone.utc)


CLOUDTRAIL = {
    "Records": [
        {"eventVersion": "1.09", "eventSource": "s3.amazonaws.com", "eventName": "GetObject",
         "eventTime": "2026-11-20T08:01:02Z", "awsRegion": "eu-west-1",
         "userIdentity": {"type": "AssumedRole", "principalId": "AROAEXAMPLE:emr",
                          "arn": "arn:aws:sts::123456789012:assumed-role/EMR_EC2/i-0abc"},
         "requestParameters": {"bucketName": "lake-prod", "Host": "lake-prod.s3.amazonaws.com",
                               "key": "warehouse/orders/part-00000.parquet"},
         "requestID": "REQ1", "eventType": "AwsApiCall", "readOnly": True,
         "resources": [{"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::lake-prod/warehouse/orders/part-00000.parquet"}]},
        {"eventVersion": "1.09", "eventSource": "s3.amazonaws.com", "eventName": "PutObject",
         "eventTime": "2026-11-21T03:00:00Z", "userIdentity": {"arn": "arn:aws:iam::123456789012:user/loader"},
         "requestParameters": {"bucketName": "lake-prod", "key": "staging/daily/part-0.parquet"}},
        {"eventVersion": "1.09", "eventSource": "s3.amazonaws.com", "eventName": "CopyObject",
         "eventTime": "2026-11-22T03:00:00Z", "userIdentity": {"arn": "arn:aws:iam::123456789012:user/loader"},
         "requestParameters": {"bucketName": "lake-prod", "key": "archive/orders/part-0.parquet",
                               "x-amz-copy-source": "lake-prod/warehouse/orders/part-00000.parquet"}},
        {"eventVersion": "1.09", "eventSource": "s3.amazonaws.com", "eventName": "GetObject",
         "eventTime": "2026-11-23T03:00:00Z", "userIdentity": {"arn": "arn:aws:iam::123456789012:user/intruder"},
         "errorCode": "AccessDenied",
         "resources": [{"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::lake-prod/warehouse/orders/part-1.parquet"}]},
        {"eventVersion": "1.09", "eventSource": "s3.amazonaws.com", "eventName": "ListObjects",
         "eventTime": "2026-11-24T03:00:00Z", "requestParameters": {"bucketName": "lake-prod"}},
        {"eventName": "GetObject"},  # no time: malformed
        "garbage",
    ]
}


def test_cloudtrail_data_events() -> None:
    src = parse_cloudtrail_text(json.dumps(CLOUDTRAIL), "trail.json")
    got = [(e.kind, e.uri, e.actor, e.success, e.inputs) for e in src.events]
    assert got == [
        ("read", "s3a://lake-prod/warehouse/orders/part-00000.parquet",
         "arn:aws:sts::123456789012:assumed-role/EMR_EC2/i-0abc", True, ()),
        ("write", "s3a://lake-prod/staging/daily/part-0.parquet", "arn:aws:iam::123456789012:user/loader", True, ()),
        ("read", "s3a://lake-prod/warehouse/orders/part-00000.parquet", "arn:aws:iam::123456789012:user/loader", True,
         ()),
        ("write", "s3a://lake-prod/archive/orders/part-0.parquet", "arn:aws:iam::123456789012:user/loader", True,
         ("s3a://lake-prod/warehouse/orders/part-00000.parquet",)),
        ("read", "s3a://lake-prod/warehouse/orders/part-1.parquet", "arn:aws:iam::123456789012:user/intruder", False,
         ()),
    ]
    assert src.bad_lines == 2
    assert src.coverage().end == datetime(2026, 11, 24, 3, 0, tzinfo=timezone.utc)  # the listing widens the window


def test_cloudtrail_json_lines_with_a_broken_line() -> None:
    lines = [json.dumps(r) for r in CLOUDTRAIL["Records"][:2]] + ["{not json"]
    src = parse_cloudtrail_text("\n".join(lines), "trail.jsonl")
    assert [e.kind for e in src.events] == ["read", "write"]
    assert src.bad_lines == 1


HDFS_LINES = [
    "2019-02-18 18:14:35,396 INFO FSNamesystem.audit: allowed=true\tugi=hive (auth:SIMPLE)\tip=/10.0.0.151\tcmd=open\t"
    "src=/warehouse/orders/part-0.parquet\tdst=null\tperm=null\tproto=rpc",
    "2026-11-25 02:00:01,002 INFO FSNamesystem.audit: allowed=true\tugi=etl@EXAMPLE.COM (auth:KERBEROS)\t"
    "ip=/10.0.0.20\tcmd=create\tsrc=/warehouse/daily/_temporary/0/part-0.parquet\tdst=null\t"
    "perm=etl:hadoop:rw-r--r--\tproto=rpc\tcallerContext=SPARK_TASK_application_1700000000000_0042_JId_3",
    "2026-11-25 02:00:09,110 INFO FSNamesystem.audit: allowed=true\tugi=etl@EXAMPLE.COM (auth:KERBEROS)\t"
    "ip=/10.0.0.20\tcmd=rename\tsrc=/warehouse/daily/_temporary/0/part-0.parquet\tdst=/warehouse/daily/part-0.parquet\t"
    "perm=etl:hadoop:rw-r--r--\tproto=rpc",
    # tabs turned into spaces by a log shipper; a proxied user
    "2026-11-25 03:00:00,000 INFO FSNamesystem.audit: allowed=false ugi=alice (auth:PROXY) via hive (auth:SIMPLE) "
    "ip=/10.0.0.5 cmd=open src=/warehouse/secret/part-0.parquet dst=null perm=null proto=rpc",
    "2026-11-25 03:00:01,000 INFO FSNamesystem.audit: allowed=true\tugi=hdfs (auth:SIMPLE)\tip=/10.0.0.1\t"
    "cmd=listStatus\tsrc=/warehouse\tdst=null\tperm=null\tproto=rpc",
    "2026-11-25 03:00:02,000 INFO FSNamesystem.audit: allowed=true\tugi=hdfs (auth:SIMPLE)\tip=/10.0.0.1\tcmd=mkdirs\t"
    "src=/warehouse/new\tdst=null\tperm=hdfs:hadoop:rwxr-xr-x\tproto=rpc",
    "2026-11-25 03:00:03,000 WARN some.other.Logger: not an audit line",
    "allowed=true\tugi=x\tcmd=open\tsrc=/a",  # no timestamp
]


def test_hdfs_audit_reads_writes_and_namenode() -> None:
    src = parse_hdfs_audit_lines(HDFS_LINES, "hdfs-audit.log", hdfs_namenode="nn1:8020")
    got = [(e.kind, e.uri, e.actor, e.success) for e in src.events]
    assert got == [
        ("read", "hdfs://nn1:8020/warehouse/orders/part-0.parquet", "hive", True),
        ("write", "hdfs://nn1:8020/warehouse/daily/_temporary/0/part-0.parquet", "etl@EXAMPLE.COM", True),
        ("write", "hdfs://nn1:8020/warehouse/daily/part-0.parquet", "etl@EXAMPLE.COM", True),
        ("read", "hdfs://nn1:8020/warehouse/secret/part-0.parquet", "alice", False),
    ]
    assert src.events[0].time == datetime(2019, 2, 18, 18, 14, 35, 396000, tzinfo=timezone.utc)
    assert src.events[1].job == "SPARK_TASK_application_1700000000000_0042_JId_3"
    assert src.events[2].inputs == ()  # a rename is a move, not lineage
    assert src.bad_lines == 2
    assert src.coverage().end == datetime(2026, 11, 25, 3, 0, 2, tzinfo=timezone.utc)


def test_hdfs_audit_without_namenode_and_with_a_local_offset() -> None:
    src = parse_hdfs_audit_lines(HDFS_LINES[:1], "hdfs-audit.log", utc_offset_minutes=60)
    [event] = src.events
    assert event.uri == "hdfs:///warehouse/orders/part-0.parquet"
    assert event.time == datetime(2019, 2, 18, 17, 14, 35, 396000, tzinfo=timezone.utc)

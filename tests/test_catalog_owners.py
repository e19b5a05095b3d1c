"""Owners: precedence of the sources, OpenLineage ownership facets, [owners.globs], and findings
inheriting their dataset's owner."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from rotscan.catalog import CatalogIndex, CatalogTable
from rotscan.config import load_config
from rotscan.errors import ConfigError
from rotscan.models import Dataset, Finding
from rotscan.owners import LineageOwner, OwnerRules, assign_owners, lineage_owners, resolve_owner
from rotscan.uri import parse
from rotscan.usage.mapping import DatasetIndex
from rotscan.usage.openlineage import parse_openlineage_text

T0 = datetime(2026, 11, 1, tzinfo=timezone.utc)


def _event(t: str, output: str, *, job_ns: str = "etl", job_owner: str | None = None,
           ds_owner: str | None = None, event_type: str = "COMPLETE", inputs: tuple[str, ...] = ()) -> dict:
    job: dict = {"namespace": job_ns, "name": "nightly.write"}
    if job_owner:
        job["facets"] = {"ownership": {"_producer": "p", "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/"
                                       "OwnershipJobFacet.json", "owners": [{"name": job_owner, "type": "MAINTAINER"}]}}
    out: dict = {"namespace": "file", "name": output}
    if ds_owner:
        out["facets"] = {"ownership": {"owners": [{"name": ds_owner}]}}
    return {"eventType": event_type, "eventTime": t, "producer": "p", "schemaURL": "s",
            "run": {"runId": f"r-{t}-{output}"}, "job": job,
            "inputs": [{"namespace": "file", "name": i} for i in inputs], "outputs": [out]}


def test_openlineage_ownership_facets_are_parsed() -> None:
    text = "\n".join(json.dumps(e) for e in [
        _event("2026-11-01T10:00:00Z", "/lake/a", job_owner="team:ingest"),
        _event("2026-11-02T10:00:00Z", "/lake/a", job_owner="team:ingest-v2"),  # latest wins
        _event("2026-11-01T10:00:00Z", "/lake/b", ds_owner="team:finance", job_owner="team:ingest"),
        _event("2026-11-01T10:00:00Z", "/lake/c", job_ns="marketing"),
        _event("2026-11-01T10:00:00Z", "/lake/d", job_ns="default"),
        _event("2026-11-03T10:00:00Z", "/lake/e", job_owner="team:broken", event_type="FAIL"),
        _event("2026-11-03T10:00:00Z", "/lake/f", inputs=("/lake/a",), job_owner="team:reader"),
    ])
    parsed = parse_openlineage_text(text, "ol.jsonl")
    assert parsed.bad_lines == 0
    index = DatasetIndex([f"file:/lake/{x}" for x in "abcdef"])
    claims = lineage_owners(parsed.events, index.lookup)
    assert claims["file:/lake/a"]["job_facet"].owner == "team:ingest-v2"
    assert claims["file:/lake/b"]["dataset_facet"].owner == "team:finance"
    assert claims["file:/lake/c"]["job_namespace"].owner == "marketing"
    assert "file:/lake/e" not in claims  # a failed run claims nothing
    # a job reading a dataset does not own it: only its output got the job's owner
    assert "job_facet" not in claims["file:/lake/a"] or claims["file:/lake/a"]["job_facet"].owner != "team:reader"
    rules = OwnerRules()
    got = {u: resolve_owner(rules, uri=parse(u), rel="", lineage=c) for u, c in claims.items()}
    assert got["file:/lake/b"].owner == "team:finance"  # type: ignore[union-attr]
    assert got["file:/lake/c"].source == "openlineage"  # type: ignore[union-attr]
    assert got["file:/lake/d"] is None  # openlineage-spark's "default" namespace names nobody


def test_precedence_of_sources() -> None:
    rules = OwnerRules(globs=(("warehouse/**", "platform"),))
    table = CatalogTable("sales.orders", "file:/lake/warehouse/orders", owner="hive",
                         properties={"Team": "sales-eng"})
    uri, rel = parse("file:/lake/warehouse/orders"), "warehouse/orders"
    lineage = {"job_facet": LineageOwner("team:ingest", "job_facet", T0, "etl.job"),
               "job_namespace": LineageOwner("etl", "job_namespace", T0, "etl.job")}

    def who(**kw: object) -> tuple[str, str] | None:
        o = resolve_owner(rules, uri=uri, rel=rel, **kw)  # type: ignore[arg-type]
        return None if o is None else (o.owner, o.source)

    assert who(table=table, delta_properties={"owner": "delta-team"}, lineage=lineage) == ("sales-eng", "catalog")
    bare = CatalogTable("sales.orders", "file:/lake/warehouse/orders", owner="hive")
    assert who(table=bare, delta_properties={"owner": "delta-team"}, lineage=lineage) == ("delta-team", "delta")
    assert who(table=bare, lineage=lineage) == ("team:ingest", "openlineage")
    assert who(table=bare, lineage={"job_namespace": lineage["job_namespace"]}) == ("platform", "config")
    no_glob = OwnerRules()
    assert resolve_owner(no_glob, uri=uri, rel=rel, table=bare).source == "catalog"  # type: ignore[union-attr]
    assert resolve_owner(OwnerRules(ignore=("hive",)), uri=uri, rel=rel, table=bare,
                         lineage={"job_namespace": lineage["job_namespace"]}).owner == "etl"  # type: ignore[union-attr]
    assert resolve_owner(OwnerRules(metastore_owner=False, job_namespace=False), uri=uri, rel=rel, table=bare,
                         lineage={"job_namespace": lineage["job_namespace"]}) is None


def test_globs_relative_absolute_and_first_match() -> None:
    rules = OwnerRules.from_config(load_config(overrides={"owners": {"globs": {
        "warehouse/finance/**": "finance", "warehouse/*": "platform", "/lake/landing": "ingest",
        "s3://bucket/raw/*": "raw-team"}}}))
    def owner(u: str, rel: str) -> str | None:
        o = resolve_owner(rules, uri=parse(u), rel=rel)
        return None if o is None else o.owner
    assert owner("file:/lake/warehouse/finance/ledger", "warehouse/finance/ledger") == "finance"
    assert owner("file:/lake/warehouse/orders", "warehouse/orders") == "platform"
    assert owner("file:/lake/landing/x/y.csv", "landing/x/y.csv") == "ingest"  # absolute, anything below
    assert owner("s3a://bucket/raw/events", "raw/events") == "raw-team"
    assert owner("file:/lake/other", "other") is None
    with pytest.raises(ConfigError, match="owner"):
        OwnerRules.from_config(load_config(overrides={"owners": {"globs": {"x/**": ""}}}))


def test_findings_inherit_their_datasets_owner() -> None:
    rules = OwnerRules(globs=(("scratch/**", "analysts"),))
    idx = CatalogIndex([CatalogTable("sales.orders", "file:/lake/warehouse/orders", properties={"team": "sales"})])
    datasets = [Dataset("file:/lake/warehouse/orders", "parquet", "part_files", 2, 10, root="file:/lake"),
                Dataset("file:/lake/events", "delta", "delta", 2, 10, root="file:/lake"),
                Dataset("file:/lake/misc", "csv", "file", 1, 10, root="file:/lake")]
    findings = [Finding("file:/lake/warehouse/orders/.DS_Store", "trivial", "junk_file", "delete", 0.97, 6, "junk"),
                Finding("file:/lake/events", "trivial", "tiny", "review", 0.6, 10, "tiny"),
                Finding("file:/lake/scratch/_temporary", "trivial", "write_debris", "quarantine", 0.9, 10, "d"),
                Finding("file:/lake/misc", "obsolete", "unread", "review", 0.6, 10, "unread")]
    out_ds, out_f = assign_owners(datasets, findings, rules, roots=[parse("file:/lake")], catalog=idx,
                                  delta_properties={"file:/lake/events": {"owner": "events-team"}})
    assert [(d.owner, d.owner_source) for d in out_ds] == [("sales", "catalog"), ("events-team", "delta"),
                                                           (None, None)]
    got = [(f.owner, f.owner_source) for f in out_f]
    assert got == [("sales", "catalog"), ("events-team", "delta"), ("analysts", "config"), (None, None)]
    assert out_f[0].evidence["owner_detail"] == "table property 'team' of sales.orders"
    assert "owner_detail" not in out_f[3].evidence

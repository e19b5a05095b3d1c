"""OpenLineage RunEvents (spec 2-0-x), as the openlineage-spark file transport writes them: one
JSON event per line; a file holding one JSON event or a JSON array of events is read too.

* ``inputs`` are reads, ``outputs`` writes; a write's ``inputs`` are the event's input datasets.
  An input that the same event also writes (a MERGE reading its target) is not a read.
* Only ``COMPLETE`` and ``RUNNING`` events count (successful); ``FAIL``/``ABORT`` give events with
  ``success=False``; ``START`` and ``OTHER`` only widen the covered window (a START is followed by
  its terminal event, and openlineage-spark emits START-only events for Spark's file-listing jobs).
  A ``RUNNING`` event of a run that also has a terminal event is not counted twice.
* ``job`` is ``<job.namespace>.<job.name>``; ``actor`` is the Spark user from the
  ``spark_applicationDetails`` run facet (carried to the run's other events through the ``parent``
  facet), else ``None``.
* Dataset naming (OpenLineage ``naming.md``): namespace ``file`` + ``/p`` → ``file:/p``;
  ``s3://bucket`` (s3a/s3n) + ``key`` → ``s3a://bucket/key``; ``hdfs://nn:8020`` + ``/p`` →
  ``hdfs://nn:8020/p``; likewise gs/abfs(s)/wasb(s)/oss/viewfs/dbfs. Other namespaces (databases,
  Kafka, Hive metastores) name tables, not paths: ``uri`` is then ``<namespace>/<name>`` and
  ``table`` the name.
* ``symlinks`` facet identifiers of type TABLE (``db.table``) become aliases table → path URI.
* Ownership (``rotscan.owners``): a dataset's ``ownership`` facet (``owners[].name``, the first one)
  owns it, read or written; for a write without one, the job's ``ownership`` job facet, else the
  job's namespace (a weaker claim), each recorded with ``owner_from``.

Not handled: DatasetEvent/JobEvent (static lineage, no access), column-level lineage.
Caveats seen with openlineage-spark 1.53.0 on Spark 4.2 + Delta 4.4: a SQL execution that fails
still gets a ``COMPLETE`` event (the event log's ``SQLExecutionEnd.errorMessage`` is the reliable
signal); top-level read-only actions (``count()``, ``collect()`` of an aggregate) and Delta
``DELETE`` produced no event at all, so OpenLineage alone under-reports reads.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from rotscan.core.jsonlines import json_objects
from rotscan.usage.events import (
    AccessEvent,
    ParsedSource,
    dict_at,
    first_str,
    list_at,
    parse_time,
    str_at,
    to_uri,
)

SOURCE = "openlineage"
_TERMINAL = {"COMPLETE": True, "FAIL": False, "ABORT": False}
_STORAGE_SCHEMES = {"file", "s3", "s3a", "s3n", "hdfs", "gs", "abfs", "abfss", "wasb", "wasbs", "oss", "viewfs",
                    "dbfs", "adl", "gcs", "r2", "cos", "obs", "alluxio", "lakefs"}


def dataset_uri(namespace: Any, name: Any) -> tuple[str | None, str | None]:
    """(canonical URI, table name) of an OpenLineage dataset; URI ``None`` when it is no dataset."""
    if not isinstance(namespace, str) or not isinstance(name, str) or not namespace.strip() or not name.strip():
        return None, None
    namespace, name = namespace.strip(), name.strip()
    scheme = namespace.split(":", 1)[0].lower()
    if scheme in _STORAGE_SCHEMES:
        if scheme == "file":  # "file" (also "file://host"): the name is an absolute path
            return to_uri("file:/" + name.lstrip("/")), None
        if "://" not in namespace:
            return None, None
        uri = to_uri(namespace.rstrip("/") + "/" + name.lstrip("/"))
        return uri, None
    # A database / metastore / stream: the name is a table (or topic), not a path.
    return f"{namespace}/{name}", name


def _events_of(text: str, source: ParsedSource) -> Iterator[dict[str, Any]]:
    """The JSON objects of a file: one object, an array, or one object per line (bad lines counted)."""
    stripped = text.strip()
    if not stripped:
        return
    if stripped[0] in "[{":
        try:
            whole = json.loads(stripped)
        except ValueError:
            whole = None
        else:
            if isinstance(whole, list):
                for item in whole:
                    if isinstance(item, dict):
                        yield item
                    else:
                        source.bad_lines += 1
                return
            if isinstance(whole, dict):
                yield whole
                return
    yield from _json_lines(text.splitlines(), source)


def _json_lines(lines: Iterable[str], source: ParsedSource) -> Iterator[dict[str, Any]]:
    return json_objects(lines, source.bad_line)


def parse_openlineage_text(text: str, path: str) -> ParsedSource:
    """Parse the text of an OpenLineage file (JSON lines, one event, or an array of events)."""
    source = ParsedSource(kind=SOURCE, path=path)
    _parse_events(_events_of(text, source), source)
    return source


def parse_openlineage_lines(lines: Iterable[str], path: str) -> ParsedSource:
    """Parse OpenLineage JSON lines (one event per line)."""
    source = ParsedSource(kind=SOURCE, path=path)
    _parse_events(_json_lines(lines, source), source)
    return source


def read_openlineage(path: str, text: str | None = None) -> ParsedSource:
    if text is None:
        with open(path, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    return parse_openlineage_text(text, path)


def _owner_of(facets: Any) -> str | None:
    """The first owner named in an ``ownership`` facet (job or dataset: ``{"owners": [{"name": …}]}``)."""
    for owner in list_at(dict_at(facets, "ownership"), "owners"):
        if isinstance(owner, dict):
            name = str_at(owner, "name")
            if name and name.strip():
                return name.strip()
    return None


def _run_ids(event: dict[str, Any]) -> tuple[str | None, list[str]]:
    """The event's runId and those of its parent and root runs."""
    run = dict_at(event, "run")
    run_id = str_at(run, "runId")
    related: list[str] = []
    facets = dict_at(run, "facets")
    parent = dict_at(facets, "parent")
    for holder in (parent, dict_at(parent, "root")):
        prun = dict_at(holder, "run")
        if isinstance(prun.get("runId"), str):
            related.append(prun["runId"])
    return run_id, related


def _user_of(event: dict[str, Any]) -> str | None:
    run = dict_at(event, "run")
    facets = dict_at(run, "facets")
    details = facets.get("spark_applicationDetails")
    if isinstance(details, dict):
        return first_str(details, "userName", "user")
    return None


def _parse_events(events: Iterable[dict[str, Any]], source: ParsedSource) -> None:
    kept: list[tuple[dict[str, Any], str, str | None, list[str]]] = []
    users: dict[str, str] = {}
    terminal_runs: set[tuple[str | None, str]] = set()
    started_runs: set[tuple[str | None, str]] = set()
    for event in events:
        when = parse_time(event.get("eventTime"))
        job = event.get("job")
        if when is None or not isinstance(job, dict):
            if "dataset" in event and when is not None:  # a DatasetEvent: valid, but no access
                source.observe(when)
                continue
            source.bad_lines += 1
            continue
        source.observe(when)
        event_type = (str_at(event, "eventType") or "OTHER")
        event_type = event_type.upper()
        run_id, related = _run_ids(event)
        user = _user_of(event)
        if user:
            for rid in [run_id, *related]:
                if rid:
                    users.setdefault(rid, user)
        job_name = f"{job.get('namespace')}.{job.get('name')}" if isinstance(job.get("name"), str) else None
        if event_type in _TERMINAL:
            terminal_runs.add((run_id, str(job_name)))
        elif event_type == "START":
            started_runs.add((run_id, str(job_name)))
        if event_type in _TERMINAL or event_type == "RUNNING":
            kept.append((event, event_type, job_name, [r for r in [run_id, *related] if r]))
    started = {(rid, job) for rid, job in started_runs if (rid, job) not in terminal_runs}
    started -= {(ids[0] if ids else None, str(job)) for _, etype, job, ids in kept if etype == "RUNNING"}
    if started:
        source.notes.append(f"{len(started)} runs with only a START event (not counted as access; "
                            "openlineage-spark emits these for Spark's own file-listing jobs)")
    for event, event_type, job_name, run_ids in kept:
        run_id = run_ids[0] if run_ids else None
        if event_type == "RUNNING" and (run_id, str(job_name)) in terminal_runs:
            continue
        success = _TERMINAL.get(event_type, True)
        actor = next((users[r] for r in run_ids if r in users), None)
        when = parse_time(event.get("eventTime"))
        assert when is not None
        inputs = _datasets(event.get("inputs"), source)
        outputs = _datasets(event.get("outputs"), source)
        input_uris = tuple(dict.fromkeys(uri for uri, _, _ in inputs))
        written = {uri for uri, _, _ in outputs}
        job = dict_at(event, "job")
        job_owner = _owner_of(dict_at(job, "facets"))
        namespace = str_at(job, "namespace")
        for uri, table, owner in inputs:
            if uri in written:  # a MERGE/UPDATE reading its own target: not a read by a consumer
                continue
            source.add(AccessEvent(time=when, kind="read", uri=uri, actor=actor, job=job_name, source=SOURCE,
                                   run_id=run_id, success=success, table=table, owner=owner,
                                   owner_from="dataset_facet" if owner else None))
        for uri, table, owner in outputs:
            owned, owned_from = ((owner, "dataset_facet") if owner else (job_owner, "job_facet") if job_owner
                                 else (namespace.strip(), "job_namespace") if namespace and namespace.strip()
                                 else (None, None))
            source.add(AccessEvent(time=when, kind="write", uri=uri, actor=actor, job=job_name, source=SOURCE,
                                   run_id=run_id, inputs=tuple(i for i in input_uris if i != uri),
                                   success=success, table=table, owner=owned, owner_from=owned_from))


def _datasets(items: Any, source: ParsedSource) -> list[tuple[str, str | None, str | None]]:
    """(uri, table, owner from its ownership facet) of each dataset of an inputs/outputs list;
    symlinks become aliases."""
    out: list[tuple[str, str | None, str | None]] = []
    if not isinstance(items, list):
        return out
    for item in items:
        if not isinstance(item, dict):
            continue
        uri, table = dataset_uri(item.get("namespace"), item.get("name"))
        if uri is None:
            continue
        facets = dict_at(item, "facets")
        symlinks = dict_at(facets, "symlinks")
        identifiers = list_at(symlinks, "identifiers")
        path_dataset = table is None
        for ident in identifiers:
            if not isinstance(ident, dict) or not isinstance(ident.get("name"), str):
                continue
            if str(ident.get("type", "TABLE")).upper() != "TABLE" or not path_dataset:
                continue
            source.aliases[ident["name"]] = uri
            table = table or ident["name"]
        out.append((uri, table, _owner_of(facets)))
    return out

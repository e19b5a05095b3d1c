"""`rotscan decide` end to end through the CLI on a real lake (metadata-only scans, no JVM): keep and
approve change what `rotscan plan` (and `apply --execute`) do; stale approvals, tampered records and
kept data inside a planned directory are never acted on; `--import` of the report's decisions file is
validated all or nothing; `--list`/`--json`; every decision is in the audit trail and cleanup_history."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from rotscan.cli import main

from .cleanup_support import build_cleanup_lake, tree
from .lakes import age


def run(*args: str, user: str = "ana") -> Result:
    return CliRunner(env={"USER": user}).invoke(main, [str(a) for a in args], catch_exceptions=False)


def ok(*args: str, user: str = "ana") -> Result:
    r = run(*args, user=user)
    assert r.exit_code == 0, r.output
    return r


def findings(out: Path) -> dict[str, dict[str, Any]]:
    doc = json.loads((out / "findings.json").read_text())
    root = doc["scan"]["roots"][0]
    return {f["uri"][len(root) + 1:]: f for f in doc["findings"]}


def plan(out: Path, tmp: Path, name: str = "plan.json") -> dict[str, Any]:
    ok("plan", out, "--out", tmp / name)
    doc: dict[str, Any] = json.loads((tmp / name).read_text())
    return doc


def planned(doc: dict[str, Any], root: Path) -> dict[str, dict[str, Any]]:
    return {a["rel"]: a for a in doc["actions"]}


def not_planned(doc: dict[str, Any], root: Path) -> dict[str, str]:
    prefix = f"file:{root}/"
    return {r["uri"][len(prefix):]: r["reason"] for r in doc["not_planned"]}


@pytest.fixture()
def lake(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "lake"
    root.mkdir()
    build_cleanup_lake(root, bulk_files=20)
    out = tmp_path / "scan"
    ok("scan", root, "--out", out, "--no-profile", "-q")
    return root, out


def state_files(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((root / "_rotscan").rglob("*")) if p.is_file()} if (root / "_rotscan").exists() else {}


def test_a_plan_after_keep_leaves_the_path_out_and_after_approve_includes_it(lake, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root, out = lake
    before = plan(out, tmp_path, "before.json")
    assert "tmp/bulk_dump" in planned(before, root) and "exports/.DS_Store" in planned(before, root)
    assert any(r["uri"].endswith("exports/not_really.csv") for r in before["needs_review"])

    r = ok("decide", out, "--keep", "tmp/bulk_dump", "--keep", "exports/.DS_Store", "--reason", "fixture for the demo",
           "--until", "2099-12-31", "--by", "ana")
    assert "2 decision(s) by ana recorded" in r.output
    kept = plan(out, tmp_path, "kept.json")
    assert "tmp/bulk_dump" not in planned(kept, root) and "exports/.DS_Store" not in planned(kept, root)
    reasons = not_planned(kept, root)
    assert reasons["tmp/bulk_dump"] == "kept by ana: fixture for the demo (until 2099-12-31)"
    assert reasons["exports/.DS_Store"].startswith("kept by ana")  # kept although its action is delete

    not_really = findings(out)["exports/not_really.csv"]
    assert not_really["action"] == "review"
    ok("decide", out, "--approve", not_really["id"], "--reason", "checked: a broken export", user="bob")
    approved = plan(out, tmp_path, "approved.json")
    action = planned(approved, root)["exports/not_really.csv"]
    assert action["action"] == "quarantine"
    assert action["details"]["approved"][0]["by"] == "bob" and "approved by bob" in action["reason"]
    assert not any(r["uri"].endswith("exports/not_really.csv") for r in approved["needs_review"])

    # and apply acts on exactly that: the approved file is quarantined, the kept data untouched
    snapshot = tree(root)
    r = ok("apply", tmp_path / "approved.json", "--execute", "--json")
    done = {a["uri"][len(f"file:{root}/"):] for a in json.loads(r.output)["actions"] if a["status"] == "done"}
    assert "exports/not_really.csv" in done and "tmp/bulk_dump" not in done
    after = tree(root)
    assert "exports/not_really.csv" not in after and "exports/.DS_Store" in after
    assert {k: v for k, v in snapshot.items() if k.startswith("tmp/bulk_dump")} == \
        {k: v for k, v in after.items() if k.startswith("tmp/bulk_dump")}


def test_a_stale_approval_is_not_planned(lake, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root, out = lake
    not_really = findings(out)["exports/not_really.csv"]
    ok("decide", out, "--approve", "exports/not_really.csv", "--by", "bob")
    (root / "exports/not_really.csv").write_bytes(b"\x00\x01binary, and longer now" * 200)
    age(root / "exports/not_really.csv", 3)
    out2 = tmp_path / "scan2"
    ok("scan", root, "--out", out2, "--no-profile", "-q")
    f = findings(out2)["exports/not_really.csv"]
    assert f["id"] == not_really["id"] and f["decision"]["decision"] == "approve"  # the same finding, changed data
    assert f["decision"]["stale"] and f["decision"]["stale_reason"].startswith("the data changed since the decision")
    doc = plan(out2, tmp_path)
    assert "exports/not_really.csv" not in planned(doc, root)
    reason = not_planned(doc, root)["exports/not_really.csv"]
    assert reason.startswith("approval by bob is stale: the data changed since the decision (")
    assert "bytes 2048 then" in reason and reason.endswith("decide again")


def test_kept_files_inside_a_planned_directory_refuse_the_directory(lake, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root, out = lake
    ok("decide", out, "--keep", "tmp/bulk_dump/batch=3/**", "--reason", "batch 3 is evidence")
    doc = plan(out, tmp_path)
    assert "tmp/bulk_dump" not in planned(doc, root)
    assert "contains batch=3/part-00003.csv, kept by ana: batch 3 is evidence" in not_planned(doc, root)["tmp/bulk_dump"]
    # the finding itself is not kept (the glob covers part of it): it is still ROT in the scan
    out2 = tmp_path / "scan2"
    ok("scan", root, "--out", out2, "--no-profile", "-q")
    assert findings(out2)["tmp/bulk_dump"]["decision"] is None


def test_a_tampered_decision_blocks_the_plan_until_revoked(lake, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root, out = lake
    ok("decide", out, "--keep", "tmp/bulk_dump", "--reason", "demo fixture")
    log = root / "_rotscan/decisions.jsonl"
    rec = json.loads(log.read_text())
    rec["op"] = "approve"  # someone turned the keep into an approval by hand
    log.write_text(json.dumps(rec) + "\n")
    r = run("plan", out, "--out", tmp_path / "plan.json")
    assert r.exit_code == 0 and "does not match its checksum" in r.output  # warned on stderr (mixed in)
    doc = json.loads((tmp_path / "plan.json").read_text())
    assert "tmp/bulk_dump" not in planned(doc, root)
    assert "does not match its checksum" in not_planned(doc, root)["tmp/bulk_dump"]
    listed = json.loads(ok("decide", out, "--list", "--json").output)
    assert listed["decisions"] == [] and listed["tampered"][0]["record_id"] == rec["id"]
    ok("decide", out, "--revoke", "tmp/bulk_dump")
    assert "tmp/bulk_dump" in planned(plan(out, tmp_path, "plan2.json"), root)


def test_decide_refuses_bad_input_with_one_line_and_writes_nothing(lake, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root, out = lake
    ok("decide", out, "--keep", "exports/**", "--reason", "exports stay")
    before = state_files(root)
    ids = {f["id"] for f in findings(out).values()}
    some = sorted(ids)[0]
    cases = [
        (["--keep", "tmp/**"], "needs a reason"),
        (["--approve", "0123456789abcdef"], "unknown finding id"),
        (["--keep", "/etc/**", "--reason", "x"], "outside the scanned roots"),
        (["--keep", "tmp/**", "--reason", "x", "--until", "2026-02-30"], "not a date"),
        (["--keep", "tmp/**", "--reason", "x", "--until", "2001-01-01"], "in the past"),
        (["--keep", some, "--reason", "x", "--approve", "nothing/**"], "matches no finding"),
        (["--revoke", "warehouse/**"], "no decision in force"),
        (["--keep", "tmp/**", "--reason", "x", "--root", "/elsewhere"], "not a root of this scan"),
    ]
    for args, needle in cases:
        r = run("decide", out, *args)
        assert r.exit_code == 1, (args, r.output)
        assert needle in r.output and "nothing written" in r.output, (args, r.output)
        assert r.output.strip().count("\n") == 0, r.output
    assert state_files(root) == before
    r = run("decide", out)
    assert r.exit_code == 2 and "give --keep" in r.output


def export_doc(out: Path, entries: list[dict[str, Any]]) -> dict[str, Any]:
    doc = json.loads((out / "findings.json").read_text())
    return {"format": "rotscan-decisions", "version": 1, "scan_id": doc["scan"]["id"], "roots": doc["scan"]["roots"],
            "exported_at": "2026-12-02T10:00:00Z", "decisions": entries}


def entry(f: dict[str, Any], decision: str, reason: str = "", by: str | None = "carol",
          until: str | None = None) -> dict[str, Any]:
    return {"finding_id": f["id"], "uri": f["uri"], "kind": f["kind"], "decision": decision, "reason": reason,
            "by": by, "until": until}


def test_import_of_the_reports_decisions_file(lake, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root, out = lake
    fs = findings(out)
    good = export_doc(out, [entry(fs["tmp/bulk_dump"], "keep", "the demo needs it", until="2099-01-01"),
                            entry(fs["exports/not_really.csv"], "approve", by=None)])
    path = tmp_path / "rotscan-decisions.json"
    path.write_text(json.dumps(good))
    r = ok("decide", out, "--import", path, "--json", user="dave")
    doc = json.loads(r.output)
    assert [(x["op"], x["by"], x["source"]) for x in doc["recorded"]] == [("keep", "carol", "import"),
                                                                         ("approve", "dave", "import")]
    assert doc["written"] == [f"file:{root}/_rotscan/decisions.jsonl"]
    p = plan(out, tmp_path)
    assert "tmp/bulk_dump" not in planned(p, root) and "exports/not_really.csv" in planned(p, root)
    audit = [json.loads(x) for x in (root / "_rotscan/audit.jsonl").read_text().splitlines()]
    assert [(a["event"], a["decision"], a["by"], a["user"]) for a in audit] == [
        ("decision", "keep", "carol", "dave"), ("decision", "approve", "dave", "dave")]


def test_import_refuses_a_bad_file_whole(lake, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root, out = lake
    fs = findings(out)
    keep, review = fs["tmp/bulk_dump"], fs["exports/not_really.csv"]
    good = entry(keep, "keep", "ok")

    def doc_with(*entries: dict[str, Any], **top: Any) -> dict[str, Any]:
        return {**export_doc(out, list(entries)), **top}

    cases: list[tuple[Any, str]] = [
        (doc_with(good, {**entry(review, "approve"), "finding_id": "ffffffffffffffff"}), "unknown finding id"),
        (doc_with(good, {**entry(review, "approve"), "uri": f"file:{root}/warehouse/orders"}), "the file says"),
        (doc_with(good, {**entry(review, "approve"), "kind": "near_duplicate"}), "is a corrupt_file finding"),
        (doc_with(good, {**entry(review, "approve"), "uri": "file:/etc/passwd"}), "the file says 'file:/etc/passwd'"),
        (doc_with(good, entry(review, "keep", "")), "needs a reason"),
        (doc_with(good, entry(review, "keep", "x", until="tomorrow")), "not a date"),
        (doc_with(good, {**entry(review, "approve"), "decision": "delete"}), "not keep or approve"),
        (doc_with(good, good), "decided twice"),
        (doc_with(good, scan_id="20200101T000000Z-00000000"), "was exported from scan"),
        (doc_with(good, roots=["file:/other"]), "is for roots"),
        (doc_with(good, format="something-else"), "not a rotscan decisions file"),
        (doc_with(good, version=2), "version 2"),
        (doc_with(), "holds no decisions"),
        ("{not json", "is not JSON"),
        (b"\xff\xfe\x00binary", "is not JSON"),
    ]
    path = tmp_path / "d.json"
    for content, needle in cases:
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content if isinstance(content, str) else json.dumps(content))
        r = run("decide", out, "--import", path)
        assert r.exit_code == 1 and needle in r.output and "nothing written" in r.output, (needle, r.output)
        assert r.output.strip().count("\n") == 0
        assert not (root / "_rotscan/decisions.jsonl").exists() and not (root / "_rotscan/audit.jsonl").exists()


def test_list_json_and_the_audit_trail_in_cleanup_history(lake, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root, out = lake
    r = ok("decide", out, "--keep", "exports/**", "--reason", "exports stay", "--json", user="erin")
    rec = json.loads(r.output)["recorded"][0]
    assert rec["by"] == "erin" and rec["match"] == "glob:exports/**" and len(rec["checksum"]) == 64
    listed = json.loads(ok("decide", out, "--list", "--json").output)
    (d,) = listed["decisions"]
    assert d["status"] == "applies" and d["id"] == rec["id"] and len(d["findings"]) >= 4
    text = ok("decide", out, "--list").output
    assert "[applies ] keep    exports/** (glob) by erin" in text and "1 decision(s) in force: 1 applies" in text
    # the next scan: kept findings carry the decision, are not counted, and the decision is in the history
    out2 = tmp_path / "scan2"
    r = ok("scan", root, "--out", out2, "--no-profile", "-q")
    doc = json.loads((out2 / "findings.json").read_text())
    kept = [f for f in doc["findings"] if f["decision"] is not None]
    assert kept and all(f["decision"]["decision"] == "keep" and f["decision"]["by"] == "erin" for f in kept)
    assert {f["uri"].split("/lake/", 1)[1].split("/")[0] for f in kept} == {"exports"}
    assert f"{len(kept)} finding(s) kept by review decisions" in r.output
    (run_,) = [c for c in doc["cleanup_history"] if c["run_id"] == rec["batch"]]
    assert run_["counts"]["decided"] == 1 and run_["users"] == ["erin"]
    ok("decide", out2, "--revoke", "exports/**")
    assert json.loads(ok("decide", out2, "--list", "--json").output)["decisions"] == []


def test_the_next_scan_counts_kept_findings_out_of_every_total(lake, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from rotscan.findings_io import read_findings
    from rotscan.report.summary import summarize

    root, out = lake
    doc = json.loads((out / "findings.json").read_text())
    assert all(d["fingerprint"] for d in doc["datasets"])  # the scan records each dataset's fingerprint
    before = summarize(read_findings(out), price_per_gb_month=1.0)
    bulk = findings(out)["tmp/bulk_dump"]
    ok("decide", out, "--keep", bulk["id"], "--reason", "fixture", "--json")
    out2 = tmp_path / "scan2"
    r = ok("scan", root, "--out", out2, "--no-profile")  # progress on (stderr is mixed into the output)
    assert "review decisions: 1 finding(s) kept, 0 approved, 0 stale, 0 expired, 0 matching no finding" in r.output
    after = summarize(read_findings(out2), price_per_gb_month=1.0)
    assert after.rot_bytes == before.rot_bytes - bulk["reclaimable_bytes"]
    assert (after.kept_findings, after.kept_bytes) == (1, bulk["reclaimable_bytes"])
    assert f"({after.rot_bytes:,} bytes reclaimable)" in r.output
    snapshot = json.loads(next((out2 / "history").glob("*.json")).read_text())
    assert bulk["id"] not in {f["id"] for f in snapshot["findings"]}
    # the re-rendered report and a decision-free rescan agree with the findings.json
    ok("report", out2)
    ok("decide", out2, "--revoke", bulk["id"])
    out3 = tmp_path / "scan3"
    ok("scan", root, "--out", out3, "--no-profile", "-q")
    assert summarize(read_findings(out3), price_per_gb_month=1.0).rot_bytes == before.rot_bytes
    assert findings(out3)["tmp/bulk_dump"]["decision"] is None


def test_bad_decision_files_never_break_a_scan(lake, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root, out = lake
    ok("decide", out, "--keep", "exports/**", "--reason", "exports stay")
    log = root / "_rotscan/decisions.jsonl"
    good = log.read_text()
    rec = json.loads(good)
    rec["reason"] = "edited"
    log.write_bytes(b"\x00garbage\n" + json.dumps(rec).encode() + b"\n" + good.encode() + b'{"torn')
    out2 = tmp_path / "scan2"
    ok("scan", root, "--out", out2, "--no-profile", "-q")
    doc = json.loads((out2 / "findings.json").read_text())
    codes = [w["code"] for w in doc["warnings"] if w["code"].startswith("decision")]
    assert sorted(codes) == ["decision_malformed", "decision_malformed", "decision_tampered"]
    assert any(f["decision"] and f["decision"]["reason"] == "exports stay" for f in doc["findings"])
    assert not any(f["decision"] and f["decision"]["reason"] == "edited" for f in doc["findings"])


def test_a_keep_made_after_the_plan_stops_apply(lake, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root, out = lake
    doc = plan(out, tmp_path)
    assert "tmp/bulk_dump" in planned(doc, root) and "exports/Thumbs.db" in planned(doc, root)
    ok("decide", out, "--keep", "tmp/bulk_dump/batch=1/**", "--keep", "exports/Thumbs.db", "--reason", "evidence",
       user="frank")
    snapshot = tree(root)
    r = ok("apply", tmp_path / "plan.json", "--execute", "--json")
    by_rel = {a["uri"][len(f"file:{root}/"):]: a for a in json.loads(r.output)["actions"]}
    assert by_rel["tmp/bulk_dump"]["status"] == "skipped"
    assert by_rel["tmp/bulk_dump"]["reason"].startswith("refused: contains batch=1/part-00001.csv, kept by frank")
    assert by_rel["exports/Thumbs.db"] == {**by_rel["exports/Thumbs.db"], "status": "skipped",
                                           "reason": "refused: kept by frank: evidence"}
    assert by_rel["exports/.DS_Store"]["status"] == "done"  # the rest of the plan goes ahead
    after = tree(root)
    assert {k: v for k, v in snapshot.items() if k.startswith("tmp/bulk_dump") or k == "exports/Thumbs.db"} == \
        {k: v for k, v in after.items() if k.startswith("tmp/bulk_dump") or k == "exports/Thumbs.db"}

"""Benchmark: the weight of the review report with 10,000 findings — bytes of report.html and its
load time in headless Chromium (the browser tests' DevTools client, tests/browser_support.py).

    PYTHONPATH=. python benchmarks/bench_report.py [--loads 9] [--findings 10000] [--against /work/main]

Two lakes, as the tests build them: ``lean`` (tests/test_report.py's 10,000-finding fixture) and
``realistic`` (tests/test_report_browser.py's ``report_result``: datasets, lineage, evidence as the
detectors write it). Each is rendered as given (``baseline``: no owners, tables or decisions) and
``reviewed`` — the same findings with an owner on 9 in 10 (12 teams), a catalog table on half, and
a decision on 1 in 10 (kept, approved, stale), what issue #12's report shows on top.

``--against CHECKOUT`` renders the same pages with another checkout of rotscan too (in a
subprocess with ``PYTHONPATH=CHECKOUT``), so a change is measured against the code before it. All
pages are loaded round-robin, one fresh tab per load, ``--loads`` rounds, so load from other
processes on the machine falls on every page alike. Printed per page: bytes, the median load event
(navigation timing, ms), the median main-thread script time (``Performance.getMetrics``
ScriptDuration, ms) and the median CPU time the renderer spent on the load (``SystemInfo.
getProcessInfo``, ms: on a busy machine the wall times stretch with the others' work, the CPU time
much less); then ratios. Everything is measured in this run; nothing is a target.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from rotscan.models import Decision, Finding, ScanResult
from rotscan.report import write_report
from tests.browser_support import Chromium, ReportView, find_chromium

TEAMS = tuple(f"team-{name}" for name in ("sales", "marketing", "finance", "logistics", "research", "platform",
                                            "ml", "bi", "risk", "ops", "data-eng", "growth"))

# renders a result (findings.json + lineage) with whatever rotscan PYTHONPATH points at
RENDER = """
import json, sys
from dataclasses import replace
from pathlib import Path
from rotscan.models import ScanResult
from rotscan.report import write_report
doc = json.loads(Path(sys.argv[1]).read_text())
result = replace(ScanResult.from_dict(doc["result"]), lineage=doc["lineage"])
write_report(result, Path(sys.argv[2]), price_per_gb_month=0.023, currency="USD")
"""


def lean(n: int) -> ScanResult:
    from tests.test_report import ROOT as LEAN_ROOT
    from tests.test_report import finding, sample_result, scan_info

    findings = tuple(
        finding(f"zone{i % 7}/table_{i:05d}/part-{i:05d}.parquet", ("redundant", "obsolete", "trivial")[i % 3],
                ("exact_duplicate", "unread", "junk_file", "write_debris")[i % 4], 1_000 + i * 97,
                confidence=(i % 100) / 100, related=(f"{LEAN_ROOT}/warehouse/t{i % 50}",),
                explanation=f"same rows as warehouse/t{i % 50}; not read in {i % 400} days",
                evidence={"jaccard": 0.97, "containment": 1.0, "rows": 1000 + i})
        for i in range(n)
    )
    return ScanResult(scan_info(), sample_result().datasets, findings, ())


def realistic(n: int) -> ScanResult:
    from tests.test_report_browser import report_result

    return report_result(n, seed=10)


def reviewed(result: ScanResult) -> ScanResult:
    """The same findings with owners, tables and decisions as a reviewed lake has them."""
    at = result.scan.as_of - timedelta(days=20)
    out: list[Finding] = []
    for i, f in enumerate(result.findings):
        owner = None if i % 10 == 9 else TEAMS[i % len(TEAMS)]
        table = f"{owner or 'default'}_db.t_{i:05d}" if i % 2 == 0 else None
        decision = None
        if i % 10 == 3:
            kind = ("keep", "approve", "keep", "keep")[(i // 10) % 4]
            stale = (i // 10) % 7 == 0
            decision = Decision(decision=kind, by="ana@example.com", at=at,
                                reason="audit copy, kept for the regulator" if kind == "keep" else "",
                                until=result.scan.as_of + timedelta(days=90) if kind == "keep" else None,
                                id=f"d{i:05d}", match=f.id, fingerprint="fp", stale=stale,
                                stale_reason="the data changed since the decision (Delta version 4 then, 5 now)"
                                if stale else None)
        out.append(replace(f, owner=owner, owner_source="config" if owner else None, table=table, decision=decision))
    return replace(result, findings=tuple(out))


def render_with(checkout: str, result: ScanResult, out: Path) -> Path:
    src = out.with_suffix(".json")
    src.write_text(json.dumps({"result": result.to_dict(), "lineage": result.lineage}))
    env = {**os.environ, "PYTHONPATH": checkout}
    # run outside any checkout: "-c" puts the working directory first on sys.path
    subprocess.run([sys.executable, "-c", RENDER, str(src), str(out)], check=True, env=env, cwd=out.parent)
    return out / "report.html"


def renderer_cpu(browser: Chromium) -> float:
    """CPU seconds used so far by the browser's renderer processes (SystemInfo.getProcessInfo)."""
    info = browser.send("SystemInfo.getProcessInfo")["processInfo"]
    return sum(p["cpuTime"] for p in info if p["type"] == "renderer")


def measure(browser: Chromium, path: Path) -> tuple[float, float, float]:
    """(load event ms, main-thread script ms, renderer CPU ms) of one load in a fresh tab. The CPU
    time is what the page costs whatever else runs on the machine; wall times are not."""
    with browser.page() as page:
        page.send("Performance.enable")
        view = ReportView(page, path)
        cpu0 = renderer_cpu(browser)
        view.load()
        cpu = renderer_cpu(browser) - cpu0
        load = view.timing()["load"]
        metrics = {m["name"]: m["value"] for m in page.send("Performance.getMetrics")["metrics"]}
        problems = page.problems()
        assert not problems, problems
    return load, metrics.get("ScriptDuration", float("nan")) * 1000, cpu * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--findings", type=int, default=10_000)
    parser.add_argument("--loads", type=int, default=9)
    parser.add_argument("--against", default=None, metavar="CHECKOUT",
                        help="another rotscan checkout to render the same pages with (the code before a change)")
    args = parser.parse_args()
    binary = find_chromium()
    if binary is None:
        raise SystemExit("chromium not found (apt-get install chromium, or set ROTSCAN_CHROMIUM)")
    with tempfile.TemporaryDirectory(prefix="rotscan-bench-report-") as tmp:
        pages: dict[str, Path] = {}
        for name, build in (("lean", lean), ("realistic", realistic)):
            base = build(args.findings)
            for variant, result in (("baseline", base), ("reviewed", reviewed(base))):
                started = time.perf_counter()
                pages[f"{name} {variant} this"] = write_report(result, Path(tmp) / f"{name}-{variant}-this",
                                                               price_per_gb_month=0.023, currency="USD")
                secs = time.perf_counter() - started
                print(f"rendered {name} {variant} in {secs:.2f} s", flush=True)
                if args.against:
                    pages[f"{name} {variant} against"] = render_with(args.against, result,
                                                                     Path(tmp) / f"{name}-{variant}-against")
        loads: dict[str, list[float]] = {k: [] for k in pages}
        scripts: dict[str, list[float]] = {k: [] for k in pages}
        cpus: dict[str, list[float]] = {k: [] for k in pages}
        with Chromium(binary) as browser:
            for _ in range(args.loads):
                for key, path in pages.items():
                    load, script, cpu = measure(browser, path)
                    loads[key].append(load)
                    scripts[key].append(script)
                    cpus[key].append(cpu)
        med = {k: statistics.median(v) for k, v in loads.items()}
        smed = {k: statistics.median(v) for k, v in scripts.items()}
        cmed = {k: statistics.median(v) for k, v in cpus.items()}
        size = {k: p.stat().st_size for k, p in pages.items()}
        print(f"\n{'page':34} {'bytes':>11} {'load ms':>8} {'script ms':>9} {'cpu ms':>7}   (medians of {args.loads} loads)")
        for k in pages:
            print(f"{k:34} {size[k]:>11,} {med[k]:>8.0f} {smed[k]:>9.0f} {cmed[k]:>7.0f}")
        print()

        def ratios(x: str, y: str) -> str:
            return (f"bytes {size[x] / size[y]:.3f}x, load {med[x] / med[y]:.2f}x, script {smed[x] / smed[y]:.2f}x, "
                    f"cpu {cmed[x] / cmed[y]:.2f}x")

        for name in ("lean", "realistic"):
            print(f"{name:9} reviewed / baseline (this code): {ratios(f'{name} reviewed this', f'{name} baseline this')}")
            if args.against:
                print(f"{name:9} baseline, this / against:       {ratios(f'{name} baseline this', f'{name} baseline against')}")


if __name__ == "__main__":
    main()

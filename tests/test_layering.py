"""The package's layering, checked on the source: every ``rotscan`` import (module level, inside
functions and under TYPE_CHECKING alike) goes down the data path's layers or stays in its own, no
lower layer reaches into report/ or cleanup/, and no two modules import each other in a cycle.

Layers, lowest first: foundation (errors, uri, models, config, storage, core helpers) → domain
readers (crawl, usage, redundancy signatures, scan state, settings) → rules (detect) → the Spark
edge and the shared runtime → outputs and actions (findings files, report, cleanup) → orchestration
(listing, profiling, scan, the CLI).
"""

from __future__ import annotations

import ast
import importlib
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "rotscan"

LAYERS: tuple[tuple[str, ...], ...] = (
    ("rotscan", "rotscan.errors", "rotscan.uri", "rotscan.models", "rotscan.config", "rotscan.atomic",
     "rotscan.core", "rotscan.storage"),
    ("rotscan.crawl", "rotscan.usage", "rotscan.redundancy", "rotscan.state", "rotscan.settings", "rotscan.catalog",
     "rotscan.owners"),
    ("rotscan.detect",),
    ("rotscan.spark", "rotscan.runtime"),
    ("rotscan.findings_io", "rotscan.report", "rotscan.cleanup", "rotscan.decisions"),
    ("rotscan.listing", "rotscan.profiling", "rotscan.registration", "rotscan.scan", "rotscan.demo", "rotscan.cli", "rotscan.cli_common",
     "rotscan.cli_cleanup", "rotscan.cli_decide", "rotscan.cli_run", "rotscan.scheduled", "rotscan.__main__"),
)
# Siblings in one layer that must stay apart. The report shows a cleanup plan, through the plan
# module's public loader only; cleanup never needs the report.
FORBIDDEN = (("rotscan.report", "rotscan.cleanup", ("rotscan.cleanup.plan",)),
             ("rotscan.cleanup", "rotscan.report", ()))


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The rotscan modules ``name`` imports anywhere in its source."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("rotscan"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("rotscan"):
                continue
            for alias in node.names:  # `from rotscan.cleanup import fingerprint` imports a module
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in MODULES else target)
    found.discard(name)
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _layer(name: str) -> int:
    best, rank = -1, -1
    for i, prefixes in enumerate(LAYERS):
        for p in prefixes:
            # the root package is only itself (its modules each have a layer of their own)
            if (name == p or (p != "rotscan" and name.startswith(p + "."))) and len(p) > best:
                best, rank = len(p), i
    assert rank >= 0, f"{name} is in no layer: add it to LAYERS in {__file__}"
    return rank


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def test_every_module_is_in_a_layer() -> None:
    for name in MODULES:
        _layer(name)


def _violations(graph: dict[str, set[str]]) -> list[str]:
    upward = [f"{a} (layer {_layer(a)}) imports {b} (layer {_layer(b)})"
              for a, targets in graph.items() for b in sorted(targets) if _layer(b) > _layer(a)]
    apart = [f"{a} imports {b}" for a, targets in graph.items() for b in sorted(targets)
             for src, dst, allowed in FORBIDDEN if _under(a, src) and _under(b, dst) and b not in allowed]
    return upward + apart


def test_imports_go_down_the_layers_and_siblings_stay_apart() -> None:
    bad = _violations(GRAPH)
    assert not bad, "\n".join(bad)


def test_the_layering_check_finds_violations() -> None:
    # the two kinds of edge this split removed must be reported if they came back
    graph = {k: set(v) for k, v in GRAPH.items()}
    graph["rotscan.detect.trivial"].add("rotscan.report.summary")
    graph["rotscan.report.history"].add("rotscan.cleanup.journal")
    bad = _violations(graph)
    assert "rotscan.detect.trivial (layer 2) imports rotscan.report.summary (layer 4)" in bad
    assert "rotscan.report.history imports rotscan.cleanup.journal" in bad


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan). A package's own
    ``__init__`` re-exporting its modules is not a cycle: edges to a package from inside it are
    the implicit parent import, not a dependency."""
    edges = {a: {b for b in bs if b in graph and not _under(a, b)} for a, bs in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles() -> None:
    assert _cycles(GRAPH) == []


def test_the_cycle_check_finds_a_cycle() -> None:
    # the check itself must be able to fail: a planted two-module cycle and a three-module one
    graph = {k: set(v) for k, v in GRAPH.items()}
    graph["rotscan.models"].add("rotscan.report.html")
    graph["rotscan.uri"].add("rotscan.core.jsonlines")
    graph["rotscan.core.jsonlines"].add("rotscan.errors")
    graph["rotscan.errors"].add("rotscan.uri")
    found = _cycles(graph)
    assert any("rotscan.models" in c and "rotscan.report.html" in c for c in found)
    assert ["rotscan.core.jsonlines", "rotscan.errors", "rotscan.uri"] in found


@pytest.mark.parametrize("name", sorted(set(MODULES) - {"rotscan.__main__"}))  # __main__ runs the CLI
def test_every_module_imports(name: str) -> None:
    importlib.import_module(name)


def test_importing_the_cli_starts_no_jvm() -> None:
    import subprocess
    import sys

    code = ("import sys, rotscan.cli, rotscan.scan, rotscan.cleanup.apply, rotscan.report.html; "
            "print(any(m.startswith(('pyspark', 'py4j')) for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=PACKAGE.parent)
    assert out.stdout.strip() == "False"


def test_graph_is_read_from_the_source() -> None:
    # a sanity check of the parser on a known edge in each direction of the data path
    assert "rotscan.crawl.inventory" in GRAPH["rotscan.listing"]
    assert "rotscan.spark.verifier" in GRAPH["rotscan.scan"]
    assert defaultdict(set, GRAPH)["rotscan.errors"] == set()

"""The layering the code is meant to keep, checked on its imports (type-only ones too).

Each package of ``sluicegate`` (and each top-level module) is a node; an import
of one by another is an edge. There must be no cycle between nodes, the
pipeline's interfaces must not know the stages built on them, and the public
API's server and the admin API must not know each other: the application that
holds both is composed above them, in ``sluicegate/app.py``.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import sluicegate

ROOT = Path(sluicegate.__file__).parent

# The packages of stages (and what only stages use): the pipeline's interfaces
# must not import any of them.
STAGES = {"accounting", "admission", "auth", "cache", "idempotency", "ingress", "routing",
          "upstream", "fairness"}


def node_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "sluicegate" or len(parts) < 2:
        return None
    return parts[1]


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for path in ROOT.rglob("*.py"):
        relative = path.relative_to(ROOT.parent).with_suffix("")
        here = node_of(".".join(relative.parts))
        assert here is not None
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                there = node_of(name)
                if there is not None and there != here:
                    graph[here].add(there)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found: list[list[str]] = []
    for start in sorted(graph):
        stack = [(start, [start])]
        while stack:
            node, path = stack.pop()
            for nxt in sorted(graph.get(node, ())):
                if nxt == start:
                    found.append(path)
                elif nxt not in path and nxt > start:
                    stack.append((nxt, [*path, nxt]))
    return found


def test_no_package_imports_itself_through_others() -> None:
    assert cycles(import_graph()) == []


def test_the_pipeline_interfaces_know_no_stage() -> None:
    assert import_graph()["pipeline"] & STAGES == set()


def test_the_server_and_the_admin_api_do_not_import_each_other() -> None:
    graph = import_graph()
    assert "admin" not in graph["server"] and "server" not in graph["admin"]

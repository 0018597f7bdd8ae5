"""`preflight graph`: cells, their main components and the global endpoint, as Mermaid or DOT."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from preflight.graph import build_graph, render
from tests.conftest import of_type, run_preflight


def _cells(plan: dict[str, Any]) -> list[str]:
    return sorted(c["name"] for c in of_type(plan, "aiinfra:index:Cell"))


@pytest.mark.parametrize("fmt", ["mermaid", "dot"])
def test_cli_output_is_the_deterministic_render_of_the_plan(plans: dict[str, Any], fmt: str) -> None:
    proc = run_preflight("graph", "prod", "--format", fmt)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == render(plans["prod"], fmt)
    assert render(plans["prod"], fmt) == render(plans["prod"], fmt)


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_mermaid_has_every_cell_and_the_global_endpoint(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    text = render(plan, "mermaid")
    assert text.splitlines()[1] == "flowchart LR"
    [glob] = of_type(plan, "aiinfra:traffic:GlobalEndpoint")
    hostname = glob["outputs"]["hostname"]
    assert f'g_global{{{{"global {hostname}' in text
    for cell in _cells(plan):
        ident = "cell_" + re.sub(r"[^A-Za-z0-9_]", "_", cell)
        assert re.search(rf'^    subgraph {ident}\["{re.escape(cell)} \(', text, re.M), cell
    # One edge from the global endpoint to each backend cell's entry endpoint.
    backends = [b["name"] for b in glob["outputs"]["backends"]]
    targets = re.findall(r"^    g_global -->\|\"[^\"]*\"\| (\S+)$", text, re.M)
    assert len(targets) == len(backends) == len(_cells(plan))
    for backend, target in zip(backends, targets):
        assert target.startswith("n_" + re.sub(r"[^A-Za-z0-9_]", "_", backend) + "_")
    assert text.count("\n    subgraph ") == text.count("\n    end\n") == len(_cells(plan))


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_dot_has_every_cell_and_the_global_endpoint(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    text = render(plan, "dot")
    assert f'digraph "aiinfra-{stack}" {{' in text and text.rstrip().endswith("}")
    assert text.count("{") == text.count("}")
    [glob] = of_type(plan, "aiinfra:traffic:GlobalEndpoint")
    assert f'"g_global" [label="global {glob["outputs"]["hostname"]}' in text
    for cell in _cells(plan):
        ident = "cell_" + re.sub(r"[^A-Za-z0-9_]", "_", cell)
        assert f'subgraph "cluster_{ident}" {{' in text and f'label="{cell} (' in text
    edges = re.findall(r'^    "g_global" -> "(\S+)" \[label="(weight|priority) \d+"\];$', text, re.M)
    assert len(edges) == len(glob["outputs"]["backends"])


def test_main_components_are_nodes_and_children_are_folded(plans: dict[str, Any]) -> None:
    plan = plans["prod"]
    graph = build_graph(plan)
    kinds = {}
    for node in graph.nodes:
        kinds.setdefault(node.kind, 0)
        kinds[node.kind] += 1
    assert kinds == {"global": 1, "network": 3, "cluster": 3, "gpu-pool": 3, "endpoint": 6, "store": 3, "backup": 3}
    # The Azure AKS-backup staging store is part of its backup plan, not a node of its own.
    assert not any("staging" in n.label for n in graph.nodes)
    by_id = {n.id: n for n in graph.nodes}
    pairs = {(by_id[e.source].kind, by_id[e.target].kind) for e in graph.edges if e.target in by_id}
    assert {("cluster", "network"), ("gpu-pool", "cluster"), ("endpoint", "cluster"), ("endpoint", "store"),
            ("global", "endpoint")} <= pairs
    # Edges never cross cells, except from the global endpoint.
    for e in graph.edges:
        if e.source != "g_global":
            assert by_id[e.source].group == by_id[e.target].group


def test_a_stack_without_traffic_has_no_global_node(plans: dict[str, Any]) -> None:
    text = render(plans["dev"], "mermaid")
    assert "g_global" not in text
    assert 'subgraph cell_aws_use1["aws-use1 (aws us-east-1)"]' in text
    assert "GPU pool gpu-t4spot<br/>g4dn.xlarge x 0-2 spot" in text


def test_out_writes_a_file(tmp_path: Path) -> None:
    out = tmp_path / "dev.dot"
    proc = run_preflight("graph", "dev", "--format", "dot", "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert out.read_text().startswith("// aiinfra-dev") and "graph written to" in proc.stdout


def test_unknown_format_is_rejected() -> None:
    proc = run_preflight("graph", "dev", "--format", "svg")
    assert proc.returncode == 2 and "invalid choice" in proc.stderr

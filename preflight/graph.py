"""`preflight graph`: the shape of a plan at a glance, as Mermaid or Graphviz DOT.

One box per cell (its cloud and region), inside it the main components
(network, cluster, GPU pools, endpoints, object store, backup), and the global
endpoint with an edge to each backend cell's entry endpoint. Not every
resource: a component's children are folded into it, and an edge A -> B means
something in A depends on something in B (a dependency, a property dependency or
its provider).

Everything comes from the plan JSON (component types, outputs, parents and
dependencies); output is deterministic: the same plan gives the same text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterator

from .cost import CELL_TYPE, UNKNOWN, PlanIndex

GLOBAL_TYPE = "aiinfra:traffic:GlobalEndpoint"
NODE_KINDS: dict[str, str] = {
    "aiinfra:network:Network": "network",
    "aiinfra:compute:KubernetesCluster": "cluster",
    "aiinfra:compute:GpuNodePool": "gpu-pool",
    "aiinfra:serving:ModelEndpoint": "endpoint",
    "aiinfra:storage:ObjectStore": "store",
    "aiinfra:backup:BackupPlan": "backup",
}
"""Component types drawn as nodes, and their kind (which also orders them inside a cell)."""
_ORDER = {kind: i for i, kind in enumerate(NODE_KINDS.values())}
_NESTABLE_UNDER = {"aiinfra:compute:KubernetesCluster"}
"""A node type nested in another node is folded into it, except under these (GPU pools join clusters)."""
FORMATS = ("mermaid", "dot")


@dataclass(frozen=True)
class Node:
    id: str
    urn: str
    kind: str
    label: str
    """Lines separated by newlines."""
    group: str | None
    """The cell it belongs to, None outside any cell."""
    name: str = ""
    """The component's resource name."""


@dataclass(frozen=True)
class Group:
    id: str
    name: str
    label: str


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str = ""
    target_is_group: bool = False


@dataclass
class Graph:
    title: str
    groups: list[Group] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)


def _ident(prefix: str, name: str, taken: set[str]) -> str:
    base = f"{prefix}_{re.sub(r'[^A-Za-z0-9_]', '_', name)}"
    ident, n = base, 2
    while ident in taken:
        ident, n = f"{base}_{n}", n + 1
    taken.add(ident)
    return ident


def _known(value: Any) -> bool:
    return value is not None and value != UNKNOWN and value != ""


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _range(lo: Any, hi: Any) -> str:
    return f"{lo}" if lo == hi else f"{lo}-{hi}"


def _label(kind: str, short: str, out: dict[str, Any]) -> str:
    if kind == "network":
        zones = out.get("zones")
        return "network" + (f"\n{len(zones)} zones" if isinstance(zones, list) and zones else "")
    if kind == "cluster":
        name = out.get("cluster_name")
        version = out.get("version")
        return ("cluster" + (f" {name}" if _known(name) else "")
                + (f"\nKubernetes {version}" if _known(version) else ""))
    if kind == "gpu-pool":
        machine = out.get("machine_type", "?")
        spot = " spot" if out.get("spot") else ""
        return f"GPU pool {short}\n{machine} x {_range(out.get('min_nodes', '?'), out.get('max_nodes', '?'))}{spot}"
    if kind == "endpoint":
        mode = out.get("mode", "?")
        return (f"endpoint {short}\n{mode}, "
                f"{_range(out.get('min_replicas', '?'), out.get('max_replicas', '?'))} replicas")
    if kind == "store":
        bucket = out.get("bucket_name")
        return "object store" + (f"\n{bucket}" if _known(bucket) else "")
    if kind == "backup":
        parts = []
        if _known(out.get("rpo_minutes")):
            parts.append(f"RPO {out['rpo_minutes']} min")
        if _known(out.get("retention_days")):
            parts.append(f"keep {out['retention_days']} d")
        if _known(out.get("copy_to_region")):
            parts.append(f"copy to {out['copy_to_region']}")
        return "backup" + (f"\n{', '.join(parts)}" if parts else "")
    return short


def build_graph(plan: dict[str, Any]) -> Graph:
    """The cells, their main components, the global endpoint and the edges between them."""
    idx = PlanIndex(plan)
    graph = Graph(title=f"{plan.get('project', '')}-{plan.get('stack', '')}")
    taken: set[str] = set()

    cells = sorted(idx.of_type(CELL_TYPE), key=lambda r: r["name"])
    group_of_cell: dict[str, Group] = {}
    for cell in cells:
        out = cell.get("outputs") or {}
        where = " ".join(str(out[k]) for k in ("cloud", "region") if _known(out.get(k)))
        group = Group(_ident("cell", cell["name"], taken), cell["name"],
                      cell["name"] + (f" ({where})" if where else ""))
        group_of_cell[cell["name"]] = group
        graph.groups.append(group)

    def is_node(r: dict[str, Any]) -> bool:
        if r["type"] not in NODE_KINDS:
            return False
        holder = next((a for a in idx.ancestors(r) if a["type"] in NODE_KINDS), None)
        return holder is None or holder["type"] in _NESTABLE_UNDER

    node_by_urn: dict[str, Node] = {}
    candidates = [r for r in idx.resources if is_node(r)]

    def sort_key(r: dict[str, Any]) -> tuple[int, str, int, str]:
        cell = idx.cell(r)
        return (0 if cell in group_of_cell else 1, cell, _ORDER[NODE_KINDS[r["type"]]], r["name"])

    for r in sorted(candidates, key=sort_key):
        cell = idx.nearest(r, CELL_TYPE)
        cell_name = cell["name"] if cell is not None else None
        name: str = r["name"]
        short = name[len(cell_name) + 1:] if cell_name and name.startswith(cell_name + "-") else name
        kind = NODE_KINDS[r["type"]]
        node = Node(_ident("n", name, taken), r["urn"], kind, _label(kind, short, r.get("outputs") or {}),
                    group_of_cell[cell_name].id if cell_name else None, name)
        node_by_urn[r["urn"]] = node
        graph.nodes.append(node)

    def owner(urn: str | None) -> Node | None:
        r = idx.by_urn.get(urn or "")
        if r is None and urn and "::" in urn:
            r = idx.by_urn.get(urn.rsplit("::", 1)[0])  # a provider reference "urn::id"
        while r is not None:
            if r["urn"] in node_by_urn:
                return node_by_urn[r["urn"]]
            r = idx.by_urn.get(r.get("parent") or "")
        return None

    edges: set[tuple[str, str]] = set()
    for r in idx.resources:
        source = owner(r["urn"])
        if source is None:
            continue
        deps = set(r.get("dependencies") or [])
        for values in (r.get("propertyDependencies") or {}).values():
            deps.update(values)
        if r.get("provider"):
            deps.add(r["provider"])
        for dep in deps:
            target = owner(dep)
            if target is not None and target.id != source.id:
                edges.add((source.id, target.id))
    order = {n.id: i for i, n in enumerate(graph.nodes)}
    graph.edges.extend(Edge(s, t) for s, t in sorted(edges, key=lambda e: (order[e[0]], order[e[1]])))

    for glob in sorted(idx.of_type(GLOBAL_TYPE), key=lambda r: r["name"]):
        graph.edges.extend(_global_edges(idx, graph, glob, group_of_cell, taken))
    return graph


def _global_edges(idx: PlanIndex, graph: Graph, glob: dict[str, Any], group_of_cell: dict[str, Group],
                  taken: set[str]) -> list[Edge]:
    out = glob.get("outputs") or {}
    lines = ["global endpoint"]
    if _known(out.get("hostname")):
        lines[0] = f"global {out['hostname']}"
    detail = " ".join(str(out[k]) for k in ("provider", "policy") if _known(out.get(k)))
    if detail:
        lines.append(detail)
    gid = _ident("g", glob["name"], taken)
    graph.nodes.insert(0, Node(gid, glob["urn"], "global", "\n".join(lines), None))
    mentioned = {s for d in (glob, *idx.descendants(glob)) for s in _strings(d.get("inputs") or {})}
    traffic = (idx.plan.get("outputs") or {}).get("traffic")
    served = traffic.get("endpoint") if isinstance(traffic, dict) else None
    edges: list[Edge] = []
    backends = out.get("backends") if isinstance(out.get("backends"), list) else []
    for backend in backends or []:
        if not isinstance(backend, dict) or backend.get("name") not in group_of_cell:
            continue
        group = group_of_cell[backend["name"]]
        label = (f"priority {backend['priority']}" if _known(backend.get("priority"))
                 else f"weight {backend['weight']}" if _known(backend.get("weight")) else "")
        endpoints = [n for n in graph.nodes if n.group == group.id and n.kind == "endpoint"]
        # The endpoint whose entry hostname the global endpoint's resources name; else the one the
        # stack's `traffic.endpoint` output names (backends given by IP mention no hostname).
        target = next((n for n in endpoints
                       if _known(entry := (idx.by_urn[n.urn].get("outputs") or {}).get("entry_hostname"))
                       and entry in mentioned), None) or next(
            (n for n in endpoints if isinstance(served, str) and n.name == f"{group.name}-{served}"), None)
        edges.append(Edge(gid, target.id, label) if target else Edge(gid, group.id, label, target_is_group=True))
    return edges


# --- Rendering ------------------------------------------------------------------------------------
def _mermaid_text(text: str) -> str:
    return text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;") \
        .replace("\n", "<br/>")


def to_mermaid(graph: Graph) -> str:
    lines = [f"%% {graph.title}: cells, their main components and global traffic (preflight graph)",
             "flowchart LR"]

    def node_line(n: Node, indent: str) -> str:
        text = _mermaid_text(n.label)
        return f'{indent}{n.id}{{{{"{text}"}}}}' if n.kind == "global" else f'{indent}{n.id}["{text}"]'

    for n in graph.nodes:
        if n.group is None:
            lines.append(node_line(n, "    "))
    for g in graph.groups:
        lines.append(f'    subgraph {g.id}["{_mermaid_text(g.label)}"]')
        lines.append("        direction TB")
        lines.extend(node_line(n, "        ") for n in graph.nodes if n.group == g.id)
        lines.append("    end")
    for e in graph.edges:
        arrow = f'-->|"{_mermaid_text(e.label)}"|' if e.label else "-->"
        lines.append(f"    {e.source} {arrow} {e.target}")
    return "\n".join(lines) + "\n"


def _dot_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def to_dot(graph: Graph) -> str:
    lines = [f'// {graph.title}: cells, their main components and global traffic (preflight graph)',
             f'digraph "{_dot_text(graph.title)}" {{',
             "    rankdir=LR;",
             "    compound=true;",
             '    node [shape=box, style=rounded, fontname="Helvetica"];',
             '    edge [fontname="Helvetica"];']

    def node_line(n: Node, indent: str) -> str:
        shape = ", shape=hexagon" if n.kind == "global" else ""
        return f'{indent}"{n.id}" [label="{_dot_text(n.label)}"{shape}];'

    for n in graph.nodes:
        if n.group is None:
            lines.append(node_line(n, "    "))
    first_in: dict[str, str] = {}
    for g in graph.groups:
        lines.append(f'    subgraph "cluster_{g.id}" {{')
        lines.append(f'        label="{_dot_text(g.label)}";')
        members = [n for n in graph.nodes if n.group == g.id]
        if not members:  # an empty cell still shows, and edges can point at it
            members_line = f'        "{g.id}_empty" [label="(no components)", shape=plaintext];'
            lines.append(members_line)
            first_in[g.id] = f"{g.id}_empty"
        for n in members:
            lines.append(node_line(n, "        "))
            first_in.setdefault(g.id, n.id)
        lines.append("    }")
    for e in graph.edges:
        attrs: list[str] = []
        target = e.target
        if e.target_is_group:
            target = first_in[e.target]
            attrs.append(f'lhead="cluster_{e.target}"')
        if e.label:
            attrs.append(f'label="{_dot_text(e.label)}"')
        suffix = f" [{', '.join(attrs)}]" if attrs else ""
        lines.append(f'    "{e.source}" -> "{target}"{suffix};')
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(plan: dict[str, Any], fmt: str) -> str:
    """The plan's graph as `fmt` (mermaid or dot)."""
    graph = build_graph(plan)
    if fmt == "mermaid":
        return to_mermaid(graph)
    if fmt == "dot":
        return to_dot(graph)
    raise ValueError(f"unknown graph format {fmt!r}; allowed: {', '.join(FORMATS)}")

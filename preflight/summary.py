"""Human-readable views of a plan: the component tree, counts per cloud and per type."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

STACK_TYPE = "pulumi:pulumi:Stack"


def package_of(type_token: str) -> str:
    """`aws:s3/bucket:Bucket` -> `aws`; provider resources count for their package."""
    if type_token.startswith("pulumi:providers:"):
        return type_token.split(":", 2)[2]
    return type_token.split(":", 1)[0]


def managed_resources(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """Resources a cloud would hold: custom resources, providers excluded."""
    return [r for r in plan["resources"]
            if r["custom"] and not r["type"].startswith("pulumi:providers:")]


def resource_tree(plan: dict[str, Any]) -> Tree:
    children: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
    root: dict[str, Any] | None = None
    for r in plan["resources"]:
        if r["type"] == STACK_TYPE:
            root = r
        else:
            children[r["parent"]].append(r)
    label = f"[bold]{plan['project']}-{plan['stack']}[/bold] (pulumi:pulumi:Stack)"
    tree = Tree(label)

    def add(node: Tree, parent_urn: str | None) -> None:
        kids = sorted(children.get(parent_urn, []), key=lambda r: (r["custom"], r["name"]))
        for r in kids:
            if r["custom"]:
                node.add(f"{r['name']} [dim]{r['type']}[/dim]")
            else:
                count = _count_custom(r["urn"], children)
                sub = node.add(f"[bold cyan]{r['name']}[/bold cyan] [dim]{r['type']}[/dim] ({count} resources)")
                add(sub, r["urn"])

    add(tree, root["urn"] if root else None)
    orphans = [r for r in plan["resources"] if r["parent"] is None and r["type"] != STACK_TYPE]
    for r in orphans:
        tree.add(f"{r['name']} [dim]{r['type']}[/dim] (no parent)")
    return tree


def _count_custom(urn: str, children: dict[str | None, list[dict[str, Any]]]) -> int:
    total = 0
    for r in children.get(urn, []):
        total += 1 if r["custom"] else _count_custom(r["urn"], children)
    return total


def counts_tables(plan: dict[str, Any]) -> tuple[Table, Table]:
    resources = [r for r in plan["resources"] if r["custom"]]
    per_cloud = Counter(package_of(r["type"]) for r in resources)
    per_type = Counter(r["type"] for r in resources)
    clouds = Table(title="Resources per cloud", title_justify="left")
    clouds.add_column("package")
    clouds.add_column("resources", justify="right")
    for pkg, n in sorted(per_cloud.items()):
        clouds.add_row(pkg, str(n))
    clouds.add_row("[bold]total[/bold]", f"[bold]{sum(per_cloud.values())}[/bold]")
    types = Table(title="Resources per type", title_justify="left")
    types.add_column("type")
    types.add_column("count", justify="right")
    for typ, n in sorted(per_type.items()):
        types.add_row(typ, str(n))
    return clouds, types


def print_summary(plan: dict[str, Any], console: Console, logs: list[tuple[str, str, str]]) -> None:
    console.print(resource_tree(plan))
    clouds, types = counts_tables(plan)
    console.print(clouds)
    console.print(types)
    components = sum(1 for r in plan["resources"] if not r["custom"] and r["type"] != STACK_TYPE)
    console.print(
        f"{len(managed_resources(plan))} cloud resources, "
        f"{sum(1 for r in plan['resources'] if r['type'].startswith('pulumi:providers:'))} providers, "
        f"{components} components; {len(plan['outputs'])} stack outputs.")
    for severity, message, urn in logs:
        where = f" ({urn.rsplit('::', 1)[-1]})" if urn else ""
        console.print(f"[yellow]{severity}[/yellow]{escape(where)}: {escape(message)}", highlight=False)
    if plan["offline"]["invokes"]:
        console.print("[dim]answered offline (not real data): "
                      + ", ".join(plan["offline"]["invokes"]) + "[/dim]")

"""`preflight trace STACK URL`: follow a request through the plan, hop by hop, per backend.

The model is the `requestpath` package (policies/requestpath, installed as a top-level package),
the same one the policy pack's stack rules call: DNS record -> entry (the load balancer object
owning the address) -> listener and certificate -> routing rule -> Service -> workload -> auth.
Every hop names the resource implementing it; a broken hop says why, with the source of the
controller behaviour it relies on (`requestpath/facts.py`).

Exit 0 when every backend (at least one) reaches a serving workload with no broken hop; 1 otherwise,
naming the first broken hop of each failing backend (or where it stopped, when the plan cannot tell).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.tree import Tree

from requestpath import FACTS, Backend, Hop, Status, Trace, UrlError, parse_url, trace

__all__ = ["UrlError", "check_url", "render", "run", "write_json"]

_MARK = {Status.OK: "[green]ok[/green]", Status.BROKEN: "[bold red]BROKEN[/bold red]",
         Status.UNKNOWN: "[yellow]unknown-offline[/yellow]"}


def check_url(url: str) -> None:
    """Raise UrlError for a URL that cannot be traced (before anything is planned)."""
    parse_url(url)


def run(plan: dict[str, Any], url: str) -> Trace:
    return trace(plan.get("resources", []), url)


def _resource(plan_index: dict[str, dict[str, Any]], urn: str | None) -> str:
    if urn is None:
        return ""
    r = plan_index.get(urn)
    name = urn.rsplit("::", 1)[-1]
    kind = r["type"] if r is not None else urn.split("::")[2].rsplit("$", 1)[-1]
    return f"{name} ({kind})"


def _state(b: Backend) -> str:
    if b.serving:
        return "[green]serving[/green]"
    verdict = b.verdict
    if verdict is not None:
        return f"[bold red]broken at {escape(verdict.name)}[/bold red]"
    stopped = b.stopped
    return f"[yellow]stopped at {escape(stopped.name)} (unknown offline)[/yellow]" if stopped else "[yellow]no hop[/yellow]"


def _hop_label(hop: Hop, where: str) -> str:
    text = f"{_MARK[hop.status]} [bold]{escape(hop.name)}[/bold]: {escape(hop.detail)}"
    if where:
        text += f"\n[dim]{escape(where)}[/dim]"
    if hop.status is Status.BROKEN:
        for key in hop.facts:
            fact = FACTS.get(key)
            if fact is not None:
                text += f"\n[dim]because: {escape(fact.says)} ({escape(fact.source)})[/dim]"
    return text


def render(result: Trace, plan: dict[str, Any], stack: str, out: Console) -> None:
    index = {r["urn"]: r for r in plan.get("resources", [])}
    t = result.target
    count = len(result.backends)
    where = f"{plan['project']}/{stack}" if plan.get("project") else stack
    tree = Tree(f"[bold]{escape(t.url)}[/bold] in {escape(where)}: {count} backend{'s' if count != 1 else ''}")
    for b in result.backends:
        branch = tree.add(f"[bold]{escape(b.name)}[/bold]: {_state(b)}")
        for hop in b.hops:
            branch.add(_hop_label(hop, _resource(index, hop.urn)))
    out.print(tree)
    if not result.backends:
        out.print(f"[bold red]no backend:[/bold red] nothing in the plan answers for {escape(t.host)}")
        return
    serving = sum(1 for b in result.backends if b.serving)
    if result.ok:
        out.print(f"[green]every backend reaches a serving workload[/green] ({serving} of {count})")
        return
    for b in result.backends:
        if b.serving:
            continue
        hop = b.verdict or b.stopped
        if hop is None:
            continue
        what = "broken" if hop.status is Status.BROKEN else "stopped (unknown offline)"
        out.print(f"[bold red]{what}:[/bold red] {escape(b.name)} at hop {escape(hop.name)}: {escape(hop.detail)}",
                  soft_wrap=True)
    out.print(f"{serving} of {count} backends reach a serving workload")


def write_json(result: Trace, path: Path) -> None:
    path.write_text(json.dumps(result.as_json(), indent=2, sort_keys=True) + "\n", encoding="utf-8")

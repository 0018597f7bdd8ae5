"""Hops, their resolvers and the walk that chains them.

A request follows hops in the order of `HOPS`. Each hop has resolvers keyed by the type of the
resource the previous hop handed over (its *subject*): the entry hop is keyed by what the DNS
answer points at (a Kubernetes Ingress, a GKE Gateway, a GlobalAddress, a PublicIPAddress), the
certificate and route hops by the entry, the service hop by the object holding the matched rule,
the workload hop by the Service, the auth hop by the workload. A resolver returns the hop's result
and the subject of the next hop. New capabilities (node capacity, image source, model source,
metric pipeline) add a hop name with `add_hop` and register resolvers for it; nothing else changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Callable, Iterable

from .index import Cluster, Index, Resource


class Status(str, Enum):
    OK = "ok"
    BROKEN = "broken"
    UNKNOWN = "unknown-offline"


@dataclass(frozen=True)
class Hop:
    """One step of a request: its name, whether it holds, the resource implementing it, one line."""

    name: str
    status: Status
    urn: str | None
    detail: str
    facts: tuple[str, ...] = ()
    """Keys of `facts.FACTS` the verdict relies on."""

    def as_json(self) -> dict[str, Any]:
        return {"hop": self.name, "status": self.status.value, "urn": self.urn, "detail": self.detail,
                "facts": list(self.facts)}


def ok(name: str, r: Resource | None, detail: str, *facts: str) -> Hop:
    return Hop(name, Status.OK, r.urn if r is not None else None, detail, facts)


def broken(name: str, r: Resource | None, detail: str, *facts: str) -> Hop:
    return Hop(name, Status.BROKEN, r.urn if r is not None else None, detail, facts)


def unknown(name: str, r: Resource | None, detail: str, *facts: str) -> Hop:
    return Hop(name, Status.UNKNOWN, r.urn if r is not None else None, detail, facts)


@dataclass
class Walk:
    """What the hops of one backend learned so far (each resolver reads and extends it)."""

    index: Index
    host: str
    path: str | None
    """The URL path; None means any path (the policies ask whether a host is routed at all)."""
    scheme: str = "https"
    port: int = 443
    public: bool | None = None
    """Whether the DNS zone that answered is public (None: not known, e.g. no DNS hop)."""
    cluster: Cluster | None = None
    entry: Resource | None = None
    flavour: str | None = None
    """What serves the entry: alb, gce, nginx, gateway or l4 (see entry.py)."""
    ingresses: list[Resource] = field(default_factory=list)
    """The Ingress objects the entry's load balancer serves (an ALB group, an NGINX class)."""
    route: Resource | None = None
    backend_ref: tuple[str, str, Any] | None = None
    """(namespace, Service name, port number or name) the matched rule sends to."""
    service: Resource | None = None
    target_port: Any = None
    workload: Resource | None = None
    container: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Step:
    hop: Hop
    next: Resource | None
    """The subject of the next hop; None stops the walk (nothing to follow)."""


ResolveFn = Callable[[Walk, Resource], Step]
AppliesFn = Callable[[Walk, Resource], bool]


@dataclass(frozen=True)
class Resolver:
    hop: str
    types: frozenset[str]
    resolve: ResolveFn
    applies: AppliesFn | None = None
    describe: str = ""

    def handles(self, walk: Walk, subject: Resource) -> bool:
        return subject.type in self.types and (self.applies is None or self.applies(walk, subject))


HOPS: list[str] = ["dns", "entry", "certificate", "route", "service", "workload", "auth"]
"""Hop names in request order. `dns` is resolved by dns.py before the walk; the rest by resolvers."""

TERMINAL = "workload"
"""A backend serves when it reaches this hop and nothing on the way is broken."""

_RESOLVERS: dict[str, list[Resolver]] = {}


def add_hop(name: str, after: str) -> None:
    """A new hop after `after` (later issues: node capacity, image source, model source, metrics)."""
    if name not in HOPS:
        HOPS.insert(HOPS.index(after) + 1, name)


def register(hop: str, types: Iterable[str], resolve: ResolveFn, applies: AppliesFn | None = None,
             describe: str = "") -> Resolver:
    if hop not in HOPS:
        raise ValueError(f"unknown hop {hop!r}; add it with add_hop first")
    resolver = Resolver(hop, frozenset(types), resolve, applies, describe)
    _RESOLVERS.setdefault(hop, []).append(resolver)
    return resolver


def resolvers(hop: str) -> list[Resolver]:
    return list(_RESOLVERS.get(hop, []))


def types_for(hop: str) -> frozenset[str]:
    """Every subject type some resolver of `hop` handles."""
    return frozenset(t for r in _RESOLVERS.get(hop, []) for t in r.types)


def walk(w: Walk, subject: Resource, start: str = "entry", stop_after: str | None = None) -> list[Hop]:
    """Resolve the hops from `start` on, each on the subject the previous one handed over.

    The walk goes on after a broken hop as long as it has a subject (so one trace shows every
    defect it can reach); it stops when a hop has nothing to hand over, or after `stop_after`."""
    hops: list[Hop] = []
    for name in HOPS[HOPS.index(start):]:
        chosen = next((r for r in _RESOLVERS.get(name, []) if r.handles(w, subject)), None)
        if chosen is None:
            hops.append(unknown(name, subject, f"no resolver of hop '{name}' knows {subject.type}"))
            break
        step = chosen.resolve(w, subject)
        hops.append(step.hop)
        if step.next is None or name == stop_after:
            break
        subject = step.next
    return hops
